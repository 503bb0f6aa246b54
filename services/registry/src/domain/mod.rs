//! The registry's domain: projects, their life cycle, progress reports and
//! the catalog, as plain Rust values and pure functions (no I/O, no tonic,
//! no store). Everything here is unit-tested beside the code.

pub mod access;
mod fields;
pub mod filter;
pub mod index;
pub mod lifecycle;
pub mod listing;
pub mod project;
pub mod report;

pub use jilin_domain::{catalog, period, violations};

pub use period::Period;
pub use project::{Milestone, MilestoneStatus, Project, ProjectDraft, Status};
pub use report::{Measures, ProgressReport, ReportDraft};
pub use violations::FieldViolation;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// What a history entry records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    Created,
    Updated,
    Transitioned,
    ReportSubmitted,
    ReportRevised,
}

/// One change of a project, kept forever.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// The project revision after this change.
    pub revision: i64,
    #[serde(with = "jilin_domain::timestamp")]
    pub time: OffsetDateTime,
    pub actor: String,
    pub action: Action,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub from_status: Option<Status>,
    #[serde(default)]
    pub to_status: Option<Status>,
    #[serde(default)]
    pub changed_fields: Vec<String>,
    /// For reports: period and report revision.
    #[serde(default)]
    pub report: Option<(Period, i64)>,
}

impl HistoryEntry {
    /// An entry with no reason, status change, fields or report; callers
    /// fill in what their kind of change records.
    pub fn new(revision: i64, time: OffsetDateTime, actor: &str, action: Action) -> Self {
        Self {
            revision,
            time,
            actor: actor.to_owned(),
            action,
            reason: String::new(),
            from_status: None,
            to_status: None,
            changed_fields: Vec::new(),
            report: None,
        }
    }
}
