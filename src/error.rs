//! Errors for the outside world: bad files, bad shapes, bad numbers, bad flags.
//!
//! Every message names the place (file, layer, field) and what was expected. Bugs are not
//! errors: they panic. A run stopped by a limit is not an error either (`complete: false`).

use thiserror::Error;

/// An input that relu-regions refuses, with the place it came from.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum Error {
    /// The file is not valid JSON (or is truncated).
    #[error("{file}: not valid JSON: {reason}")]
    Json { file: String, reason: String },
    /// A field is missing, has the wrong type, shape or value.
    #[error("{file}: {field}: {reason}")]
    Field {
        file: String,
        field: String,
        reason: String,
    },
    /// A command-line value is unusable.
    #[error("{flag}: {reason}")]
    Usage { flag: String, reason: String },
    /// The input is valid but beyond what the chosen engine supports.
    #[error("{0}")]
    Unsupported(String),
}

impl Error {
    /// A bad field of a file (also used by the binary).
    pub fn field(file: &str, field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Field {
            file: file.to_string(),
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// A bad command-line value (also used by the binary).
    pub fn usage(flag: &str, reason: impl Into<String>) -> Self {
        Error::Usage {
            flag: flag.to_string(),
            reason: reason.into(),
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
