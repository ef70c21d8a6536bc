//! The root filesystem, host paths, the runtime socket, devices, tmpfs and shared volumes.

use super::super::posture::{MountKind, Posture};
use super::super::rule::{Check, Hit, References, Rule, Severity, about};

/// Runtime control sockets: whoever reaches one controls every container and the host.
const SOCKETS: &[&str] = &[
    "docker.sock",
    "containerd.sock",
    "crio.sock",
    "podman.sock",
    "dockershim.sock",
    "cri-dockerd.sock",
    "buildkitd.sock",
];

/// Directories that hold a runtime socket: mounting one shares the socket too.
const SOCKET_DIRS: &[&str] = &[
    "/run",
    "/var/run",
    "/run/docker",
    "/var/run/docker",
    "/run/containerd",
    "/var/run/containerd",
    "/run/podman",
    "/var/run/podman",
    "/run/crio",
    "/var/run/crio",
];

/// Host trees whose write access is root on the host.
const ROOT_EQUIVALENT: &[&str] = &[
    "/",
    "/etc",
    "/root",
    "/boot",
    "/proc",
    "/sys",
    "/dev",
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/var/lib/docker",
    "/var/lib/containerd",
    "/var/lib/kubelet",
    "/run",
    "/var/run",
];

/// Read-only mounts of these are ordinary (time zone, CA certificates).
const HARMLESS_READ_ONLY: &[&str] = &[
    "/etc/localtime",
    "/etc/timezone",
    "/usr/share/zoneinfo",
    "/etc/ssl/certs",
    "/etc/ca-certificates",
    "/etc/pki/ca-trust",
    "/usr/share/ca-certificates",
    "/usr/local/share/ca-certificates",
];

/// Whole host trees that hold other people's or apps' data.
const WHOLE_TREES: &[&str] = &[
    "/home", "/var", "/var/lib", "/var/log", "/srv", "/opt", "/mnt", "/media", "/tmp",
];

/// Credential directories, wherever they sit.
const CREDENTIAL_DIRS: &[&str] = &[
    ".ssh",
    ".aws",
    ".docker",
    ".kube",
    ".gnupg",
    ".azure",
    ".config/gcloud",
];

