//! What each project contributes to the cube, and how a registry event
//! changes that contribution. Every function here returns the exact cell
//! deltas of one event: the cells of one report, or the cells of one
//! project's plan and status history; never a rescan of other projects.
//!
//! Order does not matter: a project's attributes come from the highest
//! revision seen, its status history from every revision seen, a report
//! from its highest revision; a repeated or older event changes nothing.
//! Everything a project contributes is attributed to its latest sector and
//! region, so moving a project moves its history.

use std::collections::BTreeMap;

use jilin_domain::{Period, prefecture_of};
use serde::{Deserialize, Serialize};

use super::cube::{Cell, Deltas};
use super::labels::{Combo, Measure, SLOTS, status_slot};

/// A project as an event shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct ProjectSnapshot {
    pub id: String,
    pub revision: i64,
    pub sector: String,
    /// GB/T 2260 code of the prefecture or of a county under it.
    pub region: String,
    pub planned_investment: i64,
    pub planned_start: Period,
    pub planned_end: Period,
    /// Index into `labels::STATUSES`.
    pub status: usize,
    /// The month of the change that produced this revision.
    pub month: Period,
}

/// What the service remembers about a project.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProjectFacts {
    pub revision: i64,
    pub sector: String,
    /// The prefecture code.
    pub region: String,
    pub planned_investment: i64,
    pub planned_start: Period,
    pub planned_end: Period,
    /// Revision → (month, status index), for every revision seen.
    pub timeline: BTreeMap<i64, (Period, usize)>,
}

/// The latest revision of one month's report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportFacts {
    pub revision: i64,
    /// In `Measure::REPORTED` order.
    pub measures: [i64; 7],
}

impl ReportFacts {
    /// This report's measures as a cell.
    pub fn cell(&self) -> Cell {
        let mut cell = [0; SLOTS];
        for (measure, value) in Measure::REPORTED.iter().zip(self.measures) {
            cell[measure.slot()] = value;
        }
        cell
    }
}

/// Why an event cannot be applied.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error(
        "project {id} has sector {sector:?} / region {region:?}, which the catalog does not know"
    )]
    UnknownCombo {
        id: String,
        sector: String,
        region: String,
    },
}

impl ProjectFacts {
    /// The cube coordinate everything of this project is attributed to.
    pub fn combo(&self) -> Option<Combo> {
        Combo::of(&self.sector, &self.region)
    }

    /// The plan and status-count cells of this project.
    pub fn footprint(&self) -> Deltas {
        let mut deltas = Deltas::new();
        let Some(combo) = self.combo() else {
            return deltas;
        };
        for (period, amount) in plan_spread(
            self.planned_investment,
            self.planned_start,
            self.planned_end,
        ) {
            deltas.add(period, combo, Measure::PlannedInvestment.slot(), amount);
        }
        for (period, status, change) in status_changes(&self.timeline) {
            deltas.add(period, combo, status_slot(status), change);
        }
        deltas
    }
}

/// Planned investment spread evenly over the planned months, start and end
/// month included; the remainder goes to the earliest months, so the parts
/// add up to the total exactly.
pub fn plan_spread(total: i64, start: Period, end: Period) -> Vec<(Period, i64)> {
    let months = i64::from(start.months_until(end).max(0)) + 1;
    let (base, remainder) = (total / months, total % months);
    (0..months)
        .filter_map(|i| {
            let period = start.add_months(i as i32)?;
            Some((period, base + i64::from(i < remainder)))
        })
        .collect()
}

/// Count changes along a status history, in revision order: +1 for the
/// first status in its month, then -1/+1 in the month of each change.
pub fn status_changes(timeline: &BTreeMap<i64, (Period, usize)>) -> Vec<(Period, usize, i64)> {
    let mut changes = Vec::new();
    let mut current: Option<usize> = None;
    for &(period, status) in timeline.values() {
        if current == Some(status) {
            continue;
        }
        if let Some(previous) = current {
            changes.push((period, previous, -1));
        }
        changes.push((period, status, 1));
        current = Some(status);
    }
    changes
}

/// A project's new facts and the cells that change with them.
#[derive(Clone, Debug, PartialEq)]
pub struct ProjectChange {
    pub facts: ProjectFacts,
    pub deltas: Deltas,
}

/// Refuses a snapshot whose sector or region the catalog does not know:
/// no later event can make it apply.
pub fn check(snapshot: &ProjectSnapshot) -> Result<(), LedgerError> {
    match Combo::of(&snapshot.sector, prefecture(&snapshot.region)) {
        Some(_) => Ok(()),
        None => Err(LedgerError::UnknownCombo {
            id: snapshot.id.clone(),
            sector: snapshot.sector.clone(),
            region: snapshot.region.clone(),
        }),
    }
}

/// Whether applying `snapshot` moves the project to another sector or
/// region, so that [`apply_snapshot`] needs the project's reports.
pub fn moves_project(current: Option<&ProjectFacts>, snapshot: &ProjectSnapshot) -> bool {
    current.is_some_and(|facts| snapshot.revision > facts.revision)
        && places_elsewhere(current, snapshot)
}

