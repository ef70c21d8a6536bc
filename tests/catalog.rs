//! `berth catalog` and `--catalog DIR`: the catalog as a user sees it, and the templates
//! berth refuses to load.

mod common;

use std::path::Path;

use common::berth;
use predicates::str::contains;
use serde_json::Value;

#[test]
fn list_shows_every_app_with_its_services() {
    let out = berth().args(["catalog", "list"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for app in [
        "nextcloud",
        "librechat",
        "open-webui",
        "umami",
        "supabase",
        "wireguard",
        "ollama",
        "wordpress",
        "ghost",
        "browserless",
        "postgres",
        "mariadb",
        "redis",
        "mongodb",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(app)),
            "{app} missing:\n{text}"
        );
    }
    assert!(text.contains("nextcloud") && text.contains("[app, db, redis]"));
}

#[test]
fn list_json_is_machine_readable() {
    let out = berth()
        .args(["catalog", "list", "--format", "json"])
        .output()
        .unwrap();
    let apps: Value = serde_json::from_slice(&out.stdout).unwrap();
    let supabase = apps
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["app"] == "supabase")
        .unwrap();
    assert_eq!(supabase["services"].as_array().unwrap().len(), 12);
}

#[test]
fn show_explains_services_ports_profiles_and_settings() {
    berth()
        .args(["catalog", "show", "wireguard"])
        .assert()
        .success()
        .stdout(contains("ghcr.io/wg-easy/wg-easy:15.3.0"))
        .stdout(contains("51820/udp on 0.0.0.0"))
        .stdout(contains("51821/tcp on 127.0.0.1, behind nginx"))
        .stdout(contains("profile   vpn [NET_ADMIN]"))
        .stdout(contains("+cap      NET_RAW"))
        .stdout(contains("user      root: configures the wg0 interface"));
    let out = berth()
        .args(["catalog", "show", "postgres", "--format", "json"])
        .output()
        .unwrap();
    let t: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(t["services"]["postgres"]["image"], "postgres:17.11");
    assert_eq!(t["settings"]["USER"]["default"], "postgres");
    berth()
        .args(["catalog", "show", "nope"])
        .assert()
        .code(2)
        .stderr(contains("unknown app \"nope\""));
}

const GOOD: &str = r#"app: hello
version: 3
title: Hello
description: A test app.
secrets:
  KEY:
    description: a key
services:
  web:
    role: web
    image: example/hello:1.2.3
    profile: none
    ports:
      - container: 8000
        proxy: true
    limits: {memory: 64m, cpus: 0.25, pids: 32}
    healthcheck:
      test: ["CMD", "/hello", "--check"]
    environment:
      KEY: "{{secret:KEY}}"
"#;

#[test]
fn a_custom_catalog_directory_renders_like_the_builtin_one() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hello.yaml"), GOOD).unwrap();
    std::fs::write(dir.path().join("README.txt"), "ignored").unwrap();
    berth()
        .arg("--catalog")
        .arg(dir.path())
        .args(["catalog", "list"])
        .assert()
        .success()
        .stdout(contains("hello"))
        .stdout(contains("nextcloud").not());
    let out = dir.path().join("out");
    berth()
        .arg("--catalog")
        .arg(dir.path())
        .args([
            "render",
            "hello",
            "--name",
            "hi",
            "--domain",
            "hi.example.com",
            "--out",
        ])
        .arg(&out)
        .assert()
        .success();
    let compose = std::fs::read_to_string(out.join("compose.yaml")).unwrap();
    assert!(compose.contains("\"127.0.0.1:8080:8000/tcp\""));
    assert!(compose.contains("KEY: \"${KEY:?KEY is missing from .env}\""));
}

use predicates::prelude::PredicateBooleanExt;

/// `catalog list` over `dir` fails with exit 2 and every `expect` in its message.
fn list_refused(dir: &Path, expect: &[&str]) {
    let out = berth()
        .arg("--catalog")
        .arg(dir)
        .args(["catalog", "list"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for e in expect {
        assert!(stderr.contains(e), "{e:?} not in {stderr}");
    }
}

/// Each broken template is refused with its path and what is wrong, exit 2.
#[test]
fn broken_templates_are_refused_with_a_clear_error() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "image: example/hello:1.2.3",
            "image: example/hello:latest",
            "is not pinned",
        ),
        (
            "image: example/hello:1.2.3",
            "image: example/hello",
            "is not pinned",
        ),
        (
            "image: example/hello:1.2.3",
            "image: example/hello:1",
            "is not pinned",
        ),
        ("profile: none", "profile: root", "unknown variant"),
        ("role: web", "role: sidecar", "a sidecar publishes no port"),
        (
            "{{secret:KEY}}",
            "{{secret:NOPE}}",
            "is not declared in `secrets`",
        ),
        ("{{secret:KEY}}", "{{nope}}", "unknown placeholder"),
        (
            "profile: none",
            "profile: none\n    privileged: true",
            "unknown field `privileged`",
        ),
        (
            "profile: none",
            "profile: none\n    cap_add: [{cap: SYS_ADMIN, why: ''}]",
            "needs a `why`",
        ),
        (
            "profile: none",
            "profile: none\n    cap_add: [{cap: ALL, why: x}]",
            "never allowed",
        ),
        (
            "profile: none",
            "profile: none\n    cap_add: [{cap: FOO, why: x}]",
            "not a Linux capability",
        ),
        (
            "profile: none",
            "profile: none\n    root: {why: ' '}",
            "`root` needs a `why`",
        ),
        ("memory: 64m", "memory: lots", "limits.memory"),
        ("app: hello", "app: other", "must match"),
        (
            "proxy: true",
            "proxy: false",
            "needs one port with `proxy: true`",
        ),
        ("description: a key", "description: [unclosed", ""),
    ];
    for (from, to, expect) in cases {
        let dir = tempfile::tempdir().unwrap();
        let text = GOOD.replacen(from, to, 1);
        assert_ne!(text, GOOD, "{from} not found");
        std::fs::write(dir.path().join("hello.yaml"), &text).unwrap();
        list_refused(dir.path(), &["hello.yaml", *expect]);
    }
}

#[test]
fn hostile_catalog_files_are_refused_not_panicked_on() {
    let dir = tempfile::tempdir().unwrap();
    // Not UTF-8.
    std::fs::write(dir.path().join("bad.yaml"), [0xff, 0xfe, b'a']).unwrap();
    list_refused(dir.path(), &["not UTF-8"]);
    // Too large.
    std::fs::write(dir.path().join("bad.yaml"), "#".repeat(2 << 20)).unwrap();
    list_refused(dir.path(), &["at most"]);
    // An alias bomb.
    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        bomb.push_str(&format!(
            "{}: &{} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n",
            (b'a' + i) as char,
            (b'a' + i) as char,
            p = (b'a' + i - 1) as char
        ));
    }
    std::fs::write(dir.path().join("bad.yaml"), bomb).unwrap();
    list_refused(dir.path(), &["bad.yaml"]);
    // An empty directory, and one that does not exist.
    let empty = tempfile::tempdir().unwrap();
    list_refused(empty.path(), &["no *.yaml templates"]);
    list_refused(Path::new("/nonexistent/berth"), &["/nonexistent/berth"]);
}

#[test]
fn help_teaches() {
    berth()
        .arg("--help")
        .assert()
        .success()
        .stdout(contains("Examples:"))
        .stdout(contains("Exit codes"));
    berth()
        .args(["render", "--help"])
        .assert()
        .success()
        .stdout(contains("--set <KEY=VALUE>"))
        .stdout(contains("backup"));
}
