//! The indicator service's part in following the registry ([`Follower`]):
//! each `JILIN_REGISTRY` event is decoded into a project snapshot (and
//! report) and applied to the project's facts and reports, with the months
//! it dirtied; `jilin_bus` commits each batch with its event ids in one
//! transaction and acks after it. The in-memory cube follows the commit.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

use jilin_bus::{Applier, CloudEvent, Follower, REGISTRY_STREAM};
use jilin_domain::Period;
use jilin_proto::EventError;
use jilin_proto::registry::v1 as registry;
use jilin_store::{StoreError, Tx};
use time::OffsetDateTime;
use tokio::sync::Notify;

use crate::domain::cube::{Cube, Deltas};
use crate::domain::ledger::{
    self, Fact, Known, LedgerError, ProjectFacts, ProjectSnapshot, ReportFacts,
};
use crate::store::{self, Tables};

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
    type Prepared = ();
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

    /// Nothing: a project's entry holds all that applying its events reads.
    fn prepare(&self, _facts: &[&Fact]) -> Result<(), IngestError> {
        Ok(())
    }

    /// Applies facts in order: each project's facts are read and written
    /// once per batch, each report that is newer than the one held is
    /// written under its own key; the months they change are marked dirty
    /// with a nonce. Returns the cells' deltas for the cube.
    fn apply(&self, tx: &Tx<'_>, _: &(), facts: &[&Fact]) -> Result<Deltas, IngestError> {
        let mut batch = InBatch::new(tx, &self.tables);
        let mut deltas = Deltas::new();
        for fact in facts {
            deltas.merge(&batch.apply(fact)?);
        }
        batch.write_projects()?;
        let nonce = crate::store::dirty_mark(&jilin_runtime::trace::current_traceparent(""));
        for period in deltas.periods() {
            tx.insert(&self.tables.dirty, &period.to_string(), &nonce)?;
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

/// What is known inside one batch's transaction: each project's facts,
/// read once and written back at the end of the batch if they changed;
/// reports, read and written in the transaction itself.
struct InBatch<'t, 'a, 'f> {
    tx: &'t Tx<'a>,
    tables: &'t Tables,
    projects: HashMap<&'f str, Option<ProjectFacts>>,
    changed: BTreeSet<&'f str>,
}

impl<'t, 'a, 'f> InBatch<'t, 'a, 'f> {
    fn new(tx: &'t Tx<'a>, tables: &'t Tables) -> Self {
        Self {
            tx,
            tables,
            projects: HashMap::new(),
            changed: BTreeSet::new(),
        }
    }

    /// Applies one fact; returns the cells it changes.
    fn apply(&mut self, fact: &'f Fact) -> Result<Deltas, IngestError> {
        let id = fact.project().id.as_str();
        if !self.projects.contains_key(id) {
            let held = self.tx.get(&self.tables.projects, id)?;
            self.projects.insert(id, held);
        }
        let outcome = ledger::apply_fact(&*self, fact)?;
        if let Some(facts) = outcome.project {
            self.projects.insert(id, Some(facts));
            self.changed.insert(id);
        }
        if let Some((period, report)) = outcome.report {
            let key = store::report_key(id, period);
            self.tx.insert(&self.tables.reports, &key, &report)?;
        }
        Ok(outcome.deltas)
    }

    /// Writes the facts of every project the batch changed.
    fn write_projects(self) -> Result<(), StoreError> {
        for id in self.changed {
            if let Some(Some(facts)) = self.projects.get(id) {
                self.tx.insert(&self.tables.projects, id, facts)?;
            }
        }
        Ok(())
    }
}

impl Known for InBatch<'_, '_, '_> {
    type Error = IngestError;

    fn project(&self, id: &str) -> Result<Option<ProjectFacts>, IngestError> {
        Ok(self.projects.get(id).cloned().flatten())
    }

    fn report(&self, id: &str, period: Period) -> Result<Option<ReportFacts>, IngestError> {
        let key = store::report_key(id, period);
        Ok(self.tx.get(&self.tables.reports, &key)?)
    }

    fn reports_of(&self, id: &str) -> Result<Vec<(Period, ReportFacts)>, IngestError> {
        let held = self
            .tx
            .scan_prefix(&self.tables.reports, &store::reports_prefix(id))?;
        Ok(held
            .into_iter()
            .filter_map(|(key, report)| Some((store::split_report_key(&key)?.1, report)))
            .collect())
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
