//! `berth host plan | apply | rollback | status`: the effects around the pure baseline.
//! Every host path is resolved under the root prefix; commands run only when the root is `/`.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fsx::{self, Backups, Change};
use crate::host::baseline::{self, App, Cidr, Inputs, Item, Socket, SshSession, Status};
use crate::host::daemon_json::{self, HostFacts};
use crate::plan::Manifest;

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub root: PathBuf,
    pub force: Vec<String>,
    pub ssh_allow: Vec<String>,
    /// Directories holding rendered apps (each a subdirectory with berth.json).
    pub apps: Vec<PathBuf>,
    pub restart_docker: bool,
    /// Stamp naming this run's backup set (a time, from the caller).
    pub stamp: String,
    /// Apply only these baseline items (by name); empty: all of them.
    pub only: Vec<&'static str>,
}

pub const BACKUPS: &str = "var/lib/berth/host-backups";
const TOOLS: &[&str] = &[
    "ufw",
    "fail2ban-client",
    "sshd",
    "nginx",
    "systemctl",
    "chmod",
    "chown",
    "dockerd",
    "apt-get",
    "unattended-upgrade",
];

fn under(root: &Path, rel: &str) -> PathBuf {
    root.join(rel.trim_start_matches('/'))
}

fn read(root: &Path, rel: &str) -> Option<String> {
    fs::read_to_string(under(root, rel)).ok()
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| {
            fs::metadata(dir.join(tool))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

fn load_apps(dirs: &[PathBuf]) -> Result<Vec<App>> {
    let mut apps = Vec::new();
    for dir in dirs {
        let entries = fs::read_dir(dir)
            .map_err(|e| Error::input(format!("--apps {}: {e}", dir.display())))?;
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.push(dir.clone());
        paths.sort();
        for app_dir in paths {
            let manifest_path = app_dir.join("berth.json");
            let Ok(text) = fs::read_to_string(&manifest_path) else {
                continue;
            };
            let m: Manifest = serde_json::from_str(&text).map_err(|e| {
                Error::input(format!(
                    "{}: not a berth manifest ({e})",
                    manifest_path.display()
                ))
            })?;
            crate::validate::app_name(&m.name)?;
            let public_ports = m
                .services
                .values()
                .flat_map(|s| s.ports.iter())
                .filter(|p| p.host_ip == "0.0.0.0")
                .map(|p| (p.host_port, p.protocol.clone()))
                .collect();
            apps.push(App {
                name: m.name.clone(),
                nginx_conf: fs::read_to_string(app_dir.join("nginx.conf")).ok(),
                public_ports,
            });
        }
    }
    let mut names: Vec<&str> = apps.iter().map(|a| a.name.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(Error::input(format!(
            "--apps: two apps are named {:?}; each app needs its own name (its nginx site is berth-NAME.conf)",
            w[0]
        )));
    }
    Ok(apps)
}

fn session() -> Option<SshSession> {
    let conn = std::env::var("SSH_CONNECTION").ok()?;
    let client = conn.split_whitespace().next()?.parse().ok()?;
    let as_root = super::running_as_root();
    Some(SshSession { client, as_root })
}

/// Reads what the baseline needs from the host under `opts.root`.
pub fn gather(opts: &Options) -> Result<Inputs> {
    let root = &opts.root;
    let live = root == Path::new("/");
    let apps = load_apps(&opts.apps)?;
    let mut files = BTreeMap::new();
    let mut paths: Vec<String> = [
        baseline::DAEMON_JSON,
        baseline::SSHD_DROP_IN,
        baseline::FAIL2BAN_JAIL,
        baseline::AUTO_UPGRADES,
        baseline::UFW_CONF,
        baseline::APPARMOR_ENABLED,
        "etc/ssh/sshd_config",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    paths.extend(apps.iter().map(|a| baseline::nginx_site(&a.name)));
    for p in paths {
        files.insert(p.clone(), read(root, &p));
    }
    let mut ssh_allow = Vec::new();
    for raw in &opts.ssh_allow {
        ssh_allow.push(Cidr::parse(raw).ok_or_else(|| {
            Error::input(format!(
                "--ssh-allow {raw:?}: use an address or network such as 203.0.113.0/24"
            ))
        })?);
    }
    let swarm_active = read(root, "var/lib/docker/swarm/state.json")
        .is_some_and(|s| !s.trim().is_empty() && s.trim() != "[]");
    let other_storage_driver = [
        "btrfs",
        "zfs",
        "devicemapper",
        "aufs",
        "vfs",
        "fuse-overlayfs",
    ]
    .iter()
    .find(|d| under(root, &format!("var/lib/docker/{d}")).is_dir())
    .map(|d| d.to_string());
    let docker_gid = read(root, "etc/group").and_then(|g| {
        g.lines()
            .find(|l| l.starts_with("docker:"))
            .and_then(|l| l.split(':').nth(2))
            .and_then(|gid| gid.parse().ok())
    });
    let socket = fs::metadata(under(root, baseline::DOCKER_SOCKET))
        .ok()
        .map(|m| Socket {
            mode: m.mode(),
            uid: m.uid(),
            gid: m.gid(),
            docker_gid,
        });
    let mut tools: BTreeMap<String, bool> = TOOLS
        .iter()
        .map(|t| (t.to_string(), live && on_path(t)))
        .collect();
    let validate = live
        && on_path("dockerd")
        && Command::new("dockerd")
            .arg("--help")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("--validate"));
    tools.insert("dockerd-validate".into(), validate);
    let nofile_ceiling = engine_nofile_ceiling(root, files[baseline::DAEMON_JSON].as_deref());
    Ok(Inputs {
        files,
        facts: HostFacts {
            swarm_active,
            other_storage_driver,
            nofile_ceiling,
        },
        force: opts.force.clone(),
        ssh_allow,
        session: session(),
        apps,
        socket,
        tools,
        live,
        restart_docker: opts.restart_docker,
    })
}

/// The running engine's nofile ceiling: dockerd found through its pidfile (daemon.json's
/// `pidfile`, else /var/run/docker.pid, under the root), its /proc entry read from here.
fn engine_nofile_ceiling(root: &Path, daemon_json: Option<&str>) -> Option<u64> {
    let configured = daemon_json
        .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok())
        .and_then(|v| v.get("pidfile")?.as_str().map(String::from));
    let pidfile = configured.as_deref().unwrap_or("/var/run/docker.pid");
    let pid: u32 = read(root, pidfile)?.trim().parse().ok()?;
    let proc = PathBuf::from(format!("/proc/{pid}"));
    // A stale pidfile may name some other process now.
    if fs::read_to_string(proc.join("comm")).ok()?.trim() != "dockerd" {
        return None;
    }
    daemon_json::nofile_ceiling(
        &fs::read_to_string(proc.join("status")).ok()?,
        &fs::read_to_string(proc.join("limits")).ok()?,
    )
}

pub fn plan(opts: &Options) -> Result<(Inputs, Vec<Item>)> {
    let inputs = gather(opts)?;
    let items = baseline::plan(&inputs).map_err(Error::input)?;
    Ok((inputs, items))
}

/// One file a backup set covers: enough to put it back exactly, or remove it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupEntry {
    pub path: String,
    pub existed: bool,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

#[derive(Debug, Serialize)]
pub struct Applied {
    pub item: &'static str,
    pub files: Vec<(String, Change)>,
    pub commands: Vec<CommandRun>,
}

#[derive(Debug, Serialize)]
pub struct CommandRun {
    pub argv: Vec<String>,
    /// "ok", "failed: ...", "not run: root is not /", "not run: missing tool X".
    pub outcome: String,
}

fn abort_hook() -> Option<usize> {
    // Test hook: abort the process after N file writes, to prove crash safety.
    std::env::var("BERTH_TEST_ABORT_AFTER_WRITES")
        .ok()?
        .parse()
        .ok()
}

pub fn apply(opts: &Options) -> Result<(Vec<Item>, Vec<Applied>, Option<PathBuf>)> {
    let (inputs, mut items) = plan(opts)?;
    if !opts.only.is_empty() {
        items.retain(|i| opts.only.contains(&i.name));
    }
    let root = &opts.root;
    let changes: Vec<&baseline::FileChange> = items
        .iter()
        .filter(|i| i.status != Status::Refused)
        .flat_map(|i| i.files.iter())
        .collect();
    let mut backups = Backups::new(root, &under(root, BACKUPS), &opts.stamp);
    let backup_dir = (!changes.is_empty()).then(|| backups.dir().to_path_buf());
    if let Some(dir) = &backup_dir {
        // The manifest goes first: after a crash at any later point, rollback knows every
        // file this run may have touched and what was there before.
        let entries: Vec<BackupEntry> = changes
            .iter()
            .map(|c| {
                let meta = fs::metadata(under(root, &c.path)).ok();
                BackupEntry {
                    path: c.path.clone(),
                    existed: meta.is_some(),
                    mode: meta.as_ref().map_or(c.mode, |m| m.mode() & 0o7777),
                    uid: meta.as_ref().map_or(0, |m| m.uid()),
                    gid: meta.as_ref().map_or(0, |m| m.gid()),
                }
            })
            .collect();
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::io(dir, e))?;
        let text = serde_json::to_string_pretty(&entries).unwrap_or_default();
        fsx::write_new(&dir.join("manifest.json"), text.as_bytes(), 0o600)?;
    }
    let abort_after = abort_hook();
    let mut writes = 0usize;
    let mut applied = Vec::new();
    for item in &items {
        if item.status == Status::Refused {
            continue;
        }
        let mut done = Applied {
            item: item.name,
            files: Vec::new(),
            commands: Vec::new(),
        };
        for change in &item.files {
            let path = under(root, &change.path);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
            }
            // A replaced file keeps its permissions; a new one gets the baseline's.
            let mode = fs::metadata(&path).map_or(change.mode, |m| m.mode() & 0o7777);
            let outcome = fsx::write_file(&path, change.new.as_bytes(), mode, &mut backups)?;
            writes += 1;
            if abort_after == Some(writes) {
                std::process::abort();
            }
            done.files.push((change.path.clone(), outcome));
        }
        for cmd in &item.commands {
            let outcome = if !inputs.live {
                "not run: root is not /".to_string()
            } else if let Some(tool) = &cmd.missing_tool {
                format!("not run: {tool} is not installed")
            } else {
                match Command::new(&cmd.argv[0]).args(&cmd.argv[1..]).output() {
                    Ok(o) if o.status.success() => "ok".to_string(),
                    Ok(o) => format!("failed: {}", String::from_utf8_lossy(&o.stderr).trim()),
                    Err(e) => format!("failed: {e}"),
                }
            };
            let failed_check = cmd.check && outcome.starts_with("failed");
            done.commands.push(CommandRun {
                argv: cmd.argv.clone(),
                outcome,
            });
            if failed_check {
                // The new configuration did not validate: put this item's files back and
                // do not reload anything with them.
                if let Some(dir) = &backup_dir {
                    restore(
                        root,
                        dir,
                        Some(
                            &item
                                .files
                                .iter()
                                .map(|f| f.path.clone())
                                .collect::<Vec<_>>(),
                        ),
                    )?;
                }
                done.commands.push(CommandRun {
                    argv: vec![],
                    outcome: "restored the previous files; nothing was reloaded".into(),
                });
                break;
            }
        }
        applied.push(done);
    }
    Ok((items, applied, backup_dir))
}

