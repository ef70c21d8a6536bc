//! `berth render` end to end: every catalog app renders, Compose accepts it, and every
//! service carries the hardening contract (DESIGN.md) as Compose itself reads it.

mod common;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use common::{apps, berth, compose_config, render, tool, tree};
use serde_json::Value;

/// The contract, checked on Compose's normalized JSON for one service.
fn assert_hardened(app: &str, name: &str, svc: &Value, yaml_text: &str) {
    let ctx = format!("{app}/{name}");
    // identity
    let user = svc["user"]
        .as_str()
        .unwrap_or_else(|| panic!("{ctx}: no user"));
    let (uid, gid) = user
        .split_once(':')
        .unwrap_or_else(|| panic!("{ctx}: user {user}"));
    if uid == "0" {
        assert!(
            yaml_text.contains("# berth: allow user-root -- "),
            "{ctx}: root without a declared reason"
        );
    } else {
        assert!(uid.parse::<u32>().unwrap() >= 50_000, "{ctx}: uid {uid}");
        assert_eq!(uid, gid, "{ctx}: gid");
    }
    // privileges
    assert_eq!(
        svc["cap_drop"],
        serde_json::json!(["ALL"]),
        "{ctx}: cap_drop"
    );
    let caps: BTreeSet<&str> = svc["cap_add"]
        .as_array()
        .map(|a| a.iter().map(|c| c.as_str().unwrap()).collect())
        .unwrap_or_default();
    for cap in &caps {
        assert!(
            !matches!(
                *cap,
                "ALL" | "SYS_ADMIN" | "SYS_MODULE" | "SYS_PTRACE" | "SYS_RAWIO"
            ),
            "{ctx}: host-takeover capability {cap}"
        );
    }
    let secopt: BTreeSet<&str> = svc["security_opt"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(secopt.contains("no-new-privileges:true"), "{ctx}: nnp");
    assert!(
        secopt.iter().any(|o| o.starts_with("apparmor=")),
        "{ctx}: apparmor"
    );
    assert_eq!(svc["ipc"], "private", "{ctx}: ipc");
    assert!(
        svc.get("privileged").is_none_or(|p| p == false),
        "{ctx}: privileged"
    );
    for ns in ["network_mode", "pid", "uts", "userns_mode", "cgroup"] {
        assert!(svc.get(ns).is_none(), "{ctx}: {ns} set");
    }
    // filesystem
    assert_eq!(svc["read_only"], true, "{ctx}: read_only");
    let tmpfs: Vec<&str> = svc["tmpfs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    for dir in ["/tmp", "/run"] {
        let entry = tmpfs
            .iter()
            .find(|t| t.split(':').next() == Some(dir))
            .unwrap_or_else(|| panic!("{ctx}: no tmpfs {dir}"));
        assert!(
            entry.contains("noexec") && entry.contains("nosuid"),
            "{ctx}: {entry}"
        );
    }
    for v in svc["volumes"].as_array().into_iter().flatten() {
        let source = v["source"].as_str().unwrap_or("");
        assert!(!source.contains(".sock"), "{ctx}: socket mounted");
        match v["type"].as_str().unwrap() {
            // An app-owned bind mount under the app directory.
            // App data under data/, or berth's config files under config/, read-only.
            "bind" => assert!(
                source.contains(&format!("/{app}/data/"))
                    || (source.contains(&format!("/{app}/config/")) && v["read_only"] == true),
                "{ctx}: bind {source}"
            ),
            "volume" => {}
            other => panic!("{ctx}: mount type {other}"),
        }
    }
    // resources and logging
    // Compose normalizes sizes to a byte count, as a string.
    let mem: u64 = svc["mem_limit"].as_str().unwrap().parse().unwrap();
    assert!(mem >= 6 << 20, "{ctx}: mem_limit {mem}");
    assert!(svc["cpus"].as_f64().unwrap() > 0.0, "{ctx}: cpus");
    assert!(svc["pids_limit"].as_i64().unwrap() > 0, "{ctx}: pids_limit");
    assert_eq!(svc["logging"]["driver"], "json-file", "{ctx}");
    assert_eq!(svc["logging"]["options"]["max-size"], "10m", "{ctx}");
    assert_eq!(svc["logging"]["options"]["max-file"], "3", "{ctx}");
    assert_eq!(svc["restart"], "unless-stopped", "{ctx}");
    if svc["healthcheck"]["test"].is_null() {
        assert!(
            yaml_text.contains("# berth: allow healthcheck-missing -- "),
            "{ctx}: no healthcheck and no declared reason"
        );
    }
    // supply chain
    let image = svc["image"].as_str().unwrap();
    let tag = image.rsplit_once(':').map(|(_, t)| t).unwrap_or("");
    assert!(
        !tag.is_empty() && tag != "latest" && tag.contains('.'),
        "{ctx}: {image}"
    );
    // exposure
    for p in svc["ports"].as_array().into_iter().flatten() {
        let host_ip = p["host_ip"].as_str().unwrap_or("");
        match host_ip {
            "127.0.0.1" => {}
            "0.0.0.0" => assert!(
                yaml_text.contains("# berth: allow port-all-interfaces -- "),
                "{ctx}: public port without a declared reason"
            ),
            other => panic!("{ctx}: port on {other:?}"),
        }
    }
}

#[test]
fn every_app_renders_and_compose_accepts_it_hardened() {
    let Some(compose) = tool("BERTH_TEST_COMPOSE") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let apps = apps();
    assert!(apps.len() >= 14, "catalog has {} apps", apps.len());
    for (app, web) in apps {
        let out = render(&app, web, dir.path());
        let config = compose_config(&compose, &out);
        let yaml_text = std::fs::read_to_string(out.join("compose.yaml")).unwrap();
        let services = config["services"].as_object().unwrap();
        assert!(!services.is_empty());
        let networks = &config["networks"];
        for (name, svc) in services {
            assert_hardened(&app, name, svc, &yaml_text);
            // Sidecars: no published port, and on the internal network (only, unless the
            // template declares egress).
            let nets: Vec<&str> = svc["networks"]
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            if nets == ["backend"] {
                assert!(
                    svc.get("ports").is_none(),
                    "{app}/{name}: sidecar with ports"
                );
                assert_eq!(networks["backend"]["internal"], true, "{app}");
            }
        }
        // nginx proxies to the port compose publishes on loopback.
        if web {
            let conf = std::fs::read_to_string(out.join("nginx.conf")).unwrap();
            let port = conf
                .split("proxy_pass http://127.0.0.1:")
                .nth(1)
                .and_then(|s| s.split(';').next())
                .unwrap();
            let published: Vec<String> = services
                .values()
                .flat_map(|s| s["ports"].as_array().cloned().unwrap_or_default())
                .filter(|p| p["host_ip"] == "127.0.0.1")
                .map(|p| p["published"].as_str().unwrap().to_string())
                .collect();
            assert!(
                published.contains(&port.to_string()),
                "{app}: nginx -> {port}"
            );
        }
        // Secrets live in .env (0600) and never in compose.yaml.
        let env = std::fs::read_to_string(out.join(".env")).unwrap();
        let mode = std::fs::metadata(out.join(".env"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{app}: .env mode");
        for line in env.lines().filter(|l| !l.starts_with('#')) {
            let (_, value) = line.split_once('=').unwrap();
            assert!(value.len() >= 16);
            assert!(
                !yaml_text.contains(value),
                "{app}: a secret is inlined in compose.yaml"
            );
        }
    }
}

/// YAML 1.1 (PyYAML) and YAML 1.2 (serde-saphyr, Compose) read the same document.
#[test]
fn generated_yaml_means_the_same_to_yaml_1_1_and_1_2() {
    let Some(python) = tool("BERTH_TEST_PYTHON") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for (app, web) in apps() {
        let out = render(&app, web, dir.path());
        let file = out.join("compose.yaml");
        let py = Command::new(&python)
            .args([
                "-c",
                "import json,sys,yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
            ])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            py.status.success(),
            "{}",
            String::from_utf8_lossy(&py.stderr)
        );
        let yaml11: Value = serde_json::from_slice(&py.stdout).unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        let yaml12: Value = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(yaml11, yaml12, "{app}: YAML 1.1 and 1.2 readings differ");
    }
}

#[test]
fn same_inputs_and_seed_give_the_same_bytes() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    for (app, web) in apps() {
        let ra = tree(&render(&app, web, a.path()));
        let rb = tree(&render(&app, web, b.path()));
        let strip = |t: Vec<(std::path::PathBuf, Vec<u8>)>, root: &std::path::Path| {
            t.into_iter()
                .map(|(p, c)| (p.strip_prefix(root).unwrap().to_path_buf(), c))
                .collect::<Vec<_>>()
        };
        assert_eq!(strip(ra, a.path()), strip(rb, b.path()), "{app}");
    }
}

#[test]
fn rerender_changes_nothing_and_keeps_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cloud");
    let args = |seed: Option<&str>| {
        let mut cmd = berth();
        cmd.args([
            "render",
            "nextcloud",
            "--name",
            "cloud",
            "--domain",
            "c.example.com",
        ])
        .arg("--out")
        .arg(&out)
        .args(["--format", "json"]);
        if let Some(s) = seed {
            cmd.args(["--secret-seed", s]);
        }
        cmd
    };
    args(None).assert().success();
    let before = tree(&out);
    // A fresh random seed: the existing secrets are kept all the same.
    let second = args(None).output().unwrap();
    assert!(second.status.success());
    let report: Value = serde_json::from_slice(&second.stdout).unwrap();
    for f in report["files"].as_array().unwrap() {
        assert_eq!(f["change"], "unchanged", "{f}");
    }
    assert_eq!(before, tree(&out));
    assert!(report["backups"].as_array().unwrap().is_empty());
}

