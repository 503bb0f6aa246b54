//! What the risk service keeps of each project: the registry's latest
//! snapshot, the few figures of each month's report the rules read, and
//! their running sums. Built from registry events; a snapshot or report
//! older than what is held (by revision) changes nothing, so replays are
//! harmless.

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
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReportRecord {
    pub revision: i64,
    pub investment: i64,
    pub value_added: i64,
    pub energy_kgce: i64,
    pub physical_progress: i32,
}

/// The month of a project's latest report and its physical progress.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LatestReport {
    pub period: Period,
    pub physical_progress: i32,
}

/// What the rules read of a project's reports, kept as running sums: a
/// report costs the same however long the project's history. Each month's
/// report itself is stored apart, so that a revision can take back what
/// the month's earlier report added.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReportSums {
    /// Investment over every month reported (wrapping, so that taking a
    /// report back always undoes adding it).
    pub investment: i64,
    pub latest: Option<LatestReport>,
    /// Energy and value added over the reports of the latest report's
    /// year: what the energy intensity rule compares.
    pub year_energy_kgce: i64,
    pub year_value_added: i64,
}

impl ReportSums {
    /// Puts `report` in the place of `held`, the month's report until now
    /// (if any).
    pub fn replace(&mut self, period: Period, held: Option<&ReportRecord>, report: &ReportRecord) {
        let zero = ReportRecord::default();
        let held = held.unwrap_or(&zero);
        self.investment = self
            .investment
            .wrapping_sub(held.investment)
            .wrapping_add(report.investment);
        match self.latest.map(|latest| latest.period.year()) {
            Some(year) if period.year() < year => {}
            Some(year) if period.year() == year => {
                self.year_energy_kgce = self
                    .year_energy_kgce
                    .wrapping_sub(held.energy_kgce)
                    .wrapping_add(report.energy_kgce);
                self.year_value_added = self
                    .year_value_added
                    .wrapping_sub(held.value_added)
                    .wrapping_add(report.value_added);
            }
            // A later year than any reported: this is its first report.
            _ => {
                self.year_energy_kgce = report.energy_kgce;
                self.year_value_added = report.value_added;
            }
        }
        if self.latest.is_none_or(|latest| period >= latest.period) {
            self.latest = Some(LatestReport {
                period,
                physical_progress: report.physical_progress,
            });
        }
    }
}

/// A project as stored: its snapshot and the sums of its reports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProjectRecord {
    pub snapshot: ProjectSnapshot,
    pub reports: ReportSums,
}

impl ProjectRecord {
    /// Applies a snapshot to what is held (if anything); `None` when it is
    /// not newer than the held one.
    pub fn with_snapshot(held: Option<&ProjectRecord>, snapshot: &ProjectSnapshot) -> Option<Self> {
        match held {
            Some(held) if held.snapshot.revision >= snapshot.revision => None,
            held => Some(ProjectRecord {
                snapshot: snapshot.clone(),
                reports: held.map(|held| held.reports).unwrap_or_default(),
            }),
        }
    }

    /// Applies a report revision over `held`, the month's stored report;
    /// `false` when it is not newer (the caller then keeps `held`).
    pub fn apply_report(
        &mut self,
        period: Period,
        held: Option<&ReportRecord>,
        report: &ReportRecord,
    ) -> bool {
        if held.is_some_and(|held| held.revision >= report.revision) {
            return false;
        }
        self.reports.replace(period, held, report);
        true
    }

    /// The year whose energy intensity is compared with the sector's: the
    /// year of the latest report.
    pub fn benchmark_year(&self) -> Option<i32> {
        self.reports.latest.map(|latest| latest.period.year())
    }

    /// What the rules measure.
    pub fn view(&self) -> ProjectView {
        let snapshot = &self.snapshot;
        let sums = &self.reports;
        ProjectView {
            status: snapshot.status,
            planned_investment: snapshot.planned_investment,
            planned_start: snapshot.planned_start,
            planned_end: snapshot.planned_end,
            cumulative_investment: sums.investment,
            physical_progress: sums.latest.map(|latest| latest.physical_progress),
            last_report: sums.latest.map(|latest| latest.period),
            unmet_milestones: snapshot
                .milestones
                .iter()
                .filter(|m| !m.met)
                .map(|m| m.due)
                .collect(),
            energy_intensity: (sums.year_value_added > 0)
                .then(|| sums.year_energy_kgce as f64 / sums.year_value_added as f64 * 10_000.0),
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
pub(crate) mod tests {
    use super::*;
    use time::macros::date;

    /// A project under construction, for tests.
    pub(crate) fn snapshot(revision: i64) -> ProjectSnapshot {
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

    /// A record and its months' reports, kept as the monitor keeps them.
    struct Stored {
        record: ProjectRecord,
        reports: BTreeMap<Period, ReportRecord>,
    }

    impl Stored {
        fn new(snapshot: &ProjectSnapshot) -> Self {
            Stored {
                record: ProjectRecord::with_snapshot(None, snapshot).unwrap(),
                reports: BTreeMap::new(),
            }
        }

        fn report(&mut self, period: &str, report: ReportRecord) -> bool {
            let period = Period::parse(period).unwrap();
            let applied = self
                .record
                .apply_report(period, self.reports.get(&period), &report);
            if applied {
                self.reports.insert(period, report);
            }
            applied
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
        let mut stored = Stored::new(&snapshot(3));
        assert!(stored.report("2026-03", report(1, 100, 0, 0)));
        assert!(!stored.report("2026-03", report(1, 999, 0, 0)), "a repeat");
        assert!(stored.report("2026-03", report(2, 150, 0, 0)), "a revision");
        assert_eq!(stored.record.view().cumulative_investment, 150);
        let record = ProjectRecord::with_snapshot(Some(&stored.record), &snapshot(4)).unwrap();
        assert_eq!(record.reports, stored.record.reports, "sums are kept");
    }

    #[test]
    fn the_view_sums_reports_and_reads_the_latest() {
        let mut stored = Stored::new(&snapshot(1));
        let view = stored.record.view();
        assert_eq!((view.last_report, view.physical_progress), (None, None));
        assert_eq!(view.energy_intensity, None);
        stored.report("2025-12", report(1, 100, 900, 1));
        stored.report("2026-02", report(3, 25, 10, 100));
        // A late report of an earlier month is not the latest.
        stored.report("2026-01", report(2, 50, 30, 100));
        let view = stored.record.view();
        assert_eq!(view.cumulative_investment, 175);
        assert_eq!(view.physical_progress, Some(30));
        assert_eq!(view.last_report, Period::parse("2026-02"));
        assert_eq!(view.unmet_milestones, [date!(2026 - 03 - 31)]);
        // Only the latest report's year: 40 kgce over 200 yuan.
        assert_eq!(view.energy_intensity, Some(2_000.0));
        assert_eq!(stored.record.benchmark_year(), Some(2026));
        // A revision of last year's month changes the total, not the year.
        stored.report("2025-12", report(4, 10, 5, 5));
        let view = stored.record.view();
        assert_eq!(view.cumulative_investment, 85);
        assert_eq!(view.energy_intensity, Some(2_000.0));
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
