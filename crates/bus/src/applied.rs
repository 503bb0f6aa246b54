//! Applying another service's events exactly once.
//!
//! A follower (the indicator or risk service) says how an event becomes
//! its facts ([`Follower::decode`]) and how facts change its tables inside
//! a transaction ([`Follower::apply`]). The [`Applier`] owns the rest: each
//! batch goes into ONE [`Store::write`] together with the ids of its events,
//! so an event delivered again is recognised and skipped. Ids are kept with
//! the stream sequence they arrived at and forgotten once the consumer's ack
//! floor has passed them (JetStream delivers those no more), so the set
//! stays as small as the window of unacknowledged events: the follower
//! prunes every minute, and as soon as [`FORGET_AFTER`] ids are held (a
//! catch-up applies thousands of events a second). Per stream, a
//! counter of applied events also says whether anything was ever applied.
//!
//! A batch's ids are stored as one record (one write per batch, not per
//! event), and the applier looks them up in memory. The counter is the
//! version of that memory: every transaction checks that the stored count
//! is the one the memory was read at, so a memory that missed a write (of
//! another handle on the same store, or of a commit whose flush failed) is
//! read again before anything is decided on it. The memory also holds each
//! stored record's range of sequences, so that a prune removes the records
//! below the floor by key, without reading them, while batches go on.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use jilin_store::{Store, StoreError, Table, Tx};
use tokio::sync::{Mutex, Notify};

use crate::CloudEvent;

/// The table, declared by every follower's store, of applied event ids
/// and counters: `{stream}` → events applied from that stream;
/// `batch/{stream}/{count before the batch}` → the batch's (event id,
/// stream sequence) pairs; `{stream}/{event id}` → stream sequence, one
/// key per event as formats before 3 kept them (still read, and pruned).
pub const APPLIED_EVENTS: &str = "applied_events";

/// Ids held in memory (and in the store) past which the applier asks for a
/// prune without waiting for the minute (at most once a second). Small, so
/// that each prune is short: at 20,000 a prune's removals took 80 ms every
/// 20 s at 1,000 events/s, and the alerts applied meanwhile came late.
const FORGET_AFTER: usize = 2_000;

/// The ids of one batch, with their stream sequences.
type BatchRecord = Vec<(String, u64)>;

/// What an applier knows was applied: the ids not yet forgotten, as of
/// `count` events applied, and the stored batch records that hold them.
#[derive(Debug, Default)]
struct Remembered {
    count: u64,
    ids: HashMap<String, u64>,
    /// Each stored batch record, by the count before it: the least and
    /// the greatest stream sequence it holds. A prune removes the records
    /// wholly at or below the floor without reading them.
    batches: BTreeMap<u64, (u64, u64)>,
}

impl Remembered {
    /// Notes a batch record stored after `count` events.
    fn add_batch(&mut self, count: u64, record: &BatchRecord) {
        let sequences = record.iter().map(|(_, sequence)| *sequence);
        if let (Some(least), Some(greatest)) = (sequences.clone().min(), sequences.max()) {
            self.batches.insert(count, (least, greatest));
        }
    }

    /// The batch records at or below `floor`: those to remove, and those
    /// holding ids on both sides of it (to rewrite with the rest).
    fn batches_below(&self, floor: u64) -> (Vec<u64>, Vec<u64>) {
        let mut whole = Vec::new();
        let mut part = Vec::new();
        for (count, (least, greatest)) in &self.batches {
            if *greatest <= floor {
                whole.push(*count);
            } else if *least <= floor {
                part.push(*count);
            }
        }
        (whole, part)
    }

    /// Forgets the ids at or below `floor`, and the records `whole` (all
    /// below it) and `part` (rewritten to their ids above it).
    fn forget(&mut self, floor: u64, whole: &[u64], part: &[u64]) {
        self.ids.retain(|_, sequence| *sequence > floor);
        for count in whole {
            self.batches.remove(count);
        }
        for count in part {
            if let Some((least, _)) = self.batches.get_mut(count) {
                *least = floor + 1;
            }
        }
    }
}

/// Why a batch's transaction did not commit.
enum Applying<E> {
    /// The stored count is not the remembered one: read the ids again.
    Stale,
    Follower(E),
}

impl<E: From<StoreError>> From<StoreError> for Applying<E> {
    fn from(err: StoreError) -> Self {
        Applying::Follower(E::from(err))
    }
}

