//! The ledger kept entirely in memory: the same [`LedgerEntry::apply`] the
//! service runs inside its store transactions, over plain maps. Used to
//! check the ledger against a naive recomputation and to measure replay
//! throughput without the disk.

use std::collections::{HashMap, HashSet};

use super::cube::Cube;
use super::entry::LedgerEntry;
use super::ledger::{Fact, LedgerError};

/// Applied event ids, each project's entry, and the cube.
#[derive(Clone, Debug, Default)]
pub struct InMemory {
    pub applied: HashSet<String>,
    pub projects: HashMap<String, LedgerEntry>,
    pub cube: Cube,
}

impl InMemory {
    /// Applies one event, once per id.
    pub fn apply(&mut self, event_id: &str, fact: &Fact) -> Result<(), LedgerError> {
        if !self.applied.insert(event_id.to_owned()) {
            return Ok(());
        }
        let id = &fact.project().id;
        let mut entry = self.projects.remove(id);
        let changed = LedgerEntry::apply(&mut entry, fact);
        if let Some(entry) = entry {
            self.projects.insert(id.clone(), entry);
        }
        if let Some(deltas) = changed? {
            self.cube.apply(&deltas);
        }
        Ok(())
    }

    /// The cube as the sum of every entry's contribution, as the service
    /// computes it at start.
    pub fn contributions(&self) -> Cube {
        let mut cube = Cube::new();
        for entry in self.projects.values() {
            cube.apply(&entry.contribution());
        }
        cube
    }
}
