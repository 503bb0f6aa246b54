//! The three services together, as deployed: the registry takes projects
//! and reports over gRPC, the indicator service computes sector values,
//! and the risk service turns a project falling behind into yellow, then
//! red (heard on `jilin.risk.alert.firing.critical` and on WatchAlerts),
//! then resolved once it catches up; its energy is judged against its
//! sector's value fetched from the indicator service.

mod common;

use std::time::Duration;

use common::*;
use jilin_bus::async_nats;
use jilin_proto::Name;
use jilin_proto::events::v1 as events;
use jilin_proto::registry::v1 as registry;
use jilin_proto::risk::v1 as pb;
use jilin_runtime::CancellationToken;
use jilin_testkit::NatsServer;
use jilin_testkit::registry::{self as registry_api, RegistryClient};
use prost::Message;
use tokio_stream::StreamExt;

/// A petrochemical plant in Jilin City, under construction for 2026.
async fn under_construction(client: &mut RegistryClient, id: &str, energy_heavy: bool) -> String {
    let project = registry::Project {
        display_name: format!("Plant {id}"),
        sector: "petrochemical".into(),
        region_code: "220200".into(),
        agency: "jilin-drc".into(),
        planned_investment_yuan: 1_200_000_000,
        planned_start_date: "2026-01-01".into(),
        planned_end_date: "2026-12-31".into(),
        description: if energy_heavy {
            "coal based"
        } else {
            "electric"
        }
        .into(),
        ..Default::default()
    };
    registry_api::under_construction(client, id, project).await
}

async fn submit(
    client: &mut RegistryClient,
    parent: &str,
    period: &str,
    progress: i32,
    energy: i64,
    value_added: i64,
) {
    let report = registry::ProgressReport {
        period: period.into(),
        investment_completed_yuan: 100_000_000,
        output_value_yuan: value_added * 4,
        value_added_yuan: value_added,
        energy_kgce: energy,
        employment: 200,
        physical_progress_percent: progress,
        ..Default::default()
    };
    registry_api::submit(client, parent, report).await;
}

async fn start_registry(
    nats: &NatsServer,
    data: &std::path::Path,
) -> jilin_registry::RunningRegistry {
    jilin_registry::start(
        &jilin_registry::Config {
            clock: jilin_testkit::TEST_NOW.parse().unwrap(),
            auth: jilin_runtime::AuthArgs::insecure(),
            tls: jilin_runtime::TlsArgs::plaintext(),
            ..jilin_registry::Config::new(
                "127.0.0.1:0".parse().unwrap(),
                data.join("registry"),
                nats.url(),
            )
        },
        CancellationToken::new(),
    )
    .await
    .unwrap()
}

/// The next schedule-lag change on the watch stream.
async fn next_lag_change(
    watch: &mut tonic::Streaming<pb::AlertChange>,
) -> (pb::alert_transition::Change, pb::Severity) {
    loop {
        let change = tokio::time::timeout(PATIENCE, watch.next())
            .await
            .expect("a change in time")
            .expect("the stream stays open")
            .expect("a change");
        let alert = change.alert.as_ref().unwrap();
        if alert.rule == "rules/schedule_lag" {
            return (change.change(), alert.severity());
        }
    }
}

