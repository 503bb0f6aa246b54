//! [`Store`]: one fjall keyspace per service, its declared tables, the
//! outbox, and the only way to change them ([`Store::write`]).

use std::cell::{Cell, RefCell};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use prost::Message;
use serde::{Serialize, de::DeserializeOwned};
use tokio::sync::Notify;

use crate::commit::GroupCommit;
use crate::format::{self, Layout};
use crate::journals::JournalKeeper;
use crate::meta::Meta;
use crate::metrics::StoreMetrics;
use crate::outbox::{self, OUTBOX_TREE, OutboxEntry, SEQUENCE_KEY};
use crate::settings::{DirLock, StoreSettings, keyspace_dir, open_keyspace};
use crate::writable::{Writable, until_stopped};
use crate::{StoreError, Table};

/// A service's embedded database. Cheap to clone; every clone is the same
/// database.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

/// Fields drop in order: the keyspace closes (the group-commit thread
/// holds the last handle) before the directory's lock is let go.
struct Inner {
    keyspace: fjall::TxKeyspace,
    dir: PathBuf,
    layout: Layout,
    meta: Meta,
    names: Vec<&'static str>,
    /// Declared tables in declaration order, the outbox last.
    tables: Vec<fjall::TxPartitionHandle>,
    commit: GroupCommit,
    /// Has the tables write their memtables out when journals pile up.
    _journals: JournalKeeper,
    /// Writers wait here, as tasks, for their turn at fjall's single
    /// writer (see [`Store::write`]).
    writer_turn: tokio::sync::Mutex<()>,
    writable: Writable,
    /// No outbox entry sorts below this sequence number: where a scan of
    /// the outbox starts, past the removed entries that the tree keeps as
    /// tombstones until it compacts them.
    outbox_floor: AtomicU64,
    outbox_changed: Notify,
    metrics: StoreMetrics,
    _lock: DirLock,
}

impl Store {
    /// Opens (or creates) the database in `dir` laid out as `layout`, with
    /// the default settings; refuses a store of another kind or format
    /// (see [`Layout`]).
    pub fn open(dir: &Path, layout: &Layout) -> Result<Self, StoreError> {
        Self::open_with(dir, layout, &StoreSettings::default())
    }

