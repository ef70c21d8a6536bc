//! The audit: compose files and daemon.json against one registry of rules.
//!
//! compose files ─► compose::project (located tree) ─► posture ─► rules ─► findings
//! daemon.json  ─► daemon_config (located tree) ───────────────► rules ─► findings

pub mod daemon_config;
pub mod engine;
pub mod posture;
pub mod rule;
pub mod rules;
pub mod suppress;

pub use engine::Finding;
