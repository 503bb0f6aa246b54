//! Hostile input, from outside: the system as `jilin up` runs it (one
//! process, three services) gets every parser's worst input, deep nesting
//! and huge text, plus a request past the size cap. Each call gets a
//! deliberate error whose status fits in what clients accept (8 KB of
//! metadata, grpcio's soft limit), the services stay SERVING, and the
//! stores are exactly as they were.

mod common;

use common::*;
use jilin::up::System;
use jilin_proto::indicators::v1 as indicators;
use jilin_proto::registry::v1 as registry;
use jilin_proto::risk::v1 as risk;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;

/// Bytes `status` takes as trailing metadata.
fn metadata_bytes(status: &tonic::Status) -> usize {
    let mut headers = tonic::codegen::http::HeaderMap::new();
    status.add_header(&mut headers).unwrap();
    headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum()
}

/// `answer` is the deliberate refusal `code`, small enough to read.
fn refused<T: std::fmt::Debug>(what: &str, answer: Result<T, tonic::Status>, code: Code) {
    let status = answer.expect_err(what);
    assert_eq!(status.code(), code, "{what}: {status:?}");
    assert!(
        metadata_bytes(&status) < 8 * 1024,
        "{what}: {} bytes of metadata",
        metadata_bytes(&status)
    );
}

async fn all_serving(system: &System) {
    for url in urls(system) {
        let channel = system.channel(&url).await.unwrap();
        assert_eq!(
            jilin_testkit::grpc::health(channel, "").await,
            ServingStatus::Serving,
            "{url}"
        );
    }
}

/// `(` nested `depth` deep around `inner`.
fn nested(depth: usize, inner: &str) -> String {
    format!("{}{inner}{}", "(".repeat(depth), ")".repeat(depth))
}

#[tokio::test]
async fn hostile_requests_are_refused_and_every_service_stays_up() {
    let data = tempfile::tempdir().unwrap();
    let nats_url = format!("nats://127.0.0.1:{}", free_port());
    let config = system_config(
        nats_url,
        data.path(),
        jilin_testkit::TEST_NOW.parse().unwrap(),
    );
    let system = System::start(&config).await.expect("the system starts");
    let [registry_url, indicators_url, risk_url] = urls(&system);
    let mut projects = registry::registry_service_client::RegistryServiceClient::new(
        authed(&system, &registry_url, "admin").await,
    );
    let mut indicators = indicators::indicator_service_client::IndicatorServiceClient::new(
        authed(&system, &indicators_url, "admin").await,
    );
    let mut alerts = risk::risk_service_client::RiskServiceClient::new(
        authed(&system, &risk_url, "admin").await,
    );
    let before = projects
        .list_projects(registry::ListProjectsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let builtin = indicators
        .list_indicators(indicators::ListIndicatorsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .indicators
        .remove(0)
        .name;

    let deep = format!("{}x", "(".repeat(3000));
    // About 360 KB: twice in one request stays under the 1 MiB cap.
    let huge = "吉".repeat(120_000);
    for filter in [
        deep.clone(),
        nested(100, "sector = automobile"),
        huge.clone(),
    ] {
        let listed = projects
            .list_projects(registry::ListProjectsRequest {
                filter: filter.clone(),
                ..Default::default()
            })
            .await;
        refused("registry filter", listed, Code::InvalidArgument);
        let queried = indicators
            .query_indicator(indicators::QueryIndicatorRequest {
                name: builtin.clone(),
                start_period: "2026-01".into(),
                end_period: "2026-03".into(),
                filter: filter.clone(),
                ..Default::default()
            })
            .await;
        refused("indicator query filter", queried, Code::InvalidArgument);
        let explained = indicators
            .explain_indicator_value(indicators::ExplainIndicatorValueRequest {
                name: builtin.clone(),
                period: filter.clone(),
                filter: filter.clone(),
            })
            .await;
        refused(
            "explain period and filter",
            explained,
            Code::InvalidArgument,
        );
        let listed = alerts
            .list_alerts(risk::ListAlertsRequest {
                filter: filter.clone(),
                page_token: filter.clone(),
                ..Default::default()
            })
            .await;
        refused("risk filter", listed, Code::InvalidArgument);
    }
    for (order_by, page_token) in [(huge.clone(), huge.clone()), (deep.clone(), deep.clone())] {
        let listed = projects
            .list_projects(registry::ListProjectsRequest {
                order_by,
                page_token,
                ..Default::default()
            })
            .await;
        refused("order_by and page_token", listed, Code::InvalidArgument);
    }
    let chain = format!("{}1", "1+".repeat(2000));
    for expression in [deep.clone(), nested(100, "1"), chain, huge.clone()] {
        let created = indicators
            .create_indicator(indicators::CreateIndicatorRequest {
                indicator_id: "hostile".into(),
                indicator: Some(indicators::Indicator {
                    display_name: huge.clone(),
                    unit: "yuan".into(),
                    expression,
                    ..Default::default()
                }),
            })
            .await;
        refused("indicator expression", created, Code::InvalidArgument);
    }
    let mut project = jilin_testkit::registry::paint_shop();
    project.display_name = huge.clone();
    project.description = huge.clone();
    let created = projects
        .create_project(registry::CreateProjectRequest {
            project: Some(project.clone()),
            project_id: "x".repeat(50_000),
            request_id: "x".repeat(50_000),
        })
        .await;
    refused("project fields", created, Code::InvalidArgument);
    project.display_name = "吉".repeat(1_000_000);
    let created = projects
        .create_project(registry::CreateProjectRequest {
            project: Some(project),
            ..Default::default()
        })
        .await;
    refused("a request past the cap", created, Code::OutOfRange);

    all_serving(&system).await;
    let after = projects
        .list_projects(registry::ListProjectsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(after, before, "the registry changed");
    let listed = indicators
        .get_indicator(indicators::GetIndicatorRequest {
            name: "indicators/hostile".into(),
        })
        .await;
    assert_eq!(listed.unwrap_err().code(), Code::NotFound);
    system.shutdown().await;
}
