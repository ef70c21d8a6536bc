//! Atomic file writes with backups: the one way berth replaces a file.
//!
//! A write goes to a temporary file in the same directory, is fsynced, then renamed over
//! the target, and the directory is fsynced: a crash leaves the old file or the new one,
//! never half of either. What is replaced is first copied into a backup directory with its
//! permission bits.

use std::fs::{self, File, Permissions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Created,
    Updated,
    Unchanged,
}

/// Where backups of one run go: `<dir>/<stamp>/`, made on first use.
#[derive(Debug)]
pub struct Backups {
    /// Files are saved under `dir` by their path relative to `base`.
    base: PathBuf,
    dir: PathBuf,
    pub saved: Vec<PathBuf>,
}

impl Backups {
    /// `stamp` names the run (a time); a second run with the same stamp gets a suffix,
    /// so an older backup is never overwritten.
    /// Where this run's backups go (created on first save).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn new(base: &Path, root: &Path, stamp: &str) -> Self {
        let mut dir = root.join(stamp);
        let mut n = 1;
        while dir.exists() {
            dir = root.join(format!("{stamp}-{n}"));
            n += 1;
        }
        Backups {
            base: base.to_path_buf(),
            dir,
            saved: Vec::new(),
        }
    }

    fn save(&mut self, path: &Path) -> Result<()> {
        let relative = path
            .strip_prefix(&self.base)
            .ok()
            .map(Path::to_path_buf)
            .or_else(|| path.file_name().map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("file"));
        let target = self.dir.join(relative);
        // The backup directory holds copies of secrets: owner only.
        fs::create_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        fs::set_permissions(&self.dir, Permissions::from_mode(0o700))
            .map_err(|e| Error::io(&self.dir, e))?;
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        let bytes = fs::read(path).map_err(|e| Error::io(path, e))?;
        let mode = fs::metadata(path)
            .map_err(|e| Error::io(path, e))?
            .permissions()
            .mode()
            & 0o7777;
        write_new(&target, &bytes, mode)?;
        self.saved.push(target);
        Ok(())
    }
}

/// Writes `bytes` to `path` with `mode`, atomically; backs up a different existing file.
/// An identical file with the right mode is left alone, so re-running changes nothing.
pub fn write_file(path: &Path, bytes: &[u8], mode: u32, backups: &mut Backups) -> Result<Change> {
    match fs::read(path) {
        Ok(old) => {
            let old_mode = fs::metadata(path)
                .map_err(|e| Error::io(path, e))?
                .permissions()
                .mode()
                & 0o7777;
            if old == bytes && old_mode == mode {
                return Ok(Change::Unchanged);
            }
            backups.save(path)?;
            let meta = fs::metadata(path).map_err(|e| Error::io(path, e))?;
            write_new(path, bytes, mode)?;
            // The replaced file's owner keeps it (a root-run write must not take it over).
            let _ = std::os::unix::fs::chown(path, Some(meta.uid()), Some(meta.gid()));
            Ok(Change::Updated)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            write_new(path, bytes, mode)?;
            Ok(Change::Created)
        }
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Writes a file that is new by construction (nothing to back up), atomically.
pub fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    // A bare file name has an empty parent, which means the current directory.
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // NamedTempFile is created 0600, so a secret is never readable by others, not even
    // for the moment between create and chmod.
    let mut tmp = tempfile::Builder::new()
        .prefix(".berth-tmp-")
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, e))?;
    tmp.write_all(bytes).map_err(|e| Error::io(tmp.path(), e))?;
    tmp.as_file()
        .set_permissions(Permissions::from_mode(mode))
        .map_err(|e| Error::io(tmp.path(), e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| Error::io(tmp.path(), e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_updates_and_backs_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut backups = Backups::new(dir.path(), &dir.path().join("bk"), "1");
        assert_eq!(
            write_file(&path, b"a", 0o600, &mut backups).unwrap(),
            Change::Created
        );
        assert_eq!(
            write_file(&path, b"a", 0o600, &mut backups).unwrap(),
            Change::Unchanged
        );
        assert!(backups.saved.is_empty());
        assert_eq!(
            write_file(&path, b"b", 0o600, &mut backups).unwrap(),
            Change::Updated
        );
        assert_eq!(fs::read(&path).unwrap(), b"b");
        assert_eq!(fs::read(&backups.saved[0]).unwrap(), b"a");
        let mode = fs::metadata(&backups.saved[0])
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        // A mode change alone is a change.
        assert_eq!(
            write_file(&path, b"b", 0o644, &mut backups).unwrap(),
            Change::Updated
        );
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with(".berth-tmp")
            })
            .collect();
        assert!(leftovers.is_empty());
    }
}
