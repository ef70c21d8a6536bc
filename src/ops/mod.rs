//! Operations: what the CLI commands do, as library functions. They call the pure core and
//! do the effects (files, clock, randomness); they print nothing.

pub mod audit;
pub mod deploy;
pub mod host;
pub mod render;
pub mod verify;
