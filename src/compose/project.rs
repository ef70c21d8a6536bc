//! A Compose project as Compose builds it: one or more `-f` files merged, `${VAR}`
//! interpolated from `.env` or `--env-file`, `include`d files loaded, `extends` resolved.
//! Every value keeps the file, line and column it was written at.
//!
//! Reading files goes through `Fs`, so everything else here is pure and testable.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use super::interpolate::{self, Env, Missing};
use super::node::{self, FileId, Key, Loc, Node, Value};

/// The most berth reads of one compose file: compose files are small, and a huge input
/// must fail fast with a clear message instead of eating memory.
pub const MAX_FILE_BYTES: u64 = 4 << 20;
const MAX_DEPTH: usize = 16;

/// Where file contents come from (the disk, or a map in tests).
pub trait Fs {
    /// Reads at most `limit + 1` bytes, so a caller can tell "too large" without reading it all.
    fn read(&self, path: &Path, limit: u64) -> std::io::Result<Vec<u8>>;
    fn exists(&self, path: &Path) -> bool;
}

pub struct RealFs;

impl Fs for RealFs {
    fn read(&self, path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
        use std::io::Read;
        let file = std::fs::File::open(path)?;
        // Sized from the metadata so reading is one allocation, not a doubling series.
        let expected = file.metadata().map(|m| m.len()).unwrap_or(0).min(limit + 1);
        let mut buf = Vec::with_capacity(expected as usize + 1);
        file.take(limit + 1).read_to_end(&mut buf)?;
        Ok(buf)
    }
    fn exists(&self, path: &Path) -> bool {
        path.is_file()
    }
}

#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
}

/// Why a project could not be read: said with the file, position and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub path: PathBuf,
    pub line: u32,
    pub col: u32,
    pub message: String,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line > 0 {
            write!(
                f,
                "{}:{}:{}: {}",
                self.path.display(),
                self.line,
                self.col,
                self.message
            )
        } else {
            write!(f, "{}: {}", self.path.display(), self.message)
        }
    }
}

#[derive(Debug, Clone)]
pub struct ServiceNode {
    pub name: String,
    /// Where the service's key is written.
    pub loc: Loc,
    pub node: Node,
}

#[derive(Debug, Clone, Default)]
pub struct Project {
    pub files: Vec<SourceFile>,
    /// The directory relative paths are resolved against (the first file's).
    pub dir: PathBuf,
    pub services: Vec<ServiceNode>,
    /// Top-level named volumes (for shared-volume checks).
    pub volumes: Vec<String>,
    /// Required variables (`${VAR:?...}`) the environment did not give.
    pub missing: Vec<(Loc, Missing)>,
}

impl Project {
    pub fn path_of(&self, file: FileId) -> &Path {
        self.files
            .get(file as usize)
            .map(|f| f.path.as_path())
            .unwrap_or(Path::new("?"))
    }
}

/// Reads a file as UTF-8 text of at most `MAX_FILE_BYTES`, with an error that says which
/// limit it broke.
pub fn read_text(fs: &dyn Fs, path: &Path) -> Result<String, LoadError> {
    let err = |message: String| LoadError {
        path: path.to_path_buf(),
        line: 0,
        col: 0,
        message,
    };
    let bytes = fs
        .read(path, MAX_FILE_BYTES)
        .map_err(|e| err(format!("cannot read: {e}")))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(err(format!(
            "larger than {} MiB; berth reads configuration files up to that size (is this the right file?)",
            MAX_FILE_BYTES >> 20
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        err(format!(
            "not UTF-8 (invalid byte at offset {}); save the file as UTF-8",
            e.utf8_error().valid_up_to()
        ))
    })
}

struct Loader<'a> {
    fs: &'a dyn Fs,
    project: Project,
}

/// Loads and merges `paths` (in order, like `docker compose -f a -f b`).
pub fn load(fs: &dyn Fs, paths: &[PathBuf], env_file: Option<&Path>) -> Result<Project, LoadError> {
    let first = paths.first().ok_or_else(|| LoadError {
        path: PathBuf::from("."),
        line: 0,
        col: 0,
        message: "no compose file given".into(),
    })?;
    let dir = first.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut loader = Loader {
        fs,
        project: Project {
            dir: dir.clone(),
            ..Project::default()
        },
    };
    let env = loader.env(&dir, env_file)?;
    let mut merged: Option<Node> = None;
    for path in paths {
        let doc = loader.document(path, &env, 0)?;
        merged = Some(match merged {
            None => doc,
            Some(base) => merge(base, doc, ""),
        });
    }
    let root = merged.unwrap_or_else(|| Node::new(Value::Null, Loc::default()));
    loader.collect(root, &env)?;
    Ok(loader.project)
}