/// Puts back the files of a backup set (all, or only `only`).
fn restore(root: &Path, dir: &Path, only: Option<&[String]>) -> Result<Vec<String>> {
    let manifest = dir.join("manifest.json");
    let text = fs::read_to_string(&manifest).map_err(|e| Error::io(&manifest, e))?;
    let entries: Vec<BackupEntry> = serde_json::from_str(&text)
        .map_err(|e| Error::input(format!("{}: {e}", manifest.display())))?;
    let mut restored = Vec::new();
    let mut scratch = Backups::new(dir, &dir.join("pre-rollback"), "0");
    for e in entries {
        if only.is_some_and(|o| !o.contains(&e.path)) {
            continue;
        }
        let target = under(root, &e.path);
        if e.existed {
            let saved = dir.join(&e.path);
            // A file listed but never replaced (crash before its write) has no copy and is
            // already the original.
            if let Ok(bytes) = fs::read(&saved) {
                fsx::write_file(&target, &bytes, e.mode, &mut scratch)?;
                let _ = std::os::unix::fs::chown(&target, Some(e.uid), Some(e.gid));
            }
        } else if target.exists() {
            fs::remove_file(&target).map_err(|err| Error::io(&target, err))?;
        }
        restored.push(e.path);
    }
    Ok(restored)
}

/// Restores the newest backup set and marks it used, so the next rollback goes further back.
pub fn rollback(opts: &Options) -> Result<Option<(PathBuf, Vec<String>)>> {
    let dir = under(&opts.root, BACKUPS);
    let mut sets: Vec<PathBuf> = match fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.join("manifest.json").is_file() && !p.to_string_lossy().ends_with(".rolled-back")
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    sets.sort();
    let Some(latest) = sets.pop() else {
        return Ok(None);
    };
    let restored = restore(&opts.root, &latest, None)?;
    let used = PathBuf::from(format!("{}.rolled-back", latest.display()));
    fs::rename(&latest, &used).map_err(|e| Error::io(&latest, e))?;
    Ok(Some((used, restored)))
}
