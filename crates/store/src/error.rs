//! The one error type of the store crate.

use std::path::PathBuf;

/// A failure of the embedded database itself, never of the caller's input.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage failure: {0}")]
    Engine(#[from] fjall::Error),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("another process holds the store in {0}: stop it first")]
    Locked(PathBuf),
    #[error("moving the sled store in {dir} to fjall failed, nothing was changed: {reason}")]
    Migration { dir: PathBuf, reason: String },
    #[error("stored value in table `{table}` under `{key}` is corrupt: {reason}")]
    Corrupt {
        table: &'static str,
        key: String,
        reason: String,
    },
    #[error("flushing to disk failed: {0}")]
    Flush(String),
    #[error("the disk is full: {0}")]
    DiskFull(String),
    #[error("table `{0}` was not declared when the store was opened")]
    UnknownTable(&'static str),
    #[error("the store is shutting down")]
    Closed,
    #[error(transparent)]
    Format(#[from] crate::format::FormatError),
}

impl StoreError {
    /// Whether the failure is the disk having no room left: the caller can
    /// try again once an operator has made room.
    pub fn is_disk_full(&self) -> bool {
        match self {
            StoreError::DiskFull(_) => true,
            StoreError::Engine(err) => is_disk_full(err),
            StoreError::Io { source, .. } => source.kind() == std::io::ErrorKind::StorageFull,
            _ => false,
        }
    }

    /// An I/O failure on `path`.
    pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
        move |source| StoreError::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// Whether fjall failed for want of disk space.
pub(crate) fn is_disk_full(err: &fjall::Error) -> bool {
    let io = match err {
        fjall::Error::Io(io) => io,
        fjall::Error::Storage(fjall::LsmError::Io(io)) => io,
        _ => return false,
    };
    io.kind() == std::io::ErrorKind::StorageFull
}
