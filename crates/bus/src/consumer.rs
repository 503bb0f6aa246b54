//! A durable, idempotent JetStream consumer for services that follow other
//! services' streams.
//!
//! The handler receives the events that are ready (up to one batch, in
//! stream order), must apply them and record their ids as applied in one
//! store transaction, and return only after that commit, with one result
//! per event; each message is acked after its `Ok`. A crash between commit
//! and ack means a redelivery, which the handler recognises by the
//! recorded id. Batching lets a replay share one disk flush per batch.

use std::future::Future;
use std::time::Duration;

use async_nats::jetstream::{self, AckKind, consumer::pull};
use futures::{FutureExt, StreamExt};
use tokio_util::sync::CancellationToken;

use crate::stream::is_stream_not_found;
use tracing::Instrument;

use crate::{BusMetrics, CloudEvent, ConsumerLabels};

/// Which stream to follow, under which durable name, for which subjects.
#[derive(Clone, Debug)]
pub struct ConsumerSpec {
    pub stream: &'static str,
    pub durable_name: String,
    /// One subject filter (NATS 2.9 ignores several).
    pub filter_subject: String,
    /// How long the server waits for an ack before redelivering.
    pub ack_wait: Duration,
    /// Where the consumer's progress is counted.
    pub metrics: BusMetrics,
}

/// Why a handler did not apply an event.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Try again later (e.g. the store is busy, a peer is down).
    #[error("retry later: {0}")]
    Retry(String),
    /// The event can never be applied (e.g. undecodable); it is terminated
    /// and logged instead of blocking the stream forever.
    #[error("rejected: {0}")]
    Reject(String),
}

const RETRY_DELAY: Duration = Duration::from_secs(1);
const RECONNECT_DELAY: Duration = Duration::from_secs(1);
/// Events pulled and handed over at once: a follower catching up applies
/// several times as many events per second in batches of 256 as of 32
/// (`cargo bench -p jilin-indicators -- replay/store`, BENCHMARKS.md).
/// A batch applies in milliseconds, far within any `ack_wait`.
const BATCH: usize = 256;
/// How long shutdown waits for the rest of a pulled batch to hand back.
const HAND_BACK_WAIT: Duration = Duration::from_millis(50);

/// Follows `spec` until `shutdown`, calling `handler` with each batch of
/// ready events in stream order. Survives broker restarts by re-attaching to the durable.
pub async fn run_consumer<H, Fut>(
    client: async_nats::Client,
    spec: ConsumerSpec,
    mut handler: H,
    shutdown: CancellationToken,
) where
    H: FnMut(Vec<CloudEvent>) -> Fut,
    Fut: Future<Output = Vec<Result<(), HandlerError>>>,
{
    let jetstream = jetstream::new(client);
    let mut told_waiting = false;
    while !shutdown.is_cancelled() {
        match consume(&jetstream, &spec, &mut handler, &shutdown).await {
            Ok(()) => return,
            Err(Interrupted::NoStream) => {
                if !told_waiting {
                    tracing::info!(
                        stream = spec.stream,
                        "waiting for the stream's owner to create it"
                    );
                    told_waiting = true;
                }
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(RECONNECT_DELAY) => {}
                }
            }
            Err(Interrupted::Failed(err)) => {
                tracing::warn!(error = %err, consumer = %spec.durable_name, "consumer interrupted; reattaching");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(RECONNECT_DELAY) => {}
                }
            }
        }
    }
}

async fn consume<H, Fut>(
    jetstream: &jetstream::Context,
    spec: &ConsumerSpec,
    handler: &mut H,
    shutdown: &CancellationToken,
) -> Result<(), Interrupted>
where
    H: FnMut(Vec<CloudEvent>) -> Fut,
    Fut: Future<Output = Vec<Result<(), HandlerError>>>,
{
    let stream = match jetstream.get_stream(spec.stream).await {
        Ok(stream) => stream,
        Err(err) if is_stream_not_found(&err) => return Err(Interrupted::NoStream),
        Err(err) => return Err(Interrupted::Failed(err.into())),
    };
    follow(stream, spec, handler, shutdown)
        .await
        .map_err(Interrupted::Failed)
}

/// Why following a stream stopped.
enum Interrupted {
    /// The stream does not exist (yet): its owner has not started.
    NoStream,
    Failed(async_nats::Error),
}

