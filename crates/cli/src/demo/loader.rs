//! Loading the demo through the registry's public gRPC API only, in time
//! order: every project is created, then month after month each project
//! makes that month's changes and reports (projects in parallel within a
//! month), with a progress bar. [`feed`] goes on with the following months
//! one at a time, as if on an accelerated clock. Before each month the
//! caller's `on_month` runs (the demo moves the risk clock to its first day:
//! the month before is then complete), so
//! the alerts of the history carry the history's dates. Every project is
//! written by its own agency's reporter ([`AgencyCredentials`]).

use std::time::Duration;

use futures::{StreamExt, TryStreamExt, stream};
use indicatif::{ProgressBar, ProgressStyle};
use jilin_domain::Period;
use jilin_proto::registry::v1 as registry;
use registry::registry_service_client::RegistryServiceClient;
use tonic::transport::Channel;

use super::generator::{DemoProject, portfolio};
use crate::identity::AgencyCredentials;

type RegistryClient = RegistryServiceClient<Channel>;

/// Projects loaded at the same time.
const PARALLEL: usize = 8;

/// What to generate and how much of it is history.
#[derive(Clone, Debug)]
pub struct DemoPlan {
    pub seed: u64,
    pub projects: usize,
    /// First month of history.
    pub first: Period,
    /// Last month loaded at once; later months are fed live.
    pub loaded_until: Period,
    /// Last month fed.
    pub until: Period,
}

impl DemoPlan {
    pub fn portfolio(&self) -> Vec<DemoProject> {
        portfolio(self.seed, self.projects, self.first, self.loaded_until)
    }
}

/// Creates every project, then makes every change and report up to
/// `until` month by month, from the earliest approval on (the plants that
/// existed before `first` come with their whole history, so none of them
/// looks stalled); returns the number of calls made. A registry that
/// already holds projects is left alone (returns 0).
pub async fn load_history(
    client: &RegistryClient,
    credentials: &AgencyCredentials,
    projects: &[DemoProject],
    until: Period,
    show_progress: bool,
    mut on_month: impl FnMut(Period),
) -> Result<usize, tonic::Status> {
    let Some(start) = projects.iter().map(|p| p.approved).min() else {
        return Ok(0);
    };
    let any_reporter = &projects[0].draft.agency;
    let existing = client
        .clone()
        .list_projects(credentials.request(
            any_reporter,
            registry::ListProjectsRequest {
                page_size: 1,
                ..Default::default()
            },
        ))
        .await?
        .into_inner();
    if !existing.projects.is_empty() {
        return Ok(0);
    }
    let bar = if show_progress {
        let bar = ProgressBar::new(start.months_until(until).max(0) as u64 + 1);
        bar.set_style(
            ProgressStyle::with_template(
                "loading demo {bar:40} {pos}/{len} months {msg} {elapsed}",
            )
            .expect("a valid template"),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    stream::iter(projects.iter().cloned())
        .map(|project| {
            let mut client = client.clone();
            let request = credentials.request(
                &project.draft.agency,
                registry::CreateProjectRequest {
                    project: Some(project.draft.clone()),
                    project_id: project.id.clone(),
                    request_id: format!("demo-{}", project.id),
                },
            );
            async move { client.create_project(request).await }
        })
        .buffer_unordered(PARALLEL)
        .try_collect::<Vec<_>>()
        .await?;
    let mut calls = projects.len();
    let mut month = start;
    while month <= until {
        bar.set_message(month.to_string());
        on_month(month);
        calls += submit_all(client, credentials, projects, month).await?;
        bar.inc(1);
        month = month.next().expect("in range");
    }
    bar.finish_and_clear();
    Ok(calls)
}

/// One month of every project approved by then, in parallel.
async fn submit_all(
    client: &RegistryClient,
    credentials: &AgencyCredentials,
    projects: &[DemoProject],
    month: Period,
) -> Result<usize, tonic::Status> {
    let due: Vec<DemoProject> = projects
        .iter()
        .filter(|p| p.approved <= month)
        .cloned()
        .collect();
    let calls: Vec<usize> = stream::iter(due)
        .map(|project| {
            let mut client = client.clone();
            async move { submit_month(&mut client, credentials, &project, month).await }
        })
        .buffer_unordered(PARALLEL)
        .try_collect()
        .await?;
    Ok(calls.iter().sum())
}

/// Sends one month of one project: its transitions, then its report.
async fn submit_month(
    client: &mut RegistryClient,
    credentials: &AgencyCredentials,
    project: &DemoProject,
    month: Period,
) -> Result<usize, tonic::Status> {
    let name = format!("projects/{}", project.id);
    let agency = &project.draft.agency;
    let this = project.month(month);
    for status in &this.transitions {
        client
            .transition_project(credentials.request(
                agency,
                registry::TransitionProjectRequest {
                    name: name.clone(),
                    status: (*status).into(),
                    reason: "demo timeline".into(),
                    etag: String::new(),
                    effective_date: format!("{month}-01"),
                },
            ))
            .await?;
    }
    let reported = usize::from(this.report.is_some());
    if let Some(report) = this.report.clone() {
        client
            .report_progress(credentials.request(
                agency,
                registry::ReportProgressRequest {
                    parent: name,
                    report: Some(report),
                    request_id: format!("demo-{}-{month}", project.id),
                },
            ))
            .await?;
    }
    Ok(this.transitions.len() + reported)
}

/// Feeds the months after `from` up to `until`, one every `pace`, calling
/// `on_month` before each month's changes.
pub async fn feed(
    client: &RegistryClient,
    credentials: &AgencyCredentials,
    projects: &[DemoProject],
    from: Period,
    until: Period,
    pace: Duration,
    mut on_month: impl FnMut(Period),
) -> Result<(), tonic::Status> {
    let mut month = from;
    while month < until {
        tokio::time::sleep(pace).await;
        month = month.next().expect("in range");
        on_month(month);
        submit_all(client, credentials, projects, month).await?;
        tracing::info!(%month, "demo month reported");
    }
    Ok(())
}
