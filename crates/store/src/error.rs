//! The one error type of the store crate.

/// A failure of the embedded database itself, never of the caller's input.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage failure: {0}")]
    Sled(#[from] sled::Error),
    #[error("stored value in table `{table}` under `{key}` is corrupt: {reason}")]
    Corrupt {
        table: &'static str,
        key: String,
        reason: String,
    },
    #[error("transaction interrupted: {0}")]
    Transaction(String),
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
            StoreError::Sled(err) => is_disk_full(err),
            _ => false,
        }
    }
}

/// Whether sled failed for want of disk space.
pub(crate) fn is_disk_full(err: &sled::Error) -> bool {
    matches!(err, sled::Error::Io(io) if io.kind() == std::io::ErrorKind::StorageFull)
}