/// A checksum of what a store has applied: the count per stream, not the
/// remembered ids, which pruning forgets on its own every minute.
pub fn applied_fingerprint(table: &Table<u64>) -> Result<u64, StoreError> {
    table.fingerprint_where(|key| !key.contains('/'))
}

/// A service's part in following a stream: what an event means to it, and
/// how that changes its tables.
pub trait Follower: Send + Sync + 'static {
    /// What one event says, in the follower's terms.
    type Fact: Send + Sync + 'static;
    /// What the follower reads before the transaction, so that the
    /// transaction (which holds every other write back) stays short.
    type Prepared: Send + Sync;
    /// What a committed batch changed, for [`Follower::committed`].
    type Outcome: Send;
    /// Why an event can never be applied (it is terminated, not retried).
    type Rejection: std::error::Error + Send + Sync + 'static;
    /// Why a batch cannot be applied now (it is retried).
    type Error: std::error::Error + From<StoreError> + Send + Sync + 'static;

    /// Reads one event.
    fn decode(&self, event: &CloudEvent) -> Result<Self::Fact, Self::Rejection>;

    /// Reads, outside the transaction, what applying `facts` needs.
    fn prepare(&self, facts: &[&Self::Fact]) -> Result<Self::Prepared, Self::Error>;

    /// Applies facts never applied before, in stream order, inside the
    /// batch's transaction; it must only write through `tx`, so that an
    /// error leaves nothing behind.
    fn apply(
        &self,
        tx: &Tx<'_>,
        prepared: &Self::Prepared,
        facts: &[&Self::Fact],
    ) -> Result<Self::Outcome, Self::Error>;

    /// Runs once the batch is on disk (update caches, wake readers).
    fn committed(&self, outcome: &Self::Outcome);
}

/// One fact and the event it came from.
#[derive(Clone, Debug)]
pub struct Delivery<T> {
    /// The event's `ce-id` (or a synthetic id for a catch-up snapshot).
    pub id: String,
    /// The stream sequence it arrived at; 0 when not from the stream.
    pub sequence: u64,
    pub fact: T,
}

impl<T> Delivery<T> {
    /// A fact that did not come from the stream (a snapshot, a test).
    pub fn unsequenced(id: impl Into<String>, fact: T) -> Self {
        Self {
            id: id.into(),
            sequence: 0,
            fact,
        }
    }
}

/// Applies a follower's facts with their event ids, exactly once. Its
/// clones share one memory of the applied ids, and apply one batch at a
/// time.
pub struct Applier<F> {
    store: Store,
    applied: Table<u64>,
    batches: Table<BatchRecord>,
    stream: &'static str,
    remembered: Arc<Mutex<Remembered>>,
    /// Rung when more than `forget_after` ids are held.
    prune_due: Arc<Notify>,
    forget_after: usize,
    follower: F,
}

impl<F: Clone> Clone for Applier<F> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            applied: self.applied.clone(),
            batches: self.batches.clone(),
            stream: self.stream,
            remembered: self.remembered.clone(),
            prune_due: self.prune_due.clone(),
            forget_after: self.forget_after,
            follower: self.follower.clone(),
        }
    }
}

impl<F: Follower> Applier<F> {
    /// An applier of events from `stream` (its name, e.g. `JILIN_REGISTRY`)
    /// into `store`, which must declare [`APPLIED_EVENTS`].
    pub fn new(store: Store, stream: &'static str, follower: F) -> Result<Self, StoreError> {
        let applied = store.table(APPLIED_EVENTS)?;
        let batches = store.table(APPLIED_EVENTS)?;
        let remembered = read_remembered(&applied, &batches, stream)?;
        Ok(Self {
            applied,
            batches,
            store,
            stream,
            remembered: Arc::new(Mutex::new(remembered)),
            prune_due: Arc::default(),
            forget_after: FORGET_AFTER,
            follower,
        })
    }

    /// The same applier, asking for a prune once it holds `ids` ids instead
    /// of [`FORGET_AFTER`].
    pub fn forget_after(mut self, ids: usize) -> Self {
        self.forget_after = ids;
        self
    }

    /// Rung after a commit that left more ids held than the applier should
    /// hold: the follower's pruning task waits on it.
    pub(crate) fn prune_due(&self) -> &Notify {
        &self.prune_due
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn follower(&self) -> &F {
        &self.follower
    }

    /// The stream's name.
    pub fn stream(&self) -> &'static str {
        self.stream
    }

