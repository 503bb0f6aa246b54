//! Test harness: a real nats-server per test, the indicator service started
//! in-process on 127.0.0.1:0 with its own temp data dir (and the registry
//! where a test needs it), gRPC clients, and helpers to publish registry
//! events straight onto JILIN_REGISTRY.

#![allow(dead_code, unused_imports)]

pub mod portfolio;
pub mod registry_api;

use std::path::Path;
use std::time::{Duration, Instant};

use jilin_bus::async_nats::{self, HeaderMap};
use jilin_bus::{REGISTRY_STREAM, ensure_stream};
use jilin_indicators::domain::ledger::{Fact, ProjectSnapshot};
use jilin_indicators::{Config, RunningIndicators};
use jilin_proto::Name;
use jilin_proto::events::v1 as events;
use jilin_proto::indicators::v1 as pb;
use jilin_proto::registry::v1 as registry;
use jilin_runtime::CancellationToken;
use jilin_testkit::NatsServer;
use jilin_testkit::bus::TestEvent;
use pb::indicator_service_client::IndicatorServiceClient;
use portfolio::Event;
use prost::Message;
use tonic::transport::Channel;

pub use tonic::Code;

/// How long a test waits for the system to settle before failing.
pub const PATIENCE: Duration = Duration::from_secs(60);

pub struct TestSystem {
    pub nats: NatsServer,
    pub data: tempfile::TempDir,
    pub indicators: Option<RunningIndicators>,
    pub client: IndicatorServiceClient<Channel>,
}

impl TestSystem {
    /// NATS and the indicator service, consumer `jilin-indicators`.
    pub async fn spawn() -> Self {
        let nats = NatsServer::start().await;
        let data = tempfile::tempdir().expect("temp data dir");
        let indicators = start_indicators(&config(&nats, data.path(), "jilin-indicators")).await;
        let client = connect(&indicators).await;
        Self {
            nats,
            data,
            indicators: Some(indicators),
            client,
        }
    }

    pub fn running(&self) -> &RunningIndicators {
        self.indicators.as_ref().expect("the service is running")
    }

    pub fn config(&self, consumer: &str) -> Config {
        config(&self.nats, self.data.path(), consumer)
    }

    /// Stops the service gracefully and starts it again with `config`.
    pub async fn restart_with(&mut self, config: Config) {
        if let Some(running) = self.indicators.take() {
            running.shutdown().await.expect("clean shutdown");
        }
        let indicators = start_indicators(&config).await;
        self.client = connect(&indicators).await;
        self.indicators = Some(indicators);
    }

    pub async fn nats_client(&self) -> async_nats::Client {
        async_nats::connect(self.nats.url()).await.expect("connect")
    }

    /// Publishes events onto JILIN_REGISTRY as the registry would. With
    /// `dedup_header` false, the stream keeps repeated ids, so the consumer
    /// really sees them twice.
    pub async fn publish(&self, events: &[Event], dedup_header: bool) {
        let events: Vec<TestEvent> = events
            .iter()
            .map(|event| {
                let (subject, event_type, payload) = encode(&event.fact);
                TestEvent {
                    id: event.id.clone(),
                    subject,
                    event_type,
                    resource: format!("projects/{}", event.fact.project().id),
                    payload,
                }
            })
            .collect();
        let client = self.nats_client().await;
        jilin_testkit::bus::publish(
            &client,
            &REGISTRY_STREAM,
            "jilin/registry",
            &events,
            dedup_header,
        )
        .await;
    }

    /// Waits until the durable consumer `name` has every message of
    /// JILIN_REGISTRY delivered and acknowledged.
    pub async fn wait_consumed(&self, name: &str) {
        let client = self.nats_client().await;
        jilin_testkit::bus::wait_consumed(&client, REGISTRY_STREAM.name, name, PATIENCE).await;
    }

    pub async fn query(
        &mut self,
        indicator: &str,
        start: &str,
        end: &str,
        granularity: pb::Granularity,
        group_by: pb::GroupBy,
        filter: &str,
    ) -> Result<pb::QueryIndicatorResponse, tonic::Status> {
        self.client
            .query_indicator(pb::QueryIndicatorRequest {
                name: format!("indicators/{indicator}"),
                start_period: start.into(),
                end_period: end.into(),
                granularity: granularity.into(),
                group_by: group_by.into(),
                filter: filter.into(),
            })
            .await
            .map(|response| response.into_inner())
    }
}

