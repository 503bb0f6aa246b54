//! The ledger kept entirely in memory: the same [`ledger::apply_fact`] the
//! service runs inside its store transactions, over plain maps. Used to
//! check the ledger against a naive recomputation and to measure replay
//! throughput without the disk.

use std::collections::{BTreeMap, HashMap, HashSet};

use jilin_domain::Period;

use super::cube::Cube;
use super::ledger::{self, Fact, Known, LedgerError, ProjectFacts, ReportFacts};

/// Applied event ids, project and report facts, and the cube.
#[derive(Clone, Debug, Default)]
pub struct InMemory {
    pub applied: HashSet<String>,
    pub projects: HashMap<String, ProjectFacts>,
    pub reports: BTreeMap<(String, Period), ReportFacts>,
    pub cube: Cube,
}

impl Known for InMemory {
    type Error = LedgerError;

    fn project(&self, id: &str) -> Result<Option<ProjectFacts>, LedgerError> {
        Ok(self.projects.get(id).cloned())
    }

    fn report(&self, id: &str, period: Period) -> Result<Option<ReportFacts>, LedgerError> {
        Ok(self.reports.get(&(id.to_owned(), period)).copied())
    }

    fn reports_of(&self, id: &str) -> Result<Vec<(Period, ReportFacts)>, LedgerError> {
        Ok(self
            .reports
            .iter()
            .filter(|((project, _), _)| project == id)
            .map(|((_, period), report)| (*period, *report))
            .collect())
    }
}

impl InMemory {
    /// Applies one event, once per id.
    pub fn apply(&mut self, event_id: &str, fact: &Fact) -> Result<(), LedgerError> {
        if !self.applied.insert(event_id.to_owned()) {
            return Ok(());
        }
        let outcome = ledger::apply_fact(self, fact)?;
        let id = &fact.project().id;
        if let Some(project) = outcome.project {
            self.projects.insert(id.clone(), project);
        }
        if let Some((period, report)) = outcome.report {
            self.reports.insert((id.clone(), period), report);
        }
        self.cube.apply(&outcome.deltas);
        Ok(())
    }
}
