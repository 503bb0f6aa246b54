//! The events the registry publishes, built as outbox entries inside the
//! transaction of the change they describe.
//!
//! Subjects: `jilin.registry.project.{created,updated,transitioned}` and
//! `jilin.registry.report.{submitted,revised}`; payloads are the
//! `jilin.events.v1` messages, `ce-type` their full protobuf name.

use jilin_auth::Principal;
use jilin_bus::StreamSpec;
use jilin_proto::Name;
use jilin_proto::events::v1 as events;
use jilin_store::OutboxEntry;
use prost::Message;
use time::OffsetDateTime;

use crate::convert::{project_to_proto, report_to_proto, status_to_proto};
use crate::domain::{ProgressReport, Project, Status};

/// The registry's stream.
pub const STREAM: StreamSpec = jilin_bus::REGISTRY_STREAM;

/// Request context carried into events.
#[derive(Clone, Debug)]
pub struct Origin {
    /// Who asks (the token's principal); its subject is the actor.
    pub principal: Principal,
    pub traceparent: String,
}

impl Origin {
    /// The actor recorded in history and events: the principal's subject.
    pub fn actor(&self) -> &str {
        &self.principal.subject
    }
}

fn entry<M: Message + Name>(
    subject: &str,
    resource: String,
    time: OffsetDateTime,
    origin: &Origin,
    payload: &M,
) -> OutboxEntry {
    OutboxEntry {
        id: uuid::Uuid::now_v7().to_string(),
        subject: subject.to_owned(),
        event_type: M::full_name(),
        resource,
        time: jilin_bus::event_time(time),
        payload: payload.encode_to_vec(),
        traceparent: origin.traceparent.clone(),
        principal: origin.actor().to_owned(),
    }
}

pub fn project_created(project: &Project, origin: &Origin) -> OutboxEntry {
    let payload = events::ProjectCreated {
        project: Some(project_to_proto(project)),
        actor: origin.actor().to_owned(),
    };
    entry(
        "jilin.registry.project.created",
        project.name(),
        project.update_time,
        origin,
        &payload,
    )
}

pub fn project_updated(
    previous: &Project,
    project: &Project,
    changed_fields: &[String],
    origin: &Origin,
) -> OutboxEntry {
    let payload = events::ProjectUpdated {
        project: Some(project_to_proto(project)),
        previous: Some(project_to_proto(previous)),
        changed_fields: changed_fields.to_vec(),
        actor: origin.actor().to_owned(),
    };
    entry(
        "jilin.registry.project.updated",
        project.name(),
        project.update_time,
        origin,
        &payload,
    )
}

pub fn project_transitioned(
    from: Status,
    project: &Project,
    reason: &str,
    origin: &Origin,
) -> OutboxEntry {
    let payload = events::ProjectTransitioned {
        project: Some(project_to_proto(project)),
        from_status: status_to_proto(from) as i32,
        to_status: status_to_proto(project.status) as i32,
        reason: reason.to_owned(),
        actor: origin.actor().to_owned(),
    };
    entry(
        "jilin.registry.project.transitioned",
        project.name(),
        project.update_time,
        origin,
        &payload,
    )
}

pub fn progress_reported(
    project: &Project,
    report: &ProgressReport,
    previous: Option<&ProgressReport>,
    origin: &Origin,
) -> OutboxEntry {
    let payload = events::ProgressReported {
        parent: project.name(),
        report: Some(report_to_proto(report)),
        previous: previous.map(report_to_proto),
        project: Some(project_to_proto(project)),
        actor: origin.actor().to_owned(),
    };
    let subject = if previous.is_some() {
        "jilin.registry.report.revised"
    } else {
        "jilin.registry.report.submitted"
    };
    entry(subject, report.name(), report.submit_time, origin, &payload)
}
