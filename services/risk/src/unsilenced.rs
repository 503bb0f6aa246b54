//! Notifications a silence kept off NATS, published when it ends. A
//! notified change made while its alert was silenced is recorded in
//! `held_back` (in the transaction of the change); once no silence mutes
//! the alert any more (deleted, or past its end by the risk clock), its
//! last held-back change is published, so that subscribers hear of an
//! alert that still fires (or resolved meanwhile). Receivers get the same
//! through their groups (`crate::delivery`).

use jilin_store::StoreError;

use crate::domain::silence::is_silenced;
use crate::monitor::Monitor;
use crate::notify::stage_notification;
use crate::store::change_at;

/// Publishes the held-back change of every alert no silence mutes now;
/// returns how many.
pub async fn publish_unsilenced(monitor: &Monitor) -> Result<usize, StoreError> {
    let tables = monitor.tables();
    let held = tables.held_back.scan_prefix("")?;
    if held.is_empty() {
        return Ok(0);
    }
    let silences = monitor.silences();
    let now = monitor.clock().now();
    let mut published = 0;
    for (fingerprint, _) in held {
        let Some(alert) = tables.alerts.get(&fingerprint)? else {
            continue;
        };
        if is_silenced(&silences, &alert.labels, now) {
            continue;
        }
        let done = tables
            .store
            .write(|tx| {
                let Some(sequence) = tx.get(&tables.held_back, &fingerprint)? else {
                    return Ok::<_, StoreError>(false);
                };
                tx.remove(&tables.held_back, &fingerprint)?;
                // A change pruned by retention has nothing left to tell.
                let Some(record) = change_at(tables, tx, sequence)? else {
                    return Ok(false);
                };
                stage_notification(tx, &record, now)?;
                Ok(true)
            })
            .await?;
        published += usize::from(done);
    }
    Ok(published)
}
