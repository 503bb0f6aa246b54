//! The whole system as `jilin up` starts it (the same in-process entry
//! point, so gRPC over TLS with tokens, and its own nats-server with TLS
//! and a user per service), with a small seeded demo portfolio loaded
//! through the registry's gRPC API by each agency's reporter.

#![allow(dead_code)]

use std::time::Duration;

use jilin::client::{AuthedChannel, Credentials};
use jilin::demo::{DemoPlan, DemoProject, load_history};
use jilin::identity::AgencyCredentials;
use jilin::up::{System, SystemConfig, after, start_of};
use jilin_domain::Period;
use jilin_proto::registry::v1::registry_service_client::RegistryServiceClient;

pub const PATIENCE: Duration = Duration::from_secs(90);

pub struct Running {
    pub data: tempfile::TempDir,
    pub system: System,
    pub plan: DemoPlan,
    pub projects: Vec<DemoProject>,
}

/// A small demo: `count` projects, history 2024-01 to 2025-12.
pub fn plan(count: usize) -> DemoPlan {
    DemoPlan {
        seed: 11,
        projects: count,
        first: Period::parse("2024-01").unwrap(),
        loaded_until: Period::parse("2025-12").unwrap(),
        until: Period::parse("2025-12").unwrap(),
    }
}

/// Starts the system, loads the demo, and waits until the indicator and
/// risk services have applied every registry event.
pub async fn start(count: usize) -> Running {
    let data = tempfile::tempdir().unwrap();
    let plan = plan(count);
    let nats_url = format!("nats://127.0.0.1:{}", free_port());
    let config = system_config(nats_url, data.path(), after(plan.loaded_until));
    let system = System::start(&config).await.expect("the system starts");
    let projects = plan.portfolio();
    let client = RegistryServiceClient::new(system.channel(&system.urls()[0]).await.unwrap());
    let clock = system.risk.clock().clone();
    let credentials = AgencyCredentials::from_tokens(&system.tokens).unwrap();
    let calls = load_history(
        &client,
        &credentials,
        &projects,
        plan.loaded_until,
        false,
        |month| clock.set(start_of(month)),
    )
    .await
    .expect("the demo loads");
    assert!(calls > count, "every project and its months");
    clock.set(after(plan.loaded_until));
    wait_applied(&system).await;
    Running {
        data,
        system,
        plan,
        projects,
    }
}

/// Waits until the indicator and risk services have applied every
/// registry event; returns the watcher client it asked with.
pub async fn wait_applied(system: &System) -> jilin_bus::async_nats::Client {
    // Every event in the stream first: a consumer that has acked all the
    // stream holds has not seen what the relay has yet to publish.
    let deadline = std::time::Instant::now() + PATIENCE;
    while system.registry.pending_events() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "registry events never published"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let nats_client = watcher(system).await;
    for consumer in ["jilin-indicators", "jilin-risk"] {
        jilin_testkit::bus::wait_consumed(&nats_client, "JILIN_REGISTRY", consumer, PATIENCE).await;
    }
    nats_client
}

/// A NATS client of `system`'s server as the read-only `watcher`.
pub async fn watcher(system: &System) -> jilin_bus::async_nats::Client {
    let access = system.nats_access(jilin_bus::WATCHER);
    jilin_bus::connect(system.nats_url(), "test-watcher", &access)
        .await
        .unwrap()
}

pub use jilin_testkit::free_port;

/// `https://` address of each service: registry, indicators, risk.
pub fn urls(system: &System) -> [String; 3] {
    system.urls()
}

/// The credentials of the development token `name` (`admin`,
/// `supervisor`, `reporter-2201-drc`, …) that `jilin up` wrote.
pub fn credentials(system: &System, name: &str) -> Credentials {
    Credentials::new(Some(system.tokens.value(name).expect("a token")), None).unwrap()
}

/// A channel to `url` whose calls carry the token `name`.
pub async fn authed(system: &System, url: &str, name: &str) -> AuthedChannel {
    let channel = system.channel(url).await.unwrap();
    credentials(system, name).on(channel)
}

/// The system on free ports with its stores under `data_dir`, its clocks
/// pinned (the risk service's at `risk_clock`) and no evaluation timer to
/// speak of.
pub fn system_config(
    nats_url: String,
    data_dir: &std::path::Path,
    risk_clock: jilin_runtime::ClockSetting,
) -> SystemConfig {
    let any_port = "127.0.0.1:0".parse().unwrap();
    SystemConfig {
        data_dir: data_dir.to_owned(),
        nats_url,
        registry_listen: any_port,
        indicators_listen: any_port,
        risk_listen: any_port,
        metrics: [Some(any_port); 3],
        stream_replicas: 1,
        clock: jilin_testkit::TEST_NOW.parse().unwrap(),
        risk_clock,
        risk_evaluation_interval: Duration::from_secs(3600),
        store_compression: None,
    }
}
