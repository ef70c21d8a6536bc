//! privileged, no-new-privileges, and the confinement profiles (seccomp, AppArmor, SELinux).

use super::super::posture::{Located, Posture};
use super::super::rule::{Check, Hit, References, Rule, Severity, about};

/// `no-new-privileges`, `seccomp:unconfined`, `seccomp=unconfined`, `label:disable`: Docker
/// accepts `:` and `=` alike; the key is case-insensitive.
pub fn security_opt(entry: &str) -> (String, String) {
    let entry = entry.trim();
    match entry.find([':', '=']) {
        Some(i) => (
            entry[..i].to_ascii_lowercase(),
            entry[i + 1..].trim().to_string(),
        ),
        None => (entry.to_ascii_lowercase(), String::new()),
    }
}

fn opts<'a>(
    p: &'a Posture,
    key: &'a str,
) -> impl Iterator<Item = (&'a Located<String>, String)> + 'a {
    p.security_opt.iter().filter_map(move |o| {
        let (k, v) = security_opt(&o.value);
        (k == key).then_some((o, v))
    })
}

pub const PRIVILEGED: Rule = Rule {
    id: "privileged",
    severity: Severity::Critical,
    title: "Privileged container",
    why: "`privileged: true` gives every capability, every host device, and no seccomp or \
          AppArmor confinement: root in the container is root on the host.",
    fix: "Remove `privileged`; grant the few capabilities or devices the service really needs.",
    refs: References {
        cis: &["5.5"],
        kics: &["ae5b6871-7f45-42e0-bb4c-ab300c4d2026"],
        compose_lint: &["CL-0002"],
    },
    check: Check::Service(|p, _, out| {
        if let Some(flag) = p.privileged.as_ref().filter(|f| f.value) {
            out.push(Hit {
                loc: flag.loc,
                message: about("runs privileged"),
            });
        }
    }),
};

pub const NO_NEW_PRIVILEGES: Rule = Rule {
    id: "no-new-privileges",
    severity: Severity::Medium,
    title: "no-new-privileges not set",
    why: "Without no-new-privileges a process can gain privileges through setuid or setcap \
          binaries in the image (su, ping, a planted binary).",
    fix: "Add `security_opt: [\"no-new-privileges:true\"]` (and set `no-new-privileges` in \
          daemon.json for every container).",
    refs: References {
        cis: &["5.26"],
        kics: &[
            "27fcc7d6-c49b-46e0-98f1-6c082a6a2750",
            "610e266e-6c12-4bca-9925-1ed0cd29742b",
        ],
        compose_lint: &["CL-0003"],
    },
    check: Check::Service(|p, _, out| {
        let mut set = false;
        for (opt, value) in opts(p, "no-new-privileges") {
            match value.to_ascii_lowercase().as_str() {
                "" | "true" | "1" => set = true,
                _ => out.push(Hit {
                    loc: opt.loc,
                    message: about("turns no-new-privileges off, overriding the daemon"),
                }),
            }
        }
        if !set && out.is_empty() {
            let loc = p.security_opt.first().map_or(p.loc, |o| o.loc);
            out.push(Hit {
                loc,
                message: about("does not set no-new-privileges"),
            });
        }
    }),
};

fn unconfined(p: &Posture, key: &str, bad: &str, what: &'static str, out: &mut Vec<Hit>) {
    for (opt, value) in opts(p, key) {
        if value.eq_ignore_ascii_case(bad) {
            out.push(Hit {
                loc: opt.loc,
                message: about(what),
            });
        }
    }
}

pub const SECCOMP_UNCONFINED: Rule = Rule {
    id: "seccomp-unconfined",
    severity: Severity::High,
    title: "seccomp disabled",
    why: "Docker's default seccomp profile blocks about 50 dangerous system calls (kexec, \
          mount, keyctl, ...); unconfined opens them all to the container.",
    fix: "Remove `seccomp:unconfined`; if one syscall is missing, use a custom profile that \
          allows just that.",
    refs: References {
        cis: &["5.22"],
        kics: &["404fde2c-bc4b-4371-9747-7054132ac953"],
        compose_lint: &["CL-0009"],
    },
    check: Check::Service(|p, _, out| {
        unconfined(p, "seccomp", "unconfined", "disables seccomp", out)
    }),
};

pub const APPARMOR_UNCONFINED: Rule = Rule {
    id: "apparmor-unconfined",
    severity: Severity::High,
    title: "AppArmor disabled",
    why: "The AppArmor profile denies writes to /proc and /sys and other host-facing paths; \
          unconfined removes that layer.",
    fix: "Remove `apparmor:unconfined`; use `apparmor=docker-default` or an app profile.",
    refs: References {
        cis: &["5.2"],
        kics: &[],
        compose_lint: &["CL-0009"],
    },
    check: Check::Service(|p, _, out| {
        unconfined(p, "apparmor", "unconfined", "disables AppArmor", out)
    }),
};

pub const APPARMOR_MISSING: Rule = Rule {
    id: "apparmor-missing",
    severity: Severity::Low,
    title: "No AppArmor profile stated",
    why: "Docker applies docker-default only when AppArmor is enabled and nothing overrides \
          it; stating the profile makes the intent explicit and auditable.",
    fix: "Add `apparmor=docker-default` (or an app profile) to `security_opt`.",
    refs: References {
        cis: &["5.2"],
        kics: &[],
        compose_lint: &[],
    },
    check: Check::Service(|p, _, out| {
        if p.privileged.as_ref().is_some_and(|x| x.value) {
            return;
        }
        if opts(p, "apparmor").next().is_none() {
            let loc = p.security_opt.first().map_or(p.loc, |o| o.loc);
            out.push(Hit {
                loc,
                message: about("states no AppArmor profile"),
            });
        }
    }),
};

pub const SELINUX_DISABLED: Rule = Rule {
    id: "selinux-disabled",
    severity: Severity::High,
    title: "SELinux separation disabled",
    why: "`label:disable` turns off SELinux labelling for the container, so on an SELinux \
          host it can reach files of other containers and the host.",
    fix: "Remove `label:disable`; relabel volumes with `:z`/`:Z` instead.",
    refs: References {
        cis: &["5.3"],
        kics: &[],
        compose_lint: &["CL-0009"],
    },
    check: Check::Service(|p, _, out| {
        unconfined(p, "label", "disable", "disables SELinux labelling", out)
    }),
};

pub const RULES: &[Rule] = &[
    PRIVILEGED,
    NO_NEW_PRIVILEGES,
    SECCOMP_UNCONFINED,
    APPARMOR_UNCONFINED,
    APPARMOR_MISSING,
    SELINUX_DISABLED,
];
