//! Following the registry: each `JILIN_REGISTRY` event is decoded into a
//! project snapshot (and report), applied through the domain ledger, and
//! committed together with its id as applied and the months it dirtied, in
//! one transaction. The in-memory cube follows after the commit; the
//! consumer acks after that.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use jilin_bus::{CloudEvent, HandlerError};
use jilin_domain::Period;
use jilin_proto::registry::v1 as registry;
use jilin_store::StoreError;
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
    #[error("undecodable event: {0}")]
    Undecodable(String),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<IngestError> for HandlerError {
    fn from(err: IngestError) -> Self {
        match err {
            IngestError::Store(err) => HandlerError::Retry(err.to_string()),
            other => HandlerError::Reject(other.to_string()),
        }
    }
}

/// Applies registry events to the store and the in-memory cube.
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

    /// The consumer's handler: decodes a batch, refuses what can never
    /// apply, and applies the rest in one transaction.
    pub async fn handle(&self, events: Vec<CloudEvent>) -> Vec<Result<(), HandlerError>> {
        let mut results: Vec<Result<(), HandlerError>> = Vec::with_capacity(events.len());
        let mut batch = Vec::new();
        for event in &events {
            match decode(&event.event_type, &event.payload).and_then(|fact| {
                ledger::check(fact.project())?;
                Ok(fact)
            }) {
                Ok(fact) => {
                    batch.push((event.id.clone(), fact));
                    results.push(Ok(()));
                }
                Err(err) => results.push(Err(err.into())),
            }
        }
        if let Err(err) = self.apply_batch(&batch).await {
            let reason = err.to_string();
            for result in results.iter_mut().filter(|r| r.is_ok()) {
                *result = Err(HandlerError::Retry(reason.clone()));
            }
        }
        results
    }

    /// Applies one fact under its event id; returns whether anything
    /// changed. A repeated id or a stale revision changes nothing.
    pub async fn apply(&self, event_id: &str, fact: &Fact) -> Result<bool, IngestError> {
        self.apply_batch(&[(event_id.to_owned(), fact.clone())])
            .await
    }

    /// Applies facts in order, in one transaction, each under its event id;
    /// returns whether anything changed.
    pub async fn apply_batch(&self, batch: &[(String, Fact)]) -> Result<bool, IngestError> {
        if batch.is_empty() {
            return Ok(false);
        }
        let tables = &self.tables;
        let moving = self.reports_of_moving_projects(batch)?;
        let deltas = tables
            .store
            .write(|tx| -> Result<Deltas, IngestError> {
                let mut reports = moving.clone();
                let mut deltas = Deltas::new();
                for (event_id, fact) in batch {
                    if tx.get(&tables.applied, event_id)?.is_some() {
                        continue;
                    }
                    tx.insert(&tables.applied, event_id, &())?;
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
                        tx.insert(&tables.dirty, &period.to_string(), event_id)?;
                    }
                    deltas.merge(&outcome.deltas);
                }
                for ((period, combo), delta) in deltas.iter() {
                    write_cell(tables, tx, *period, *combo, delta)?;
                }
                Ok(deltas)
            })
            .await?;
        if deltas.is_empty() {
            return Ok(false);
        }
        self.cube
            .write()
            .expect("no panic while holding the cube")
            .apply(&deltas);
        self.changed.notify_one();
        Ok(true)
    }

    /// The stored reports of every project the batch may move to another
    /// sector or region. sled cannot iterate a tree inside a transaction
    /// over it, so they are read first; only this consumer writes projects
    /// and reports, one batch at a time, so they cannot change in between.
    /// A project moves only if some snapshot in the batch differs from
    /// what is stored.
    fn reports_of_moving_projects(
        &self,
        batch: &[(String, Fact)],
    ) -> Result<HashMap<String, BTreeMap<Period, ReportFacts>>, IngestError> {
        let mut reports = HashMap::new();
        for (_, fact) in batch {
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
    let change =
        jilin_proto::registry_change(event_type, payload).map_err(IngestError::Undecodable)?;
    let bad = |err: String| IngestError::Undecodable(format!("{event_type}: {err}"));
    let project = snapshot(&change.project).map_err(bad)?;
    let Some(report) = change.report else {
        return Ok(Fact::Project(project));
    };
    let period = Period::parse(&report.period).ok_or_else(|| bad("bad period".into()))?;
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
pub fn snapshot(project: &registry::Project) -> Result<ProjectSnapshot, String> {
    let id = project
        .name
        .strip_prefix("projects/")
        .ok_or("project name is not projects/{id}")?;
    let month_of_date = |date: &str| {
        date.get(..7)
            .and_then(Period::parse)
            .ok_or_else(|| format!("bad date {date:?}"))
    };
    let changed = project
        .update_time
        .or(project.create_time)
        .ok_or("project has no update_time")?;
    let changed = OffsetDateTime::from_unix_timestamp(changed.seconds)
        .map_err(|e| format!("bad update_time: {e}"))?;
    let status = usize::try_from(project.status - 1)
        .ok()
        .filter(|index| *index < crate::domain::labels::STATUSES.len())
        .ok_or_else(|| format!("bad status {}", project.status))?;
    Ok(ProjectSnapshot {
        id: id.to_owned(),
        revision: project.revision,
        sector: project.sector.clone(),
        region: project.region_code.clone(),
        planned_investment: project.planned_investment_yuan,
        planned_start: month_of_date(&project.planned_start_date)?,
        planned_end: month_of_date(&project.planned_end_date)?,
        status,
        month: Period::of_date(changed.date()),
    })
}
