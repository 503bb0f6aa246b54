//! Calling another Jilin service: this service's own token and a deadline
//! on every call, retries only while the peer is UNAVAILABLE (any other
//! status is an answer), and a stop at shutdown. Also reading the registry's whole portfolio, which
//! the indicator and risk services need to catch up when JILIN_REGISTRY
//! no longer holds every event ([`RegistrySnapshot`]).

use std::future::Future;
use std::time::Duration;

use jilin_bus::{CloudEvent, REGISTRY_STREAM, SnapshotError, SnapshotSource};
use jilin_proto::Name;
use jilin_proto::events::v1 as events;
use jilin_proto::registry::v1 as registry;
use prost::Message;
use registry::registry_service_client::RegistryServiceClient;
use tokio_util::sync::CancellationToken;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::Channel;

use crate::ClientTls;

/// Deadline of each call to a peer.
pub const CALL_DEADLINE: Duration = Duration::from_secs(10);
/// Pause before retrying an unavailable peer.
const RETRY_DELAY: Duration = Duration::from_secs(1);
/// Page size when reading the registry.
const PAGE: i32 = 1000;

#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error(transparent)]
    Endpoint(#[from] crate::TlsError),
    #[error("this service's token cannot be sent as a header")]
    Token,
    #[error("peer call failed: {0}")]
    Status(#[from] tonic::Status),
    #[error("stopped by shutdown")]
    Shutdown,
}

/// Another service as this one calls it: a channel that connects on first
/// use (so a peer that is down does not stop a service from starting),
/// and this service's own token, if it has one.
#[derive(Clone)]
pub struct Peer {
    channel: Channel,
    authorization: Option<MetadataValue<Ascii>>,
}

impl Peer {
    /// The service at `url`, called with `token` over `tls`.
    pub fn new(url: &str, token: Option<&str>, tls: &ClientTls) -> Result<Self, PeerError> {
        let channel = tls
            .endpoint(url)?
            .connect_timeout(CALL_DEADLINE)
            .connect_lazy();
        let authorization = token
            .map(|token| MetadataValue::try_from(format!("Bearer {token}")))
            .transpose()
            .map_err(|_| PeerError::Token)?;
        Ok(Self {
            channel,
            authorization,
        })
    }

    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// A request carrying the token and [`CALL_DEADLINE`].
    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request.set_timeout(CALL_DEADLINE);
        if let Some(authorization) = &self.authorization {
            request
                .metadata_mut()
                .insert("authorization", authorization.clone());
        }
        request
    }
}

/// Runs a call, retrying while the peer is UNAVAILABLE, until shutdown.
pub async fn call_retrying<T, F, Fut>(
    peer: &str,
    shutdown: &CancellationToken,
    mut attempt: F,
) -> Result<T, PeerError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
{
    loop {
        match attempt().await {
            Ok(response) => return Ok(response.into_inner()),
            Err(status) if status.code() == tonic::Code::Unavailable => {
                tracing::warn!(%peer, error = %status, "peer unavailable; retrying");
                tokio::select! {
                    _ = shutdown.cancelled() => return Err(PeerError::Shutdown),
                    _ = tokio::time::sleep(RETRY_DELAY) => {}
                }
            }
            Err(status) => return Err(status.into()),
        }
    }
}

/// One project as the registry holds it now, with all its reports.
pub struct PortfolioEntry {
    pub project: registry::Project,
    pub reports: Vec<registry::ProgressReport>,
}

/// Every project and report the registry holds now, page by page.
pub async fn registry_portfolio(
    registry: &Peer,
    shutdown: &CancellationToken,
) -> Result<Vec<PortfolioEntry>, PeerError> {
    let client = RegistryServiceClient::new(registry.channel());
    let mut entries = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = registry::ListProjectsRequest {
            page_size: PAGE,
            page_token: page_token.clone(),
            ..Default::default()
        };
        let page = call_retrying("registry", shutdown, || {
            let mut client = client.clone();
            let request = registry.request(request.clone());
            async move { client.list_projects(request).await }
        })
        .await?;
        for project in page.projects {
            let reports = project_reports(registry, &client, &project.name, shutdown).await?;
            entries.push(PortfolioEntry { project, reports });
        }
        if page.next_page_token.is_empty() {
            return Ok(entries);
        }
        page_token = page.next_page_token;
    }
}

async fn project_reports(
    registry: &Peer,
    client: &RegistryServiceClient<Channel>,
    project: &str,
    shutdown: &CancellationToken,
) -> Result<Vec<registry::ProgressReport>, PeerError> {
    let mut reports = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = registry::ListProgressReportsRequest {
            parent: project.to_owned(),
            page_size: PAGE,
            page_token: page_token.clone(),
        };
        let page = call_retrying("registry", shutdown, || {
            let mut client = client.clone();
            let request = registry.request(request.clone());
            async move { client.list_progress_reports(request).await }
        })
        .await?;
        reports.extend(page.reports);
        if page.next_page_token.is_empty() {
            return Ok(reports);
        }
        page_token = page.next_page_token;
    }
}

/// The registry as it stands now, as registry events with synthetic ids
/// (`bootstrap:…`): a `ProjectCreated` per project with the project as it
/// is, a `ProgressReported` per report with its latest revision. Events
/// still in the stream that are older carry lower revisions, so followers
/// that apply this first count nothing twice.
pub struct RegistrySnapshot {
    pub registry: Peer,
}

impl SnapshotSource for RegistrySnapshot {
    async fn snapshot(
        &self,
        shutdown: &CancellationToken,
    ) -> Result<Vec<CloudEvent>, SnapshotError> {
        let portfolio = registry_portfolio(&self.registry, shutdown).await?;
        Ok(portfolio.iter().flat_map(snapshot_events).collect())
    }
}

fn snapshot_events(entry: &PortfolioEntry) -> Vec<CloudEvent> {
    let project = &entry.project;
    let id = project.name.trim_start_matches("projects/");
    let event = |id: String, event_type: String, subject: &str, payload: Vec<u8>| CloudEvent {
        id,
        event_type,
        source: REGISTRY_STREAM.source.to_owned(),
        subject: subject.to_owned(),
        time: String::new(),
        payload: payload.into(),
        sequence: 0,
        traceparent: String::new(),
    };
    let created = events::ProjectCreated {
        project: Some(project.clone()),
        actor: String::new(),
    };
    let mut snapshot = vec![event(
        format!("bootstrap:{id}:r{}", project.revision),
        events::ProjectCreated::full_name(),
        &project.name,
        created.encode_to_vec(),
    )];
    for report in &entry.reports {
        let reported = events::ProgressReported {
            parent: project.name.clone(),
            report: Some(report.clone()),
            previous: None,
            project: Some(project.clone()),
            actor: String::new(),
        };
        snapshot.push(event(
            format!("bootstrap:{id}:{}:v{}", report.period, report.revision),
            events::ProgressReported::full_name(),
            &report.name,
            reported.encode_to_vec(),
        ));
    }
    snapshot
}
