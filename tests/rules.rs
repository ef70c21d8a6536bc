//! Every rule's own fixtures (Clippy-style): `tests/rules/<id>/fire.yaml` marks each line
//! that must fire with `#~ fire`; `pass.yaml` must not fire at all. Daemon rules use
//! `fire.json` and `pass.json`, with the expected lines listed in `fire.lines`. Meta rules
//! (the audit's findings about its own input) are tested in tests/audit.rs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use berth::audit::engine;
use berth::audit::rule::Check;
use berth::audit::rules;
use berth::audit::suppress::Config;
use berth::compose::project::{self, RealFs};

fn dir(id: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/rules")
        .join(id)
}

fn compose_lines(path: &Path, id: &str) -> BTreeSet<u32> {
    let p = project::load(&RealFs, &[path.to_path_buf()], None)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    engine::audit_project(&p, &Config::default())
        .into_iter()
        .filter(|f| f.rule.id == id && f.suppressed.is_none())
        .map(|f| f.line)
        .collect()
}

fn daemon_lines(path: &Path, id: &str) -> BTreeSet<u32> {
    let text = std::fs::read_to_string(path).unwrap();
    engine::audit_daemon(path, &text, &Config::default())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .into_iter()
        .filter(|f| f.rule.id == id)
        .map(|f| f.line)
        .collect()
}

#[test]
fn every_rule_fires_on_its_fixture_and_passes_its_counterexample() {
    let mut problems = Vec::new();
    for rule in rules::all() {
        let d = dir(rule.id);
        match rule.check {
            Check::Service(_) => {
                let (fire, pass) = (d.join("fire.yaml"), d.join("pass.yaml"));
                if !fire.exists() || !pass.exists() {
                    problems.push(format!("{}: missing fire.yaml or pass.yaml", rule.id));
                    continue;
                }
                let text = std::fs::read_to_string(&fire).unwrap();
                let expected: BTreeSet<u32> = text
                    .lines()
                    .enumerate()
                    .filter(|(_, l)| l.contains("#~ fire"))
                    .map(|(i, _)| i as u32 + 1)
                    .collect();
                if expected.is_empty() {
                    problems.push(format!("{}: fire.yaml marks no line", rule.id));
                }
                let got = compose_lines(&fire, rule.id);
                if got != expected {
                    problems.push(format!(
                        "{}: fired on {got:?}, expected {expected:?}",
                        rule.id
                    ));
                }
                let passed = compose_lines(&pass, rule.id);
                if !passed.is_empty() {
                    problems.push(format!("{}: pass.yaml fired on {passed:?}", rule.id));
                }
            }
            Check::Daemon(_) => {
                let (fire, pass, lines) = (
                    d.join("fire.json"),
                    d.join("pass.json"),
                    d.join("fire.lines"),
                );
                if !fire.exists() || !pass.exists() || !lines.exists() {
                    problems.push(format!(
                        "{}: missing fire.json, fire.lines or pass.json",
                        rule.id
                    ));
                    continue;
                }
                let expected: BTreeSet<u32> = std::fs::read_to_string(&lines)
                    .unwrap()
                    .split_whitespace()
                    .map(|n| n.parse().unwrap())
                    .collect();
                let got = daemon_lines(&fire, rule.id);
                if got != expected || expected.is_empty() {
                    problems.push(format!(
                        "{}: fired on {got:?}, expected {expected:?}",
                        rule.id
                    ));
                }
                let passed = daemon_lines(&pass, rule.id);
                if !passed.is_empty() {
                    problems.push(format!("{}: pass.json fired on {passed:?}", rule.id));
                }
            }
            Check::Meta => {}
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}
