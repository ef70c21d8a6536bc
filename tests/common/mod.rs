//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use assert_cmd::cargo_bin_cmd;

pub const SEED: &str = "0101010101010101010101010101010101010101010101010101010101010101";

pub fn berth() -> assert_cmd::Command {
    let mut cmd = cargo_bin_cmd!("berth");
    cmd.env_remove("BERTH_SECRET_SEED").env("NO_COLOR", "1");
    cmd
}

/// Every built-in app with the arguments it needs (web apps need a domain).
pub fn apps() -> Vec<(String, bool)> {
    let out = berth()
        .args(["catalog", "list", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .map(|app| {
            let name = app["app"].as_str().unwrap().to_string();
            let web = !matches!(name.as_str(), "postgres" | "mariadb" | "redis" | "mongodb");
            (name, web)
        })
        .collect()
}

/// Renders `app` into `dir/<app>` with a fixed seed; returns the output directory.
pub fn render(app: &str, web: bool, dir: &Path) -> PathBuf {
    let out = dir.join(app);
    let mut cmd = berth();
    cmd.args(["render", app, "--name", "t-1", "--out"])
        .arg(&out)
        .args(["--secret-seed", SEED]);
    if web {
        cmd.args(["--domain", "app.example.com"]);
    }
    cmd.assert().success();
    out
}

/// A tool the test command installs (Compose v2, PyYAML). Missing means the tests were not
/// run through `./scripts/test`: fail loudly, unless the person opted out by name.
pub fn tool(var: &str) -> Option<PathBuf> {
    match std::env::var_os(var) {
        Some(p) => Some(PathBuf::from(p)),
        None if std::env::var_os("BERTH_TEST_SKIP_TOOLS").is_some() => {
            eprintln!("SKIPPED: {var} is not set and BERTH_TEST_SKIP_TOOLS is set");
            None
        }
        None => panic!(
            "{var} is not set: run the tests with ./scripts/test, which installs the tools they need, \
             or set BERTH_TEST_SKIP_TOOLS=1 to skip the tests that need them"
        ),
    }
}

/// `docker-compose config --format json` on a rendered directory: Compose's own reading.
pub fn compose_config(compose: &Path, dir: &Path) -> serde_json::Value {
    let out = Command::new(compose)
        .current_dir(dir)
        .args(["-f", "compose.yaml", "config", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "docker-compose config rejected {}:\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

pub fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    if !dir.exists() {
        return out;
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

// Engine helpers (tests/engine.rs, tests/deploy.rs).

pub const IMAGE: &str = "berth-test/busybox:1.35.0";

pub fn engine() -> bool {
    let up = Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output()
        .is_ok_and(|o| o.status.success());
    if up {
        return true;
    }
    if std::env::var_os("BERTH_TEST_SKIP_ENGINE").is_some() {
        eprintln!("SKIPPED: no Docker engine and BERTH_TEST_SKIP_ENGINE is set");
        return false;
    }
    panic!(
        "no Docker engine answers `docker info`: start one, or set BERTH_TEST_SKIP_ENGINE=1 to skip the engine tests"
    );
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
}

pub fn ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A root filesystem like a real image's (/tmp 1777, /run root 0755), with busybox.
pub fn build_image() {
    build_image_on(None);
}

/// [`build_image`] into the engine at `docker_host` (a `unix://` address), or the default one.
pub fn build_image_on(docker_host: Option<&str>) {
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .expect("busybox is missing: ./scripts/test installs Debian's busybox-static");
    let rootfs = tempfile::tempdir().unwrap();
    let r = rootfs.path();
    for d in ["bin", "etc", "run", "tmp", "www", "proc", "sys", "dev"] {
        std::fs::create_dir_all(r.join(d)).unwrap();
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(r.join("tmp"), std::fs::Permissions::from_mode(0o1777)).unwrap();
    std::fs::copy(busybox, r.join("bin/busybox")).unwrap();
    for applet in [
        "sh", "id", "cat", "touch", "ls", "httpd", "wget", "sleep", "cp", "grep", "true", "echo",
        "mkdir", "seq", "head", "nc", "dd",
    ] {
        std::os::unix::fs::symlink("busybox", r.join("bin").join(applet)).unwrap();
    }
    std::fs::write(r.join("etc/passwd"), "root:x:0:0:root:/:/bin/sh\n").unwrap();
    // A setuid-root probe that prints its effective UID: proof that no-new-privileges keeps
    // a setuid binary from gaining anything (busybox itself drops setuid, so it cannot show it).
    std::fs::create_dir_all(r.join("suid")).unwrap();
    let src = r.join("euid.c");
    std::fs::write(&src, "#include <stdio.h>\n#include <unistd.h>\nint main(void){printf(\"%d\\n\",(int)geteuid());return 0;}\n").unwrap();
    ok(Command::new("gcc")
        .args(["-static", "-O2", "-o"])
        .arg(r.join("suid/euid"))
        .arg(&src));
    std::fs::remove_file(&src).unwrap();
    std::fs::set_permissions(r.join("suid/euid"), std::fs::Permissions::from_mode(0o4755)).unwrap();
    let mut tar = Command::new("tar")
        .arg("-C")
        .arg(r)
        .args(["-c", "."])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = tar.stdout.take().unwrap();
    let mut import = Command::new("docker");
    if let Some(host) = docker_host {
        import.env("DOCKER_HOST", host);
    }
    ok(import.args(["import", "-", IMAGE]).stdin(stdout));
    assert!(tar.wait().unwrap().success());
}

/// The test catalog's app for the engine tests: a busybox web service that writes into its
/// data directory, and a sidecar serving on 6379, both on the test image.
pub const PROBE_TEMPLATE: &str = r#"app: probe
version: 1
title: Probe
description: A busybox web server and a sidecar, for engine tests.
secrets:
  TOKEN:
    description: a secret
services:
  web:
    role: web
    image: berth-test/busybox:1.35.0
    profile: none
    ports:
      - container: 8080
        proxy: true
    data:
      - name: www
        path: /www
    limits: {memory: 64m, cpus: 0.5, pids: 32}
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]
      interval: 2s
      start_period: 2s
    environment:
      TOKEN: "{{secret:TOKEN}}"
    command: ["sh", "-c", "echo up > /www/index.html; echo written-by-app > /www/app.txt; exec httpd -f -p 8080 -h /www"]
  cache:
    role: sidecar
    image: berth-test/busybox:1.35.0
    profile: none
    limits: {memory: 32m, cpus: 0.25, pids: 16}
    healthcheck:
      test: ["CMD", "true"]
      interval: 2s
    command: ["sh", "-c", "echo cache > /tmp/index.html && exec httpd -f -p 6379 -h /tmp"]
"#;
