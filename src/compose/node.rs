//! A YAML document as a tree whose every node knows where it came from (file, line,
//! column). serde-saphyr does the YAML work: anchors, aliases and `<<` merge keys (a merged
//! value is located at its `<<` site), duplicate-key errors, and the budgets that stop
//! alias bombs. Architecture invariant: pure; text in, tree out.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// Index of a source file in the audit's file table.
pub type FileId = u32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Loc {
    pub file: FileId,
    /// 1-based; 0 when unknown (a value that exists only by default).
    pub line: u32,
    pub col: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub name: String,
    pub loc: Loc,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub loc: Loc,
    /// The string as written, before `${VAR}` interpolation (only when it changed).
    pub raw: Option<String>,
}

impl Node {
    pub fn new(value: Value, loc: Loc) -> Self {
        Node {
            value,
            loc,
            raw: None,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries
                .iter()
                .rev()
                .find(|(k, _)| k.name == key)
                .map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn key_loc(&self, key: &str) -> Option<Loc> {
        match &self.value {
            Value::Map(entries) => entries
                .iter()
                .rev()
                .find(|(k, _)| k.name == key)
                .map(|(k, _)| k.loc),
            _ => None,
        }
    }

    pub fn entries(&self) -> &[(Key, Node)] {
        match &self.value {
            Value::Map(entries) => entries,
            _ => &[],
        }
    }

    pub fn items(&self) -> &[Node] {
        match &self.value {
            Value::Seq(items) => items,
            _ => &[],
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// A scalar as text (`80` and `"80"` alike); `None` for collections and null.
    pub fn scalar(&self) -> Option<Cow<'_, str>> {
        match &self.value {
            Value::Str(s) => Some(Cow::Borrowed(s)),
            Value::Int(i) => Some(Cow::Owned(i.to_string())),
            Value::Float(f) => Some(Cow::Owned(f.to_string())),
            Value::Bool(b) => Some(Cow::Owned(b.to_string())),
            _ => None,
        }
    }

    /// What the author wrote: the pre-interpolation string if there was one.
    pub fn written(&self) -> Option<Cow<'_, str>> {
        match &self.raw {
            Some(raw) => Some(Cow::Borrowed(raw)),
            None => self.scalar(),
        }
    }

    /// Compose's boolean reading: YAML booleans, and the strings Compose accepts.
    pub fn as_bool(&self) -> Option<bool> {
        match &self.value {
            Value::Bool(b) => Some(*b),
            Value::Str(s) => match s.to_ascii_lowercase().as_str() {
                "true" | "yes" | "y" | "on" | "1" => Some(true),
                "false" | "no" | "n" | "off" | "0" => Some(false),
                _ => None,
            },
            Value::Int(i) => Some(*i != 0),
            _ => None,
        }
    }

    /// Stamps every location in the tree with `file`.
    fn set_file(&mut self, file: FileId) {
        self.loc.file = file;
        match &mut self.value {
            Value::Seq(items) => items.iter_mut().for_each(|n| n.set_file(file)),
            Value::Map(entries) => entries.iter_mut().for_each(|(k, v)| {
                k.loc.file = file;
                v.set_file(file);
            }),
            _ => {}
        }
    }
}

/// A YAML syntax or structure error with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: u32,
    pub col: u32,
    pub message: String,
}

/// Parses one YAML document. An empty document is a null node.
pub fn parse(text: &str, file: FileId) -> Result<Node, ParseError> {
    if text.trim().is_empty() {
        return Ok(Node::new(
            Value::Null,
            Loc {
                file,
                line: 1,
                col: 1,
            },
        ));
    }
    let spanned: Spanned<Raw> = serde_saphyr::from_str(text).map_err(|e| {
        let (line, col) = e
            .location()
            .map(|l| (l.line() as u32, l.column() as u32))
            .unwrap_or((0, 0));
        // The message already carries a rendered snippet; keep only its first line.
        let message = e
            .to_string()
            .lines()
            .next()
            .unwrap_or("invalid YAML")
            .to_string();
        ParseError { line, col, message }
    })?;
    let mut node = convert(spanned);
    node.set_file(file);
    Ok(node)
}

fn loc_of(l: &serde_saphyr::Location) -> Loc {
    Loc {
        file: 0,
        line: l.line() as u32,
        col: l.column() as u32,
    }
}

fn convert(s: Spanned<Raw>) -> Node {
    let loc = loc_of(&s.referenced);
    let value = match s.value {
        Raw::Null => Value::Null,
        Raw::Bool(b) => Value::Bool(b),
        Raw::Int(i) => Value::Int(i),
        Raw::Float(f) => Value::Float(f),
        Raw::Str(s) => Value::Str(s),
        Raw::Seq(items) => Value::Seq(items.into_iter().map(convert).collect()),
        Raw::Map(entries) => Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| {
                    (
                        Key {
                            name: k.value,
                            loc: loc_of(&k.referenced),
                        },
                        convert(v),
                    )
                })
                .collect(),
        ),
    };
    Node::new(value, loc)
}

