//! The JSON report: findings with their rule's references, counts, and unreadable inputs.

use serde_json::json;

use super::Report;

pub fn render(report: &Report) -> String {
    let findings: Vec<_> = report
        .findings
        .iter()
        .map(|f| {
            json!({
                "rule": f.rule.id,
                "severity": f.severity,
                "title": f.rule.title,
                "file": f.path,
                "line": f.line,
                "column": f.column,
                "service": f.service,
                "message": f.message,
                "why": f.rule.why,
                "fix": f.rule.fix,
                "references": {
                    "cis": f.rule.refs.cis,
                    "kics": f.rule.refs.kics,
                    "compose_lint": f.rule.refs.compose_lint,
                },
                "suppressed": f.suppressed.as_ref().map(|r| json!({"reason": r})),
            })
        })
        .collect();
    let errors: Vec<_> = report
        .errors
        .iter()
        .map(|e| json!({"file": e.path, "line": e.line, "column": e.col, "message": e.message}))
        .collect();
    let doc = json!({
        "tool": {"name": "berth", "version": env!("CARGO_PKG_VERSION")},
        "summary": {
            "files": report.files,
            "services": report.services,
            "counts": report.counts(),
            "text": report.summary(),
        },
        "findings": findings,
        "errors": errors,
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}
