//! Compose files: writing them from the model (and, for the audit, reading them).

pub mod write;
pub mod yaml;
