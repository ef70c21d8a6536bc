//! Compose's variable interpolation: `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
//! `${VAR:?error}`, `${VAR?error}`, `${VAR:+alt}`, `${VAR+alt}`, nesting in defaults, and
//! `$$` for a literal dollar. Plus the `.env` file format. Architecture invariant: pure.

use std::collections::BTreeMap;

pub type Env = BTreeMap<String, String>;

/// A variable the file requires (`${VAR:?...}`) that the environment does not give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    pub variable: String,
    pub message: String,
}

/// Interpolates `text`. Unset variables become empty, as in Compose (which warns);
/// required ones are reported in `missing` and also become empty.
pub fn interpolate(text: &str, env: &Env, missing: &mut Vec<Missing>) -> String {
    if !text.contains('$') {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '$' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        match chars.get(i + 1) {
            Some('$') => {
                out.push('$');
                i += 2;
            }
            Some('{') => match matching_brace(&chars, i + 2) {
                Some(end) => {
                    let inner: String = chars[i + 2..end].iter().collect();
                    out.push_str(&braced(&inner, env, missing));
                    i = end + 1;
                }
                None => {
                    // Unclosed: Compose rejects it; keep the text so the finding shows it.
                    out.extend(&chars[i..]);
                    break;
                }
            },
            Some(c) if c.is_ascii_alphabetic() || *c == '_' => {
                let start = i + 1;
                let mut end = start;
                while end < chars.len() && (chars[end].is_ascii_alphanumeric() || chars[end] == '_')
                {
                    end += 1;
                }
                let name: String = chars[start..end].iter().collect();
                out.push_str(env.get(&name).map(String::as_str).unwrap_or(""));
                i = end;
            }
            _ => {
                out.push('$');
                i += 1;
            }
        }
    }
    out
}

fn matching_brace(chars: &[char], from: usize) -> Option<usize> {
    let mut depth = 1;
    let mut i = from;
    while i < chars.len() {
        match chars[i] {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn braced(inner: &str, env: &Env, missing: &mut Vec<Missing>) -> String {
    let name_end = inner
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(inner.len());
    let (name, rest) = inner.split_at(name_end);
    let value = env.get(name);
    let set = value.is_some();
    let non_empty = value.is_some_and(|v| !v.is_empty());
    let value = value.cloned().unwrap_or_default();
    let (op, arg) = if let Some(a) = rest.strip_prefix(":-") {
        (":-", a)
    } else if let Some(a) = rest.strip_prefix(":?") {
        (":?", a)
    } else if let Some(a) = rest.strip_prefix(":+") {
        (":+", a)
    } else if let Some(a) = rest.strip_prefix('-') {
        ("-", a)
    } else if let Some(a) = rest.strip_prefix('?') {
        ("?", a)
    } else if let Some(a) = rest.strip_prefix('+') {
        ("+", a)
    } else {
        ("", rest)
    };
    match op {
        ":-" if !non_empty => interpolate(arg, env, missing),
        "-" if !set => interpolate(arg, env, missing),
        ":+" => {
            if non_empty {
                interpolate(arg, env, missing)
            } else {
                String::new()
            }
        }
        "+" => {
            if set {
                interpolate(arg, env, missing)
            } else {
                String::new()
            }
        }
        ":?" | "?" if (op == ":?" && !non_empty) || (op == "?" && !set) => {
            let message = interpolate(arg, env, missing);
            missing.push(Missing {
                variable: name.to_string(),
                message,
            });
            String::new()
        }
        _ => value,
    }
}

/// Parses a `.env` file as Compose does: `KEY=VALUE` lines, optional `export `, `#`
/// comments, single quotes literal, double quotes with `\n` `\"` `\\` escapes, and an
/// unquoted value ending at ` #`.
pub fn parse_env_file(text: &str) -> Env {
    let mut env = Env::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim();
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
        {
            continue;
        }
        let value = value.trim_start();
        let value = if let Some(rest) = value.strip_prefix('\'') {
            rest.split_once('\'').map_or(rest, |(v, _)| v).to_string()
        } else if let Some(rest) = value.strip_prefix('"') {
            let mut out = String::new();
            let mut chars = rest.chars();
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => match chars.next() {
                        Some('n') => out.push('\n'),
                        Some('t') => out.push('\t'),
                        Some(other) => out.push(other),
                        None => {}
                    },
                    c => out.push(c),
                }
            }
            out
        } else {
            value
                .split(" #")
                .next()
                .unwrap_or("")
                .trim_end()
                .to_string()
        };
        env.insert(key.to_string(), value);
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Env {
        Env::from([("A".into(), "a".into()), ("EMPTY".into(), String::new())])
    }

    fn run(s: &str) -> (String, Vec<Missing>) {
        let mut missing = Vec::new();
        (interpolate(s, &env(), &mut missing), missing)
    }

    #[test]
    fn forms() {
        assert_eq!(run("x${A}y$A").0, "xaya");
        assert_eq!(run("${NOPE:-d}").0, "d");
        assert_eq!(run("${EMPTY:-d}").0, "d");
        assert_eq!(run("${EMPTY-d}").0, "");
        assert_eq!(run("${NOPE-d}").0, "d");
        assert_eq!(run("${A:+alt}").0, "alt");
        assert_eq!(run("${NOPE:+alt}").0, "");
        assert_eq!(run("${NOPE:-${A}}").0, "a");
        assert_eq!(run("$$A $$").0, "$A $");
        assert_eq!(run("cost: 5$").0, "cost: 5$");
        assert_eq!(run("${NOPE}").0, "");
        let (v, missing) = run("${NOPE:?set NOPE}");
        assert_eq!(v, "");
        assert_eq!(missing[0].variable, "NOPE");
        assert_eq!(missing[0].message, "set NOPE");
        assert_eq!(run("${A:?x}").1, vec![]);
        assert_eq!(run("${unclosed").0, "${unclosed");
    }

    #[test]
    fn env_files() {
        let env = parse_env_file(
            "# c\nA=1\nexport B = two \nC='x # y'\nD=\"q\\\"n\\n\"\nE=v # comment\nbad line\n",
        );
        assert_eq!(env["A"], "1");
        assert_eq!(env["B"], "two");
        assert_eq!(env["C"], "x # y");
        assert_eq!(env["D"], "q\"n\n");
        assert_eq!(env["E"], "v");
        assert_eq!(env.len(), 5);
    }
}
