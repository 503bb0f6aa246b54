//! Group commit: many writers, one flush.
//!
//! Each writer that needs its transaction on disk sends a waiter to a
//! dedicated thread; the thread takes every waiter queued so far, syncs
//! fjall's journal once, and answers them all. Under load N concurrent writes cost one
//! flush, not N.

use std::sync::mpsc;

use tokio::sync::oneshot;

use crate::StoreError;
use crate::metrics::StoreMetrics;
use crate::writable::Writable;

/// Why a flush failed: its message, and whether the disk is full.
type FlushFailure = (String, bool);

type Waiter = oneshot::Sender<Result<(), FlushFailure>>;

/// Handle on the flusher thread; dropping it ends and joins the thread, so
/// the database files are released when the store is dropped.
pub(crate) struct GroupCommit {
    queue: Option<mpsc::Sender<Waiter>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl GroupCommit {
    pub(crate) fn start(
        keyspace: fjall::TxKeyspace,
        writable: Writable,
        metrics: StoreMetrics,
    ) -> Self {
        let (queue, waiters) = mpsc::channel::<Waiter>();
        let thread = std::thread::Builder::new()
            .name("store-group-commit".into())
            .spawn(move || flush_loop(keyspace, &writable, waiters, metrics))
            .expect("spawn the group-commit thread");
        Self {
            queue: Some(queue),
            thread: Some(thread),
        }
    }

    /// Resolves once everything committed before the call is on disk.
    pub(crate) async fn durable(&self) -> Result<(), StoreError> {
        let (tx, rx) = oneshot::channel();
        let queue = self.queue.as_ref().ok_or(StoreError::Closed)?;
        queue.send(tx).map_err(|_| StoreError::Closed)?;
        match rx.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err((reason, true))) => Err(StoreError::DiskFull(reason)),
            Ok(Err((reason, false))) => Err(StoreError::Flush(reason)),
            Err(_) => Err(StoreError::Closed),
        }
    }
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        drop(self.queue.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn flush_loop(
    keyspace: fjall::TxKeyspace,
    writable: &Writable,
    waiters: mpsc::Receiver<Waiter>,
    metrics: StoreMetrics,
) {
    while let Ok(first) = waiters.recv() {
        let mut batch = vec![first];
        batch.extend(waiters.try_iter());
        metrics.commit_batch.observe(batch.len() as f64);
        let outcome = keyspace
            .persist(fjall::PersistMode::SyncAll)
            .map_err(|err| match writable.failure(err) {
                StoreError::DiskFull(reason) => (reason, true),
                other => (other.to_string(), false),
            });
        if let Err((reason, _)) = &outcome {
            tracing::error!(%reason, "group commit flush failed");
        }
        for waiter in batch {
            let _ = waiter.send(outcome.clone());
        }
    }
}
