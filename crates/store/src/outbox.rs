//! The transactional outbox: events staged in the same transaction as the
//! state change they describe, drained in order by a relay.
//!
//! Entries live in the `__outbox` table under an 8-byte big-endian sequence
//! number taken from a counter in the same table, so the outbox order is
//! the commit order. The counter keys sort after every entry key.
//!
//! A removed entry stays in the tree as a tombstone until compaction drops
//! it, and a scan from the start of the table would walk them all: after a
//! load of millions of events, every `outbox_len` did. So scans start at
//! the floor, the sequence number after the last removal, kept in memory
//! and written with each removal.

use std::sync::atomic::Ordering;

use prost::Message;

use crate::{Store, StoreError};

/// Key of the sequence counter inside the outbox table.
pub(crate) const SEQUENCE_KEY: &[u8] = b"\xff\xffsequence";
/// Key of the outbox's floor: the sequence number after the last event
/// removed, written with each removal.
const FLOOR_KEY: &[u8] = b"\xff\xfffloor";
/// Every entry key sorts below this, and the counters from it on (sequence
/// numbers stay below 2^56).
pub(crate) const ENTRIES_END: &[u8] = b"\xff";
/// Name of the outbox tree.
pub(crate) const OUTBOX_TREE: &str = "__outbox";

/// One event waiting to be published.
#[derive(Clone, PartialEq, Message)]
pub struct OutboxEntry {
    /// Unique event id: CloudEvents `ce-id` and JetStream `Nats-Msg-Id`.
    #[prost(string, tag = "1")]
    pub id: String,
    /// NATS subject, e.g. `jilin.registry.project.created`.
    #[prost(string, tag = "2")]
    pub subject: String,
    /// Full protobuf name of the payload: CloudEvents `ce-type`.
    #[prost(string, tag = "3")]
    pub event_type: String,
    /// Resource the event is about: CloudEvents `ce-subject`.
    #[prost(string, tag = "4")]
    pub resource: String,
    /// RFC 3339 time of the change: CloudEvents `ce-time`.
    #[prost(string, tag = "5")]
    pub time: String,
    /// Encoded protobuf payload.
    #[prost(bytes = "vec", tag = "6")]
    pub payload: Vec<u8>,
    /// W3C trace context of the request that caused the event, if any.
    #[prost(string, tag = "7")]
    pub traceparent: String,
    /// The principal (token subject) whose request caused the event, if
    /// any: the CloudEvents extension attribute `principal`.
    #[prost(string, tag = "8")]
    pub principal: String,
}

pub(crate) fn sequence_key(sequence: u64) -> [u8; 8] {
    sequence.to_be_bytes()
}

