//! What the risk service keeps of each project: the registry's latest
//! snapshot and, per month, the few report figures the rules read. Built
//! from registry events; a snapshot or report older than what is held
//! (by revision) changes nothing, so replays are harmless.

use std::collections::{BTreeMap, HashMap};

use jilin_domain::{Period, prefecture_of};
use serde::{Deserialize, Serialize};
use time::Date;

use super::measure::{ProjectStatus, ProjectView};

/// A milestone as the rules need it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MilestoneRecord {
    pub due: Date,
    pub met: bool,
}

/// The registry's project fields the rules and alert labels use.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProjectSnapshot {
    pub id: String,
    pub revision: i64,
    pub display_name: String,
    pub status: ProjectStatus,
    pub sector: String,
    pub group: String,
    /// GB/T 2260 code of the prefecture or county.
    pub region: String,
    pub agency: String,
    pub planned_investment: i64,
    pub planned_start: Date,
    pub planned_end: Date,
    pub milestones: Vec<MilestoneRecord>,
}

/// One month's report figures.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReportRecord {
    pub revision: i64,
    pub investment: i64,
    pub value_added: i64,
    pub energy_kgce: i64,
    pub physical_progress: i32,
}

/// A project as stored: its snapshot and its reports by month.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProjectRecord {
    pub snapshot: ProjectSnapshot,
    pub reports: BTreeMap<Period, ReportRecord>,
}

impl ProjectRecord {
    /// Applies a snapshot to what is held (if anything); `None` when it is
    /// not newer than the held one.
    pub fn with_snapshot(held: Option<&ProjectRecord>, snapshot: &ProjectSnapshot) -> Option<Self> {
        match held {
            Some(held) if held.snapshot.revision >= snapshot.revision => None,
            Some(held) => Some(ProjectRecord {
                snapshot: snapshot.clone(),
                reports: held.reports.clone(),
            }),
            None => Some(ProjectRecord {
                snapshot: snapshot.clone(),
                reports: BTreeMap::new(),
            }),
        }
    }

    /// Applies a report revision; `false` when it is not newer.
    pub fn apply_report(&mut self, period: Period, report: ReportRecord) -> bool {
        match self.reports.get(&period) {
            Some(held) if held.revision >= report.revision => false,
            _ => {
                self.reports.insert(period, report);
                true
            }
        }
    }

    /// The year whose energy intensity is compared with the sector's: the
    /// year of the latest report.
    pub fn benchmark_year(&self) -> Option<i32> {
        self.reports.keys().next_back().map(|period| period.year())
    }

    /// What the rules measure.
    pub fn view(&self) -> ProjectView {
        let snapshot = &self.snapshot;
        let latest = self.reports.iter().next_back();
        let year = self.benchmark_year();
        let (energy, value_added) = self
            .reports
            .iter()
            .filter(|(period, _)| Some(period.year()) == year)
            .fold((0i64, 0i64), |(energy, added), (_, report)| {
                (energy + report.energy_kgce, added + report.value_added)
            });
        ProjectView {
            status: snapshot.status,
            planned_investment: snapshot.planned_investment,
            planned_start: snapshot.planned_start,
            planned_end: snapshot.planned_end,
            cumulative_investment: self.reports.values().map(|r| r.investment).sum(),
            physical_progress: latest.map(|(_, report)| report.physical_progress),
            last_report: latest.map(|(period, _)| *period),
            unmet_milestones: snapshot
                .milestones
                .iter()
                .filter(|m| !m.met)
                .map(|m| m.due)
                .collect(),
            energy_intensity: (value_added > 0)
                .then(|| energy as f64 / value_added as f64 * 10_000.0),
        }
    }

    /// The labels every alert about this project carries.
    pub fn labels(&self) -> BTreeMap<String, String> {
        let snapshot = &self.snapshot;
        let prefecture = prefecture_of(&snapshot.region)
            .map(|region| region.code.to_owned())
            .unwrap_or_else(|| snapshot.region.clone());
        BTreeMap::from([
            ("project".to_owned(), snapshot.id.clone()),
            // `region` has always been the prefecture (alert filters and
            // silences match it); `prefecture` says so by name.
            ("prefecture".to_owned(), prefecture.clone()),
            ("region".to_owned(), prefecture),
            ("sector".to_owned(), snapshot.sector.clone()),
            ("group".to_owned(), snapshot.group.clone()),
            ("agency".to_owned(), snapshot.agency.clone()),
        ])
    }
}

