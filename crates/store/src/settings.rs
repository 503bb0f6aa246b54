//! How a store's sled database is opened: the page cache, whether pages
//! are compressed, and waiting for another handle to let go of the lock.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::StoreError;
use crate::format::Layout;

/// How long [`Store::open`] waits for another handle on the same directory
/// to let go: sled's background threads release the file lock a moment
/// after the last `Db` is dropped, which matters when a service restarts
/// inside one process. Another process holding the lock still fails.
const LOCK_WAIT: Duration = Duration::from_secs(5);

/// sled's page cache unless a service is told otherwise: 64 MiB (sled's
/// own default, 1 GiB, would let each service grow far past what it needs).
pub const DEFAULT_CACHE_BYTES: u64 = 64 << 20;

/// How a store is opened.
#[derive(Clone, Debug)]
pub struct StoreSettings {
    /// Bytes of sled's page cache (the store's memory, beyond what the
    /// operating system caches).
    pub cache_bytes: u64,
    /// Whether a new store compresses its pages with zstd; `None` leaves it
    /// to [`Layout::compress`]. A store keeps what it was made with: sled
    /// refuses to open it the other way.
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

/// zstd level of the pages of a compressed store: the fastest.
const COMPRESSION_LEVEL: i32 = 1;

/// Whether the store in `dir` compresses its pages: what sled recorded in
/// its `conf` when the store was made, or `new` when there is none yet.
pub(crate) fn compressed(dir: &Path, new: bool) -> bool {
    // The file is text lines followed by a binary checksum.
    match std::fs::read(dir.join("conf")) {
        Ok(conf) => conf
            .split(|&byte| byte == b'\n')
            .any(|line| line == b"use_compression: true"),
        Err(_) => new,
    }
}

/// sled's settings for the store of `layout` in `dir`.
pub(crate) fn sled_config(dir: &Path, layout: &Layout, settings: &StoreSettings) -> sled::Config {
    let compress_new = settings.compress_new.unwrap_or(layout.compress);
    sled::Config::new()
        .path(dir)
        .cache_capacity(settings.cache_bytes)
        .flush_every_ms(Some(200))
        .use_compression(compressed(dir, compress_new))
        .compression_factor(COMPRESSION_LEVEL)
}

pub(crate) fn open_when_unlocked(
    dir: &Path,
    layout: &Layout,
    settings: &StoreSettings,
) -> Result<sled::Db, StoreError> {
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        match sled_config(dir, layout, settings).open() {
            Err(sled::Error::Io(err))
                if err.to_string().contains("could not acquire lock")
                    && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            result => return Ok(result?),
        }
    }
}
