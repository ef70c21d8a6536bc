//! `berth audit` end to end: our own output, exit codes, report formats, suppressions,
//! Compose semantics, and hostile input.

mod common;

use std::path::Path;

use common::{apps, berth, render};
use predicates::str::contains;
use serde_json::Value;

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, text).unwrap();
    p
}

fn json_report(args: &[&str], dir: &Path) -> (Value, i32) {
    let out = berth()
        .current_dir(dir)
        .args(["audit", "--format", "json"])
        .args(args)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    (v, out.status.code().unwrap())
}

fn active<'a>(report: &'a Value, rule: &str) -> Vec<&'a Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == rule && f["suppressed"].is_null())
        .collect()
}

/// We eat our own cooking: every rendered app has no finding above low, and every
/// declared exception is a suppression with its reason.
#[test]
fn every_rendered_app_audits_clean() {
    let dir = tempfile::tempdir().unwrap();
    for (app, web) in apps() {
        render(&app, web, dir.path());
    }
    let (report, code) = json_report(&["--fail-on", "medium", "."], dir.path());
    assert_eq!(code, 0, "{report:#}");
    let findings = report["findings"].as_array().unwrap();
    for f in findings.iter().filter(|f| f["suppressed"].is_null()) {
        assert!(
            matches!(f["severity"].as_str(), Some("info") | Some("low")),
            "our own output: {f:#}"
        );
    }
    let suppressed: Vec<&Value> = findings
        .iter()
        .filter(|f| !f["suppressed"].is_null())
        .collect();
    assert!(!suppressed.is_empty());
    for f in suppressed {
        assert!(
            f["suppressed"]["reason"].as_str().unwrap().len() > 10,
            "{f:#}"
        );
    }
    assert!(report["summary"]["services"].as_u64().unwrap() >= 30);
}

const RISKY: &str = "services:\n  web:\n    image: nginx:1.27.3\n    privileged: true\n";

#[test]
fn exit_codes_follow_fail_on() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "compose.yaml", RISKY);
    berth()
        .current_dir(dir.path())
        .arg("audit")
        .assert()
        .code(1);
    let mild = tempfile::tempdir().unwrap();
    write(
        mild.path(),
        "compose.yaml",
        "services:\n  web:\n    image: nginx:1.27.3\n",
    );
    // Medium findings only: passes the default (high), fails --fail-on medium.
    berth()
        .current_dir(mild.path())
        .arg("audit")
        .assert()
        .code(0);
    berth()
        .current_dir(mild.path())
        .args(["audit", "--fail-on", "medium"])
        .assert()
        .code(1);
    // Unreadable input wins: exit 2.
    write(mild.path(), "sub/compose.yaml", "services: [\n");
    berth()
        .current_dir(mild.path())
        .arg("audit")
        .assert()
        .code(2);
    berth()
        .args(["audit", "/nonexistent/berth-audit"])
        .assert()
        .code(2)
        .stderr(contains("no such file or directory"));
}

#[test]
fn text_report_separates_fix_now_from_nice_to_have() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "compose.yaml", RISKY);
    let out = berth()
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .env("CLICOLOR_FORCE", "1")
        .arg("audit")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains('\u{1b}'), "NO_COLOR must win: {text}");
    let fix_now = text.find("Fix now").unwrap();
    let nice = text.find("Nice to have").unwrap();
    assert!(fix_now < nice);
    let privileged = text.find("[privileged]").unwrap();
    assert!(fix_now < privileged && privileged < nice);
    assert!(text.contains("compose.yaml:4:17"));
    assert!(text.contains("why: "));
    assert!(text.lines().last().unwrap().contains("1 file, 1 service"));
}

#[test]
fn json_findings_carry_location_service_and_references() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "compose.yaml", RISKY);
    let (report, _) = json_report(&[], dir.path());
    let f = active(&report, "privileged")[0];
    assert_eq!(f["severity"], "critical");
    assert_eq!(f["line"], 4);
    assert_eq!(f["column"], 17);
    assert_eq!(f["service"], "web");
    assert_eq!(f["references"]["cis"], serde_json::json!(["5.5"]));
    assert_eq!(
        f["references"]["compose_lint"],
        serde_json::json!(["CL-0002"])
    );
    assert_eq!(
        f["references"]["kics"][0],
        "ae5b6871-7f45-42e0-bb4c-ab300c4d2026"
    );
}

