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
    pub findings: Vec<Finding>,
    /// Inputs that could not be read (exit code 2).
    pub errors: Vec<LoadError>,
    pub files: usize,
    pub services: usize,
}

#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    pub critical: usize,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
    pub info: usize,
    pub suppressed: usize,
}

impl Report {
    pub fn active(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.suppressed.is_none())
    }

    /// Active findings split into "fix now" (critical, high) and "nice to have", each
    /// worst first and in file order within a severity.
    pub fn grouped(&self) -> (Vec<&Finding>, Vec<&Finding>) {
        let (mut urgent, mut later): (Vec<&Finding>, Vec<&Finding>) =
            self.active().partition(|f| f.severity.is_urgent());
        urgent.sort_by_key(|f| std::cmp::Reverse(f.severity));
        later.sort_by_key(|f| std::cmp::Reverse(f.severity));
        (urgent, later)
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
