//! One project as the indicator service remembers it: a [`LedgerEntry`]
//! holds the project's facts and the latest revision of each of its
//! monthly reports, so that applying an event reads and writes one value.
//!
//! The cube is a sum over entries ([`LedgerEntry::contribution`]), so it
//! needs no table of its own: the service adds up the entries at start and
//! then keeps the cube current with the deltas each event returns. The
//! invariant between the two, checked by the property tests: the cube after
//! any events equals the sum of the contributions of the entries they left.

use std::collections::BTreeMap;

use jilin_domain::Period;
use serde::{Deserialize, Serialize};

use super::cube::Deltas;
use super::ledger::{self, Fact, Known, LedgerError, Outcome, ProjectFacts, ReportFacts};

/// A project's facts and its reports, by month.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub facts: ProjectFacts,
    pub reports: BTreeMap<Period, ReportFacts>,
}

impl LedgerEntry {
    /// Applies `fact` to its project's entry (`None` for a project not seen
    /// before, which the fact then creates). Returns the cells the fact
    /// changes, or `None` when it tells nothing new and the entry is left
    /// as it was. On error the entry is unchanged.
    pub fn apply(
        entry: &mut Option<LedgerEntry>,
        fact: &Fact,
    ) -> Result<Option<Deltas>, LedgerError> {
        let Outcome {
            project,
            report,
            deltas,
        } = ledger::apply_fact(&Held(entry.as_ref()), fact)?;
        if project.is_none() && report.is_none() {
            return Ok(None);
        }
        let mut changed = match (entry.take(), project) {
            (Some(held), None) => held,
            (Some(held), Some(facts)) => LedgerEntry { facts, ..held },
            (None, facts) => LedgerEntry {
                facts: facts.expect("apply_fact makes an unknown project known"),
                reports: BTreeMap::new(),
            },
        };
        if let Some((period, facts)) = report {
            changed.reports.insert(period, facts);
        }
        *entry = Some(changed);
        Ok(Some(deltas))
    }

    /// Everything this project adds to the cube: its plan and status
    /// counts, and its reports, all in its current sector and region.
    pub fn contribution(&self) -> Deltas {
        let mut deltas = self.facts.footprint();
        if let Some(combo) = self.facts.combo() {
            for (period, report) in &self.reports {
                deltas.add_cell(*period, combo, &report.cell(), 1);
            }
        }
        deltas
    }
}

/// What is known of one project, as the ledger reads it.
struct Held<'a>(Option<&'a LedgerEntry>);

impl Known for Held<'_> {
    type Error = LedgerError;

    fn project(&self, _id: &str) -> Result<Option<ProjectFacts>, LedgerError> {
        Ok(self.0.map(|entry| entry.facts.clone()))
    }

    fn report(&self, _id: &str, period: Period) -> Result<Option<ReportFacts>, LedgerError> {
        Ok(self.0.and_then(|entry| entry.reports.get(&period).copied()))
    }

    fn reports_of(&self, _id: &str) -> Result<Vec<(Period, ReportFacts)>, LedgerError> {
        Ok(self.0.map_or_else(Vec::new, |entry| {
            entry.reports.iter().map(|(p, r)| (*p, *r)).collect()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::cube::Cube;
    use crate::domain::ledger::ProjectSnapshot;

    /// Months are data here: nothing reads a clock, so a past year is as
    /// good as any and holds on every date.
    fn month(text: &str) -> Period {
        Period::parse(text).unwrap()
    }

    fn snapshot(revision: i64, sector: &str, status: usize, at: &str) -> ProjectSnapshot {
        ProjectSnapshot {
            id: "p1".into(),
            revision,
            sector: sector.into(),
            region: "220100".into(),
            planned_investment: 1200,
            planned_start: month("2019-01"),
            planned_end: month("2019-12"),
            status,
            month: month(at),
        }
    }

    fn report(revision: i64, at: &str, output: i64) -> Fact {
        Fact::Report {
            project: snapshot(1, "automobile", 2, "2019-01"),
            period: month(at),
            report: ReportFacts {
                revision,
                measures: [1, output, 3, 4, 5, 6, 7],
            },
        }
    }

    /// The sum of what each fact returned, and the entry's contribution.
    fn applied(facts: &[Fact]) -> (Option<LedgerEntry>, Cube) {
        let mut entry = None;
        let mut cube = Cube::new();
        for fact in facts {
            if let Some(deltas) = LedgerEntry::apply(&mut entry, fact).unwrap() {
                cube.apply(&deltas);
            }
        }
        (entry, cube)
    }

    fn contributed(entry: &LedgerEntry) -> Cube {
        let mut cube = Cube::new();
        cube.apply(&entry.contribution());
        cube
    }

    #[test]
    fn the_deltas_of_every_fact_add_up_to_the_contribution() {
        let (entry, cube) = applied(&[
            Fact::Project(snapshot(1, "automobile", 1, "2019-01")),
            report(1, "2019-01", 70),
            report(1, "2019-02", 80),
            report(2, "2019-01", 50),
            Fact::Project(snapshot(2, "automobile", 2, "2019-03")),
            Fact::Project(snapshot(3, "biotech", 2, "2019-04")),
        ]);
        let entry = entry.unwrap();
        assert_eq!(entry.reports.len(), 2);
        assert_eq!(entry.reports[&month("2019-01")].revision, 2);
        assert_eq!(entry.facts.sector, "biotech");
        assert_eq!(cube, contributed(&entry));
    }

    #[test]
    fn a_fact_that_tells_nothing_new_changes_nothing() {
        let (entry, _) = applied(&[report(2, "2019-01", 70)]);
        let mut entry = entry;
        let before = entry.clone();
        assert_eq!(
            LedgerEntry::apply(&mut entry, &report(1, "2019-01", 10)).unwrap(),
            None
        );
        assert_eq!(entry, before);
    }

    #[test]
    fn a_refused_fact_leaves_the_entry_as_it_was() {
        let (mut entry, _) = applied(&[report(1, "2019-01", 70)]);
        let before = entry.clone();
        let unknown = Fact::Project(snapshot(2, "shipbuilding", 2, "2019-02"));
        assert!(LedgerEntry::apply(&mut entry, &unknown).is_err());
        assert_eq!(entry, before);
    }
}
