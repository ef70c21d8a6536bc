//! Capabilities, graded by what they let a container do to its host.

use super::super::posture::Posture;
use super::super::rule::{Check, Hit, References, Rule, Severity, about};

/// Docker's default capability set (moby daemon/pkg/oci/caps/defaults.go).
pub const DOCKER_DEFAULT: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "NET_RAW",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// Escape to the host is one step away: mount, load modules, trace, raw I/O, read any file.
pub const HOST_TAKEOVER: &[&str] = &[
    "ALL",
    "SYS_ADMIN",
    "SYS_MODULE",
    "SYS_PTRACE",
    "SYS_RAWIO",
    "DAC_READ_SEARCH",
    "SYS_BOOT",
    "BPF",
    "MAC_ADMIN",
    "MAC_OVERRIDE",
];

/// Reaches beyond the container: host network stack, clock, kernel logs, scheduling,
/// memory locking, immutable files.
pub const HOST_REACHING: &[&str] = &[
    "NET_ADMIN",
    "SYS_TIME",
    "PERFMON",
    "SYSLOG",
    "SYS_NICE",
    "SYS_RESOURCE",
    "IPC_LOCK",
    "LINUX_IMMUTABLE",
    "BLOCK_SUSPEND",
    "AUDIT_CONTROL",
    "SYS_TTY_CONFIG",
    "SYS_PACCT",
    "CHECKPOINT_RESTORE",
    "WAKE_ALARM",
    "LEASE",
    "NET_BROADCAST",
    "IPC_OWNER",
    "AUDIT_READ",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapClass {
    HostTakeover,
    HostReaching,
    /// In Docker's default set: adding it back after `cap_drop: ALL` is normal.
    Default,
    Other,
}

/// Docker accepts any case and an optional `CAP_` prefix.
pub fn normalize(cap: &str) -> String {
    let upper = cap.trim().to_ascii_uppercase();
    upper.strip_prefix("CAP_").unwrap_or(&upper).to_string()
}

pub fn class(cap: &str) -> CapClass {
    let cap = normalize(cap);
    if HOST_TAKEOVER.contains(&cap.as_str()) {
        CapClass::HostTakeover
    } else if HOST_REACHING.contains(&cap.as_str()) {
        CapClass::HostReaching
    } else if DOCKER_DEFAULT.contains(&cap.as_str()) {
        CapClass::Default
    } else {
        CapClass::Other
    }
}

/// The audit rule that a capability of this class triggers, if any.
pub fn rule_for(cap: &str) -> Option<&'static str> {
    match class(cap) {
        CapClass::HostTakeover => Some(CAP_ADD_HOST_TAKEOVER.id),
        CapClass::HostReaching => Some(CAP_ADD_HOST_REACHING.id),
        CapClass::Other => Some(CAP_ADD.id),
        CapClass::Default => None,
    }
}

fn caps_of_class(p: &Posture, want: CapClass, out: &mut Vec<Hit>, what: &str) {
    for cap in &p.cap_add {
        if class(&cap.value) == want {
            out.push(Hit {
                loc: cap.loc,
                message: about(format!("adds {}: {what}", normalize(&cap.value))),
            });
        }
    }
}

pub const CAP_DROP_MISSING: Rule = Rule {
    id: "cap-drop-missing",
    severity: Severity::Medium,
    title: "Capabilities not dropped",
    why: "Without `cap_drop: [ALL]` the container keeps Docker's 14 default capabilities \
          (CHOWN, DAC_OVERRIDE, NET_RAW, SETUID, ...), more than most services need; each one \
          widens what an attacker inside can do.",
    fix: "Add `cap_drop: [ALL]` and list in `cap_add` only what the service needs.",
    refs: References {
        cis: &["5.4"],
        kics: &["ce76b7d0-9e77-464d-b86f-c5c48e03e22d"],
        compose_lint: &["CL-0006"],
    },
    check: Check::Service(|p, _, out| {
        if p.privileged.as_ref().is_some_and(|x| x.value) {
            return; // `privileged` is its own, worse finding.
        }
        if !p.cap_drop.iter().any(|c| normalize(&c.value) == "ALL") {
            let loc = p.cap_drop.first().map_or(p.loc, |c| c.loc);
            out.push(Hit {
                loc,
                message: about("does not drop all capabilities"),
            });
        }
    }),
};

