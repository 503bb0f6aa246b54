//! Applying another service's events exactly once.
//!
//! A follower (the indicator or risk service) says how an event becomes
//! its facts ([`Follower::decode`]) and how facts change its tables inside
//! a transaction ([`Follower::apply`]). The [`Applier`] owns the rest: each
//! batch goes into ONE [`Store::write`] together with the ids of its events,
//! so an event delivered again is recognised and skipped. Ids are kept with
//! the stream sequence they arrived at and forgotten once the consumer's ack
//! floor has passed them (JetStream delivers those no more), so the set
//! stays as small as the window of unacknowledged events. Per stream, a
//! counter of applied events also says whether anything was ever applied.

use jilin_store::{Store, StoreError, Table, Tx};

use crate::CloudEvent;

/// The table, declared by every follower's store, of applied event ids
/// (`{stream}/{event id}` → stream sequence) and counters (`{stream}` →
/// events applied from that stream).
pub const APPLIED_EVENTS: &str = "applied_events";

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
    /// What the follower reads before the transaction (sled cannot iterate
    /// a table inside one).
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
    /// batch's transaction. It may run more than once (sled retries
    /// conflicting transactions), so it must only write through `tx`.
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

/// Applies a follower's facts with their event ids, exactly once.
pub struct Applier<F> {
    store: Store,
    applied: Table<u64>,
    stream: &'static str,
    follower: F,
}

impl<F: Clone> Clone for Applier<F> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            applied: self.applied.clone(),
            stream: self.stream,
            follower: self.follower.clone(),
        }
    }
}

impl<F: Follower> Applier<F> {
    /// An applier of events from `stream` (its name, e.g. `JILIN_REGISTRY`)
    /// into `store`, which must declare [`APPLIED_EVENTS`].
    pub fn new(store: Store, stream: &'static str, follower: F) -> Result<Self, StoreError> {
        Ok(Self {
            applied: store.table(APPLIED_EVENTS)?,
            store,
            stream,
            follower,
        })
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
        let facts: Vec<&F::Fact> = batch.iter().map(|delivery| &delivery.fact).collect();
        let prepared = self.follower.prepare(&facts)?;
        let counter = self.stream;
        let outcome = self
            .store
            .write(|tx| {
                let mut fresh = Vec::with_capacity(batch.len());
                for delivery in batch {
                    let key = event_key(self.stream, &delivery.id);
                    if tx.get(&self.applied, &key)?.is_some() {
                        continue;
                    }
                    tx.insert(&self.applied, &key, &delivery.sequence)?;
                    fresh.push(&delivery.fact);
                }
                if !fresh.is_empty() {
                    let count = tx.get(&self.applied, counter)?.unwrap_or(0);
                    tx.insert(&self.applied, counter, &(count + fresh.len() as u64))?;
                }
                self.follower.apply(tx, &prepared, &fresh)
            })
            .await?;
        self.follower.committed(&outcome);
        Ok(outcome)
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
    pub async fn forget_acknowledged(&self, ack_floor: u64) -> Result<usize, StoreError> {
        let prefix = format!("{}/", self.stream);
        self.store
            .retain(&self.applied, &prefix, |sequence| {
                (*sequence > ack_floor).then_some(*sequence)
            })
            .await
    }

    /// Ids currently remembered for this stream.
    pub fn remembered(&self) -> Result<usize, StoreError> {
        Ok(self
            .applied
            .scan_prefix(&format!("{}/", self.stream))?
            .len())
    }
}

fn event_key(stream: &str, event_id: &str) -> String {
    format!("{stream}/{event_id}")
}
