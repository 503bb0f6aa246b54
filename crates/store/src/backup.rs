//! Backups: a consistent snapshot of a whole store (every table and the
//! outbox) in one file, taken while the service runs, and its restore
//! into a new directory.
//!
//! A backup reads one snapshot of the keyspace, so the file holds exactly
//! the state after some commit while writes go on. The file: a magic line, a JSON
//! [`BackupHeader`], the records (tree, key, value), an end marker, the
//! number of records and a SHA-256 of everything before it. A restore
//! checks all of it before the directory appears: it is written beside the
//! target and renamed into place only when complete.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::bulk::BulkWriter;
use crate::format::{self, Layout};
use crate::meta::{META_TABLE, Meta};
use crate::outbox::{ENTRIES_END, SEQUENCE_KEY};
use crate::settings::{StoreSettings, keyspace_dir, open_keyspace};
use crate::{Store, StoreError};

const MAGIC: &[u8] = b"JILIN-STORE-BACKUP 1\n";
const END: u32 = u32::MAX;

/// The key, in the `__meta` table, of the [`BackupHeader`] a restored
/// store came from.
const RESTORED_KEY: &[u8] = b"jilin.store.restored";

/// Prefix, in the `__meta` table, of the steps a service has taken after
/// a restore (e.g. `replay JILIN_REGISTRY`), each done once.
const RESTORE_STEP_PREFIX: &str = "jilin.store.restore-step/";

/// What a backup holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupHeader {
    pub kind: String,
    pub version: u32,
    /// When it was taken, as the service's clock said (RFC 3339).
    pub taken_at: String,
    /// The trees, in the order records name them.
    pub trees: Vec<String>,
    /// The last event the store had staged for publication.
    pub outbox_last_sequence: u64,
    /// Events staged but not yet published then; a restored store
    /// publishes them again, under their ids.
    pub outbox_pending: u64,
}

/// A backup written or restored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupSummary {
    pub header: BackupHeader,
    pub records: u64,
    pub bytes: u64,
}

/// Why a backup cannot be read or restored.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}: not a Jilin store backup, or a damaged one ({1})")]
    Damaged(PathBuf, String),
    #[error("{0} already holds a store: restore into a new directory")]
    NotEmpty(PathBuf),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Where a running service writes a backup before sending it: beside its
/// store, so on the same disk; removed when sent, and at the next start
/// if the service stopped first.
pub fn unfinished_backup_path(store_dir: &Path) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    store_dir.join(format!(".backup-{}-{n}.tmp", std::process::id()))
}

