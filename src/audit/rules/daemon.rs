//! /etc/docker/daemon.json (CIS Docker Benchmark section 2, as docker-bench-security
//! numbers it). A key the file does not set takes dockerd's default, which is what most of
//! these rules are about.

use super::super::rule::{Check, Hit, References, Rule, Severity};
use crate::compose::node::{Loc, Node};

fn top(doc: &Node) -> Loc {
    Loc {
        line: 1,
        col: 1,
        ..doc.loc
    }
}

/// Fires when `key` is not set to the boolean `want`.
fn want_bool(doc: &Node, key: &str, want: bool, message: &str, out: &mut Vec<Hit>) {
    match doc.get(key) {
        Some(v) if v.as_bool() == Some(want) => {}
        Some(v) => out.push(Hit {
            loc: v.loc,
            message: message.to_string().into(),
        }),
        None => out.push(Hit {
            loc: top(doc),
            message: format!("{message} (not set; dockerd's default applies)").into(),
        }),
    }
}

const fn refs(cis: &'static [&'static str]) -> References {
    References {
        cis,
        kics: &[],
        compose_lint: &[],
    }
}

pub const LIVE_RESTORE: Rule = Rule {
    id: "daemon-live-restore",
    severity: Severity::Low,
    title: "live-restore off",
    why: "Without live-restore every container stops when dockerd restarts or upgrades.",
    fix: "Set `\"live-restore\": true` (not with Swarm mode).",
    refs: refs(&["2.15"]),
    check: Check::Daemon(|d, out| want_bool(d, "live-restore", true, "live-restore is off", out)),
};

pub const USERLAND_PROXY: Rule = Rule {
    id: "daemon-userland-proxy",
    severity: Severity::Low,
    title: "userland-proxy on",
    why: "docker-proxy runs a root process per published port; with it off, iptables NAT does \
          the same with less attack surface.",
    fix: "Set `\"userland-proxy\": false`.",
    refs: refs(&["2.16"]),
    check: Check::Daemon(|d, out| {
        want_bool(d, "userland-proxy", false, "userland-proxy is on", out)
    }),
};

pub const NO_NEW_PRIVILEGES: Rule = Rule {
    id: "daemon-no-new-privileges",
    severity: Severity::Medium,
    title: "no-new-privileges not the default",
    why: "Setting it daemon-wide protects every container, including ones whose compose file \
          forgot it (and Swarm services, whose security_opt is ignored).",
    fix: "Set `\"no-new-privileges\": true`.",
    refs: refs(&["2.14"]),
    check: Check::Daemon(|d, out| {
        want_bool(
            d,
            "no-new-privileges",
            true,
            "no-new-privileges is not on by default",
            out,
        )
    }),
};

pub const DEFAULT_ULIMITS: Rule = Rule {
    id: "daemon-default-ulimits",
    severity: Severity::Low,
    title: "No default nofile ulimit",
    why: "Since Engine 25 containers get nofile 1024:524288 unless default-ulimits says \
          otherwise: too low for databases, unbounded for abuse.",
    fix: "Set `\"default-ulimits\": {\"nofile\": {\"Name\": \"nofile\", \"Soft\": 65536, \"Hard\": 65536}}`.",
    refs: refs(&["2.8"]),
    check: Check::Daemon(|d, out| {
        if d.get("default-ulimits")
            .and_then(|u| u.get("nofile"))
            .is_none()
        {
            let loc = d.key_loc("default-ulimits").unwrap_or(top(d));
            out.push(Hit {
                loc,
                message: "no default nofile ulimit".into(),
            });
        }
    }),
};

pub const LOG_ROTATION: Rule = Rule {
    id: "daemon-log-rotation",
    severity: Severity::Low,
    title: "Container logs not rotated by default",
    why: "The json-file driver keeps every line forever unless max-size is set; one chatty \
          container fills the disk.",
    fix: "Set `\"log-driver\": \"json-file\", \"log-opts\": {\"max-size\": \"10m\", \"max-file\": \"3\"}`.",
    refs: refs(&[]),
    check: Check::Daemon(|d, out| {
        let driver = d
            .get("log-driver")
            .and_then(|v| v.scalar())
            .map(|s| s.into_owned());
        let rotating = d.get("log-opts").and_then(|o| o.get("max-size")).is_some();
        match driver.as_deref() {
            None | Some("json-file") if !rotating => {
                let loc = d
                    .key_loc("log-opts")
                    .or(d.key_loc("log-driver"))
                    .unwrap_or(top(d));
                out.push(Hit {
                    loc,
                    message: "json-file logs have no max-size".into(),
                });
            }
            _ => {}
        }
    }),
};