/// Sector energy intensities (kgce per 10,000 yuan of value added) by
/// year, from the indicator service.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Benchmarks {
    by_year: HashMap<i32, HashMap<String, f64>>,
}

impl Benchmarks {
    pub fn set_year(&mut self, year: i32, sectors: HashMap<String, f64>) {
        self.by_year.insert(year, sectors);
    }

    pub fn get(&self, year: i32, sector: &str) -> Option<f64> {
        self.by_year.get(&year)?.get(sector).copied()
    }

    pub fn years(&self) -> impl Iterator<Item = i32> + '_ {
        self.by_year.keys().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn snapshot(revision: i64) -> ProjectSnapshot {
        ProjectSnapshot {
            id: "p1".into(),
            revision,
            display_name: "FAW plant".into(),
            status: ProjectStatus::UnderConstruction,
            sector: "automobile".into(),
            group: "pillar".into(),
            region: "220182".into(),
            agency: "jilin-drc".into(),
            planned_investment: 1_000,
            planned_start: date!(2025 - 01 - 01),
            planned_end: date!(2026 - 12 - 31),
            milestones: vec![
                MilestoneRecord {
                    due: date!(2025 - 06 - 30),
                    met: true,
                },
                MilestoneRecord {
                    due: date!(2026 - 03 - 31),
                    met: false,
                },
            ],
        }
    }

    fn report(revision: i64, investment: i64, energy: i64, added: i64) -> ReportRecord {
        ReportRecord {
            revision,
            investment,
            value_added: added,
            energy_kgce: energy,
            physical_progress: 10 * revision as i32,
        }
    }

    #[test]
    fn only_newer_snapshots_and_reports_apply() {
        let record = ProjectRecord::with_snapshot(None, &snapshot(2)).unwrap();
        assert_eq!(
            ProjectRecord::with_snapshot(Some(&record), &snapshot(2)),
            None
        );
        assert_eq!(
            ProjectRecord::with_snapshot(Some(&record), &snapshot(1)),
            None
        );
        let mut record = ProjectRecord::with_snapshot(Some(&record), &snapshot(3)).unwrap();
        let march = Period::parse("2026-03").unwrap();
        assert!(record.apply_report(march, report(1, 100, 0, 0)));
        assert!(
            !record.apply_report(march, report(1, 999, 0, 0)),
            "a repeat"
        );
        assert!(
            record.apply_report(march, report(2, 150, 0, 0)),
            "a revision"
        );
        let record = ProjectRecord::with_snapshot(Some(&record), &snapshot(4)).unwrap();
        assert_eq!(record.reports[&march].investment, 150, "reports are kept");
    }

    #[test]
    fn the_view_sums_reports_and_reads_the_latest() {
        let mut record = ProjectRecord::with_snapshot(None, &snapshot(1)).unwrap();
        let view = record.view();
        assert_eq!((view.last_report, view.physical_progress), (None, None));
        assert_eq!(view.energy_intensity, None);
        record.apply_report(Period::parse("2025-12").unwrap(), report(1, 100, 900, 1));
        record.apply_report(Period::parse("2026-01").unwrap(), report(2, 50, 30, 100));
        record.apply_report(Period::parse("2026-02").unwrap(), report(3, 25, 10, 100));
        let view = record.view();
        assert_eq!(view.cumulative_investment, 175);
        assert_eq!(view.physical_progress, Some(30));
        assert_eq!(view.last_report, Period::parse("2026-02"));
        assert_eq!(view.unmet_milestones, [date!(2026 - 03 - 31)]);
        // Only the latest report's year: 40 kgce over 200 yuan.
        assert_eq!(view.energy_intensity, Some(2_000.0));
        assert_eq!(record.benchmark_year(), Some(2026));
    }

    #[test]
    fn labels_name_the_prefecture_of_a_county() {
        let record = ProjectRecord::with_snapshot(None, &snapshot(1)).unwrap();
        let labels = record.labels();
        assert_eq!(labels["region"], "220100");
        assert_eq!(labels["sector"], "automobile");
        assert_eq!(labels["group"], "pillar");
        assert_eq!(labels["agency"], "jilin-drc");
        assert_eq!(labels["project"], "p1");
    }
}