#[test]
fn a_changed_flag_updates_in_place_with_a_backup_and_flags_hand_edits() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pg");
    let render = |port: &str| {
        berth()
            .args([
                "render", "postgres", "--name", "pg", "--port", port, "--out",
            ])
            .arg(&out)
            .args(["--format", "json"])
            .output()
            .unwrap()
    };
    assert!(render("15432").status.success());
    let env_before = std::fs::read(out.join(".env")).unwrap();
    let compose = out.join("compose.yaml");
    let edited = std::fs::read_to_string(&compose).unwrap() + "# my edit\n";
    std::fs::write(&compose, &edited).unwrap();

    let second = render("15433");
    assert!(second.status.success());
    let report: Value = serde_json::from_slice(&second.stdout).unwrap();
    let compose_report = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["file"] == "compose.yaml")
        .unwrap();
    assert_eq!(compose_report["change"], "updated");
    assert_eq!(compose_report["edited_by_hand"], true);
    let text = std::fs::read_to_string(&compose).unwrap();
    assert!(text.contains("\"0.0.0.0:15433:5432/tcp\""));
    // The hand-edited file is in the backup, and the secrets did not change.
    let backups: Vec<String> = report["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_str().unwrap().to_string())
        .collect();
    let saved = backups
        .iter()
        .find(|b| b.ends_with("compose.yaml"))
        .unwrap();
    assert_eq!(std::fs::read_to_string(saved).unwrap(), edited);
    assert_eq!(std::fs::read(out.join(".env")).unwrap(), env_before);
}

