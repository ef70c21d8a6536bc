//! Errors a user can act on. Every variant says what was wrong, where, and what to do;
//! the exit code is part of the contract (see README "Exit codes").

use std::path::PathBuf;

/// Exit code for input berth refuses (bad flags, bad templates, bad files): nothing written.
pub const EXIT_BAD_INPUT: i32 = 2;
/// Exit code for an operation that failed part-way for a reason outside the input (I/O).
pub const EXIT_FAILED: i32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The user's input is wrong; the message says what to change.
    #[error("{0}")]
    Input(String),
    /// A catalog template is malformed (ours or a `--catalog DIR` one).
    #[error("template {path}: {message}")]
    Template { path: String, message: String },
    /// A filesystem operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub fn input(message: impl Into<String>) -> Self {
        Error::Input(message.into())
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Input(_) | Error::Template { .. } => EXIT_BAD_INPUT,
            Error::Io { .. } => EXIT_FAILED,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
