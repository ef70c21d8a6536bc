//! Compose files: writing them from the model (and, for the audit, reading them).

pub mod interpolate;
pub mod node;
pub mod project;
pub mod write;
pub mod yaml;
