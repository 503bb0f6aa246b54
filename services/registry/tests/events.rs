//! Events on JetStream: one per change, in order, with CloudEvents headers,
//! decodable from `ce-type` alone; nothing lost or doubled when NATS or the
//! service goes away.

mod common;

use common::{TestApp, sample_project, sample_report};
use jilin_proto::registry::v1 as pb;
use pb::project::Status;
use prost_reflect::{DescriptorPool, DynamicMessage, ReflectMessage};

fn header(
    message: &jilin_bus::async_nats::jetstream::message::StreamMessage,
    name: &str,
) -> String {
    message
        .headers
        .get(name)
        .map(|value| value.as_str().to_owned())
        .unwrap_or_else(|| panic!("header {name} missing on {}", message.subject))
}

#[tokio::test]
async fn every_change_publishes_one_decodable_event_in_order() {
    let mut app = TestApp::spawn().await;
    let created = app.create("ev", sample_project()).await;
    app.client
        .update_project(pb::UpdateProjectRequest {
            project: Some(pb::Project {
                name: created.name.clone(),
                description: "updated".into(),
                ..Default::default()
            }),
            update_mask: None,
        })
        .await
        .unwrap();
    app.transition(&created.name, Status::Approved)
        .await
        .unwrap();
    app.report(&created.name, sample_report("2026-01"), "")
        .await
        .unwrap();
    app.report(&created.name, sample_report("2026-01"), "")
        .await
        .unwrap();

    let messages = app.stream_messages(5).await;
    let subjects: Vec<_> = messages.iter().map(|m| m.subject.to_string()).collect();
    assert_eq!(
        subjects,
        [
            "jilin.registry.project.created",
            "jilin.registry.project.updated",
            "jilin.registry.project.transitioned",
            "jilin.registry.report.submitted",
            "jilin.registry.report.revised",
        ]
    );

    let pool = DescriptorPool::decode(jilin_proto::FILE_DESCRIPTOR_SET).unwrap();
    let mut revisions = Vec::new();
    for message in &messages {
        assert_eq!(header(message, "ce-specversion"), "1.0");
        assert_eq!(header(message, "ce-source"), "jilin/registry");
        // The caller, as the CloudEvents extension `principal` (without
        // tokens, the insecure mode's anonymous admin).
        assert_eq!(header(message, "ce-principal"), "anonymous");
        assert_eq!(header(message, "content-type"), "application/protobuf");
        assert_eq!(header(message, "Nats-Msg-Id"), header(message, "ce-id"));
        assert!(
            time::OffsetDateTime::parse(
                &header(message, "ce-time"),
                &time::format_description::well_known::Rfc3339
            )
            .is_ok()
        );
        // Decode knowing nothing but the ce-type and the descriptor set.
        let descriptor = pool
            .get_message_by_name(&header(message, "ce-type"))
            .expect("ce-type names a message in the descriptor set");
        let event =
            DynamicMessage::decode(descriptor, message.payload.clone()).expect("payload decodes");
        if let Some(project) = event.get_field_by_name("project") {
            let project = project.as_message().unwrap().clone();
            revisions.push(
                project
                    .get_field_by_name("revision")
                    .unwrap()
                    .as_i64()
                    .unwrap(),
            );
        }
        assert_eq!(event.descriptor().full_name(), header(message, "ce-type"));
    }
    assert_eq!(header(&messages[0], "ce-subject"), "projects/ev");
    assert_eq!(
        header(&messages[4], "ce-subject"),
        "projects/ev/reports/2026-01"
    );
    assert_eq!(
        revisions,
        [1, 2, 3, 3, 3],
        "project revision carried by every event"
    );

    // A revised report carries the values it replaces.
    use prost::Message;
    let revised =
        jilin_proto::events::v1::ProgressReported::decode(messages[4].payload.clone()).unwrap();
    assert_eq!(revised.report.unwrap().revision, 2);
    assert_eq!(revised.previous.unwrap().revision, 1);
}

#[tokio::test]
async fn writes_go_on_while_nats_is_down_and_arrive_exactly_once_after() {
    let mut app = TestApp::spawn().await;
    app.create("before", sample_project()).await;
    app.stream_messages(1).await;

    app.nats.stop();
    for index in 0..5 {
        app.create(&format!("during-{index}"), sample_project())
            .await;
    }
    assert!(
        app.running().pending_events() > 0,
        "events wait in the outbox"
    );

    app.nats.restart().await;
    let messages = app.stream_messages(6).await;
    let resources: Vec<_> = messages.iter().map(|m| header(m, "ce-subject")).collect();
    assert_eq!(
        resources,
        [
            "projects/before",
            "projects/during-0",
            "projects/during-1",
            "projects/during-2",
            "projects/during-3",
            "projects/during-4"
        ]
    );
    let mut ids: Vec<_> = messages.iter().map(|m| header(m, "ce-id")).collect();
    ids.dedup();
    assert_eq!(ids.len(), 6);
}

