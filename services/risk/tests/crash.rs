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

/// The binary's arguments for a test: plaintext, no auth, fixed clock,
/// no peers, its gRPC server on `port`.
fn risk_binary(nats: &NatsServer, data_dir: &std::path::Path, port: u16) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_jilin-risk"))
        .args(["--listen", &format!("127.0.0.1:{port}"), "--clock", NOW])
        .args(["--insecure-no-auth", "--insecure-plaintext"])
        .args(["--indicators-url", jilin_testkit::NOWHERE])
        .args(["--registry-url", jilin_testkit::NOWHERE])
        .args(["--nats-url", &nats.url()])
        .arg("--data-dir")
        .arg(data_dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start jilin-risk")
}

async fn pending_deliveries(risk: &mut RiskClient) -> usize {
    risk.list_deliveries(pb::ListDeliveriesRequest {
        page_size: 500,
        state: pb::delivery::State::Pending.into(),
        ..Default::default()
    })
    .await
    .map_or(0, |list| list.into_inner().deliveries.len())
}

#[tokio::test]
async fn kill_9_with_deliveries_queued_loses_none_of_them() {
    const PROJECTS: usize = 60;
    let nats = NatsServer::start().await;
    let data = tempfile::tempdir().unwrap();
    let hook = common::hook::Hook::start().await;
    hook.set_down(true);
    let port = jilin_testkit::free_port();
    let mut child = risk_binary(&nats, &data.path().join("risk"), port);
    let mut risk = {
        let deadline = Instant::now() + PATIENCE;
        loop {
            match RiskClient::connect(format!("http://127.0.0.1:{port}")).await {
                Ok(client) => break client,
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                Err(err) => panic!("the binary never served: {err}"),
            }
        }
    };
    risk.create_receiver(pb::CreateReceiverRequest {
        receiver_id: "desk".into(),
        receiver: Some(pb::Receiver {
            kind: Some(pb::receiver::Kind::Webhook(pb::receiver::Webhook {
                url: hook.url(),
                ..Default::default()
            })),
            ..Default::default()
        }),
    })
    .await
    .unwrap();
    risk.create_route(pb::CreateRouteRequest {
        route_id: "per_project".into(),
        route: Some(pb::Route {
            receiver: "receivers/desk".into(),
            group_by: vec!["project".into()],
            group_wait: Some(prost_types::Duration::default()),
            ..Default::default()
        }),
    })
    .await
    .unwrap();

    // One red alert per project, each its own group and notification.
    let client = async_nats::connect(nats.url()).await.unwrap();
    let events: Vec<_> = (0..PROJECTS)
        .map(|index| {
            let site = project(
                &format!("q{index:03}"),
                registry::project::Status::UnderConstruction,
            );
            report_event(&site, &report("2026-06", 500_000, 15))
        })
        .collect();
    publish(&client, &REGISTRY_STREAM, "jilin/registry", &events, true).await;
    let deadline = Instant::now() + PATIENCE;
    // Killed with a third queued, some of them refused once already.
    while pending_deliveries(&mut risk).await < PROJECTS / 3 || hook.received().is_empty() {
        assert!(Instant::now() < deadline, "nothing was queued");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();

    // The receiver recovers; the service starts again on the same store.
    hook.set_down(false);
    let mut child = risk_binary(&nats, &data.path().join("risk"), port);
    let deadline = Instant::now() + PATIENCE;
    let accepted = loop {
        let accepted: BTreeSet<String> = hook
            .received()
            .iter()
            .filter(|post| post.json()["status"] == "firing")
            .map(|post| post.header("ce-id").to_owned())
            .collect();
        let delivered = risk
            .list_deliveries(pb::ListDeliveriesRequest {
                page_size: 500,
                state: pb::delivery::State::Delivered.into(),
                ..Default::default()
            })
            .await
            .map_or(0, |list| list.into_inner().deliveries.len());
        if delivered >= PROJECTS {
            break accepted;
        }
        assert!(
            Instant::now() < deadline,
            "{delivered} of {PROJECTS} delivered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    child.kill().unwrap();
    child.wait().unwrap();
    let projects: BTreeSet<String> = hook
        .received()
        .iter()
        .map(|post| {
            post.json()["groupLabels"]["project"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(projects.len(), PROJECTS, "every project's alert was posted");
    assert_eq!(
        accepted.len(),
        PROJECTS,
        "one notification (one ce-id) per alert"
    );
}
