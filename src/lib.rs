//! berth: secure Docker hosting by default. See ARCHITECTURE.md for the map.

pub mod audit;
pub mod catalog;
pub mod compose;
pub mod engine;
pub mod error;
pub mod fsx;
pub mod host;
pub mod image;
pub mod model;
pub mod nginx;
pub mod ops;
pub mod plan;
pub mod report;
pub mod state;
pub mod units;
pub mod validate;
