//! The JSON report: findings with their rule's references, the rules that fired (title,
//! why, fix) once each, counts, and unreadable inputs. Serialized straight from borrowed
//! data: a report can hold hundreds of thousands of findings.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::{Counts, Report};
use crate::audit::rule::{References, Severity};

#[derive(Serialize)]
struct Doc<'a> {
    tool: Tool,
    summary: Summary,
    findings: Vec<FindingOut<'a>>,
    rules: BTreeMap<&'static str, RuleOut>,
    errors: Vec<ErrorOut<'a>>,
}

#[derive(Serialize)]
struct Tool {
    name: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
struct Summary {
    files: usize,
    services: usize,
    counts: Counts,
    text: String,
}

#[derive(Serialize)]
struct FindingOut<'a> {
    rule: &'static str,
    severity: Severity,
    file: &'a Path,
    line: u32,
    column: u32,
    service: Option<&'a str>,
    message: std::borrow::Cow<'a, str>,
    references: &'static References,
    suppressed: Option<Suppressed<'a>>,
}

#[derive(Serialize)]
struct Suppressed<'a> {
    reason: &'a str,
}

#[derive(Serialize)]
struct RuleOut {
    severity: Severity,
    title: &'static str,
    why: &'static str,
    fix: &'static str,
}

#[derive(Serialize)]
struct ErrorOut<'a> {
    file: &'a Path,
    line: u32,
    column: u32,
    message: &'a str,
}

pub fn render(report: &Report) -> String {
    let mut rules = BTreeMap::new();
    let findings = report
        .findings
        .iter()
        .map(|f| {
            rules.entry(f.rule.id).or_insert(RuleOut {
                severity: f.rule.severity,
                title: f.rule.title,
                why: f.rule.why,
                fix: f.rule.fix,
            });
            FindingOut {
                rule: f.rule.id,
                severity: f.severity,
                file: &f.path,
                line: f.line,
                column: f.column,
                service: f.service.as_deref(),
                message: f.message(),
                references: &f.rule.refs,
                suppressed: f.suppressed.as_deref().map(|reason| Suppressed { reason }),
            }
        })
        .collect();
    let doc = Doc {
        tool: Tool {
            name: "berth",
            version: env!("CARGO_PKG_VERSION"),
        },
        summary: Summary {
            files: report.files,
            services: report.services,
            counts: report.counts(),
            text: report.summary(),
        },
        findings,
        rules,
        errors: report
            .errors
            .iter()
            .map(|e| ErrorOut {
                file: &e.path,
                line: e.line,
                column: e.col,
                message: &e.message,
            })
            .collect(),
    };
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}