pub const STORAGE_DRIVER: Rule = Rule {
    id: "daemon-storage-driver",
    severity: Severity::Medium,
    title: "Deprecated storage driver",
    why: "aufs and devicemapper are deprecated and removed from current engines; aufs has a \
          history of privilege-escalation bugs.",
    fix: "Use `\"storage-driver\": \"overlay2\"`.",
    refs: refs(&["2.6"]),
    check: Check::Daemon(|d, out| {
        if let Some(v) = d.get("storage-driver")
            && let Some(s) = v.scalar()
            && matches!(s.as_ref(), "aufs" | "devicemapper" | "overlay")
        {
            out.push(Hit {
                loc: v.loc,
                message: format!("storage driver {s} is deprecated").into(),
            });
        }
    }),
};

pub const ICC: Rule = Rule {
    id: "daemon-icc",
    severity: Severity::Low,
    title: "Inter-container traffic on the default bridge",
    why: "With icc on, every container on docker0 can reach every other one's ports.",
    fix: "Set `\"icc\": false` and put apps on their own networks.",
    refs: refs(&["2.2"]),
    check: Check::Daemon(|d, out| {
        want_bool(
            d,
            "icc",
            false,
            "containers on the default bridge can reach each other",
            out,
        )
    }),
};

pub const USERNS_REMAP: Rule = Rule {
    id: "daemon-userns-remap",
    severity: Severity::Info,
    title: "No user-namespace remapping",
    why: "userns-remap maps root in containers to an unprivileged host UID; berth uses a \
          per-app UID instead, which does not hide existing images or break host mounts.",
    fix: "Consider `\"userns-remap\": \"default\"` on hosts that run untrusted images.",
    refs: refs(&["2.9"]),
    check: Check::Daemon(|d, out| {
        if d.get("userns-remap")
            .and_then(|v| v.scalar())
            .is_none_or(|v| v.is_empty())
        {
            out.push(Hit {
                loc: top(d),
                message: "user-namespace remapping is off".into(),
            });
        }
    }),
};

pub const TCP_NO_TLS: Rule = Rule {
    id: "daemon-tcp-no-tls",
    severity: Severity::Critical,
    title: "Docker API on TCP without TLS client verification",
    why: "The Docker API is root on the host; on a TCP socket without tlsverify anyone who can \
          reach the port owns the machine.",
    fix: "Remove the tcp:// host, or set `\"tlsverify\": true` with tlscacert, tlscert and tlskey.",
    refs: refs(&["2.7"]),
    check: Check::Daemon(|d, out| {
        let verify = d.get("tlsverify").and_then(Node::as_bool) == Some(true);
        if let Some(hosts) = d.get("hosts") {
            for h in hosts.items() {
                if let Some(s) = h.scalar()
                    && s.starts_with("tcp://")
                    && !verify
                {
                    out.push(Hit {
                        loc: h.loc,
                        message: format!("the Docker API listens on {s} without tlsverify").into(),
                    });
                }
            }
        }
    }),
};

pub const INSECURE_REGISTRIES: Rule = Rule {
    id: "daemon-insecure-registries",
    severity: Severity::High,
    title: "Insecure registries allowed",
    why: "Images from an insecure registry come over plain HTTP or unverified TLS: anyone on \
          the path can swap them.",
    fix: "Remove `insecure-registries`; give the registry a valid certificate.",
    refs: refs(&["2.5"]),
    check: Check::Daemon(|d, out| {
        if let Some(r) = d.get("insecure-registries") {
            for item in r.items() {
                out.push(Hit {
                    loc: item.loc,
                    message: format!(
                        "registry {} is allowed without TLS",
                        item.scalar().unwrap_or_default()
                    )
                    .into(),
                });
            }
        }
    }),
};

pub const EXPERIMENTAL: Rule = Rule {
    id: "daemon-experimental",
    severity: Severity::Low,
    title: "Experimental features on",
    why: "Experimental features are not covered by the engine's stability and security review.",
    fix: "Remove `\"experimental\": true` in production.",
    refs: refs(&["2.18"]),
    check: Check::Daemon(|d, out| {
        if let Some(v) = d.get("experimental").filter(|v| v.as_bool() == Some(true)) {
            out.push(Hit {
                loc: v.loc,
                message: "experimental features are on".into(),
            });
        }
    }),
};

