//! Putting events on a real JetStream stream as their owning service would
//! (CloudEvents headers), and waiting until a durable consumer has acked
//! everything on a stream.

use std::time::{Duration, Instant};

use jilin_bus::async_nats::{self, HeaderMap};
use jilin_bus::{StreamSpec, ensure_stream};

/// One event to publish.
pub struct TestEvent {
    pub id: String,
    pub subject: String,
    /// Full protobuf name of the payload.
    pub event_type: String,
    /// CloudEvents `ce-subject`, e.g. `projects/p1`.
    pub resource: String,
    pub payload: Vec<u8>,
}

/// Publishes `events` in order onto `stream` (created if missing) and waits
/// for each PubAck. With `dedup_header` false the stream keeps repeated
/// ids, so a consumer really receives them twice.
pub async fn publish(
    client: &async_nats::Client,
    stream: &StreamSpec,
    source: &str,
    events: &[TestEvent],
    dedup_header: bool,
) {
    let jetstream = async_nats::jetstream::new(client.clone());
    ensure_stream(&jetstream, stream, 1).await.expect("stream");
    for event in events {
        let mut headers = HeaderMap::new();
        if dedup_header {
            headers.insert("Nats-Msg-Id", event.id.as_str());
        }
        headers.insert("ce-specversion", "1.0");
        headers.insert("ce-id", event.id.as_str());
        headers.insert("ce-type", event.event_type.as_str());
        headers.insert("ce-source", source);
        headers.insert("ce-subject", event.resource.as_str());
        headers.insert("ce-time", "2026-01-01T00:00:00Z");
        jetstream
            .publish_with_headers(event.subject.clone(), headers, event.payload.clone().into())
            .await
            .expect("publish")
            .await
            .expect("stored");
    }
}

/// Waits until the durable consumer `consumer` of `stream` has every
/// message delivered and acknowledged; panics after `patience`.
pub async fn wait_consumed(
    client: &async_nats::Client,
    stream: &str,
    consumer: &str,
    patience: Duration,
) {
    let jetstream = async_nats::jetstream::new(client.clone());
    let deadline = Instant::now() + patience;
    loop {
        if let Ok(mut stream) = jetstream.get_stream(stream).await {
            let last = stream
                .info()
                .await
                .expect("stream info")
                .state
                .last_sequence;
            if let Ok(mut consumer) = stream
                .get_consumer::<async_nats::jetstream::consumer::pull::Config>(consumer)
                .await
            {
                let info = consumer.info().await.expect("consumer info");
                if info.ack_floor.stream_sequence >= last && info.num_ack_pending == 0 {
                    return;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "consumer {consumer} never caught up on {stream}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Stream sequence up to which the durable consumer `consumer` of
/// `stream` has acknowledged everything (0 while either does not exist).
pub async fn acked(client: &async_nats::Client, stream: &str, consumer: &str) -> u64 {
    let jetstream = async_nats::jetstream::new(client.clone());
    let Ok(stream) = jetstream.get_stream(stream).await else {
        return 0;
    };
    let Ok(mut consumer) = stream
        .get_consumer::<async_nats::jetstream::consumer::pull::Config>(consumer)
        .await
    else {
        return 0;
    };
    consumer
        .info()
        .await
        .map_or(0, |info| info.ack_floor.stream_sequence)
}
