//! Backup and restore, as an operator does them: `jilin backup` takes a
//! snapshot of each running service's store over gRPC; `jilin restore`
//! puts it into a data directory. A restored registry holds exactly what
//! it held at the backup. Restored indicator and risk stores replay the
//! streams they follow on their next start: afterwards they equal the
//! stores that never stopped (nothing lost, nothing applied twice).

mod common;

use std::path::Path;

use common::*;
use jilin::client::Connection;
use jilin::client::backup::{self, Backup, Restore, Service};
use jilin::up::System;
use jilin_proto::registry::v1 as registry;
use jilin_proto::risk::v1 as risk;
use jilin_testkit::registry::{paint_shop, under_construction};

/// `jilin`'s connection to `system` as its admin, trusting its CA.
fn admin_connection(system: &System, data_dir: &Path) -> Connection {
    let [registry, indicators, risk] = urls(system);
    Connection {
        registry,
        indicators,
        risk,
        token: Some(system.tokens.value("admin").unwrap().to_owned()),
        token_file: None,
        ca: Some(jilin::identity::dev_cert_files(data_dir).ca),
        actor: "test".into(),
        output: Default::default(),
    }
}

/// The risks the system sees once everything is applied: after every
/// registry event, every indicator value it caused, and an evaluation
/// pass, the alerts not resolved (name, state and severity). A restored
/// risk store may also hold alerts that fired and resolved during its
/// replay; those are history, not risks.
async fn current_risks(system: &System) -> Vec<(String, i32, i32)> {
    let nats = wait_applied(system).await;
    // Every value change published: the outbox empty and the stream still
    // for longer than the publisher's quiet period (2 s) lets changes wait.
    let jetstream = jilin_bus::async_nats::jetstream::new(nats.clone());
    let deadline = std::time::Instant::now() + PATIENCE;
    let mut last = None;
    loop {
        assert!(std::time::Instant::now() < deadline, "values never settled");
        let mut stream = jetstream.get_stream("JILIN_INDICATORS").await.unwrap();
        let now = stream.info().await.unwrap().state.last_sequence;
        if system.indicators.pending_events() == 0 && last == Some(now) {
            break;
        }
        last = Some(now);
        tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    }
    jilin_testkit::bus::wait_consumed(&nats, "JILIN_INDICATORS", "jilin-risk", PATIENCE).await;
    system.risk.evaluate_now().await.unwrap();
    let resolved = risk::alert::State::Resolved as i32;
    alerts(system)
        .await
        .into_iter()
        .filter(|(_, state, _)| *state != resolved)
        .collect()
}

/// Every alert: name, state and severity.
async fn alerts(system: &System) -> Vec<(String, i32, i32)> {
    let [_, _, risk_url] = urls(system);
    let mut client =
        risk::risk_service_client::RiskServiceClient::new(authed(system, &risk_url, "admin").await);
    let mut all: Vec<_> = client
        .list_alerts(risk::ListAlertsRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .alerts
        .into_iter()
        .map(|alert| (alert.name, alert.state, alert.severity))
        .collect();
    all.sort();
    all
}

/// Copies `from` into `to`, leaving out the directories named in `skip`.
fn copy_dir(from: &Path, to: &Path, skip: &[&str]) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if skip.iter().any(|skipped| name == *skipped) {
            continue;
        }
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to.join(&name), &[]);
        } else {
            std::fs::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
}

#[tokio::test]
async fn a_backup_restores_the_registry_exactly_and_followers_replay_what_they_missed() {
    let running = start(6).await;
    let (system, data) = (&running.system, running.data.path());
    let registry_at_backup = system.registry.state_fingerprint();
    let backups = tempfile::tempdir().unwrap();
    let connection = admin_connection(system, data);
    backup::backup(
        &connection,
        Backup {
            out: backups.path().to_owned(),
            data_dir: None,
            services: Vec::new(),
        },
    )
    .await
    .expect("the backup is taken");

    // Changes after the backup: on the streams, and in every store.
    let [registry_url, ..] = urls(system);
    let mut admin = registry::registry_service_client::RegistryServiceClient::new(
        authed(system, &registry_url, "admin").await,
    );
    for id in ["after-backup-1", "after-backup-2"] {
        under_construction(&mut admin, id, paint_shop()).await;
    }
    let risks_final = current_risks(system).await;
    let indicators_final = system.indicators.state_fingerprint();
    let (nats_url, clock) = (system.nats_url().to_owned(), system.risk.clock().now());
    let Running { system, data, .. } = running;
    system.shutdown().await;

    // The registry alone, restored: exactly what it held at the backup.
    let registry_only = tempfile::tempdir().unwrap();
    backup::restore(
        &connection,
        Restore {
            from: backups.path().to_owned(),
            data_dir: registry_only.path().to_owned(),
            services: vec![Service::Registry],
        },
    )
    .expect("the registry is restored");
    let store = jilin_store::Store::open(
        &registry_only.path().join("registry"),
        &jilin_registry::STORE_LAYOUT,
    )
    .unwrap();
    let restored = jilin_registry::state_fingerprint_of(store).unwrap();
    assert_eq!(
        restored, registry_at_backup,
        "the registry differs from its backup"
    );

    // The deployment with its indicator and risk stores restored.
    let deployment = tempfile::tempdir().unwrap();
    copy_dir(data.path(), deployment.path(), &["indicators", "risk"]);
    backup::restore(
        &connection,
        Restore {
            from: backups.path().to_owned(),
            data_dir: deployment.path().to_owned(),
            services: vec![Service::Indicators, Service::Risk],
        },
    )
    .expect("the followers are restored");
    let config = system_config(
        nats_url,
        deployment.path(),
        jilin_runtime::ClockSetting::Fixed(clock),
    );
    let system = System::start(&config)
        .await
        .expect("the restored system starts");
    let risks = current_risks(&system).await;
    assert_eq!(
        system.indicators.state_fingerprint(),
        indicators_final,
        "the restored indicators differ from the ones that never stopped"
    );
    assert_eq!(risks, risks_final);
    system.shutdown().await;
}
