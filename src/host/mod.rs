//! Host hardening: the baseline (pure) and the daemon.json merge (pure). The effects live
//! in `ops::host`.

pub mod baseline;
pub mod daemon_json;