#[tokio::test]
async fn a_project_falling_behind_turns_yellow_then_red_then_resolves() {
    let nats = NatsServer::start().await;
    let data = tempfile::tempdir().unwrap();
    let registry = start_registry(&nats, data.path()).await;
    let mut indicators_config = jilin_indicators::Config::new(
        "127.0.0.1:0".parse().unwrap(),
        data.path().join("indicators"),
        nats.url(),
    );
    indicators_config.registry_url = format!("http://{}", registry.addr());
    indicators_config.clock = jilin_testkit::TEST_NOW.parse().unwrap();
    indicators_config.auth = jilin_runtime::AuthArgs::insecure();
    indicators_config.tls = jilin_runtime::TlsArgs::plaintext();
    let indicators = jilin_indicators::start(&indicators_config, CancellationToken::new())
        .await
        .unwrap();
    let mut config = jilin_risk::Config::new(
        "127.0.0.1:0".parse().unwrap(),
        data.path().join("risk"),
        nats.url(),
    );
    config.auth = jilin_runtime::AuthArgs::insecure();
    config.tls = jilin_runtime::TlsArgs::plaintext();
    config.registry_url = format!("http://{}", registry.addr());
    config.indicators_url = format!("http://{}", indicators.addr());
    config.clock = "2026-05-01".parse().unwrap();
    config.evaluation_interval = Duration::from_secs(3600);
    let risk = start(&config).await;
    let mut client = connect(&risk).await;

    let subscriber = async_nats::connect(nats.url()).await.unwrap();
    let mut critical = subscriber
        .subscribe("jilin.risk.alert.firing.critical")
        .await
        .unwrap();
    let mut resolved = subscriber
        .subscribe("jilin.risk.alert.resolved.*")
        .await
        .unwrap();
    subscriber.flush().await.unwrap();
    let mut watch = client
        .watch_alerts(pb::WatchAlertsRequest {
            filter: r#"subject = "projects/coal-plant""#.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();

    let mut registry_client = RegistryClient::connect(format!("http://{}", registry.addr()))
        .await
        .unwrap();
    let coal = under_construction(&mut registry_client, "coal-plant", true).await;
    let clean = under_construction(&mut registry_client, "clean-plant", false).await;
    submit(
        &mut registry_client,
        &clean,
        "2026-04",
        35,
        10_000,
        50_000_000,
    )
    .await;

    // On 1 May a third of the span has elapsed: 20 % done is 13 points behind.
    submit(
        &mut registry_client,
        &coal,
        "2026-04",
        20,
        60_000,
        10_000_000,
    )
    .await;
    use pb::alert_transition::Change as C;
    assert_eq!(
        next_lag_change(&mut watch).await,
        (C::Firing, pb::Severity::Warning)
    );

    // On 1 July half has elapsed: 18 % done is more than 30 points behind.
    risk.clock().set("2026-07-01".parse().unwrap());
    submit(
        &mut registry_client,
        &coal,
        "2026-06",
        18,
        60_000,
        10_000_000,
    )
    .await;
    assert_eq!(
        next_lag_change(&mut watch).await,
        (C::Escalated, pb::Severity::Critical)
    );
    // Approved since January, it was briefly "not started" too: wait for
    // the schedule lag among the critical events.
    let alert = loop {
        let heard = tokio::time::timeout(PATIENCE, critical.next())
            .await
            .expect("a critical event in time")
            .unwrap();
        assert_eq!(
            heard
                .headers
                .as_ref()
                .unwrap()
                .get("ce-type")
                .unwrap()
                .as_str(),
            events::AlertChanged::full_name()
        );
        let change = events::AlertChanged::decode(heard.payload)
            .unwrap()
            .change
            .unwrap();
        let alert = change.alert.unwrap();
        if alert.rule == "rules/schedule_lag" {
            break alert;
        }
    };
    assert_eq!(alert.subject, "projects/coal-plant");
    assert_eq!(alert.labels["region"], "220200");
    assert!(alert.value.unwrap() > 30.0);

    // The project catches up: 45 % on 1 July is under 5 points behind.
    submit(
        &mut registry_client,
        &coal,
        "2026-06",
        45,
        60_000,
        10_000_000,
    )
    .await;
    assert_eq!(
        next_lag_change(&mut watch).await,
        (C::Resolved, pb::Severity::Critical)
    );
    let mut resolved_rules = Vec::new();
    while let Ok(Some(message)) =
        tokio::time::timeout(Duration::from_secs(5), resolved.next()).await
    {
        let change = events::AlertChanged::decode(message.payload)
            .unwrap()
            .change
            .unwrap();
        let alert = change.alert.unwrap();
        if alert.subject == "projects/coal-plant" {
            resolved_rules.push(alert.rule);
        }
        if resolved_rules.contains(&"rules/schedule_lag".to_owned()) {
            break;
        }
    }
    assert!(resolved_rules.contains(&"rules/schedule_lag".to_owned()));

    // Energy: the sector's 2026 intensity comes from the indicator service.
    let indicators_nats = async_nats::connect(nats.url()).await.unwrap();
    jilin_testkit::bus::wait_consumed(
        &indicators_nats,
        "JILIN_REGISTRY",
        "jilin-indicators",
        PATIENCE,
    )
    .await;
    risk.evaluate_now().await.unwrap();
    let energy = client
        .get_alert(pb::GetAlertRequest {
            name: "alerts/energy_above_benchmark:projects:coal-plant".into(),
        })
        .await
        .unwrap()
        .into_inner();
    // Coal: 120,000 kgce over 20,000,000 yuan; the sector adds the clean
    // plant's 10,000 kgce over 50,000,000 yuan.
    let own = 120_000.0 / 20_000_000.0 * 10_000.0;
    let sector = 130_000.0 / 70_000_000.0 * 10_000.0;
    let expected = (own - sector) / sector * 100.0;
    assert!(
        (energy.value.unwrap() - expected).abs() < 1e-6,
        "{energy:?}"
    );
    assert_eq!(energy.severity(), pb::Severity::Critical);
    let clean_energy = client
        .get_alert(pb::GetAlertRequest {
            name: "alerts/energy_above_benchmark:projects:clean-plant".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(clean_energy.code(), Code::NotFound);

    risk.shutdown().await.unwrap();
    indicators.shutdown().await.unwrap();
    registry.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_fresh_service_catches_up_from_the_registry_when_the_stream_lost_history() {
    let nats = NatsServer::start().await;
    let data = tempfile::tempdir().unwrap();
    let registry = start_registry(&nats, data.path()).await;
    let mut registry_client = RegistryClient::connect(format!("http://{}", registry.addr()))
        .await
        .unwrap();
    let late = under_construction(&mut registry_client, "late-plant", false).await;
    submit(&mut registry_client, &late, "2026-06", 10, 1_000, 1_000_000).await;
    let fine = under_construction(&mut registry_client, "fine-plant", false).await;
    submit(&mut registry_client, &fine, "2026-06", 50, 1_000, 1_000_000).await;
    // The oldest events age out: only the last one (fine-plant's report) is left.
    let jetstream = async_nats::jetstream::new(async_nats::connect(nats.url()).await.unwrap());
    let stream = jetstream.get_stream("JILIN_REGISTRY").await.unwrap();
    stream.purge().keep(1).await.unwrap();

    let mut config = jilin_risk::Config::new(
        "127.0.0.1:0".parse().unwrap(),
        data.path().join("risk"),
        nats.url(),
    );
    config.auth = jilin_runtime::AuthArgs::insecure();
    config.tls = jilin_runtime::TlsArgs::plaintext();
    config.registry_url = format!("http://{}", registry.addr());
    config.indicators_url = jilin_testkit::NOWHERE.into();
    config.clock = "2026-07-01".parse().unwrap();
    let risk = start(&config).await;
    let mut client = connect(&risk).await;
    let name = "alerts/schedule_lag:projects:late-plant".to_owned();
    let deadline = std::time::Instant::now() + PATIENCE;
    let alert = loop {
        match client
            .get_alert(pb::GetAlertRequest { name: name.clone() })
            .await
        {
            Ok(alert) => break alert.into_inner(),
            Err(status) if status.code() == Code::NotFound => {
                assert!(std::time::Instant::now() < deadline, "never caught up");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(status) => panic!("{status}"),
        }
    };
    assert_eq!(alert.state(), pb::alert::State::Firing);
    assert_eq!(alert.severity(), pb::Severity::Critical, "40 points behind");
    risk.shutdown().await.unwrap();
    registry.shutdown().await.unwrap();
}