#[test]
fn sarif_validates_against_the_sarif_2_1_0_schema() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "compose.yaml", RISKY);
    write(
        dir.path(),
        "ok/compose.yaml",
        "services:\n  db:\n    image: postgres:17.1\n    # berth: allow port-all-interfaces -- public on purpose\n    ports: [\"5432:5432\"]\n",
    );
    let out = berth()
        .current_dir(dir.path())
        .args(["audit", "--format", "sarif", "--out", "r.sarif"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let sarif: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("r.sarif")).unwrap()).unwrap();
    let schema: Value =
        serde_json::from_str(include_str!("fixtures/sarif-schema-2.1.0.json")).unwrap();
    let validator = jsonschema::draft7::new(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let run = &sarif["runs"][0];
    assert!(run["tool"]["driver"]["rules"].as_array().unwrap().len() >= 49);
    let results = run["results"].as_array().unwrap();
    let privileged = results
        .iter()
        .find(|r| r["ruleId"] == "privileged")
        .unwrap();
    assert_eq!(privileged["level"], "error");
    assert_eq!(
        privileged["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "compose.yaml"
    );
    assert_eq!(
        privileged["locations"][0]["physicalLocation"]["region"]["startLine"],
        4
    );
    let suppressed = results
        .iter()
        .find(|r| r["ruleId"] == "port-all-interfaces")
        .unwrap();
    assert_eq!(
        suppressed["suppressions"][0]["justification"],
        "public on purpose"
    );
    let rule = &run["tool"]["driver"]["rules"][privileged["ruleIndex"].as_u64().unwrap() as usize];
    assert_eq!(rule["id"], "privileged");
    assert_eq!(rule["properties"]["security-severity"], "9.5");
}

#[test]
fn html_report_is_self_contained_and_escapes_input() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "compose.yaml",
        "services:\n  \"<script>alert(1)</script>\":\n    image: nginx:1.27.3\n    privileged: true\n",
    );
    berth()
        .current_dir(dir.path())
        .args(["audit", "--format", "html", "--out", "report.html"])
        .assert()
        .code(1)
        .stderr(contains("1 critical"));
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.starts_with("<!doctype html>"));
    assert!(html.contains("name=\"viewport\""));
    assert!(!html.contains("<script>alert"), "input must be escaped");
    for external in ["src=\"http", "href=\"http", "@import", "url("] {
        assert!(!html.contains(external), "external asset: {external}");
    }
    let fix_now = html.find("Fix now").unwrap();
    let nice = html.find("Nice to have").unwrap();
    let privileged = html.find("Privileged container").unwrap();
    assert!(fix_now < privileged && privileged < nice);
}

#[test]
fn inline_suppressions_need_a_known_rule_and_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "compose.yaml",
        "services:\n  web:\n    image: nginx:1.27.3\n    # berth: allow privileged\n    privileged: true\n    # berth: allow no-such-rule -- because\n    user: root # berth: allow user-root -- vendor image needs root\n",
    );
    let (report, code) = json_report(&[], dir.path());
    assert_eq!(code, 1, "a suppression without reason is not applied");
    assert_eq!(active(&report, "privileged").len(), 1);
    assert!(active(&report, "user-root").is_empty());
    let invalid = active(&report, "suppression-invalid");
    assert_eq!(invalid.len(), 2);
    assert_eq!(invalid[0]["line"], 4);
    assert!(
        invalid[0]["message"]
            .as_str()
            .unwrap()
            .contains("no reason")
    );
    assert!(
        invalid[1]["message"]
            .as_str()
            .unwrap()
            .contains("no-such-rule")
    );
}

