//! The indicator service's part in following the registry ([`Follower`]):
//! each `JILIN_REGISTRY` event is decoded into a project snapshot (and
//! report) and applied through the domain ledger, with the months it
//! dirtied; `jilin_bus` commits each batch with its event ids in one
//! transaction and acks after it. The in-memory cube follows the commit.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use jilin_bus::{Applier, CloudEvent, Follower, REGISTRY_STREAM};
use jilin_domain::Period;
use jilin_proto::EventError;
use jilin_proto::registry::v1 as registry;
use jilin_store::{StoreError, Tx};
use time::OffsetDateTime;
use tokio::sync::Notify;

use crate::domain::cube::{Cube, Deltas};
use crate::domain::labels::{Combo, SLOTS};
use crate::domain::ledger::{
    self, Fact, Known, LedgerError, ProjectFacts, ProjectSnapshot, ReportFacts,
};
use crate::store::{StoredCell, Tables, cell_key, report_key};

/// The cube queries read, updated after each commit.
pub type SharedCube = Arc<RwLock<Cube>>;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Event(#[from] EventError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The stored reports of projects that move to another sector or region.
pub type MovingReports = HashMap<String, BTreeMap<Period, ReportFacts>>;

/// Applies registry events to the store and the in-memory cube: the
/// indicator service's part in following `JILIN_REGISTRY`.
#[derive(Clone)]
pub struct Ingest {
    tables: Tables,
    cube: SharedCube,
    changed: Arc<Notify>,
}

impl Ingest {
    pub fn new(tables: Tables, cube: SharedCube, changed: Arc<Notify>) -> Self {
        Self {
            tables,
            cube,
            changed,
        }
    }

    /// This follower behind an [`Applier`] of `JILIN_REGISTRY` events.
    pub fn applier(self) -> Result<Applier<Ingest>, StoreError> {
        Applier::new(self.tables.store.clone(), REGISTRY_STREAM.name, self)
    }
}

impl Follower for Ingest {
    type Fact = Fact;
    type Prepared = MovingReports;
    type Outcome = Deltas;
    type Rejection = IngestError;
    type Error = IngestError;

    /// A registry event as a ledger fact; one the ledger can never apply
    /// (an unknown sector or region) is rejected here.
    fn decode(&self, event: &CloudEvent) -> Result<Fact, IngestError> {
        let fact = decode(&event.event_type, &event.payload)?;
        ledger::check(fact.project())?;
        Ok(fact)
    }

    /// The stored reports of every project the batch may move to another
    /// sector or region. sled cannot iterate a tree inside a transaction
    /// over it, so they are read first; only this consumer writes projects
    /// and reports, one batch at a time, so they cannot change in between.
    /// A project moves only if some snapshot in the batch differs from
    /// what is stored.
    fn prepare(&self, facts: &[&Fact]) -> Result<MovingReports, IngestError> {
        let mut reports = HashMap::new();
        for fact in facts {
            let snapshot = fact.project();
            if reports.contains_key(&snapshot.id) {
                continue;
            }
            let stored = self.tables.projects.get(&snapshot.id)?;
            if ledger::places_elsewhere(stored.as_ref(), snapshot) {
                let held = self.tables.reports_of(&snapshot.id)?;
                reports.insert(snapshot.id.clone(), held.into_iter().collect());
            }
        }
        Ok(reports)
    }

    /// Applies facts in order through the ledger; the months they change
    /// are marked dirty with a nonce, and the cells take the sum of the
    /// deltas.
    fn apply(
        &self,
        tx: &Tx<'_>,
        moving: &MovingReports,
        facts: &[&Fact],
    ) -> Result<Deltas, IngestError> {
        let tables = &self.tables;
        let nonce = crate::store::dirty_mark(&jilin_runtime::trace::current_traceparent(""));
        let mut reports = moving.clone();
        let mut deltas = Deltas::new();
        for fact in facts {
            let id = &fact.project().id;
            let held: Vec<_> = reports
                .get(id)
                .map(|r| r.iter().map(|(p, f)| (*p, *f)).collect())
                .unwrap_or_default();
            let known = InTransaction {
                tables,
                tx,
                reports: &held,
            };
            let outcome = ledger::apply_fact(&known, fact)?;
            if let Some(project) = &outcome.project {
                tx.insert(&tables.projects, id, project)?;
            }
            if let Some((period, report)) = &outcome.report {
                tx.insert(&tables.reports, &report_key(id, *period), report)?;
                reports
                    .entry(id.clone())
                    .or_default()
                    .insert(*period, *report);
            }
            for period in outcome.deltas.periods() {
                tx.insert(&tables.dirty, &period.to_string(), &nonce)?;
            }
            deltas.merge(&outcome.deltas);
        }
        for ((period, combo), delta) in deltas.iter() {
            write_cell(tables, tx, *period, *combo, delta)?;
        }
        Ok(deltas)
    }

    /// The cube follows the store; the publisher is woken.
    fn committed(&self, deltas: &Deltas) {
        if deltas.is_empty() {
            return;
        }
        self.cube
            .write()
            .expect("no panic while holding the cube")
            .apply(deltas);
        self.changed.notify_one();
    }
}

/// What is known, read inside the applying transaction; a project's
/// reports come from the pre-read list plus those applied earlier in the
/// same batch.
struct InTransaction<'a, 'tx> {
    tables: &'a Tables,
    tx: &'a jilin_store::Tx<'tx>,
    reports: &'a [(Period, ReportFacts)],
}

impl Known for InTransaction<'_, '_> {
    type Error = IngestError;

    fn project(&self, id: &str) -> Result<Option<ProjectFacts>, IngestError> {
        Ok(self.tx.get(&self.tables.projects, id)?)
    }

    fn report(&self, id: &str, period: Period) -> Result<Option<ReportFacts>, IngestError> {
        Ok(self.tx.get(&self.tables.reports, &report_key(id, period))?)
    }

    fn reports_of(&self, _id: &str) -> Result<Vec<(Period, ReportFacts)>, IngestError> {
        Ok(self.reports.to_vec())
    }
}

fn write_cell(
    tables: &Tables,
    tx: &jilin_store::Tx<'_>,
    period: Period,
    combo: Combo,
    delta: &[i64; SLOTS],
) -> Result<(), StoreError> {
    let key = cell_key(period, combo);
    let mut slots = tx
        .get(&tables.cells, &key)?
        .map_or(vec![0; SLOTS], |cell| cell.slots);
    for (slot, amount) in slots.iter_mut().zip(delta) {
        *slot += amount;
    }
    if slots.iter().all(|&v| v == 0) {
        tx.remove(&tables.cells, &key)
    } else {
        let cell = StoredCell {
            period,
            sector: jilin_domain::SECTORS[combo.sector].code.to_owned(),
            region: jilin_domain::REGIONS[combo.region].code.to_owned(),
            slots,
        };
        tx.insert(&tables.cells, &key, &cell)
    }
}

/// Decodes a registry event by its `ce-type`.
pub fn decode(event_type: &str, payload: &[u8]) -> Result<Fact, IngestError> {
    let change = jilin_proto::registry_change(event_type, payload)?;
    let project = snapshot(&change.project)?;
    let Some(report) = change.report else {
        return Ok(Fact::Project(project));
    };
    let period = Period::parse(&report.period)
        .ok_or_else(|| EventError::invalid("report.period", &report.period))?;
    Ok(Fact::Report {
        project,
        period,
        report: report_facts(&report),
    })
}

/// A registry report's measures, in `Measure::REPORTED` order.
pub fn report_facts(report: &registry::ProgressReport) -> ReportFacts {
    ReportFacts {
        revision: report.revision,
        measures: [
            report.investment_completed_yuan,
            report.output_value_yuan,
            report.value_added_yuan,
            report.energy_kgce,
            report.employment,
            report.rd_spend_yuan,
            report.export_value_yuan,
        ],
    }
}

/// A registry project as a ledger snapshot.
pub fn snapshot(project: &registry::Project) -> Result<ProjectSnapshot, EventError> {
    let id = project
        .name
        .strip_prefix("projects/")
        .ok_or_else(|| EventError::invalid("project.name", &project.name))?;
    let month_of_date = |field, date: &str| {
        date.get(..7)
            .and_then(Period::parse)
            .ok_or_else(|| EventError::invalid(field, date))
    };
    let changed = project
        .update_time
        .or(project.create_time)
        .ok_or(EventError::Missing("project.update_time"))?;
    let changed = OffsetDateTime::from_unix_timestamp(changed.seconds)
        .map_err(|_| EventError::invalid("project.update_time", changed.seconds))?;
    let status = usize::try_from(project.status - 1)
        .ok()
        .filter(|index| *index < crate::domain::labels::STATUSES.len())
        .ok_or_else(|| EventError::invalid("project.status", project.status))?;
    Ok(ProjectSnapshot {
        id: id.to_owned(),
        revision: project.revision,
        sector: project.sector.clone(),
        region: project.region_code.clone(),
        planned_investment: project.planned_investment_yuan,
        planned_start: month_of_date("project.planned_start_date", &project.planned_start_date)?,
        planned_end: month_of_date("project.planned_end_date", &project.planned_end_date)?,
        status,
        month: Period::of_date(changed.date()),
    })
}
