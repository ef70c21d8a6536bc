//! `berth render`: plan an app and write it into a directory.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::catalog::Template;
use crate::error::{Error, Result};
use crate::fsx::{self, Backups, Change};
use crate::plan::{self, Manifest, Request, SecretSeed};

pub const MANIFEST: &str = "berth.json";
const BACKUP_DIR: &str = ".berth/backup";

#[derive(Debug, Serialize)]
pub struct FileOutcome {
    pub file: String,
    pub change: Change,
    /// The file differed from what berth last wrote: it was edited by hand.
    pub edited_by_hand: bool,
}

#[derive(Debug, Serialize)]
pub struct RenderOutcome {
    pub out: PathBuf,
    pub files: Vec<FileOutcome>,
    pub backups: Vec<PathBuf>,
    pub manifest: Manifest,
}

/// What is already in the output directory.
enum Existing {
    Nothing,
    Berth(Manifest),
}

fn inspect_out(out: &Path) -> Result<Existing> {
    let meta = match fs::metadata(out) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Existing::Nothing),
        Err(e) => return Err(Error::io(out, e)),
    };
    if !meta.is_dir() {
        return Err(Error::input(format!(
            "--out {}: exists and is not a directory; choose a new directory",
            out.display()
        )));
    }
    let manifest_path = out.join(MANIFEST);
    if !manifest_path.exists() {
        let empty = fs::read_dir(out)
            .map_err(|e| Error::io(out, e))?
            .next()
            .is_none();
        return if empty {
            Ok(Existing::Nothing)
        } else {
            Err(Error::input(format!(
                "--out {}: the directory has files and no {MANIFEST}, so it is not a berth app \
                 directory; berth will not write into it. Choose a new or empty directory.",
                out.display()
            )))
        };
    }
    let text = fs::read_to_string(&manifest_path).map_err(|e| Error::io(&manifest_path, e))?;
    let manifest: Manifest = serde_json::from_str(&text).map_err(|e| {
        Error::input(format!(
            "{}:{}:{}: not a berth manifest ({e}); move the directory aside or fix the file",
            manifest_path.display(),
            e.line(),
            e.column()
        ))
    })?;
    Ok(Existing::Berth(manifest))
}

/// Reads `KEY=VALUE` lines of an existing `.env` (secrets to keep).
fn read_env(path: &Path) -> Result<BTreeMap<String, String>> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(Error::io(path, e)),
    };
    Ok(text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .collect())
}

fn hash_of(path: &Path) -> Option<String> {
    fs::read_to_string(path).ok().map(|t| plan::sha256_hex(&t))
}

/// Plans `template` for `request` and writes the result into `out`.
/// `stamp` names the backup directory of this run (a time, from the caller).
pub fn render(
    template: &Template,
    request: &Request,
    out: &Path,
    seed: &SecretSeed,
    stamp: &str,
) -> Result<RenderOutcome> {
    let existing = inspect_out(out)?;
    let (secrets, previous) = match &existing {
        Existing::Nothing => (BTreeMap::new(), None),
        Existing::Berth(m) => {
            if m.app != template.app || m.name != request.name {
                return Err(Error::input(format!(
                    "--out {}: holds berth app {} ({}), not {} ({}); choose another directory",
                    out.display(),
                    m.name,
                    m.app,
                    request.name,
                    template.app
                )));
            }
            (read_env(&out.join(".env"))?, Some(m))
        }
    };
    // Everything that can fail on bad input fails here, before the first write.
    let plan = plan::plan(template, request, seed, &secrets)?;

    fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let mut backups = Backups::new(out, &out.join(BACKUP_DIR), stamp);
    let mut files = Vec::new();
    let mut outputs: Vec<(&str, &str, u32)> = vec![
        ("compose.yaml", plan.compose_yaml.as_str(), 0o644),
        (".env", plan.env_file.as_str(), 0o600),
    ];
    if let Some(conf) = &plan.nginx_conf {
        outputs.push(("nginx.conf", conf.as_str(), 0o644));
    }
    for (name, content) in &plan.config_files {
        outputs.push((name.as_str(), content.as_str(), 0o644));
    }
    for (name, text, mode) in outputs {
        let path = out.join(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        let edited_by_hand = previous
            .and_then(|m| m.files.get(name))
            .is_some_and(|recorded| hash_of(&path).is_some_and(|now| &now != recorded));
        let change = fsx::write_file(&path, text.as_bytes(), mode, &mut backups)?;
        files.push(FileOutcome {
            file: name.into(),
            change,
            edited_by_hand,
        });
    }
    // The manifest goes last: it records a render that is complete on disk.
    let manifest_text = serde_json::to_string_pretty(&plan.manifest)
        .map_err(|e| Error::input(format!("manifest: {e}")))?
        + "\n";
    let change = fsx::write_file(
        &out.join(MANIFEST),
        manifest_text.as_bytes(),
        0o644,
        &mut backups,
    )?;
    files.push(FileOutcome {
        file: MANIFEST.into(),
        change,
        edited_by_hand: false,
    });
    Ok(RenderOutcome {
        out: out.to_path_buf(),
        files,
        backups: backups.saved,
        manifest: plan.manifest,
    })
}
