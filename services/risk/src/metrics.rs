//! The risk service's own metric: alerts by state and severity, counted
//! from the store at each scrape (resolved ones included, as they stay).

use jilin_runtime::Metrics;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;

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
