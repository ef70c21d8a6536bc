//! Arbitrary bytes through everything the audit does to a compose file: parse, interpolate,
//! merge with an override, build postures, run every rule, apply suppressions, render every
//! report. Nothing may panic, loop or blow the stack.
#![no_main]

use std::path::{Path, PathBuf};

use berth::audit::engine;
use berth::compose::project::{self, Fs};
use libfuzzer_sys::fuzz_target;

struct OneFile(Vec<u8>);

impl Fs for OneFile {
    fn read(&self, path: &Path, _limit: u64) -> std::io::Result<Vec<u8>> {
        if path.ends_with("compose.yaml") || path.ends_with("override.yaml") {
            Ok(self.0.clone())
        } else {
            Ok(b"A=1\nB=${A}\n".to_vec())
        }
    }
    fn exists(&self, path: &Path) -> bool {
        !path.ends_with("missing.yaml")
    }
}

fuzz_target!(|data: &[u8]| {
    let fs = OneFile(data.to_vec());
    let files: Vec<PathBuf> = vec!["/p/compose.yaml".into(), "/p/override.yaml".into()];
    for n in 1..=2 {
        if let Ok(p) = project::load(&fs, &files[..n], None) {
            let findings = engine::audit_project(&p, &Default::default());
            let report = berth::report::Report {
                findings: findings.into(),
                errors: Vec::new(),
                files: p.files.len(),
                services: p.services.len(),
            };
            let _ = berth::report::text::render(&report, true, true);
            let _ = berth::report::json::render(&report);
            let _ = berth::report::sarif::render(&report);
            let _ = berth::report::html::render(&report);
        }
    }
});
