//! Forgetting old alert history, so that years of operation do not grow
//! the store without bound. Kept for `--history-retention-days` (a year
//! by default): the numbered changes (what WatchAlerts replays from a
//! sequence) and each alert's transitions; an alert keeps its last
//! transition whatever its age. Pruned at start and every hour. A watch
//! resuming from a sequence older than the retention gets the changes
//! still kept.

use std::time::Duration;

use jilin_runtime::CancellationToken;
use jilin_store::StoreError;

use crate::monitor::Monitor;

/// How often old history is pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Forgets the changes and transitions older than `retention` at the
/// clock's now; returns how many changes and alerts changed.
pub async fn forget_old_history(
    monitor: &Monitor,
    retention: Duration,
) -> Result<(usize, usize), StoreError> {
    let cutoff = monitor.clock().now() - retention;
    let tables = monitor.tables();
    let changes = tables
        .store
        .retain(&tables.changes, "", |record| {
            let recent = record.alert.history.iter().any(|t| t.at >= cutoff);
            recent.then(|| record.clone())
        })
        .await?;
    let alerts = tables
        .store
        .retain(&tables.alerts, "", |alert| {
            Some(alert.without_history_before(cutoff))
        })
        .await?;
    Ok((changes, alerts))
}

/// Prunes at start and every [`PRUNE_EVERY`] until `shutdown`.
pub async fn run(monitor: Monitor, retention: Duration, shutdown: CancellationToken) {
    loop {
        match forget_old_history(&monitor, retention).await {
            Ok((0, 0)) => {}
            Ok((changes, alerts)) => {
                tracing::info!(
                    changes,
                    alerts,
                    "alert history past its retention forgotten"
                )
            }
            Err(err) => {
                tracing::warn!(error = %err, "alert history not pruned; trying again later")
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(PRUNE_EVERY) => {}
        }
    }
}
