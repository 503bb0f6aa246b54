//! The dispatcher: each group whose tick is due by the risk clock is
//! looked at with the silences and inhibitions of that moment, and what
//! it must tell becomes a delivery, queued in the same transaction that
//! records the group's new state (and forgets it once it holds nothing).

use std::sync::Arc;
use std::time::Duration;

use jilin_runtime::{CancellationToken, Clock};
use jilin_store::{StoreError, Tx};
use time::OffsetDateTime;
use tokio::sync::Notify;

use crate::domain::alert::State;
use crate::domain::delivery::Delivery;
use crate::domain::grouping::GroupedAlert;
use crate::domain::inhibition::{Inhibitor, builtin_inhibitions};
use crate::domain::receiver::DEFAULT_DEADLINE;
use crate::domain::routing::routing_labels;
use crate::domain::silence::{Silence, is_silenced};
use crate::monitor::Monitor;

/// How often due groups are looked for when nothing wakes the dispatcher
/// (the risk clock may be moved by hand).
const TICK: Duration = Duration::from_millis(200);
/// Due groups looked at in one transaction (one flush).
const GROUPS_PER_TRANSACTION: usize = 128;

#[derive(Clone)]
pub struct Dispatcher {
    pub monitor: Monitor,
    /// The wall clock deliveries are timed by.
    pub wall: Clock,
    /// Rung when a delivery is queued.
    pub sender: Arc<Notify>,
}

/// What mutes an alert at one moment: the active silences and the
/// inhibitions with their firing sources.
struct Muting {
    silences: Vec<Silence>,
    inhibitor: Inhibitor,
    now: OffsetDateTime,
}

impl Muting {
    fn mutes(&self, alert: &GroupedAlert) -> bool {
        is_silenced(&self.silences, &alert.labels, self.now)
            || self
                .inhibitor
                .mutes(&alert.fingerprint, &alert.routing_labels())
    }
}

impl Dispatcher {
    pub async fn run(self, shutdown: CancellationToken) {
        let wake = self.monitor.dispatch_bell();
        loop {
            match self.dispatch_due().await {
                Ok(0) => {}
                Ok(queued) => {
                    tracing::debug!(queued, "notifications queued");
                    self.sender.notify_one();
                }
                Err(err) => tracing::error!(error = %err, "dispatching notifications failed"),
            }
            match crate::unsilenced::publish_unsilenced(&self.monitor).await {
                Ok(0) => {}
                Ok(published) => {
                    tracing::info!(published, "changes held back by silences published")
                }
                Err(err) => tracing::error!(error = %err, "publishing unsilenced changes failed"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(TICK) => {}
                _ = wake.notified() => {}
            }
        }
    }

    /// The silences and inhibitions in force at `now`. Inhibitions need
    /// every firing alert: read once per pass, and only when a group is due.
    fn muting(&self, now: OffsetDateTime) -> Result<Muting, StoreError> {
        let tables = self.monitor.tables();
        let mut inhibitions = builtin_inhibitions();
        inhibitions.extend(
            tables
                .inhibitions
                .scan_prefix("")?
                .into_iter()
                .map(|(_, inhibition)| inhibition),
        );
        let firing: Vec<(String, _)> = tables
            .alerts
            .scan_prefix("")?
            .into_iter()
            .filter(|(_, alert)| alert.state == State::Firing)
            .map(|(fingerprint, alert)| (fingerprint, routing_labels(&alert)))
            .collect();
        let inhibitor = Inhibitor::new(
            &inhibitions,
            firing
                .iter()
                .map(|(fingerprint, labels)| (fingerprint.as_str(), labels)),
        );
        Ok(Muting {
            silences: self.monitor.silences(),
            inhibitor,
            now,
        })
    }

    /// Inside `tx`: looks at the group `key`; queues its notification if
    /// it has one (true).
    fn tick_group(
        &self,
        tx: &Tx<'_>,
        key: &str,
        now: OffsetDateTime,
        muting: &Muting,
    ) -> Result<bool, StoreError> {
        let tables = self.monitor.tables();
        let Some(mut group) = tx.get(&tables.groups, key)? else {
            return Ok(false);
        };
        let notification = group.tick(now, |alert| muting.mutes(alert));
        if group.is_spent() {
            tx.remove(&tables.groups, key)?;
        } else {
            tx.insert(&tables.groups, key, &group)?;
        }
        let Some(notification) = notification else {
            return Ok(false);
        };
        let wall = self.wall.now();
        let receiver = tx.get(&tables.receivers, &notification.receiver_id)?;
        let id = uuid::Uuid::now_v7().to_string();
        let deadline = receiver.as_ref().map_or(DEFAULT_DEADLINE, |r| r.deadline);
        let mut delivery = Delivery::new(id.clone(), notification, wall, deadline);
        match receiver {
            Some(receiver) => tx.insert(&tables.delivery_queue, &id, &receiver.id)?,
            None => delivery.abandon(wall),
        }
        tx.insert(&tables.deliveries, &id, &delivery)?;
        Ok(true)
    }

    /// Queues a delivery for every group that has something to tell now;
    /// returns how many.
    pub async fn dispatch_due(&self) -> Result<usize, StoreError> {
        let now = self.monitor.clock().now();
        let tables = self.monitor.tables();
        let due: Vec<String> = tables
            .groups
            .scan_prefix("")?
            .into_iter()
            .filter(|(_, group)| group.is_due(now))
            .map(|(key, _)| key)
            .collect();
        if due.is_empty() {
            return Ok(0);
        }
        let muting = self.muting(now)?;
        let mut queued = 0;
        for keys in due.chunks(GROUPS_PER_TRANSACTION) {
            queued += tables
                .store
                .write(|tx| {
                    let mut made = 0;
                    for key in keys {
                        made += usize::from(self.tick_group(tx, key, now, &muting)?);
                    }
                    Ok::<_, StoreError>(made)
                })
                .await?;
        }
        Ok(queued)
    }
}
