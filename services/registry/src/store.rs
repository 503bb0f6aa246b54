//! The registry's tables and their keys, and the read-only queries over
//! them. Writes go through [`crate::service`], one transaction per use case.

use std::fmt::Write;

use jilin_store::{Layout, Store, StoreError, Table};
use serde::{Deserialize, Serialize};

use crate::domain::{HistoryEntry, Period, ProgressReport, Project};

pub const PROJECTS: &str = "projects";
pub const REPORTS: &str = "reports";
pub const HISTORY: &str = "history";
pub const REQUESTS: &str = "requests";

/// The registry's store: its tables, and the format this build writes.
pub const LAYOUT: Layout = Layout {
    kind: "registry",
    // 2: compact values (MessagePack); a format 1 store (JSON) is upgraded on open.
    version: 2,
    upgrades_from: 1,
    tables: &[PROJECTS, REPORTS, HISTORY, REQUESTS],
};

/// The result a request id produced, returned again on a retry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum RequestOutcome {
    Project(Project),
    Report(ProgressReport),
    /// A BatchReportProgress: its reports, in the order of its requests.
    Batch(Vec<ProgressReport>),
}

impl RequestOutcome {
    /// When the change was made.
    pub fn time(&self) -> time::OffsetDateTime {
        match self {
            RequestOutcome::Project(project) => project.create_time,
            RequestOutcome::Report(report) => report.submit_time,
            RequestOutcome::Batch(reports) => reports
                .first()
                .map_or(time::OffsetDateTime::UNIX_EPOCH, |report| {
                    report.submit_time
                }),
        }
    }
}

/// Handles on every table of the registry.
#[derive(Clone)]
pub struct Tables {
    pub store: Store,
    /// key: project id
    pub projects: Table<Project>,
    /// key: `{project id}/{YYYY-MM}`
    pub reports: Table<ProgressReport>,
    /// key: `{project id}/{revision:020}` for project changes, then
    /// `/{submit nanos:020}/{period}` appended for reports, so a listing by
    /// key is in time order.
    pub history: Table<HistoryEntry>,
    /// key: `create/{request id}`, `report/{project id}/{request id}` or
    /// `batch/{request id}`
    pub requests: Table<RequestOutcome>,
}

impl Tables {
    pub fn open(store: Store) -> Result<Self, StoreError> {
        Ok(Self {
            projects: store.table(PROJECTS)?,
            reports: store.table(REPORTS)?,
            history: store.table(HISTORY)?,
            requests: store.table(REQUESTS)?,
            store,
        })
    }

    /// A checksum of every table and the outbox: equal before and after a
    /// call means the call changed nothing.
    pub fn fingerprint(&self) -> Result<Vec<u64>, StoreError> {
        Ok(vec![
            self.projects.fingerprint()?,
            self.reports.fingerprint()?,
            self.history.fingerprint()?,
            self.requests.fingerprint()?,
            self.store.outbox_last_sequence()?,
        ])
    }

    pub fn all_projects(&self) -> Result<Vec<Project>, StoreError> {
        Ok(self
            .projects
            .scan_prefix("")?
            .into_iter()
            .map(|(_, project)| project)
            .collect())
    }
}

pub fn report_key(project_id: &str, period: Period) -> String {
    format!("{project_id}/{period}")
}

pub fn history_key(project_id: &str, revision: i64) -> String {
    format!("{project_id}/{revision:020}")
}

pub fn report_history_key(project_id: &str, revision: i64, report: &ProgressReport) -> String {
    // The report's own revision keeps two submissions at the same instant
    // (a fixed clock, or a coarse one) from overwriting each other.
    let mut key = history_key(project_id, revision);
    // Writing to a String cannot fail.
    let _ = write!(
        key,
        "/{:020}/{}/{:010}",
        report.submit_time.unix_timestamp_nanos(),
        report.period,
        report.revision
    );
    key
}

pub fn create_request_key(request_id: &str) -> String {
    format!("create/{request_id}")
}

pub fn report_request_key(project_id: &str, request_id: &str) -> String {
    format!("report/{project_id}/{request_id}")
}

pub fn batch_request_key(request_id: &str) -> String {
    format!("batch/{request_id}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::report::Measures;

    /// Stored keys must not change: the history of an existing store is
    /// listed by them, in time order.
    #[test]
    fn a_report_history_key_is_the_change_key_then_time_period_and_revision() {
        let report = ProgressReport {
            project_id: "p1".into(),
            period: Period::parse("2026-03").unwrap(),
            measures: Measures::default(),
            physical_progress_percent: 40,
            revision: 2,
            submit_time: time::macros::datetime!(2026-04-01 00:00:01.5 UTC),
        };
        assert_eq!(
            report_history_key("p1", 7, &report),
            "p1/00000000000000000007/01775001601500000000/2026-03/0000000002"
        );
    }
}
