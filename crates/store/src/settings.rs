//! How a store's fjall keyspace is opened: where it lives in the store's
//! directory, its memory, whether new tables compress, and the lock that
//! keeps a second process (or a second handle in this one) out.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::StoreError;

/// How long [`crate::Store::open`] waits for another handle on the same
/// directory to let go: a service restarting inside one process drops its
/// old store a moment after the new one starts. Another process holding
/// the lock still fails, once this has passed.
const LOCK_WAIT: Duration = Duration::from_secs(5);

/// The block cache unless a service is told otherwise: 32 MiB. At 64 MiB
/// the registry and the risk service peaked above 300 MB under a bulk load
/// of 100,000 projects; at 32 none did, and the load ran no slower that
/// single runs could tell (BENCHMARKS.md, "Each service under 300 MB at
/// 100,000 projects").
pub const DEFAULT_CACHE_BYTES: u64 = 32 << 20;

/// The most the keyspace's tables hold in memory before writing them out
/// (fjall's memtables, all tables together).
const WRITE_BUFFER_BYTES: u64 = 32 << 20;

/// The size of the files a table's compactions write (fjall's leveled
/// strategy; its default is 64 MiB). A compaction holds 16 bytes per key of
/// the file it is writing until that file is done, for its bloom filter: at
/// 64 MiB of compressed reports, tens of MB in the registry at its peak
/// (BENCHMARKS.md, "The registry's memory at 100,000 projects"). A table
/// keeps what it was made with.
pub(crate) const COMPACTED_FILE_BYTES: u32 = 16 << 20;

/// The journal fjall allows before it halts every writer until the oldest
/// memtables are written out. fjall counts each journal file at its
/// preallocated 32 MiB however little it holds: 2 GiB is 64 journals, a
/// backstop the journal keeper (journals.rs) keeps far away by having
/// every table write its memtable out past 8. At 128 MiB (four journals)
/// writes halted for seconds under a steady 1,000 reports/s (BENCHMARKS.md,
/// "fjall's journal halts"). What an open after a crash replays is what
/// the journals hold, not this.
const JOURNAL_BYTES: u64 = 2 << 30;

/// How a store is opened.
#[derive(Clone, Debug)]
pub struct StoreSettings {
    /// Bytes of the block cache (the store's memory, beyond what the
    /// operating system caches).
    pub cache_bytes: u64,
    /// Whether a new table compresses its blocks (lz4); `None` means yes.
    /// A table keeps what it was made with.
    pub compress_new: Option<bool>,
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            cache_bytes: DEFAULT_CACHE_BYTES,
            compress_new: None,
        }
    }
}

impl StoreSettings {
    /// The options a table is created with.
    pub(crate) fn table_options(&self) -> fjall::PartitionCreateOptions {
        let compression = if self.compress_new.unwrap_or(true) {
            fjall::CompressionType::Lz4
        } else {
            fjall::CompressionType::None
        };
        let compaction = fjall::compaction::Leveled {
            target_size: COMPACTED_FILE_BYTES,
            ..Default::default()
        };
        fjall::PartitionCreateOptions::default()
            .compression(compression)
            .compaction_strategy(fjall::compaction::Strategy::Leveled(compaction))
    }
}

/// Where the keyspace lives inside a store's directory.
pub(crate) fn keyspace_dir(dir: &Path) -> PathBuf {
    dir.join("keyspace")
}

/// Opens the keyspace in `dir` (made if missing).
pub(crate) fn open_keyspace(
    dir: &Path,
    settings: &StoreSettings,
) -> Result<fjall::TxKeyspace, StoreError> {
    Ok(fjall::Config::new(dir)
        .cache_size(settings.cache_bytes)
        .max_write_buffer_size(WRITE_BUFFER_BYTES)
        .max_journaling_size(JOURNAL_BYTES)
        .open_transactional()?)
}

/// The store directory's lock, held for as long as the store is open.
#[derive(Debug)]
pub(crate) struct DirLock {
    _file: File,
}

impl DirLock {
    /// Takes the lock on `dir`, waiting up to [`LOCK_WAIT`] for another
    /// handle to let go of it.
    pub(crate) fn take(dir: &Path) -> Result<Self, StoreError> {
        let path = dir.join("lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(StoreError::io(&path))?;
        let deadline = Instant::now() + LOCK_WAIT;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Self { _file: file }),
                Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(StoreError::Locked(dir.to_owned()));
                }
                Err(std::fs::TryLockError::Error(err)) => return Err(StoreError::io(&path)(err)),
            }
        }
    }
}
