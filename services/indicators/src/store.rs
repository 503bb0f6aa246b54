//! The indicator service's tables and their keys. The ingest path writes
//! ledger entries, applied event ids and dirty months; the publisher reads
//! dirty months and writes published values; the API writes definitions.

use jilin_domain::Period;
use jilin_store::{Layout, Store, StoreError, Table, Tx};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::domain::cube::Cube;
use crate::domain::definition::Definition;
use crate::domain::entry::LedgerEntry;
use crate::migrate;

pub const LEDGER: &str = "ledger";
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
    // 3: one ledger entry per project, the cube computed at start; a format
    //    2 store's projects, reports and cells are moved by `migrate`.
    version: 3,
    upgrades_from: 1,
    tables: &[
        LEDGER,
        APPLIED,
        DEFINITIONS,
        DIRTY,
        PUBLISHED,
        META,
        migrate::PROJECTS,
        migrate::REPORTS,
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
    /// key: project id; the project's facts and reports
    pub ledger: Table<LedgerEntry>,
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
            ledger: store.table(LEDGER)?,
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
            self.ledger.fingerprint()?,
            jilin_bus::applied_fingerprint(&self.applied)?,
            self.definitions.fingerprint()?,
            self.dirty.fingerprint()?,
            self.published.fingerprint()?,
            self.store.outbox_last_sequence()?,
        ])
    }

    /// A checksum of the derived state only (the ledger entries): equal
    /// for two services that applied the same events in any order.
    pub fn state_fingerprint(&self) -> Result<Vec<u64>, StoreError> {
        Ok(vec![self.ledger.fingerprint()?])
    }

    /// Forgets everything derived from registry events (ledger entries,
    /// applied ids) and marks the consumer for a reset, in one transaction.
    pub async fn clear_derived(&self) -> Result<(), StoreError> {
        let entries = self.ledger.keys()?;
        let applied = self.applied.keys()?;
        self.store
            .write(|tx| {
                remove_all(tx, &self.ledger, &entries)?;
                remove_all(tx, &self.applied, &applied)?;
                tx.insert(&self.meta, REBUILD_PENDING, &true)
            })
            .await
    }

    /// The cube: the sum of every entry's contribution.
    pub fn load_cube(&self) -> Result<Cube, StoreError> {
        let mut cube = Cube::new();
        self.ledger
            .for_each(|_, entry| cube.apply(&entry.contribution()))?;
        Ok(cube)
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

pub fn published_key(indicator: &str, period: Period, group_by: &str, group: &str) -> String {
    format!("{indicator}/{period}/{group_by}/{group}")
}
