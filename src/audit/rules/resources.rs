//! Limits, logging, health and restarts.

use super::super::posture::{Health, Located, Posture};
use super::super::rule::{Check, Hit, References, Rule, Severity, about};

/// A limit that is absent, or set to Docker's "unlimited" (0 or -1), is missing. The hit
/// points at the value when there is one, else at the service.
fn limit(p: &Posture, value: &Option<Located<String>>, phrase: &'static str, out: &mut Vec<Hit>) {
    let unlimited = |v: &str| matches!(v.trim(), "0" | "-1" | "");
    match value {
        Some(v) if !unlimited(&v.value) => {}
        other => out.push(Hit {
            loc: other.as_ref().map_or(p.loc, |v| v.loc),
            message: about(phrase),
        }),
    }
}

pub const MEMORY_LIMIT_MISSING: Rule = Rule {
    id: "memory-limit-missing",
    severity: Severity::Medium,
    title: "No memory limit",
    why: "Without a memory limit one container can exhaust the host's memory and get other \
          apps (or the host's own services) killed.",
    fix: "Set `mem_limit` (or `deploy.resources.limits.memory`).",
    refs: References {
        cis: &["5.11"],
        kics: &["bb9ac4f7-e13b-423d-a010-c74a1bfbe492"],
        compose_lint: &["CL-0026"],
    },
    check: Check::Service(|p, _, out| limit(p, &p.memory, "has no memory limit", out)),
};

pub const CPU_LIMIT_MISSING: Rule = Rule {
    id: "cpu-limit-missing",
    severity: Severity::Low,
    title: "No CPU limit",
    why: "Without a CPU limit or share one busy container can starve the others.",
    fix: "Set `cpus` (or `deploy.resources.limits.cpus`).",
    refs: References {
        cis: &["5.12"],
        kics: &["6b610c50-99fb-4ef0-a5f3-e312fd945bc3"],
        compose_lint: &["CL-0026"],
    },
    check: Check::Service(|p, _, out| limit(p, &p.cpus, "has no CPU limit", out)),
};

pub const PIDS_LIMIT_MISSING: Rule = Rule {
    id: "pids-limit-missing",
    severity: Severity::Medium,
    title: "No PID limit",
    why: "Without a PID limit a fork bomb in one container exhausts the host's process table.",
    fix: "Set `pids_limit` (or `deploy.resources.limits.pids`).",
    refs: References {
        cis: &["5.29"],
        kics: &["221e0658-cb2a-44e3-b08a-db96a341d6fa"],
        compose_lint: &[],
    },
    check: Check::Service(|p, _, out| limit(p, &p.pids, "has no PID limit", out)),
};

pub const LOGGING_DISABLED: Rule = Rule {
    id: "logging-disabled",
    severity: Severity::Low,
    title: "Logging disabled",
    why: "With the `none` driver the container's output is thrown away: no trace of an \
          incident is left.",
    fix: "Use json-file (or local) with rotation.",
    refs: References {
        cis: &[],
        kics: &[],
        compose_lint: &["CL-0014"],
    },
    check: Check::Service(|p, _, out| {
        if let Some(d) = p.logging_driver.as_ref().filter(|d| d.value == "none") {
            out.push(Hit {
                loc: d.loc,
                message: about("discards its logs"),
            });
        }
    }),
};

pub const LOGGING_UNROTATED: Rule = Rule {
    id: "logging-unrotated",
    severity: Severity::Low,
    title: "Log rotation not declared",
    why: "json-file logs grow without bound unless max-size is set, and fill the disk; \
          without a `logging` key the daemon default decides.",
    fix: "Set `logging: {driver: json-file, options: {max-size: 10m, max-file: \"3\"}}`.",
    refs: References {
        cis: &[],
        kics: &[],
        compose_lint: &[],
    },
    check: Check::Service(|p, _, out| {
        let driver = p.logging_driver.as_ref().map(|d| d.value.as_str());
        let rotating = matches!(driver, None | Some("json-file") | Some("local"));
        if p.logging_loc.is_none() {
            out.push(Hit {
                loc: p.loc,
                message: about("leaves log rotation to the daemon default"),
            });
        } else if rotating && driver != Some("local") && !p.logging_options.contains_key("max-size")
        {
            out.push(Hit {
                loc: p.logging_loc.unwrap_or(p.loc),
                message: about("logs to json-file without max-size"),
            });
        }
    }),
};

pub const HEALTHCHECK_MISSING: Rule = Rule {
    id: "healthcheck-missing",
    severity: Severity::Low,
    title: "No healthcheck",
    why: "Without a healthcheck Docker and Compose cannot tell a hung service from a working \
          one, so dependants start too early and failures go unnoticed (the image may define \
          one; the compose file does not).",
    fix: "Add a `healthcheck` that exercises the service.",
    refs: References {
        cis: &["5.27"],
        kics: &["698ed579-b239-4f8f-a388-baa4bcb13ef8"],
        compose_lint: &[],
    },
    check: Check::Service(|p, _, out| match p.health {
        Health::Present => {}
        Health::Absent => out.push(Hit {
            loc: p.loc,
            message: about("has no healthcheck"),
        }),
        Health::Disabled(loc) => out.push(Hit {
            loc,
            message: about("disables its healthcheck"),
        }),
    }),
};

pub const RESTART_ON_FAILURE_COUNT: Rule = Rule {
    id: "restart-on-failure-count",
    severity: Severity::Low,
    title: "Restart retries above 5",
    why: "A service that crashes in a loop with many retries hides the failure and can be used \
          to keep an exploit attempt running.",
    fix: "Use `on-failure:5` (or `deploy.restart_policy.max_attempts: 5`) at most.",
    refs: References {
        cis: &["5.15"],
        kics: &["2fc99041-ddad-49d5-853f-e35e70a48391"],
        compose_lint: &[],
    },
    check: Check::Service(|p, _, out| {
        let from_restart = p.restart.as_ref().and_then(|r| {
            r.value
                .strip_prefix("on-failure:")
                .and_then(|n| n.parse::<u32>().ok())
                .map(|n| (n, r.loc))
        });
        let from_deploy = p
            .restart_max_attempts
            .as_ref()
            .and_then(|m| m.value.parse::<u32>().ok().map(|n| (n, m.loc)));
        for (n, loc) in [from_restart, from_deploy].into_iter().flatten() {
            if n > 5 {
                out.push(Hit {
                    loc,
                    message: about(format!("retries {n} times on failure")),
                });
            }
        }
    }),
};

pub const CGROUP_PARENT: Rule = Rule {
    id: "cgroup-parent",
    severity: Severity::Low,
    title: "Custom cgroup parent",
    why: "A custom cgroup parent moves the container out of Docker's cgroup, where the \
          daemon's limits and accounting apply.",
    fix: "Remove `cgroup_parent` unless the host's cgroup layout requires it.",
    refs: References {
        cis: &["5.25"],
        kics: &["4d9f44c6-2f4a-4317-9bb5-267adbea0232"],
        compose_lint: &[],
    },
    check: Check::Service(|p, _, out| {
        if let Some(c) = &p.cgroup_parent {
            out.push(Hit {
                loc: c.loc,
                message: about(format!("sets cgroup_parent {}", c.value)),
            });
        }
    }),
};

pub const RULES: &[Rule] = &[
    MEMORY_LIMIT_MISSING,
    CPU_LIMIT_MISSING,
    PIDS_LIMIT_MISSING,
    LOGGING_DISABLED,
    LOGGING_UNROTATED,
    HEALTHCHECK_MISSING,
    RESTART_ON_FAILURE_COUNT,
    CGROUP_PARENT,
];
