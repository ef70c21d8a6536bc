//! `berth host` on temporary roots: every baseline item, merges, conflicts, bad input,
//! rollback, crash safety, and the real tools' own checks of what berth writes.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{berth, tree};
use predicates::str::contains;
use serde_json::Value;

const MANAGED: &[&str] = &[
    "etc/docker/daemon.json",
    "etc/fail2ban/jail.d/berth.conf",
    "etc/apt/apt.conf.d/52berth-auto-upgrades",
    "etc/ssh/sshd_config.d/00-berth.conf",
    "etc/nginx/conf.d/berth-cloud.conf",
];

/// Two rendered apps: a web app (nginx site) and a data service (public port).
fn apps() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    berth()
        .args([
            "render",
            "nextcloud",
            "--name",
            "cloud",
            "--domain",
            "cloud.example.com",
            "--out",
        ])
        .arg(dir.path().join("cloud"))
        .assert()
        .success();
    berth()
        .args(["render", "postgres", "--name", "pg", "--out"])
        .arg(dir.path().join("pg"))
        .assert()
        .success();
    dir
}

fn host(args: &[&str], root: &Path, apps: &Path) -> assert_cmd::Command {
    let mut cmd = berth();
    cmd.env_remove("SSH_CONNECTION")
        .arg("host")
        .args(args)
        .arg("--root")
        .arg(root)
        .arg("--apps")
        .arg(apps);
    cmd
}

fn daemon(root: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(root.join("etc/docker/daemon.json")).unwrap())
        .unwrap()
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

#[test]
fn fresh_host_gets_the_baseline_and_a_second_apply_changes_nothing() {
    let apps = apps();
    let root = tempfile::tempdir().unwrap();
    host(&["plan"], root.path(), apps.path())
        .assert()
        .success()
        .stdout(contains("+++ /etc/docker/daemon.json"))
        .stdout(contains("$ ufw allow 5432/tcp"))
        .stdout(contains("commands are listed, never run"));
    assert!(tree(root.path()).is_empty(), "plan wrote something");
    host(&["apply"], root.path(), apps.path())
        .assert()
        .success();
    for rel in MANAGED {
        assert!(root.path().join(rel).is_file(), "{rel}");
    }
    let d = daemon(root.path());
    assert_eq!(d["live-restore"], true);
    assert_eq!(d["userland-proxy"], false);
    assert_eq!(d["no-new-privileges"], true);
    assert_eq!(d["default-ulimits"]["nofile"]["Hard"], 65536);
    assert_eq!(d["log-opts"]["max-file"], "3");
    let site =
        std::fs::read_to_string(root.path().join("etc/nginx/conf.d/berth-cloud.conf")).unwrap();
    assert!(site.contains("proxy_pass http://127.0.0.1:8080;"));
    let sshd =
        std::fs::read_to_string(root.path().join("etc/ssh/sshd_config.d/00-berth.conf")).unwrap();
    assert!(sshd.contains("PasswordAuthentication no") && sshd.contains("PermitRootLogin no"));

    let before = tree(root.path());
    host(&["apply"], root.path(), apps.path())
        .assert()
        .success()
        .stdout(contains("nothing changed"));
    assert_eq!(before, tree(root.path()));
}

