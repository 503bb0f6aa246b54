//! What the system refuses is said out loud. NATS as `jilin up` runs it
//! (TLS, a user per service that may publish only its own subjects): the
//! services work with their users; a publish under one service's user on
//! another service's subject is refused by the server, logged with the
//! server's reason (not a silent timeout), and nothing is stored. A call
//! denied for want of a token or a right is in the audit log with the
//! principal, the method, the reason and what was required.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
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
    /// The log of this test binary, captured from the first call on.
    fn installed() -> &'static Self {
        static LOGS: OnceLock<Captured> = OnceLock::new();
        LOGS.get_or_init(|| {
            let captured = Self::default();
            let writer = captured.clone();
            tracing_subscriber::fmt()
                .with_writer(move || writer.clone())
                .with_ansi(false)
                .with_max_level(tracing::Level::WARN)
                .init();
            captured
        })
    }

    /// Waits until the log holds `text` (lowercase).
    async fn wait_for(&self, text: &str) {
        let deadline = std::time::Instant::now() + PATIENCE;
        while !self.text().contains(text) {
            assert!(
                std::time::Instant::now() < deadline,
                "never logged: {text}; logs:\n{}",
                self.text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
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

/// The system with its own NATS, as `jilin up` runs it.
async fn start_system(data: &std::path::Path) -> System {
    let nats_url = format!("nats://127.0.0.1:{}", free_port());
    let config = system_config(nats_url, data, jilin_testkit::TEST_NOW.parse().unwrap());
    System::start(&config).await.expect("the system starts")
}

/// Creates `projects/{id}` as the admin; returns the registry's URL.
async fn admin_creates(system: &System, id: &str) -> String {
    let [registry_url, ..] = urls(system);
    let mut admin = registry::registry_service_client::RegistryServiceClient::new(
        authed(system, &registry_url, "admin").await,
    );
    admin
        .create_project(registry::CreateProjectRequest {
            project_id: id.into(),
            project: Some(jilin_testkit::registry::paint_shop()),
            request_id: String::new(),
        })
        .await
        .unwrap();
    registry_url
}

#[tokio::test]
async fn a_publish_outside_a_services_subjects_is_refused_out_loud() {
    let logs = Captured::installed();
    let data = tempfile::tempdir().unwrap();
    let system = start_system(data.path()).await;

    // The registry publishes with its own user: a new project is an event.
    admin_creates(&system, "published").await;
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
    logs.wait_for(&format!(
        "permissions violation for publish to \"{subject}\""
    ))
    .await;
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

#[tokio::test]
async fn denied_calls_are_in_the_audit_log_without_their_tokens() {
    let logs = Captured::installed();
    let data = tempfile::tempdir().unwrap();
    let system = start_system(data.path()).await;
    let registry_url = admin_creates(&system, "audited").await;

    // No token at all.
    let channel = system.channel(&registry_url).await.unwrap();
    let mut anonymous = registry::registry_service_client::RegistryServiceClient::new(channel);
    let refused = anonymous
        .get_project(registry::GetProjectRequest {
            name: "projects/audited".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);

    // Another agency's reporter.
    let stranger = "reporter-2202-drc";
    let mut reporter = registry::registry_service_client::RegistryServiceClient::new(
        authed(&system, &registry_url, stranger).await,
    );
    let refused = reporter
        .transition_project(registry::TransitionProjectRequest {
            name: "projects/audited".into(),
            status: registry::project::Status::Approved.into(),
            reason: "not mine".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);

    logs.wait_for("principal=\"-\" method=\"/jilin.registry.v1.registryservice/getproject\"")
        .await;
    logs.wait_for("reason=\"token_missing\"").await;
    logs.wait_for(
        "principal=\"users/dev-reporter@2202-drc\" \
         method=\"/jilin.registry.v1.registryservice/transitionproject\" \
         code=permissiondenied reason=\"agency_required\" required=\"agency=agencies/2201-drc\"",
    )
    .await;
    let token = system.tokens.value(stranger).unwrap().to_lowercase();
    assert!(!logs.text().contains(&token), "a token was logged");
    system.shutdown().await;
}