    /// [`Store::open`] with the block cache and the compression of new
    /// tables as `settings` say. A store written by a build before fjall
    /// (sled's files in `dir`) is moved to fjall first, losing nothing.
    pub fn open_with(
        dir: &Path,
        layout: &Layout,
        settings: &StoreSettings,
    ) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(StoreError::io(dir))?;
        let lock = DirLock::take(dir)?;
        crate::from_sled::move_if_present(dir, layout, settings)?;
        let keyspace = open_keyspace(&keyspace_dir(dir), settings)?;
        let meta = Meta::open(&keyspace)?;
        format::check(&meta, layout)?;
        crate::backup::remove_unfinished(dir);
        let mut names = layout.tables.to_vec();
        names.push(OUTBOX_TREE);
        let tables = names
            .iter()
            .map(|name| keyspace.open_partition(name, settings.table_options()))
            .collect::<Result<Vec<_>, _>>()?;
        let floor = outbox::floor_at_open(tables.last().expect("the outbox table is open"))?;
        let metrics = StoreMetrics::default();
        let writable = Writable::new(dir, metrics.stopped.clone());
        let commit = GroupCommit::start(keyspace.clone(), writable.clone(), metrics.clone());
        let mut partitions = tables.clone();
        partitions.push(meta.partition());
        let journals = JournalKeeper::start(keyspace.clone(), partitions);
        Ok(Self {
            inner: Arc::new(Inner {
                keyspace,
                dir: dir.to_owned(),
                layout: *layout,
                meta,
                names,
                tables,
                commit,
                _journals: journals,
                writer_turn: tokio::sync::Mutex::new(()),
                writable,
                outbox_floor: AtomicU64::new(floor),
                outbox_changed: Notify::new(),
                metrics,
                _lock: lock,
            }),
        })
    }

    /// fjall's journal files on disk (the active one included).
    #[cfg(test)]
    pub(crate) fn journal_count(&self) -> usize {
        self.inner.keyspace.journal_count()
    }

    /// A typed handle on a table declared in [`Store::open`]. The first
    /// handle on a table after a format upgrade re-encodes its values.
    pub fn table<V: Serialize + DeserializeOwned>(
        &self,
        name: &'static str,
    ) -> Result<Table<V>, StoreError> {
        let index = self
            .inner
            .names
            .iter()
            .position(|declared| *declared == name && name != OUTBOX_TREE)
            .ok_or(StoreError::UnknownTable(name))?;
        let table = Table::new(name, index, self.clone());
        if format::reencode_pending(&self.inner.meta, name)? {
            let rewritten = table.reencode_legacy()?;
            format::reencode_done(&self.inner.meta, name)?;
            tracing::info!(table = name, rewritten, "re-encoded the table's values");
        }
        Ok(table)
    }

    /// Runs `change` as one transaction over every table and the outbox,
    /// then waits until it is on disk (group commit). Transactions run one
    /// at a time, each seeing every one committed before it; `change` runs
    /// once and must pass every `StoreError` it gets from `tx` back out.
    /// Returning `Err` aborts with nothing written.
    pub async fn write<R, E>(&self, change: impl FnOnce(&Tx<'_>) -> Result<R, E>) -> Result<R, E>
    where
        E: From<StoreError>,
    {
        let started = std::time::Instant::now();
        let (value, staged_events) = self.in_writer_turn(|| self.transact(change)).await?;
        self.inner.commit.durable().await.map_err(E::from)?;
        self.inner
            .metrics
            .write_seconds
            .observe(started.elapsed().as_secs_f64());
        if staged_events {
            self.inner.outbox_changed.notify_one();
        }
        Ok(value)
    }

    /// Runs `blocking`, which takes fjall's writer lock, in the writers'
    /// turn. Transactions run one at a time. A writer waits for its turn
    /// as a task, and only the one whose turn it is takes a thread off the
    /// runtime: were each to wait on fjall's lock in a thread of its own, a
    /// burst of calls would start a thread each (tests/writer_threads.rs),
    /// and one waiting on a runtime thread would stall that thread's other
    /// tasks behind a long transaction.
    pub(crate) async fn in_writer_turn<R>(&self, blocking: impl FnOnce() -> R) -> R {
        let _turn = self.inner.writer_turn.lock().await;
        off_the_runtime(blocking)
    }

    fn transact<R, E>(&self, change: impl FnOnce(&Tx<'_>) -> Result<R, E>) -> Result<(R, bool), E>
    where
        E: From<StoreError>,
    {
        let tx = Tx {
            tx: RefCell::new(self.inner.keyspace.write_tx()),
            tables: &self.inner.tables,
            staged_events: Cell::new(false),
        };
        // On `Err`, dropping `tx` rolls it back. A panic in `change` is
        // held until `tx` is dropped: fjall's writer lock, let go during a
        // panic, would be poisoned, and every later write would panic.
        let value = match std::panic::catch_unwind(AssertUnwindSafe(|| change(&tx))) {
            Ok(result) => result?,
            Err(panic) => {
                drop(tx);
                std::panic::resume_unwind(panic)
            }
        };
        let staged_events = tx.staged_events.get();
        tx.tx
            .into_inner()
            .commit()
            .map_err(|err| E::from(self.write_failed(err)))?;
        Ok((value, staged_events))
    }

    /// Replaces, in one transaction, each value of table `index` in
    /// `entries` that still holds the bytes given there with `new` of it.
    /// Returns how many it replaced.
    pub(crate) fn swap_if_unchanged(
        &self,
        index: usize,
        entries: &[fjall::KvPair],
        new: impl Fn(&[u8], &[u8]) -> Result<Vec<u8>, StoreError>,
    ) -> Result<usize, StoreError> {
        let table = &self.inner.tables[index];
        let mut tx = self.inner.keyspace.write_tx();
        let mut swapped = 0;
        for (key, old) in entries {
            if tx.get(table, key)?.as_deref() == Some(&old[..]) {
                tx.insert(table, key.clone(), new(key, old)?);
                swapped += 1;
            }
        }
        tx.commit().map_err(|err| self.write_failed(err))?;
        Ok(swapped)
    }

    /// Resolves with the reason once the store has stopped taking writes
    /// (a failed sync of its journal: a full disk, a failing device), from
    /// which only a restart brings it back; or with `None` once the store
    /// is closed. The future does not keep the store open.
    pub fn stopped_writing(&self) -> impl std::future::Future<Output = Option<String>> + 'static {
        until_stopped(self.inner.writable.subscribe())
    }

    /// The directory the store lives in.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    pub(crate) fn keyspace(&self) -> &fjall::TxKeyspace {
        &self.inner.keyspace
    }

    pub(crate) fn meta(&self) -> &Meta {
        &self.inner.meta
    }

    /// Table `index` of the store, the outbox last.
    pub(crate) fn partition(&self, index: usize) -> &fjall::TxPartitionHandle {
        &self.inner.tables[index]
    }

    pub(crate) fn outbox_table(&self) -> &fjall::TxPartitionHandle {
        self.inner
            .tables
            .last()
            .expect("the outbox table is always open")
    }

    pub(crate) fn outbox_floor(&self) -> &AtomicU64 {
        &self.inner.outbox_floor
    }

    /// What this store holds, and in which format.
    pub fn layout(&self) -> &Layout {
        &self.inner.layout
    }

    /// Rewrites or removes, a chunk per transaction, the entries of
    /// `table` under `prefix` ("" for all) that `retain` changes: it returns `None` to remove an entry,
    /// `Some(new)` to replace it, or the value unchanged to leave it.
    /// Inside each transaction it is applied again to the value as it is
    /// then, so a concurrent write is never undone. Returns how many
    /// entries changed. For retention: forgetting what is past its time.
    pub async fn retain<V>(
        &self,
        table: &Table<V>,
        prefix: &str,
        retain: impl Fn(&V) -> Option<V>,
    ) -> Result<usize, StoreError>
    where
        V: Serialize + DeserializeOwned + PartialEq,
    {
        const CHUNK: usize = 1000;
        let candidates: Vec<String> = table
            .scan_prefix(prefix)?
            .into_iter()
            .filter(|(_, value)| retain(value).as_ref() != Some(value))
            .map(|(key, _)| key)
            .collect();
        let mut changed = 0;
        for chunk in candidates.chunks(CHUNK) {
            changed += self
                .write(|tx| {
                    let mut changed = 0;
                    for key in chunk {
                        let Some(value) = tx.get(table, key)? else {
                            continue;
                        };
                        match retain(&value) {
                            Some(kept) if kept == value => continue,
                            Some(kept) => tx.insert(table, key, &kept)?,
                            None => tx.remove(table, key)?,
                        }
                        changed += 1;
                    }
                    Ok::<_, StoreError>(changed)
                })
                .await?;
        }
        Ok(changed)
    }

    /// Removes every entry of `table`, a thousand per transaction, walking
    /// forward from the last key removed (never over its own tombstones);
    /// returns how many it removed.
    pub async fn clear<V>(&self, table: &Table<V>) -> Result<usize, StoreError>
    where
        V: Serialize + DeserializeOwned,
    {
        const CHUNK: usize = 1000;
        let mut removed = 0;
        let mut after = String::new();
        loop {
            let keys = table.keys_after(&after, CHUNK)?;
            let Some(last) = keys.last() else {
                return Ok(removed);
            };
            self.write(|tx| keys.iter().try_for_each(|key| tx.remove(table, key)))
                .await?;
            removed += keys.len();
            after.clone_from(last);
        }
    }

    /// What this store measures.
    pub fn metrics(&self) -> &StoreMetrics {
        &self.inner.metrics
    }

    /// Puts everything committed on disk now (used at shutdown).
    pub fn flush(&self) -> Result<(), StoreError> {
        self.inner
            .keyspace
            .persist(fjall::PersistMode::SyncAll)
            .map_err(|err| self.write_failed(err))
    }

    /// `err`, a failure of fjall while writing, as the caller hears it.
    pub(crate) fn write_failed(&self, err: fjall::Error) -> StoreError {
        self.inner.writable.failure(err)
    }

    /// Resolves when an event has been staged since the last call returned.
    pub async fn outbox_changed(&self) {
        self.inner.outbox_changed.notified().await
    }
}

/// Runs `blocking` (a transaction: a batch of a thousand reports takes a
/// good part of a second) so that the tokio worker's other tasks, such as
/// the outbox relay and other calls, move to another thread meanwhile. A
/// single-threaded runtime (tests) has nowhere to move them: it runs
/// `blocking` in place.
fn off_the_runtime<R>(blocking: impl FnOnce() -> R) -> R {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|handle| handle.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(blocking),
        _ => blocking(),
    }
}