#[test]
fn operator_keys_are_kept_and_conflicts_reported_until_forced() {
    let apps = apps();
    let root = tempfile::tempdir().unwrap();
    write(
        root.path(),
        "etc/docker/daemon.json",
        "{\n  \"data-root\": \"/srv/docker\",\n  \"live-restore\": false,\n  \"registry-mirrors\": [\"https://mirror.example\"]\n}\n",
    );
    std::fs::set_permissions(
        root.path().join("etc/docker/daemon.json"),
        std::fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    host(&["apply"], root.path(), apps.path())
        .assert()
        .success();
    let d = daemon(root.path());
    assert_eq!(d["data-root"], "/srv/docker");
    assert_eq!(d["registry-mirrors"][0], "https://mirror.example");
    assert_eq!(d["live-restore"], false, "operator value left alone");
    let keys: Vec<&String> = d.as_object().unwrap().keys().collect();
    assert_eq!(keys[0], "data-root", "operator order kept");
    let mode = std::fs::metadata(root.path().join("etc/docker/daemon.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o640, "permissions of the replaced file kept");
    host(&["status"], root.path(), apps.path())
        .assert()
        .code(1)
        .stdout(contains("live-restore: is false, berth wants true"));
    host(
        &["apply", "--force", "live-restore"],
        root.path(),
        apps.path(),
    )
    .assert()
    .success();
    assert_eq!(daemon(root.path())["live-restore"], true);
}

#[test]
fn unparseable_daemon_json_is_reported_and_nothing_is_written() {
    let apps = apps();
    for (text, at) in [
        ("{\n  \"a\": 1,\n}\n", ":3:"),
        ("{\n  // mine\n  \"a\": 1\n}\n", ":2:"),
        ("{\n  \"a\": 1,\n  \"a\": 2\n}\n", ":3:"),
    ] {
        let root = tempfile::tempdir().unwrap();
        write(root.path(), "etc/docker/daemon.json", text);
        let before = tree(root.path());
        host(&["apply"], root.path(), apps.path())
            .assert()
            .code(2)
            .stderr(contains(format!("/etc/docker/daemon.json{at}")))
            .stderr(contains("untouched"));
        assert_eq!(before, tree(root.path()), "{text}");
    }
}

#[test]
fn rollback_restores_replaced_files_and_removes_created_ones() {
    let apps = apps();
    let root = tempfile::tempdir().unwrap();
    let original = "{\n  \"debug\": true\n}\n";
    write(root.path(), "etc/docker/daemon.json", original);
    let before = tree(root.path());
    host(&["apply"], root.path(), apps.path())
        .assert()
        .success();
    assert_ne!(
        std::fs::read_to_string(root.path().join("etc/docker/daemon.json")).unwrap(),
        original
    );
    host(&["rollback"], root.path(), apps.path())
        .assert()
        .success()
        .stdout(contains("restored /etc/docker/daemon.json"));
    assert_eq!(
        std::fs::read_to_string(root.path().join("etc/docker/daemon.json")).unwrap(),
        original
    );
    for rel in &MANAGED[1..] {
        assert!(!root.path().join(rel).exists(), "{rel} should be gone");
    }
    // What is left besides the original is berth's own backup record.
    let after: Vec<PathBuf> = tree(root.path())
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| !p.to_string_lossy().contains("var/lib/berth"))
        .collect();
    assert_eq!(
        after,
        before.into_iter().map(|(p, _)| p).collect::<Vec<_>>()
    );
    host(&["rollback"], root.path(), apps.path())
        .assert()
        .success()
        .stdout(contains("no backup set"));
}

#[test]
fn ssh_lockout_is_refused() {
    let apps = apps();
    let root = tempfile::tempdir().unwrap();
    host(
        &["apply", "--ssh-allow", "10.0.0.0/8"],
        root.path(),
        apps.path(),
    )
    .env("SSH_CONNECTION", "192.0.2.10 51000 10.1.1.1 22")
    .assert()
    .success()
    .stdout(contains("refused: this SSH session comes from 192.0.2.10"));
    assert!(
        !root
            .path()
            .join("etc/ssh/sshd_config.d/00-berth.conf")
            .exists()
    );
    // Tests may run as root: then disabling root login over an SSH session is refused too,
    // until forced.
    let is_root = berth::ops::running_as_root();
    if is_root {
        host(
            &["apply", "--ssh-allow", "192.0.2.0/24", "10.0.0.0/8"],
            root.path(),
            apps.path(),
        )
        .env("SSH_CONNECTION", "192.0.2.10 51000 10.1.1.1 22")
        .assert()
        .success()
        .stdout(contains("--force ssh-root-login"));
    }
    host(
        &[
            "apply",
            "--ssh-allow",
            "192.0.2.0/24",
            "10.0.0.0/8",
            "--force",
            "ssh-root-login",
        ],
        root.path(),
        apps.path(),
    )
    .env("SSH_CONNECTION", "192.0.2.10 51000 10.1.1.1 22")
    .assert()
    .success();
    let sshd =
        std::fs::read_to_string(root.path().join("etc/ssh/sshd_config.d/00-berth.conf")).unwrap();
    assert!(sshd.contains("AllowUsers *@192.0.2.0/24 *@10.0.0.0/8"));
    host(
        &["plan", "--ssh-allow", "not-a-network"],
        root.path(),
        apps.path(),
    )
    .assert()
    .code(2)
    .stderr(contains("--ssh-allow"));
}

#[test]
fn docker_socket_permissions_are_checked_as_bits() {
    let apps = apps();
    let root = tempfile::tempdir().unwrap();
    write(root.path(), "var/run/docker.sock", "");
    for (mode, drifted) in [(0o606, true), (0o660, false), (0o600, false)] {
        std::fs::set_permissions(
            root.path().join("var/run/docker.sock"),
            std::fs::Permissions::from_mode(mode),
        )
        .unwrap();
        let out = host(&["plan"], root.path(), apps.path()).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert_eq!(
            text.contains("$ chmod 660 /var/run/docker.sock"),
            drifted,
            "{mode:o}\n{text}"
        );
    }
}

#[test]
fn duplicate_app_names_are_refused() {
    let apps = apps();
    std::fs::create_dir_all(apps.path().join("copy")).unwrap();
    for f in ["berth.json", "nginx.conf"] {
        std::fs::copy(
            apps.path().join("cloud").join(f),
            apps.path().join("copy").join(f),
        )
        .unwrap();
    }
    let root = tempfile::tempdir().unwrap();
    host(&["plan"], root.path(), apps.path())
        .assert()
        .code(2)
        .stderr(contains("two apps are named \"cloud\""));
}

/// Kill the process after each write in turn: every file is old or new, never half, and
/// the next apply converges to the same result as an uninterrupted one.
#[test]
fn a_crash_at_any_write_leaves_whole_files_and_the_next_apply_converges() {
    let apps = apps();
    let seed = "{\n  \"debug\": true\n}\n";
    let clean = tempfile::tempdir().unwrap();
    write(clean.path(), "etc/docker/daemon.json", seed);
    host(&["apply"], clean.path(), apps.path())
        .assert()
        .success();
    let expected: Vec<(String, Vec<u8>)> = MANAGED
        .iter()
        .map(|rel| {
            (
                rel.to_string(),
                std::fs::read(clean.path().join(rel)).unwrap(),
            )
        })
        .collect();
    for n in 1..=MANAGED.len() + 1 {
        let root = tempfile::tempdir().unwrap();
        write(root.path(), "etc/docker/daemon.json", seed);
        let status = host(&["apply"], root.path(), apps.path())
            .env("BERTH_TEST_ABORT_AFTER_WRITES", n.to_string())
            .output()
            .unwrap()
            .status;
        assert!(
            !status.success() || n > MANAGED.len(),
            "write {n}: did not abort"
        );
        for (rel, new) in &expected {
            let p = root.path().join(rel);
            if let Ok(now) = std::fs::read(&p) {
                let old_ok = *rel == "etc/docker/daemon.json" && now == seed.as_bytes();
                assert!(
                    now == *new || old_ok,
                    "write {n}: {rel} is neither old nor new"
                );
            }
        }
        let leftovers = tree(root.path())
            .into_iter()
            .filter(|(p, _)| p.to_string_lossy().contains(".berth-tmp"))
            .count();
        assert_eq!(leftovers, 0, "write {n}: temporary files left");
        host(&["apply"], root.path(), apps.path())
            .assert()
            .success();
        for (rel, new) in &expected {
            assert_eq!(
                &std::fs::read(root.path().join(rel)).unwrap(),
                new,
                "write {n}: {rel} did not converge"
            );
        }
    }
}

#[test]
fn the_merged_daemon_json_audits_with_nothing_above_low() {
    let apps = apps();
    let root = tempfile::tempdir().unwrap();
    host(&["apply"], root.path(), apps.path())
        .assert()
        .success();
    berth()
        .args(["audit", "--fail-on", "medium", "--daemon-config"])
        .arg(root.path().join("etc/docker/daemon.json"))
        .assert()
        .code(0);
}

fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

/// The real tools, as `./scripts/test` installs them (Debian's nginx, openssh-server and
/// fail2ban): missing means the tests did not run through it.
fn real(tool: &str) -> Option<PathBuf> {
    match which(tool) {
        Some(p) => Some(p),
        None if std::env::var_os("BERTH_TEST_SKIP_TOOLS").is_some() => {
            eprintln!("SKIPPED: {tool} is not installed and BERTH_TEST_SKIP_TOOLS is set");
            None
        }
        None => panic!(
            "{tool} is not installed: run ./scripts/test (it installs it), or set BERTH_TEST_SKIP_TOOLS=1"
        ),
    }
}

fn applied_root() -> (tempfile::TempDir, tempfile::TempDir) {
    let apps = apps();
    let root = tempfile::tempdir().unwrap();
    host(
        &["apply", "--ssh-allow", "10.0.0.0/8"],
        root.path(),
        apps.path(),
    )
    .assert()
    .success();
    (apps, root)
}

#[test]
fn nginx_accepts_the_installed_sites() {
    let Some(nginx) = real("nginx") else { return };
    let (_apps, root) = applied_root();
    let work = tempfile::tempdir().unwrap();
    let conf = work.path().join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "pid {w}/nginx.pid;\nerror_log {w}/error.log;\nevents {{}}\nhttp {{\n  access_log off;\n  client_body_temp_path {w};\n  proxy_temp_path {w};\n  fastcgi_temp_path {w};\n  uwsgi_temp_path {w};\n  scgi_temp_path {w};\n  include {r}/etc/nginx/conf.d/*.conf;\n}}\n",
            w = work.path().display(),
            r = root.path().display()
        ),
    )
    .unwrap();
    let out = Command::new(nginx)
        .arg("-t")
        .arg("-c")
        .arg(&conf)
        .arg("-p")
        .arg(work.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "nginx -t: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn sshd_accepts_the_drop_in() {
    let Some(sshd) = real("sshd").or_else(|| which("/usr/sbin/sshd")) else {
        return;
    };
    let (_apps, root) = applied_root();
    let work = tempfile::tempdir().unwrap();
    let key = work.path().join("host_key");
    let keygen = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(keygen.success());
    let conf = work.path().join("sshd_config");
    std::fs::write(
        &conf,
        format!(
            "Include {}/etc/ssh/sshd_config.d/*.conf\nHostKey {}\n",
            root.path().display(),
            key.display()
        ),
    )
    .unwrap();
    // sshd -t wants its privilege-separation directory, as the package creates it.
    let _ = std::fs::create_dir_all("/run/sshd");
    let out = Command::new(&sshd)
        .arg("-t")
        .arg("-f")
        .arg(&conf)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sshd -t: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // And the effective settings are berth's.
    let out = Command::new(&sshd)
        .arg("-T")
        .arg("-f")
        .arg(&conf)
        .args(["-C", "user=alice,host=h,addr=10.1.2.3"])
        .output()
        .unwrap();
    let effective = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(
        effective.contains("passwordauthentication no"),
        "{effective}"
    );
    assert!(effective.contains("permitrootlogin no"), "{effective}");
}

#[test]
fn fail2ban_accepts_the_jails() {
    let Some(client) = real("fail2ban-client") else {
        return;
    };
    let (_apps, root) = applied_root();
    let work = tempfile::tempdir().unwrap();
    let conf = work.path().join("fail2ban");
    let copy = Command::new("cp")
        .arg("-r")
        .arg("/etc/fail2ban")
        .arg(&conf)
        .status()
        .unwrap();
    assert!(copy.success());
    std::fs::copy(
        root.path().join("etc/fail2ban/jail.d/berth.conf"),
        conf.join("jail.d/berth.conf"),
    )
    .unwrap();
    // The nginx jail reads this log; on a host with nginx it exists.
    let _ = std::fs::create_dir_all("/var/log/nginx");
    let _ = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open("/var/log/nginx/error.log");
    let out = Command::new(client)
        .arg("-c")
        .arg(&conf)
        .arg("-t")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "fail2ban-client -t: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
