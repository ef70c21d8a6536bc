//! Runs the rules over a loaded project or a daemon.json and applies suppressions.
//! Architecture invariant: pure; the CLI reads files, this turns them into findings.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::daemon_config;
use super::posture::Posture;
use super::rule::{Check, Hit, ProjectFacts, Rule, Severity};
use super::rules::{self, meta};
use super::suppress::{self, Config};
use crate::compose::node::Loc;
use crate::compose::project::{LoadError, Project};

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    #[serde(rename = "rule", serialize_with = "rule_id")]
    pub rule: &'static Rule,
    pub severity: Severity,
    pub path: PathBuf,
    pub line: u32,
    pub column: u32,
    pub service: Option<String>,
    pub message: String,
    /// The reason, when a suppression covers this finding.
    pub suppressed: Option<String>,
}

fn rule_id<S: serde::Serializer>(rule: &&'static Rule, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(rule.id)
}

impl Finding {
    fn new(
        rule: &'static Rule,
        path: &Path,
        loc: Loc,
        service: Option<&str>,
        message: String,
    ) -> Self {
        Finding {
            rule,
            severity: rule.severity,
            path: path.to_path_buf(),
            line: loc.line,
            column: loc.col,
            service: service.map(str::to_string),
            message,
            suppressed: None,
        }
    }
}

fn facts(project: &Project, postures: &[Posture]) -> ProjectFacts {
    let mut facts = ProjectFacts::default();
    for p in postures {
        for m in &p.mounts {
            // Writers only: one writer with read-only readers is the recommended shape.
            if let (super::posture::MountKind::Volume, Some(src)) = (&m.value.kind, &m.value.source)
                && project.volumes.contains(src)
                && !m.value.read_only
            {
                facts
                    .volume_users
                    .entry(src.clone())
                    .or_default()
                    .push(p.name.clone());
            }
        }
    }
    facts
}

