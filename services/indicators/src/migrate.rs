//! Format 2 → 3 of the indicators store, run at every start (a no-op once
//! done). Format 2 kept a project's facts (`projects`), each report
//! (`reports`, keyed `{project id}/{YYYY-MM}`) and each cube cell (`cells`)
//! under keys of their own: three to five writes per event. Format 3 keeps
//! one [`LedgerEntry`] per project and computes the cube at start.
//!
//! Every project moves to its entry, a chunk of projects per transaction;
//! a project and its reports leave the old tables in the transaction that
//! writes its entry. The cells are dropped last: nothing reads them any
//! more. A crash half way leaves each project in one form or the other,
//! and the next start goes on from there.

use jilin_domain::Period;
use jilin_store::{StoreError, Table};
use serde::{Deserialize, Serialize};

use crate::domain::entry::LedgerEntry;
use crate::domain::ledger::{ProjectFacts, ReportFacts};
use crate::store::Tables;

/// Format 2's tables, declared so that a format 2 store can be moved.
pub const PROJECTS: &str = "projects";
pub const REPORTS: &str = "reports";
pub const CELLS: &str = "cells";

/// Projects moved per transaction.
const CHUNK: usize = 256;

/// A cube cell as format 2 stored it (read only to be removed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct StoredCell {
    period: Period,
    sector: String,
    region: String,
    slots: Vec<i64>,
}

/// Moves what format 2 tables hold into ledger entries; returns how many
/// projects moved.
pub async fn to_ledger_entries(tables: &Tables) -> Result<usize, StoreError> {
    let store = &tables.store;
    let projects: Table<ProjectFacts> = store.table(PROJECTS)?;
    let reports: Table<ReportFacts> = store.table(REPORTS)?;
    let cells: Table<StoredCell> = store.table(CELLS)?;
    if projects.is_empty()? && reports.is_empty()? && cells.is_empty()? {
        return Ok(0);
    }
    let ids = projects.keys()?;
    for chunk in ids.chunks(CHUNK) {
        let mut moving = Vec::with_capacity(chunk.len());
        for id in chunk {
            if let Some(facts) = projects.get(id)? {
                moving.push((id, facts, reports.scan_prefix(&format!("{id}/"))?));
            }
        }
        store
            .write(|tx| {
                for (id, facts, held) in &moving {
                    let entry = LedgerEntry {
                        facts: facts.clone(),
                        reports: held
                            .iter()
                            .filter_map(|(key, report)| Some((period_of(key)?, *report)))
                            .collect(),
                    };
                    tx.insert(&tables.ledger, id, &entry)?;
                    tx.remove(&projects, id)?;
                    for (key, _) in held {
                        tx.remove(&reports, key)?;
                    }
                }
                Ok::<_, StoreError>(())
            })
            .await?;
    }
    // Reports of no stored project (format 2 wrote none) and the cells.
    store.retain(&reports, "", |_| None).await?;
    store.retain(&cells, "", |_| None).await?;
    tracing::info!(
        projects = ids.len(),
        "moved the store's projects and reports to ledger entries (format 3)"
    );
    Ok(ids.len())
}

/// The month of a format 2 report key.
fn period_of(report_key: &str) -> Option<Period> {
    Period::parse(report_key.rsplit('/').next()?)
}
