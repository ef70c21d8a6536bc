//! Audit reports for people (text, HTML), machines (JSON) and CI (SARIF). Architecture
//! invariant: pure; a `Report` in, a `String` out, same bytes for the same report.

pub mod html;
pub mod json;
pub mod sarif;
pub mod text;

use serde::Serialize;

use crate::audit::Finding;
use crate::audit::rule::Severity;
use crate::compose::project::LoadError;

#[derive(Debug, Clone, Default)]
pub struct Report {
    pub findings: Findings,
    /// Inputs that could not be read (exit code 2).
    pub errors: Vec<LoadError>,
    pub files: usize,
    pub services: usize,
}

/// A report's findings, kept as each project's list (in order): a corpus audit holds
/// hundreds of thousands, and joining them into one list would copy them all again.
#[derive(Debug, Clone, Default)]
pub struct Findings {
    chunks: Vec<Vec<Finding>>,
}

impl Findings {
    /// Appends one project's (or file's) findings after the others.
    pub fn push_chunk(&mut self, chunk: Vec<Finding>) {
        if !chunk.is_empty() {
            self.chunks.push(chunk);
        }
    }

    /// Each project's findings, in report order.
    pub fn chunks(&self) -> &[Vec<Finding>] {
        &self.chunks
    }

    pub fn iter(&self) -> impl Iterator<Item = &Finding> + Clone {
        self.into_iter()
    }
}

impl<'a> IntoIterator for &'a Findings {
    type Item = &'a Finding;
    type IntoIter = std::iter::Flatten<std::slice::Iter<'a, Vec<Finding>>>;
    fn into_iter(self) -> Self::IntoIter {
        self.chunks.iter().flatten()
    }
}

impl From<Vec<Finding>> for Findings {
    fn from(chunk: Vec<Finding>) -> Self {
        let mut f = Findings::default();
        f.push_chunk(chunk);
        f
    }
}

/// The reports' two sections, each worst first: "fix now" and "nice to have".
pub const FIX_NOW: [Severity; 2] = [Severity::Critical, Severity::High];
pub const NICE_TO_HAVE: [Severity; 3] = [Severity::Medium, Severity::Low, Severity::Info];

#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    pub critical: usize,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
    pub info: usize,
    pub suppressed: usize,
}

impl Counts {
    /// How many active findings have `severity`.
    pub fn of(&self, severity: Severity) -> usize {
        match severity {
            Severity::Critical => self.critical,
            Severity::High => self.high,
            Severity::Medium => self.medium,
            Severity::Low => self.low,
            Severity::Info => self.info,
        }
    }
}

impl Report {
    pub fn active(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.suppressed.is_none())
    }

    /// Active findings split into "fix now" (critical, high) and "nice to have", each
    /// worst first and in file order within a severity.
    pub fn grouped(&self) -> (Vec<&Finding>, Vec<&Finding>) {
        // One pass into a bucket per severity keeps file order within each: what a stable
        // sort by severity gives, without sorting hundreds of thousands of findings.
        let mut buckets: [Vec<&Finding>; 5] = Default::default();
        for f in self.active() {
            buckets[f.severity as usize].push(f);
        }
        let section = |severities: &[Severity]| -> Vec<&Finding> {
            severities
                .iter()
                .flat_map(|s| buckets[*s as usize].iter().copied())
                .collect()
        };
        (section(&FIX_NOW), section(&NICE_TO_HAVE))
    }

    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for f in &self.findings {
            if f.suppressed.is_some() {
                c.suppressed += 1;
                continue;
            }
            match f.severity {
                Severity::Critical => c.critical += 1,
                Severity::High => c.high += 1,
                Severity::Medium => c.medium += 1,
                Severity::Low => c.low += 1,
                Severity::Info => c.info += 1,
            }
        }
        c
    }

    /// Exit code: 2 unreadable input, 1 findings at or above `fail_on`, else 0.
    pub fn exit_code(&self, fail_on: Severity) -> i32 {
        if !self.errors.is_empty() {
            2
        } else if self.active().any(|f| f.severity >= fail_on) {
            1
        } else {
            0
        }
    }

    /// One line: what was read and what was found.
    pub fn summary(&self) -> String {
        let c = self.counts();
        let mut parts = Vec::new();
        for (n, what) in [
            (c.critical, "critical"),
            (c.high, "high"),
            (c.medium, "medium"),
            (c.low, "low"),
            (c.info, "info"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {what}"));
            }
        }
        let found = if parts.is_empty() {
            "no findings".to_string()
        } else {
            parts.join(", ")
        };
        let mut s = format!(
            "{} file{}, {} service{}: {found}",
            self.files,
            plural(self.files),
            self.services,
            plural(self.services)
        );
        if c.suppressed > 0 {
            s.push_str(&format!(" ({} suppressed)", c.suppressed));
        }
        if !self.errors.is_empty() {
            s.push_str(&format!(
                "; {} input{} unreadable",
                self.errors.len(),
                plural(self.errors.len())
            ));
        }
        s
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
