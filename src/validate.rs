//! Checks on values a user hands to berth (app names, domains, `--set` values). Each error
//! says what was wrong and what is accepted, because these values end up inside compose,
//! nginx and shell contexts.

use crate::error::{Error, Result};

/// An app name: `[a-z][a-z0-9-]{0,30}`. It becomes a Compose project, a Linux user name
/// prefix and a directory name, so nothing else is allowed.
pub fn app_name(name: &str) -> Result<()> {
    let ok = name.len() <= 31
        && name.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::input(format!(
            "invalid app name {:?}: use 1 to 31 characters, a lower-case letter first, then \
             lower-case letters, digits or '-' (pattern [a-z][a-z0-9-]{{0,30}})",
            printable(name)
        )))
    }
}

/// A DNS host name (RFC 1123): dot-separated labels of letters, digits and inner hyphens,
/// each 1-63 characters, 253 in all. Upper case is refused rather than folded, so the
/// name in nginx is exactly the one the user typed.
pub fn domain(domain: &str) -> Result<()> {
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    let labels: Vec<&str> = domain.split('.').collect();
    let last_is_alpha = labels
        .last()
        .is_some_and(|l| l.bytes().any(|b| b.is_ascii_lowercase()));
    if domain.len() <= 253 && labels.iter().all(|l| label_ok(l)) && last_is_alpha {
        Ok(())
    } else {
        Err(Error::input(format!(
            "invalid domain {:?}: use a host name such as cloud.example.com (lower-case \
             letters, digits, '-' and '.', no trailing dot, no port, no scheme)",
            printable(domain)
        )))
    }
}

/// A `--set` value. It is written into compose.yaml (quoted) and may reach a shell inside
/// the container, so `$` (Compose interpolation) and control characters are refused.
pub fn setting_value(key: &str, value: &str) -> Result<()> {
    if let Some(bad) = value.chars().find(|c| c.is_control() || *c == '$') {
        let what = match bad {
            '\n' | '\r' => "a line break".to_string(),
            '$' => "'$' (Compose would interpolate it)".to_string(),
            c => format!("the control character U+{:04X}", c as u32),
        };
        return Err(Error::input(format!(
            "--set {key}: the value contains {what}; use a single line without '$'"
        )));
    }
    if value.len() > 4096 {
        return Err(Error::input(format!(
            "--set {key}: the value is {} bytes; the limit is 4096",
            value.len()
        )));
    }
    Ok(())
}

/// Shows a hostile value without letting it rewrite the terminal.
pub fn printable(s: &str) -> String {
    let shown: String = s.chars().take(80).collect();
    let shown = shown.escape_debug().to_string();
    if s.chars().count() > 80 {
        format!("{shown}...")
    } else {
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_names() {
        for ok in ["a", "cloud", "my-app-2", &"a".repeat(31)] {
            assert!(app_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "1app",
            "-x",
            "App",
            "a_b",
            "a.b",
            "a b",
            "a;rm",
            &"a".repeat(32),
            "ä",
        ] {
            assert!(app_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn domains() {
        for ok in ["cloud.example.com", "a.io", "x-1.example.org", "localhost"] {
            assert!(domain(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Cloud.example.com",
            "example.com.",
            "-a.com",
            "a-.com",
            "a..com",
            "a.com;evil",
            "a.com\nserver_name x",
            "http://a.com",
            "a.com:8080",
            "1.2.3.4",
            "*.example.com",
            &format!("{}.com", "a".repeat(64)),
        ] {
            assert!(domain(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn setting_values() {
        assert!(setting_value("K", "admin@example.com").is_ok());
        assert!(setting_value("K", "a\"quote'").is_ok());
        for bad in ["a\nb", "$HOME", "a\u{7}b", "x\ry"] {
            assert!(setting_value("K", bad).is_err(), "{bad:?}");
        }
    }
}
