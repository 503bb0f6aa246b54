//! What the bus measures: how long the relay waits for each PubAck, and
//! per followed stream the messages still pending for the consumer, the
//! redeliveries it saw and the last stream sequence it applied. The
//! handles are cheap clones; a service registers them once.

use std::sync::atomic::AtomicU64;

use async_nats::jetstream::message::Info;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Which consumer of which stream.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConsumerLabels {
    pub stream: String,
    pub consumer: String,
}

/// The bus's metrics of one service.
#[derive(Clone, Debug)]
pub struct BusMetrics {
    /// Seconds from publishing an event to its PubAck.
    pub publish_seconds: Histogram,
    pub pending: Family<ConsumerLabels, Gauge>,
    pub redelivered: Family<ConsumerLabels, Counter>,
    pub last_sequence: Family<ConsumerLabels, Gauge>,
    /// How old the last applied message was when it was applied: the
    /// consumer's lag behind the stream (the indicators' ingest lag).
    pub lag_seconds: Family<ConsumerLabels, Gauge<f64, AtomicU64>>,
}

impl Default for BusMetrics {
    fn default() -> Self {
        Self {
            publish_seconds: Histogram::new(exponential_buckets(0.000_1, 2.0, 18)),
            pending: Family::default(),
            redelivered: Family::default(),
            last_sequence: Family::default(),
            lag_seconds: Family::default(),
        }
    }
}

impl BusMetrics {
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "relay_publish_duration_seconds",
            "Time from publishing an outbox event to its PubAck",
            self.publish_seconds.clone(),
        );
        registry.register(
            "consumer_pending_messages",
            "Messages of the stream not yet delivered to the consumer",
            self.pending.clone(),
        );
        registry.register(
            "consumer_redelivered",
            "Messages the consumer received more than once",
            self.redelivered.clone(),
        );
        registry.register(
            "consumer_last_applied_sequence",
            "Stream sequence of the last message the consumer applied and acked",
            self.last_sequence.clone(),
        );
        registry.register(
            "consumer_lag_seconds",
            "Age of the last message the consumer applied, when it applied it",
            self.lag_seconds.clone(),
        );
    }

    /// Records messages the consumer `labels` names applied and acked:
    /// `info` is the last one's, `redelivered` how many of them had been
    /// delivered before.
    pub(crate) fn applied(&self, labels: &ConsumerLabels, info: &Info<'_>, redelivered: u64) {
        self.pending
            .get_or_create(labels)
            .set(i64::try_from(info.pending).unwrap_or(i64::MAX));
        if redelivered > 0 {
            self.redelivered.get_or_create(labels).inc_by(redelivered);
        }
        self.last_sequence
            .get_or_create(labels)
            .set(i64::try_from(info.stream_sequence).unwrap_or(i64::MAX));
        let age = time::OffsetDateTime::now_utc() - info.published;
        self.lag_seconds
            .get_or_create(labels)
            .set(age.as_seconds_f64().max(0.0));
    }
}
