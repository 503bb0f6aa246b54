//! Following another service's stream, one way for every service: catch up
//! from a snapshot when the stream lost its oldest events, then consume the
//! stream durably, applying each batch through the [`Applier`] and acking
//! only after its commit, and forget applied ids below the ack floor.
//!
//! An event that can never apply is terminated and logged rather than
//! blocking the stream. The catch-up does the same with an unusable entry
//! of the snapshot: it is skipped and logged, so that one bad record cannot
//! keep a service from starting; everything else is applied.

use std::future::Future;
use std::time::Duration;

use async_nats::jetstream;
use tokio_util::sync::CancellationToken;

use crate::CloudEvent;
use crate::applied::{Applier, Delivery, Follower};
use crate::consumer::{ConsumerSpec, HandlerError, reset_consumer, run_consumer};
use crate::stream::{StreamSpec, stream_lost_history};

/// Facts applied per transaction during a catch-up.
const CATCH_UP_BATCH: usize = 256;
/// Pause before asking NATS again whether the stream lost history.
const RETRY_DELAY: Duration = Duration::from_secs(1);
/// How often applied ids below the ack floor are forgotten, at least.
pub const PRUNE_INTERVAL: Duration = Duration::from_secs(60);
/// The least time between two prunes, however many ids are held: while
/// the ack floor trails the commits, a prune forgets little, and the next
/// one waits for the acks to land.
const PRUNE_GAP: Duration = Duration::from_secs(1);

/// A failure to read a snapshot (the owning service is unreachable).
pub type SnapshotError = Box<dyn std::error::Error + Send + Sync>;

/// Where a follower catches up from: everything the stream's owner holds
/// now, as events with synthetic ids, decoded like the stream's own.
pub trait SnapshotSource: Send + Sync {
    /// The snapshot; an error means none could be read before `shutdown`.
    fn snapshot(
        &self,
        shutdown: &CancellationToken,
    ) -> impl Future<Output = Result<Vec<CloudEvent>, SnapshotError>> + Send;
}

/// No snapshot: a stream whose history can be lost without harm (values
/// that are republished), or a follower that must not catch up.
pub struct NoSnapshot;

impl SnapshotSource for NoSnapshot {
    async fn snapshot(&self, _: &CancellationToken) -> Result<Vec<CloudEvent>, SnapshotError> {
        Ok(Vec::new())
    }
}

/// One followed stream: which, under which durable consumer, applied how.
pub struct Follow<F> {
    pub client: async_nats::Client,
    pub stream: StreamSpec,
    pub consumer: ConsumerSpec,
    pub applier: Applier<F>,
}

impl<F: Follower + Clone> Follow<F> {
    /// Catches up from `snapshot` if nothing was applied yet and the stream
    /// lost its oldest events, then follows the stream until `shutdown`.
    ///
    /// A store restored from a backup first replays the stream from its
    /// start (the durable consumer's position is past what the backup
    /// holds); what it already holds is recognised and changes nothing.
    pub async fn run<S: SnapshotSource>(self, snapshot: S, shutdown: CancellationToken) {
        if !self.replay_after_restore(&shutdown).await {
            return;
        }
        let Some(needed) = self.catch_up_needed(&shutdown).await else {
            return;
        };
        if needed {
            self.catch_up(&snapshot, &shutdown).await;
        }
        let pruning = tokio::spawn(prune_periodically(
            self.client.clone(),
            self.consumer.clone(),
            self.applier.clone(),
            shutdown.clone(),
        ));
        let applier = self.applier;
        run_consumer(
            self.client,
            self.consumer,
            move |events| {
                let applier = applier.clone();
                async move { apply_events(&applier, events).await }
            },
            shutdown,
        )
        .await;
        let _ = pruning.await;
    }

