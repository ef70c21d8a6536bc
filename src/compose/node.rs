//! A YAML document as a tree whose every node knows where it came from (file, line,
//! column): anchors, aliases and `<<` merge keys resolved (a merged or aliased value is
//! located where it is used), duplicate keys refused, and a node budget that stops alias
//! bombs before they allocate. Architecture invariant: pure; text in, tree out.

use std::borrow::Cow;
use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

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
}

/// A YAML syntax or structure error with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: u32,
    pub col: u32,
    pub message: String,
}

/// The most nodes a document may expand to (aliases count every copy): compose files have
/// hundreds; an alias bomb has billions.
pub const MAX_NODES: usize = 1_000_000;
/// Deeper nesting than this is refused, so no later tree walk can exhaust the stack.
pub const MAX_DEPTH: usize = 128;

/// Parses one YAML document (the first, as Compose does). An empty document is null.
///
/// Built directly on an event parser because that is several times faster than going
/// through serde with a span per node, and the audit reads thousands of files. The parser
/// is saphyr-parser, not the granit-parser fork inside serde-saphyr (which reads the
/// catalog): on the benchmark corpus its events come ~25% faster.
pub fn parse(text: &str, file: FileId) -> Result<Node, ParseError> {
    Builder::new(file).run(text)
}

enum Frame {
    Seq(Loc, Vec<Node>),
    /// Entries, the key waiting for its value, and the `<<` sources to merge at the end.
    Map(Loc, Vec<(Key, Node)>, Option<Key>, Vec<Node>),
}

struct Builder {
    file: FileId,
    stack: Vec<Frame>,
    /// Anchor id → (node, its node count).
    anchors: HashMap<usize, (Node, usize)>,
    /// Frames waiting to be stored under an anchor when they close.
    pending: Vec<(usize, usize)>, // (stack depth, anchor id)
    nodes: usize,
    root: Option<Node>,
}

fn count(node: &Node) -> usize {
    1 + match &node.value {
        Value::Seq(items) => items.iter().map(count).sum(),
        Value::Map(entries) => entries.iter().map(|(_, v)| 1 + count(v)).sum(),
        _ => 0,
    }
}

/// Gives every node of a copied subtree the location of the alias that copied it.
fn relocate(node: &mut Node, loc: Loc) {
    node.loc = loc;
    match &mut node.value {
        Value::Seq(items) => items.iter_mut().for_each(|n| relocate(n, loc)),
        Value::Map(entries) => entries.iter_mut().for_each(|(k, v)| {
            k.loc = loc;
            relocate(v, loc);
        }),
        _ => {}
    }
}

/// YAML 1.2 core schema for plain scalars.
fn resolve_plain(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let bytes = s.as_bytes();
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    let int = if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        s.parse::<i64>().ok()
    } else if let Some(oct) = s.strip_prefix("0o") {
        i64::from_str_radix(oct, 8).ok()
    } else if let Some(hex) = s.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()
    } else {
        None
    };
    if let Some(i) = int {
        return Value::Int(i);
    }
    let float_like = bytes
        .iter()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
        && bytes.iter().any(|b| b.is_ascii_digit())
        && bytes.iter().any(|b| matches!(b, b'.' | b'e' | b'E'));
    if float_like && let Ok(f) = s.parse::<f64>() {
        return Value::Float(f);
    }
    match s {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => Value::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => Value::Float(f64::NAN),
        _ => Value::Str(s.to_string()),
    }
}

impl Builder {
    fn new(file: FileId) -> Self {
        Builder {
            file,
            stack: Vec::new(),
            anchors: HashMap::new(),
            pending: Vec::new(),
            nodes: 0,
            root: None,
        }
    }

    fn loc(&self, span: &Span) -> Loc {
        Loc {
            file: self.file,
            line: span.start.line() as u32,
            col: span.start.col() as u32 + 1,
        }
    }

    fn error(loc: Loc, message: impl Into<String>) -> ParseError {
        ParseError {
            line: loc.line,
            col: loc.col,
            message: message.into(),
        }
    }

    fn grow(&mut self, by: usize, loc: Loc) -> Result<(), ParseError> {
        self.nodes += by;
        if self.nodes > MAX_NODES {
            return Err(Self::error(
                loc,
                format!("the document expands to more than {MAX_NODES} nodes (an alias bomb?)"),
            ));
        }
        Ok(())
    }

