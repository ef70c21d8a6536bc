//! The terminal report: "fix now" (critical, high) apart from "nice to have", each finding
//! with where, what, why and how to fix. Styled with ANSI codes; the CLI prints through
//! anstream, which strips them when NO_COLOR is set or output is not a terminal.

use std::fmt::Write;

use anstyle::{AnsiColor, Style};

use super::Report;
use crate::audit::Finding;
use crate::audit::rule::Severity;

fn style(sev: Severity, color: bool) -> Style {
    if !color {
        return Style::new();
    }
    let color = match sev {
        Severity::Critical => AnsiColor::BrightRed,
        Severity::High => AnsiColor::Red,
        Severity::Medium => AnsiColor::Yellow,
        Severity::Low => AnsiColor::Cyan,
        Severity::Info => AnsiColor::BrightBlack,
    };
    Style::new().fg_color(Some(color.into())).bold()
}

fn finding(out: &mut String, f: &Finding, verbose: bool, color: bool) {
    let s = style(f.severity, color);
    let dim = if color {
        Style::new().dimmed()
    } else {
        Style::new()
    };
    let _ = writeln!(
        out,
        "{s}{:>8}{s:#} {}:{}:{}  {}  {dim}[{}]{dim:#}",
        f.severity.as_str(),
        f.path.display(),
        f.line,
        f.column,
        f.message,
        f.rule.id
    );
    if verbose {
        let _ = writeln!(out, "         why: {}", f.rule.why);
        let _ = writeln!(out, "         fix: {}", f.rule.fix);
    }
}

/// Findings are formatted independently, so a large report is formatted in parallel,
/// chunk by chunk, and each chunk goes to the output as it is (no second copy of it all).
fn lines(
    out: &mut dyn std::io::Write,
    findings: &[&Finding],
    verbose: bool,
    color: bool,
) -> std::io::Result<()> {
    use rayon::prelude::*;
    for group in findings.chunks(64 * 1024) {
        let parts: Vec<String> = group
            .par_chunks(4096)
            .map(|chunk| {
                let mut s = String::with_capacity(chunk.len() * 120);
                for f in chunk {
                    finding(&mut s, f, verbose, color);
                }
                s
            })
            .collect();
        for part in parts {
            out.write_all(part.as_bytes())?;
        }
    }
    Ok(())
}

/// `color`: whether to emit ANSI styles (the CLI asks anstream, which honours NO_COLOR,
/// CLICOLOR_FORCE and whether stdout is a terminal).
pub fn render(report: &Report, verbose: bool, color: bool) -> String {
    let mut out = Vec::new();
    let _ = write(&mut out, report, verbose, color);
    String::from_utf8(out).unwrap_or_default()
}

/// The report, written to `sink` as it is formatted.
pub fn write(
    sink: &mut dyn std::io::Write,
    report: &Report,
    verbose: bool,
    color: bool,
) -> std::io::Result<()> {
    let mut out = String::new();
    let bold = if color {
        Style::new().bold()
    } else {
        Style::new()
    };
    for e in &report.errors {
        let red = style(Severity::Critical, color);
        let _ = writeln!(out, "{red}   error{red:#} {e}");
    }
    let (urgent, later) = report.grouped();
    if !urgent.is_empty() {
        let _ = writeln!(
            out,
            "{bold}Fix now{bold:#} ({} critical or high)",
            urgent.len()
        );
        sink.write_all(out.as_bytes())?;
        out.clear();
        lines(sink, &urgent, true, color)?;
        out.push('\n');
    }
    if !later.is_empty() {
        let _ = writeln!(out, "{bold}Nice to have{bold:#} ({})", later.len());
        sink.write_all(out.as_bytes())?;
        out.clear();
        lines(sink, &later, verbose, color)?;
        out.push('\n');
    }
    let suppressed: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| f.suppressed.is_some())
        .collect();
    if verbose && !suppressed.is_empty() {
        let _ = writeln!(out, "{bold}Suppressed{bold:#} ({})", suppressed.len());
        for f in suppressed {
            let _ = writeln!(
                out,
                "         {}:{}  [{}] {}",
                f.path.display(),
                f.line,
                f.rule.id,
                f.suppressed.as_deref().unwrap_or("")
            );
        }
        out.push('\n');
    }
    let _ = writeln!(out, "{bold}{}{bold:#}", report.summary());
    sink.write_all(out.as_bytes())
}
