//! The indicator service's tables and their keys. The ingest path writes
//! project facts, reports, applied event ids and dirty months; the
//! publisher reads dirty months and writes published values; the API
//! writes definitions.

use std::collections::HashMap;

use jilin_domain::Period;
use jilin_store::{Layout, Store, StoreError, Table};
use serde::{Deserialize, Serialize};

use crate::domain::cube::{Cube, CubeSum};
use crate::domain::definition::Definition;
use crate::domain::labels::Combo;
use crate::domain::ledger::{ProjectFacts, ReportFacts};
use crate::migrate;

pub const PROJECTS: &str = "projects";
pub const REPORTS: &str = "reports";
/// Applied registry event ids, kept by `jilin_bus::Applier`.
pub const APPLIED: &str = jilin_bus::APPLIED_EVENTS;
pub const DEFINITIONS: &str = "definitions";
pub const DIRTY: &str = "dirty";
pub const PUBLISHED: &str = "published";
pub const META: &str = "meta";

/// Key in `meta` present while a rebuild has cleared, or is clearing, the
/// derived tables and the durable consumer has not been reset yet.
pub const REBUILD_PENDING: &str = "rebuild-pending";

/// The indicators store: its tables, and the format this build writes.
pub const LAYOUT: Layout = Layout {
    kind: "indicators",
    // 2: compact values (MessagePack); a format 1 store (JSON) is upgraded on open.
    // 3: one ledger entry per project (its facts and every report).
    // 4: a project's facts and each of its reports under keys of their
    //    own, so an event writes a report, not the project's whole
    //    history; the cube is computed at start. `migrate` moves a format
    //    3 store's entries and drops a format 2 store's cells.
    version: 4,
    upgrades_from: 1,
    tables: &[
        PROJECTS,
        REPORTS,
        APPLIED,
        DEFINITIONS,
        DIRTY,
        PUBLISHED,
        META,
        migrate::LEDGER,
        migrate::CELLS,
    ],
};

/// The last value published for one indicator, month and group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Published {
    pub value: Option<f64>,
    pub revision: i64,
}

/// Handles on every table.
#[derive(Clone)]
pub struct Tables {
    pub store: Store,
    /// key: project id; what the service remembers of the project
    pub projects: Table<ProjectFacts>,
    /// key: [`report_key`] (`{project id}/{YYYY-MM}`); the latest revision
    /// of that month's report
    pub reports: Table<ReportFacts>,
    /// applied registry event ids and their count, kept by
    /// `jilin_bus::Applier` (see there for the keys)
    pub applied: Table<u64>,
    /// key: indicator id
    pub definitions: Table<Definition>,
    /// key: `YYYY-MM` of cells changed since the last publication; value: a
    /// nonce that changes with every change, so the publisher clears only
    /// what it has seen
    pub dirty: Table<String>,
    /// key: `{indicator}/{YYYY-MM}/{group by}/{group}`
    pub published: Table<Published>,
    /// key: [`REBUILD_PENDING`]
    pub meta: Table<bool>,
}

impl Tables {
    pub fn open(store: Store) -> Result<Self, StoreError> {
        Ok(Self {
            projects: store.table(PROJECTS)?,
            reports: store.table(REPORTS)?,
            applied: store.table(APPLIED)?,
            definitions: store.table(DEFINITIONS)?,
            dirty: store.table(DIRTY)?,
            published: store.table(PUBLISHED)?,
            meta: store.table(META)?,
            store,
        })
    }

    /// A checksum of every table and the outbox sequence.
    pub fn fingerprint(&self) -> Result<Vec<u64>, StoreError> {
        let mut sums = self.state_fingerprint()?;
        sums.extend([
            jilin_bus::applied_fingerprint(&self.applied)?,
            self.definitions.fingerprint()?,
            self.dirty.fingerprint()?,
            self.published.fingerprint()?,
            self.store.outbox_last_sequence()?,
        ]);
        Ok(sums)
    }

    /// A checksum of the derived state only (projects and reports): equal
    /// for two services that applied the same events in any order.
    pub fn state_fingerprint(&self) -> Result<Vec<u64>, StoreError> {
        Ok(vec![
            self.projects.fingerprint()?,
            self.reports.fingerprint()?,
        ])
    }

    /// Whether a rebuild is under way (see [`Tables::clear_derived`]).
    pub fn rebuild_pending(&self) -> Result<bool, StoreError> {
        Ok(self.meta.get(REBUILD_PENDING)?.unwrap_or(false))
    }

    /// Forgets everything derived from registry events (projects, reports,
    /// applied ids) and leaves the consumer marked for a reset. The mark
    /// is on disk before the first removal, in chunks of a thousand: a
    /// start that finds it clears again, so a crash half way loses
    /// nothing the replay does not bring back.
    pub async fn clear_derived(&self) -> Result<(), StoreError> {
        self.store
            .write(|tx| tx.insert(&self.meta, REBUILD_PENDING, &true))
            .await?;
        self.store.clear(&self.projects).await?;
        self.store.clear(&self.reports).await?;
        self.store.clear(&self.applied).await?;
        Ok(())
    }

    /// The cube: every project's plan and status counts, and its reports,
    /// in its sector and region. Reads one value at a time; reports come
    /// in key order, so a project's come together.
    pub fn load_cube(&self) -> Result<Cube, StoreError> {
        let mut sum = CubeSum::default();
        let mut combos = HashMap::new();
        self.projects.for_each(|id, facts| {
            sum.add(&facts.footprint());
            if let Some(combo) = facts.combo() {
                combos.insert(id.to_owned(), combo);
            }
        })?;
        let mut last: Option<(String, Option<Combo>)> = None;
        self.reports.for_each(|key, report| {
            let Some((id, period)) = split_report_key(key) else {
                return;
            };
            let combo = match &last {
                Some((held, combo)) if held == id => *combo,
                _ => {
                    let combo = combos.get(id).copied();
                    last = Some((id.to_owned(), combo));
                    combo
                }
            };
            if let Some(combo) = combo {
                sum.add_cell(period, combo, &report.cell());
            }
        })?;
        Ok(sum.finish())
    }

    /// The months changed since the last publication, with their marks.
    pub fn dirty_months(&self) -> Result<Vec<(Period, String)>, StoreError> {
        Ok(self
            .dirty
            .scan_prefix("")?
            .into_iter()
            .filter_map(|(key, nonce)| Some((Period::parse(&key)?, nonce)))
            .collect())
    }
}

/// The key of a project's report of one month.
pub fn report_key(project: &str, period: Period) -> String {
    format!("{project}/{period}")
}

/// The prefix of every report key of a project.
pub fn reports_prefix(project: &str) -> String {
    format!("{project}/")
}

/// The project and month of a report key.
pub fn split_report_key(key: &str) -> Option<(&str, Period)> {
    let (project, period) = key.rsplit_once('/')?;
    Some((project, Period::parse(period)?))
}

/// What marks a month dirty: a nonce unique to the change (the publisher
/// clears only the mark it saw) and the trace of the change, if traced.
pub fn dirty_mark(traceparent: &str) -> String {
    format!("{} {traceparent}", uuid::Uuid::now_v7())
}

/// The trace a dirty mark carries; empty if none.
pub fn trace_of_mark(mark: &str) -> &str {
    mark.split_once(' ').map_or("", |(_, trace)| trace)
}

pub fn published_key(indicator: &str, period: Period, group_by: &str, group: &str) -> String {
    format!("{indicator}/{period}/{group_by}/{group}")
}
