//! What a rule is: a self-describing document (id, severity, title, why, fix, references)
//! with its check. `berth rules`, the JSON and SARIF rule metadata and the docs all come
//! from these declarations.

use std::borrow::Cow;
use std::fmt;

use serde::Serialize;

use super::posture::Posture;
use crate::compose::node::{Loc, Node};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where other tools check the same thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct References {
    /// CIS Docker Benchmark v1.6.0 sections, numbered as docker-bench-security does.
    pub cis: &'static [&'static str],
    /// KICS Docker Compose query ids.
    pub kics: &'static [&'static str],
    /// compose-lint rule ids.
    pub compose_lint: &'static [&'static str],
}

impl References {
    /// Each source of references with its display name, in a fixed order.
    pub fn named(&self) -> [(&'static str, &'static [&'static str]); 3] {
        [
            ("CIS Docker Benchmark v1.6.0", self.cis),
            ("KICS", self.kics),
            ("compose-lint", self.compose_lint),
        ]
    }
}

pub const NO_REFS: References = References {
    cis: &[],
    kics: &[],
    compose_lint: &[],
};

/// One place a rule fires, with a message specific to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub loc: Loc,
    pub message: Message,
}

/// What a hit says. Most service rules say "service NAME <phrase>", often with a fixed
/// phrase: that is kept as the phrase alone (the name is the finding's service), so a
/// corpus audit's hundreds of thousands of findings need no text of their own.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// "service NAME " followed by this phrase.
    About(Cow<'static, str>),
    Plain(Box<str>),
}

/// A message about the service the rule looked at: "service NAME {phrase}".
pub fn about(phrase: impl Into<Cow<'static, str>>) -> Message {
    Message::About(phrase.into())
}

impl From<String> for Message {
    fn from(text: String) -> Self {
        Message::Plain(text.into_boxed_str())
    }
}

impl From<&'static str> for Message {
    fn from(text: &'static str) -> Self {
        Message::Plain(text.into())
    }
}

impl Message {
    /// Appends the full text, naming `service` where the message is about it.
    pub fn write(&self, service: Option<&str>, out: &mut String) {
        match self {
            Message::About(phrase) => {
                out.push_str("service ");
                out.push_str(service.unwrap_or("?"));
                out.push(' ');
                out.push_str(phrase);
            }
            Message::Plain(text) => out.push_str(text),
        }
    }

    pub fn text(&self, service: Option<&str>) -> Cow<'_, str> {
        match self {
            Message::Plain(text) => Cow::Borrowed(text),
            about => {
                let mut out = String::new();
                about.write(service, &mut out);
                Cow::Owned(out)
            }
        }
    }
}

/// Facts about the whole project a service rule may need.
#[derive(Debug, Default)]
pub struct ProjectFacts {
    /// Named volume → services using it.
    pub volume_users: std::collections::BTreeMap<String, Vec<String>>,
}

#[derive(Clone, Copy)]
pub enum Check {
    Service(fn(&Posture, &ProjectFacts, &mut Vec<Hit>)),
    /// daemon.json, parsed (JSON is YAML, so it is the same located tree).
    Daemon(fn(&Node, &mut Vec<Hit>)),
    /// Reported by the audit itself (suppressions, unset variables), not by a check.
    Meta,
}

#[derive(Clone, Copy, Serialize)]
pub struct Rule {
    pub id: &'static str,
    pub severity: Severity,
    pub title: &'static str,
    pub why: &'static str,
    pub fix: &'static str,
    pub refs: References,
    #[serde(skip)]
    pub check: Check,
}

impl Rule {
    pub fn target(&self) -> &'static str {
        match self.check {
            Check::Service(_) => "compose",
            Check::Daemon(_) => "daemon",
            Check::Meta => "audit",
        }
    }
}

impl fmt::Debug for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rule").field("id", &self.id).finish()
    }
}
