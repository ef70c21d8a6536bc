//! Criterion benchmarks of the audit's stages: parsing one compose file, loading and
//! auditing one project, and auditing a corpus of varied files end to end (without
//! printing). The corpus is written by benches/gen_corpus.py (python3), 1,000 projects by
//! default or BERTH_BENCH_CORPUS=DIR to use an existing one. benches/compare.sh times the
//! 10,000-file corpus from the command line against compose-lint.

use std::path::PathBuf;
use std::process::Command;

use berth::audit::engine;
use berth::audit::suppress::Config;
use berth::catalog::Catalog;
use berth::compose::{node, project};
use berth::plan::{self, Request, SecretSeed};
use criterion::{Criterion, criterion_group, criterion_main};

fn nextcloud_compose() -> String {
    let catalog = Catalog::builtin().expect("catalog");
    let template = catalog.get("nextcloud").expect("nextcloud");
    let request = Request {
        name: "bench".into(),
        domain: Some("bench.example.com".into()),
        uid_base: plan::DEFAULT_UID_BASE,
        port: None,
        settings: Default::default(),
    };
    plan::plan(
        template,
        &request,
        &SecretSeed([1; 32]),
        &Default::default(),
    )
    .expect("plan")
    .compose_yaml
}

fn corpus() -> (PathBuf, Option<tempfile::TempDir>) {
    if let Some(dir) = std::env::var_os("BERTH_BENCH_CORPUS") {
        return (PathBuf::from(dir), None);
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/gen_corpus.py");
    let status = Command::new("python3")
        .arg(script)
        .arg(tmp.path())
        .args(["1000", "1"])
        .status()
        .expect("python3 runs benches/gen_corpus.py");
    assert!(status.success());
    (tmp.path().to_path_buf(), Some(tmp))
}

fn benches(c: &mut Criterion) {
    let text = nextcloud_compose();
    c.bench_function("parse/nextcloud-compose", |b| {
        b.iter(|| node::parse(std::hint::black_box(&text), 0).expect("parse"))
    });

    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("compose.yaml");
    std::fs::write(&file, &text).expect("write");
    std::fs::write(dir.path().join(".env"), "DB_PASSWORD=x\n").expect("write");
    c.bench_function("load+audit/nextcloud-project", |b| {
        b.iter(|| {
            let p =
                project::load(&project::RealFs, std::slice::from_ref(&file), None).expect("load");
            engine::audit_project(&p, &Config::default())
        })
    });

    let (corpus, _keep) = corpus();
    let request = berth::ops::audit::Request {
        paths: vec![corpus],
        ..Default::default()
    };
    let mut group = c.benchmark_group("corpus");
    group.sample_size(10);
    group.bench_function("audit/1000-projects", |b| {
        b.iter(|| berth::ops::audit::run(&request).expect("audit"))
    });
    group.finish();
}

criterion_group!(audit, benches);
criterion_main!(audit);
