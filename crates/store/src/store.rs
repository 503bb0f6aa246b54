//! [`Store`]: one sled database per service, its declared tables, the
//! outbox, and the only way to change them ([`Store::write`]).

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use prost::Message;
use serde::{Serialize, de::DeserializeOwned};
use sled::Transactional as _;
use sled::transaction::{
    ConflictableTransactionError, TransactionError, TransactionalTree, UnabortableTransactionError,
};
use tokio::sync::Notify;

use crate::commit::GroupCommit;
use crate::format::{self, Layout};
use crate::metrics::StoreMetrics;
use crate::outbox::{self, OUTBOX_TREE, OutboxEntry, SEQUENCE_KEY};
use crate::settings::{StoreSettings, open_when_unlocked};
use crate::{StoreError, Table};

/// A service's embedded database. Cheap to clone; every clone is the same
/// database.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    db: sled::Db,
    dir: PathBuf,
    layout: Layout,
    /// Held shared by every change, exclusively by a backup.
    checkpoint: RwLock<()>,
    names: Vec<&'static str>,
    /// Declared tables in declaration order, the outbox last.
    trees: Vec<sled::Tree>,
    commit: GroupCommit,
    outbox_changed: Notify,
    metrics: StoreMetrics,
}

impl Store {
    /// Opens (or creates) the database in `dir` laid out as `layout`, with
    /// the default settings; refuses a store of another kind or format
    /// (see [`Layout`]).
    pub fn open(dir: &Path, layout: &Layout) -> Result<Self, StoreError> {
        Self::open_with(dir, layout, &StoreSettings::default())
    }

