//! The registry's Prometheus endpoint, scraped as Prometheus would: calls
//! counted by method and code, durable writes timed, events published and
//! the outbox drained, the build named.

mod common;

use std::time::{Duration, Instant};

use common::*;
use jilin_proto::registry::v1 as pb;
use jilin_testkit::{sample, scrape};

#[tokio::test]
async fn calls_writes_and_the_outbox_are_measured() {
    let mut app = TestApp::spawn().await;
    let addr = app.running().metrics_addr().expect("metrics are served");
    let create = |id: &str, project: pb::Project| pb::CreateProjectRequest {
        project_id: id.into(),
        project: Some(project),
        request_id: String::new(),
    };
    app.client
        .create_project(create("measured", sample_project()))
        .await
        .unwrap();
    let mut bad = sample_project();
    bad.sector = "shipbuilding".into();
    let refused = app.client.create_project(create("bad", bad)).await;
    assert_eq!(refused.unwrap_err().code(), Code::InvalidArgument);

    let method = "/jilin.registry.v1.RegistryService/CreateProject";
    let deadline = Instant::now() + Duration::from_secs(20);
    let text = loop {
        let text = scrape(addr).await;
        if sample(&text, "jilin_outbox_backlog") == Some(0.0) {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "the outbox never drained:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let calls = |code: &str| {
        sample(
            &text,
            &format!("jilin_grpc_requests_total{{method=\"{method}\",code=\"{code}\"}}"),
        )
    };
    assert_eq!(calls("Ok"), Some(1.0), "{text}");
    assert_eq!(calls("InvalidArgument"), Some(1.0), "{text}");
    assert_eq!(
        sample(
            &text,
            &format!("jilin_grpc_request_duration_seconds_count{{method=\"{method}\"}}")
        ),
        Some(2.0),
        "{text}"
    );
    assert!(sample(&text, "jilin_store_write_duration_seconds_count").unwrap() >= 1.0);
    assert!(sample(&text, "jilin_store_group_commit_batch_size_count").unwrap() >= 1.0);
    assert!(sample(&text, "jilin_relay_publish_duration_seconds_count").unwrap() >= 1.0);
    assert_eq!(
        sample(
            &text,
            &format!(
                "jilin_build_info{{service=\"registry\",version=\"{}\"}}",
                env!("CARGO_PKG_VERSION")
            )
        ),
        Some(1.0),
        "{text}"
    );
}