pub(crate) fn decode_sequence(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

/// The sequence number an outbox entry's key holds; any other key there is
/// corruption.
pub(crate) fn entry_sequence(key: &[u8]) -> Result<u64, StoreError> {
    decode_sequence(key).ok_or_else(|| StoreError::Corrupt {
        table: OUTBOX_TREE,
        key: format!("{key:?}"),
        reason: "outbox key is not a sequence number".into(),
    })
}

impl Store {
    /// The oldest staged events, in commit order, at most `max` of them.
    pub fn outbox_batch(&self, max: usize) -> Result<Vec<(u64, OutboxEntry)>, StoreError> {
        self.outbox_batch_after(0, max)
    }

    /// The oldest staged events after sequence `after` (events published
    /// but not yet removed are skipped this way; sequences start at 1, so 0
    /// skips nothing), in commit order, at most `max` of them.
    pub fn outbox_batch_after(
        &self,
        after: u64,
        max: usize,
    ) -> Result<Vec<(u64, OutboxEntry)>, StoreError> {
        let mut batch = Vec::new();
        for item in self.outbox_entries(after.saturating_add(1)).take(max) {
            let (key, bytes) = item?;
            let sequence = entry_sequence(&key)?;
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
    /// sequence `through`, in one transaction. Events leave the outbox only
    /// this way, oldest first, so what is left is always one run of
    /// sequence numbers. Not put on disk on its own: if the removal is lost
    /// in a crash the relay recognises the events on the stream and does
    /// not publish them again. Returns how many were removed. Waits for
    /// the writers' turn as [`Store::write`] does.
    pub async fn outbox_remove_through(&self, through: u64) -> Result<usize, StoreError> {
        self.in_writer_turn(|| self.remove_through(through)).await
    }

    fn remove_through(&self, through: u64) -> Result<usize, StoreError> {
        let floor = self.outbox_floor().load(Ordering::Acquire);
        let keys = self
            .outbox_table()
            .inner()
            .range(sequence_key(floor)..=sequence_key(through))
            .map(|item| item.map(|(key, _)| key))
            .collect::<Result<Vec<_>, _>>()?;
        let floor = floor.max(through.saturating_add(1));
        let mut tx = self.keyspace().write_tx();
        for key in &keys {
            tx.remove(self.outbox_table(), key.clone());
        }
        tx.insert(self.outbox_table(), FLOOR_KEY, sequence_key(floor));
        tx.commit().map_err(|err| self.write_failed(err))?;
        self.outbox_floor().fetch_max(floor, Ordering::AcqRel);
        Ok(keys.len())
    }

    /// Number of events waiting to be published. Read from the oldest
    /// event's sequence number and the last one staged, not by counting:
    /// a backlog of millions costs the same as an empty outbox.
    pub fn outbox_len(&self) -> Result<usize, StoreError> {
        let Some(oldest) = self.outbox_entries(0).next().transpose()? else {
            return Ok(0);
        };
        let oldest = entry_sequence(&oldest.0)?;
        let last = self.outbox_last_sequence()?;
        Ok(usize::try_from(last.saturating_sub(oldest) + 1).unwrap_or(usize::MAX))
    }

    /// Sequence number of the last event ever staged (0 if none); changes
    /// only when a write stages an event.
    pub fn outbox_last_sequence(&self) -> Result<u64, StoreError> {
        let last = self.outbox_table().get(SEQUENCE_KEY)?;
        Ok(last.as_deref().and_then(decode_sequence).unwrap_or(0))
    }

    /// The staged events in order, from sequence `first` or the floor,
    /// whichever is higher.
    fn outbox_entries(
        &self,
        first: u64,
    ) -> impl Iterator<Item = fjall::Result<fjall::KvPair>> + use<> {
        let start = sequence_key(first.max(self.outbox_floor().load(Ordering::Acquire)));
        self.outbox_table()
            .inner()
            .range(start.to_vec()..ENTRIES_END.to_vec())
    }
}

/// The floor of the outbox in `table` as it is opened: the one written
/// with the last removal, or else (a store from before floors were kept)
/// found by one scan: the oldest entry, or the next sequence number if
/// there is none.
pub(crate) fn floor_at_open(table: &fjall::TxPartitionHandle) -> Result<u64, StoreError> {
    if let Some(floor) = table.get(FLOOR_KEY)? {
        return Ok(decode_sequence(&floor).unwrap_or(0));
    }
    match table.inner().range(..ENTRIES_END).next().transpose()? {
        Some((key, _)) => entry_sequence(&key),
        None => {
            let last = table.get(SEQUENCE_KEY)?;
            Ok(last.as_deref().and_then(decode_sequence).unwrap_or(0) + 1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Layout;

    const EVENTS: Layout = Layout {
        kind: "test",
        version: 1,
        upgrades_from: 1,
        tables: &[],
    };

    async fn stage(store: &Store, count: usize) {
        store
            .write(|tx| -> Result<(), StoreError> {
                for _ in 0..count {
                    tx.stage_event(&OutboxEntry::default())?;
                }
                Ok(())
            })
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn the_floor_survives_a_restart_and_is_found_in_a_store_without_one() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path(), &EVENTS).unwrap();
            assert_eq!(store.outbox_floor().load(Ordering::Acquire), 1);
            stage(&store, 1000).await;
            assert_eq!(store.outbox_remove_through(990).await.unwrap(), 990);
        }
        let store = Store::open(dir.path(), &EVENTS).unwrap();
        assert_eq!(store.outbox_floor().load(Ordering::Acquire), 991);
        assert_eq!(store.outbox_len().unwrap(), 10);
        assert_eq!(store.outbox_batch(1).unwrap()[0].0, 991);

        // A store from before floors were written: found from the entries.
        let table = store.outbox_table();
        table.remove(FLOOR_KEY).unwrap();
        assert_eq!(floor_at_open(table).unwrap(), 991);
        assert_eq!(store.outbox_remove_through(1000).await.unwrap(), 10);
        table.remove(FLOOR_KEY).unwrap();
        assert_eq!(floor_at_open(table).unwrap(), 1001, "none left: the next");
        stage(&store, 1).await;
        assert_eq!(store.outbox_batch(5).unwrap()[0].0, 1001);
    }

    /// The relay removes published events while the service's followers
    /// write. Waiting for a long transaction on fjall's lock would hold a
    /// runtime thread, and every task queued on it, for as long.
    #[test]
    fn a_removal_waiting_for_its_turn_leaves_the_runtime_free() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), &EVENTS).unwrap();
        runtime.block_on(async {
            stage(&store, 1).await;
            let (entered, inside) = tokio::sync::oneshot::channel();
            let (release, released) = std::sync::mpsc::channel::<()>();
            let long = tokio::spawn({
                let store = store.clone();
                async move {
                    store
                        .write(move |_| -> Result<(), StoreError> {
                            entered.send(()).unwrap();
                            released.recv().unwrap();
                            Ok(())
                        })
                        .await
                }
            });
            inside.await.unwrap();
            let removal = tokio::spawn({
                let store = store.clone();
                async move { store.outbox_remove_through(1).await }
            });
            // Let the removal start waiting, then ask the runtime for
            // another task while the transaction still holds the lock. A
            // watchdog ends the transaction after 5 s whatever happens, so
            // that a runtime held by the removal fails the test, not hangs.
            std::thread::sleep(std::time::Duration::from_millis(100));
            let watchdog = std::thread::spawn({
                let release = release.clone();
                move || {
                    std::thread::sleep(std::time::Duration::from_secs(5));
                    release.send(()).is_ok()
                }
            });
            let other = tokio::spawn(async { "ran" }).await.unwrap();
            let _ = release.send(());
            assert_eq!(other, "ran");
            assert!(
                !watchdog.join().unwrap(),
                "no other task ran until the transaction ended"
            );
            assert_eq!(removal.await.unwrap().unwrap(), 1);
            long.await.unwrap().unwrap();
        });
    }
}
