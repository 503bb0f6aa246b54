//! A store written by the release before format 3, which kept each
//! project, each report and each cube cell under keys of its own, is moved
//! to ledger entries when the service starts on it, losing nothing: the
//! cube summed from the entries equals the cells that release kept.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{config, start_indicators};
use jilin_domain::Period;
use jilin_indicators::domain::cube::{Cell, Cube};
use jilin_indicators::domain::labels::Combo;
use jilin_indicators::domain::ledger::{ProjectFacts, ReportFacts};
use jilin_indicators::migrate;
use jilin_indicators::store::{LAYOUT, Tables};
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

/// The layout that release wrote.
const FORMAT_2: Layout = Layout {
    version: 2,
    ..LAYOUT
};

/// A cube cell as format 2 stored it.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct StoredCell {
    period: Period,
    sector: String,
    region: String,
    slots: Vec<i64>,
}

/// What the format 2 store in `dir` holds: its cells as a cube, and the
/// number of reports of each project.
fn held_by_format_2(dir: &std::path::Path) -> (Cube, BTreeMap<String, usize>) {
    let store = Store::open(dir, &FORMAT_2).unwrap();
    let cells: Table<StoredCell> = store.table(migrate::CELLS).unwrap();
    let mut cube = Cube::new();
    cells
        .for_each(|_, cell| {
            let combo = Combo::of(&cell.sector, &cell.region).unwrap();
            cube.set(cell.period, combo, Cell::try_from(cell.slots).unwrap());
        })
        .unwrap();
    let reports: Table<ReportFacts> = store.table(migrate::REPORTS).unwrap();
    let mut counts = BTreeMap::new();
    for key in reports.keys().unwrap() {
        let (project, _) = key.split_once('/').unwrap();
        *counts.entry(project.to_owned()).or_default() += 1;
    }
    (cube, counts)
}

#[tokio::test]
async fn a_format_2_store_moves_to_ledger_entries_on_start_and_keeps_its_cube() {
    let nats = NatsServer::start().await;
    let data = tempfile::tempdir().unwrap();
    let config = config(&nats, data.path(), "jilin-indicators");
    let restored = jilin_store::restore(FORMAT_2_BACKUP.as_ref(), &config.data_dir, &LAYOUT)
        .expect("this build restores a format 2 backup");
    assert_eq!(restored.header.version, 2);
    let (cells, reports) = held_by_format_2(&config.data_dir);
    assert_eq!(reports.len(), 4, "{reports:?}");
    assert!(reports.values().all(|&count| count > 0), "{reports:?}");
    assert_ne!(cells, Cube::new());
    std::thread::sleep(Duration::from_millis(200));

    let running = start_indicators(&config).await;
    assert!(running.applied_events() > reports.values().sum::<usize>());
    running.shutdown().await.unwrap();
    std::thread::sleep(Duration::from_millis(200));

    let store = Store::open(&config.data_dir, &LAYOUT).unwrap();
    assert_eq!(store.layout().version, 3);
    let tables = Tables::open(store).unwrap();
    assert_eq!(tables.load_cube().unwrap(), cells);
    let mut moved = BTreeMap::new();
    tables
        .ledger
        .for_each(|id, entry| {
            moved.insert(id.to_owned(), entry.reports.len());
        })
        .unwrap();
    assert_eq!(moved, reports);
    // Nothing is left in the old tables, and a second start moves nothing.
    assert_eq!(migrate::to_ledger_entries(&tables).await.unwrap(), 0);
    let projects: Table<ProjectFacts> = tables.store.table(migrate::PROJECTS).unwrap();
    let reports: Table<ReportFacts> = tables.store.table(migrate::REPORTS).unwrap();
    let cells: Table<StoredCell> = tables.store.table(migrate::CELLS).unwrap();
    assert!(
        projects.is_empty().unwrap() && reports.is_empty().unwrap() && cells.is_empty().unwrap()
    );
    // The release before now refuses it.
    drop((tables, projects, reports, cells));
    std::thread::sleep(Duration::from_millis(200));
    let refused = Store::open(&config.data_dir, &FORMAT_2).err().unwrap();
    assert!(
        refused.to_string().contains("written by a newer Jilin"),
        "{refused}"
    );
}