pub const CAP_ADD_HOST_TAKEOVER: Rule = Rule {
    id: "cap-add-host-takeover",
    severity: Severity::Critical,
    title: "Capability that hands over the host",
    why: "ALL, SYS_ADMIN, SYS_MODULE, SYS_PTRACE, SYS_RAWIO, DAC_READ_SEARCH, SYS_BOOT, BPF \
          and the MAC capabilities each give a known path out of the container: mounting \
          filesystems, loading kernel modules, tracing host processes, raw device access, \
          reading any host file.",
    fix: "Remove the capability. If a tool really needs it, run that tool on the host or in \
          a dedicated, isolated VM, not in an app container.",
    refs: References {
        cis: &["5.4"],
        kics: &["ce76b7d0-9e77-464d-b86f-c5c48e03e22d"],
        compose_lint: &["CL-0024", "CL-0027"],
    },
    check: Check::Service(|p, _, out| {
        caps_of_class(p, CapClass::HostTakeover, out, "a known container escape")
    }),
};

pub const CAP_ADD_HOST_REACHING: Rule = Rule {
    id: "cap-add-host-reaching",
    severity: Severity::High,
    title: "Capability that reaches beyond the container",
    why: "NET_ADMIN, SYS_TIME, SYS_NICE, SYS_RESOURCE, SYSLOG, PERFMON, IPC_LOCK and similar \
          let the container change or observe shared kernel state: network configuration, \
          the clock, scheduling, kernel logs, locked memory.",
    fix: "Remove it, or keep it only on a service that needs it by nature (a VPN needs \
          NET_ADMIN) and say why in a `# berth: allow` comment.",
    refs: References {
        cis: &["5.4"],
        kics: &["ce76b7d0-9e77-464d-b86f-c5c48e03e22d"],
        compose_lint: &["CL-0011", "CL-0028", "CL-0029", "CL-0030"],
    },
    check: Check::Service(|p, _, out| {
        caps_of_class(
            p,
            CapClass::HostReaching,
            out,
            "reaches shared kernel state",
        )
    }),
};

pub const CAP_ADD: Rule = Rule {
    id: "cap-add",
    severity: Severity::Low,
    title: "Capability outside Docker's default set",
    why: "A capability Docker does not grant by default is a deliberate widening of the \
          container's privileges and deserves a stated reason.",
    fix: "Remove it if the service works without; otherwise document why.",
    refs: References {
        cis: &["5.4"],
        kics: &["ce76b7d0-9e77-464d-b86f-c5c48e03e22d"],
        compose_lint: &[],
    },
    check: Check::Service(|p, _, out| {
        for cap in &p.cap_add {
            let name = normalize(&cap.value);
            let known = crate::model::KNOWN_CAPABILITIES.contains(&name.as_str());
            if class(&cap.value) == CapClass::Other {
                let what = if known {
                    "outside Docker's default set"
                } else {
                    "not a capability Docker knows (docker will refuse to start it)"
                };
                out.push(Hit {
                    loc: cap.loc,
                    message: about(format!("adds {name}: {what}")),
                });
            }
        }
    }),
};

pub const RULES: &[Rule] = &[
    CAP_DROP_MISSING,
    CAP_ADD_HOST_TAKEOVER,
    CAP_ADD_HOST_REACHING,
    CAP_ADD,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_case_insensitive_with_optional_prefix() {
        assert_eq!(class("cap_sys_admin"), CapClass::HostTakeover);
        assert_eq!(class("Net_Admin"), CapClass::HostReaching);
        assert_eq!(class("CAP_CHOWN"), CapClass::Default);
        assert_eq!(class("all"), CapClass::HostTakeover);
    }

    #[test]
    fn every_known_capability_has_a_class_and_lists_are_disjoint() {
        for cap in crate::model::KNOWN_CAPABILITIES {
            let in_lists = [HOST_TAKEOVER, HOST_REACHING, DOCKER_DEFAULT]
                .iter()
                .filter(|l| l.contains(cap))
                .count();
            assert!(in_lists <= 1, "{cap}");
        }
    }
}
