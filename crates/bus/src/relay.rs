//! The outbox relay: the only path from a committed change to JetStream.
//!
//! Events are published one at a time in outbox order, each awaited until
//! its PubAck, so the stream holds them in commit order. A failed publish is
//! retried with backoff under the same `Nats-Msg-Id`; if the first attempt
//! was stored after all, the stream's duplicate window absorbs the retry.

use std::time::Duration;

use async_nats::jetstream;
use bytes::Bytes;
use jilin_store::{OutboxEntry, Store};
use tokio_util::sync::CancellationToken;

use crate::cloudevents::headers_for;
use crate::{BusMetrics, StreamSpec, ensure_stream};

const BATCH: usize = 256;
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Safety net: look at the outbox this often even without a notification.
const IDLE_POLL: Duration = Duration::from_secs(1);

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
    pub async fn run(self, shutdown: CancellationToken) {
        if !self
            .retry_until_ok(&shutdown, || self.ensure_stream())
            .await
        {
            return;
        }
        loop {
            let batch = match self.store.outbox_batch(BATCH) {
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
            for (sequence, entry) in batch {
                if !self
                    .retry_until_ok(&shutdown, || self.publish(&entry))
                    .await
                {
                    return;
                }
                if let Err(err) = self.store.outbox_remove(sequence) {
                    tracing::error!(error = %err, sequence, "cannot remove a published event");
                }
            }
        }
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

    async fn publish(&self, entry: &OutboxEntry) -> Result<(), async_nats::Error> {
        let started = std::time::Instant::now();
        let ack = self
            .jetstream
            .publish_with_headers(
                entry.subject.clone(),
                headers_for(entry, self.stream.source),
                Bytes::from(entry.payload.clone()),
            )
            .await?
            .await?;
        self.metrics
            .publish_seconds
            .observe(started.elapsed().as_secs_f64());
        tracing::debug!(
            id = %entry.id,
            subject = %entry.subject,
            stream_sequence = ack.sequence,
            duplicate = ack.duplicate,
            "event published"
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
                    tracing::warn!(
                        error = %err,
                        pending = self.store.outbox_len(),
                        retry_in = ?backoff,
                        "NATS unavailable; events wait in the outbox"
                    );
                    tokio::select! {
                        _ = shutdown.cancelled() => return false,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
}
