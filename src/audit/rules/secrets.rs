//! Credentials written into the compose file. Messages name the variable, never the value.

use super::super::rule::{Check, Hit, References, Rule, Severity, about};

/// `DB_PASSWORD`, `database__connection__password`, `API_KEY`, `JWT_SECRET`, ...
pub fn credential_shaped(key: &str) -> bool {
    let upper = key.to_ascii_uppercase();
    let parts: Vec<&str> = upper
        .split(['_', '-', '.'])
        .filter(|p| !p.is_empty())
        .collect();
    if parts.last() == Some(&"FILE") {
        return false; // a path to a secrets file, the right way
    }
    let single = [
        "PASSWORD",
        "PASSWD",
        "PASS",
        "PWD",
        "SECRET",
        "TOKEN",
        "APIKEY",
        "CREDENTIALS",
        "PASSPHRASE",
    ];
    let pairs = [
        ("API", "KEY"),
        ("PRIVATE", "KEY"),
        ("ACCESS", "KEY"),
        ("AUTH", "KEY"),
        ("MASTER", "KEY"),
        ("ENCRYPTION", "KEY"),
        ("SECRET", "KEY"),
        ("SIGNING", "KEY"),
        ("CREDS", "KEY"),
        ("ENC", "KEY"),
    ];
    parts.iter().any(|p| single.contains(p))
        || parts.windows(2).any(|w| pairs.contains(&(w[0], w[1])))
}

/// Values that are settings, not secrets: numbers and booleans (`PASSWORD_MIN_LENGTH=8`).
fn looks_like_setting(value: &str) -> bool {
    let v = value.trim();
    v.is_empty()
        || v.parse::<f64>().is_ok()
        || matches!(
            v.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off"
        )
}

pub const SECRET_IN_ENVIRONMENT: Rule = Rule {
    id: "secret-in-environment",
    severity: Severity::High,
    title: "Credential written into the compose file",
    why: "A password or key written as a literal is in every copy of the file (git, backups, \
          `docker inspect`, support tickets) and cannot be rotated without editing it.",
    fix: "Reference it from a 0600 .env (`PASSWORD: ${DB_PASSWORD}`) or use Compose secrets \
          (`*_FILE` variables).",
    refs: References {
        cis: &[],
        kics: &[],
        compose_lint: &["CL-0020"],
    },
    check: Check::Service(|p, _, out| {
        for var in &p.environment {
            if credential_shaped(&var.key)
                && !var.written.contains('$')
                && !looks_like_setting(&var.value)
            {
                out.push(Hit {
                    loc: var.loc,
                    message: about(format!("sets {} to a literal value", var.key)),
                });
            }
        }
    }),
};

/// The password part of `scheme://user:password@host`, if written literally.
fn literal_password_in_url(written: &str) -> bool {
    let Some(i) = written.find("://") else {
        return false;
    };
    let rest = &written[i + 3..];
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let Some(at) = authority.rfind('@') else {
        return false;
    };
    let userinfo = &authority[..at];
    match userinfo.split_once(':') {
        Some((_, password)) => !password.is_empty() && !password.contains('$'),
        None => false,
    }
}

pub const SECRET_IN_CONNECTION_STRING: Rule = Rule {
    id: "secret-in-connection-string",
    severity: Severity::High,
    title: "Password inside a connection URL",
    why: "`postgres://user:password@db` carries the password in clear wherever the URL goes.",
    fix: "Build the URL from a variable: `postgres://user:${DB_PASSWORD}@db/app`.",
    refs: References {
        cis: &[],
        kics: &[],
        compose_lint: &["CL-0021"],
    },
    check: Check::Service(|p, _, out| {
        for var in &p.environment {
            if literal_password_in_url(&var.written) {
                out.push(Hit {
                    loc: var.loc,
                    message: about(format!("puts a literal password in the URL {}", var.key)),
                });
            }
        }
    }),
};

pub const RULES: &[Rule] = &[SECRET_IN_ENVIRONMENT, SECRET_IN_CONNECTION_STRING];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_keys() {
        for k in [
            "DB_PASSWORD",
            "database__connection__password",
            "API_KEY",
            "JWT_SECRET",
            "MEILI_MASTER_KEY",
            "GITHUB_TOKEN",
            "AWS_SECRET_ACCESS_KEY",
        ] {
            assert!(credential_shaped(k), "{k}");
        }
        for k in [
            "DB_PASSWORD_FILE",
            "PASSTHROUGH",
            "BYPASS",
            "KEYBOARD",
            "TOKENIZER_MODEL",
            "HOST",
        ] {
            assert!(!credential_shaped(k), "{k}");
        }
    }

    #[test]
    fn urls() {
        assert!(literal_password_in_url("postgres://u:hunter2@db:5432/app"));
        assert!(!literal_password_in_url("postgres://u:${PW}@db/app"));
        assert!(!literal_password_in_url("postgres://u@db/app"));
        assert!(!literal_password_in_url("http://example.com/a:b@c"));
    }
}