    /// After a restore, resets the durable consumer once, so that the
    /// stream is delivered again from its start; false at shutdown.
    async fn replay_after_restore(&self, shutdown: &CancellationToken) -> bool {
        let (stream, store) = (self.stream.name, self.applier.store());
        let step = format!("replay {stream}");
        loop {
            let replayed = match store.restore_step_pending(&step) {
                Ok(false) => return true,
                Ok(true) => match reset_consumer(self.client.clone(), &self.consumer).await {
                    Ok(()) => store
                        .restore_step_done(&step)
                        .map_err(|err| err.to_string()),
                    Err(err) => Err(err.to_string()),
                },
                Err(err) => Err(err.to_string()),
            };
            match replayed {
                Ok(()) => {
                    tracing::warn!(
                        stream,
                        "the store was restored from a backup: replaying the stream from its start"
                    );
                    return true;
                }
                Err(err) => tracing::warn!(stream, error = %err,
                    "cannot replay after the restore yet; retrying"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return false,
                _ = tokio::time::sleep(RETRY_DELAY) => {}
            }
        }
    }

    /// Whether to catch up, asking NATS until it answers; `None` at shutdown.
    async fn catch_up_needed(&self, shutdown: &CancellationToken) -> Option<bool> {
        loop {
            let answer = match self.applier.has_started() {
                Ok(true) => return Some(false),
                Ok(false) => stream_lost_history(&self.client, &self.stream)
                    .await
                    .map_err(|err| err.to_string()),
                Err(err) => Err(err.to_string()),
            };
            match answer {
                Ok(lost) => return Some(lost),
                Err(err) => tracing::warn!(stream = self.stream.name, error = %err,
                    "cannot tell whether to catch up yet; retrying"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return None,
                _ = tokio::time::sleep(RETRY_DELAY) => {}
            }
        }
    }

    /// Applies the snapshot, skipping what cannot be decoded. A snapshot
    /// that cannot be read is logged, and the stream is followed alone.
    async fn catch_up<S: SnapshotSource>(&self, source: &S, shutdown: &CancellationToken) {
        let stream = self.stream.name;
        let events = match source.snapshot(shutdown).await {
            Ok(events) => events,
            Err(_) if shutdown.is_cancelled() => return,
            Err(err) => {
                tracing::error!(stream, error = %err, "catch-up failed; following the stream only");
                return;
            }
        };
        let (usable, skipped) = decode_snapshot(self.applier.follower(), &events);
        for chunk in usable.chunks(CATCH_UP_BATCH) {
            if let Err(err) = self.applier.apply(chunk).await {
                tracing::error!(stream, error = %err, "catch-up stopped: cannot store");
                return;
            }
        }
        if let Err(err) = self.applier.mark_started().await {
            tracing::error!(stream, error = %err, "catch-up not recorded; it will run again");
        }
        tracing::info!(
            stream,
            applied = usable.len(),
            skipped,
            "caught up from a snapshot"
        );
    }
}

/// The snapshot's usable facts, and how many entries were skipped.
fn decode_snapshot<F: Follower>(
    follower: &F,
    events: &[CloudEvent],
) -> (Vec<Delivery<F::Fact>>, usize) {
    let mut usable = Vec::with_capacity(events.len());
    let mut skipped = 0;
    for event in events {
        match follower.decode(event) {
            Ok(fact) => usable.push(Delivery::unsequenced(event.id.clone(), fact)),
            Err(err) => {
                skipped += 1;
                tracing::error!(subject = %event.subject, error = %err, "skipping an unusable snapshot entry");
            }
        }
    }
    (usable, skipped)
}

/// The consumer's handler: decodes what it can (an event that can never
/// apply is rejected for good) and applies the rest in one transaction;
/// if that fails, the whole batch is retried.
pub async fn apply_events<F: Follower>(
    applier: &Applier<F>,
    events: Vec<CloudEvent>,
) -> Vec<Result<(), HandlerError>> {
    let mut results = Vec::with_capacity(events.len());
    let mut batch = Vec::with_capacity(events.len());
    for event in &events {
        match applier.follower().decode(event) {
            Ok(fact) => {
                batch.push(Delivery {
                    id: event.id.clone(),
                    sequence: event.sequence,
                    fact,
                });
                results.push(Ok(()));
            }
            Err(err) => results.push(Err(HandlerError::Reject(err.to_string()))),
        }
    }
    if batch.is_empty() {
        return results;
    }
    if let Err(err) = applier.apply(&batch).await {
        let reason = err.to_string();
        for result in results.iter_mut().filter(|result| result.is_ok()) {
            *result = Err(HandlerError::Retry(reason.clone()));
        }
    }
    results
}

/// Forgets applied ids below the consumer's ack floor every
/// [`PRUNE_INTERVAL`], or sooner when the applier holds too many (at most
/// once a [`PRUNE_GAP`]), until `shutdown`.
async fn prune_periodically<F: Follower>(
    client: async_nats::Client,
    consumer: ConsumerSpec,
    applier: Applier<F>,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(PRUNE_INTERVAL) => {}
            _ = applier.prune_due().notified() => {}
        }
        if let Err(err) = prune(&client, &consumer, &applier).await {
            tracing::warn!(consumer = %consumer.durable_name, error = %err, "applied ids not pruned this time");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(PRUNE_GAP) => {}
        }
    }
}

/// Forgets applied ids at or below the durable consumer's ack floor now.
pub async fn prune<F: Follower>(
    client: &async_nats::Client,
    consumer: &ConsumerSpec,
    applier: &Applier<F>,
) -> Result<usize, async_nats::Error> {
    let jetstream = jetstream::new(client.clone());
    let stream = jetstream.get_stream(consumer.stream).await?;
    let info = stream.consumer_info(&consumer.durable_name).await?;
    let floor = info.ack_floor.stream_sequence;
    let started = std::time::Instant::now();
    let forgotten = applier.forget_acknowledged(floor).await?;
    if forgotten > 0 {
        let took_ms = started.elapsed().as_secs_f64() * 1000.0;
        tracing::debug!(consumer = %consumer.durable_name, floor, forgotten, took_ms, "applied ids pruned");
    }
    Ok(forgotten)
}
