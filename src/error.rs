//! Typed errors of the library.
//!
//! Every message says what was wrong, where (file, line and column for configuration) and what to do.
//! Nothing in the library panics on bad input: it returns one of these.

use std::fmt;
use std::path::PathBuf;

/// Everything that can go wrong while building or restoring a [`Guard`](crate::Guard).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration file could not be read.
    #[error("cannot read config file {}: {source}; check the path and its permissions", path.display())]
    ReadConfig {
        /// The file that was asked for.
        path: PathBuf,
        /// Why reading failed.
        #[source]
        source: std::io::Error,
    },
    /// The configuration was read but is not valid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A snapshot of the engine's memory could not be restored.
    #[error("cannot restore the guard's memory: {0}")]
    Snapshot(String),
    /// The shared store (Redis) cannot be used: a URL it cannot take, or a server that refused.
    /// The message never holds a password.
    #[error("store {url}: {why}")]
    Store {
        /// The store's URL, without its password.
        url: String,
        /// What went wrong and what to do.
        why: String,
    },
}

/// A configuration that was rejected, with where and why.
///
/// Displays as `FILE:LINE:COLUMN: MESSAGE`, the form editors and compilers use, so a terminal or an
/// editor can jump to the spot. `FILE` is `<string>` for configuration given as text and the location
/// is omitted for a [`Config`](crate::Config) built in code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file (or `<string>`) the configuration came from; `None` for a `Config` built in code.
    pub origin: Option<String>,
    /// 1-based line of the offending text, when known.
    pub line: Option<usize>,
    /// 1-based column of the offending text, when known.
    pub column: Option<usize>,
    /// The dotted key at fault (`guard.burst_max_events`), when one key is at fault.
    pub key: Option<String>,
    /// What was wrong and what was expected.
    pub message: String,
}

impl ConfigError {
    pub(crate) fn new(key: Option<String>, message: impl Into<String>) -> Self {
        ConfigError {
            origin: None,
            line: None,
            column: None,
            key,
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(origin) = &self.origin {
            write!(f, "{origin}:")?;
            if let (Some(line), Some(column)) = (self.line, self.column) {
                write!(f, "{line}:{column}:")?;
            }
            write!(f, " ")?;
        }
        if let Some(key) = &self.key {
            write!(f, "`{key}`: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}
