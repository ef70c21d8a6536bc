//! The only code that talks to Docker: the Compose CLI for up/down/logs, and the engine's
//! view of a project's containers through the Docker API (bollard). Everything returned is
//! plain data.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::error::{Error, Result};

/// How to run Compose v2: BERTH_COMPOSE, the `docker compose` plugin, or a `docker-compose`
/// that says it is v2 (the v1 Python tool does not know `--wait`).
pub fn compose_command() -> Result<Vec<String>> {
    if let Some(path) = std::env::var_os("BERTH_COMPOSE") {
        return Ok(vec![path.to_string_lossy().into_owned()]);
    }
    let v2 = |cmd: &[&str]| {
        Command::new(cmd[0])
            .args(&cmd[1..])
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).contains("v2"))
    };
    if v2(&["docker", "compose"]) {
        return Ok(vec!["docker".into(), "compose".into()]);
    }
    if v2(&["docker-compose"]) {
        return Ok(vec!["docker-compose".into()]);
    }
    Err(Error::input(
        "Docker Compose v2 not found: install the compose plugin, or set BERTH_COMPOSE to a v2 docker-compose binary",
    ))
}

pub struct Project {
    pub name: String,
    pub dir: PathBuf,
    compose: Vec<String>,
}

fn failure(what: &str, out: &std::process::Output) -> String {
    format!(
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout).trim(),
        String::from_utf8_lossy(&out.stderr).trim()
    )
}

impl Project {
    pub fn new(name: &str, dir: &Path) -> Result<Project> {
        Ok(Project {
            name: format!("berth-{name}"),
            dir: dir.to_path_buf(),
            compose: compose_command()?,
        })
    }

    fn compose(&self, args: &[&str]) -> Result<std::process::Output> {
        Command::new(&self.compose[0])
            .args(&self.compose[1..])
            .current_dir(&self.dir)
            .args(["-p", &self.name])
            .args(args)
            .output()
            .map_err(|e| Error::io(&self.dir, e))
    }

    /// `up -d --wait`: started and healthy within `timeout`, or the reason it is not.
    pub fn up(&self, timeout: Duration) -> Result<std::result::Result<(), String>> {
        let secs = timeout.as_secs().max(1).to_string();
        let out = self.compose(&[
            "up",
            "-d",
            "--remove-orphans",
            "--wait",
            "--wait-timeout",
            &secs,
        ])?;
        Ok(if out.status.success() {
            Ok(())
        } else {
            Err(failure("docker compose up", &out))
        })
    }

    pub fn down(&self, volumes: bool) -> Result<()> {
        let mut args = vec!["down", "--remove-orphans", "-t", "10"];
        if volumes {
            args.push("-v");
        }
        let out = self.compose(&args)?;
        if out.status.success() {
            Ok(())
        } else {
            Err(Error::input(failure("docker compose down", &out)))
        }
    }

    /// The last lines of the services' logs, to show why a start failed.
    pub fn logs(&self, lines: usize) -> String {
        self.compose(&["logs", "--no-color", "--tail", &lines.to_string()])
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }
}

/// Every container of a Compose project, as the Docker API's inspect describes them (the
/// same JSON as `docker inspect`: bollard's models keep the API's field names).
pub fn containers(project: &str) -> Result<Vec<Value>> {
    use std::collections::HashMap;

    use bollard::Docker;
    use bollard::query_parameters::ListContainersOptionsBuilder;

    let api_error = |e: bollard::errors::Error| Error::input(format!("Docker API: {e}"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::input(format!("cannot start the Docker API client: {e}")))?;
    runtime.block_on(async {
        // Engines as old as Debian 12's (API 1.41) answer: talk their version.
        let docker = Docker::connect_with_local_defaults()
            .map_err(api_error)?
            .negotiate_version()
            .await
            .map_err(api_error)?;
        let mut filters = HashMap::new();
        filters.insert(
            "label".to_string(),
            vec![format!("com.docker.compose.project={project}")],
        );
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        let listed = docker
            .list_containers(Some(options))
            .await
            .map_err(api_error)?;
        let mut out = Vec::new();
        for summary in listed {
            let Some(id) = summary.id else { continue };
            let inspected = docker
                .inspect_container(&id, None)
                .await
                .map_err(api_error)?;
            out.push(
                serde_json::to_value(inspected)
                    .map_err(|e| Error::input(format!("Docker API: {e}")))?,
            );
        }
        Ok(out)
    })
}

/// The container's main process in our /proc, when the engine runs in our PID namespace:
/// the host's /proc/<pid> is the container's only if it sits in the container's cgroup.
pub fn host_pid(container: &Value) -> Option<i64> {
    let pid = container["State"]["Pid"].as_i64().filter(|p| *p > 0)?;
    let id = container["Id"].as_str()?;
    std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .is_ok_and(|c| c.contains(id))
        .then_some(pid)
}

/// The kernel's view of a process: /proc/<pid>/status, from the host when the engine runs
/// in our PID namespace, else from inside the container (its PID 1).
pub fn proc_status(container: &Value) -> Option<String> {
    let from_host = host_pid(container)
        .and_then(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok());
    if from_host.is_some() {
        return from_host;
    }
    let id = container["Id"].as_str()?;
    let out = Command::new("docker")
        .args(["exec", id, "cat", "/proc/1/status"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The namespaces (ipc, net, pid, uts, mnt) that the container's process shares with this
/// process's own, when its /proc entry is readable from here.
pub fn shared_namespaces(container: &Value) -> Option<Vec<String>> {
    let pid = host_pid(container)?;
    let shared = ["ipc", "net", "pid", "uts", "mnt"]
        .iter()
        .filter(|ns| {
            let theirs = std::fs::read_link(format!("/proc/{pid}/ns/{ns}")).ok();
            let mine = std::fs::read_link(format!("/proc/self/ns/{ns}")).ok();
            theirs.is_some() && theirs == mine
        })
        .map(|ns| ns.to_string())
        .collect();
    Some(shared)
}
