//! A store written by the last release of format 3 (one record per
//! project holding every month's report) moves to format 4 (the report
//! sums with the snapshot, each month's report under a key of its own)
//! when the service starts on it, losing nothing: every project measures
//! what it measured before, every report is still there, the alerts are
//! kept, and the old release then refuses the store.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use common::TestRisk;
use jilin_domain::Period;
use jilin_risk::domain::alert::Alert;
use jilin_risk::domain::project::ReportRecord;
use jilin_risk::migrate::{self, Format3Project};
use jilin_risk::store::{LAYOUT, Tables};
use jilin_store::{Layout, Store, Table};

/// A risk backup written by the last release of format 3 (commit
/// 2de8f1a): `jilin up --demo --demo-projects 4`, stopped after the demo
/// loaded, then `jilin backup --data-dir … --service risk`.
const FORMAT_3_BACKUP: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/risk-format-3.backup"
);

fn format_3() -> Layout {
    Layout {
        version: 3,
        ..LAYOUT
    }
}

/// What a store holds of its projects and alerts.
#[derive(Debug, Default, PartialEq)]
struct Held {
    projects: BTreeMap<String, Format3Project>,
    alerts: BTreeMap<String, Alert>,
}

fn held_by_format_3(dir: &Path) -> Held {
    let store = Store::open(dir, &format_3()).unwrap();
    let projects: Table<Format3Project> = store.table(migrate::FORMAT_3_PROJECTS).unwrap();
    let alerts: Table<Alert> = store.table(jilin_risk::store::ALERTS).unwrap();
    Held {
        projects: projects.scan_prefix("").unwrap().into_iter().collect(),
        alerts: alerts.scan_prefix("").unwrap().into_iter().collect(),
    }
}

/// A format 4 store's reports of `project`, by month.
fn reports_of(tables: &Tables, project: &str) -> BTreeMap<Period, ReportRecord> {
    tables
        .reports
        .scan_prefix(&format!("{project}/"))
        .unwrap()
        .into_iter()
        .map(|(key, report)| {
            let (_, period) = key.rsplit_once('/').unwrap();
            (Period::parse(period).unwrap(), report)
        })
        .collect()
}

#[tokio::test]
async fn a_format_3_store_moves_its_projects_on_start_and_measures_the_same() {
    let mut before = Held::default();
    let mut test = TestRisk::spawn_with(|config| {
        // The demo's clock when the backup was taken.
        config.clock = "2025-12-01".parse().unwrap();
        let restored = jilin_store::restore(FORMAT_3_BACKUP.as_ref(), &config.data_dir, &LAYOUT)
            .expect("this build restores the backup");
        assert_eq!(restored.header.version, 3);
        before = held_by_format_3(&config.data_dir);
        std::thread::sleep(Duration::from_millis(200));
    })
    .await;
    assert_eq!(before.projects.len(), 4, "{:?}", before.projects.keys());
    assert!(before.projects.values().all(|p| !p.reports.is_empty()));
    assert!(!before.alerts.is_empty(), "the demo fires alerts");
    let data_dir = test.config.data_dir.clone();
    test.risk.take().unwrap().shutdown().await.unwrap();
    std::thread::sleep(Duration::from_millis(200));

    let store = Store::open(&data_dir, &LAYOUT).unwrap();
    assert_eq!(store.layout().version, 4);
    let tables = Tables::open(store).unwrap();
    assert_eq!(tables.projects.len().unwrap(), before.projects.len());
    for (id, old) in &before.projects {
        let record = tables.projects.get(id).unwrap().unwrap();
        assert_eq!(record.snapshot, old.snapshot);
        assert_eq!(record.view(), old.view(), "{id}");
        assert_eq!(reports_of(&tables, id), old.reports, "{id}");
    }
    // At the demo's clock, the start's pass finds every project measuring
    // what it measured: the same alerts are held.
    let alerts: BTreeMap<String, Alert> =
        tables.alerts.scan_prefix("").unwrap().into_iter().collect();
    assert_eq!(
        alerts.keys().collect::<Vec<_>>(),
        before.alerts.keys().collect::<Vec<_>>()
    );
    // Nothing is left in the old table, and a second start moves nothing.
    assert_eq!(migrate::to_format_4(&tables).await.unwrap(), 0);
    let old: Table<Format3Project> = tables.store.table(migrate::FORMAT_3_PROJECTS).unwrap();
    assert!(old.is_empty().unwrap());
    // The release before now refuses it.
    drop((tables, old));
    std::thread::sleep(Duration::from_millis(200));
    let refused = Store::open(&data_dir, &format_3()).err().unwrap();
    assert!(
        refused.to_string().contains("written by a newer Jilin"),
        "{refused}"
    );
}
