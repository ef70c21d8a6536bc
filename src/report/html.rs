//! One self-contained HTML file (no external assets), readable on a phone: critical and
//! high findings first, the rest folded away, suppressions with their reasons. Every value
//! is HTML-escaped by askama.

use askama::Template;

use super::{Counts, Report};
use crate::audit::Finding;
use crate::compose::project::LoadError;

#[derive(Template)]
#[template(path = "report.html")]
struct Page<'a> {
    summary: String,
    counts: Counts,
    urgent: Vec<&'a Finding>,
    later: Vec<&'a Finding>,
    suppressed: Vec<&'a Finding>,
    errors: &'a [LoadError],
    version: &'static str,
}

pub fn render(report: &Report) -> String {
    let (urgent, later) = report.grouped();
    let page = Page {
        summary: report.summary(),
        counts: report.counts(),
        urgent,
        later,
        suppressed: report
            .findings
            .iter()
            .filter(|f| f.suppressed.is_some())
            .collect(),
        errors: &report.errors,
        version: env!("CARGO_PKG_VERSION"),
    };
    page.render()
        .unwrap_or_else(|e| format!("<!doctype html><p>report error: {e}</p>"))
}
