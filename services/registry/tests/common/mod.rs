//! Test harness: starts the real registry on 127.0.0.1:0 with its own temp
//! data dir against its own real nats-server, and talks to it over gRPC as
//! any client would.

#![allow(dead_code, unused_imports)]

use std::time::{Duration, Instant};

use jilin_bus::async_nats;
use jilin_proto::registry::v1 as pb;
use jilin_registry::{Config, RunningRegistry};
use jilin_runtime::CancellationToken;
use jilin_testkit::NatsServer;
use pb::registry_service_client::RegistryServiceClient;
use tonic::transport::Channel;

pub use tonic::Code;

pub struct TestApp {
    pub nats: NatsServer,
    pub data: tempfile::TempDir,
    pub registry: Option<RunningRegistry>,
    pub client: RegistryServiceClient<Channel>,
    /// What the test changed in the configuration (kept for restarts).
    adjust: fn(&mut Config),
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_on(tempfile::tempdir().expect("temp data dir")).await
    }

    /// Starts the registry on what `data` already holds (its store in
    /// `data/registry`).
    pub async fn spawn_on(data: tempfile::TempDir) -> Self {
        Self::start(data, |_| {}).await
    }

    /// As [`Self::spawn`], with `adjust` applied to the configuration.
    pub async fn spawn_with(adjust: fn(&mut Config)) -> Self {
        Self::start(tempfile::tempdir().expect("temp data dir"), adjust).await
    }

    async fn start(data: tempfile::TempDir, adjust: fn(&mut Config)) -> Self {
        let nats = NatsServer::start().await;
        let registry = start_registry(&nats, &data, adjust).await;
        let client = connect(&registry).await;
        Self {
            nats,
            data,
            registry: Some(registry),
            client,
            adjust,
        }
    }

    pub fn running(&self) -> &RunningRegistry {
        self.registry.as_ref().expect("the registry is running")
    }

    pub fn fingerprint(&self) -> Vec<u64> {
        self.running().state_fingerprint()
    }

    /// Stops the service gracefully and starts it again on the same data dir.
    pub async fn restart(&mut self) {
        let running = self.registry.take().expect("running");
        running.shutdown().await.expect("clean shutdown");
        let registry = start_registry(&self.nats, &self.data, self.adjust).await;
        self.client = connect(&registry).await;
        self.registry = Some(registry);
    }

    /// A JetStream context on the test's nats-server.
    pub async fn jetstream(&self) -> async_nats::jetstream::Context {
        let client = async_nats::connect(self.nats.url()).await.expect("connect");
        async_nats::jetstream::new(client)
    }

    /// Waits until the stream holds `count` messages and returns them all,
    /// in stream order. Fails if more than `count` arrive.
    pub async fn stream_messages(
        &self,
        count: u64,
    ) -> Vec<async_nats::jetstream::message::StreamMessage> {
        let jetstream = self.jetstream().await;
        let deadline = Instant::now() + Duration::from_secs(20);
        let stream = loop {
            match jetstream.get_stream("JILIN_REGISTRY").await {
                Ok(stream) => break stream,
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                Err(err) => panic!("stream JILIN_REGISTRY never appeared: {err}"),
            }
        };
        loop {
            let info = stream.get_info().await.expect("stream info");
            if info.state.messages >= count {
                assert_eq!(info.state.messages, count, "more events than changes");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "expected {count} events, stream has {}",
                info.state.messages
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Give a straggler the chance to show up and fail the count check.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let info = stream.get_info().await.expect("stream info");
        assert_eq!(info.state.messages, count, "more events than changes");
        let mut messages = Vec::new();
        for sequence in info.state.first_sequence..=info.state.last_sequence {
            messages.push(
                stream
                    .get_raw_message(sequence)
                    .await
                    .expect("read message"),
            );
        }
        messages
    }
}

async fn start_registry(
    nats: &NatsServer,
    data: &tempfile::TempDir,
    adjust: fn(&mut Config),
) -> RunningRegistry {
    let mut config = Config::new(
        "127.0.0.1:0".parse().unwrap(),
        data.path().join("registry"),
        nats.url(),
    );
    config.clock = jilin_testkit::TEST_NOW.parse().unwrap();
    config.auth = jilin_runtime::AuthArgs::insecure();
    config.tls = jilin_runtime::TlsArgs::plaintext();
    config.deploy.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    adjust(&mut config);
    jilin_registry::start(&config, CancellationToken::new())
        .await
        .expect("registry starts")
}

async fn connect(registry: &RunningRegistry) -> RegistryServiceClient<Channel> {
    RegistryServiceClient::connect(format!("http://{}", registry.addr()))
        .await
        .expect("connect to the registry")
}

/// A valid project in Changchun's automobile sector.
pub fn sample_project() -> pb::Project {
    pb::Project {
        display_name: "FAW Hongqi body shop".into(),
        description: "New body shop for the H-series".into(),
        sector: "automobile".into(),
        region_code: "220100".into(),
        agency: "changchun-drc".into(),
        tags: vec!["changjitu".into()],
        planned_investment_yuan: 2_400_000_000,
        planned_start_date: "2025-03-01".into(),
        planned_end_date: "2027-06-30".into(),
        milestones: vec![pb::Milestone {
            title: "Steel structure topped out".into(),
            due_date: "2026-05-31".into(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

pub fn sample_report(period: &str) -> pb::ProgressReport {
    pb::ProgressReport {
        period: period.into(),
        investment_completed_yuan: 80_000_000,
        output_value_yuan: 0,
        value_added_yuan: 0,
        energy_kgce: 15_000,
        employment: 420,
        rd_spend_yuan: 1_000_000,
        export_value_yuan: 0,
        physical_progress_percent: 30,
        ..Default::default()
    }
}

impl TestApp {
    pub async fn create(&mut self, id: &str, project: pb::Project) -> pb::Project {
        self.client
            .create_project(pb::CreateProjectRequest {
                project: Some(project),
                project_id: id.into(),
                request_id: String::new(),
            })
            .await
            .expect("create project")
            .into_inner()
    }

    pub async fn transition(
        &mut self,
        name: &str,
        status: pb::project::Status,
    ) -> Result<pb::Project, tonic::Status> {
        self.client
            .transition_project(pb::TransitionProjectRequest {
                name: name.into(),
                status: status as i32,
                reason: format!("move to {}", status.as_str_name()),
                ..Default::default()
            })
            .await
            .map(|response| response.into_inner())
    }

    /// Creates a project and moves it to UNDER_CONSTRUCTION.
    pub async fn project_under_construction(&mut self, id: &str) -> pb::Project {
        let created = self.create(id, sample_project()).await;
        self.transition(&created.name, pb::project::Status::Approved)
            .await
            .unwrap();
        self.transition(&created.name, pb::project::Status::UnderConstruction)
            .await
            .unwrap()
    }

    pub async fn report(
        &mut self,
        parent: &str,
        report: pb::ProgressReport,
        request_id: &str,
    ) -> Result<pb::ProgressReport, tonic::Status> {
        self.client
            .report_progress(pb::ReportProgressRequest {
                parent: parent.into(),
                report: Some(report),
                request_id: request_id.into(),
            })
            .await
            .map(|response| response.into_inner())
    }
}

/// The field paths of the BadRequest violations in an error status.
pub fn violated_fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    status
        .get_details_bad_request()
        .map(|bad| bad.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

/// The ErrorInfo reason of an error status.
pub fn reason(status: &tonic::Status) -> String {
    use tonic_types::StatusExt;
    status
        .get_details_error_info()
        .map(|info| info.reason)
        .unwrap_or_default()
}
