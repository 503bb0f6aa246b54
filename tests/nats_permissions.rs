//! NATS as `jilin up` runs it: TLS, and a user per service that may
//! publish only its own subjects. The services work with their users; a
//! publish under one service's user on another service's subject is
//! refused by the server, and the refusal is logged with the server's
//! reason (not a silent timeout), and nothing is stored.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use jilin::up::System;
use jilin_proto::registry::v1 as registry;

/// Every log line of this test binary, as text.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn install() -> Self {
        let captured = Self::default();
        let writer = captured.clone();
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::WARN)
            .init();
        captured
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).to_lowercase()
    }
}

async fn stream_messages(system: &System, stream: &str) -> u64 {
    let jetstream = jilin_bus::async_nats::jetstream::new(watcher(system).await);
    let mut stream = jetstream.get_stream(stream).await.unwrap();
    stream.info().await.unwrap().state.messages
}

#[tokio::test]
async fn a_publish_outside_a_services_subjects_is_refused_out_loud() {
    let logs = Captured::install();
    let data = tempfile::tempdir().unwrap();
    let nats_url = format!("nats://127.0.0.1:{}", free_port());
    let config = system_config(
        nats_url,
        data.path(),
        jilin_testkit::TEST_NOW.parse().unwrap(),
    );
    let system = System::start(&config).await.expect("the system starts");

    // The registry publishes with its own user: a new project is an event.
    let [registry_url, ..] = urls(&system);
    let mut admin = registry::registry_service_client::RegistryServiceClient::new(
        authed(&system, &registry_url, "admin").await,
    );
    admin
        .create_project(registry::CreateProjectRequest {
            project_id: "published".into(),
            project: Some(jilin_testkit::registry::paint_shop()),
            request_id: String::new(),
        })
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + PATIENCE;
    while stream_messages(&system, "JILIN_REGISTRY").await == 0 {
        assert!(std::time::Instant::now() < deadline, "never published");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Under the registry's user, a risk subject is refused.
    let subject = "jilin.risk.alert.firing.critical";
    let as_registry = jilin_bus::connect(
        system.nats_url(),
        "impostor",
        &system.nats_access("registry"),
    )
    .await
    .unwrap();
    let jetstream = jilin_bus::async_nats::jetstream::new(as_registry);
    let ack = jetstream
        .publish(subject, "forged".into())
        .await
        .expect("the message is sent");
    let acked = tokio::time::timeout(Duration::from_secs(5), ack).await;
    assert!(
        !matches!(acked, Ok(Ok(_))),
        "the server stored a forged risk event"
    );
    let refusal = format!("permissions violation for publish to \"{subject}\"");
    let deadline = std::time::Instant::now() + PATIENCE;
    while !logs.text().contains(&refusal) {
        assert!(
            std::time::Instant::now() < deadline,
            "the refusal was never logged; logs:\n{}",
            logs.text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let jetstream = jilin_bus::async_nats::jetstream::new(watcher(&system).await);
    let stored = jetstream
        .get_stream("JILIN_RISK")
        .await
        .unwrap()
        .get_last_raw_message_by_subject(subject)
        .await;
    assert!(stored.is_err(), "the forged event was stored: {stored:?}");
    system.shutdown().await;
}
