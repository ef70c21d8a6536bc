//! Operations: what the CLI commands do, as library functions. They call the pure core and
//! do the effects (files, clock, randomness); they print nothing.

pub mod audit;
pub mod deploy;
pub mod host;
pub mod render;
pub mod verify;

/// Whether berth runs as root (its effective UID, as the kernel reports it).
pub fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}