    /// Applies `batch` in order in one transaction, skipping events already
    /// applied, and returns only once it is on disk.
    pub async fn apply(&self, batch: &[Delivery<F::Fact>]) -> Result<F::Outcome, F::Error> {
        let mut remembered = self.remembered.lock().await;
        loop {
            let mut seen = HashSet::new();
            let fresh: Vec<&Delivery<F::Fact>> = batch
                .iter()
                .filter(|d| !remembered.ids.contains_key(&d.id) && seen.insert(d.id.as_str()))
                .collect();
            let facts: Vec<&F::Fact> = fresh.iter().map(|delivery| &delivery.fact).collect();
            let record: BatchRecord = fresh.iter().map(|d| (d.id.clone(), d.sequence)).collect();
            let prepared = self.follower.prepare(&facts)?;
            let expected = remembered.count;
            let written = self
                .store
                .write(|tx| {
                    let count = tx.get(&self.applied, self.stream)?.unwrap_or(0);
                    if count != expected {
                        return Err(Applying::Stale);
                    }
                    if !record.is_empty() {
                        tx.insert(&self.applied, self.stream, &(count + record.len() as u64))?;
                        tx.insert(&self.batches, &batch_key(self.stream, count), &record)?;
                    }
                    self.follower
                        .apply(tx, &prepared, &facts)
                        .map_err(Applying::Follower)
                })
                .await;
            match written {
                Ok(outcome) => {
                    remembered.count = expected + record.len() as u64;
                    remembered.add_batch(expected, &record);
                    remembered.ids.extend(record);
                    if remembered.ids.len() > self.forget_after {
                        self.prune_due.notify_one();
                    }
                    self.follower.committed(&outcome);
                    return Ok(outcome);
                }
                Err(Applying::Stale) => {
                    *remembered = read_remembered(&self.applied, &self.batches, self.stream)?;
                }
                Err(Applying::Follower(err)) => return Err(err),
            }
        }
    }

    /// Events applied from this stream so far (catch-up facts included).
    pub fn applied_count(&self) -> Result<u64, StoreError> {
        Ok(self.applied.get(self.stream)?.unwrap_or(0))
    }

    /// Whether anything was ever applied from this stream, or a catch-up
    /// finished.
    pub fn has_started(&self) -> Result<bool, StoreError> {
        Ok(self.applied.get(self.stream)?.is_some())
    }

    /// Records that a catch-up finished, even one that found nothing.
    pub async fn mark_started(&self) -> Result<(), StoreError> {
        self.store
            .write(|tx| {
                if tx.get(&self.applied, self.stream)?.is_none() {
                    tx.insert(&self.applied, self.stream, &0)?;
                }
                Ok(())
            })
            .await
    }

    /// Forgets the ids of events at or below `ack_floor` (the consumer's
    /// acknowledged stream sequence), and of catch-up facts: neither can
    /// be delivered again. Returns how many were forgotten.
    ///
    /// Batches go on being applied meanwhile: the memory's lock is held
    /// only to pick the records to remove and, after the store's prune, to
    /// forget them (a prune leaves the count alone, and a batch written
    /// meanwhile holds only ids above the floor). The records wholly below
    /// the floor are removed by key, unread. Holding the lock through a
    /// prune that read every record made each batch wait about 100 ms
    /// every 20,000 events (BENCHMARKS.md, "The applied ids' prune").
    pub async fn forget_acknowledged(&self, ack_floor: u64) -> Result<usize, StoreError> {
        /// Records removed per transaction: each holds other writers back.
        const CHUNK: usize = 500;
        let (whole, part) = self.remembered.lock().await.batches_below(ack_floor);
        for chunk in whole.chunks(CHUNK) {
            self.store
                .write(|tx| {
                    chunk.iter().try_for_each(|count| {
                        tx.remove(&self.batches, &batch_key(self.stream, *count))
                    })
                })
                .await?;
        }
        if !part.is_empty() {
            self.store
                .write(|tx| {
                    for count in &part {
                        let key = batch_key(self.stream, *count);
                        let Some(record) = tx.get(&self.batches, &key)? else {
                            continue;
                        };
                        let kept: BatchRecord = record
                            .into_iter()
                            .filter(|(_, sequence)| *sequence > ack_floor)
                            .collect();
                        if kept.is_empty() {
                            tx.remove(&self.batches, &key)?;
                        } else {
                            tx.insert(&self.batches, &key, &kept)?;
                        }
                    }
                    Ok::<_, StoreError>(())
                })
                .await?;
        }
        self.store
            .retain(&self.applied, &event_prefix(self.stream), |sequence| {
                (*sequence > ack_floor).then_some(*sequence)
            })
            .await?;
        let mut remembered = self.remembered.lock().await;
        let before = remembered.ids.len();
        remembered.forget(ack_floor, &whole, &part);
        Ok(before - remembered.ids.len())
    }