#[tokio::test]
async fn writes_wait_with_a_retry_delay_while_the_outbox_is_full_and_go_ahead_once_published() {
    use tonic_types::StatusExt;
    let mut app = TestApp::spawn_with(|config| config.outbox_limit = 3).await;
    app.nats.stop();
    for index in 0..3 {
        app.create(&format!("waiting-{index}"), sample_project())
            .await;
    }
    let before = app.fingerprint();
    let create = pb::CreateProjectRequest {
        project_id: "one-too-many".into(),
        project: Some(sample_project()),
        request_id: String::new(),
    };
    let refused = app.client.create_project(create.clone()).await.unwrap_err();
    assert_eq!(
        refused.code(),
        common::Code::ResourceExhausted,
        "{refused:?}"
    );
    assert_eq!(common::reason(&refused), "EVENT_BACKLOG");
    assert!(
        refused.message().contains("3 events are waiting"),
        "{refused:?}"
    );
    let retry_after = refused
        .get_details_retry_info()
        .and_then(|info| info.retry_delay);
    assert!(
        retry_after.is_some_and(|delay| !delay.is_zero()),
        "{refused:?}"
    );
    let report = pb::ReportProgressRequest {
        parent: "projects/waiting-0".into(),
        report: Some(sample_report("2026-04")),
        request_id: String::new(),
    };
    let refused = app.client.report_progress(report).await.unwrap_err();
    assert_eq!(common::reason(&refused), "EVENT_BACKLOG");
    assert_eq!(app.fingerprint(), before, "a refused write changes nothing");

    app.nats.restart().await;
    app.stream_messages(3).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while app.running().pending_events() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the outbox never drained"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    app.client.create_project(create).await.unwrap();
    let messages = app.stream_messages(4).await;
    assert_eq!(header(&messages[3], "ce-subject"), "projects/one-too-many");
}

#[tokio::test]
async fn a_restarted_service_keeps_every_write_and_resumes_the_relay() {
    let mut app = TestApp::spawn().await;
    app.nats.stop();
    let project = app.project_under_construction("durable").await;
    app.report(&project.name, sample_report("2026-04"), "req")
        .await
        .unwrap();

    app.restart().await;
    let fetched = app
        .client
        .get_project(pb::GetProjectRequest {
            name: project.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fetched, project);
    let retry = app
        .report(&project.name, sample_report("2026-04"), "req")
        .await
        .unwrap();
    assert_eq!(retry.revision, 1, "the request id survived the restart");

    app.nats.restart().await;
    let messages = app.stream_messages(4).await;
    assert_eq!(
        messages.last().unwrap().subject.as_str(),
        "jilin.registry.report.submitted"
    );
}

#[tokio::test]
async fn health_and_reflection_are_served() {
    use jilin_testkit::grpc;
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let app = TestApp::spawn().await;
    let channel = grpc::channel(app.running().addr()).await;
    let service = "jilin.registry.v1.RegistryService";
    assert_eq!(
        grpc::health(channel.clone(), service).await,
        ServingStatus::Serving
    );
    let names = grpc::reflected_services(channel.clone()).await;
    assert!(names.iter().any(|n| n == service), "{names:?}");
    assert!(
        names.iter().any(|n| n == "grpc.health.v1.Health"),
        "{names:?}"
    );
    let symbol = MessageRequest::FileContainingSymbol("jilin.events.v1.ProgressReported".into());
    let Some(MessageResponse::FileDescriptorResponse(files)) =
        grpc::reflect(channel, vec![symbol]).await.pop()
    else {
        panic!("the event message is served by reflection")
    };
    assert!(!files.file_descriptor_proto.is_empty());
}

/// Without TCP_NODELAY on accepted sockets, every response written in two
/// segments waited for the client's delayed ACK: 44 ms per list call from
/// Python grpcio.
#[tokio::test]
async fn accepted_connections_have_tcp_nodelay() {
    let app = TestApp::spawn().await;
    assert!(jilin_testkit::grpc::accepted_socket_has_nodelay(app.running().addr()).await);
}
