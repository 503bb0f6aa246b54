//! Alert delivery: notifications of alert changes to receivers (webhooks,
//! Alertmanagers), routed, grouped and retried until delivered.
//!
//! Flow: the monitor calls [`stage`] inside the transaction that changes
//! an alert, so the alert's groups change with it (a crash loses
//! nothing); [`dispatch`] turns each group whose time has come (by the
//! risk clock) into a delivery, written to the queue in one transaction
//! with the group's new state; [`send`] makes each queued delivery's
//! attempts over HTTP ([`payload`] says what is sent) and records every
//! attempt. [`admin`] holds the use cases behind the receiver, route and
//! delivery RPCs.

pub mod admin;
pub mod dispatch;
pub mod due;
pub mod payload;
pub mod request;
pub mod send;

use jilin_store::{StoreError, Tx};
use time::OffsetDateTime;

use self::due::DueGroups;
use crate::domain::alert::{Alert, Change, State};
use crate::domain::grouping::{Group, GroupedAlert};
use crate::domain::routing::{CompiledRoute, matching_routes, routing_labels};
use crate::monitor::Monitor;
use crate::store::Tables;

/// Whether a change moves an alert's groups: it starts or stops firing,
/// or fires at another severity.
pub fn is_delivered(change: Change) -> bool {
    matches!(
        change,
        Change::Firing | Change::Escalated | Change::DeEscalated | Change::Resolved
    )
}

/// Inside the transaction of an alert change (not silenced): a firing
/// alert joins the group of each route that takes it (and stays in those
/// it was in); a resolved one is told to the groups that held it firing,
/// and only those. A group formed here is expected by the dispatcher.
pub fn stage(
    tables: &Tables,
    tx: &Tx<'_>,
    routes: &[CompiledRoute],
    due: &DueGroups,
    alert: &Alert,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let fingerprint = Alert::fingerprint(&alert.rule_id, &alert.subject);
    let held = tx
        .get(&tables.alert_groups, &fingerprint)?
        .unwrap_or_default();
    let grouped = GroupedAlert::of(alert);
    match alert.state {
        State::Pending => Ok(()),
        State::Resolved => {
            for key in &held {
                observe_in(tables, tx, key, &grouped)?;
            }
            if !held.is_empty() {
                tx.remove(&tables.alert_groups, &fingerprint)?;
            }
            Ok(())
        }
        State::Firing => {
            let labels = routing_labels(alert);
            let mut keys = held.clone();
            for route in matching_routes(routes, &labels) {
                let (key, group_labels) = route.group_of(&labels);
                if tx.get(&tables.groups, &key)?.is_none() {
                    let group = Group::new(
                        key.clone(),
                        route.route.id.clone(),
                        route.route.receiver.clone(),
                        group_labels,
                        route.route.timing,
                        now,
                    );
                    tx.insert(&tables.groups, &key, &group)?;
                    due.expect(group.next_tick, key.clone());
                }
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
            for key in &keys {
                observe_in(tables, tx, key, &grouped)?;
            }
            if keys != held {
                tx.insert(&tables.alert_groups, &fingerprint, &keys)?;
            }
            Ok(())
        }
    }
}

/// Alerts staged per transaction when routes change.
const BACKFILL_CHUNK: usize = 128;

/// After a route is created: every alert firing now is staged again with
/// the current routes, so a new route takes the alerts already firing
/// (as Alertmanager hears them again from Prometheus), not only those
/// that change later. Returns how many were staged.
pub async fn stage_firing(monitor: &Monitor) -> Result<usize, StoreError> {
    let tables = monitor.tables();
    let routes = monitor.routes();
    let due = monitor.due_groups();
    let now = monitor.clock().now();
    let firing: Vec<String> = tables
        .alerts
        .scan_prefix("")?
        .into_iter()
        .filter(|(_, alert)| alert.state == State::Firing)
        .map(|(fingerprint, _)| fingerprint)
        .collect();
    let mut staged = 0;
    for fingerprints in firing.chunks(BACKFILL_CHUNK) {
        staged += tables
            .store
            .write(|tx| {
                let mut staged = 0;
                for fingerprint in fingerprints {
                    // Re-read: the alert may have changed since the scan.
                    let Some(alert) = tx.get(&tables.alerts, fingerprint)? else {
                        continue;
                    };
                    if alert.state == State::Firing {
                        stage(tables, tx, &routes, &due, &alert, now)?;
                        staged += 1;
                    }
                }
                Ok::<_, StoreError>(staged)
            })
            .await?;
    }
    monitor.dispatch_bell().notify_one();
    Ok(staged)
}

/// The group `key` takes in an alert's new state (a group already
/// forgotten takes nothing).
fn observe_in(
    tables: &Tables,
    tx: &Tx<'_>,
    key: &str,
    alert: &GroupedAlert,
) -> Result<(), StoreError> {
    if let Some(mut group) = tx.get(&tables.groups, key)? {
        group.observe(alert.clone());
        tx.insert(&tables.groups, key, &group)?;
    }
    Ok(())
}
