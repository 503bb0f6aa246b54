//! Test harness: a real nats-server per test, the risk service started
//! in-process on 127.0.0.1:0 with its own temp data dir and a fixed clock,
//! registry and indicator events published straight onto their streams as
//! those services would, and the risk events read back from JILIN_RISK.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use jilin_bus::async_nats;
use jilin_bus::{INDICATORS_STREAM, REGISTRY_STREAM, RISK_STREAM};
use jilin_proto::Name;
use jilin_proto::events::v1 as events;
use jilin_proto::indicators::v1 as indicators;
use jilin_proto::registry::v1 as registry;
use jilin_proto::risk::v1 as pb;
use jilin_risk::{Config, RunningRisk};
use jilin_runtime::CancellationToken;
use jilin_runtime::ClockSetting;
use jilin_testkit::NatsServer;
use jilin_testkit::bus::{TestEvent, publish, wait_consumed};
use prost::Message;
use tonic::transport::Channel;

pub mod delivery;
pub mod hook;

pub use tonic::Code;

pub type RiskClient = pb::risk_service_client::RiskServiceClient<Channel>;

/// How long a test waits for the system to settle before failing.
pub const PATIENCE: Duration = Duration::from_secs(60);
/// The clock every test starts at.
pub const NOW: &str = "2026-07-01";

pub struct TestRisk {
    pub nats: NatsServer,
    pub data: tempfile::TempDir,
    pub config: Config,
    pub risk: Option<RunningRisk>,
    pub client: RiskClient,
}

impl TestRisk {
    /// NATS and the risk service with the clock fixed at [`NOW`]; the
    /// timer is slow, so evaluations happen on events and `evaluate_now`.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// As [`Self::spawn`], with `adjust` applied to the configuration.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let nats = NatsServer::start().await;
        let data = tempfile::tempdir().expect("temp data dir");
        let mut config = Config::new(
            "127.0.0.1:0".parse().unwrap(),
            data.path().join("risk"),
            nats.url(),
        );
        config.clock = NOW.parse().unwrap();
        config.auth = jilin_runtime::AuthArgs::insecure();
        config.tls = jilin_runtime::TlsArgs::plaintext();
        config.evaluation_interval = Duration::from_secs(3600);
        // Nothing answers here: benchmarks stay unknown unless a test
        // starts the indicator service and points at it.
        config.indicators_url = jilin_testkit::NOWHERE.into();
        config.registry_url = jilin_testkit::NOWHERE.into();
        adjust(&mut config);
        let risk = start(&config).await;
        let client = connect(&risk).await;
        Self {
            nats,
            data,
            config,
            risk: Some(risk),
            client,
        }
    }

    pub fn running(&self) -> &RunningRisk {
        self.risk.as_ref().expect("the service is running")
    }

    /// Stops the service gracefully and starts it again.
    pub async fn restart(&mut self) {
        if let Some(running) = self.risk.take() {
            running.shutdown().await.expect("clean shutdown");
        }
        let risk = start(&self.config).await;
        self.client = connect(&risk).await;
        self.risk = Some(risk);
    }

    pub fn set_clock(&self, date: &str) {
        let setting: ClockSetting = date.parse().expect("a date");
        self.running().clock().set(setting);
    }

    pub async fn nats_client(&self) -> async_nats::Client {
        async_nats::connect(self.nats.url()).await.expect("connect")
    }

    /// Publishes registry events and waits until the risk service applied them.
    pub async fn registry(&self, events: &[TestEvent], dedup_header: bool) {
        let client = self.nats_client().await;
        publish(
            &client,
            &REGISTRY_STREAM,
            "jilin/registry",
            events,
            dedup_header,
        )
        .await;
        wait_consumed(&client, REGISTRY_STREAM.name, "jilin-risk", PATIENCE).await;
    }

    /// Publishes indicator values and waits until they are applied.
    pub async fn indicator_values(&self, values: &[indicators::IndicatorValueChange]) {
        let events: Vec<TestEvent> = values.iter().map(value_event).collect();
        let client = self.nats_client().await;
        publish(
            &client,
            &INDICATORS_STREAM,
            "jilin/indicators",
            &events,
            true,
        )
        .await;
        wait_consumed(&client, INDICATORS_STREAM.name, "jilin-risk", PATIENCE).await;
    }

    /// The alert of `rule` for `subject`, if there is one.
    pub async fn alert(&mut self, rule: &str, subject: &str) -> Option<pb::Alert> {
        let name = format!("alerts/{rule}:{}", subject.replace('/', ":"));
        match self.client.get_alert(pb::GetAlertRequest { name }).await {
            Ok(alert) => Some(alert.into_inner()),
            Err(status) if status.code() == Code::NotFound => None,
            Err(status) => panic!("GetAlert failed: {status}"),
        }
    }

    /// `(state, severity)` of an alert, `None` when there is none.
    pub async fn state(
        &mut self,
        rule: &str,
        subject: &str,
    ) -> Option<(pb::alert::State, pb::Severity)> {
        self.alert(rule, subject)
            .await
            .map(|alert| (alert.state(), alert.severity()))
    }

    /// Every event published on JILIN_RISK so far, once the outbox is empty.
    pub async fn risk_events(&self) -> Vec<(String, pb::AlertChange)> {
        let deadline = Instant::now() + PATIENCE;
        while self.running().pending_events() > 0 {
            assert!(Instant::now() < deadline, "the outbox never drained");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let jetstream = async_nats::jetstream::new(self.nats_client().await);
        let Ok(mut stream) = jetstream.get_stream(RISK_STREAM.name).await else {
            return Vec::new();
        };
        let state = stream.info().await.expect("stream info").state.clone();
        let mut published = Vec::new();
        for sequence in state.first_sequence..=state.last_sequence {
            if state.messages == 0 {
                break;
            }
            let message = stream.get_raw_message(sequence).await.expect("message");
            let event = events::AlertChanged::decode(message.payload).expect("AlertChanged");
            published.push((message.subject.to_string(), event.change.expect("change")));
        }
        published
    }

    /// The subjects of [`Self::risk_events`].
    pub async fn risk_subjects(&self) -> Vec<String> {
        self.risk_events()
            .await
            .into_iter()
            .map(|(subject, _)| subject)
            .collect()
    }
}

