//! Loading the demo through the registry's public gRPC API only: each
//! project is created, moved through its life cycle and reports month by
//! month (projects in parallel, each in order), with a progress bar.
//! Then [`feed`] brings the following months one at a time, as if on an
//! accelerated clock.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt, stream};
use indicatif::{ProgressBar, ProgressStyle};
use jilin_domain::Period;
use jilin_proto::registry::v1 as registry;
use registry::registry_service_client::RegistryServiceClient;
use tonic::transport::Channel;

use super::generator::{DemoProject, portfolio};

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

/// Creates every project and makes every change up to `until`, with the
/// reports from `first` on (older projects enter the history already
/// built); returns the number of calls made. A registry that already holds
/// projects is left alone (returns 0).
pub async fn load_history(
    client: &RegistryClient,
    projects: &[DemoProject],
    first: Period,
    until: Period,
    show_progress: bool,
) -> Result<usize, tonic::Status> {
    let existing = client
        .clone()
        .list_projects(registry::ListProjectsRequest {
            page_size: 1,
            ..Default::default()
        })
        .await?
        .into_inner();
    if !existing.projects.is_empty() {
        return Ok(0);
    }
    let bar = if show_progress {
        let bar = ProgressBar::new(projects.len() as u64);
        bar.set_style(
            ProgressStyle::with_template("loading demo {bar:40} {pos}/{len} projects {elapsed}")
                .expect("a valid template"),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let calls: Vec<usize> = stream::iter(projects.iter().cloned())
        .map(|project| {
            let mut client = client.clone();
            let bar = bar.clone();
            async move {
                let mut calls = 1;
                client
                    .create_project(registry::CreateProjectRequest {
                        project: Some(project.draft.clone()),
                        project_id: project.id.clone(),
                        request_id: format!("demo-{}", project.id),
                    })
                    .await?;
                let mut month = project.approved;
                while month <= until {
                    calls += submit_month(&mut client, &project, month, month >= first).await?;
                    month = month.next().expect("in range");
                }
                bar.inc(1);
                Ok::<_, tonic::Status>(calls)
            }
        })
        .buffer_unordered(PARALLEL)
        .try_collect()
        .await?;
    bar.finish_and_clear();
    Ok(calls.iter().sum())
}

/// Sends one month of one project: its transitions, then (if `report`)
/// its report.
async fn submit_month(
    client: &mut RegistryClient,
    project: &DemoProject,
    month: Period,
    report: bool,
) -> Result<usize, tonic::Status> {
    let name = format!("projects/{}", project.id);
    let this = project.month(month);
    for status in &this.transitions {
        client
            .transition_project(registry::TransitionProjectRequest {
                name: name.clone(),
                status: (*status).into(),
                reason: "demo timeline".into(),
                etag: String::new(),
                effective_date: format!("{month}-01"),
            })
            .await?;
    }
    let report = this.report.clone().filter(|_| report);
    let reported = usize::from(report.is_some());
    if let Some(report) = report {
        client
            .report_progress(registry::ReportProgressRequest {
                parent: name,
                report: Some(report),
                request_id: format!("demo-{}-{month}", project.id),
            })
            .await?;
    }
    Ok(this.transitions.len() + reported)
}

/// Feeds the months after `from` up to `until`, one every `pace`, calling
/// `on_month` before each month's reports (the demo moves the risk clock
/// to the end of that month).
pub async fn feed(
    client: &RegistryClient,
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
        let due: Vec<DemoProject> = projects
            .iter()
            .filter(|p| p.approved <= month)
            .cloned()
            .collect();
        stream::iter(due)
            .map(|project| {
                let mut client = client.clone();
                async move { submit_month(&mut client, &project, month, true).await }
            })
            .buffer_unordered(PARALLEL)
            .try_collect::<Vec<_>>()
            .await?;
        tracing::info!(%month, "demo month reported");
    }
    Ok(())
}
