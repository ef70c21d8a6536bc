//! Exact rendered output (insta snapshots): any change to what berth writes shows up as a
//! reviewable diff. Secrets come from a fixed test seed.

mod common;

use common::render;

fn snapshot_app(app: &str, web: bool) {
    let dir = tempfile::tempdir().unwrap();
    let out = render(app, web, dir.path());
    let mut files = vec!["compose.yaml", ".env", "berth.json"];
    if web {
        files.push("nginx.conf");
    }
    for file in files {
        let text = std::fs::read_to_string(out.join(file)).unwrap();
        insta::assert_snapshot!(format!("{app}-{file}"), text);
    }
}

#[test]
fn nextcloud() {
    snapshot_app("nextcloud", true);
}

#[test]
fn wireguard() {
    snapshot_app("wireguard", true);
}

#[test]
fn postgres() {
    snapshot_app("postgres", false);
}

#[test]
fn ollama() {
    snapshot_app("ollama", true);
}