pub async fn start(config: &Config) -> RunningRisk {
    jilin_risk::start(config, CancellationToken::new())
        .await
        .expect("risk starts")
}

pub async fn connect(running: &RunningRisk) -> RiskClient {
    RiskClient::connect(format!("http://{}", running.addr()))
        .await
        .expect("connect to the risk service")
}

/// A project as the registry would publish it: automobile, Changchun.
pub fn project(id: &str, status: registry::project::Status) -> registry::Project {
    registry::Project {
        name: format!("projects/{id}"),
        display_name: format!("Project {id}"),
        sector: "automobile".into(),
        group: "pillar".into(),
        region_code: "220102".into(),
        agency: "jilin-drc".into(),
        planned_investment_yuan: 1_000_000,
        // 60 days: on 2026-07-01 exactly half has elapsed.
        planned_start_date: "2026-06-01".into(),
        planned_end_date: "2026-07-31".into(),
        status: status.into(),
        revision: 1,
        update_time: Some(prost_types::Timestamp::default()),
        ..Default::default()
    }
}

pub fn report(period: &str, investment: i64, progress: i32) -> registry::ProgressReport {
    registry::ProgressReport {
        name: String::new(),
        period: period.into(),
        investment_completed_yuan: investment,
        output_value_yuan: 4_000,
        value_added_yuan: 1_000,
        energy_kgce: 100,
        employment: 10,
        physical_progress_percent: progress,
        revision: 1,
        ..Default::default()
    }
}

fn event(
    id: String,
    subject: &str,
    event_type: String,
    resource: String,
    payload: Vec<u8>,
) -> TestEvent {
    TestEvent {
        id,
        subject: subject.into(),
        event_type,
        resource,
        payload,
    }
}

/// `ProjectCreated` for revision 1, `ProjectUpdated` after.
pub fn project_event(project: &registry::Project) -> TestEvent {
    let id = format!("{}:r{}", project.name, project.revision);
    if project.revision == 1 {
        let payload = events::ProjectCreated {
            project: Some(project.clone()),
            actor: "test".into(),
        };
        event(
            id,
            "jilin.registry.project.created",
            events::ProjectCreated::full_name(),
            project.name.clone(),
            payload.encode_to_vec(),
        )
    } else {
        let payload = events::ProjectUpdated {
            project: Some(project.clone()),
            ..Default::default()
        };
        event(
            id,
            "jilin.registry.project.updated",
            events::ProjectUpdated::full_name(),
            project.name.clone(),
            payload.encode_to_vec(),
        )
    }
}

pub fn report_event(project: &registry::Project, report: &registry::ProgressReport) -> TestEvent {
    let payload = events::ProgressReported {
        parent: project.name.clone(),
        report: Some(report.clone()),
        previous: None,
        project: Some(project.clone()),
        actor: "test".into(),
    };
    event(
        format!(
            "{}/reports/{}:v{}",
            project.name, report.period, report.revision
        ),
        "jilin.registry.report.submitted",
        events::ProgressReported::full_name(),
        project.name.clone(),
        payload.encode_to_vec(),
    )
}

/// A province-wide indicator value for one month.
pub fn value(
    indicator: &str,
    period: &str,
    value: f64,
    target: Option<f64>,
) -> indicators::IndicatorValueChange {
    indicators::IndicatorValueChange {
        name: format!("indicators/{indicator}"),
        period: period.into(),
        group_by: indicators::GroupBy::None.into(),
        group: String::new(),
        value: Some(value),
        target,
        revision: 1,
        ..Default::default()
    }
}

fn value_event(change: &indicators::IndicatorValueChange) -> TestEvent {
    let id = format!(
        "{}:{}:{}:{:?}",
        change.name, change.period, change.group, change.value
    );
    let payload = events::IndicatorValueChanged {
        change: Some(change.clone()),
    };
    event(
        id,
        &format!(
            "jilin.indicators.value.{}",
            change.name.trim_start_matches("indicators/")
        ),
        events::IndicatorValueChanged::full_name(),
        change.name.clone(),
        payload.encode_to_vec(),
    )
}