impl Loader<'_> {
    fn env(&mut self, dir: &Path, env_file: Option<&Path>) -> Result<Env, LoadError> {
        let path = match env_file {
            Some(p) => p.to_path_buf(),
            None => {
                let p = dir.join(".env");
                if !self.fs.exists(&p) {
                    return Ok(Env::new());
                }
                p
            }
        };
        let text = self.text(&path)?;
        Ok(interpolate::parse_env_file(&text))
    }

    fn text(&self, path: &Path) -> Result<String, LoadError> {
        read_text(self.fs, path)
    }

    /// Reads, parses and interpolates one file, and splices in its `include`s.
    fn document(&mut self, path: &Path, env: &Env, depth: usize) -> Result<Node, LoadError> {
        if depth > MAX_DEPTH {
            return Err(LoadError {
                path: path.to_path_buf(),
                line: 0,
                col: 0,
                message: format!("include is nested more than {MAX_DEPTH} deep (a cycle?)"),
            });
        }
        let text = self.text(path)?;
        let id = self.project.files.len() as FileId;
        let mut doc = node::parse(&text, id).map_err(|e| LoadError {
            path: path.to_path_buf(),
            line: e.line,
            col: e.col,
            message: format!("invalid YAML: {}", e.message),
        })?;
        self.project.files.push(SourceFile {
            path: path.to_path_buf(),
            text,
        });
        if !matches!(doc.value, Value::Map(_) | Value::Null) {
            return Err(LoadError {
                path: path.to_path_buf(),
                line: doc.loc.line,
                col: doc.loc.col,
                message: "a compose file is a mapping (with a `services:` key)".into(),
            });
        }
        let mut missing = Vec::new();
        interpolate_tree(&mut doc, env, &mut missing);
        self.project.missing.extend(missing);

        // `include`: each entry is loaded as its own file (relative to this one) and its
        // services join the project.
        let includes: Vec<(Loc, String)> = doc
            .get("include")
            .map(|inc| {
                inc.items()
                    .iter()
                    .flat_map(|item| match item.get("path") {
                        Some(p) if !p.items().is_empty() => p
                            .items()
                            .iter()
                            .filter_map(|x| x.scalar().map(|s| (x.loc, s.into_owned())))
                            .collect(),
                        Some(p) => p
                            .scalar()
                            .map(|s| vec![(p.loc, s.into_owned())])
                            .unwrap_or_default(),
                        None => item
                            .scalar()
                            .map(|s| vec![(item.loc, s.into_owned())])
                            .unwrap_or_default(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        for (loc, rel) in includes {
            let included_path = dir.join(&rel);
            if !self.fs.exists(&included_path) {
                return Err(LoadError {
                    path: path.to_path_buf(),
                    line: loc.line,
                    col: loc.col,
                    message: format!("include {rel:?}: no such file"),
                });
            }
            let included = self.document(&included_path, env, depth + 1)?;
            if let Some(services) = included.get("services") {
                let mut wrapper = Node::new(Value::Map(Vec::new()), doc.loc);
                if let Value::Map(entries) = &mut wrapper.value {
                    entries.push((
                        Key {
                            name: "services".into(),
                            loc: services.loc,
                        },
                        services.clone(),
                    ));
                }
                doc = merge(wrapper, doc, "");
            }
        }
        Ok(doc)
    }

    fn collect(&mut self, root: Node, env: &Env) -> Result<(), LoadError> {
        let Value::Map(top) = root.value else {
            return Ok(());
        };
        let mut services = None;
        for (key, value) in top {
            match key.name.as_str() {
                "volumes" => {
                    self.project.volumes = value
                        .entries()
                        .iter()
                        .map(|(k, _)| k.name.clone())
                        .collect();
                }
                "services" => services = Some(value),
                _ => {}
            }
        }
        let Some(services) = services else {
            return Ok(());
        };
        if !matches!(services.value, Value::Map(_) | Value::Null) {
            return Err(self.structure(
                services.loc,
                "`services` must be a mapping of service names",
            ));
        }
        // Only `extends` needs to look services up, so only then keep a copy of them all.
        let lookup = services
            .entries()
            .iter()
            .any(|(_, svc)| svc.get("extends").is_some())
            .then(|| services.clone());
        let Value::Map(entries) = services.value else {
            return Ok(());
        };
        for (key, svc) in entries {
            if !matches!(svc.value, Value::Map(_) | Value::Null) {
                return Err(self.structure(
                    svc.loc,
                    &format!("service {:?} must be a mapping", key.name),
                ));
            }
            let resolved = match &lookup {
                Some(all) if svc.get("extends").is_some() => {
                    let mut seen = BTreeSet::new();
                    self.extends(all, &key.name, &svc, env, 0, &mut seen)?
                }
                _ => svc,
            };
            self.project.services.push(ServiceNode {
                name: key.name,
                loc: key.loc,
                node: resolved,
            });
        }
        Ok(())
    }

    fn structure(&self, loc: Loc, message: &str) -> LoadError {
        LoadError {
            path: self.project.path_of(loc.file).to_path_buf(),
            line: loc.line,
            col: loc.col,
            message: message.to_string(),
        }
    }

    /// Resolves `extends` (same file or another), innermost first.
    fn extends(
        &mut self,
        services: &Node,
        name: &str,
        svc: &Node,
        env: &Env,
        depth: usize,
        seen: &mut BTreeSet<(FileId, String)>,
    ) -> Result<Node, LoadError> {
        let Some(ext) = svc.get("extends") else {
            return Ok(svc.clone());
        };
        if depth > MAX_DEPTH || !seen.insert((ext.loc.file, name.to_string())) {
            return Err(self.structure(
                ext.loc,
                &format!("extends of {name:?} loops back on itself"),
            ));
        }
        let (base_name, file) = match ext.scalar() {
            Some(s) => (s.into_owned(), None),
            None => (
                ext.get("service")
                    .and_then(|s| s.scalar())
                    .map(|s| s.into_owned())
                    .ok_or_else(|| self.structure(ext.loc, "extends needs a `service`"))?,
                ext.get("file")
                    .and_then(|f| f.scalar())
                    .map(|f| f.into_owned()),
            ),
        };
        let (base_services, base) = match file {
            Some(file) => {
                let dir = self
                    .project
                    .path_of(ext.loc.file)
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_default();
                let path = dir.join(&file);
                if !self.fs.exists(&path) {
                    return Err(
                        self.structure(ext.loc, &format!("extends file {file:?}: no such file"))
                    );
                }
                let doc = self.document(&path, env, depth + 1)?;
                let services = doc
                    .get("services")
                    .cloned()
                    .unwrap_or_else(|| Node::new(Value::Null, doc.loc));
                let base = services.get(&base_name).cloned();
                (services, base)
            }
            None => (services.clone(), services.get(&base_name).cloned()),
        };
        let base = base.ok_or_else(|| {
            self.structure(
                ext.loc,
                &format!("extends service {base_name:?}: no such service"),
            )
        })?;
        let base = self.extends(&base_services, &base_name, &base, env, depth + 1, seen)?;
        let mut own = svc.clone();
        if let Value::Map(entries) = &mut own.value {
            entries.retain(|(k, _)| k.name != "extends");
        }
        Ok(merge(base, own, ""))
    }
}

fn interpolate_tree(node: &mut Node, env: &Env, missing: &mut Vec<(Loc, Missing)>) {
    match &mut node.value {
        Value::Str(s) if s.contains('$') => {
            let mut m = Vec::new();
            let new = interpolate::interpolate(s, env, &mut m);
            missing.extend(m.into_iter().map(|x| (node.loc, x)));
            if &new != s {
                node.raw = Some(std::mem::replace(s, new));
            }
        }
        Value::Seq(items) => items
            .iter_mut()
            .for_each(|n| interpolate_tree(n, env, missing)),
        Value::Map(entries) => entries
            .iter_mut()
            .for_each(|(_, v)| interpolate_tree(v, env, missing)),
        _ => {}
    }
}

/// Keys whose list form `KEY=VALUE` Compose treats as a mapping when merging.
const MAP_LIKE: &[&str] = &[
    "environment",
    "labels",
    "extra_hosts",
    "sysctls",
    "annotations",
];
/// Keys an override replaces instead of extending.
const REPLACED: &[&str] = &["command", "entrypoint", "test"];

/// Compose's merge of `over` onto `base` (the compose-spec merge rules, simplified: maps
/// merge by key, sequences of values are unioned, `volumes` merge by target, commands are
/// replaced, scalars overridden).
pub fn merge(base: Node, over: Node, key: &str) -> Node {
    match (base.value, over.value) {
        (Value::Map(mut b), Value::Map(o)) => {
            for (k, v) in o {
                match b.iter().position(|(bk, _)| bk.name == k.name) {
                    Some(i) => {
                        let (bk, bv) = b.remove(i);
                        let merged = merge(bv, v, &k.name);
                        let _ = bk;
                        b.insert(i, (k, merged));
                    }
                    None => b.push((k, v)),
                }
            }
            Node {
                value: Value::Map(b),
                loc: over.loc,
                raw: None,
            }
        }
        (Value::Seq(b), Value::Seq(o)) if MAP_LIKE.contains(&key) => {
            let mut merged = b;
            for item in o {
                let name = item
                    .scalar()
                    .map(|s| s.split('=').next().unwrap_or("").to_string());
                merged.retain(|x| {
                    x.scalar()
                        .map(|s| s.split('=').next().unwrap_or("").to_string())
                        != name
                });
                merged.push(item);
            }
            Node {
                value: Value::Seq(merged),
                loc: over.loc,
                raw: None,
            }
        }
        (Value::Seq(b), Value::Seq(o)) if !REPLACED.contains(&key) => {
            let mut merged = b;
            for item in o {
                let same = |x: &Node| {
                    if key == "volumes" {
                        volume_target(x).is_some() && volume_target(x) == volume_target(&item)
                    } else {
                        x.scalar().is_some() && x.scalar() == item.scalar()
                    }
                };
                merged.retain(|x| !same(x));
                merged.push(item);
            }
            Node {
                value: Value::Seq(merged),
                loc: over.loc,
                raw: None,
            }
        }
        (_, value) => Node {
            value,
            loc: over.loc,
            raw: over.raw,
        },
    }
}

fn volume_target(n: &Node) -> Option<String> {
    match n.get("target") {
        Some(t) => t.scalar().map(|s| s.into_owned()),
        None => n.scalar().map(|s| {
            let parts: Vec<&str> = s.split(':').collect();
            if parts.len() >= 2 {
                parts[1].to_string()
            } else {
                parts[0].to_string()
            }
        }),
    }
}

/// Resolves a host path lexically against the project directory, so `../../etc` is seen
/// as `/etc`. `~` stays as written (a home directory).
pub fn resolve_host_path(project_dir: &Path, source: &str) -> PathBuf {
    if source.starts_with('~') {
        return PathBuf::from(source);
    }
    let joined = project_dir.join(source);
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    struct MapFs(BTreeMap<PathBuf, String>);

    impl Fs for MapFs {
        fn read(&self, path: &Path, _limit: u64) -> std::io::Result<Vec<u8>> {
            self.0
                .get(path)
                .map(|s| s.clone().into_bytes())
                .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"))
        }
        fn exists(&self, path: &Path) -> bool {
            self.0.contains_key(path)
        }
    }

    fn fs(files: &[(&str, &str)]) -> MapFs {
        MapFs(
            files
                .iter()
                .map(|(p, t)| (PathBuf::from(p), t.to_string()))
                .collect(),
        )
    }

    fn service<'a>(p: &'a Project, name: &str) -> &'a Node {
        &p.services.iter().find(|s| s.name == name).unwrap().node
    }

    #[test]
    fn merges_override_files_like_compose() {
        let fs = fs(&[
            (
                "/p/a.yaml",
                "services:\n  web:\n    image: x:1.0\n    cap_add: [CHOWN]\n    environment: [A=1, B=2]\n    command: [a, b]\n    volumes: ['./d:/data']\n",
            ),
            (
                "/p/b.yaml",
                "services:\n  web:\n    image: x:2.0\n    cap_add: [SYS_ADMIN]\n    environment: [B=3]\n    command: [c]\n    volumes: ['/etc:/data']\n",
            ),
        ]);
        let p = load(&fs, &["/p/a.yaml".into(), "/p/b.yaml".into()], None).unwrap();
        let web = service(&p, "web");
        assert_eq!(web.get("image").unwrap().scalar().unwrap(), "x:2.0");
        assert_eq!(web.get("image").unwrap().loc.file, 1);
        let caps: Vec<_> = web
            .get("cap_add")
            .unwrap()
            .items()
            .iter()
            .map(|n| n.scalar().unwrap().into_owned())
            .collect();
        assert_eq!(caps, ["CHOWN", "SYS_ADMIN"]);
        let env: Vec<_> = web
            .get("environment")
            .unwrap()
            .items()
            .iter()
            .map(|n| n.scalar().unwrap().into_owned())
            .collect();
        assert_eq!(env, ["A=1", "B=3"]);
        assert_eq!(web.get("command").unwrap().items().len(), 1);
        let vols = web.get("volumes").unwrap().items();
        assert_eq!(vols.len(), 1);
        assert_eq!(vols[0].scalar().unwrap(), "/etc:/data");
    }

    #[test]
    fn interpolates_from_dot_env_and_keeps_what_was_written() {
        let fs = fs(&[
            (
                "/p/compose.yaml",
                "services:\n  db:\n    image: pg:${TAG:-16.1}\n    user: ${U:?set U}\n    environment:\n      PASSWORD: ${PW}\n",
            ),
            ("/p/.env", "PW=hunter2\n"),
        ]);
        let p = load(&fs, &["/p/compose.yaml".into()], None).unwrap();
        let db = service(&p, "db");
        assert_eq!(db.get("image").unwrap().scalar().unwrap(), "pg:16.1");
        let pw = db.get("environment").unwrap().get("PASSWORD").unwrap();
        assert_eq!(pw.scalar().unwrap(), "hunter2");
        assert_eq!(pw.written().unwrap(), "${PW}");
        assert_eq!(p.missing.len(), 1);
        assert_eq!(p.missing[0].0.line, 4);
    }

    #[test]
    fn resolves_extends_and_include() {
        let fs = fs(&[
            (
                "/p/compose.yaml",
                "include:\n  - sub/inc.yaml\nservices:\n  web:\n    extends: {file: base.yaml, service: hard}\n    image: x:1.0\n  w2:\n    extends: web\n    privileged: true\n",
            ),
            (
                "/p/base.yaml",
                "services:\n  hard:\n    read_only: true\n    cap_drop: [ALL]\n",
            ),
            ("/p/sub/inc.yaml", "services:\n  side:\n    image: y:1.0\n"),
        ]);
        let p = load(&fs, &["/p/compose.yaml".into()], None).unwrap();
        let w2 = service(&p, "w2");
        assert_eq!(w2.get("read_only").unwrap().as_bool(), Some(true));
        assert_eq!(w2.get("image").unwrap().scalar().unwrap(), "x:1.0");
        assert!(w2.get("extends").is_none());
        assert!(p.services.iter().any(|s| s.name == "side"));
    }

    #[test]
    fn cycles_and_bad_shapes_are_errors() {
        let cyc = fs(&[(
            "/p/c.yaml",
            "services:\n  a: {extends: b}\n  b: {extends: a}\n",
        )]);
        assert!(
            load(&cyc, &["/p/c.yaml".into()], None)
                .unwrap_err()
                .message
                .contains("loops")
        );
        let bad = fs(&[("/p/c.yaml", "services: [a, b]\n")]);
        let err = load(&bad, &["/p/c.yaml".into()], None).unwrap_err();
        assert_eq!((err.line, err.col), (1, 11));
        let list = fs(&[("/p/c.yaml", "- a\n")]);
        assert!(load(&list, &["/p/c.yaml".into()], None).is_err());
    }

    #[test]
    fn host_paths_resolve_lexically() {
        assert_eq!(
            resolve_host_path(Path::new("/srv/app"), "../../etc"),
            PathBuf::from("/etc")
        );
        assert_eq!(
            resolve_host_path(Path::new("/srv/app"), "./data"),
            PathBuf::from("/srv/app/data")
        );
        assert_eq!(
            resolve_host_path(Path::new("/srv/app"), "/var/run/docker.sock"),
            PathBuf::from("/var/run/docker.sock")
        );
    }
}
