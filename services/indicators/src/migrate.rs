//! Older indicator stores to format 4, run at every start (a no-op once
//! done). Format 4 keeps a project's facts (`projects`) and each of its
//! reports (`reports`, keyed `{project id}/{YYYY-MM}`) under keys of their
//! own, and computes the cube at start.
//!
//! - Format 3 kept one [`LedgerEntry`] per project (`ledger`): the facts
//!   and every report in one value. Each entry moves to its facts and
//!   reports, a chunk of projects per transaction, and leaves `ledger` in
//!   the transaction that writes them.
//! - Format 2 kept facts and reports as format 4 does, and each cube cell
//!   (`cells`) as well. Nothing reads the cells any more: they are dropped.
//!
//! A crash half way leaves each project in one form or the other, and the
//! next start goes on from there.

use jilin_domain::Period;
use jilin_store::{StoreError, Table};
use serde::{Deserialize, Serialize};

use crate::domain::entry::LedgerEntry;
use crate::store::{self, Tables};

/// Format 3's table, declared so that a format 3 store can be moved.
pub const LEDGER: &str = "ledger";
/// Format 2's cube cells, declared so that they can be dropped.
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

/// Moves what the tables of formats 2 and 3 hold into format 4's; returns
/// how many projects moved out of ledger entries.
pub async fn to_format_4(tables: &Tables) -> Result<usize, StoreError> {
    let store = &tables.store;
    let ledger: Table<LedgerEntry> = store.table(LEDGER)?;
    let cells: Table<StoredCell> = store.table(CELLS)?;
    if ledger.is_empty()? && cells.is_empty()? {
        return Ok(0);
    }
    let ids = ledger.keys()?;
    for chunk in ids.chunks(CHUNK) {
        let mut moving = Vec::with_capacity(chunk.len());
        for id in chunk {
            if let Some(entry) = ledger.get(id)? {
                moving.push((id, entry));
            }
        }
        store
            .write(|tx| {
                for (id, entry) in &moving {
                    tx.insert(&tables.projects, id, &entry.facts)?;
                    for (period, report) in &entry.reports {
                        tx.insert(&tables.reports, &store::report_key(id, *period), report)?;
                    }
                    tx.remove(&ledger, id)?;
                }
                Ok::<_, StoreError>(())
            })
            .await?;
    }
    store.clear(&cells).await?;
    tracing::info!(
        projects = ids.len(),
        "moved the store's ledger entries to projects and reports (format 4)"
    );
    Ok(ids.len())
}
