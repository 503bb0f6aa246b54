//! The outbox relay: the only path from a committed change to JetStream.
//!
//! Events are published in outbox order, a window of them at once (one
//! round trip for the window instead of one per event), and removed from
//! the outbox once their PubAcks arrive. The stream holds them in commit
//! order: every event of a window after the first names its predecessor
//! (`Nats-Expected-Last-Msg-Id`), so the server refuses it unless the
//! predecessor is the stream's last message, and nothing can overtake an
//! event that was lost. Publishing goes on from the first event not
//! acknowledged, alone and retried with backoff under the same
//! `Nats-Msg-Id`. Events stored although their PubAck never came back (or
//! published by a run that crashed before removing them) are recognised
//! by the stream's last message, which order makes the last of them, and
//! not published again; the stream's duplicate window absorbs any other
//! retry of a message that was stored after all.

use std::time::Duration;

use async_nats::{HeaderName, jetstream};
use jilin_store::{OutboxEntry, Store};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::cloudevents::{NATS_MSG_ID, Outgoing};
use crate::{BusMetrics, StreamSpec, ensure_stream};

/// Events published at once, at most.
const BATCH: usize = 256;
/// Events looked at, at start, for those a previous run published but did
/// not remove.
const START_SCAN: usize = 65_536;
/// JetStream refuses a message with this header unless the stream's last
/// message has that `Nats-Msg-Id`.
static EXPECTED_LAST_MSG_ID: HeaderName = HeaderName::from_static("Nats-Expected-Last-Msg-Id");
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Safety net: look at the outbox this often even without a notification.
const IDLE_POLL: Duration = Duration::from_secs(1);

/// The events of a window acknowledged: the first `count`, through the
/// outbox sequence `through` (none when `count` is 0).
#[derive(Clone, Copy, Debug, Default)]
struct Acknowledged {
    count: usize,
    through: Option<u64>,
}

/// Publishes a store's outbox to the service's stream.
pub struct OutboxRelay {
    store: Store,
    jetstream: jetstream::Context,
    stream: StreamSpec,
    replicas: usize,
    metrics: BusMetrics,
}

impl OutboxRelay {
    pub fn new(store: Store, client: async_nats::Client, stream: StreamSpec) -> Self {
        let jetstream = jetstream::ContextBuilder::new()
            .timeout(Duration::from_secs(5))
            .build(client);
        Self {
            store,
            jetstream,
            stream,
            replicas: 1,
            metrics: BusMetrics::default(),
        }
    }

    /// The stream is created with `replicas` copies in a cluster.
    pub fn replicas(mut self, replicas: usize) -> Self {
        self.replicas = replicas;
        self
    }

    /// Publish latencies are recorded in `metrics`.
    pub fn metrics(mut self, metrics: &BusMetrics) -> Self {
        self.metrics = metrics.clone();
        self
    }

    /// Runs until `shutdown` is cancelled. Whatever is not yet acknowledged
    /// stays in the outbox for the next run.
    ///
    /// Published events are removed by a task of their own, so that the
    /// next window goes out while the removal waits for the writers' turn
    /// (behind a batch of a thousand reports, tens of milliseconds).
    pub async fn run(self, shutdown: CancellationToken) {
        let (published, removals) = watch::channel(0);
        let remover = tokio::spawn(remove_published(self.store.clone(), removals));
        self.relay(&published, &shutdown).await;
        drop(published);
        let _ = remover.await;
    }

