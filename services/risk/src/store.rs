//! The risk service's tables and their keys. Registry and indicator events
//! write projects (their report sums, and each month's report), latest
//! indicator values and applied ids; every evaluation writes alerts and
//! numbered changes (with their outbox events) in the same transaction,
//! with the alert groups the change joins; the dispatcher turns due
//! groups into deliveries, the sender records their attempts; the API
//! writes rules, silences, receivers and routes.

use jilin_domain::Period;
use jilin_store::{Layout, Store, StoreError, Table, Tx};
use serde::{Deserialize, Serialize};

use crate::domain::alert::{Alert, Change};
use crate::domain::delivery::Delivery;
use crate::domain::grouping::Group;
use crate::domain::inhibition::Inhibition;
use crate::domain::project::{ProjectRecord, ReportRecord};
use crate::domain::receiver::Receiver;
use crate::domain::routing::Route;
use crate::domain::rules::Rule;
use crate::domain::silence::Silence;
use crate::migrate;

pub const RULES: &str = "rules";
pub const PROJECTS: &str = "project_sums";
pub const REPORTS: &str = "reports";
pub const INDICATOR_VALUES: &str = "indicator_values";
pub const ALERTS: &str = "alerts";
pub const CHANGES: &str = "changes";
pub const SILENCES: &str = "silences";
pub const RECEIVERS: &str = "receivers";
pub const ROUTES: &str = "routes";
pub const INHIBITIONS: &str = "inhibitions";
pub const GROUPS: &str = "groups";
pub const ALERT_GROUPS: &str = "alert_groups";
pub const DELIVERIES: &str = "deliveries";
pub const DELIVERY_QUEUE: &str = "delivery_queue";
pub const HELD_BACK: &str = "held_back";
/// Applied registry and indicator event ids, kept by `jilin_bus::Applier`.
pub const APPLIED: &str = jilin_bus::APPLIED_EVENTS;
pub const META: &str = "meta";

/// Key in `meta` of the last change sequence handed out.
const SEQUENCE: &str = "sequence";

/// The risk store: its tables, and the format this build writes.
pub const LAYOUT: Layout = Layout {
    kind: "risk",
    // 2: compact values (MessagePack); a format 1 store (JSON) is upgraded on open.
    // 3: applied event ids kept per batch (jilin_bus::Applier), which an
    //    older build would not see.
    // 4: a project's report sums (`project_sums`) and each month's report
    //    (`reports`) instead of one record of every report (`projects`),
    //    moved at start by `migrate`.
    version: 4,
    upgrades_from: 1,
    tables: &[
        RULES,
        PROJECTS,
        REPORTS,
        // Format 3's, listed so that a format 1 store's are re-encoded
        // before `migrate` moves them.
        migrate::FORMAT_3_PROJECTS,
        INDICATOR_VALUES,
        ALERTS,
        CHANGES,
        SILENCES,
        RECEIVERS,
        ROUTES,
        INHIBITIONS,
        GROUPS,
        ALERT_GROUPS,
        DELIVERIES,
        DELIVERY_QUEUE,
        HELD_BACK,
        APPLIED,
        META,
    ],
};

/// The last published value of one indicator, group and month.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredValue {
    pub indicator: String,
    pub group: String,
    pub period: Period,
    pub value: Option<f64>,
    pub target: Option<f64>,
}

/// One change of one alert, numbered in commit order: what WatchAlerts
/// replays and streams.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChangeRecord {
    pub sequence: u64,
    pub change: Change,
    /// The alert after the change, with only this change's transition.
    pub alert: Alert,
    /// Whether an active silence muted its notification.
    pub silenced: bool,
}

/// Handles on every table.
#[derive(Clone)]
pub struct Tables {
    pub store: Store,
    /// key: rule id
    pub rules: Table<Rule>,
    /// key: project id
    pub projects: Table<ProjectRecord>,
    /// key: [`report_key`]; the latest revision of that month's report
    pub reports: Table<ReportRecord>,
    /// key: [`value_key`]
    pub indicator_values: Table<StoredValue>,
    /// key: fingerprint (`{rule}:{collection}:{id}`)
    pub alerts: Table<Alert>,
    /// key: [`change_key`] of the sequence
    pub changes: Table<ChangeRecord>,
    /// key: silence id
    pub silences: Table<Silence>,
    /// key: receiver id
    pub receivers: Table<Receiver>,
    /// key: route id
    pub routes: Table<Route>,
    /// key: inhibition id (the built-in ones are not stored)
    pub inhibitions: Table<Inhibition>,
    /// key: group key (`{route}|{label}={value},…`)
    pub groups: Table<Group>,
    /// key: fingerprint → the groups that hold the alert firing, so that
    /// its resolution goes to the receivers that heard it fire
    pub alert_groups: Table<Vec<String>>,
    /// key: delivery id (a UUIDv7: key order is creation order)
    pub deliveries: Table<Delivery>,
    /// key: delivery id of each pending delivery → its receiver id
    pub delivery_queue: Table<String>,
    /// key: fingerprint → the sequence of its last notified change that a
    /// silence kept off NATS, published when the silence ends
    pub held_back: Table<u64>,
    /// applied registry and indicator event ids and their counts, kept by
    /// `jilin_bus::Applier` (see there for the keys)
    pub applied: Table<u64>,
    /// key: [`SEQUENCE`]
    pub meta: Table<u64>,
}

