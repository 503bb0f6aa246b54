//! A format 3 risk store to format 4, run at every start (a no-op once
//! done). Format 3 kept one record per project (`projects`): its snapshot
//! and every month's report, rewritten whole by each event. Format 4 keeps
//! the snapshot with the reports' running sums (`project_sums`) and each
//! month's report under a key of its own (`reports`).
//!
//! Each format 3 record moves, a chunk of projects per transaction, and
//! leaves `projects` in the transaction that writes its new form: a crash
//! half way leaves each project in one form or the other, and the next
//! start goes on from there.

use std::collections::BTreeMap;

use jilin_domain::Period;
use jilin_store::{StoreError, Table};
use serde::{Deserialize, Serialize};

use crate::domain::measure::ProjectView;
use crate::domain::project::{
    LatestReport, ProjectRecord, ProjectSnapshot, ReportRecord, ReportSums,
};
use crate::store::{Tables, report_key};

/// Format 3's table of projects.
pub const FORMAT_3_PROJECTS: &str = "projects";

/// Projects moved per transaction.
const CHUNK: usize = 256;

/// A project as format 3 stored it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Format3Project {
    pub snapshot: ProjectSnapshot,
    pub reports: BTreeMap<Period, ReportRecord>,
}

impl Format3Project {
    /// The project's format 4 record: its reports summed in month order.
    pub fn record(&self) -> ProjectRecord {
        let mut record = ProjectRecord::with_snapshot(None, &self.snapshot)
            .expect("a snapshot applies to nothing held");
        for (period, report) in &self.reports {
            record.reports.replace(*period, None, report);
        }
        record
    }

    /// What format 3 measured: sums over every report held. Kept to check
    /// the running sums against.
    pub fn view(&self) -> ProjectView {
        let latest = self.reports.iter().next_back();
        let year = latest.map(|(period, _)| period.year());
        let (energy, value_added) = self
            .reports
            .iter()
            .filter(|(period, _)| Some(period.year()) == year)
            .fold((0i64, 0i64), |(energy, added), (_, report)| {
                (energy + report.energy_kgce, added + report.value_added)
            });
        let sums = ReportSums {
            investment: self.reports.values().map(|r| r.investment).sum(),
            latest: latest.map(|(period, report)| LatestReport {
                period: *period,
                physical_progress: report.physical_progress,
            }),
            year_energy_kgce: energy,
            year_value_added: value_added,
        };
        ProjectRecord {
            snapshot: self.snapshot.clone(),
            reports: sums,
        }
        .view()
    }
}

/// Moves format 3's project records into format 4's tables; returns how
/// many projects moved.
pub async fn to_format_4(tables: &Tables) -> Result<usize, StoreError> {
    let store = &tables.store;
    let old: Table<Format3Project> = store.table(FORMAT_3_PROJECTS)?;
    if old.is_empty()? {
        return Ok(0);
    }
    let ids = old.keys()?;
    for chunk in ids.chunks(CHUNK) {
        let mut moving = Vec::with_capacity(chunk.len());
        for id in chunk {
            if let Some(project) = old.get(id)? {
                moving.push((id, project));
            }
        }
        store
            .write(|tx| {
                for (id, project) in &moving {
                    tx.insert(&tables.projects, id, &project.record())?;
                    for (period, report) in &project.reports {
                        tx.insert(&tables.reports, &report_key(id, *period), report)?;
                    }
                    tx.remove(&old, id)?;
                }
                Ok::<_, StoreError>(())
            })
            .await?;
    }
    tracing::info!(
        projects = ids.len(),
        "moved the store's project records to report sums and reports (format 4)"
    );
    Ok(ids.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::project::tests::snapshot;

    #[test]
    fn a_format_3_record_sums_to_what_its_reports_say() {
        let report = |investment, progress| ReportRecord {
            revision: 1,
            investment,
            value_added: 100,
            energy_kgce: 20,
            physical_progress: progress,
        };
        let old = Format3Project {
            snapshot: snapshot(3),
            reports: BTreeMap::from([
                (Period::parse("2025-11").unwrap(), report(300, 10)),
                (Period::parse("2025-12").unwrap(), report(200, 20)),
                (Period::parse("2026-01").unwrap(), report(100, 30)),
            ]),
        };
        let record = old.record();
        assert_eq!(record.snapshot, snapshot(3));
        let view = record.view();
        assert_eq!(view, old.view());
        assert_eq!(view.cumulative_investment, 600);
        assert_eq!(view.last_report, Period::parse("2026-01"));
        assert_eq!(view.physical_progress, Some(30));
        // The latest year's one report: 20 kgce over 100 yuan.
        assert_eq!(view.energy_intensity, Some(2_000.0));
    }

    proptest::proptest! {
        /// Whatever order months and revisions arrive in, the running sums
        /// measure what format 3's sums over every report held measured.
        #[test]
        fn the_running_sums_agree_with_the_whole_history(
            reports in proptest::collection::vec(
                (0..40i32, 1..6i64, -1_000i64..1_000_000, 0..10_000i64, 0..10_000i64, 0..=100i32),
                1..80,
            )
        ) {
            let first = Period::parse("2024-11").unwrap();
            let mut history = Format3Project { snapshot: snapshot(3), reports: BTreeMap::new() };
            let mut record = history.record();
            for (month, revision, investment, energy_kgce, value_added, physical_progress) in reports {
                let period = first.add_months(month).unwrap();
                let report = ReportRecord { revision, investment, value_added, energy_kgce, physical_progress };
                let held = history.reports.get(&period).copied();
                if record.apply_report(period, held.as_ref(), &report) {
                    history.reports.insert(period, report);
                }
                proptest::prop_assert_eq!(record.view(), history.view());
            }
        }
    }
}
