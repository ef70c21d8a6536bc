//! Runs the rules over a loaded project or a daemon.json and applies suppressions.
//! Architecture invariant: pure; the CLI reads files, this turns them into findings.

use std::cmp::Ordering;
use std::path::Path;
use std::sync::Arc;

use super::daemon_config;
use super::posture::Posture;
use super::rule::{Check, Hit, Message, ProjectFacts, Rule, Severity};
use super::rules::{self, meta};
use super::suppress::{self, Config};
use crate::compose::node::Loc;
use crate::compose::project::{LoadError, Project};

#[derive(Debug, Clone)]
pub struct Finding {
    pub rule: &'static Rule,
    pub severity: Severity,
    /// Shared by every finding of the file (a report holds hundreds of thousands).
    pub path: Arc<Path>,
    pub line: u32,
    pub column: u32,
    pub service: Option<Arc<str>>,
    /// Read through [`Finding::message`] (it names the service).
    pub message: Message,
    /// The reason, when a suppression covers this finding.
    pub suppressed: Option<Arc<str>>,
}

impl Finding {
    /// What the finding says, in full.
    pub fn message(&self) -> std::borrow::Cow<'_, str> {
        self.message.text(self.service.as_deref())
    }

    fn new(
        rule: &'static Rule,
        path: &Arc<Path>,
        loc: Loc,
        service: Option<&Arc<str>>,
        message: Message,
    ) -> Self {
        Finding {
            rule,
            severity: rule.severity,
            path: Arc::clone(path),
            line: loc.line,
            column: loc.col,
            service: service.cloned(),
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
    let paths: Vec<Arc<Path>> = project.files.iter().map(|f| Arc::from(&*f.path)).collect();
    let path_of = |file: u32| &paths[file as usize];
    let mut findings = Vec::with_capacity(postures.len() * 12);
    let mut hits = Vec::new();
    for posture in &postures {
        let service: Arc<str> = Arc::from(posture.name.as_str());
        for rule in rules::all() {
            if let Check::Service(check) = rule.check {
                hits.clear();
                check(posture, &facts, &mut hits);
                for Hit { loc, message } in hits.drain(..) {
                    findings.push(Finding::new(
                        rule,
                        path_of(loc.file),
                        loc,
                        Some(&service),
                        message,
                    ));
                }
            }
        }
    }
    for (loc, missing) in &project.missing {
        findings.push(Finding::new(
            &meta::VARIABLE_REQUIRED_UNSET,
            path_of(loc.file),
            *loc,
            None,
            format!(
                "${{{}}} is required but not set ({})",
                missing.variable, missing.message
            )
            .into(),
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
                    path_of(id as u32),
                    loc,
                    None,
                    format!("suppression {problem}").into(),
                ));
                if s.reason.is_none() {
                    continue;
                }
            }
            let reason: Option<Arc<str>> = s.reason.as_deref().map(Arc::from);
            for f in findings.iter_mut() {
                if Arc::ptr_eq(&f.path, path_of(id as u32))
                    && f.line >= s.first
                    && f.line <= s.last
                    && s.rules.iter().any(|r| r == f.rule.id)
                    && f.suppressed.is_none()
                {
                    f.suppressed = reason.clone();
                }
            }
        }
    }
    apply_config(&mut findings, config);
    sort(&mut findings);
    findings.shrink_to_fit();
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
    let path: Arc<Path> = Arc::from(path);
    for rule in rules::all() {
        if let Check::Daemon(check) = rule.check {
            hits.clear();
            check(&doc, &mut hits);
            for Hit { loc, message } in hits.drain(..) {
                findings.push(Finding::new(rule, &path, loc, None, message));
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
        let reason: Arc<str> = Arc::from(reason.as_str());
        for f in findings.iter_mut().filter(|f| f.suppressed.is_none()) {
            if entry.matches(f.rule.id, f.service.as_deref(), &f.path) {
                f.suppressed = Some(Arc::clone(&reason));
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
            &Arc::from(path),
            Loc {
                file: 0,
                line: 1,
                col: 1,
            },
            None,
            format!("{} is {}", path.display(), problems.join(" and ")).into(),
        )
    })
}

/// Findings about the suppression config file itself (no reason, unknown rule).
pub fn check_config(path: &Path, config: &Config) -> Vec<Finding> {
    let path: Arc<Path> = Arc::from(path);
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
                &path,
                loc,
                None,
                format!("suppression {problem}").into(),
            ))
        })
        .collect()
}

/// File order, then position, then rule. Findings of one file share their path, so the
/// (component-wise, slow) path comparison is skipped for them.
pub fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        let by_path = if Arc::ptr_eq(&a.path, &b.path) {
            Ordering::Equal
        } else {
            a.path.cmp(&b.path)
        };
        by_path.then_with(|| (a.line, a.column, a.rule.id).cmp(&(b.line, b.column, b.rule.id)))
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
