//! Suppressions: `# berth: allow RULE[, RULE] -- reason` comments in compose files, and a
//! config file. A comment on its own line covers the YAML block that follows it (a key and
//! everything nested under it); a trailing comment covers its own line's block. A
//! suppression without a reason, or for an unknown rule, is not applied and is reported.

use serde::Deserialize;

use crate::compose::node::FileId;

#[derive(Debug, Clone, PartialEq)]
pub struct Inline {
    pub file: FileId,
    /// The comment's own line.
    pub line: u32,
    pub col: u32,
    pub rules: Vec<String>,
    pub reason: Option<String>,
    /// The lines it covers (inclusive).
    pub first: u32,
    pub last: u32,
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches([' ', '-']).len()
}

fn is_content(line: &str) -> bool {
    let t = line.trim();
    !t.is_empty() && !t.starts_with('#')
}

/// The comment part of a line (`#` at the start or after whitespace).
fn comment_of(line: &str) -> Option<(usize, &str)> {
    let bytes = line.as_bytes();
    (0..bytes.len())
        .find(|&i| bytes[i] == b'#' && (i == 0 || bytes[i - 1] == b' ' || bytes[i - 1] == b'\t'))
        .map(|i| (i, &line[i + 1..]))
}

/// Finds every `berth: allow` comment in `text`.
pub fn inline(text: &str, file: FileId) -> Vec<Inline> {
    // Most files have no suppression at all: skip the line-by-line scan for them.
    if !text.contains("berth:") {
        return Vec::new();
    }
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some((col, comment)) = comment_of(line) else {
            continue;
        };
        let Some(rest) = comment.trim_start().strip_prefix("berth:") else {
            continue;
        };
        let Some(rest) = rest.trim_start().strip_prefix("allow") else {
            continue;
        };
        let (rules, reason) = match rest.split_once("--") {
            Some((r, why)) => (r, Some(why.trim().to_string()).filter(|w| !w.is_empty())),
            None => (rest, None),
        };
        let rules: Vec<String> = rules
            .split([',', ' '])
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_string)
            .collect();
        let trailing = !line[..col].trim().is_empty();
        // The block: the commented line (trailing) or the next content line, and every
        // following line indented deeper than it.
        let start = if trailing {
            Some(i)
        } else {
            (i + 1..lines.len()).find(|&j| is_content(lines[j]))
        };
        let (first, last) = match start {
            Some(s) => {
                let base = indent(lines[s]);
                let mut end = s;
                for (j, l) in lines.iter().enumerate().skip(s + 1) {
                    if !is_content(l) {
                        continue;
                    }
                    // A sequence item under a key at the same column is still inside.
                    let item_of_key = l.trim_start().starts_with('-')
                        && l.len() - l.trim_start().len()
                            >= lines[s].len() - lines[s].trim_start().len()
                        && !lines[s].trim_start().starts_with('-');
                    if indent(l) <= base && !item_of_key {
                        break;
                    }
                    end = j;
                }
                (s as u32 + 1, end as u32 + 1)
            }
            None => (i as u32 + 1, i as u32 + 1),
        };
        out.push(Inline {
            file,
            line: i as u32 + 1,
            col: col as u32 + 1,
            rules,
            reason,
            first,
            last,
        });
    }
    out
}

/// The suppression config file (`--config`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub suppress: Vec<ConfigEntry>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigEntry {
    pub rule: serde_saphyr::Spanned<String>,
    /// Only this service.
    #[serde(default)]
    pub service: Option<String>,
    /// Only files whose path ends with this.
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
}

impl ConfigEntry {
    pub fn matches(&self, rule: &str, service: Option<&str>, path: &std::path::Path) -> bool {
        self.rule.value == rule
            && self.service.as_deref().is_none_or(|s| Some(s) == service)
            && self
                .path
                .as_deref()
                .is_none_or(|p| path.to_string_lossy().ends_with(p))
    }
}

pub fn load_config(path: &std::path::Path) -> Result<Config, String> {
    let text = crate::compose::project::read_text(&crate::compose::project::RealFs, path)
        .map_err(|e| e.to_string())?;
    serde_saphyr::from_str(&text).map_err(|e| {
        format!(
            "{}: {}",
            path.display(),
            e.to_string().lines().next().unwrap_or("invalid")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standalone_comment_covers_the_next_block() {
        let text = "services:\n  db:\n    # berth: allow port-all-interfaces -- public by design\n    ports:\n      - \"5432:5432\"\n    image: pg\n";
        let s = inline(text, 0);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].rules, ["port-all-interfaces"]);
        assert_eq!(s[0].reason.as_deref(), Some("public by design"));
        assert_eq!((s[0].first, s[0].last), (4, 5));
    }

    #[test]
    fn trailing_comment_and_missing_reason() {
        let text =
            "services:\n  web:\n    privileged: true # berth: allow privileged\n    image: x\n";
        let s = inline(text, 0);
        assert_eq!((s[0].first, s[0].last), (3, 3));
        assert_eq!(s[0].reason, None);
    }

    #[test]
    fn comment_above_a_service_covers_it() {
        let text = "services:\n  # berth: allow user-root, cap-add -- vendor image\n  web:\n    user: root\n    cap_add: [X]\n  db:\n    image: y\n";
        let s = inline(text, 0);
        assert_eq!(s[0].rules, ["user-root", "cap-add"]);
        assert_eq!((s[0].first, s[0].last), (3, 5));
    }

    #[test]
    fn hash_inside_a_value_is_not_a_comment() {
        assert!(inline("a: \"x#berth: allow y -- z\"\n", 0).is_empty());
    }
}
