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

use crate::domain::alert::{Alert, State};
use crate::domain::delivery::Delivery;
use crate::domain::grouping::GroupedAlert;
use crate::domain::inhibition::{Inhibitor, builtin_inhibitions, source_rules};
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
    /// the firing alerts that may be their sources: read once per pass,
    /// only when a group is due, and only those of the rules the sources
    /// name when each names one (the built-in one names `suspended`).
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
        let prefixes: Vec<String> = match source_rules(&inhibitions) {
            Some(rules) => rules.into_iter().map(Alert::fingerprint_prefix).collect(),
            None => vec![String::new()],
        };
        let mut firing = Vec::new();
        for prefix in &prefixes {
            tables
                .alerts
                .for_each_with_prefix(prefix, |fingerprint, alert| {
                    if alert.state == State::Firing {
                        firing.push((fingerprint.to_owned(), routing_labels(&alert)));
                    }
                })?;
        }
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

    /// Inside `tx`: looks at the group `key` if it is due; queues its
    /// notification if it has one. Returns whether it queued one, and when
    /// the group is next due if it is kept.
    fn tick_group(
        &self,
        tx: &Tx<'_>,
        key: &str,
        now: OffsetDateTime,
        muting: &Muting,
    ) -> Result<(bool, Option<OffsetDateTime>), StoreError> {
        let tables = self.monitor.tables();
        let Some(mut group) = tx.get(&tables.groups, key)? else {
            return Ok((false, None));
        };
        if !group.is_due(now) {
            // An entry left from before (see due.rs): the group is due later.
            return Ok((false, Some(group.next_tick)));
        }
        let notification = group.tick(now, |alert| muting.mutes(alert));
        let next_tick = if group.is_spent() {
            tx.remove(&tables.groups, key)?;
            None
        } else {
            tx.insert(&tables.groups, key, &group)?;
            Some(group.next_tick)
        };
        let Some(notification) = notification else {
            return Ok((false, next_tick));
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
        Ok((true, next_tick))
    }

    /// Queues a delivery for every group that has something to tell now;
    /// returns how many.
    pub async fn dispatch_due(&self) -> Result<usize, StoreError> {
        let now = self.monitor.clock().now();
        let due_groups = self.monitor.due_groups();
        let due = due_groups.due(now);
        if due.is_empty() {
            return Ok(0);
        }
        let muting = self.muting(now)?;
        let mut queued = 0;
        for entries in due.chunks(GROUPS_PER_TRANSACTION) {
            let written = self
                .monitor
                .tables()
                .store
                .write(|tx| {
                    let mut made = 0;
                    let mut next = Vec::new();
                    for (_, key) in entries {
                        let (queued, next_tick) = self.tick_group(tx, key, now, &muting)?;
                        made += usize::from(queued);
                        next.extend(next_tick.map(|at| (at, key.clone())));
                    }
                    // In the writers' turn, so that no group is stored
                    // between these and the commit (see due.rs).
                    due_groups.looked_at(entries);
                    for (at, key) in next {
                        due_groups.expect(at, key);
                    }
                    Ok::<_, StoreError>(made)
                })
                .await;
            match written {
                Ok(made) => queued += made,
                Err(err) => {
                    // Rolled back (or committed and not synced): the
                    // groups may still be due when they were.
                    for (at, key) in entries {
                        due_groups.expect(*at, key.clone());
                    }
                    return Err(err);
                }
            }
        }
        Ok(queued)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::grouping::Group;
    use crate::store::{LAYOUT, Tables};
    use jilin_runtime::ClockSetting;
    use jilin_store::Store;
    use time::macros::datetime;

    /// An entry earlier than its group's own time (one put back after a
    /// commit whose sync failed, or left by a transaction rolled back
    /// before the group formed again) leaves the group as it is.
    #[tokio::test]
    async fn an_entry_before_its_groups_time_leaves_the_group_alone() {
        let dir = tempfile::tempdir().unwrap();
        let tables = Tables::open(Store::open(dir.path(), &LAYOUT).unwrap()).unwrap();
        let early = datetime!(2026-07-01 0:00 UTC);
        let clock = Clock::new(ClockSetting::Fixed(early));
        let monitor = Monitor::new(tables.clone(), clock.clone()).unwrap();
        let later = early + time::Duration::minutes(5);
        let group = Group::new(
            "g".into(),
            "r".into(),
            "desk".into(),
            Default::default(),
            Default::default(),
            later,
        );
        let stored = group.clone();
        tables
            .store
            .write(|tx| tx.insert(&tables.groups, "g", &stored))
            .await
            .unwrap();
        monitor.due_groups().expect(early, "g".into());
        let dispatcher = Dispatcher {
            monitor: monitor.clone(),
            wall: clock,
            sender: Arc::default(),
        };
        assert_eq!(dispatcher.dispatch_due().await.unwrap(), 0);
        assert_eq!(tables.groups.get("g").unwrap(), Some(group.clone()));
        assert!(monitor.due_groups().due(early).is_empty());
        assert_eq!(monitor.due_groups().due(group.next_tick).len(), 1);
    }
}