#[test]
fn config_file_suppressions() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "compose.yaml", RISKY);
    write(
        dir.path(),
        "berth-audit.yaml",
        "suppress:\n  - rule: privileged\n    service: web\n    reason: lab machine, isolated VM\n  - rule: read-only-rootfs\n  - rule: nope\n    reason: x\n",
    );
    let (report, code) = json_report(
        &["--config", "berth-audit.yaml", "compose.yaml"],
        dir.path(),
    );
    assert_eq!(code, 0);
    let p = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "privileged")
        .unwrap();
    assert_eq!(p["suppressed"]["reason"], "lab machine, isolated VM");
    assert_eq!(
        active(&report, "read-only-rootfs").len(),
        1,
        "no reason: not applied"
    );
    let invalid = active(&report, "suppression-invalid");
    assert_eq!(invalid.len(), 2);
    assert!(
        invalid
            .iter()
            .all(|f| f["file"].as_str().unwrap().ends_with("berth-audit.yaml"))
    );
}

#[test]
fn override_files_merge_like_compose() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "compose.yaml",
        "services:\n  web:\n    image: nginx:1.27.3\n    read_only: true\n",
    );
    write(
        dir.path(),
        "override.yaml",
        "services:\n  web:\n    read_only: false\n    cap_add: [SYS_ADMIN]\n",
    );
    let (report, _) = json_report(&["compose.yaml", "-f", "override.yaml"], dir.path());
    let ro = active(&report, "read-only-rootfs");
    assert_eq!(ro[0]["file"], "override.yaml");
    assert_eq!(ro[0]["line"], 3);
    assert_eq!(
        active(&report, "cap-add-host-takeover")[0]["file"],
        "override.yaml"
    );
    // A directory picks up compose.override.yaml automatically.
    write(
        dir.path(),
        "compose.override.yaml",
        "services:\n  web:\n    privileged: true\n",
    );
    let (report, _) = json_report(&["."], dir.path());
    assert_eq!(
        active(&report, "privileged")[0]["file"],
        "./compose.override.yaml"
    );
    // The classic names too, with a subdirectory sorting between override and base; an
    // override whose base is absent is not a project of its own.
    let sub = dir.path().join("legacy");
    std::fs::create_dir_all(sub.join("docker-compose.p")).unwrap();
    write(
        &sub,
        "docker-compose.yml",
        "services:\n  db:\n    image: postgres:16.4\n",
    );
    write(
        &sub,
        "docker-compose.override.yml",
        "services:\n  db:\n    pid: host\n",
    );
    write(
        &sub.join("docker-compose.p"),
        "compose.override.yaml",
        "services:\n  x:\n    privileged: true\n",
    );
    let (report, _) = json_report(&["legacy"], dir.path());
    let pid = active(&report, "host-pid");
    assert_eq!(pid[0]["file"], "legacy/docker-compose.override.yml");
    assert_eq!(report["summary"]["files"], 2, "{report}");
}

#[test]
fn interpolation_reads_env_files_and_reports_the_written_line() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "compose.yaml",
        "services:\n  web:\n    image: nginx:${TAG:-latest}\n    ports:\n      - \"${BIND}:8080:80\"\n    user: ${RUN_AS:?set RUN_AS}\n",
    );
    let (report, _) = json_report(&["compose.yaml"], dir.path());
    assert_eq!(active(&report, "image-unpinned")[0]["line"], 3);
    assert_eq!(active(&report, "port-all-interfaces")[0]["line"], 5);
    assert_eq!(active(&report, "variable-required-unset")[0]["line"], 6);
    write(
        dir.path(),
        "prod.env",
        "TAG=1.27.3\nBIND=127.0.0.1\nRUN_AS=1000\n",
    );
    let (report, _) = json_report(&["compose.yaml", "--env-file", "prod.env"], dir.path());
    assert!(active(&report, "image-unpinned").is_empty());
    assert!(active(&report, "port-all-interfaces").is_empty());
    assert!(active(&report, "variable-required-unset").is_empty());
    assert!(
        active(&report, "image-no-digest")[0]["message"]
            .as_str()
            .unwrap()
            .contains("nginx:1.27.3")
    );
}

