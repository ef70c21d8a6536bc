//! `berth deploy | ls | remove`: allocate from state, render, create the app's users and
//! data directories, start with Compose, and verify.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde::Serialize;

use super::render;
use super::verify::{self, Difference};
use crate::catalog::Template;
use crate::engine;
use crate::error::{Error, Result};
use crate::plan::{Manifest, Request, SecretSeed};
use crate::state::{AppRow, State};

pub struct DeployRequest<'a> {
    pub template: &'a Template,
    pub name: String,
    pub domain: Option<String>,
    pub settings: std::collections::BTreeMap<String, String>,
    pub state_dir: PathBuf,
    pub seed: SecretSeed,
    pub now: i64,
    pub timeout: Duration,
    /// Root prefix for the host changes a deployment makes (nginx site, firewall).
    pub host_root: PathBuf,
    /// Called at each step, for the progress display.
    pub step: &'a dyn Fn(&str),
}

#[derive(Debug, Serialize)]
pub struct Deployed {
    pub app: AppRow,
    pub dir: PathBuf,
    pub users: Vec<String>,
    pub differences: Vec<Difference>,
    /// What verification could not check on this host, and why.
    pub unchecked: Vec<String>,
    /// What the host baseline did for this deployment (nginx site, firewall rules).
    pub host: Vec<super::host::Applied>,
}

/// The default state directory: /var/lib/berth as root, the XDG state dir otherwise.
pub fn default_state_dir() -> PathBuf {
    if super::running_as_root() {
        return PathBuf::from("/var/lib/berth");
    }
    std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from(".berth-state"))
        .join("berth")
}

/// UIDs in /etc/passwd that are not berth's: never reused.
fn foreign_uids() -> BTreeSet<u32> {
    std::fs::read_to_string("/etc/passwd")
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with("berth-"))
        .filter_map(|l| l.split(':').nth(2)?.parse().ok())
        .collect()
}

fn user_name(app: &str, service: &str, uid: u32) -> String {
    let name = format!("berth-{app}-{service}");
    if name.len() <= 32 {
        name
    } else {
        format!("berth-{uid}")
    }
}

/// A host user and group per service, UID = GID, no login, no home. Needs root and the
/// shadow tools; without them the numeric IDs still isolate the service, and that is said.
fn ensure_users(manifest: &Manifest) -> Result<Vec<String>> {
    let mut made = Vec::new();
    if !super::running_as_root() {
        return Ok(made);
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    for (service, record) in &manifest.services {
        let name = user_name(&manifest.name, service, record.uid);
        if passwd.lines().any(|l| l.starts_with(&format!("{name}:"))) {
            made.push(name);
            continue;
        }
        let gid = record.gid.to_string();
        let uid = record.uid.to_string();
        let group = Command::new("groupadd")
            .args(["--system", "-g", &gid, &name])
            .output();
        let user = Command::new("useradd")
            .args([
                "--system",
                "-u",
                &uid,
                "-g",
                &gid,
                "-M",
                "-d",
                "/nonexistent",
                "-s",
                "/usr/sbin/nologin",
                "-c",
            ])
            .arg(format!("berth app {} service {service}", manifest.name))
            .arg(&name)
            .output();
        match (group, user) {
            (Ok(g), Ok(u))
                if (g.status.success() || g.status.code() == Some(9)) && u.status.success() =>
            {
                made.push(name)
            }
            (_, Ok(u)) => {
                return Err(Error::input(format!(
                    "useradd {name}: {}",
                    String::from_utf8_lossy(&u.stderr).trim()
                )));
            }
            (_, Err(e)) => return Err(Error::input(format!("useradd {name}: {e}"))),
        }
    }
    Ok(made)
}

fn remove_users(manifest: &Manifest) {
    if !super::running_as_root() {
        return;
    }
    for (service, record) in &manifest.services {
        let name = user_name(&manifest.name, service, record.uid);
        let _ = Command::new("userdel").arg(&name).output();
        let _ = Command::new("groupdel").arg(&name).output();
    }
}

/// Data directories owned by the service's UID, mode 0750; .env owned by the app's first UID.
fn prepare_dirs(dir: &Path, manifest: &Manifest) -> Result<()> {
    for record in manifest.services.values() {
        for rel in &record.data_dirs {
            let path = dir.join(rel);
            std::fs::create_dir_all(&path).map_err(|e| Error::io(&path, e))?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o750))
                .map_err(|e| Error::io(&path, e))?;
            if super::running_as_root() {
                std::os::unix::fs::chown(&path, Some(record.uid), Some(record.gid))
                    .map_err(|e| Error::io(&path, e))?;
                if let Some(parent) = path.parent() {
                    let _ = std::os::unix::fs::chown(parent, Some(record.uid), Some(record.gid));
                }
            }
        }
    }
    if super::running_as_root()
        && let Some(first) = manifest.services.values().map(|s| s.uid).min()
    {
        let env = dir.join(".env");
        std::os::unix::fs::chown(&env, Some(first), Some(first)).map_err(|e| Error::io(&env, e))?;
    }
    Ok(())
}

