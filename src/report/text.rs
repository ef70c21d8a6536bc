//! The terminal report: "fix now" (critical, high) apart from "nice to have", each finding
//! with where, what, why and how to fix. Styled with ANSI codes; the CLI prints through
//! anstream, which strips them when NO_COLOR is set or output is not a terminal.

use std::fmt::Write;

use anstyle::{AnsiColor, Style};

use super::{FIX_NOW, NICE_TO_HAVE, Report};
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

/// The ANSI codes around a severity and a rule id, rendered once per section.
struct Paint {
    sev: (String, String),
    dim: (String, String),
}

impl Paint {
    fn new(severity: Severity, color: bool) -> Self {
        let s = style(severity, color);
        let dim = if color {
            Style::new().dimmed()
        } else {
            Style::new()
        };
        let pair = |st: Style| (st.render().to_string(), st.render_reset().to_string());
        Paint {
            sev: pair(s),
            dim: pair(dim),
        }
    }
}

/// One finding's lines. Written piece by piece rather than through `format!`: a corpus
/// report is hundreds of thousands of these.
fn finding(out: &mut String, path: &str, f: &Finding, verbose: bool, paint: &Paint) {
    let mut num = itoa::Buffer::new();
    let sev = f.severity.as_str();
    out.push_str(&paint.sev.0);
    out.extend(std::iter::repeat_n(' ', 8usize.saturating_sub(sev.len())));
    out.push_str(sev);
    out.push_str(&paint.sev.1);
    out.push(' ');
    out.push_str(path);
    out.push(':');
    out.push_str(num.format(f.line));
    out.push(':');
    out.push_str(num.format(f.column));
    out.push_str("  ");
    f.message.write(f.service.as_deref(), out);
    out.push_str("  ");
    out.push_str(&paint.dim.0);
    out.push('[');
    out.push_str(f.rule.id);
    out.push(']');
    out.push_str(&paint.dim.1);
    out.push('\n');
    if verbose {
        for (label, text) in [
            ("         why: ", f.rule.why),
            ("         fix: ", f.rule.fix),
        ] {
            out.push_str(label);
            out.push_str(text);
            out.push('\n');
        }
    }
}

/// Writes the active findings of `severity`, in report order. Findings are formatted
/// independently, so projects are formatted in parallel, a window at a time, and each
/// window goes to the output as it is: memory stays bounded however large the report.
fn lines(
    out: &mut dyn std::io::Write,
    report: &Report,
    severity: Severity,
    verbose: bool,
    color: bool,
) -> std::io::Result<()> {
    use rayon::prelude::*;
    let paint = Paint::new(severity, color);
    for window in report.findings.chunks().chunks(256) {
        let parts: Vec<String> = window
            .par_iter()
            .map(|chunk| {
                let mut s = String::new();
                // A project's findings share a few paths: shown once per path, not per finding.
                let mut shown: Option<(&Finding, std::borrow::Cow<str>)> = None;
                for f in chunk
                    .iter()
                    .filter(|f| f.severity == severity && f.suppressed.is_none())
                {
                    let path = match &shown {
                        Some((prev, p)) if std::sync::Arc::ptr_eq(&prev.path, &f.path) => p.clone(),
                        _ => f.path.to_string_lossy(),
                    };
                    finding(&mut s, &path, f, verbose, &paint);
                    shown = Some((f, path));
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
    let counts = report.counts();
    // "Fix now" always explains itself (why, fix); the rest only with --verbose.
    for (heading, what, severities, verbose) in [
        ("Fix now", " critical or high", &FIX_NOW[..], true),
        ("Nice to have", "", &NICE_TO_HAVE[..], verbose),
    ] {
        let n: usize = severities.iter().map(|s| counts.of(*s)).sum();
        if n == 0 {
            continue;
        }
        let _ = writeln!(out, "{bold}{heading}{bold:#} ({n}{what})");
        sink.write_all(out.as_bytes())?;
        out.clear();
        for severity in severities {
            lines(sink, report, *severity, verbose, color)?;
        }
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
