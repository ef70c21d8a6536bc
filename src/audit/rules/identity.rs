//! Which user the process runs as.

use super::super::rule::{Check, Hit, References, Rule, Severity, about};

pub const USER_ROOT: Rule = Rule {
    id: "user-root",
    severity: Severity::Medium,
    title: "Runs as root",
    why: "Root in the container is one kernel bug or misconfiguration away from root on the \
          host, and owns every file it can reach.",
    fix: "Set `user: \"UID:GID\"` to an unprivileged user that owns the app's data.",
    refs: References {
        cis: &[],
        kics: &[],
        compose_lint: &["CL-0018"],
    },
    check: Check::Service(|p, _, out| {
        if let Some(u) = &p.user {
            let name = u.value.split(':').next().unwrap_or("");
            if name == "0" || name == "root" {
                out.push(Hit {
                    loc: u.loc,
                    message: about(format!("runs as root ({})", u.value)),
                });
            }
        }
    }),
};

pub const USER_MISSING: Rule = Rule {
    id: "user-missing",
    severity: Severity::Low,
    title: "No user set",
    why: "Without `user:` the image's default applies, which for most official images is \
          root.",
    fix: "Set `user: \"UID:GID\"` to an unprivileged user that owns the app's data.",
    refs: References {
        cis: &["4.1"],
        kics: &[],
        compose_lint: &[],
    },
    check: Check::Service(|p, _, out| {
        if p.user.is_none() {
            out.push(Hit {
                loc: p.loc,
                message: about("runs as the image's default user"),
            });
        }
    }),
};

pub const RULES: &[Rule] = &[USER_ROOT, USER_MISSING];