#[test]
fn daemon_config_is_audited_with_lines() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "daemon.json",
        "{\n  \"icc\": true,\n  \"hosts\": [\"tcp://0.0.0.0:2375\"]\n}\n",
    );
    let (report, code) = json_report(&["--daemon-config", "daemon.json"], dir.path());
    assert_eq!(code, 1);
    assert_eq!(active(&report, "daemon-tcp-no-tls")[0]["line"], 3);
    assert_eq!(active(&report, "daemon-icc")[0]["line"], 2);
    assert_eq!(active(&report, "daemon-live-restore")[0]["line"], 1);
    // CIS 3.18 as permission bits: 606 is "below 644" as a number but world-writable.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        dir.path().join("daemon.json"),
        std::fs::Permissions::from_mode(0o606),
    )
    .unwrap();
    let (report, _) = json_report(&["--daemon-config", "daemon.json"], dir.path());
    let perms = active(&report, "daemon-config-permissions");
    assert_eq!(perms.len(), 1, "{report:#}");
    assert!(perms[0]["message"].as_str().unwrap().contains("mode 606"));
    write(dir.path(), "bad.json", "{\n  \"icc\": true,\n}\n");
    let out = berth()
        .current_dir(dir.path())
        .args(["audit", "--daemon-config", "bad.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("bad.json:3:1"));
}

#[test]
fn hostile_input_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Invalid YAML: exit 2 with line and column.
    write(
        d,
        "a/compose.yaml",
        "services:\n  web:\n    image: [unclosed\n",
    );
    // A billion-laughs alias bomb.
    let mut bomb = String::from("x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..12 {
        bomb.push_str(&format!(
            "x{i}: &a{i} [{}]\n",
            vec![format!("*a{}", i - 1); 10].join(", ")
        ));
    }
    bomb.push_str("services:\n  web:\n    image: *a11\n");
    write(d, "b/compose.yaml", &bomb);
    // Not UTF-8.
    std::fs::create_dir_all(d.join("c")).unwrap();
    std::fs::write(d.join("c/compose.yaml"), [0xff, 0xfe, 0x00, b'a']).unwrap();
    // 100 MB.
    std::fs::create_dir_all(d.join("e")).unwrap();
    let big = std::fs::File::create(d.join("e/compose.yaml")).unwrap();
    big.set_len(100 << 20).unwrap();
    // Not a mapping; a service that is a list; deep nesting.
    write(d, "f/compose.yaml", "- just\n- a list\n");
    write(d, "g/compose.yaml", "services:\n  web: [1, 2]\n");
    write(
        d,
        "h/compose.yaml",
        &format!(
            "services:\n  web:\n    x: {}{}\n",
            "[".repeat(5000),
            "]".repeat(5000)
        ),
    );
    let start = std::time::Instant::now();
    let out = berth()
        .current_dir(d)
        .args(["audit", "--format", "json", "."])
        .output()
        .unwrap();
    let took = start.elapsed();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(took.as_secs() < 20, "hostile input took {took:?}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let errors = report["errors"].as_array().unwrap();
    let msg = |dir: &str| -> String {
        errors
            .iter()
            .find(|e| {
                e["file"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("{dir}/compose.yaml"))
            })
            .unwrap_or_else(|| panic!("no error for {dir}: {errors:#?}"))
            .to_string()
    };
    assert!(
        msg("a").contains("\"line\":3") || msg("a").contains("\"line\":4"),
        "{}",
        msg("a")
    );
    assert!(msg("b").contains("invalid YAML"));
    assert!(msg("c").contains("not UTF-8"));
    assert!(msg("e").contains("larger than 4 MiB"));
    assert!(msg("f").contains("mapping"));
    assert!(msg("g").contains("must be a mapping"));
    assert!(msg("h").contains("invalid YAML"));
}

#[test]
fn thousands_of_files_in_a_tree() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..2000 {
        write(
            dir.path(),
            &format!("s{}/app{i}/compose.yaml", i % 20),
            &format!(
                "services:\n  s{i}:\n    image: app:{i}.0\n    privileged: {}\n",
                i % 2 == 0
            ),
        );
        if i % 3 == 0 {
            write(
                dir.path(),
                &format!("s{}/app{i}/README.md", i % 20),
                "not compose",
            );
        }
    }
    let (report, code) = json_report(&["--quiet", "."], dir.path());
    assert_eq!(code, 1);
    assert_eq!(report["summary"]["files"], 2000);
    assert_eq!(active(&report, "privileged").len(), 1000);
}

