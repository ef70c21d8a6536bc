//! Arbitrary text as daemon.json: strict JSON check, located parse, every daemon rule.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = berth::audit::engine::audit_daemon(
            std::path::Path::new("daemon.json"),
            text,
            &Default::default(),
        );
    }
});