/// What serde-saphyr hands us, before locations are folded into `Node`.
enum Raw {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Raw>>),
    Map(Vec<(Spanned<String>, Spanned<Raw>)>),
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_none<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Raw, D::Error> {
        d.deserialize_any(RawVisitor)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Raw, E> {
        Ok(Raw::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Raw, E> {
        Ok(Raw::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Raw, E> {
        Ok(i64::try_from(v).map_or(Raw::Float(v as f64), Raw::Int))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Raw, E> {
        Ok(i64::try_from(v).map_or(Raw::Float(v as f64), Raw::Int))
    }
    fn visit_u128<E>(self, v: u128) -> Result<Raw, E> {
        Ok(i64::try_from(v).map_or(Raw::Float(v as f64), Raw::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Raw, E> {
        Ok(Raw::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Raw, E> {
        Ok(Raw::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Raw, E> {
        Ok(Raw::Str(v))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<Raw, E> {
        Ok(Raw::Str(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Raw, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = a.next_element()? {
            items.push(item);
        }
        Ok(Raw::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Raw, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = a.next_key::<Spanned<String>>()? {
            let value = a.next_value()?;
            entries.push((key, value));
        }
        Ok(Raw::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_keys_values_and_merges() {
        let text = "x: &b\n  cap_add: [SYS_ADMIN]\nservices:\n  web:\n    <<: *b\n    image: nginx\n    ports: [\"80:80\"]\n";
        let doc = parse(text, 3).unwrap();
        let web = doc.get("services").unwrap().get("web").unwrap();
        assert_eq!(
            web.key_loc("image"),
            Some(Loc {
                file: 3,
                line: 6,
                col: 5
            })
        );
        assert_eq!(web.get("image").unwrap().scalar().unwrap(), "nginx");
        // The merged key is present, located at the merge site.
        let caps = web.get("cap_add").unwrap();
        assert_eq!(caps.items()[0].scalar().unwrap(), "SYS_ADMIN");
        assert_eq!(caps.items()[0].loc.line, 5);
        assert_eq!(
            web.get("ports").unwrap().items()[0].scalar().unwrap(),
            "80:80"
        );
    }

    #[test]
    fn errors_have_positions_and_never_panic() {
        let err = parse("a: [1, 2\nb: c\n", 0).unwrap_err();
        assert!(err.line >= 1, "{err:?}");
        assert!(parse("a: 1\na: 2\n", 0).is_err(), "duplicate keys");
        assert!(parse("\u{0}\u{1}", 0).is_err() || parse("\u{0}\u{1}", 0).is_ok());
        assert!(parse("", 0).unwrap().is_null());
    }

    #[test]
    fn alias_bombs_hit_the_budget() {
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10u8 {
            let (n, p) = ((b'a' + i) as char, (b'a' + i - 1) as char);
            bomb.push_str(&format!(
                "{n}: &{n} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
            ));
        }
        assert!(parse(&bomb, 0).is_err());
    }
}
