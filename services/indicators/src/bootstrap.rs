//! Catching up from the registry itself when JILIN_REGISTRY no longer holds
//! every event (its oldest ones aged out or were purged): on a fresh or
//! rebuilt store, every project and report is read over gRPC and applied as
//! it stands now, then the stream is replayed on top. Events older than
//! what the registry returned are stale by revision and change nothing, so
//! nothing is counted twice. What is lost is only the status history
//! before the oldest event still in the stream (each project's current
//! status counts from its last change).

use std::time::Duration;

use jilin_bus::{REGISTRY_STREAM, async_nats};
use jilin_proto::registry::v1 as registry;
use jilin_runtime::CancellationToken;
use registry::registry_service_client::RegistryServiceClient;
use tonic::transport::{Channel, Endpoint};

use crate::domain::ledger::Fact;
use crate::ingest::{Ingest, report_facts, snapshot};
use crate::store::Tables;

/// Deadline of each registry call.
const CALL_DEADLINE: Duration = Duration::from_secs(10);
/// Pause before retrying an unavailable registry.
const RETRY_DELAY: Duration = Duration::from_secs(1);
const PAGE: i32 = 1000;
/// Facts applied per store transaction.
const BATCH: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error("registry call failed: {0}")]
    Registry(#[from] tonic::Status),
    #[error("bad registry address: {0}")]
    Address(#[from] tonic::transport::Error),
    #[error("the registry sent an unusable project: {0}")]
    Unusable(String),
    #[error(transparent)]
    Ingest(#[from] crate::ingest::IngestError),
    #[error("stopped by shutdown")]
    Shutdown,
}

/// Whether a bootstrap is needed: nothing applied yet, and the stream's
/// first message is no longer its first event.
pub async fn needed(client: &async_nats::Client, tables: &Tables) -> Result<bool, String> {
    if !tables.applied.is_empty() {
        return Ok(false);
    }
    let jetstream = async_nats::jetstream::new(client.clone());
    let mut stream = match jetstream.get_stream(REGISTRY_STREAM.name).await {
        Ok(stream) => stream,
        Err(err) => {
            use async_nats::jetstream::context::GetStreamErrorKind;
            return match err.kind() {
                GetStreamErrorKind::JetStream(_) => Ok(false),
                _ => Err(err.to_string()),
            };
        }
    };
    let info = stream.info().await.map_err(|e| e.to_string())?;
    Ok(info.state.first_sequence > 1)
}

/// Applies every project and report the registry holds now. Retries
/// while the registry is unavailable; returns the number of facts applied.
pub async fn from_registry(
    registry_url: &str,
    ingest: &Ingest,
    shutdown: &CancellationToken,
) -> Result<usize, BootstrapError> {
    let channel = Endpoint::from_shared(registry_url.to_owned())?
        .connect_timeout(CALL_DEADLINE)
        .connect_lazy();
    let mut client = RegistryServiceClient::new(channel);
    let mut facts = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = registry::ListProjectsRequest {
            page_size: PAGE,
            page_token: page_token.clone(),
            ..Default::default()
        };
        let page = call(shutdown, || {
            let mut client = client.clone();
            let request = request.clone();
            async move { client.list_projects(deadline(request)).await }
        })
        .await?;
        for project in &page.projects {
            facts.extend(project_facts(&mut client, project, shutdown).await?);
        }
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let applied = facts.len();
    for chunk in facts.chunks(BATCH) {
        ingest.apply_batch(chunk).await?;
    }
    tracing::info!(facts = applied, "bootstrapped from the registry");
    Ok(applied)
}

/// The project as it stands and each of its reports, as facts with
/// synthetic event ids.
async fn project_facts(
    client: &mut RegistryServiceClient<Channel>,
    project: &registry::Project,
    shutdown: &CancellationToken,
) -> Result<Vec<(String, Fact)>, BootstrapError> {
    let snapshot = snapshot(project).map_err(BootstrapError::Unusable)?;
    let id = snapshot.id.clone();
    let mut facts = vec![(
        format!("bootstrap:{id}:r{}", snapshot.revision),
        Fact::Project(snapshot.clone()),
    )];
    let mut page_token = String::new();
    loop {
        let request = registry::ListProgressReportsRequest {
            parent: project.name.clone(),
            page_size: PAGE,
            page_token: page_token.clone(),
        };
        let page = call(shutdown, || {
            let mut client = client.clone();
            let request = request.clone();
            async move { client.list_progress_reports(deadline(request)).await }
        })
        .await?;
        for report in &page.reports {
            let Some(period) = jilin_domain::Period::parse(&report.period) else {
                return Err(BootstrapError::Unusable(format!(
                    "report period {}",
                    report.period
                )));
            };
            facts.push((
                format!("bootstrap:{id}:{period}:v{}", report.revision),
                Fact::Report {
                    project: snapshot.clone(),
                    period,
                    report: report_facts(report),
                },
            ));
        }
        if page.next_page_token.is_empty() {
            return Ok(facts);
        }
        page_token = page.next_page_token;
    }
}

fn deadline<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(CALL_DEADLINE);
    request
}

/// Runs a call, retrying only while the registry is UNAVAILABLE.
async fn call<T, F, Fut>(shutdown: &CancellationToken, mut attempt: F) -> Result<T, BootstrapError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
{
    loop {
        match attempt().await {
            Ok(response) => return Ok(response.into_inner()),
            Err(status) if status.code() == tonic::Code::Unavailable => {
                tracing::warn!(error = %status, "registry unavailable; retrying");
                tokio::select! {
                    _ = shutdown.cancelled() => return Err(BootstrapError::Shutdown),
                    _ = tokio::time::sleep(RETRY_DELAY) => {}
                }
            }
            Err(status) => return Err(status.into()),
        }
    }
}
