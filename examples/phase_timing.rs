use berth::compose::{node, project};
use std::time::Instant;
fn main() {
    let dir = std::env::args().nth(1).unwrap();
    let files: Vec<std::path::PathBuf> = walkdir::WalkDir::new(&dir)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name() == "compose.yaml")
        .map(|e| e.path().to_path_buf())
        .collect();
    let t = Instant::now();
    let texts: Vec<String> = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    eprintln!("read {} files: {:?}", files.len(), t.elapsed());
    let t = Instant::now();
    let mut n = 0;
    for tx in &texts {
        n += node::parse(tx, 0).is_ok() as usize;
    }
    eprintln!("parse only (1 thread): {:?} ({n})", t.elapsed());
    let t = Instant::now();
    let projects: Vec<_> = files
        .iter()
        .map(|f| project::load(&project::RealFs, &[f.clone()], None).unwrap())
        .collect();
    eprintln!("load (parse+interp+extends, 1 thread): {:?}", t.elapsed());
    let t = Instant::now();
    let mut k = 0;
    for p in &projects {
        k += berth::audit::engine::audit_project(p, &Default::default()).len();
    }
    eprintln!(
        "audit (posture+rules+suppress, 1 thread): {:?} ({k} findings)",
        t.elapsed()
    );
}