/// Removes backups left unfinished in `store_dir` by a stopped service.
pub(crate) fn remove_unfinished(store_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(store_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(".backup-") && name.ends_with(".tmp") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// A writer that hashes what it writes.
struct Hashing<W> {
    inner: W,
    hash: Sha256,
    written: u64,
}

impl<W: Write> Hashing<W> {
    fn put(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.hash.update(bytes);
        self.written += bytes.len() as u64;
        self.inner.write_all(bytes)
    }

    fn put_chunk(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.put(&(bytes.len() as u32).to_le_bytes())?;
        self.put(bytes)
    }
}

impl Store {
    /// Writes a consistent snapshot of the whole store to `path` (made
    /// anew, synced to disk) while writes go on.
    pub fn backup_to(&self, path: &Path, taken_at: &str) -> Result<BackupSummary, BackupError> {
        let file = File::create(path).map_err(io(path))?;
        let mut out = Hashing {
            inner: BufWriter::new(file),
            hash: Sha256::new(),
            written: 0,
        };
        let snapshot = self.keyspace().read_tx();
        let names = self.data_table_names();
        let tables = names
            .iter()
            .map(|name| self.keyspace().open_partition(name, Default::default()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(StoreError::from)?;
        let outbox = self.outbox_table();
        let outbox_last_sequence = snapshot
            .get(outbox, SEQUENCE_KEY)
            .map_err(StoreError::from)?
            .as_deref()
            .and_then(crate::outbox::decode_sequence)
            .unwrap_or(0);
        let outbox_pending = snapshot.range::<&[u8], _>(outbox, ..ENTRIES_END).count() as u64;
        let header = BackupHeader {
            kind: self.layout().kind.to_owned(),
            version: self.layout().version,
            taken_at: taken_at.to_owned(),
            trees: names,
            outbox_last_sequence,
            outbox_pending,
        };
        let header_json = serde_json::to_vec(&header).expect("a header encodes");
        let mut records = 0u64;
        let mut write = || -> Result<(), BackupError> {
            out.put(MAGIC).map_err(io(path))?;
            out.put_chunk(&header_json).map_err(io(path))?;
            for (index, table) in tables.iter().enumerate() {
                for item in snapshot.iter(table) {
                    let (key, value) = item.map_err(StoreError::from)?;
                    out.put(&(index as u32).to_le_bytes()).map_err(io(path))?;
                    out.put_chunk(&key).map_err(io(path))?;
                    out.put_chunk(&value).map_err(io(path))?;
                    records += 1;
                }
            }
            out.put(&END.to_le_bytes()).map_err(io(path))?;
            out.put(&records.to_le_bytes()).map_err(io(path))?;
            let digest = out.hash.clone().finalize();
            out.put(&digest).map_err(io(path))?;
            out.inner.flush().map_err(io(path))?;
            out.inner.get_ref().sync_all().map_err(io(path))?;
            Ok(())
        };
        write()?;
        Ok(BackupSummary {
            header,
            records,
            bytes: out.written,
        })
    }

    /// The names of every table in the keyspace but the store's own
    /// records (`__meta`), declared or not, in order.
    pub(crate) fn data_table_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .keyspace()
            .list_partitions()
            .iter()
            .map(|name| name.to_string())
            .filter(|name| name != META_TABLE)
            .collect();
        names.sort();
        names
    }

    /// The backup this store was restored from, if it was.
    pub fn restored_from(&self) -> Result<Option<BackupHeader>, StoreError> {
        Ok(self
            .meta()
            .get(RESTORED_KEY)?
            .and_then(|bytes| serde_json::from_slice(&bytes).ok()))
    }

    /// Whether this store was restored and its service has yet to take
    /// `step` because of it.
    pub fn restore_step_pending(&self, step: &str) -> Result<bool, StoreError> {
        let key = format!("{RESTORE_STEP_PREFIX}{step}");
        Ok(self.meta().contains(RESTORED_KEY)? && !self.meta().contains(key.as_bytes())?)
    }

    /// Records that `step` was taken after the restore (on disk).
    pub fn restore_step_done(&self, step: &str) -> Result<(), StoreError> {
        let key = format!("{RESTORE_STEP_PREFIX}{step}");
        self.meta().put(key.as_bytes(), &[])
    }
}

/// A reader that hashes what it reads.
struct Checked<R> {
    inner: R,
    hash: Sha256,
}

impl<R: Read> Checked<R> {
    fn take(&mut self, len: usize) -> std::io::Result<Vec<u8>> {
        let mut bytes = vec![0; len];
        self.inner.read_exact(&mut bytes)?;
        self.hash.update(&bytes);
        Ok(bytes)
    }

    fn u32(&mut self) -> std::io::Result<u32> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn chunk(&mut self) -> std::io::Result<Vec<u8>> {
        let len = self.u32()? as usize;
        self.take(len)
    }
}

/// Reads the backup at `backup` into a new store directory `dir` laid out
/// as `layout`: checked completely (magic, header, count, digest, kind and
/// format) before `dir` appears. The restored store remembers its backup
/// ([`Store::restored_from`]).
pub fn restore(backup: &Path, dir: &Path, layout: &Layout) -> Result<BackupSummary, BackupError> {
    if dir.exists() && std::fs::read_dir(dir).map_err(io(dir))?.next().is_some() {
        return Err(BackupError::NotEmpty(dir.to_owned()));
    }
    let staging = dir.with_extension("restoring");
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(io(&staging))?;
    }
    let restored = restore_into(backup, &staging, layout);
    if restored.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
        return restored;
    }
    if dir.exists() {
        std::fs::remove_dir(dir).map_err(io(dir))?;
    }
    std::fs::rename(&staging, dir).map_err(io(dir))?;
    restored
}

/// Reads the backup at `path`: its header, then each record handed to
/// `record` (tree index, key, value), then checks the count and digest.
fn read_backup(
    path: &Path,
    mut on_header: impl FnMut(&BackupHeader) -> Result<(), BackupError>,
    mut record: impl FnMut(usize, Vec<u8>, Vec<u8>) -> Result<(), BackupError>,
) -> Result<BackupSummary, BackupError> {
    let damaged = |reason: String| BackupError::Damaged(path.to_owned(), reason);
    let file = File::open(path).map_err(io(path))?;
    let bytes = file.metadata().map_err(io(path))?.len();
    let mut input = Checked {
        inner: BufReader::new(file),
        hash: Sha256::new(),
    };
    let short = |err: std::io::Error| damaged(format!("cut short: {err}"));
    if input.take(MAGIC.len()).map_err(short)? != MAGIC {
        return Err(damaged("no backup header".into()));
    }
    let header: BackupHeader = serde_json::from_slice(&input.chunk().map_err(short)?)
        .map_err(|err| damaged(format!("unreadable header: {err}")))?;
    on_header(&header)?;
    let mut records = 0u64;
    loop {
        let index = input.u32().map_err(short)? as usize;
        if index == END as usize {
            break;
        }
        if index >= header.trees.len() {
            return Err(damaged(format!("record of unknown tree {index}")));
        }
        let (key, value) = (input.chunk().map_err(short)?, input.chunk().map_err(short)?);
        record(index, key, value)?;
        records += 1;
    }
    let counted = u64::from_le_bytes(input.take(8).map_err(short)?.try_into().expect("8 bytes"));
    let expected = input.hash.clone().finalize();
    let mut digest = [0u8; 32];
    input.inner.read_exact(&mut digest).map_err(short)?;
    if counted != records || digest[..] != expected[..] {
        return Err(damaged("its checksum does not match its content".into()));
    }
    Ok(BackupSummary {
        header,
        records,
        bytes,
    })
}

/// Reads the whole backup at `path` and checks it, writing nothing.
pub fn verify(path: &Path) -> Result<BackupSummary, BackupError> {
    read_backup(path, |_| Ok(()), |_, _, _| Ok(()))
}

fn restore_into(backup: &Path, dir: &Path, layout: &Layout) -> Result<BackupSummary, BackupError> {
    let settings = StoreSettings::default();
    let keyspace = open_keyspace(&keyspace_dir(dir), &settings)?;
    let tables = std::cell::RefCell::new(Vec::new());
    let writer = std::cell::RefCell::new(BulkWriter::new(&keyspace));
    let summary = read_backup(
        backup,
        |header| {
            format::accepts(layout, &header.kind, header.version).map_err(StoreError::from)?;
            for name in &header.trees {
                let table = keyspace
                    .open_partition(name, settings.table_options())
                    .map_err(StoreError::from)?;
                tables.borrow_mut().push(table);
            }
            Ok(())
        },
        |index, key, value| {
            writer
                .borrow_mut()
                .insert(&tables.borrow()[index], &key, &value)
                .map_err(StoreError::from)?;
            Ok(())
        },
    )?;
    writer.into_inner().finish().map_err(StoreError::from)?;
    // The data is in the backup's format: the first open upgrades it.
    let meta = Meta::open(&keyspace)?;
    format::record(&meta, &summary.header.kind, summary.header.version)?;
    let header_json = serde_json::to_vec(&summary.header).expect("a header encodes");
    meta.put(RESTORED_KEY, &header_json)?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OutboxEntry;

    const THINGS: Layout = Layout {
        kind: "test",
        version: 1,
        upgrades_from: 1,
        tables: &["things", "bulk"],
    };

    /// Every key and value of every table but the store's own records.
    fn contents(store: &Store) -> Vec<(String, Vec<u8>, Vec<u8>)> {
        let keyspace = store.keyspace();
        let mut all = Vec::new();
        for name in store.data_table_names() {
            let table = keyspace.open_partition(&name, Default::default()).unwrap();
            for item in table.inner().iter() {
                let (key, value) = item.unwrap();
                all.push((name.clone(), key.to_vec(), value.to_vec()));
            }
        }
        all
    }

    async fn write(store: &Store, key: String) {
        let things = store.table::<String>("things").unwrap();
        store
            .write(|tx| -> Result<(), StoreError> {
                tx.insert(&things, &key, &key)?;
                tx.stage_event(&OutboxEntry {
                    id: key.clone(),
                    ..Default::default()
                })?;
                Ok(())
            })
            .await
            .unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_backup_taken_under_writes_restores_exactly_one_commit_state() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("live"), &THINGS).unwrap();
        for i in 0..200 {
            write(&store, format!("before-{i:03}")).await;
        }
        // A bulky table, so that writes have time to land between the copy
        // of `things` and of the outbox if the snapshot let them.
        let bulk = store.table::<String>("bulk").unwrap();
        for chunk in 0..20 {
            store
                .write(|tx| -> Result<(), StoreError> {
                    for i in 0..1000 {
                        tx.insert(&bulk, &format!("{chunk:02}-{i:04}"), &"x".repeat(100))?;
                    }
                    Ok(())
                })
                .await
                .unwrap();
        }
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let store = store.clone();
                tokio::spawn(async move {
                    for i in 0..1000 {
                        write(&store, format!("during-{w}-{i:04}")).await;
                    }
                })
            })
            .collect();
        // The writers are under way (each write waits for a flush).
        while store.outbox_last_sequence().unwrap() < 220 {
            tokio::task::yield_now().await;
        }
        let file = dir.path().join("backup");
        let summary = store.backup_to(&file, "2026-01-01T00:00:00Z").unwrap();
        for writer in writers {
            writer.await.unwrap();
        }
        assert_eq!(summary.header.kind, "test");

        let restored_dir = dir.path().join("restored");
        let restored = restore(&file, &restored_dir, &THINGS).unwrap();
        assert_eq!(restored.records, summary.records);
        let copy = Store::open(&restored_dir, &THINGS).unwrap();
        assert_eq!(copy.restored_from().unwrap(), Some(summary.header.clone()));
        assert!(copy.restore_step_pending("replay").unwrap());
        // One commit state: every written key has its event staged, and
        // the outbox sequence counts exactly the keys.
        let things = copy.table::<String>("things").unwrap();
        let written = things.len().unwrap();
        assert_eq!(written as u64, copy.outbox_last_sequence().unwrap());
        assert_eq!(copy.outbox_len().unwrap(), written);
        assert!(written >= 200);
        copy.restore_step_done("replay").unwrap();
        assert!(!copy.restore_step_pending("replay").unwrap());
        assert!(
            !store.restore_step_pending("replay").unwrap(),
            "not restored"
        );
        drop(copy);

        // A backup of a quiet store restores bit for bit.
        let again = dir.path().join("again");
        store.backup_to(&again, "later").unwrap();
        restore(&again, &dir.path().join("copy"), &THINGS).unwrap();
        let copy = Store::open(&dir.path().join("copy"), &THINGS).unwrap();
        assert_eq!(contents(&copy), contents(&store));
    }

    #[tokio::test]
    async fn damaged_foreign_or_misplaced_restores_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("live"), &THINGS).unwrap();
        write(&store, "k".into()).await;
        let file = dir.path().join("backup");
        store.backup_to(&file, "now").unwrap();
        let bytes = std::fs::read(&file).unwrap();

        let target = dir.path().join("target");
        let cut = dir.path().join("cut");
        std::fs::write(&cut, &bytes[..bytes.len() - 10]).unwrap();
        let err = restore(&cut, &target, &THINGS).unwrap_err();
        assert!(err.to_string().contains("damaged"), "{err}");
        let mut flipped = bytes.clone();
        let middle = bytes.len() / 2;
        flipped[middle] ^= 1;
        std::fs::write(&cut, &flipped).unwrap();
        assert!(restore(&cut, &target, &THINGS).is_err());
        assert!(!target.exists(), "a failed restore left a directory");

        let other = Layout {
            kind: "registry",
            ..THINGS
        };
        let err = restore(&file, &target, &other).unwrap_err();
        assert!(err.to_string().contains("not a registry store"), "{err}");
        let err = restore(&file, &dir.path().join("live"), &THINGS).unwrap_err();
        assert!(matches!(err, BackupError::NotEmpty(_)), "{err}");
    }
}