    /// [`Store::open`] with sled's page cache and the compression of a new
    /// store as `settings` say.
    pub fn open_with(
        dir: &Path,
        layout: &Layout,
        settings: &StoreSettings,
    ) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|err| StoreError::Sled(err.into()))?;
        let db = open_when_unlocked(dir, layout, settings)?;
        format::check(&db, layout)?;
        crate::backup::remove_unfinished(dir);
        let mut names = layout.tables.to_vec();
        names.push(OUTBOX_TREE);
        let trees = names
            .iter()
            .map(|name| db.open_tree(name))
            .collect::<Result<Vec<_>, _>>()?;
        let metrics = StoreMetrics::default();
        let commit = GroupCommit::start(db.clone(), metrics.clone());
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                dir: dir.to_owned(),
                layout: *layout,
                checkpoint: RwLock::new(()),
                names,
                trees,
                commit,
                outbox_changed: Notify::new(),
                metrics,
            }),
        })
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
        let table = Table::new(name, index, self.inner.trees[index].clone());
        if format::reencode_pending(&self.inner.db, name)? {
            let rewritten = table.reencode_legacy()?;
            format::reencode_done(&self.inner.db, name)?;
            tracing::info!(table = name, rewritten, "re-encoded the table's values");
        }
        Ok(table)
    }

    /// Runs `change` as one serializable transaction over every table and the
    /// outbox, then waits until it is on disk (group commit). `change` may run
    /// more than once when transactions conflict, so it must not have side
    /// effects outside `tx`; it must pass every `StoreError` it gets from
    /// `tx` back out. Returning `Err` aborts with nothing written.
    /// Inside `change`, read only through `tx`: reading a [`Table`] directly
    /// there deadlocks (sled holds its commit lock while `change` runs).
    pub async fn write<R, E>(&self, change: impl Fn(&Tx<'_>) -> Result<R, E>) -> Result<R, E>
    where
        E: From<StoreError>,
    {
        let started = std::time::Instant::now();
        let (value, staged_events) = off_the_runtime(|| self.transact(change))?;
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

    fn transact<R, E>(&self, change: impl Fn(&Tx<'_>) -> Result<R, E>) -> Result<(R, bool), E>
    where
        E: From<StoreError>,
    {
        let _consistent = self.checkpoint_shared();
        let result = self.inner.trees.as_slice().transaction(|trees| {
            let tx = Tx {
                trees,
                outbox_index: trees.len() - 1,
                failure: RefCell::new(None),
                staged_events: RefCell::new(false),
            };
            match change(&tx) {
                Ok(value) => Ok((value, *tx.staged_events.borrow())),
                Err(err) => Err(match tx.failure.take() {
                    Some(UnabortableTransactionError::Conflict) => {
                        ConflictableTransactionError::Conflict
                    }
                    Some(UnabortableTransactionError::Storage(storage)) => {
                        ConflictableTransactionError::Storage(storage)
                    }
                    None => ConflictableTransactionError::Abort(err),
                }),
            }
        });
        match result {
            Ok(value) => Ok(value),
            Err(TransactionError::Abort(err)) => Err(err),
            Err(TransactionError::Storage(err)) => Err(E::from(StoreError::Sled(err))),
        }
    }

    /// Held while changing anything, so that a backup sees whole commits.
    fn checkpoint_shared(&self) -> RwLockReadGuard<'_, ()> {
        // The lock guards no data: a panic while holding it poisons nothing.
        self.inner
            .checkpoint
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Held while taking a backup: every change waits.
    pub(crate) fn checkpoint_exclusive(&self) -> RwLockWriteGuard<'_, ()> {
        self.inner
            .checkpoint
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The directory the store lives in.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    pub(crate) fn db(&self) -> &sled::Db {
        &self.inner.db
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

    /// What this store measures.
    pub fn metrics(&self) -> &StoreMetrics {
        &self.inner.metrics
    }

    /// Flushes everything to disk now (used at shutdown).
    pub fn flush(&self) -> Result<(), StoreError> {
        self.inner.db.flush()?;
        Ok(())
    }

    /// The oldest staged events, in commit order, at most `max` of them.
    pub fn outbox_batch(&self, max: usize) -> Result<Vec<(u64, OutboxEntry)>, StoreError> {
        let tree = self.outbox_tree();
        let mut batch = Vec::new();
        for item in tree.range::<&[u8], _>(..SEQUENCE_KEY).take(max) {
            let (key, bytes) = item?;
            let sequence = outbox::entry_sequence(&key)?;
            let entry = OutboxEntry::decode(bytes.as_ref()).map_err(|err| StoreError::Corrupt {
                table: OUTBOX_TREE,
                key: sequence.to_string(),
                reason: err.to_string(),
            })?;
            batch.push((sequence, entry));
        }
        Ok(batch)
    }

    /// Forgets published events: every event staged up to and including
    /// sequence `through`, in one batch (one pass through sled's locks
    /// however many there are, so that a relay keeps pace beside big
    /// transactions). Events leave the outbox only this way, oldest first,
    /// so what is left is always one run of sequence numbers. Not flushed on
    /// its own: if the removal is lost in a crash the relay recognises the
    /// events on the stream and does not publish them again. Returns how
    /// many were removed.
    pub fn outbox_remove_through(&self, through: u64) -> Result<usize, StoreError> {
        let _consistent = self.checkpoint_shared();
        let tree = self.outbox_tree();
        let mut batch = sled::Batch::default();
        let mut removed = 0;
        for key in tree.range(..=outbox::sequence_key(through)).keys() {
            batch.remove(key?);
            removed += 1;
        }
        tree.apply_batch(batch)?;
        Ok(removed)
    }

    /// Number of events waiting to be published. Read from the oldest
    /// event's sequence number and the last one staged, not by counting:
    /// a backlog of millions costs the same as an empty outbox.
    pub fn outbox_len(&self) -> Result<usize, StoreError> {
        let Some(oldest) = self
            .outbox_tree()
            .range::<&[u8], _>(..SEQUENCE_KEY)
            .keys()
            .next()
            .transpose()?
        else {
            return Ok(0);
        };
        let oldest = outbox::entry_sequence(&oldest)?;
        let last = self.outbox_last_sequence()?;
        Ok(usize::try_from(last.saturating_sub(oldest) + 1).unwrap_or(usize::MAX))
    }

    /// Sequence number of the last event ever staged (0 if none); changes
    /// only when a write stages an event.
    pub fn outbox_last_sequence(&self) -> Result<u64, StoreError> {
        let last = self.outbox_tree().get(SEQUENCE_KEY)?;
        Ok(last
            .as_deref()
            .and_then(outbox::decode_sequence)
            .unwrap_or(0))
    }

    /// Resolves when an event has been staged since the last call returned.
    pub async fn outbox_changed(&self) {
        self.inner.outbox_changed.notified().await
    }

    fn outbox_tree(&self) -> &sled::Tree {
        self.inner
            .trees
            .last()
            .expect("the outbox tree is always open")
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

/// The view of the store inside one [`Store::write`] transaction.
pub struct Tx<'a> {
    trees: &'a Vec<TransactionalTree>,
    outbox_index: usize,
    failure: RefCell<Option<UnabortableTransactionError>>,
    staged_events: RefCell<bool>,
}

impl Tx<'_> {
    /// Reads a value as of this transaction.
    pub fn get<V: Serialize + DeserializeOwned>(
        &self,
        table: &Table<V>,
        key: &str,
    ) -> Result<Option<V>, StoreError> {
        let bytes = self.check(self.trees[table.index].get(key.as_bytes()))?;
        bytes.map(|bytes| table.decode(key, &bytes)).transpose()
    }

    /// Writes a value; visible to later reads in this transaction.
    pub fn insert<V: Serialize + DeserializeOwned>(
        &self,
        table: &Table<V>,
        key: &str,
        value: &V,
    ) -> Result<(), StoreError> {
        let bytes = Table::encode(value);
        self.check(self.trees[table.index].insert(key.as_bytes(), bytes))?;
        Ok(())
    }

    /// Deletes a value.
    pub fn remove<V: Serialize + DeserializeOwned>(
        &self,
        table: &Table<V>,
        key: &str,
    ) -> Result<(), StoreError> {
        self.check(self.trees[table.index].remove(key.as_bytes()))?;
        Ok(())
    }

    /// Stages an event for publication, committed with the rest of this
    /// transaction. Returns its outbox sequence number.
    pub fn stage_event(&self, entry: &OutboxEntry) -> Result<u64, StoreError> {
        let outbox = &self.trees[self.outbox_index];
        let last = self.check(outbox.get(SEQUENCE_KEY))?;
        let sequence = last
            .as_deref()
            .and_then(outbox::decode_sequence)
            .unwrap_or(0)
            + 1;
        let key = outbox::sequence_key(sequence);
        self.check(outbox.insert(SEQUENCE_KEY, &key[..]))?;
        self.check(outbox.insert(&key[..], entry.encode_to_vec()))?;
        *self.staged_events.borrow_mut() = true;
        Ok(sequence)
    }

    /// Remembers why a sled call failed so that [`Store::write`] can retry a
    /// conflict or report a storage fault, whatever error type the caller's
    /// closure turns it into.
    fn check<T>(&self, result: Result<T, UnabortableTransactionError>) -> Result<T, StoreError> {
        result.map_err(|err| {
            let message = match &err {
                UnabortableTransactionError::Conflict => "transaction conflict".to_owned(),
                UnabortableTransactionError::Storage(storage) => storage.to_string(),
            };
            *self.failure.borrow_mut() = Some(err);
            StoreError::Transaction(message)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::settings::compressed;

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
        compress: true,
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

        assert_eq!(store.outbox_remove_through(batch[0].0).unwrap(), 1);
        assert_eq!(store.outbox_len().unwrap(), 1);
        assert_eq!(store.outbox_remove_through(batch[1].0).unwrap(), 1);
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
            store.outbox_remove_through(sequence).unwrap();
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

    /// Writes `things` into `dir` as format 1 did: JSON values.
    fn format_1_store(dir: &Path, things: &[(&str, Thing)]) {
        let db = sled::open(dir).unwrap();
        format::record(&db, THINGS.kind, 1).unwrap();
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
            let raw = store.inner.trees[things.index].get("x").unwrap().unwrap();
            assert_eq!(raw[0], crate::table::COMPACT, "re-encoded on open");
            assert!(raw.len() < serde_json::to_vec(&thing("x", 1)).unwrap().len() / 2);
        }
        std::thread::sleep(Duration::from_millis(200));
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
        let after = Table::<After>::new("things", before.index, before.tree.clone());
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

    #[test]
    fn a_new_store_compresses_as_told_and_an_older_one_keeps_what_it_was_made_with() {
        let new = tempfile::tempdir().unwrap();
        drop(Store::open(new.path(), &THINGS).unwrap());
        assert!(compressed(new.path(), false));
        let old = tempfile::tempdir().unwrap();
        drop(sled::open(old.path()).unwrap());
        assert!(!compressed(old.path(), true));
        std::thread::sleep(Duration::from_millis(200));
        drop(Store::open(old.path(), &THINGS).unwrap());
        assert!(!compressed(old.path(), true));
        let plain = tempfile::tempdir().unwrap();
        let settings = StoreSettings {
            compress_new: Some(false),
            ..StoreSettings::default()
        };
        drop(Store::open_with(plain.path(), &THINGS, &settings).unwrap());
        assert!(!compressed(plain.path(), true));
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
