//! `berth deploy | ls | verify | remove` on the real engine: state, users, data ownership,
//! health, verification, drift, failure and purge. Needs the engine (BERTH_TEST_SKIP_ENGINE=1
//! opts out) and Compose v2 (./scripts/test installs it).

mod common;

use std::path::Path;
use std::process::Command;

use common::{berth, build_image, engine, ok, tool};
use predicates::str::contains;
use serde_json::Value;

struct Env {
    catalog: tempfile::TempDir,
    state: tempfile::TempDir,
    host: tempfile::TempDir,
    compose: std::path::PathBuf,
}

impl Env {
    fn cmd(&self) -> assert_cmd::Command {
        let mut c = berth();
        c.env("BERTH_COMPOSE", &self.compose)
            .arg("--catalog")
            .arg(self.catalog.path());
        c
    }
    fn with_state(&self, args: &[&str]) -> assert_cmd::Command {
        let mut c = self.cmd();
        c.args(args).arg("--state-dir").arg(self.state.path());
        c
    }
    /// `berth deploy APP --name NAME --domain NAME.example.com --timeout SECS`.
    fn deploy(&self, app: &str, name: &str, timeout: u32) -> assert_cmd::Command {
        let domain = format!("{name}.example.com");
        let timeout = timeout.to_string();
        let mut cmd = self.with_state(&[
            "deploy",
            app,
            "--name",
            name,
            "--domain",
            &domain,
            "--timeout",
            &timeout,
        ]);
        // The host changes (nginx site, firewall) go to a scratch root, never this machine's.
        cmd.arg("--host-root").arg(self.host.path());
        cmd
    }

    fn ls(&self) -> Value {
        let out = self
            .with_state(&["ls", "--format", "json"])
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        // Whatever a failed assertion left running or registered goes away.
        if let Value::Array(apps) = self.ls() {
            for a in apps {
                let _ = self
                    .with_state(&["remove", "--purge", a["name"].as_str().unwrap_or("")])
                    .output();
            }
        }
    }
}

fn container_ids(project: &str) -> String {
    ok(Command::new("docker").args([
        "ps",
        "-q",
        "--filter",
        &format!("label=com.docker.compose.project={project}"),
    ]))
}

