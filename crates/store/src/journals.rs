//! Keeps fjall's journals few, so that writers are never halted for them.
//!
//! fjall deletes a journal only once every table holding writes in it has
//! written its memtable out, and it counts each journal at its
//! preallocated 32 MiB, however little it holds. A table written seldom
//! (the store's meta, the risk service's groups) keeps every journal
//! after its oldest write. fjall's own remedy starts at half its journal
//! limit and rotates one such table every 250 ms, each rotation sealing
//! one more journal; past the limit it halts every writer. Under a steady
//! 1,000 reports/s that halted the risk service's writes for over two
//! seconds a minute (BENCHMARKS.md, "fjall's journal halts").
//!
//! This thread looks once a second: past [`JOURNALS_KEPT`] journals it
//! has every table write its memtable out (fjall flushes them in the
//! background), so the oldest journals can go. It does so again only once
//! the count has come back down, or after [`PATIENCE`]. Each write-out
//! seals the journal, syncing it while writers wait: they are spaced by
//! [`SPACING`], so that no writer waits for more than one.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

/// Journals on disk past which every table writes its memtable out.
pub(crate) const JOURNALS_KEPT: usize = 8;
const LOOK_EVERY: Duration = Duration::from_secs(1);
/// How long a round of flushes is given before another may start while
/// the count stays high.
const PATIENCE: Duration = Duration::from_secs(30);
/// Between two tables' write-outs.
const SPACING: Duration = Duration::from_millis(50);

/// Handle on the keeper thread; dropping it ends and joins the thread.
pub(crate) struct JournalKeeper {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl JournalKeeper {
    /// `partitions`: every table of the keyspace.
    pub(crate) fn start(
        keyspace: fjall::TxKeyspace,
        partitions: Vec<fjall::TxPartitionHandle>,
    ) -> Self {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("store-journals".into())
            .spawn(move || {
                let mut last_round: Option<Instant> = None;
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(LOOK_EVERY) {
                    let journals = keyspace.journal_count();
                    if journals <= JOURNALS_KEPT {
                        last_round = None;
                    } else if last_round.is_none_or(|at| at.elapsed() >= PATIENCE) {
                        let written = write_out_memtables(&partitions, &stopped);
                        tracing::debug!(journals, written, "tables' memtables written out");
                        last_round = Some(Instant::now());
                    }
                }
            })
            .expect("spawn the journal keeper thread");
        Self {
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for JournalKeeper {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Has each table with anything in its memtable write it out (an empty
/// one is left as it is), [`SPACING`] apart, until all have or `stopped`
/// says to stop; returns how many did.
fn write_out_memtables(
    partitions: &[fjall::TxPartitionHandle],
    stopped: &mpsc::Receiver<()>,
) -> usize {
    let mut written = 0;
    for partition in partitions {
        // fjall's own monitor does the same; `rotate_memtable` is public
        // but hidden from its documentation (fjall is pinned).
        match partition.inner().rotate_memtable() {
            Ok(true) => {
                written += 1;
                if !matches!(
                    stopped.recv_timeout(SPACING),
                    Err(RecvTimeoutError::Timeout)
                ) {
                    break;
                }
            }
            Ok(false) => {}
            Err(err) => {
                tracing::warn!(table = %partition.inner().name, error = %err, "writing a memtable out failed");
            }
        }
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Layout, Store};

    const TWO: Layout = Layout {
        kind: "test",
        version: 1,
        upgrades_from: 1,
        tables: &["busy", "seldom"],
    };

    /// A table written once, then hundreds of megabytes to another: without
    /// the keeper the first table's write keeps every journal sealed since.
    #[tokio::test]
    async fn a_table_written_once_does_not_keep_the_journals_of_a_busy_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), &TWO).unwrap();
        let (busy, seldom) = (
            store.table::<String>("busy").unwrap(),
            store.table::<String>("seldom").unwrap(),
        );
        store
            .write(|tx| tx.insert(&seldom, "once", &"written".to_owned()))
            .await
            .unwrap();
        let mut most = 0;
        let megabyte = "m".repeat(1 << 20);
        for index in 0..400 {
            store
                .write(|tx| tx.insert(&busy, &format!("{index:04}"), &megabyte))
                .await
                .unwrap();
            most = most.max(store.journal_count());
        }
        // fjall's flushes run in the background: give them a few seconds.
        let deadline = Instant::now() + Duration::from_secs(20);
        while store.journal_count() > JOURNALS_KEPT && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(
            store.journal_count() <= JOURNALS_KEPT,
            "{} journals on disk (at most {most} during the writes)",
            store.journal_count()
        );
        assert!(
            most > JOURNALS_KEPT,
            "the writes sealed enough journals to matter"
        );
        assert_eq!(seldom.get("once").unwrap().as_deref(), Some("written"));
    }
}
