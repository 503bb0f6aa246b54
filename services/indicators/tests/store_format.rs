//! Stores written by earlier releases move to format 4 (a project's facts
//! and each report under keys of their own) when the service starts on
//! them, losing nothing: the cube computed from the moved tables equals
//! the one the old release held, every report is still there, and the old
//! release then refuses the store.
//!
//! - Format 2 kept facts and reports as format 4 does, and each cube cell
//!   as well: the cells are dropped.
//! - Format 3 kept one ledger entry per project: each moves to its facts
//!   and reports.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use common::{config, start_indicators};
use jilin_domain::Period;
use jilin_indicators::domain::cube::{Cell, Cube};
use jilin_indicators::domain::entry::LedgerEntry;
use jilin_indicators::domain::labels::Combo;
use jilin_indicators::domain::ledger::ReportFacts;
use jilin_indicators::migrate;
use jilin_indicators::store::{LAYOUT, Tables, split_report_key};
use jilin_store::{Layout, Store, Table};
use jilin_testkit::NatsServer;
use serde::{Deserialize, Serialize};

/// An indicators backup written by the release before format 3 (commit
/// 71ab6ff): `jilin up --demo --demo-projects 4`, stopped after the demo
/// loaded, then `jilin backup --data-dir … --service indicators`.
const FORMAT_2_BACKUP: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/indicators-format-2.backup"
);

/// The same, written by the last release of format 3 (commit ce823ab).
const FORMAT_3_BACKUP: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/indicators-format-3.backup"
);

/// Report count per project.
type Reports = BTreeMap<String, usize>;

/// A cube cell as format 2 stored it.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct StoredCell {
    period: Period,
    sector: String,
    region: String,
    slots: Vec<i64>,
}

fn old_layout(version: u32) -> Layout {
    Layout { version, ..LAYOUT }
}

/// What the format 2 store in `dir` holds: its cells as a cube, and the
/// number of reports of each project.
fn held_by_format_2(dir: &Path) -> (Cube, Reports) {
    let store = Store::open(dir, &old_layout(2)).unwrap();
    let cells: Table<StoredCell> = store.table(migrate::CELLS).unwrap();
    let mut cube = Cube::new();
    cells
        .for_each(|_, cell| {
            let combo = Combo::of(&cell.sector, &cell.region).unwrap();
            cube.set(cell.period, combo, Cell::try_from(cell.slots).unwrap());
        })
        .unwrap();
    let reports: Table<ReportFacts> = store.table(jilin_indicators::store::REPORTS).unwrap();
    (cube, report_counts(&reports))
}

/// What the format 3 store in `dir` holds: the cube its entries add up
/// to, and the number of reports of each project.
fn held_by_format_3(dir: &Path) -> (Cube, Reports) {
    let store = Store::open(dir, &old_layout(3)).unwrap();
    let ledger: Table<LedgerEntry> = store.table(migrate::LEDGER).unwrap();
    let (mut cube, mut counts) = (Cube::new(), Reports::new());
    ledger
        .for_each(|id, entry| {
            cube.apply(&entry.contribution());
            counts.insert(id.to_owned(), entry.reports.len());
        })
        .unwrap();
    (cube, counts)
}

fn report_counts(reports: &Table<ReportFacts>) -> Reports {
    let mut counts = Reports::new();
    for key in reports.keys().unwrap() {
        let (project, _) = split_report_key(&key).unwrap();
        *counts.entry(project.to_owned()).or_default() += 1;
    }
    counts
}

/// Restores `backup` (written in format `version`), starts the service on
/// it and stops it; checks the moved store against what the old one held.
async fn moves_to_format_4(backup: &str, version: u32, held: fn(&Path) -> (Cube, Reports)) {
    let nats = NatsServer::start().await;
    let data = tempfile::tempdir().unwrap();
    let config = config(&nats, data.path(), "jilin-indicators");
    let restored = jilin_store::restore(backup.as_ref(), &config.data_dir, &LAYOUT)
        .expect("this build restores the backup");
    assert_eq!(restored.header.version, version);
    let (cube, reports) = held(&config.data_dir);
    assert_eq!(reports.len(), 4, "{reports:?}");
    assert!(reports.values().all(|&count| count > 0), "{reports:?}");
    assert_ne!(cube, Cube::new());
    std::thread::sleep(Duration::from_millis(200));

    let running = start_indicators(&config).await;
    assert!(running.applied_events() > reports.values().sum::<usize>());
    running.shutdown().await.unwrap();
    std::thread::sleep(Duration::from_millis(200));

    let store = Store::open(&config.data_dir, &LAYOUT).unwrap();
    assert_eq!(store.layout().version, 4);
    let tables = Tables::open(store).unwrap();
    assert_eq!(tables.load_cube().unwrap(), cube);
    assert_eq!(report_counts(&tables.reports), reports);
    assert_eq!(tables.projects.len().unwrap(), 4);
    // Nothing is left in the old tables, and a second start moves nothing.
    assert_eq!(migrate::to_format_4(&tables).await.unwrap(), 0);
    let ledger: Table<LedgerEntry> = tables.store.table(migrate::LEDGER).unwrap();
    let cells: Table<StoredCell> = tables.store.table(migrate::CELLS).unwrap();
    assert!(ledger.is_empty().unwrap() && cells.is_empty().unwrap());
    // The release before now refuses it.
    drop((tables, ledger, cells));
    std::thread::sleep(Duration::from_millis(200));
    let refused = Store::open(&config.data_dir, &old_layout(version))
        .err()
        .unwrap();
    assert!(
        refused.to_string().contains("written by a newer Jilin"),
        "{refused}"
    );
}

#[tokio::test]
async fn a_format_2_store_drops_its_cells_on_start_and_keeps_its_cube() {
    moves_to_format_4(FORMAT_2_BACKUP, 2, held_by_format_2).await;
}

#[tokio::test]
async fn a_format_3_store_moves_its_ledger_entries_on_start_and_keeps_its_cube() {
    moves_to_format_4(FORMAT_3_BACKUP, 3, held_by_format_3).await;
}