#[test]
fn deploy_verify_drift_failure_and_purge() {
    if !engine() {
        return;
    }
    let Some(compose) = tool("BERTH_TEST_COMPOSE") else {
        return;
    };
    build_image();
    // A run that failed midway may have left its hand-started drift container.
    let _ = Command::new("docker")
        .args(["rm", "-f", "berth-dt-one-web-drift"])
        .output();
    let env = Env {
        catalog: tempfile::tempdir().unwrap(),
        state: tempfile::tempdir().unwrap(),
        host: tempfile::tempdir().unwrap(),
        compose,
    };
    std::fs::write(
        env.catalog.path().join("probe.yaml"),
        common::PROBE_TEMPLATE,
    )
    .unwrap();
    std::fs::write(
        env.catalog.path().join("broken.yaml"),
        common::PROBE_TEMPLATE
            .replace("app: probe", "app: broken")
            .replace("berth-test/busybox:1.35.0", "berth-test/does-not-exist:1.0"),
    )
    .unwrap();

    // Deploy: allocated, rendered, users and data owned by the service UID, healthy, verified.
    env.deploy("probe", "dt-one", 60)
        .assert()
        .success()
        .stdout(contains("deployed"));
    let apps = env.ls();
    let app = &apps[0];
    assert_eq!(app["name"], "dt-one");
    assert_eq!(app["status"], "deployed");
    let dir = Path::new(app["dir"].as_str().unwrap()).to_path_buf();
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("berth.json")).unwrap()).unwrap();
    let web_uid = manifest["services"]["web"]["uid"].as_u64().unwrap() as u32;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let www = std::fs::metadata(dir.join("data/web/www")).unwrap();
    assert_eq!(www.uid(), web_uid);
    assert_eq!(www.permissions().mode() & 0o777, 0o750);
    let env_file = std::fs::metadata(dir.join(".env")).unwrap();
    assert_eq!(env_file.permissions().mode() & 0o777, 0o600);
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    let running_as_root = berth::ops::running_as_root();
    if running_as_root {
        assert!(
            passwd.contains(&format!("berth-dt-one-web:x:{web_uid}:{web_uid}:")),
            "per-service user"
        );
    }
    let port = app["port"].as_u64().unwrap();
    let body =
        ok(Command::new("wget").args(["-q", "-O", "-", &format!("http://127.0.0.1:{port}/")]));
    assert_eq!(body, "up\n");
    // The host side went through the baseline: the nginx site proxies to the app's port
    // (the firewall commands are listed, not run: the root is not /).
    let site = std::fs::read_to_string(env.host.path().join("etc/nginx/conf.d/berth-dt-one.conf"))
        .unwrap();
    assert!(
        site.contains(&format!("proxy_pass http://127.0.0.1:{port};")),
        "{site}"
    );
    env.with_state(&["verify", "dt-one"])
        .assert()
        .success()
        .stdout(contains("0 difference(s)"));

    // Re-deploying the unchanged app changes nothing: same containers, same secrets.
    let before = container_ids("berth-dt-one");
    let secrets = std::fs::read(dir.join(".env")).unwrap();
    env.deploy("probe", "dt-one", 60).assert().success();
    assert_eq!(container_ids("berth-dt-one"), before);
    assert_eq!(std::fs::read(dir.join(".env")).unwrap(), secrets);

    // A changed template and a changed flag update the stack in place: the changed service
    // is recreated with the new limit, data, UIDs, port and secrets stay.
    std::fs::write(dir.join("data/web/www/kept.txt"), "kept\n").unwrap();
    let cache_before =
        ok(Command::new("docker").args(["ps", "-q", "--filter", "name=berth-dt-one-cache"]));
    std::fs::write(
        env.catalog.path().join("probe.yaml"),
        common::PROBE_TEMPLATE.replace("memory: 64m", "memory: 96m"),
    )
    .unwrap();
    let mut changed = env.with_state(&[
        "deploy",
        "probe",
        "--name",
        "dt-one",
        "--domain",
        "moved.example.com",
        "--timeout",
        "60",
    ]);
    changed
        .arg("--host-root")
        .arg(env.host.path())
        .assert()
        .success();
    assert_ne!(container_ids("berth-dt-one"), before, "web recreated");
    assert_eq!(
        ok(Command::new("docker").args(["ps", "-q", "--filter", "name=berth-dt-one-cache"])),
        cache_before,
        "an unchanged service is left running"
    );
    let memory = ok(Command::new("docker").args([
        "inspect",
        "--format",
        "{{.HostConfig.Memory}}",
        "berth-dt-one-web-1",
    ]));
    assert_eq!(memory.trim(), (96 * 1024 * 1024).to_string());
    assert_eq!(
        std::fs::read_to_string(dir.join("data/web/www/kept.txt")).unwrap(),
        "kept\n"
    );
    let after: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("berth.json")).unwrap()).unwrap();
    for service in ["web", "cache"] {
        let uid = |m: &Value| m["services"][service]["uid"].clone();
        assert_eq!(uid(&after), uid(&manifest), "{service} keeps its UID");
    }
    assert_eq!(std::fs::read(dir.join(".env")).unwrap(), secrets);
    assert_eq!(env.ls()[0]["port"], app["port"]);
    let site = std::fs::read_to_string(env.host.path().join("etc/nginx/conf.d/berth-dt-one.conf"))
        .unwrap();
    assert!(site.contains("server_name moved.example.com;"), "{site}");
    std::fs::write(
        env.catalog.path().join("probe.yaml"),
        common::PROBE_TEMPLATE,
    )
    .unwrap();

    // Drift: a container started by hand in the project, with a capability and a writable root.
    ok(Command::new("docker").args([
        "run",
        "-d",
        "--name",
        "berth-dt-one-web-drift",
        "--label",
        "com.docker.compose.project=berth-dt-one",
        "--label",
        "com.docker.compose.service=web",
        "--cap-add",
        "NET_ADMIN",
        common::IMAGE,
        "sleep",
        "300",
    ]));
    let out = env
        .with_state(&["verify", "dt-one", "--format", "json"])
        .output()
        .unwrap();
    let _ = Command::new("docker")
        .args(["rm", "-f", "berth-dt-one-web-drift"])
        .output();
    assert_eq!(out.status.code(), Some(1));
    let verified: Value = serde_json::from_slice(&out.stdout).unwrap();
    let fields: Vec<&str> = verified["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    for f in ["CapAdd", "ReadonlyRootfs", "CapEff", "NoNewPrivs"] {
        assert!(fields.contains(&f), "drift in {f} not reported: {fields:?}");
    }

    // A failed start (the image cannot be had): reported, recorded, the allocation stays
    // usable. Compose 2.40 exits 0 after such a pull failure; verification catches it.
    env.deploy("broken", "dt-two", 20)
        .assert()
        .code(1)
        .stdout(contains("container declared running, actual missing"));
    let apps = env.ls();
    let broken = apps
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "dt-two")
        .unwrap();
    assert!(
        broken["status"].as_str().unwrap().starts_with("failed"),
        "{broken}"
    );
    let broken_base = broken["uid_base"].as_u64().unwrap();

    // Killed midway (after rendering and users, before the containers start): the next
    // deploy converges.
    let killed = env
        .deploy("probe", "dt-three", 60)
        .env(
            "BERTH_TEST_ABORT_AT_STEP",
            "starting containers and waiting for health",
        )
        .output()
        .unwrap();
    assert!(!killed.status.success());
    env.deploy("probe", "dt-three", 60).assert().success();
    env.with_state(&["verify", "dt-three"]).assert().success();
    env.with_state(&["remove", "dt-three", "--purge"])
        .assert()
        .success();

    // Two deploy processes at once: each gets its own UID block and port, both start.
    let (four, five) = std::thread::scope(|s| {
        let four = s.spawn(|| env.deploy("probe", "dt-four", 90).output().unwrap());
        let five = s.spawn(|| env.deploy("probe", "dt-five", 90).output().unwrap());
        (four.join().unwrap(), five.join().unwrap())
    });
    for out in [&four, &five] {
        assert!(
            out.status.success(),
            "concurrent deploy failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let apps = env.ls();
    let pick = |name: &str| {
        apps.as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .cloned()
            .unwrap()
    };
    let (four, five) = (pick("dt-four"), pick("dt-five"));
    assert_ne!(four["uid_base"], five["uid_base"]);
    assert_ne!(four["port"], five["port"]);
    for name in ["dt-four", "dt-five"] {
        env.with_state(&["remove", name, "--purge"])
            .assert()
            .success();
    }

    // Purge: containers, data, users and allocations go; the UID block is free again.
    env.with_state(&["remove", "dt-two", "--purge"])
        .assert()
        .success();
    env.with_state(&["remove", "dt-one", "--purge"])
        .assert()
        .success();
    assert!(!dir.exists());
    assert_eq!(container_ids("berth-dt-one"), "");
    if running_as_root {
        assert!(
            !std::fs::read_to_string("/etc/passwd")
                .unwrap()
                .contains("berth-dt-one-")
        );
    }
    assert_eq!(env.ls(), Value::Array(vec![]));
    env.deploy("probe", "dt-one", 60).assert().success();
    let again = env.ls();
    assert!(
        again[0]["uid_base"].as_u64().unwrap() <= broken_base,
        "freed blocks are reused"
    );
    assert_ne!(
        std::fs::read(dir.join(".env")).unwrap(),
        secrets,
        "nothing stale: new secrets"
    );
}