#[test]
fn secrets_never_reach_the_output() {
    let dir = tempfile::tempdir().unwrap();
    for format in ["text", "json"] {
        let out = dir.path().join(format);
        let run = berth()
            .args([
                "render",
                "librechat",
                "--name",
                "chat",
                "--domain",
                "chat.example.com",
            ])
            .arg("--out")
            .arg(&out)
            .args(["--format", format])
            .output()
            .unwrap();
        assert!(run.status.success());
        let printed = String::from_utf8_lossy(&run.stdout).to_string()
            + &String::from_utf8_lossy(&run.stderr);
        let env = std::fs::read_to_string(out.join(".env")).unwrap();
        for line in env.lines().filter(|l| !l.starts_with('#')) {
            let value = line.split_once('=').unwrap().1;
            assert!(!printed.contains(value), "a secret was printed ({format})");
            let manifest = std::fs::read_to_string(out.join("berth.json")).unwrap();
            assert!(!manifest.contains(value), "a secret is in berth.json");
        }
    }
}

#[test]
fn set_changes_a_declared_setting() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pg");
    berth()
        .args([
            "render",
            "postgres",
            "--name",
            "pg",
            "--set",
            "USER=app\"o'k",
            "--out",
        ])
        .arg(&out)
        .assert()
        .success();
    let text = std::fs::read_to_string(out.join("compose.yaml")).unwrap();
    assert!(text.contains(r#"POSTGRES_USER: "app\"o'k""#), "{text}");
}

/// Bad input: a clear message, exit 2, nothing written.
#[test]
fn bad_input_is_refused_with_exit_2_and_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    let foreign = dir.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "mine").unwrap();
    let a_file = dir.path().join("a-file");
    std::fs::write(&a_file, "x").unwrap();

    let web = ["--domain", "ok.example.com"];
    let long_name = "a".repeat(32);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["nope", "--name", "x"], "unknown app \"nope\""),
        (
            vec!["nextcloud", "--name", "Bad_Name", web[0], web[1]],
            "invalid app name",
        ),
        (
            vec!["nextcloud", "--name", "x;rm", web[0], web[1]],
            "invalid app name",
        ),
        (
            vec!["nextcloud", "--name", &long_name, web[0], web[1]],
            "invalid app name",
        ),
        (
            vec!["nextcloud", "--name", "x", "--domain", "bad domain"],
            "invalid domain",
        ),
        (
            vec!["nextcloud", "--name", "x", "--domain", "a.com;\nlisten 1"],
            "invalid domain",
        ),
        (vec!["nextcloud", "--name", "x"], "give --domain"),
        (
            vec!["postgres", "--name", "x", "--domain", "a.example.com"],
            "drop --domain",
        ),
        (
            vec!["postgres", "--name", "x", "--set", "NOPE=1"],
            "declares no such setting",
        ),
        (
            vec!["postgres", "--name", "x", "--set", "USER=a\nb"],
            "line break",
        ),
        (
            vec!["postgres", "--name", "x", "--set", "USER=$HOME"],
            "'$'",
        ),
        (
            vec!["postgres", "--name", "x", "--set", "USER"],
            "use KEY=VALUE",
        ),
        (
            vec!["postgres", "--name", "x", "--uid-base", "0"],
            "--uid-base",
        ),
        (
            vec!["postgres", "--name", "x", "--uid-base", "4294967295"],
            "--uid-base",
        ),
        (vec!["postgres", "--name", "x", "--port", "0"], "--port 0"),
    ];
    for (args, expect) in cases {
        let out = dir.path().join("out");
        berth()
            .arg("render")
            .args(&args)
            .arg("--out")
            .arg(&out)
            .assert()
            .code(2)
            .stderr(predicates::str::contains(expect));
        assert!(!out.exists(), "{args:?} wrote {}", out.display());
    }

    let before = tree(&foreign);
    berth()
        .args(["render", "postgres", "--name", "x", "--out"])
        .arg(&foreign)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("not a berth app directory"));
    assert_eq!(before, tree(&foreign));

    berth()
        .args(["render", "postgres", "--name", "x", "--out"])
        .arg(&a_file)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("not a directory"));

    // A berth directory of another app is not overwritten either.
    let other = dir.path().join("other");
    berth()
        .args(["render", "redis", "--name", "r", "--out"])
        .arg(&other)
        .assert()
        .success();
    let before = tree(&other);
    berth()
        .args(["render", "postgres", "--name", "r", "--out"])
        .arg(&other)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("holds berth app r (redis)"));
    assert_eq!(before, tree(&other));
}

#[test]
fn hostile_values_cannot_inject_into_compose_or_nginx() {
    // Values that pass validation still cannot change the document's structure.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x");
    berth()
        .args(["render", "postgres", "--name", "x", "--set"])
        .arg("USER=a\" , privileged: true, x: \"")
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let text = std::fs::read_to_string(out.join("compose.yaml")).unwrap();
    let doc: Value = serde_saphyr::from_str(&text).unwrap();
    let svc = &doc["services"]["postgres"];
    assert!(svc.get("privileged").is_none());
    assert_eq!(
        svc["environment"]["POSTGRES_USER"],
        "a\" , privileged: true, x: \""
    );
}
