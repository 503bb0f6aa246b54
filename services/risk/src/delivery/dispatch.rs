//! The dispatcher: each group whose notification is due by the risk clock
//! becomes a delivery, queued in the same transaction that records the
//! group as sent (and forgets it once nothing is left to tell).

use std::sync::Arc;
use std::time::Duration;

use jilin_runtime::{CancellationToken, Clock};
use jilin_store::StoreError;
use time::OffsetDateTime;
use tokio::sync::Notify;

use crate::domain::delivery::Delivery;
use crate::domain::routing::DEFAULT_DEADLINE;
use crate::store::Tables;

/// How often due groups are looked for when nothing wakes the dispatcher
/// (the risk clock may be moved by hand).
const TICK: Duration = Duration::from_millis(200);

#[derive(Clone)]
pub struct Dispatcher {
    pub tables: Tables,
    pub clock: Clock,
    /// Rung after an alert change commits.
    pub wake: Arc<Notify>,
    /// Rung when a delivery is queued.
    pub sender: Arc<Notify>,
}

impl Dispatcher {
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            match self.dispatch_due().await {
                Ok(0) => {}
                Ok(queued) => {
                    tracing::debug!(queued, "notifications queued");
                    self.sender.notify_one();
                }
                Err(err) => tracing::error!(error = %err, "dispatching notifications failed"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(TICK) => {}
                _ = self.wake.notified() => {}
            }
        }
    }

    /// Queues a delivery for every group due now; returns how many.
    pub async fn dispatch_due(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let tables = &self.tables;
        let mut queued = 0;
        for (key, group) in tables.groups.scan_prefix("")? {
            if group.next_due().is_some_and(|due| due > now) {
                continue;
            }
            let made = tables
                .store
                .write(|tx| {
                    let Some(mut group) = tx.get(&tables.groups, &key)? else {
                        return Ok::<_, StoreError>(false);
                    };
                    let notification = group.flush(now);
                    if group.is_spent() {
                        tx.remove(&tables.groups, &key)?;
                    } else {
                        tx.insert(&tables.groups, &key, &group)?;
                    }
                    let Some(notification) = notification else {
                        return Ok(false);
                    };
                    let wall = OffsetDateTime::now_utc();
                    let receiver = tx.get(&tables.receivers, &notification.receiver_id)?;
                    let id = uuid::Uuid::now_v7().to_string();
                    let deadline = receiver.as_ref().map_or(DEFAULT_DEADLINE, |r| r.deadline);
                    let mut delivery = Delivery::new(id.clone(), notification, wall, deadline);
                    match receiver {
                        Some(receiver) => tx.insert(&tables.delivery_queue, &id, &receiver.id)?,
                        None => delivery.abandon(wall, "the receiver was deleted".to_owned()),
                    }
                    tx.insert(&tables.deliveries, &id, &delivery)?;
                    Ok(true)
                })
                .await?;
            queued += usize::from(made);
        }
        Ok(queued)
    }
}