    /// Publishes until `shutdown`, sending the sequence of the last event
    /// acknowledged to `published`.
    async fn relay(&self, published: &watch::Sender<u64>, shutdown: &CancellationToken) {
        if !self.retry_until_ok(shutdown, || self.ensure_stream()).await {
            return;
        }
        // Before the first window, and after any window not wholly
        // acknowledged, the stream's last message decides what is left to
        // send: events a previous run published but could not remove (a
        // crash between PubAck and removal), or whose PubAck was lost, are
        // never sent again. Nothing relies on the server's duplicate
        // window, which a restarted server may not have rebuilt yet.
        let mut check_stream = true;
        let mut backoff = MIN_BACKOFF;
        loop {
            let (after, size) = if check_stream {
                (0, START_SCAN)
            } else {
                (*published.borrow(), BATCH)
            };
            let batch = match self.store.outbox_batch_after(after, size) {
                Ok(batch) => batch,
                Err(err) => {
                    tracing::error!(error = %err, "cannot read the outbox");
                    Vec::new()
                }
            };
            if batch.is_empty() {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = self.store.outbox_changed() => {}
                    _ = tokio::time::sleep(IDLE_POLL) => {}
                }
                continue;
            }
            let failure = if check_stream {
                match self.skip_stored(&batch).await {
                    Ok(0) => {
                        check_stream = false;
                        None
                    }
                    // Removed: read the outbox again.
                    Ok(_) => {
                        check_stream = false;
                        continue;
                    }
                    Err(err) => Some(err),
                }
            } else {
                let mut window = batch;
                window.truncate(BATCH);
                let offered = window.len();
                let (acknowledged, failure) = self.publish_window(window).await;
                if let Some(through) = acknowledged.through {
                    published.send_replace(through);
                }
                if acknowledged.count < offered {
                    check_stream = true;
                    failure.or_else(|| Some("a window was not wholly acknowledged".into()))
                } else {
                    None
                }
            };
            let Some(err) = failure else {
                backoff = MIN_BACKOFF;
                continue;
            };
            if !self.back_off(&err, &mut backoff, shutdown).await {
                return;
            }
        }
    }

    /// Removes from the outbox the events of `pending` up to the stream's
    /// last message, when that message is one of them: the stream holds
    /// events in outbox order, so all of those are stored. This does not
    /// rely on the server's duplicate window, which a restarted server may
    /// have forgotten. Returns how many were removed.
    async fn skip_stored(
        &self,
        pending: &[(u64, OutboxEntry)],
    ) -> Result<usize, async_nats::Error> {
        let Some(last) = self.last_stored_id().await? else {
            return Ok(0);
        };
        let Some(position) = pending.iter().position(|(_, entry)| entry.id == last) else {
            return Ok(0);
        };
        self.published(&pending[..=position]).await;
        tracing::info!(
            events = position + 1,
            "events already on the stream removed from the outbox"
        );
        Ok(position + 1)
    }

    /// The `Nats-Msg-Id` of the stream's last message, if it has any.
    async fn last_stored_id(&self) -> Result<Option<String>, async_nats::Error> {
        // Getting the stream asks the server for its info: that answer is
        // current enough.
        let stream = self.jetstream.get_stream(self.stream.name).await?;
        let info = stream.cached_info();
        if info.state.messages == 0 {
            return Ok(None);
        }
        let last = stream.get_raw_message(info.state.last_sequence).await?;
        Ok(last
            .headers
            .get(NATS_MSG_ID.clone())
            .map(|id| id.as_str().to_owned()))
    }

    /// Removes events the stream holds from the outbox: `events` are the
    /// oldest in it, in order.
    async fn published(&self, events: &[(u64, OutboxEntry)]) {
        let Some((through, _)) = events.last() else {
            return;
        };
        if let Err(err) = self.store.outbox_remove_through(*through).await {
            tracing::error!(error = %err, events = events.len(), "cannot remove published events");
        }
    }

    /// Publishes `window` without waiting between events, each after the
    /// first naming its predecessor. Returns how many from the start were
    /// acknowledged, through which outbox sequence (in order: once one is
    /// not, the rest are refused too), and, when not all were, why not.
    async fn publish_window(
        &self,
        window: Vec<(u64, OutboxEntry)>,
    ) -> (Acknowledged, Option<async_nats::Error>) {
        let started = std::time::Instant::now();
        let mut pending = Vec::with_capacity(window.len());
        let mut not_sent = None;
        let mut previous: Option<String> = None;
        for (sequence, entry) in window {
            let mut message = Outgoing::new(entry, self.stream.source);
            if let Some(previous) = previous.take() {
                message
                    .headers
                    .insert(EXPECTED_LAST_MSG_ID.clone(), previous);
            }
            let sent = self
                .jetstream
                .publish_with_headers(message.subject, message.headers, message.payload)
                .await;
            match sent {
                Ok(ack) => pending.push((ack, sequence, message.id.clone())),
                Err(err) => {
                    not_sent = Some(err.into());
                    break;
                }
            }
            previous = Some(message.id);
        }
        let mut acknowledged = Acknowledged::default();
        let mut failure = None;
        for (ack, sequence, id) in pending {
            match ack.await {
                Ok(ack) => {
                    acknowledged.count += 1;
                    acknowledged.through = Some(sequence);
                    tracing::debug!(
                        %id,
                        stream_sequence = ack.sequence,
                        duplicate = ack.duplicate,
                        "event published"
                    );
                }
                Err(err) => {
                    tracing::debug!(
                        error = %err,
                        acknowledged = acknowledged.count,
                        "publish window cut short"
                    );
                    failure = Some(err.into());
                    break;
                }
            }
        }
        if acknowledged.count > 0 {
            let each = started.elapsed().as_secs_f64() / acknowledged.count as f64;
            for _ in 0..acknowledged.count {
                self.metrics.publish_seconds.observe(each);
            }
        }
        (acknowledged, failure.or(not_sent))
    }

    async fn ensure_stream(&self) -> Result<(), async_nats::Error> {
        ensure_stream(&self.jetstream, &self.stream, self.replicas).await?;
        tracing::info!(
            stream = self.stream.name,
            replicas = self.replicas,
            "stream ready"
        );
        Ok(())
    }

    /// Calls `attempt` until it succeeds (true) or shutdown is requested
    /// (false), backing off exponentially between failures.
    async fn retry_until_ok<F, Fut>(&self, shutdown: &CancellationToken, mut attempt: F) -> bool
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<(), async_nats::Error>>,
    {
        let mut backoff = MIN_BACKOFF;
        loop {
            if shutdown.is_cancelled() {
                return false;
            }
            let outcome = tokio::select! {
                _ = shutdown.cancelled() => return false,
                outcome = attempt() => outcome,
            };
            match outcome {
                Ok(()) => return true,
                Err(err) => {
                    if !self.back_off(&err, &mut backoff, shutdown).await {
                        return false;
                    }
                }
            }
        }
    }

    /// After a failure: says so, waits `backoff` and doubles it (up to
    /// MAX_BACKOFF). False when shutdown was requested while waiting.
    async fn back_off(
        &self,
        err: &impl std::fmt::Display,
        backoff: &mut Duration,
        shutdown: &CancellationToken,
    ) -> bool {
        tracing::warn!(
            error = %err,
            pending = self.store.outbox_len().unwrap_or_default(),
            retry_in = ?*backoff,
            "NATS unavailable; events wait in the outbox"
        );
        tokio::select! {
            _ = shutdown.cancelled() => return false,
            _ = tokio::time::sleep(*backoff) => {}
        }
        *backoff = (*backoff * 2).min(MAX_BACKOFF);
        true
    }
}

/// Removes published events from the outbox, through the last sequence
/// sent on `published`, until its sender is dropped (after removing what
/// it last sent). A removal lost in a crash is harmless: the relay finds
/// those events on the stream at its next start.
async fn remove_published(store: Store, mut published: watch::Receiver<u64>) {
    while published.changed().await.is_ok() {
        let through = *published.borrow_and_update();
        if let Err(err) = store.outbox_remove_through(through).await {
            tracing::error!(error = %err, through, "cannot remove published events");
        }
    }
}
