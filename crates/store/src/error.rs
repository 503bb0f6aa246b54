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

/// What the disk must keep free for a store that stopped writing to count
/// as one whose disk filled: a memtable written out, and some.
const LOW_SPACE: u64 = 64 << 20;

/// `err`, a failure of fjall while writing to the store in `dir`, as the
/// caller should hear it. fjall stops accepting writes ("poisoned") once
/// a background flush of its memtables has failed; when that happens on a
/// disk with almost no room left, the disk filled, and the store writes
/// again only after a restart.
pub(crate) fn write_failure(err: fjall::Error, dir: &std::path::Path) -> StoreError {
    if is_disk_full(&err) {
        return StoreError::DiskFull(err.to_string());
    }
    if matches!(err, fjall::Error::Poisoned)
        && let Ok(disk) = rustix::fs::statvfs(dir)
    {
        let free = disk.f_bavail.saturating_mul(disk.f_frsize);
        if free < LOW_SPACE {
            return StoreError::DiskFull(format!(
                "the store stopped writing when its disk filled ({} KiB free): make room, \
                 then restart the service",
                free >> 10
            ));
        }
    }
    StoreError::Engine(err)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_is_told_as_such_and_a_stopped_store_with_room_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let full = fjall::Error::Io(std::io::ErrorKind::StorageFull.into());
        assert!(write_failure(full, dir.path()).is_disk_full());
        // The temp directory's disk has more than 64 MiB free here; a
        // stopped store on a nearly full disk is the fault suite's
        // (`tests/faults.rs`, a tmpfs of 2 MiB).
        let stopped = write_failure(fjall::Error::Poisoned, dir.path());
        assert!(matches!(stopped, StoreError::Engine(_)), "{stopped}");
        let other = fjall::Error::Io(std::io::ErrorKind::PermissionDenied.into());
        assert!(!write_failure(other, dir.path()).is_disk_full());
    }
}