pub const IPTABLES_DISABLED: Rule = Rule {
    id: "daemon-iptables-disabled",
    severity: Severity::High,
    title: "Docker may not manage iptables",
    why: "With iptables off, published ports and network isolation between apps depend on \
          rules someone must write by hand; usually they are simply missing.",
    fix: "Remove `\"iptables\": false`.",
    refs: refs(&["2.4"]),
    check: Check::Daemon(|d, out| {
        if let Some(v) = d.get("iptables").filter(|v| v.as_bool() == Some(false)) {
            out.push(Hit {
                loc: v.loc,
                message: "iptables management is off".into(),
            });
        }
    }),
};

pub const LOG_LEVEL: Rule = Rule {
    id: "daemon-log-level",
    severity: Severity::Info,
    title: "Daemon log level not info",
    why: "debug logs can include request bodies; error or fatal lose the audit trail.",
    fix: "Remove `log-level` or set it to info.",
    refs: refs(&["2.3"]),
    check: Check::Daemon(|d, out| {
        if let Some(v) = d.get("log-level")
            && let Some(s) = v.scalar()
            && s != "info"
        {
            out.push(Hit {
                loc: v.loc,
                message: format!("log-level is {s}").into(),
            });
        }
    }),
};

pub const CGROUP_PARENT: Rule = Rule {
    id: "daemon-cgroup-parent",
    severity: Severity::Low,
    title: "Custom default cgroup parent",
    why: "A custom cgroup parent moves every container out of Docker's default accounting.",
    fix: "Remove `cgroup-parent` unless the host's cgroup layout requires it.",
    refs: refs(&["2.10"]),
    check: Check::Daemon(|d, out| {
        if let Some(v) = d.get("cgroup-parent") {
            out.push(Hit {
                loc: v.loc,
                message: "cgroup-parent is set".into(),
            });
        }
    }),
};

pub const SECCOMP_UNCONFINED: Rule = Rule {
    id: "daemon-seccomp-unconfined",
    severity: Severity::High,
    title: "seccomp off for every container",
    why: "`seccomp-profile: unconfined` removes the default syscall filter from every container.",
    fix: "Remove it (the built-in profile applies) or point it at a custom profile.",
    refs: refs(&["2.17"]),
    check: Check::Daemon(|d, out| {
        if let Some(v) = d
            .get("seccomp-profile")
            .filter(|v| v.scalar().as_deref() == Some("unconfined"))
        {
            out.push(Hit {
                loc: v.loc,
                message: "seccomp is off for every container".into(),
            });
        }
    }),
};

pub const IPC_SHAREABLE: Rule = Rule {
    id: "daemon-ipc-shareable",
    severity: Severity::Medium,
    title: "IPC namespaces shareable by default",
    why: "With default-ipc-mode shareable any container can join another's IPC namespace.",
    fix: "Remove `default-ipc-mode` or set it to private.",
    refs: refs(&["5.17"]),
    check: Check::Daemon(|d, out| {
        if let Some(v) = d
            .get("default-ipc-mode")
            .filter(|v| v.scalar().as_deref() == Some("shareable"))
        {
            out.push(Hit {
                loc: v.loc,
                message: "IPC namespaces are shareable by default".into(),
            });
        }
    }),
};

pub const CONFIG_PERMISSIONS: Rule = Rule {
    id: "daemon-config-permissions",
    severity: Severity::Medium,
    title: "daemon.json writable or owned by someone other than root",
    why: "Whoever can write daemon.json decides how every container runs (and can point \
          `hosts` at a TCP socket): it must be root's, and not writable by anyone else.",
    fix: "chown root:root /etc/docker/daemon.json && chmod 644 /etc/docker/daemon.json",
    refs: refs(&["3.17", "3.18"]),
    // Needs the file's owner and mode, which only the caller reads: see
    // `engine::check_daemon_file`.
    check: Check::Meta,
};

pub const RULES: &[Rule] = &[
    CONFIG_PERMISSIONS,
    LIVE_RESTORE,
    USERLAND_PROXY,
    NO_NEW_PRIVILEGES,
    DEFAULT_ULIMITS,
    LOG_ROTATION,
    STORAGE_DRIVER,
    ICC,
    USERNS_REMAP,
    TCP_NO_TLS,
    INSECURE_REGISTRIES,
    EXPERIMENTAL,
    IPTABLES_DISABLED,
    LOG_LEVEL,
    CGROUP_PARENT,
    SECCOMP_UNCONFINED,
    IPC_SHAREABLE,
];