/// The view of the store inside one [`Store::write`] transaction: it reads
/// what it has written.
pub struct Tx<'a> {
    tx: RefCell<fjall::WriteTransaction<'a>>,
    tables: &'a [fjall::TxPartitionHandle],
    staged_events: Cell<bool>,
}

impl Tx<'_> {
    /// Reads a value as of this transaction.
    pub fn get<V: Serialize + DeserializeOwned>(
        &self,
        table: &Table<V>,
        key: &str,
    ) -> Result<Option<V>, StoreError> {
        let bytes = self.tx.borrow().get(&self.tables[table.index], key)?;
        bytes.map(|bytes| table.decode(key, &bytes)).transpose()
    }

    /// Every entry whose key starts with `prefix`, in key order, as of this
    /// transaction (its own writes included).
    pub fn scan_prefix<V: Serialize + DeserializeOwned>(
        &self,
        table: &Table<V>,
        prefix: &str,
    ) -> Result<Vec<(String, V)>, StoreError> {
        let tx = self.tx.borrow();
        table.entries(tx.prefix(&self.tables[table.index], prefix))
    }

    /// Writes a value; visible to later reads in this transaction.
    pub fn insert<V: Serialize + DeserializeOwned>(
        &self,
        table: &Table<V>,
        key: &str,
        value: &V,
    ) -> Result<(), StoreError> {
        let bytes = Table::encode(value);
        self.tx
            .borrow_mut()
            .insert(&self.tables[table.index], key, bytes);
        Ok(())
    }

    /// Deletes a value.
    pub fn remove<V: Serialize + DeserializeOwned>(
        &self,
        table: &Table<V>,
        key: &str,
    ) -> Result<(), StoreError> {
        self.tx.borrow_mut().remove(&self.tables[table.index], key);
        Ok(())
    }

    /// Deletes a value if there is one. A table scanned from its start
    /// (a queue) then keeps no tombstone for a key it never held, which
    /// every scan would walk past until compaction drops it.
    pub fn remove_if_present<V: Serialize + DeserializeOwned>(
        &self,
        table: &Table<V>,
        key: &str,
    ) -> Result<bool, StoreError> {
        let partition = &self.tables[table.index];
        let present = self.tx.borrow().contains_key(partition, key)?;
        if present {
            self.tx.borrow_mut().remove(partition, key);
        }
        Ok(present)
    }

    /// Stages an event for publication, committed with the rest of this
    /// transaction. Returns its outbox sequence number.
    pub fn stage_event(&self, entry: &OutboxEntry) -> Result<u64, StoreError> {
        let outbox = self.tables.last().expect("the outbox table is always open");
        let mut tx = self.tx.borrow_mut();
        let last = tx.get(outbox, SEQUENCE_KEY)?;
        let sequence = last
            .as_deref()
            .and_then(outbox::decode_sequence)
            .unwrap_or(0)
            + 1;
        let key = outbox::sequence_key(sequence);
        tx.insert(outbox, SEQUENCE_KEY, key);
        tx.insert(outbox, key, entry.encode_to_vec());
        self.staged_events.set(true);
        Ok(sequence)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    enum TestError {
        #[error(transparent)]
        Store(#[from] StoreError),
        #[error("refused")]
        Refused,
    }

    const THINGS: Layout = Layout {
        kind: "test",
        version: 1,
        upgrades_from: 1,
        tables: &["things"],
    };

    fn entry(id: &str) -> OutboxEntry {
        OutboxEntry {
            id: id.into(),
            subject: "jilin.test".into(),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn removing_only_what_is_present_leaves_no_tombstone_behind() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), &THINGS).unwrap();
        let things = store.table::<u32>("things").unwrap();
        let entries = || store.partition(0).inner().approximate_len();
        store.write(|tx| tx.insert(&things, "a", &1)).await.unwrap();
        assert_eq!(entries(), 1);

        let removed = store
            .write(|tx| tx.remove_if_present(&things, "never-held"))
            .await
            .unwrap();
        assert!(!removed);
        assert_eq!(entries(), 1, "no tombstone for a key never held");

        let removed = store
            .write(|tx| tx.remove_if_present(&things, "a"))
            .await
            .unwrap();
        assert!(removed);
        assert_eq!(things.get("a").unwrap(), None);
        // A plain remove writes a tombstone whether or not the key was held.
        store
            .write(|tx| tx.remove(&things, "never-held"))
            .await
            .unwrap();
        assert_eq!(entries(), 3, "a, its tombstone and the plain remove's");
    }

    #[tokio::test]
    async fn a_prefix_scan_in_a_transaction_sees_its_own_writes_and_removals() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), &THINGS).unwrap();
        let things = store.table::<u32>("things").unwrap();
        store
            .write(|tx| {
                for (key, value) in [("p1/a", 1), ("p1/b", 2), ("p10/a", 3), ("p2/a", 4)] {
                    tx.insert(&things, key, &value)?;
                }
                Ok::<_, StoreError>(())
            })
            .await
            .unwrap();
        let seen = store
            .write(|tx| {
                tx.insert(&things, "p1/c", &5)?;
                tx.remove(&things, "p1/a")?;
                tx.scan_prefix(&things, "p1/")
            })
            .await
            .unwrap();
        assert_eq!(seen, [("p1/b".to_owned(), 2), ("p1/c".to_owned(), 5)]);
    }

    #[tokio::test]
    async fn clearing_a_table_removes_every_entry_over_several_transactions() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(
            dir.path(),
            &Layout {
                tables: &["things", "kept"],
                ..THINGS
            },
        )
        .unwrap();
        let (things, kept) = (
            store.table::<u32>("things").unwrap(),
            store.table::<u32>("kept").unwrap(),
        );
        store
            .write(|tx| {
                for n in 0..2_500 {
                    tx.insert(&things, &format!("k{n:05}"), &n)?;
                }
                tx.insert(&kept, "k00000", &7)
            })
            .await
            .unwrap();
        assert_eq!(store.clear(&things).await.unwrap(), 2_500);
        assert!(things.is_empty().unwrap());
        assert_eq!(kept.get("k00000").unwrap(), Some(7));
        assert_eq!(store.clear(&things).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn committed_write_stages_events_in_order_and_aborted_write_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), &THINGS).unwrap();
        let things = store.table::<u32>("things").unwrap();

        store
            .write(|tx| -> Result<(), TestError> {
                tx.insert(&things, "a", &1)?;
                tx.stage_event(&entry("e1"))?;
                tx.stage_event(&entry("e2"))?;
                Ok(())
            })
            .await
            .unwrap();
        let refused = store
            .write(|tx| -> Result<(), TestError> {
                tx.insert(&things, "b", &2)?;
                tx.stage_event(&entry("e3"))?;
                Err(TestError::Refused)
            })
            .await;
        assert!(matches!(refused, Err(TestError::Refused)));

        assert_eq!(things.get("a").unwrap(), Some(1));
        assert_eq!(things.get("b").unwrap(), None);
        let batch = store.outbox_batch(10).unwrap();
        let ids: Vec<_> = batch.iter().map(|(_, e)| e.id.as_str()).collect();
        assert_eq!(ids, ["e1", "e2"]);
        assert_eq!(batch[0].0 + 1, batch[1].0);
        // What the relay reads while e1 is published but not yet removed.
        let after_first = store.outbox_batch_after(batch[0].0, 10).unwrap();
        assert_eq!(after_first, batch[1..]);

        assert_eq!(store.outbox_remove_through(batch[0].0).await.unwrap(), 1);
        assert_eq!(store.outbox_len().unwrap(), 1);
        assert_eq!(store.outbox_remove_through(batch[1].0).await.unwrap(), 1);
        assert_eq!(store.outbox_len().unwrap(), 0);
    }

    #[tokio::test]
    async fn reopened_store_keeps_acknowledged_writes_and_continues_the_sequence() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path(), &THINGS).unwrap();
            let things = store.table::<String>("things").unwrap();
            store
                .write(|tx| -> Result<(), TestError> {
                    tx.insert(&things, "k", &"v".to_owned())?;
                    tx.stage_event(&entry("e1"))?;
                    Ok(())
                })
                .await
                .unwrap();
            let (sequence, _) = store.outbox_batch(1).unwrap()[0].clone();
            store.outbox_remove_through(sequence).await.unwrap();
        }
        let store = Store::open(dir.path(), &THINGS).unwrap();
        let things = store.table::<String>("things").unwrap();
        assert_eq!(things.get("k").unwrap().as_deref(), Some("v"));
        store
            .write(|tx| -> Result<u64, TestError> { Ok(tx.stage_event(&entry("e2"))?) })
            .await
            .unwrap();
        let batch = store.outbox_batch(10).unwrap();
        assert_eq!(batch.len(), 1);
        assert_eq!(batch[0].0, 2, "sequence continues after a restart");
    }

    #[tokio::test]
    async fn concurrent_writers_all_commit() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(
            dir.path(),
            &Layout {
                tables: &["counter"],
                ..THINGS
            },
        )
        .unwrap();
        let counter = store.table::<u64>("counter").unwrap();
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let store = store.clone();
            let counter = counter.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .write(|tx| -> Result<(), TestError> {
                        let value = tx.get(&counter, "n")?.unwrap_or(0);
                        tx.insert(&counter, "n", &(value + 1))?;
                        Ok(())
                    })
                    .await
            }));
        }
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(counter.get("n").unwrap(), Some(16));
    }

    #[tokio::test]
    async fn a_write_that_panics_changes_nothing_and_later_writes_go_through() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), &THINGS).unwrap();
        let things = store.table::<u32>("things").unwrap();
        let panicking = {
            let (store, things) = (store.clone(), things.clone());
            tokio::spawn(async move {
                store
                    .write(|tx| -> Result<(), StoreError> {
                        tx.insert(&things, "a", &1)?;
                        panic!("a bug inside a transaction")
                    })
                    .await
            })
        };
        assert!(panicking.await.unwrap_err().is_panic());
        assert_eq!(things.get("a").unwrap(), None);
        store
            .write(|tx| -> Result<(), StoreError> { tx.insert(&things, "b", &2) })
            .await
            .unwrap();
        assert_eq!(things.get("b").unwrap(), Some(2));
    }

    #[tokio::test]
    async fn retain_removes_and_rewrites_only_what_it_changes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), &THINGS).unwrap();
        let things = store.table::<u32>("things").unwrap();
        store
            .write(|tx| -> Result<(), StoreError> {
                for n in 0..10u32 {
                    tx.insert(&things, &format!("{n}"), &n)?;
                }
                Ok(())
            })
            .await
            .unwrap();
        // Odd numbers go, 8 becomes 80, the rest stay.
        let changed = store
            .retain(&things, "", |n| match n {
                n if n % 2 == 1 => None,
                8 => Some(80),
                n => Some(*n),
            })
            .await
            .unwrap();
        assert_eq!(changed, 6);
        let left: Vec<u32> = things
            .scan_prefix("")
            .unwrap()
            .into_iter()
            .map(|(_, n)| n)
            .collect();
        assert_eq!(left, [0, 2, 4, 6, 80]);
    }

    #[derive(Debug, PartialEq, Serialize, serde::Deserialize)]
    struct Thing {
        name: String,
        count: u32,
        tags: Vec<String>,
    }

    /// Writes `things` into `dir` as format 1 did: JSON values, in sled.
    fn format_1_store(dir: &Path, things: &[(&str, Thing)]) {
        let db = sled::open(dir).unwrap();
        let record = format::Recorded {
            kind: THINGS.kind.into(),
            version: 1,
        };
        db.insert("jilin.store.format", serde_json::to_vec(&record).unwrap())
            .unwrap();
        let tree = db.open_tree("things").unwrap();
        for (key, thing) in things {
            tree.insert(key, serde_json::to_vec(thing).unwrap())
                .unwrap();
        }
        db.flush().unwrap();
    }

    #[tokio::test]
    async fn a_format_1_store_is_upgraded_to_compact_values_without_loss() {
        let dir = tempfile::tempdir().unwrap();
        let thing = |name: &str, count| Thing {
            name: name.into(),
            count,
            tags: vec!["a".into(), "b".into()],
        };
        format_1_store(dir.path(), &[("x", thing("x", 1)), ("y", thing("y", 2))]);
        let v2 = Layout {
            version: 2,
            ..THINGS
        };
        {
            let store = Store::open(dir.path(), &v2).unwrap();
            let things = store.table::<Thing>("things").unwrap();
            assert_eq!(things.get("x").unwrap(), Some(thing("x", 1)));
            assert_eq!(things.get("y").unwrap(), Some(thing("y", 2)));
            let raw = store.partition(things.index).get("x").unwrap().unwrap();
            assert_eq!(raw[0], crate::table::COMPACT, "re-encoded on open");
            assert!(raw.len() < serde_json::to_vec(&thing("x", 1)).unwrap().len() / 2);
        }
        // The old build now refuses it; this one opens it as it is.
        let refused = Store::open(dir.path(), &THINGS).err().unwrap();
        assert!(
            refused.to_string().contains("written by a newer Jilin"),
            "{refused}"
        );
        let store = Store::open(dir.path(), &v2).unwrap();
        let things = store.table::<Thing>("things").unwrap();
        assert_eq!(things.scan_prefix("").unwrap().len(), 2);
    }

    #[tokio::test]
    async fn a_field_appended_with_a_default_reads_from_older_values() {
        #[derive(Serialize, serde::Deserialize)]
        struct Before {
            name: String,
            count: u32,
        }
        #[derive(Debug, PartialEq, Serialize, serde::Deserialize)]
        struct After {
            name: String,
            count: u32,
            #[serde(default)]
            tags: Vec<String>,
        }
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), &THINGS).unwrap();
        let before = store.table::<Before>("things").unwrap();
        store
            .write(|tx| -> Result<(), StoreError> {
                let old = Before {
                    name: "x".into(),
                    count: 3,
                };
                tx.insert(&before, "x", &old)
            })
            .await
            .unwrap();
        let after = Table::<After>::new("things", before.index, store.clone());
        let read = after.get("x").unwrap().unwrap();
        assert_eq!(
            read,
            After {
                name: "x".into(),
                count: 3,
                tags: vec![]
            }
        );
    }

    /// Bytes on disk of `store`'s table `things` holding 2,000 alike
    /// values, once written out of memory.
    async fn disk_space_of_alike_values(store: &Store) -> u64 {
        let things = store.table::<String>("things").unwrap();
        store
            .write(|tx| -> Result<(), StoreError> {
                for n in 0..2000 {
                    tx.insert(&things, &format!("{n:05}"), &"jilin ".repeat(100))?;
                }
                Ok(())
            })
            .await
            .unwrap();
        let table = things.partition();
        table.rotate_memtable_and_wait().unwrap();
        table.disk_space()
    }

    #[tokio::test]
    async fn a_new_store_compresses_as_told() {
        let compressed = tempfile::tempdir().unwrap();
        let store = Store::open(compressed.path(), &THINGS).unwrap();
        let small = disk_space_of_alike_values(&store).await;
        let plain = tempfile::tempdir().unwrap();
        let settings = StoreSettings {
            compress_new: Some(false),
            ..StoreSettings::default()
        };
        let store = Store::open_with(plain.path(), &THINGS, &settings).unwrap();
        let large = disk_space_of_alike_values(&store).await;
        assert!(small * 4 < large, "compressed {small}, plain {large}");
    }

    /// The size of the files table `things` of the store in `dir` compacts into.
    fn compacted_file_bytes(dir: &std::path::Path) -> u32 {
        let store = Store::open(dir, &THINGS).unwrap();
        let things = store.table::<String>("things").unwrap();
        match &things.partition().config.compaction_strategy {
            fjall::compaction::Strategy::Leveled(leveled) => leveled.target_size,
            other => panic!("not leveled: {other:?}"),
        }
    }

    #[test]
    fn a_new_table_compacts_into_small_files_and_an_old_one_keeps_its_own() {
        let new = tempfile::tempdir().unwrap();
        assert_eq!(
            compacted_file_bytes(new.path()),
            crate::settings::COMPACTED_FILE_BYTES
        );

        // A table made with fjall's defaults, as by the builds before.
        let old = tempfile::tempdir().unwrap();
        let keyspace = fjall::Config::new(keyspace_dir(old.path()))
            .open_transactional()
            .unwrap();
        keyspace
            .open_partition("things", Default::default())
            .unwrap();
        drop(keyspace);
        let fjall_default = fjall::compaction::Leveled::default().target_size;
        assert_ne!(fjall_default, crate::settings::COMPACTED_FILE_BYTES);
        assert_eq!(compacted_file_bytes(old.path()), fjall_default);
    }

    #[test]
    fn a_second_handle_on_a_store_waits_for_the_first_and_then_fails_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), &THINGS).unwrap();
        let err = Store::open(dir.path(), &THINGS).err().unwrap();
        assert!(
            err.to_string().contains("another process holds the store"),
            "{err}"
        );
        drop(store);
        Store::open(dir.path(), &THINGS).unwrap();
    }

    #[test]
    fn undeclared_table_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), &THINGS).unwrap();
        assert!(matches!(
            store.table::<u32>("other"),
            Err(StoreError::UnknownTable("other"))
        ));
    }
}