pub fn audit_project(project: &Project, config: &Config) -> Vec<Finding> {
    let postures: Vec<Posture> = project
        .services
        .iter()
        .map(|s| Posture::from_compose(s, &project.dir))
        .collect();
    let facts = facts(project, &postures);
    let mut findings = Vec::new();
    let mut hits = Vec::new();
    for posture in &postures {
        for rule in rules::all() {
            if let Check::Service(check) = rule.check {
                hits.clear();
                check(posture, &facts, &mut hits);
                for Hit { loc, message } in hits.drain(..) {
                    findings.push(Finding::new(
                        rule,
                        project.path_of(loc.file),
                        loc,
                        Some(&posture.name),
                        message,
                    ));
                }
            }
        }
    }
    for (loc, missing) in &project.missing {
        findings.push(Finding::new(
            &meta::VARIABLE_REQUIRED_UNSET,
            project.path_of(loc.file),
            *loc,
            None,
            format!(
                "${{{}}} is required but not set ({})",
                missing.variable, missing.message
            ),
        ));
    }
    // Inline suppressions, file by file.
    for (id, file) in project.files.iter().enumerate() {
        for s in suppress::inline(&file.text, id as u32) {
            let unknown: Vec<&String> =
                s.rules.iter().filter(|r| rules::get(r).is_none()).collect();
            let invalid = if s.rules.is_empty() {
                Some("names no rule".to_string())
            } else if !unknown.is_empty() {
                Some(format!(
                    "names unknown rule {}",
                    unknown
                        .iter()
                        .map(|r| r.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            } else if s.reason.is_none() {
                Some("gives no reason (`-- why`), so it is not applied".to_string())
            } else {
                None
            };
            let loc = Loc {
                file: id as u32,
                line: s.line,
                col: s.col,
            };
            if let Some(problem) = invalid {
                findings.push(Finding::new(
                    &meta::SUPPRESSION_INVALID,
                    &file.path,
                    loc,
                    None,
                    format!("suppression {problem}"),
                ));
                if s.reason.is_none() {
                    continue;
                }
            }
            for f in findings.iter_mut() {
                if f.path == file.path
                    && f.line >= s.first
                    && f.line <= s.last
                    && s.rules.iter().any(|r| r == f.rule.id)
                    && f.suppressed.is_none()
                {
                    f.suppressed = s.reason.clone();
                }
            }
        }
    }
    apply_config(&mut findings, config);
    sort(&mut findings);
    findings
}

pub fn audit_daemon(path: &Path, text: &str, config: &Config) -> Result<Vec<Finding>, LoadError> {
    let doc = daemon_config::parse(text, 0).map_err(|e| LoadError {
        path: path.to_path_buf(),
        line: e.line,
        col: e.col,
        message: e.message,
    })?;
    let mut findings = Vec::new();
    let mut hits = Vec::new();
    for rule in rules::all() {
        if let Check::Daemon(check) = rule.check {
            hits.clear();
            check(&doc, &mut hits);
            for Hit { loc, message } in hits.drain(..) {
                findings.push(Finding::new(rule, path, loc, None, message));
            }
        }
    }
    apply_config(&mut findings, config);
    sort(&mut findings);
    Ok(findings)
}

fn apply_config(findings: &mut [Finding], config: &Config) {
    for entry in &config.suppress {
        let Some(reason) = entry.reason.as_ref().filter(|r| !r.trim().is_empty()) else {
            continue;
        };
        for f in findings.iter_mut().filter(|f| f.suppressed.is_none()) {
            if entry.matches(f.rule.id, f.service.as_deref(), &f.path) {
                f.suppressed = Some(reason.clone());
            }
        }
    }
}

/// Owner and permission bits of a configuration file, read by the caller.
#[derive(Debug, Clone, Copy)]
pub struct FileMeta {
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
}

/// CIS 3.17/3.18 on daemon.json: owned by root:root, and no permission bit beyond 644 (a
/// check of bits, not `mode <= 644` as a number, which would let 606 through).
pub fn check_daemon_file(path: &Path, meta: FileMeta) -> Option<Finding> {
    let mut problems = Vec::new();
    if meta.uid != 0 || meta.gid != 0 {
        problems.push(format!("owned by {}:{}", meta.uid, meta.gid));
    }
    let extra = meta.mode & 0o7777 & !0o644;
    if extra != 0 {
        problems.push(format!(
            "mode {:o} grants more than 644",
            meta.mode & 0o7777
        ));
    }
    (!problems.is_empty()).then(|| {
        Finding::new(
            &rules::daemon::CONFIG_PERMISSIONS,
            path,
            Loc {
                file: 0,
                line: 1,
                col: 1,
            },
            None,
            format!("{} is {}", path.display(), problems.join(" and ")),
        )
    })
}

/// Findings about the suppression config file itself (no reason, unknown rule).
pub fn check_config(path: &Path, config: &Config) -> Vec<Finding> {
    config
        .suppress
        .iter()
        .filter_map(|e| {
            let loc = Loc {
                file: 0,
                line: e.rule.referenced.line() as u32,
                col: e.rule.referenced.column() as u32,
            };
            let problem = if rules::get(&e.rule.value).is_none() {
                format!("names unknown rule {}", e.rule.value)
            } else if e.reason.as_ref().is_none_or(|r| r.trim().is_empty()) {
                "gives no reason, so it is not applied".to_string()
            } else {
                return None;
            };
            Some(Finding::new(
                &meta::SUPPRESSION_INVALID,
                path,
                loc,
                None,
                format!("suppression {problem}"),
            ))
        })
        .collect()
}

pub fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        (&a.path, a.line, a.column, a.rule.id).cmp(&(&b.path, b.line, b.column, b.rule.id))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daemon_file_permissions_are_bits() {
        let p = Path::new("/etc/docker/daemon.json");
        let f = |uid, mode| check_daemon_file(p, FileMeta { uid, gid: 0, mode });
        assert!(f(0, 0o644).is_none());
        assert!(f(0, 0o600).is_none());
        assert!(
            f(0, 0o606).is_some(),
            "606 is below 644 as a number, but others may write"
        );
        assert!(f(0, 0o664).is_some());
        assert!(f(1000, 0o644).is_some());
    }
}
