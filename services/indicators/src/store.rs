//! The indicator service's tables and their keys. The ingest path writes
//! projects, reports, cells, applied event ids and dirty months; the
//! publisher reads dirty months and writes published values; the API writes
//! definitions.

use jilin_domain::Period;
use jilin_store::{Layout, Store, StoreError, Table, Tx};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::domain::cube::{Cell, Cube};
use crate::domain::definition::Definition;
use crate::domain::labels::Combo;
use crate::domain::ledger::{ProjectFacts, ReportFacts};

pub const PROJECTS: &str = "projects";
pub const REPORTS: &str = "reports";
pub const CELLS: &str = "cells";
/// Applied registry event ids, kept by `jilin_bus::Applier`.
pub const APPLIED: &str = jilin_bus::APPLIED_EVENTS;
pub const DEFINITIONS: &str = "definitions";
pub const DIRTY: &str = "dirty";
pub const PUBLISHED: &str = "published";
pub const META: &str = "meta";

/// Key in `meta` present while a rebuild has cleared the derived tables
/// but the durable consumer has not been reset yet.
pub const REBUILD_PENDING: &str = "rebuild-pending";

/// The indicators store: its tables, and the format this build writes.
pub const LAYOUT: Layout = Layout {
    kind: "indicators",
    // 2: compact values (MessagePack); a format 1 store (JSON) is upgraded on open.
    version: 2,
    upgrades_from: 1,
    // Derived from the streams, and rebuilt from them: fast writes first.
    compress: false,
    tables: &[
        PROJECTS,
        REPORTS,
        CELLS,
        APPLIED,
        DEFINITIONS,
        DIRTY,
        PUBLISHED,
        META,
    ],
};

/// The last value published for one indicator, month and group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Published {
    pub value: Option<f64>,
    pub revision: i64,
}

/// A cell as stored: the combination by code, so the key stays readable.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredCell {
    pub period: Period,
    pub sector: String,
    pub region: String,
    pub slots: Vec<i64>,
}

/// Handles on every table.
#[derive(Clone)]
pub struct Tables {
    pub store: Store,
    /// key: project id
    pub projects: Table<ProjectFacts>,
    /// key: `{project id}/{YYYY-MM}`
    pub reports: Table<ReportFacts>,
    /// key: `{YYYY-MM}/{sector}/{region}`; absent when every slot is zero
    pub cells: Table<StoredCell>,
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
            cells: store.table(CELLS)?,
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
        Ok(vec![
            self.projects.fingerprint()?,
            self.reports.fingerprint()?,
            self.cells.fingerprint()?,
            jilin_bus::applied_fingerprint(&self.applied)?,
            self.definitions.fingerprint()?,
            self.dirty.fingerprint()?,
            self.published.fingerprint()?,
            self.store.outbox_last_sequence()?,
        ])
    }

    /// A checksum of the derived state only (projects, reports, cells):
    /// equal for two services that applied the same events in any order.
    pub fn state_fingerprint(&self) -> Result<Vec<u64>, StoreError> {
        Ok(vec![
            self.projects.fingerprint()?,
            self.reports.fingerprint()?,
            self.cells.fingerprint()?,
        ])
    }

    /// Forgets everything derived from registry events (projects, reports,
    /// cells, applied ids) and marks the consumer for a reset, in one
    /// transaction.
    pub async fn clear_derived(&self) -> Result<(), StoreError> {
        let projects = self.projects.keys()?;
        let reports = self.reports.keys()?;
        let cells = self.cells.keys()?;
        let applied = self.applied.keys()?;
        self.store
            .write(|tx| {
                remove_all(tx, &self.projects, &projects)?;
                remove_all(tx, &self.reports, &reports)?;
                remove_all(tx, &self.cells, &cells)?;
                remove_all(tx, &self.applied, &applied)?;
                tx.insert(&self.meta, REBUILD_PENDING, &true)
            })
            .await
    }

    /// The cube as stored.
    pub fn load_cube(&self) -> Result<Cube, StoreError> {
        let mut cube = Cube::new();
        for (_, cell) in self.cells.scan_prefix("")? {
            if let (Some(combo), Ok(slots)) = (
                Combo::of(&cell.sector, &cell.region),
                Cell::try_from(cell.slots.as_slice()),
            ) {
                cube.set(cell.period, combo, slots);
            }
        }
        Ok(cube)
    }

    /// A project's reports, by month.
    pub fn reports_of(&self, project_id: &str) -> Result<Vec<(Period, ReportFacts)>, StoreError> {
        Ok(self
            .reports
            .scan_prefix(&format!("{project_id}/"))?
            .into_iter()
            .filter_map(|(key, report)| {
                let period = Period::parse(key.rsplit('/').next()?)?;
                Some((period, report))
            })
            .collect())
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

/// What marks a month dirty: a nonce unique to the change (the publisher
/// clears only the mark it saw) and the trace of the change, if traced.
pub fn dirty_mark(traceparent: &str) -> String {
    format!("{} {traceparent}", uuid::Uuid::now_v7())
}

/// The trace a dirty mark carries; empty if none.
pub fn trace_of_mark(mark: &str) -> &str {
    mark.split_once(' ').map_or("", |(_, trace)| trace)
}

fn remove_all<V: Serialize + DeserializeOwned>(
    tx: &Tx<'_>,
    table: &Table<V>,
    keys: &[String],
) -> Result<(), StoreError> {
    keys.iter().try_for_each(|key| tx.remove(table, key))
}

pub fn report_key(project_id: &str, period: Period) -> String {
    format!("{project_id}/{period}")
}

pub fn cell_key(period: Period, combo: Combo) -> String {
    format!(
        "{period}/{}/{}",
        jilin_domain::SECTORS[combo.sector].code,
        jilin_domain::REGIONS[combo.region].code
    )
}

pub fn published_key(indicator: &str, period: Period, group_by: &str, group: &str) -> String {
    format!("{indicator}/{period}/{group_by}/{group}")
}
