//! `kill -9` of the real `jilin-risk` binary while it follows the
//! registry: after a restart every event is applied, every alert exists,
//! and every notification is on JILIN_RISK exactly once — none lost from
//! the outbox, none repeated by a redelivered event.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::*;
use jilin_bus::{REGISTRY_STREAM, async_nats};
use jilin_proto::registry::v1 as registry;
use jilin_proto::risk::v1 as pb;
use jilin_testkit::NatsServer;
use jilin_testkit::bus::{acked, publish, wait_consumed};

#[tokio::test]
async fn kill_9_mid_stream_loses_no_alert_and_repeats_no_notification() {
    const PROJECTS: usize = 400;
    let nats = NatsServer::start().await;
    let data = tempfile::tempdir().unwrap();
    let client = async_nats::connect(nats.url()).await.unwrap();
    // Each project is 35 points behind schedule on NOW: one red alert each.
    let events: Vec<_> = (0..PROJECTS)
        .map(|index| {
            let site = project(
                &format!("p{index:03}"),
                registry::project::Status::UnderConstruction,
            );
            report_event(&site, &report("2026-06", 500_000, 15))
        })
        .collect();
    publish(&client, &REGISTRY_STREAM, "jilin/registry", &events, true).await;

    let mut config = jilin_risk::Config::new(
        "127.0.0.1:0".parse().unwrap(),
        data.path().join("killed"),
        nats.url(),
    );
    config.consumer_name = "killed".into();
    config.clock = NOW.parse().unwrap();
    config.auth = jilin_runtime::AuthArgs::insecure();
    config.tls = jilin_runtime::TlsArgs::plaintext();
    config.indicators_url = jilin_testkit::NOWHERE.into();
    config.registry_url = jilin_testkit::NOWHERE.into();
    config.evaluation_interval = Duration::from_secs(3600);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_jilin-risk"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--consumer-name",
            "killed",
            "--clock",
            NOW,
            "--insecure-no-auth",
            "--insecure-plaintext",
        ])
        .args([
            "--indicators-url",
            jilin_testkit::NOWHERE,
            "--registry-url",
            jilin_testkit::NOWHERE,
            "--nats-url",
            &nats.url(),
        ])
        .arg("--data-dir")
        .arg(&config.data_dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start jilin-risk");
    let deadline = Instant::now() + PATIENCE;
    while acked(&client, REGISTRY_STREAM.name, "killed").await < PROJECTS as u64 / 4 {
        assert!(Instant::now() < deadline, "the binary never made progress");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let restarted = start(&config).await;
    wait_consumed(&client, REGISTRY_STREAM.name, "killed", PATIENCE).await;
    let deadline = Instant::now() + PATIENCE;
    while restarted.pending_events() > 0 {
        assert!(Instant::now() < deadline, "the outbox never drained");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(restarted.applied_events(), PROJECTS);

    let mut risk = connect(&restarted).await;
    let firing = risk
        .list_alerts(pb::ListAlertsRequest {
            page_size: 500,
            filter: "rule = schedule_lag AND state = FIRING AND severity = CRITICAL".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .alerts;
    assert_eq!(firing.len(), PROJECTS, "no alert lost");

    let jetstream = async_nats::jetstream::new(client.clone());
    let mut stream = jetstream.get_stream("JILIN_RISK").await.unwrap();
    let state = stream.info().await.unwrap().state.clone();
    assert_eq!(
        state.messages as usize, PROJECTS,
        "one notification per alert"
    );
    let mut alerts = BTreeSet::new();
    for sequence in state.first_sequence..=state.last_sequence {
        let message = stream.get_raw_message(sequence).await.unwrap();
        assert_eq!(message.subject.as_str(), "jilin.risk.alert.firing.critical");
        let id = message
            .headers
            .get("ce-subject")
            .unwrap()
            .as_str()
            .to_owned();
        assert!(alerts.insert(id.clone()), "{id} notified twice");
    }
    restarted.shutdown().await.unwrap();
}
