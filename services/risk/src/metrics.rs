//! The risk service's own metrics: alerts by state and severity, counted
//! from the store at each scrape (resolved ones included, as they stay),
//! and the delivery counters the sender moves.

use jilin_runtime::Metrics;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;

use crate::domain::delivery::{Delivery, DeliveryState};
use crate::store::Tables;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AlertLabels {
    state: String,
    severity: String,
}

/// Registers `jilin_alerts{state, severity}`, read from `tables`.
pub fn register_alerts(metrics: &mut Metrics, tables: Tables) {
    let alerts = Family::<AlertLabels, Gauge>::default();
    metrics.registry().register(
        "alerts",
        "Alerts held, by state and severity",
        alerts.clone(),
    );
    metrics.on_scrape(move || {
        let Ok(all) = tables.alerts.scan_prefix("") else {
            tracing::warn!("cannot read the alerts for the metrics");
            return;
        };
        alerts.clear();
        for (_, alert) in all {
            let labels = AlertLabels {
                state: format!("{:?}", alert.state).to_lowercase(),
                severity: format!("{:?}", alert.severity).to_lowercase(),
            };
            alerts.get_or_create(&labels).inc();
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
