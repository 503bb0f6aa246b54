//! Following the other services: `JILIN_REGISTRY` events become project
//! facts, `JILIN_INDICATORS` value events become indicator values; each
//! consumer batch is applied by the [`Monitor`] in one transaction with
//! its event ids, and acked after that commit.

use jilin_bus::{CloudEvent, HandlerError};
use jilin_domain::Period;
use jilin_proto::Name;
use jilin_proto::events::v1 as events;
use jilin_proto::registry::v1 as registry;
use prost::Message;
use time::Date;

use crate::domain::evaluate::IndicatorValue;
use crate::domain::measure::ProjectStatus;
use crate::domain::project::{MilestoneRecord, ProjectSnapshot, ReportRecord};
use crate::monitor::{Monitor, RegistryFact};

/// Decodes what it can; an event that can never apply is rejected for
/// good, a batch that cannot be stored is retried.
async fn handle<T, F, A, Fut>(
    events: Vec<CloudEvent>,
    decode: F,
    apply: A,
) -> Vec<Result<(), HandlerError>>
where
    F: Fn(&CloudEvent) -> Result<T, String>,
    A: FnOnce(Vec<(String, T)>) -> Fut,
    Fut: Future<Output = Result<(), jilin_store::StoreError>>,
{
    let mut results = Vec::with_capacity(events.len());
    let mut batch = Vec::new();
    for event in &events {
        match decode(event) {
            Ok(fact) => {
                batch.push((event.id.clone(), fact));
                results.push(Ok(()));
            }
            Err(reason) => results.push(Err(HandlerError::Reject(reason))),
        }
    }
    if batch.is_empty() {
        return results;
    }
    if let Err(err) = apply(batch).await {
        let reason = err.to_string();
        for result in results.iter_mut().filter(|r| r.is_ok()) {
            *result = Err(HandlerError::Retry(reason.clone()));
        }
    }
    results
}

/// The registry consumer's handler.
pub async fn handle_registry(
    monitor: &Monitor,
    events: Vec<CloudEvent>,
) -> Vec<Result<(), HandlerError>> {
    handle(
        events,
        |event| decode_registry(&event.event_type, &event.payload),
        |batch| async move { monitor.apply_registry(&batch).await.map(drop) },
    )
    .await
}

/// The indicator consumer's handler.
pub async fn handle_indicators(
    monitor: &Monitor,
    events: Vec<CloudEvent>,
) -> Vec<Result<(), HandlerError>> {
    handle(
        events,
        |event| decode_indicator(&event.event_type, &event.payload),
        |batch| async move { monitor.apply_indicator_values(&batch).await.map(drop) },
    )
    .await
}

pub fn decode_registry(event_type: &str, payload: &[u8]) -> Result<RegistryFact, String> {
    let change = jilin_proto::registry_change(event_type, payload)?;
    let bad = |err: String| format!("{event_type}: {err}");
    let project = snapshot(&change.project).map_err(bad)?;
    let Some(report) = change.report else {
        return Ok(RegistryFact::Project(project));
    };
    let period = Period::parse(&report.period).ok_or_else(|| bad("bad period".into()))?;
    Ok(RegistryFact::Report {
        project,
        period,
        report: report_record(&report),
    })
}

pub fn decode_indicator(event_type: &str, payload: &[u8]) -> Result<IndicatorValue, String> {
    let bad = |err: &dyn std::fmt::Display| format!("{event_type}: {err}");
    if event_type != events::IndicatorValueChanged::full_name() {
        return Err(bad(&"not an indicator value event"));
    }
    let event = events::IndicatorValueChanged::decode(payload).map_err(|e| bad(&e))?;
    let change = event.change.ok_or_else(|| bad(&"no change"))?;
    let indicator = change
        .name
        .strip_prefix("indicators/")
        .ok_or_else(|| bad(&"name is not indicators/{id}"))?;
    Ok(IndicatorValue {
        indicator: indicator.to_owned(),
        group: change.group,
        period: Period::parse(&change.period).ok_or_else(|| bad(&"bad period"))?,
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

fn date(text: &str) -> Result<Date, String> {
    Date::parse(
        text,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|_| format!("bad date {text:?}"))
}

fn status(value: i32) -> Result<ProjectStatus, String> {
    use registry::project::Status;
    Ok(
        match Status::try_from(value).map_err(|_| format!("bad status {value}"))? {
            Status::Proposed => ProjectStatus::Proposed,
            Status::Approved => ProjectStatus::Approved,
            Status::UnderConstruction => ProjectStatus::UnderConstruction,
            Status::Operating => ProjectStatus::Operating,
            Status::Suspended => ProjectStatus::Suspended,
            Status::Cancelled => ProjectStatus::Cancelled,
            Status::Unspecified => return Err("status unspecified".into()),
        },
    )
}

/// A registry project as the risk rules see it.
pub fn snapshot(project: &registry::Project) -> Result<ProjectSnapshot, String> {
    let id = project
        .name
        .strip_prefix("projects/")
        .ok_or("project name is not projects/{id}")?;
    let milestones = project
        .milestones
        .iter()
        .map(|m| {
            Ok(MilestoneRecord {
                due: date(&m.due_date)?,
                met: m.status == registry::milestone::Status::Met as i32,
            })
        })
        .collect::<Result<_, String>>()?;
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
        planned_start: date(&project.planned_start_date)?,
        planned_end: date(&project.planned_end_date)?,
        milestones,
    })
}