    /// Ids currently stored for this stream.
    pub fn remembered(&self) -> Result<usize, StoreError> {
        let per_event = self.applied.scan_prefix(&event_prefix(self.stream))?.len();
        let batched: usize = self
            .batches
            .scan_prefix(&batch_prefix(self.stream))?
            .iter()
            .map(|(_, record)| record.len())
            .sum();
        Ok(per_event + batched)
    }
}

/// The stored ids of `stream`, as of the count stored first: ids read
/// after it are at least those it counts, and a batch written in between
/// shows as a changed count at the next transaction.
fn read_remembered(
    applied: &Table<u64>,
    batches: &Table<BatchRecord>,
    stream: &str,
) -> Result<Remembered, StoreError> {
    let count = applied.get(stream)?.unwrap_or(0);
    let prefix = event_prefix(stream);
    let ids: HashMap<String, u64> = applied
        .scan_prefix(&prefix)?
        .into_iter()
        .map(|(key, sequence)| (key[prefix.len()..].to_owned(), sequence))
        .collect();
    let mut remembered = Remembered {
        count,
        ids,
        batches: BTreeMap::new(),
    };
    let prefix = batch_prefix(stream);
    for (key, record) in batches.scan_prefix(&prefix)? {
        if let Ok(count) = key[prefix.len()..].parse() {
            remembered.add_batch(count, &record);
        }
        remembered.ids.extend(record);
    }
    Ok(remembered)
}

/// Where formats before 3 kept one key per applied event of `stream`.
fn event_prefix(stream: &str) -> String {
    format!("{stream}/")
}

fn batch_prefix(stream: &str) -> String {
    format!("batch/{stream}/")
}

/// The record of the batch applied after `count` events: zero-padded, so
/// records sort in the order they were applied.
fn batch_key(stream: &str, count: u64) -> String {
    format!("{}{count:020}", batch_prefix(stream))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(sequences: &[u64]) -> BatchRecord {
        sequences.iter().map(|s| (format!("e{s}"), *s)).collect()
    }

    fn remembered(batches: &[(u64, &[u64])]) -> Remembered {
        let mut remembered = Remembered::default();
        for (count, sequences) in batches {
            let record = record(sequences);
            remembered.add_batch(*count, &record);
            remembered.ids.extend(record);
        }
        remembered
    }

    #[test]
    fn records_wholly_at_or_below_the_floor_are_removed_and_straddling_ones_rewritten() {
        let remembered = remembered(&[(0, &[1, 2]), (2, &[3, 5]), (4, &[6]), (5, &[0])]);
        assert_eq!(remembered.batches_below(4), (vec![0, 5], vec![2]));
        assert_eq!(remembered.batches_below(0), (vec![5], vec![]));
        assert_eq!(remembered.batches_below(6), (vec![0, 2, 4, 5], vec![]));
    }

    #[test]
    fn forgetting_keeps_the_ids_above_the_floor_and_narrows_a_straddling_record() {
        let mut remembered = remembered(&[(0, &[1, 2]), (2, &[3, 5]), (4, &[6])]);
        let (whole, part) = remembered.batches_below(4);
        remembered.forget(4, &whole, &part);
        let mut ids: Vec<&str> = remembered.ids.keys().map(String::as_str).collect();
        ids.sort_unstable();
        assert_eq!(ids, ["e5", "e6"]);
        assert_eq!(
            remembered.batches,
            BTreeMap::from([(2, (5, 5)), (4, (6, 6))])
        );
        assert_eq!(remembered.batches_below(4), (vec![], vec![]));
    }

    #[test]
    fn an_empty_record_is_not_noted() {
        let mut remembered = Remembered::default();
        remembered.add_batch(7, &Vec::new());
        assert!(remembered.batches.is_empty());
    }
}
