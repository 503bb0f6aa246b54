//! One report, one trace: the registry's span for the ReportProgress call,
//! the indicator and risk services' spans applying its event, the alert
//! event the risk service publishes and the employment value the
//! indicator service publishes all carry the same trace id.
//! Spans go to an in-process OpenTelemetry exporter.

mod common;

use std::time::{Duration, Instant};

use common::*;
use jilin::up::System;
use jilin_proto::registry::v1 as registry;
use jilin_testkit::NatsServer;
use jilin_testkit::registry::{paint_shop, submit, under_construction};
use opentelemetry::trace::TracerProvider;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The value of `span`'s attribute `key`, as text.
fn attribute(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|pair| pair.key.as_str() == key)
        .map(|pair| pair.value.as_str().into_owned())
}

#[tokio::test]
async fn one_report_is_one_trace_through_the_three_services() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")))
        .init();

    let nats = NatsServer::start().await;
    let data = tempfile::tempdir().unwrap();
    let config = system_config(
        nats.url(),
        data.path(),
        jilin_testkit::TEST_NOW.parse().unwrap(),
    );
    let system = System::start(&config).await.expect("the system starts");
    let [registry_url, ..] = urls(&system);
    let mut admin = registry::registry_service_client::RegistryServiceClient::new(
        authed(&system, &registry_url, "admin").await,
    );
    let project = under_construction(&mut admin, "traced", paint_shop()).await;
    // The setup applied first, so the report is a batch of its own.
    let client = wait_applied(&system).await;

    // Ten points of progress, two thirds of the way through: far behind.
    let report = registry::ProgressReport {
        period: "2026-10".into(),
        investment_completed_yuan: 1_000_000,
        output_value_yuan: 5_000_000,
        value_added_yuan: 1_000_000,
        employment: 100,
        physical_progress_percent: 10,
        ..Default::default()
    };
    submit(&mut admin, &project, report).await;

    let deadline = Instant::now() + PATIENCE;
    let (trace, consumers) = loop {
        let spans = exporter.get_finished_spans().unwrap();
        let call = spans.iter().find(|span| {
            span.name == "grpc.request"
                && attribute(span, "rpc.method").is_some_and(|m| m.ends_with("/ReportProgress"))
        });
        if let Some(call) = call {
            let trace = call.span_context.trace_id();
            let consumers: Vec<String> = spans
                .iter()
                .filter(|span| span.name == "consume" && span.span_context.trace_id() == trace)
                .filter_map(|span| attribute(span, "consumer"))
                .collect();
            if consumers.len() >= 2 {
                break (trace, consumers);
            }
        }
        assert!(Instant::now() < deadline, "no trace through the services");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        consumers.contains(&"jilin-indicators".to_owned()),
        "{consumers:?}"
    );
    assert!(
        consumers.contains(&"jilin-risk".to_owned()),
        "{consumers:?}"
    );

    // The alert the report raised carries the same trace.
    let jetstream = jilin_bus::async_nats::jetstream::new(client);
    let stream = jetstream.get_stream("JILIN_RISK").await.unwrap();
    let deadline = Instant::now() + PATIENCE;
    let alert = loop {
        match stream
            .get_last_raw_message_by_subject("jilin.risk.alert.firing.critical")
            .await
        {
            Ok(message) => break message,
            Err(_) => {
                assert!(Instant::now() < deadline, "the alert was never published");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    let traceparent = |message: &jilin_bus::async_nats::jetstream::message::StreamMessage| {
        message
            .headers
            .get("traceparent")
            .map(|value| value.as_str().to_owned())
            .unwrap_or_default()
    };
    assert!(
        traceparent(&alert).contains(&trace.to_string()),
        "alert traceparent {:?}, trace {trace}",
        traceparent(&alert)
    );
    let values = jetstream.get_stream("JILIN_INDICATORS").await.unwrap();
    let deadline = Instant::now() + PATIENCE;
    loop {
        let value = values
            .get_last_raw_message_by_subject("jilin.indicators.value.employment")
            .await;
        if let Ok(value) = &value
            && traceparent(value).contains(&trace.to_string())
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the employment value never came with the report's trace"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    system.shutdown().await;
}