pub fn deploy(req: &DeployRequest) -> Result<Deployed> {
    crate::validate::app_name(&req.name)?;
    let mut state = State::open(&req.state_dir.join("state.db"))?;
    let dir = req.state_dir.join("apps").join(&req.name);
    (req.step)("allocating UIDs and ports");
    let foreign = foreign_uids();
    let dir_text = dir.to_string_lossy();
    let want = crate::state::Wanted {
        name: &req.name,
        app: &req.template.app,
        dir: &dir_text,
        services: req.template.services.len() as u32,
        wants_port: req.template.proxy_port().is_some(),
    };
    let row = state.allocate(&want, &|uid| foreign.contains(&uid), req.now)?;
    let deployment = state.start_deployment(&req.name, req.now)?;
    // Test hook: die at a step, to prove a re-run converges after a crash.
    let abort_at = std::env::var("BERTH_TEST_ABORT_AT_STEP").ok();
    let step = |name: &str| {
        (req.step)(name);
        if abort_at.as_deref() == Some(name) {
            std::process::abort();
        }
    };
    let result = (|| {
        step("rendering");
        let request = Request {
            name: req.name.clone(),
            domain: req.domain.clone(),
            uid_base: row.uid_base,
            port: row.port,
            settings: req.settings.clone(),
        };
        let outcome = render::render(
            req.template,
            &request,
            &dir,
            &req.seed,
            &req.now.to_string(),
        )?;
        state.record_services(&req.name, &outcome.manifest)?;
        step("creating users and data directories");
        let users = ensure_users(&outcome.manifest)?;
        prepare_dirs(&dir, &outcome.manifest)?;
        step("starting containers and waiting for health");
        let project = engine::Project::new(&req.name, &dir)?;
        if let Err(why) = project.up(req.timeout)? {
            let logs = project.logs(20);
            return Err(Error::input(format!("{why}\nlast log lines:\n{logs}")));
        }
        step("verifying");
        let verified = verify::verify(&req.name, &dir)?;
        // The host side goes through the same baseline as `berth host apply`: every app's
        // nginx site and firewall rules, from the apps directory.
        let mut host = Vec::new();
        if verified.differences.is_empty() {
            step("installing the nginx site and firewall rules");
            let (_, applied, _) = super::host::apply(&super::host::Options {
                root: req.host_root.clone(),
                apps: vec![req.state_dir.join("apps")],
                stamp: req.now.to_string(),
                only: crate::host::baseline::DEPLOY_ITEMS.to_vec(),
                ..Default::default()
            })?;
            host = applied;
        }
        Ok((users, verified, host))
    })();
    match result {
        Ok((users, verified, host)) => {
            let differences = verified.differences;
            let outcome = if differences.is_empty() {
                "deployed"
            } else {
                "failed verification"
            };
            state.finish_deployment(
                deployment,
                outcome,
                &format!("{} difference(s)", differences.len()),
                req.now,
            )?;
            state.set_status(&req.name, outcome, req.now)?;
            Ok(Deployed {
                app: state.app(&req.name)?.unwrap_or(row),
                dir,
                users,
                differences,
                unchecked: verified.unchecked,
                host,
            })
        }
        Err(e) => {
            state.finish_deployment(deployment, "failed", &e.to_string(), req.now)?;
            state.set_status(&req.name, "failed", req.now)?;
            Err(e)
        }
    }
}

/// A deployed app with its services: (service, uid, image, ports).
#[derive(Debug, Serialize)]
pub struct Listed {
    #[serde(flatten)]
    pub app: AppRow,
    pub services: Vec<(String, u32, String, String)>,
}

pub fn list(state_dir: &Path) -> Result<Vec<Listed>> {
    let state = State::open(&state_dir.join("state.db"))?;
    state
        .apps()?
        .into_iter()
        .map(|app| {
            let services = state.services(&app.name)?;
            Ok(Listed { app, services })
        })
        .collect()
}

/// Stops and removes the app's containers; with `purge`, also its files, data, users and
/// allocations (so nothing stale is reused by a later app of the same name).
pub fn remove(state_dir: &Path, name: &str, purge: bool, now: i64) -> Result<AppRow> {
    let state = State::open(&state_dir.join("state.db"))?;
    let row = state
        .app(name)?
        .ok_or_else(|| Error::input(format!("no app named {name:?}; `berth ls` lists them")))?;
    let dir = PathBuf::from(&row.dir);
    if dir.join("compose.yaml").exists() {
        engine::Project::new(name, &dir)?.down(purge)?;
    }
    if purge {
        if let Ok(text) = std::fs::read_to_string(dir.join(render::MANIFEST))
            && let Ok(manifest) = serde_json::from_str::<Manifest>(&text)
        {
            remove_users(&manifest);
        }
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        }
        state.release(name)?;
    } else {
        state.set_status(name, "removed (data kept)", now)?;
    }
    Ok(row)
}
