//! The error type of the OCI module: every failure names the file or blob
//! it is about and the cause.

use std::path::{Path, PathBuf};

/// A failure of a store, layer or export operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file-system call failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What we were doing ("open", "rename into place" …).
        action: &'static str,
        /// The file it was about.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A JSON document could not be read or written.
    #[error("invalid JSON in {what}: {source}")]
    Json {
        /// The document (a path or a blob digest).
        what: String,
        /// The cause.
        source: serde_json::Error,
    },
    /// Data that does not follow the OCI specifications (bad digest string,
    /// wrong size, unknown layout version, bad image name …).
    #[error("{0}")]
    Invalid(String),
    /// A name or blob that is not in the store.
    #[error("{0}")]
    NotFound(String),
    /// A blob whose bytes do not match its digest.
    #[error("blob {digest} is corrupt: {detail}")]
    Corrupt {
        /// The digest the blob should have.
        digest: String,
        /// What differs.
        detail: String,
    },
    /// Another process holds a lock this operation needs.
    #[error("{0}")]
    Busy(String),
}

/// The result type of the OCI module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An [`Error::Io`] about `path`.
    pub fn io(action: &'static str, path: &Path, source: std::io::Error) -> Error {
        Error::Io { action, path: path.to_path_buf(), source }
    }

    /// An [`Error::Json`] about `what`.
    pub fn json(what: impl Into<String>, source: serde_json::Error) -> Error {
        Error::Json { what: what.into(), source }
    }
}

/// Attaches a path and an action to `std::io::Result`s.
pub(crate) trait IoContext<T> {
    fn at(self, action: &'static str, path: &Path) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, action: &'static str, path: &Path) -> Result<T> {
        self.map_err(|e| Error::io(action, path, e))
    }
}
