//! A small block-style YAML writer for the files berth generates.
//!
//! Why not a serializer crate: the output must mean the same to YAML 1.1 and 1.2 readers
//! and must carry audit comments beside keys. So every string is double-quoted (`"22:22"`,
//! `"on"`, `"0755"` stay strings everywhere), keys are quoted unless plainly safe, and the
//! order of keys is the order given. Double-quoted JSON strings are valid YAML scalars.

use std::fmt::Write;

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub value: Node,
    /// Comment lines written above the key.
    pub comments: Vec<String>,
}

impl Node {
    pub fn str(s: impl Into<String>) -> Node {
        Node::Str(s.into())
    }

    pub fn strs<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> Node {
        Node::Seq(items.into_iter().map(|s| Node::Str(s.into())).collect())
    }
}

/// Builds a map fluently, keeping insertion order.
#[derive(Debug, Default)]
pub struct MapBuilder(Vec<Entry>);

impl MapBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn entry(mut self, key: &str, value: Node) -> Self {
        self.push(key, value, Vec::new());
        self
    }

    pub fn push(&mut self, key: &str, value: Node, comments: Vec<String>) {
        self.0.push(Entry {
            key: key.to_string(),
            value,
            comments,
        });
    }

    pub fn build(self) -> Node {
        Node::Map(self.0)
    }
}

/// YAML 1.1 reads these plain words as booleans or null; 1.2 does not.
const AMBIGUOUS_WORDS: &[&str] = &[
    "y", "n", "yes", "no", "on", "off", "true", "false", "null", "~",
];

fn plain_key_ok(key: &str) -> bool {
    key.bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/'))
        && !AMBIGUOUS_WORDS.contains(&key.to_ascii_lowercase().as_str())
}

fn quoted(s: &str) -> String {
    // serde_json never fails on a str; its escapes (\" \\ \n \uXXXX) are YAML escapes too.
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

fn key(k: &str) -> String {
    if plain_key_ok(k) {
        k.to_string()
    } else {
        quoted(k)
    }
}

fn scalar(node: &Node) -> Option<String> {
    match node {
        Node::Str(s) => Some(quoted(s)),
        Node::Int(i) => Some(i.to_string()),
        // Debug keeps the decimal point (1.0, not 1), so the value stays a float.
        Node::Float(f) => Some(format!("{f:?}")),
        Node::Bool(b) => Some(b.to_string()),
        Node::Seq(items) if items.is_empty() => Some("[]".into()),
        Node::Map(entries) if entries.is_empty() => Some("{}".into()),
        _ => None,
    }
}

/// A comment can never end the line early or smuggle in YAML.
fn comment_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

pub fn to_string(header: &[String], root: &Node) -> String {
    let mut out = String::new();
    for line in header {
        let _ = writeln!(out, "# {}", comment_line(line));
    }
    write_block(&mut out, root, 0);
    out
}

fn write_block(out: &mut String, node: &Node, indent: usize) {
    let pad = " ".repeat(indent);
    match node {
        Node::Map(entries) => {
            for e in entries {
                for c in &e.comments {
                    let _ = writeln!(out, "{pad}# {}", comment_line(c));
                }
                match scalar(&e.value) {
                    Some(s) => {
                        let _ = writeln!(out, "{pad}{}: {s}", key(&e.key));
                    }
                    None => {
                        let _ = writeln!(out, "{pad}{}:", key(&e.key));
                        write_block(out, &e.value, indent + 2);
                    }
                }
            }
        }
        Node::Seq(items) => {
            for item in items {
                match scalar(item) {
                    Some(s) => {
                        let _ = writeln!(out, "{pad}- {s}");
                    }
                    None => {
                        // Render the item at indent+2, then put the dash on its first line.
                        let mut inner = String::new();
                        write_block(&mut inner, item, indent + 2);
                        let inner = inner.strip_prefix(&format!("{pad}  ")).unwrap_or(&inner);
                        let _ = write!(out, "{pad}- {inner}");
                    }
                }
            }
        }
        other => {
            if let Some(s) = scalar(other) {
                let _ = writeln!(out, "{pad}{s}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_every_string_and_risky_keys() {
        let doc = MapBuilder::new()
            .entry("ports", Node::strs(["22:22", "on", "0755"]))
            .entry("on", Node::Bool(true))
            .entry("cpus", Node::Float(1.0))
            .entry("empty", Node::Seq(vec![]))
            .build();
        assert_eq!(
            to_string(&[], &doc),
            "ports:\n  - \"22:22\"\n  - \"on\"\n  - \"0755\"\n\"on\": true\ncpus: 1.0\nempty: []\n"
        );
    }

    #[test]
    fn nests_maps_in_sequences() {
        let item = MapBuilder::new()
            .entry("type", Node::str("bind"))
            .entry("opts", MapBuilder::new().entry("a", Node::Int(1)).build())
            .build();
        let doc = MapBuilder::new()
            .entry("volumes", Node::Seq(vec![item]))
            .build();
        assert_eq!(
            to_string(&[], &doc),
            "volumes:\n  - type: \"bind\"\n    opts:\n      a: 1\n"
        );
    }

    #[test]
    fn comments_cannot_break_out() {
        let mut m = MapBuilder::new();
        m.push("k", Node::Int(1), vec!["reason\nevil: true".into()]);
        let text = to_string(&["head\r\nx: 1".into()], &m.build());
        assert_eq!(text, "# head  x: 1\n# reason evil: true\nk: 1\n");
    }

    #[test]
    fn escapes_hostile_strings() {
        let doc = MapBuilder::new()
            .entry("v", Node::str("a\"b\\c\nd: e"))
            .build();
        assert_eq!(to_string(&[], &doc), "v: \"a\\\"b\\\\c\\nd: e\"\n");
    }
}