/// Whether `snapshot` puts a known project in another sector or region,
/// whatever its revision.
pub fn places_elsewhere(current: Option<&ProjectFacts>, snapshot: &ProjectSnapshot) -> bool {
    current.is_some_and(|facts| {
        snapshot.sector != facts.sector || prefecture(&snapshot.region) != facts.region
    })
}

fn prefecture(region: &str) -> &'static str {
    prefecture_of(region).map_or("", |r| r.code)
}

/// Applies a project snapshot. `reports` are the project's reports; they
/// are only read when the project moves (see [`moves_project`]). `None`
/// when the snapshot tells nothing new.
pub fn apply_snapshot(
    current: Option<&ProjectFacts>,
    snapshot: &ProjectSnapshot,
    reports: &[(Period, ReportFacts)],
) -> Result<Option<ProjectChange>, LedgerError> {
    check(snapshot)?;
    let region = prefecture(&snapshot.region);
    let newer = current.is_none_or(|facts| snapshot.revision > facts.revision);
    let mut facts = match current {
        Some(facts) if !newer => facts.clone(),
        _ => ProjectFacts {
            revision: snapshot.revision,
            sector: snapshot.sector.clone(),
            region: region.to_owned(),
            planned_investment: snapshot.planned_investment,
            planned_start: snapshot.planned_start,
            planned_end: snapshot.planned_end,
            timeline: current.map(|f| f.timeline.clone()).unwrap_or_default(),
        },
    };
    let known = facts.timeline.contains_key(&snapshot.revision);
    if !newer && known {
        return Ok(None);
    }
    facts
        .timeline
        .insert(snapshot.revision, (snapshot.month, snapshot.status));

    let mut deltas = facts.footprint();
    if let Some(current) = current {
        for ((period, combo), cell) in current.footprint().iter() {
            deltas.add_cell(*period, *combo, cell, -1);
        }
        if let (Some(from), Some(to)) = (current.combo(), facts.combo())
            && from != to
        {
            for (period, report) in reports {
                deltas.add_cell(*period, from, &report.cell(), -1);
                deltas.add_cell(*period, to, &report.cell(), 1);
            }
        }
    }
    Ok(Some(ProjectChange { facts, deltas }))
}

/// A registry event, as the indicators need it.
#[derive(Clone, Debug, PartialEq)]
pub enum Fact {
    Project(ProjectSnapshot),
    Report {
        project: ProjectSnapshot,
        period: Period,
        report: ReportFacts,
    },
}

impl Fact {
    pub fn project(&self) -> &ProjectSnapshot {
        match self {
            Fact::Project(project) | Fact::Report { project, .. } => project,
        }
    }
}

/// Read access to what is already known, wherever it is kept.
pub trait Known {
    type Error: From<LedgerError>;
    fn project(&self, id: &str) -> Result<Option<ProjectFacts>, Self::Error>;
    fn report(&self, id: &str, period: Period) -> Result<Option<ReportFacts>, Self::Error>;
    fn reports_of(&self, id: &str) -> Result<Vec<(Period, ReportFacts)>, Self::Error>;
}

/// What applying one fact changes: the project's facts, the report, and
/// the cells.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    pub project: Option<ProjectFacts>,
    pub report: Option<(Period, ReportFacts)>,
    pub deltas: Deltas,
}

/// Applies one fact to what is known: the project snapshot first (so a
/// report of an unknown project still lands), then the report.
pub fn apply_fact<K: Known>(known: &K, fact: &Fact) -> Result<Outcome, K::Error> {
    let snapshot = fact.project();
    let current = known.project(&snapshot.id)?;
    let reports = if moves_project(current.as_ref(), snapshot) {
        known.reports_of(&snapshot.id)?
    } else {
        Vec::new()
    };
    let mut outcome = Outcome::default();
    let facts = match apply_snapshot(current.as_ref(), snapshot, &reports)? {
        Some(change) => {
            outcome.deltas.merge(&change.deltas);
            outcome.project = Some(change.facts.clone());
            change.facts
        }
        None => current.expect("an unchanged project is a known one"),
    };
    if let Fact::Report { period, report, .. } = fact {
        let held = known.report(&snapshot.id, *period)?;
        if let Some(deltas) = apply_report(&facts, held.as_ref(), *period, report) {
            outcome.deltas.merge(&deltas);
            outcome.report = Some((*period, *report));
        }
    }
    Ok(outcome)
}