pub fn config(nats: &NatsServer, data: &Path, consumer: &str) -> Config {
    let mut config = Config::new(
        "127.0.0.1:0".parse().unwrap(),
        data.join(consumer),
        nats.url(),
    );
    config.consumer_name = consumer.into();
    config.clock = jilin_testkit::TEST_NOW.parse().unwrap();
    config.auth = jilin_runtime::AuthArgs::insecure();
    config.tls = jilin_runtime::TlsArgs::plaintext();
    config.registry_url = jilin_testkit::NOWHERE.into();
    config
}

pub async fn start_indicators(config: &Config) -> RunningIndicators {
    jilin_indicators::start(config, CancellationToken::new())
        .await
        .expect("indicators start")
}

pub async fn connect(running: &RunningIndicators) -> IndicatorServiceClient<Channel> {
    IndicatorServiceClient::connect(format!("http://{}", running.addr()))
        .await
        .expect("connect to the indicator service")
}

/// The registry's encoding of a fact: subject, `ce-type`, payload.
pub fn encode(fact: &Fact) -> (String, String, Vec<u8>) {
    match fact {
        Fact::Project(snapshot) => {
            let project = Some(project(snapshot));
            if snapshot.revision == 1 {
                let event = events::ProjectCreated {
                    project,
                    actor: "test".into(),
                };
                (
                    "jilin.registry.project.created".into(),
                    events::ProjectCreated::full_name(),
                    event.encode_to_vec(),
                )
            } else {
                let event = events::ProjectUpdated {
                    project,
                    ..Default::default()
                };
                (
                    "jilin.registry.project.updated".into(),
                    events::ProjectUpdated::full_name(),
                    event.encode_to_vec(),
                )
            }
        }
        Fact::Report {
            project: snapshot,
            period,
            report,
        } => {
            let [
                investment,
                output,
                value_added,
                energy,
                employment,
                rd,
                export,
            ] = report.measures;
            let event = events::ProgressReported {
                parent: format!("projects/{}", snapshot.id),
                report: Some(registry::ProgressReport {
                    name: format!("projects/{}/reports/{period}", snapshot.id),
                    period: period.to_string(),
                    investment_completed_yuan: investment,
                    output_value_yuan: output,
                    value_added_yuan: value_added,
                    energy_kgce: energy,
                    employment,
                    rd_spend_yuan: rd,
                    export_value_yuan: export,
                    physical_progress_percent: 50,
                    revision: report.revision,
                    submit_time: None,
                }),
                previous: None,
                project: Some(project(snapshot)),
                actor: "test".into(),
            };
            (
                "jilin.registry.report.submitted".into(),
                events::ProgressReported::full_name(),
                event.encode_to_vec(),
            )
        }
    }
}

fn project(snapshot: &ProjectSnapshot) -> registry::Project {
    let month_start = |period: jilin_domain::Period| {
        time::Date::from_calendar_date(period.year(), period.month(), 15)
            .unwrap()
            .midnight()
            .assume_utc()
    };
    let changed = month_start(snapshot.month);
    registry::Project {
        name: format!("projects/{}", snapshot.id),
        display_name: snapshot.id.clone(),
        sector: snapshot.sector.clone(),
        region_code: snapshot.region.clone(),
        agency: "test".into(),
        planned_investment_yuan: snapshot.planned_investment,
        planned_start_date: format!("{}-01", snapshot.planned_start),
        planned_end_date: format!("{}-28", snapshot.planned_end),
        status: snapshot.status as i32 + 1,
        revision: snapshot.revision,
        update_time: Some(prost_types::Timestamp {
            seconds: changed.unix_timestamp(),
            nanos: 0,
        }),
        ..Default::default()
    }
}

/// Polls QueryIndicator until the month's province value is `expected`.
pub async fn wait_for_value(system: &mut TestSystem, indicator: &str, month: &str, expected: f64) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let response = system
            .query(
                indicator,
                month,
                month,
                pb::Granularity::Month,
                pb::GroupBy::None,
                "",
            )
            .await
            .unwrap();
        let value = response.series[0].points[0].value;
        if value == Some(expected) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{indicator} {month} stayed {value:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
