//! What the store measures: how long a durable write takes (transaction
//! and group-commit flush), how many writers each flush serves, and
//! whether the store has stopped taking writes. The
//! handles are cheap clones; a service registers them in its registry.

use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The store's metrics.
#[derive(Clone, Debug)]
pub struct StoreMetrics {
    /// Seconds from the start of `Store::write` to its durable return.
    pub write_seconds: Histogram,
    /// Writers answered by one group-commit flush.
    pub commit_batch: Histogram,
    /// 1 once the store has stopped taking writes (see `writable.rs`).
    pub stopped: Gauge,
}

impl Default for StoreMetrics {
    fn default() -> Self {
        Self {
            write_seconds: Histogram::new(exponential_buckets(0.000_1, 2.0, 18)),
            commit_batch: Histogram::new(exponential_buckets(1.0, 2.0, 11)),
            stopped: Gauge::default(),
        }
    }
}

impl StoreMetrics {
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "store_write_duration_seconds",
            "Time of a durable store write: transaction and flush",
            self.write_seconds.clone(),
        );
        registry.register(
            "store_group_commit_batch_size",
            "Writers answered by one group-commit flush",
            self.commit_batch.clone(),
        );
        registry.register(
            "store_stopped",
            "1 once the store has stopped taking writes (a failed sync: a full disk, a \
             failing device); a restart clears it",
            self.stopped.clone(),
        );
    }
}