/// Applies a report revision to a known project: the delta of the new
/// values against the ones held. `None` when it is not newer.
pub fn apply_report(
    facts: &ProjectFacts,
    current: Option<&ReportFacts>,
    period: Period,
    report: &ReportFacts,
) -> Option<Deltas> {
    if current.is_some_and(|held| report.revision <= held.revision) {
        return None;
    }
    let combo = facts.combo()?;
    let mut deltas = Deltas::new();
    deltas.add_cell(period, combo, &report.cell(), 1);
    if let Some(held) = current {
        deltas.add_cell(period, combo, &held.cell(), -1);
    }
    Some(deltas)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::cube::{CellSource, Cube, combo_index};

    fn month(text: &str) -> Period {
        Period::parse(text).unwrap()
    }

    fn snapshot(
        revision: i64,
        sector: &str,
        region: &str,
        status: usize,
        at: &str,
    ) -> ProjectSnapshot {
        ProjectSnapshot {
            id: "p1".into(),
            revision,
            sector: sector.into(),
            region: region.into(),
            planned_investment: 1000,
            planned_start: month("2026-01"),
            planned_end: month("2026-03"),
            status,
            month: month(at),
        }
    }

    /// A project first seen with this snapshot.
    fn created(
        revision: i64,
        sector: &str,
        region: &str,
        status: usize,
        at: &str,
    ) -> ProjectChange {
        apply_snapshot(None, &snapshot(revision, sector, region, status, at), &[])
            .unwrap()
            .expect("a new project changes something")
    }

    fn report(revision: i64, output: i64) -> ReportFacts {
        ReportFacts {
            revision,
            measures: [0, output, 0, 0, 0, 0, 0],
        }
    }

    #[test]
    fn plans_spread_exactly() {
        let parts = plan_spread(1000, month("2026-01"), month("2026-03"));
        assert_eq!(
            parts.iter().map(|p| p.1).collect::<Vec<_>>(),
            [334, 333, 333]
        );
        assert_eq!(plan_spread(5, month("2026-01"), month("2026-01")).len(), 1);
    }

    #[test]
    fn status_history_becomes_count_changes() {
        let timeline = BTreeMap::from([
            (1, (month("2026-01"), 0)),
            (2, (month("2026-02"), 0)),
            (3, (month("2026-03"), 2)),
        ]);
        assert_eq!(
            status_changes(&timeline),
            [
                (month("2026-01"), 0, 1),
                (month("2026-03"), 0, -1),
                (month("2026-03"), 2, 1)
            ]
        );
    }

    #[test]
    fn stale_and_repeated_snapshots_change_nothing() {
        let first = created(2, "automobile", "220182", 1, "2026-01");
        assert_eq!(first.facts.region, "220100", "counties roll up");
        let again = apply_snapshot(
            Some(&first.facts),
            &snapshot(2, "automobile", "220100", 1, "2026-01"),
            &[],
        );
        assert_eq!(again, Ok(None));
        // An older revision arriving late only adds to the status history.
        let late = apply_snapshot(
            Some(&first.facts),
            &snapshot(1, "biotech", "220300", 0, "2025-12"),
            &[],
        )
        .unwrap()
        .unwrap();
        assert_eq!(late.facts.sector, "automobile");
        assert!(!moves_project(
            Some(&first.facts),
            &snapshot(1, "biotech", "220300", 0, "2025-12")
        ));
        assert!(moves_project(
            Some(&first.facts),
            &snapshot(3, "automobile", "220300", 0, "2026-02")
        ));
        assert_eq!(late.facts.timeline.len(), 2);
    }

    #[test]
    fn moving_a_project_moves_its_reports() {
        let created = created(1, "automobile", "220100", 2, "2026-01");
        let mut cube = Cube::new();
        cube.apply(&created.deltas);
        let jan = month("2026-01");
        let deltas = apply_report(&created.facts, None, jan, &report(1, 70)).unwrap();
        cube.apply(&deltas);

        let moved = apply_snapshot(
            Some(&created.facts),
            &snapshot(2, "biotech", "220300", 2, "2026-02"),
            &[(jan, report(1, 70))],
        )
        .unwrap()
        .unwrap();
        cube.apply(&moved.deltas);
        let output = cube.totals(&[Measure::OutputValue.slot()], None, month("2026-12"));
        let old = Combo::of("automobile", "220100").unwrap();
        let new = Combo::of("biotech", "220300").unwrap();
        assert_eq!(output[combo_index(old)], 0);
        assert_eq!(output[combo_index(new)], 70);
        let plan = cube.totals(&[Measure::PlannedInvestment.slot()], None, month("2026-12"));
        assert_eq!(plan[combo_index(new)], 1000);
        assert_eq!(
            cube.totals(&[status_slot(2)], None, month("2026-12"))[combo_index(new)],
            1
        );
    }

    #[test]
    fn revisions_apply_their_difference_once() {
        let created = created(1, "automobile", "220100", 2, "2026-01");
        let jan = month("2026-01");
        let first = report(1, 70);
        let second = report(2, 50);
        let delta = apply_report(&created.facts, Some(&first), jan, &second).unwrap();
        let combo = Combo::of("automobile", "220100").unwrap();
        let mut cube = Cube::new();
        cube.apply(&delta);
        assert_eq!(cube.get(jan, combo)[Measure::OutputValue.slot()], -20);
        assert_eq!(
            apply_report(&created.facts, Some(&second), jan, &first),
            None
        );
        assert_eq!(
            apply_report(&created.facts, Some(&second), jan, &second),
            None
        );
    }

    #[test]
    fn unknown_sectors_are_refused() {
        let err = apply_snapshot(
            None,
            &snapshot(1, "shipbuilding", "220100", 0, "2026-01"),
            &[],
        );
        assert!(matches!(err, Err(LedgerError::UnknownCombo { .. })));
    }
}
