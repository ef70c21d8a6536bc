//! `berth audit`: find compose files, load each project, run the rules, collect a report.

use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;

use crate::audit::engine;
use crate::audit::suppress::{self, Config};
use crate::compose::project::{self, LoadError, RealFs};
use crate::error::{Error, Result};
use crate::report::Report;

#[derive(Debug, Default, Clone)]
pub struct Request {
    /// Files or directories (searched recursively).
    pub paths: Vec<PathBuf>,
    /// Extra `-f` files merged onto the given file, like `docker compose -f a -f b`.
    pub files: Vec<PathBuf>,
    pub env_file: Option<PathBuf>,
    pub daemon_config: Option<PathBuf>,
    pub config: Option<PathBuf>,
    /// Show a progress bar (the CLI decides: a terminal, not quiet).
    pub progress: bool,
}

/// File names Compose picks up by default.
const COMPOSE_NAMES: &[&str] = &[
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
    "docker-compose.yml",
];

/// Each default name's override (same index), which Compose merges when present.
const OVERRIDE_NAMES: &[&str] = &[
    "compose.override.yaml",
    "compose.override.yml",
    "docker-compose.override.yaml",
    "docker-compose.override.yml",
];

/// Each project is a list of files merged in order.
fn projects(req: &Request) -> Result<Vec<Vec<PathBuf>>> {
    if !req.files.is_empty() {
        let mut files = Vec::new();
        for p in &req.paths {
            if !p.is_file() {
                return Err(Error::input(format!(
                    "{}: with -f, give compose files, not directories",
                    p.display()
                )));
            }
            files.push(p.clone());
        }
        files.extend(req.files.iter().cloned());
        return Ok(vec![files]);
    }
    let mut out = Vec::new();
    for p in &req.paths {
        if p.is_file() {
            out.push(vec![p.clone()]);
        } else if p.is_dir() {
            let walker = walkdir::WalkDir::new(p)
                .follow_links(false)
                .sort_by_file_name()
                .into_iter()
                .filter_entry(|e| {
                    let name = e.file_name().as_encoded_bytes();
                    !(e.depth() > 0
                        && e.file_type().is_dir()
                        && (name.starts_with(b".") || name == b"node_modules"))
                });
            // Names sort "compose.override.yaml" before "compose.yaml", so a base's override
            // has been seen by the time the base comes: no extra stat per project.
            let mut overrides = std::collections::HashSet::new();
            for entry in walker {
                let entry = entry.map_err(|e| Error::input(format!("{}: {e}", p.display())))?;
                if !entry.file_type().is_file() {
                    continue;
                }
                let Some(name) = entry.file_name().to_str() else {
                    continue;
                };
                if OVERRIDE_NAMES.contains(&name) {
                    overrides.insert(entry.into_path());
                } else if let Some(i) = COMPOSE_NAMES.iter().position(|n| *n == name) {
                    let base = entry.into_path();
                    let extra = Some(base.with_file_name(OVERRIDE_NAMES[i]))
                        .filter(|o| overrides.remove(o));
                    let mut files = vec![base];
                    files.extend(extra);
                    out.push(files);
                }
            }
        } else {
            return Err(Error::input(format!(
                "{}: no such file or directory",
                p.display()
            )));
        }
    }
    Ok(out)
}

/// What one project (or daemon.json) contributed to the report.
struct Audited {
    files: usize,
    services: usize,
    findings: Vec<engine::Finding>,
}

pub fn run(req: &Request) -> Result<Report> {
    let config = match &req.config {
        Some(path) => suppress::load_config(path).map_err(Error::input)?,
        None => Config::default(),
    };
    let projects = projects(req)?;
    let bar = if req.progress && projects.len() > 50 {
        let bar = ProgressBar::with_draw_target(
            Some(projects.len() as u64),
            ProgressDrawTarget::stderr(),
        );
        if let Ok(style) =
            ProgressStyle::with_template("{spinner} auditing {pos}/{len} projects {wide_bar} {eta}")
        {
            bar.set_style(style);
        }
        bar
    } else {
        ProgressBar::hidden()
    };
    let results: Vec<std::result::Result<Audited, LoadError>> = projects
        .par_iter()
        .map(|files| {
            let loaded = project::load(&RealFs, files, req.env_file.as_deref());
            bar.inc(1);
            let p = loaded?;
            Ok(Audited {
                files: p.files.len(),
                services: p.services.len(),
                findings: engine::audit_project(&p, &config),
            })
        })
        .collect();
    bar.finish_and_clear();

    let daemon = req.daemon_config.as_ref().map(|path| {
        let text = project::read_text(&RealFs, path)?;
        let mut findings = engine::audit_daemon(path, &text, &config)?;
        if let Ok(meta) = std::fs::metadata(path) {
            use std::os::unix::fs::MetadataExt;
            let meta = engine::FileMeta {
                uid: meta.uid(),
                gid: meta.gid(),
                mode: meta.mode(),
            };
            findings.extend(engine::check_daemon_file(path, meta));
        }
        Ok(Audited {
            files: 1,
            services: 0,
            findings,
        })
    });
    let mut report = Report::default();
    for result in results.into_iter().chain(daemon) {
        match result {
            Ok(a) => {
                report.files += a.files;
                report.services += a.services;
                report.findings.push_chunk(a.findings);
            }
            Err(e) => report.errors.push(e),
        }
    }
    if let Some(path) = &req.config {
        report
            .findings
            .push_chunk(engine::check_config(path, &config));
    }
    // Projects come in path order (sorted walk, order-keeping parallel collect) and each
    // project's findings are sorted, so the report is already in order: no global sort.
    Ok(report)
}