#[test]
fn rules_command_lists_and_explains() {
    berth()
        .arg("rules")
        .assert()
        .success()
        .stdout(contains("docker-socket"))
        .stdout(contains("daemon-live-restore"));
    berth()
        .args(["rules", "show", "docker-socket"])
        .assert()
        .success()
        .stdout(contains("critical"))
        .stdout(contains("CIS Docker Benchmark v1.6.0: 5.32"))
        .stdout(contains("compose-lint: CL-0001"))
        .stdout(contains("# berth: allow docker-socket -- <reason>"));
    let out = berth()
        .args(["rules", "--format", "json"])
        .output()
        .unwrap();
    let rules: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(rules.as_array().unwrap().len() >= 49);
    berth().args(["rules", "show", "nope"]).assert().code(2);
}

/// The HTML report in a real browser: at 390 px (a phone) and 1280 px nothing is wider than
/// the screen, and the critical finding is in the first screenful on a phone.
#[test]
fn html_report_fits_a_phone_and_a_desktop_in_chromium() {
    let Some(chromium) = common::tool("BERTH_TEST_CHROMIUM") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "stack/compose.yaml",
        "services:\n  a-service-with-a-rather-long-name-that-might-overflow-a-phone-screen:\n    image: registry.example.com/some/very/long/repository/path/name:1.2.3\n    privileged: true\n    volumes:\n      - /var/run/docker.sock:/var/run/docker.sock\n",
    );
    berth()
        .current_dir(dir.path())
        .args(["audit", "stack", "--format", "html", "--out", "report.html"])
        .assert()
        .code(1);
    // The report is loaded into a frame of exactly phone (then desktop) size; a probe in
    // the outer page measures it and writes the numbers into the DOM Chromium prints.
    let report = dir.path().join("report.html");
    for (width, height) in [(390, 844), (1280, 900)] {
        let wrapper = format!(
            "<!doctype html><html><body style=\"margin:0\">\
             <iframe id=\"r\" src=\"file://{}\" width=\"{width}\" height=\"{height}\" style=\"border:0\"></iframe>\
             <script>document.getElementById('r').addEventListener('load', () => {{ \
               const f = document.getElementById('r'); const d = f.contentDocument.documentElement; \
               const first = f.contentDocument.querySelector('.card.critical').getBoundingClientRect(); \
               document.body.setAttribute('data-probe', JSON.stringify({{scroll: d.scrollWidth, width: f.contentWindow.innerWidth, firstTop: first.top}})); }});</script>\
             </body></html>",
            report.display()
        );
        let page = dir.path().join(format!("probe-{width}.html"));
        std::fs::write(&page, wrapper).unwrap();
        let out = std::process::Command::new(&chromium)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--allow-file-access-from-files",
                "--window-size=1400,1000",
                "--virtual-time-budget=3000",
                "--dump-dom",
            ])
            .arg(format!("file://{}", page.display()))
            .output()
            .unwrap();
        let dom = String::from_utf8_lossy(&out.stdout);
        let probe = dom
            .split("data-probe=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or_else(|| {
                panic!(
                    "no probe at {width}px: {}",
                    String::from_utf8_lossy(&out.stderr)
                )
            })
            .replace("&quot;", "\"");
        let v: Value = serde_json::from_str(&probe).unwrap();
        let (scroll, inner) = (v["scroll"].as_f64().unwrap(), v["width"].as_f64().unwrap());
        assert_eq!(inner, width as f64, "viewport at {width}px");
        assert!(
            scroll <= inner,
            "horizontal overflow at {width}px: {scroll} > {inner}"
        );
        assert!(
            v["firstTop"].as_f64().unwrap() < height as f64,
            "first critical finding below the fold at {width}px"
        );
    }
}

/// docs/rules.md is generated from the rule declarations and must not drift from them.
#[test]
fn rules_reference_is_current() {
    let out = berth()
        .args(["rules", "--format", "markdown"])
        .output()
        .unwrap();
    let generated = String::from_utf8(out.stdout).unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/rules.md");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        generated == committed,
        "docs/rules.md is out of date: run `cargo run -- rules --format markdown > docs/rules.md`"
    );
}
