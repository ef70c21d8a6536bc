//! Reading daemon.json: strict JSON (what dockerd accepts), then the same located tree the
//! compose reader builds, so rules point at lines.

use crate::compose::node::{self, FileId, Node, Value};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonError {
    pub line: u32,
    pub col: u32,
    pub message: String,
}

pub fn parse(text: &str, file: FileId) -> Result<Node, DaemonError> {
    // serde_json is the strict judge (no comments, no trailing commas), as dockerd is.
    if let Err(e) = serde_json::from_str::<serde_json::Value>(text) {
        return Err(DaemonError {
            line: e.line() as u32,
            col: e.column() as u32,
            message: format!("not valid JSON: {e}"),
        });
    }
    let doc = node::parse(text, file).map_err(|e| DaemonError {
        line: e.line,
        col: e.col,
        message: e.message,
    })?;
    match doc.value {
        Value::Map(_) => Ok(doc),
        _ => Err(DaemonError {
            line: doc.loc.line,
            col: doc.loc.col,
            message: "daemon.json must be a JSON object".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_keys_and_rejects_non_json() {
        let doc = parse("{\n  \"live-restore\": true,\n  \"icc\": false\n}\n", 0).unwrap();
        assert_eq!(doc.key_loc("icc").unwrap().line, 3);
        let err = parse("{\n  \"a\": 1,\n}\n", 0).unwrap_err();
        assert_eq!(err.line, 3);
        assert!(parse("# c\n{}", 0).is_err());
        assert!(parse("[]", 0).is_err());
    }
}
