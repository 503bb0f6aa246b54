//! Forgetting request ids no retry can need any more. A request id is kept
//! for `--request-retention-hours` (a week by default) after the change it
//! made, so that a client retrying within that window gets the first
//! outcome back; after it, the id is removed (at start, then every ten
//! minutes) and the same id would make a new change.

use std::time::Duration;

use jilin_runtime::{CancellationToken, Clock};
use jilin_store::StoreError;

use crate::store::Tables;

/// How often the request ids are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// Removes the request ids older than `retention` at the clock's now;
/// returns how many.
pub async fn forget_old_requests(
    tables: &Tables,
    clock: &Clock,
    retention: Duration,
) -> Result<usize, StoreError> {
    let cutoff = clock.now() - retention;
    tables
        .store
        .retain(&tables.requests, "", |outcome| {
            (outcome.time() >= cutoff).then(|| outcome.clone())
        })
        .await
}

/// Prunes at start and every [`PRUNE_EVERY`] until `shutdown`.
pub async fn run(tables: Tables, clock: Clock, retention: Duration, shutdown: CancellationToken) {
    loop {
        match forget_old_requests(&tables, &clock, retention).await {
            Ok(0) => {}
            Ok(forgotten) => {
                tracing::info!(forgotten, "request ids past their retention forgotten")
            }
            Err(err) => tracing::warn!(error = %err, "request ids not pruned; trying again later"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(PRUNE_EVERY) => {}
        }
    }
}