async fn follow<H, Fut>(
    stream: jetstream::stream::Stream,
    spec: &ConsumerSpec,
    handler: &mut H,
    shutdown: &CancellationToken,
) -> Result<(), async_nats::Error>
where
    H: FnMut(Vec<CloudEvent>) -> Fut,
    Fut: Future<Output = Vec<Result<(), HandlerError>>>,
{
    let consumer = stream
        .get_or_create_consumer(
            &spec.durable_name,
            pull::Config {
                durable_name: Some(spec.durable_name.clone()),
                filter_subject: spec.filter_subject.clone(),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ack_wait: spec.ack_wait,
                ..Default::default()
            },
        )
        .await?;
    let labels = ConsumerLabels {
        stream: spec.stream.to_owned(),
        consumer: spec.durable_name.clone(),
    };
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(BATCH)
        .messages()
        .await?;
    loop {
        let first = tokio::select! {
            _ = shutdown.cancelled() => {
                hand_back(&mut messages).await;
                return Ok(());
            }
            next = messages.next() => match next {
                Some(message) => message?,
                None => return Err("message stream ended".into()),
            },
        };
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match messages.next().now_or_never() {
                Some(Some(message)) => batch.push(message?),
                Some(None) => return Err("message stream ended".into()),
                None => break,
            }
        }
        let mut accepted = Vec::with_capacity(batch.len());
        let mut events = Vec::with_capacity(batch.len());
        for message in batch {
            match CloudEvent::from_message(
                message.subject.as_str(),
                message.headers.as_ref(),
                message.payload.clone(),
            ) {
                Ok(mut event) => {
                    event.sequence = message.info().map_or(0, |info| info.stream_sequence);
                    events.push(event);
                    accepted.push(message);
                }
                Err(err) => {
                    tracing::error!(error = %err, "terminating a message that is not a CloudEvent");
                    message.ack_with(AckKind::Term).await?;
                }
            }
        }
        if events.is_empty() {
            continue;
        }
        let ids: Vec<String> = events.iter().map(|event| event.id.clone()).collect();
        // The batch continues the trace of its first event (a lone event,
        // the usual case, keeps its trace through this consumer) and is
        // linked to the traces of the others.
        let span = tracing::info_span!(
            "consume",
            stream = spec.stream,
            consumer = %spec.durable_name,
            events = events.len(),
        );
        crate::trace::continue_trace(&span, &events[0].traceparent);
        for event in &events[1..] {
            crate::trace::link_trace(&span, &event.traceparent);
        }
        let results = handler(events).instrument(span).await;
        assert_eq!(results.len(), ids.len(), "one result per event");
        // The metrics are told once a batch, of its last message acked.
        let (mut redelivered, mut last_acked) = (0, None);
        for ((message, id), result) in accepted.iter().zip(ids).zip(results) {
            match result {
                Ok(()) => {
                    message.ack().await?;
                    if let Ok(info) = message.info() {
                        redelivered += u64::from(info.delivered > 1);
                        last_acked = Some(info);
                    }
                }
                Err(HandlerError::Retry(reason)) => {
                    tracing::warn!(%id, %reason, "event not applied; will be redelivered");
                    message.ack_with(AckKind::Nak(Some(RETRY_DELAY))).await?;
                }
                Err(HandlerError::Reject(reason)) => {
                    tracing::error!(%id, %reason, "event rejected for good");
                    message.ack_with(AckKind::Term).await?;
                }
            }
        }
        if let Some(info) = last_acked {
            spec.metrics.applied(&labels, &info, redelivered);
        }
    }
}

/// At shutdown, returns the messages already pulled but not handled, so
/// the next run gets them at once instead of after `ack_wait`. Bounded to
/// one batch: a nak'd message may be redelivered to this very stream.
async fn hand_back(messages: &mut pull::Stream) {
    for _ in 0..BATCH {
        match tokio::time::timeout(HAND_BACK_WAIT, messages.next()).await {
            Ok(Some(Ok(message))) => {
                let _ = message.ack_with(AckKind::Nak(None)).await;
            }
            _ => return,
        }
    }
}

/// Deletes the durable consumer of `spec` so that the next
/// [`run_consumer`] replays its stream from the start (a rebuild). A
/// consumer or stream that does not exist is already reset.
pub async fn reset_consumer(
    client: async_nats::Client,
    spec: &ConsumerSpec,
) -> Result<(), async_nats::Error> {
    use jetstream::stream::ConsumerErrorKind;

    let jetstream = jetstream::new(client);
    let stream = match jetstream.get_stream(spec.stream).await {
        Ok(stream) => stream,
        Err(err) if is_stream_not_found(&err) => return Ok(()),
        Err(err) => return Err(err.into()),
    };
    match stream.delete_consumer(&spec.durable_name).await {
        Ok(_) => Ok(()),
        Err(err) if matches!(err.kind(), ConsumerErrorKind::JetStream(ref e) if e.error_code() == jetstream::ErrorCode::CONSUMER_NOT_FOUND) => {
            Ok(())
        }
        Err(err) => Err(err.into()),
    }
}