fn under(path: &str, prefix: &str) -> bool {
    if prefix == "/" {
        return path == "/";
    }
    path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

fn is_socket_path(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    SOCKETS.contains(&name) || SOCKET_DIRS.contains(&path.trim_end_matches('/'))
}

fn binds(
    p: &Posture,
) -> impl Iterator<
    Item = (
        &super::super::posture::Located<super::super::posture::Mount>,
        &str,
    ),
> {
    p.mounts
        .iter()
        .filter_map(|m| match (&m.value.kind, &m.value.source) {
            (MountKind::Bind, Some(src)) => Some((m, src.as_str())),
            _ => None,
        })
}

pub const READ_ONLY_ROOTFS: Rule = Rule {
    id: "read-only-rootfs",
    severity: Severity::Medium,
    title: "Writable root filesystem",
    why: "A writable root lets an attacker who gets in modify binaries and drop tools that \
          survive until the container is recreated; read-only also documents what the app \
          writes.",
    fix: "Set `read_only: true`; give /tmp and /run a tmpfs and data paths a volume.",
    refs: References {
        cis: &["5.13"],
        kics: &[],
        compose_lint: &["CL-0007"],
    },
    check: Check::Service(|p, _, out| match &p.read_only {
        Some(r) if r.value => {}
        Some(r) => out.push(Hit {
            loc: r.loc,
            message: about("has a writable root filesystem"),
        }),
        None => out.push(Hit {
            loc: p.loc,
            message: about("has a writable root filesystem"),
        }),
    }),
};

pub const DOCKER_SOCKET: Rule = Rule {
    id: "docker-socket",
    severity: Severity::Critical,
    title: "Container runtime socket mounted",
    why: "The Docker (or containerd, CRI-O, Podman) socket is an unauthenticated root API: \
          a container that reaches it can start a privileged container and own the host, \
          read-only mount or not. Mounting /run or /var/run shares the socket too.",
    fix: "Remove the mount. If a tool must see containers, give it a filtering socket proxy \
          that allows only the read calls it needs.",
    refs: References {
        cis: &["5.32"],
        kics: &["d6355c88-1e8d-49e9-b2f2-f8a1ca12c75b"],
        compose_lint: &["CL-0001"],
    },
    check: Check::Service(|p, _, out| {
        for (m, src) in binds(p) {
            if is_socket_path(src) {
                let what = if SOCKETS.iter().any(|s| src.ends_with(s)) {
                    "the container runtime socket"
                } else {
                    "a directory holding the container runtime socket"
                };
                out.push(Hit {
                    loc: m.loc,
                    message: about(format!("mounts {src}, {what}")),
                });
            }
        }
    }),
};

pub const HOST_PATH_ROOT_WRITABLE: Rule = Rule {
    id: "host-path-root-writable",
    severity: Severity::Critical,
    title: "Root-equivalent host path mounted writable",
    why: "Write access to /, /etc, /root, /boot, /usr, /proc, /sys, /dev or Docker's data \
          directory lets the container change the host's users, binaries, boot or kernel \
          settings: root on the host.",
    fix: "Mount only the specific file or directory the app needs, read-only, or copy it \
          into a volume.",
    refs: References {
        cis: &["5.6"],
        kics: &["1c1325ff-831d-43a1-973e-839ae57dfcc0"],
        compose_lint: &["CL-0025"],
    },
    check: Check::Service(|p, _, out| {
        for (m, src) in binds(p) {
            if !m.value.read_only
                && !is_socket_path(src)
                && ROOT_EQUIVALENT.iter().any(|r| under(src, r))
            {
                out.push(Hit {
                    loc: m.loc,
                    message: about(format!("mounts host path {src} writable")),
                });
            }
        }
    }),
};

pub const HOST_PATH_SENSITIVE: Rule = Rule {
    id: "host-path-sensitive",
    severity: Severity::High,
    title: "Sensitive host path mounted",
    why: "Reading /etc, /root, /proc or /sys discloses host secrets and configuration; a \
          whole /home, /var or /srv exposes other apps' and users' data; credential \
          directories (.ssh, .aws, .docker, .kube) hand over keys.",
    fix: "Mount only the specific subdirectory the app needs.",
    refs: References {
        cis: &["5.6"],
        kics: &["1c1325ff-831d-43a1-973e-839ae57dfcc0"],
        compose_lint: &["CL-0013"],
    },
    check: Check::Service(|p, _, out| {
        for (m, src) in binds(p) {
            if is_socket_path(src) {
                continue;
            }
            let root_ro = m.value.read_only
                && ROOT_EQUIVALENT.iter().any(|r| under(src, r))
                && !HARMLESS_READ_ONLY.iter().any(|h| under(src, h));
            let whole = WHOLE_TREES.contains(&src.trim_end_matches('/'));
            let creds = CREDENTIAL_DIRS
                .iter()
                .any(|d| src.contains(&format!("/{d}")) || src.starts_with(&format!("~/{d}")))
                || src == "~"
                || src == "~/";
            if root_ro || whole || creds {
                let what = if creds {
                    "a credential directory"
                } else if whole {
                    "a whole host tree"
                } else {
                    "a sensitive host path (read-only)"
                };
                out.push(Hit {
                    loc: m.loc,
                    message: about(format!("mounts {src}, {what}")),
                });
            }
        }
    }),
};

pub const MOUNT_PROPAGATION: Rule = Rule {
    id: "mount-propagation",
    severity: Severity::Medium,
    title: "Shared mount propagation",
    why: "With shared or slave propagation, mounts made inside the container appear on the \
          host (or host mounts appear inside), crossing the filesystem boundary.",
    fix: "Remove the propagation option (private is the default).",
    refs: References {
        cis: &["5.20"],
        kics: &["baa452f0-1f21-4a25-ace5-844e7a5f410d"],
        compose_lint: &["CL-0017"],
    },
    check: Check::Service(|p, _, out| {
        for m in &p.mounts {
            if let Some(prop) = m.value.propagation.as_deref()
                && matches!(prop, "shared" | "rshared" | "slave" | "rslave")
            {
                out.push(Hit {
                    loc: m.loc,
                    message: about(format!("mounts {} with {prop} propagation", m.value.target)),
                });
            }
        }
    }),
};

fn is_raw_disk(dev: &str) -> bool {
    let name = dev.strip_prefix("/dev/").unwrap_or("");
    [
        "sd", "hd", "vd", "xvd", "nvme", "loop", "dm-", "md", "mmcblk", "mapper/", "disk/",
    ]
    .iter()
    .any(|p| name.starts_with(p))
        || matches!(name, "mem" | "kmem" | "port")
}

pub const DEVICES_RAW_DISK: Rule = Rule {
    id: "devices-raw-disk",
    severity: Severity::Critical,
    title: "Raw disk or memory device exposed",
    why: "A block device (/dev/sda, nvme, loop, dm-*) or /dev/mem gives the container the \
          host's raw storage or memory, bypassing every file permission.",
    fix: "Remove the device; mount the filesystem the app needs instead.",
    refs: References {
        cis: &["5.18"],
        kics: &[],
        compose_lint: &["CL-0016"],
    },
    check: Check::Service(|p, _, out| {
        for d in p.devices.iter().filter(|d| is_raw_disk(&d.value)) {
            out.push(Hit {
                loc: d.loc,
                message: about(format!("gets host device {}", d.value)),
            });
        }
    }),
};

pub const DEVICES: Rule = Rule {
    id: "devices",
    severity: Severity::Medium,
    title: "Host device exposed",
    why: "Each host device mapped into a container is kernel attack surface and shared \
          hardware; it should be there on purpose.",
    fix: "Remove devices the app does not need; for GPUs prefer the runtime's device \
          reservation (deploy.resources.reservations.devices).",
    refs: References {
        cis: &["5.18"],
        kics: &[],
        compose_lint: &[],
    },
    check: Check::Service(|p, _, out| {
        for d in p.devices.iter().filter(|d| !is_raw_disk(&d.value)) {
            out.push(Hit {
                loc: d.loc,
                message: about(format!("gets host device {}", d.value)),
            });
        }
    }),
};

pub const TMPFS_EXEC: Rule = Rule {
    id: "tmpfs-exec",
    severity: Severity::Low,
    title: "tmpfs allows exec, setuid or devices",
    why: "Docker mounts tmpfs noexec,nosuid,nodev by default; re-enabling exec or suid gives \
          an attacker a writable place to run dropped binaries from.",
    fix: "Drop `exec`, `suid` and `dev` from the tmpfs options.",
    refs: References {
        cis: &[],
        kics: &[],
        compose_lint: &["CL-0022"],
    },
    check: Check::Service(|p, _, out| {
        for t in &p.tmpfs {
            let opts = t.value.split_once(':').map_or("", |(_, o)| o);
            let bad: Vec<&str> = opts
                .split(',')
                .filter(|o| matches!(*o, "exec" | "suid" | "dev"))
                .collect();
            if !bad.is_empty() {
                out.push(Hit {
                    loc: t.loc,
                    message: about(format!(
                        "mounts tmpfs {} with {}",
                        t.value.split(':').next().unwrap_or(""),
                        bad.join(",")
                    )),
                });
            }
        }
    }),
};

pub const SHARED_VOLUME: Rule = Rule {
    id: "shared-volume",
    severity: Severity::Info,
    title: "Named volume writable by several services",
    why: "A volume that several services can write lets a compromise of one change data the \
          others trust.",
    fix: "Give each service its own volume, or mount the volume read-only where a service \
          only reads it.",
    refs: References {
        cis: &[],
        kics: &["8c978947-0ff6-485c-b0c2-0bfca6026466"],
        compose_lint: &[],
    },
    check: Check::Service(|p, facts, out| {
        for m in &p.mounts {
            if let (MountKind::Volume, Some(src)) = (&m.value.kind, &m.value.source)
                && let Some(users) = facts.volume_users.get(src)
                && users.len() > 1
                && !m.value.read_only
            {
                out.push(Hit {
                    loc: m.loc,
                    message: about(format!(
                        "mounts volume {src} writable, as does {}",
                        users
                            .iter()
                            .filter(|u| **u != p.name)
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                });
            }
        }
    }),
};

pub const RULES: &[Rule] = &[
    READ_ONLY_ROOTFS,
    DOCKER_SOCKET,
    HOST_PATH_ROOT_WRITABLE,
    HOST_PATH_SENSITIVE,
    MOUNT_PROPAGATION,
    DEVICES_RAW_DISK,
    DEVICES,
    TMPFS_EXEC,
    SHARED_VOLUME,
];
