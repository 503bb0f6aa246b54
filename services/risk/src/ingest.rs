//! The risk service's part in following the other services
//! ([`Follower`]s): `JILIN_REGISTRY` events become project facts,
//! `JILIN_INDICATORS` value events become indicator values; the
//! [`Monitor`] applies each batch inside the transaction `jilin_bus`
//! commits with its event ids, and the consumer acks after that commit.

use jilin_bus::{Applier, CloudEvent, Follower, INDICATORS_STREAM, REGISTRY_STREAM};
use jilin_domain::Period;
use jilin_proto::events::v1 as events;
use jilin_proto::registry::v1 as registry;
use jilin_proto::{EventError, Name};
use jilin_store::{StoreError, Tx};
use prost::Message;
use time::Date;

use crate::domain::evaluate::IndicatorValue;
use crate::domain::measure::ProjectStatus;
use crate::domain::project::{MilestoneRecord, ProjectSnapshot, ReportRecord};
use crate::monitor::{Context, Monitor, RegistryFact, Written};

/// The risk service's part in following `JILIN_REGISTRY`.
#[derive(Clone)]
pub struct RegistryFollower(pub Monitor);

/// The risk service's part in following `JILIN_INDICATORS` value events.
#[derive(Clone)]
pub struct IndicatorFollower(pub Monitor);

impl RegistryFollower {
    /// This follower behind an [`Applier`] of `JILIN_REGISTRY` events.
    pub fn applier(self) -> Result<Applier<Self>, StoreError> {
        Applier::new(self.0.tables().store.clone(), REGISTRY_STREAM.name, self)
    }
}

impl IndicatorFollower {
    /// This follower behind an [`Applier`] of `JILIN_INDICATORS` events.
    pub fn applier(self) -> Result<Applier<Self>, StoreError> {
        Applier::new(self.0.tables().store.clone(), INDICATORS_STREAM.name, self)
    }
}

impl Follower for RegistryFollower {
    type Fact = RegistryFact;
    type Prepared = Context;
    type Outcome = Written;
    type Rejection = EventError;
    type Error = StoreError;

    fn decode(&self, event: &CloudEvent) -> Result<RegistryFact, EventError> {
        decode_registry(&event.event_type, &event.payload)
    }

    fn prepare(&self, _: &[&RegistryFact]) -> Result<Context, StoreError> {
        Ok(self.0.context())
    }

    fn apply(
        &self,
        tx: &Tx<'_>,
        context: &Context,
        facts: &[&RegistryFact],
    ) -> Result<Written, StoreError> {
        self.0.apply_registry(tx, context, facts)
    }

    fn committed(&self, written: &Written) {
        self.0.committed(written)
    }
}

impl Follower for IndicatorFollower {
    type Fact = IndicatorValue;
    type Prepared = Context;
    type Outcome = Written;
    type Rejection = EventError;
    type Error = StoreError;

    fn decode(&self, event: &CloudEvent) -> Result<IndicatorValue, EventError> {
        decode_indicator(&event.event_type, &event.payload)
    }

    fn prepare(&self, _: &[&IndicatorValue]) -> Result<Context, StoreError> {
        Ok(self.0.context())
    }

    fn apply(
        &self,
        tx: &Tx<'_>,
        context: &Context,
        values: &[&IndicatorValue],
    ) -> Result<Written, StoreError> {
        self.0.apply_indicator_values(tx, context, values)
    }

    fn committed(&self, written: &Written) {
        self.0.committed(written)
    }
}

pub fn decode_registry(event_type: &str, payload: &[u8]) -> Result<RegistryFact, EventError> {
    let change = jilin_proto::registry_change(event_type, payload)?;
    let project = snapshot(&change.project)?;
    let Some(report) = change.report else {
        return Ok(RegistryFact::Project(project));
    };
    let period = Period::parse(&report.period)
        .ok_or_else(|| EventError::invalid("report.period", &report.period))?;
    Ok(RegistryFact::Report {
        project,
        period,
        report: report_record(&report),
    })
}

pub fn decode_indicator(event_type: &str, payload: &[u8]) -> Result<IndicatorValue, EventError> {
    if event_type != events::IndicatorValueChanged::full_name() {
        return Err(EventError::UnknownType(event_type.to_owned()));
    }
    let event =
        events::IndicatorValueChanged::decode(payload).map_err(|source| EventError::Payload {
            event_type: event_type.to_owned(),
            source,
        })?;
    let change = event.change.ok_or(EventError::Missing("change"))?;
    let indicator = change
        .name
        .strip_prefix("indicators/")
        .ok_or_else(|| EventError::invalid("change.name", &change.name))?;
    Ok(IndicatorValue {
        indicator: indicator.to_owned(),
        period: Period::parse(&change.period)
            .ok_or_else(|| EventError::invalid("change.period", &change.period))?,
        group: change.group,
        value: change.value,
        target: change.target,
    })
}

/// A registry report's figures the rules read.
pub fn report_record(report: &registry::ProgressReport) -> ReportRecord {
    ReportRecord {
        revision: report.revision,
        investment: report.investment_completed_yuan,
        value_added: report.value_added_yuan,
        energy_kgce: report.energy_kgce,
        physical_progress: report.physical_progress_percent,
    }
}

fn date(field: &'static str, text: &str) -> Result<Date, EventError> {
    Date::parse(
        text,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|_| EventError::invalid(field, text))
}

fn status(value: i32) -> Result<ProjectStatus, EventError> {
    use registry::project::Status;
    let invalid = || EventError::invalid("project.status", value);
    Ok(match Status::try_from(value).map_err(|_| invalid())? {
        Status::Proposed => ProjectStatus::Proposed,
        Status::Approved => ProjectStatus::Approved,
        Status::UnderConstruction => ProjectStatus::UnderConstruction,
        Status::Operating => ProjectStatus::Operating,
        Status::Suspended => ProjectStatus::Suspended,
        Status::Cancelled => ProjectStatus::Cancelled,
        Status::Unspecified => return Err(invalid()),
    })
}

/// A registry project as the risk rules see it.
pub fn snapshot(project: &registry::Project) -> Result<ProjectSnapshot, EventError> {
    let id = project
        .name
        .strip_prefix("projects/")
        .ok_or_else(|| EventError::invalid("project.name", &project.name))?;
    let milestones = project
        .milestones
        .iter()
        .map(|m| {
            Ok(MilestoneRecord {
                due: date("project.milestones.due_date", &m.due_date)?,
                met: m.status == registry::milestone::Status::Met as i32,
            })
        })
        .collect::<Result<_, EventError>>()?;
    Ok(ProjectSnapshot {
        id: id.to_owned(),
        revision: project.revision,
        display_name: project.display_name.clone(),
        status: status(project.status)?,
        sector: project.sector.clone(),
        group: project.group.clone(),
        region: project.region_code.clone(),
        agency: project.agency.clone(),
        planned_investment: project.planned_investment_yuan,
        planned_start: date("project.planned_start_date", &project.planned_start_date)?,
        planned_end: date("project.planned_end_date", &project.planned_end_date)?,
        milestones,
    })
}
