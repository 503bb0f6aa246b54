//! The risk service's own metrics: alerts by state and severity (resolved
//! ones included, as they stay), from the monitor's tally, and the
//! delivery counters the sender moves.

use jilin_runtime::Metrics;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;

use crate::domain::delivery::{Delivery, DeliveryState};
use crate::monitor::Monitor;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AlertLabels {
    state: String,
    severity: String,
}

/// Registers `jilin_alerts{state, severity}`, read from the tally the
/// monitor keeps as it commits (a scrape reads no alert).
pub fn register_alerts(metrics: &mut Metrics, monitor: Monitor) {
    let alerts = Family::<AlertLabels, Gauge>::default();
    metrics.registry().register(
        "alerts",
        "Alerts held, by state and severity",
        alerts.clone(),
    );
    metrics.on_scrape(move || {
        for ((state, severity), count) in monitor.tally().counts() {
            let labels = AlertLabels {
                state: format!("{state:?}").to_lowercase(),
                severity: format!("{severity:?}").to_lowercase(),
            };
            alerts.get_or_create(&labels).set(count);
        }
    });
}

/// Delivery counters: `jilin_deliveries_sent_total`, `…_failed_total`,
/// `…_retried_total` (attempts that failed and will be retried) and the
/// gauge `jilin_delivery_queue_depth` (deliveries not yet done).
#[derive(Clone, Default)]
pub struct DeliveryMetrics {
    sent: Counter,
    failed: Counter,
    retried: Counter,
    pub queued: Gauge,
}

impl DeliveryMetrics {
    pub fn register(metrics: &mut Metrics) -> Self {
        let delivery = Self::default();
        let registry = metrics.registry();
        registry.register(
            "deliveries_sent",
            "Notifications a receiver accepted",
            delivery.sent.clone(),
        );
        registry.register(
            "deliveries_failed",
            "Notifications given up at their receiver's deadline",
            delivery.failed.clone(),
        );
        registry.register(
            "deliveries_retried",
            "Delivery attempts that failed and will be retried",
            delivery.retried.clone(),
        );
        registry.register(
            "delivery_queue_depth",
            "Notifications waiting to be delivered",
            delivery.queued.clone(),
        );
        delivery
    }

    /// Counts the outcome of the attempt just recorded on `delivery`.
    pub fn count(&self, delivery: &Delivery) {
        match delivery.state {
            DeliveryState::Delivered => self.sent.inc(),
            DeliveryState::Failed => self.failed.inc(),
            DeliveryState::Pending => self.retried.inc(),
        };
    }
}