    fn run(mut self, text: &str) -> Result<Node, ParseError> {
        let mut parser = Parser::new_from_str(text);
        while let Some(event) = parser.next_event() {
            let (event, span) = event.map_err(|e| ParseError {
                line: e.marker().line() as u32,
                col: e.marker().col() as u32 + 1,
                message: e.info().to_string(),
            })?;
            let loc = self.loc(&span);
            match event {
                Event::Scalar(text, style, anchor, tag) => {
                    self.grow(1, loc)?;
                    let forced_string = tag.as_ref().is_some_and(|t| t.suffix == "str");
                    let value = if style == ScalarStyle::Plain && !forced_string {
                        resolve_plain(&text)
                    } else {
                        Value::Str(text.into_owned())
                    };
                    let node = Node::new(value, loc);
                    if anchor > 0 {
                        self.anchors.insert(anchor, (node.clone(), 1));
                    }
                    self.push(node)?;
                }
                Event::Alias(id) => {
                    let (node, size) = self
                        .anchors
                        .get(&id)
                        .ok_or_else(|| Self::error(loc, "alias to an unknown anchor"))?;
                    let size = *size;
                    let mut copy = node.clone();
                    self.grow(size, loc)?;
                    relocate(&mut copy, loc);
                    self.push(copy)?;
                }
                Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                    self.grow(1, loc)?;
                    if self.stack.len() >= MAX_DEPTH {
                        return Err(Self::error(
                            loc,
                            format!("nested more than {MAX_DEPTH} levels deep"),
                        ));
                    }
                    let frame = if matches!(event, Event::SequenceStart(..)) {
                        Frame::Seq(loc, Vec::new())
                    } else {
                        Frame::Map(loc, Vec::new(), None, Vec::new())
                    };
                    self.stack.push(frame);
                    if anchor > 0 {
                        self.pending.push((self.stack.len(), anchor));
                    }
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    let depth = self.stack.len();
                    let node = match self.stack.pop() {
                        Some(Frame::Seq(loc, items)) => Node::new(Value::Seq(items), loc),
                        Some(Frame::Map(loc, mut entries, _, merges)) => {
                            // `<<`: keys written in the map win; earlier sources win over later.
                            for source in merges {
                                for (k, v) in match source.value {
                                    Value::Map(e) => e,
                                    _ => Vec::new(),
                                } {
                                    if !entries.iter().any(|(ek, _)| ek.name == k.name) {
                                        entries.push((k, v));
                                    }
                                }
                            }
                            Node::new(Value::Map(entries), loc)
                        }
                        None => return Err(Self::error(loc, "unbalanced collection")),
                    };
                    if self.pending.last().is_some_and(|(d, _)| *d == depth)
                        && let Some((_, id)) = self.pending.pop()
                    {
                        let size = count(&node);
                        self.anchors.insert(id, (node.clone(), size));
                    }
                    self.push(node)?;
                }
                Event::DocumentEnd => break,
                _ => {}
            }
        }
        Ok(self.root.unwrap_or_else(|| {
            Node::new(
                Value::Null,
                Loc {
                    file: self.file,
                    line: 1,
                    col: 1,
                },
            )
        }))
    }

    /// Places a finished node into its parent (or makes it the document).
    fn push(&mut self, node: Node) -> Result<(), ParseError> {
        match self.stack.last_mut() {
            None => {
                self.root = Some(node);
                Ok(())
            }
            Some(Frame::Seq(_, items)) => {
                items.push(node);
                Ok(())
            }
            Some(Frame::Map(_, entries, key, merges)) => match key.take() {
                None => {
                    let name = match node.value {
                        Value::Str(s) => s,
                        Value::Null => String::new(),
                        Value::Seq(_) | Value::Map(_) => {
                            return Err(Self::error(
                                node.loc,
                                "a mapping key must be a scalar (complex keys are not supported)",
                            ));
                        }
                        ref other => Node::new(other.clone(), node.loc)
                            .scalar()
                            .map(|s| s.into_owned())
                            .unwrap_or_default(),
                    };
                    *key = Some(Key {
                        name,
                        loc: node.loc,
                    });
                    Ok(())
                }
                Some(k) if k.name == "<<" => {
                    match node.value {
                        Value::Seq(sources) => merges.extend(sources),
                        _ => merges.push(node),
                    }
                    Ok(())
                }
                Some(k) => {
                    if let Some((dup, _)) = entries.iter().find(|(e, _)| e.name == k.name) {
                        return Err(Self::error(
                            k.loc,
                            format!(
                                "duplicate key {:?} (first at line {})",
                                k.name, dup.loc.line
                            ),
                        ));
                    }
                    entries.push((k, node));
                    Ok(())
                }
            },
        }
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