impl Tables {
    pub fn open(store: Store) -> Result<Self, StoreError> {
        Ok(Self {
            rules: store.table(RULES)?,
            projects: store.table(PROJECTS)?,
            reports: store.table(REPORTS)?,
            indicator_values: store.table(INDICATOR_VALUES)?,
            alerts: store.table(ALERTS)?,
            changes: store.table(CHANGES)?,
            silences: store.table(SILENCES)?,
            receivers: store.table(RECEIVERS)?,
            routes: store.table(ROUTES)?,
            inhibitions: store.table(INHIBITIONS)?,
            groups: store.table(GROUPS)?,
            alert_groups: store.table(ALERT_GROUPS)?,
            deliveries: store.table(DELIVERIES)?,
            delivery_queue: store.table(DELIVERY_QUEUE)?,
            held_back: store.table(HELD_BACK)?,
            applied: store.table(APPLIED)?,
            meta: store.table(META)?,
            store,
        })
    }

    /// A checksum of every table and the outbox sequence.
    pub fn fingerprint(&self) -> Result<Vec<u64>, StoreError> {
        Ok(vec![
            self.rules.fingerprint()?,
            self.projects.fingerprint()?,
            self.reports.fingerprint()?,
            self.indicator_values.fingerprint()?,
            self.alerts.fingerprint()?,
            self.changes.fingerprint()?,
            self.silences.fingerprint()?,
            self.receivers.fingerprint()?,
            self.routes.fingerprint()?,
            self.inhibitions.fingerprint()?,
            self.groups.fingerprint()?,
            self.alert_groups.fingerprint()?,
            self.deliveries.fingerprint()?,
            self.delivery_queue.fingerprint()?,
            self.held_back.fingerprint()?,
            jilin_bus::applied_fingerprint(&self.applied)?,
            self.meta.fingerprint()?,
            self.store.outbox_last_sequence()?,
        ])
    }

    /// The last change sequence committed.
    pub fn last_sequence(&self) -> Result<u64, StoreError> {
        Ok(self.meta.get(SEQUENCE)?.unwrap_or(0))
    }

    /// Changes after `after`, in order, at most `limit`.
    pub fn changes_after(&self, after: u64, limit: usize) -> Result<Vec<ChangeRecord>, StoreError> {
        let records = self
            .changes
            .scan_prefix_after("", &change_key(after), limit)?;
        Ok(records.into_iter().map(|(_, record)| record).collect())
    }
}

/// The change numbered `sequence`, if still kept.
pub fn change_at(
    tables: &Tables,
    tx: &Tx<'_>,
    sequence: u64,
) -> Result<Option<ChangeRecord>, StoreError> {
    tx.get(&tables.changes, &change_key(sequence))
}

/// Hands out the next change sequence inside a transaction.
pub fn next_sequence(tables: &Tables, tx: &Tx<'_>) -> Result<u64, StoreError> {
    let next = tx.get(&tables.meta, SEQUENCE)?.unwrap_or(0) + 1;
    tx.insert(&tables.meta, SEQUENCE, &next)?;
    Ok(next)
}

/// Zero-padded so that key order is sequence order.
pub fn change_key(sequence: u64) -> String {
    format!("{sequence:020}")
}

/// `{project id}/{YYYY-MM}`: a project's reports are listed together, in
/// month order.
pub fn report_key(project: &str, period: Period) -> String {
    format!("{project}/{period}")
}

/// `{indicator}/{group}/{YYYY-MM}` (group empty for the province), so a
/// prefix scan lists an indicator and group's months in order.
pub fn value_key(indicator: &str, group: &str, period: Period) -> String {
    format!("{indicator}/{group}/{period}")
}
