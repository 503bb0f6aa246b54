//! With the registry running: a report submitted over gRPC changes the
//! value QueryIndicator returns, is explained term by term, and produces a
//! value event on `jilin.indicators.>` and on WatchIndicators.

mod common;

use std::time::{Duration, Instant};

use common::{PATIENCE, TestSystem};
use futures::StreamExt;
use jilin_proto::Name;
use jilin_proto::events::v1 as events;
use jilin_proto::indicators::v1 as pb;
use jilin_proto::registry::v1 as registry;
use jilin_runtime::CancellationToken;
use prost::Message;
use registry::registry_service_client::RegistryServiceClient;

fn project(sector: &str, region: &str) -> registry::Project {
    registry::Project {
        display_name: format!("{sector} plant"),
        sector: sector.into(),
        region_code: region.into(),
        agency: "jilin-drc".into(),
        planned_investment_yuan: 1_200_000_000,
        planned_start_date: "2025-07-01".into(),
        planned_end_date: "2026-12-31".into(),
        ..Default::default()
    }
}

fn report(period: &str, output: i64) -> registry::ProgressReport {
    registry::ProgressReport {
        period: period.into(),
        investment_completed_yuan: 50_000_000,
        output_value_yuan: output,
        value_added_yuan: output / 4,
        energy_kgce: 20_000,
        employment: 300,
        rd_spend_yuan: 1_000_000,
        export_value_yuan: output / 10,
        physical_progress_percent: 40,
        ..Default::default()
    }
}

async fn under_construction(
    client: &mut RegistryServiceClient<tonic::transport::Channel>,
    id: &str,
    project: registry::Project,
) -> String {
    let created = client
        .create_project(registry::CreateProjectRequest {
            project_id: id.into(),
            project: Some(project),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    for status in [
        registry::project::Status::Approved,
        registry::project::Status::UnderConstruction,
    ] {
        client
            .transition_project(registry::TransitionProjectRequest {
                name: created.name.clone(),
                status: status.into(),
                reason: "on schedule".into(),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    created.name
}

async fn submit(
    client: &mut RegistryServiceClient<tonic::transport::Channel>,
    parent: &str,
    report: registry::ProgressReport,
) {
    client
        .report_progress(registry::ReportProgressRequest {
            parent: parent.into(),
            report: Some(report),
            request_id: String::new(),
        })
        .await
        .unwrap();
}

/// Polls QueryIndicator until the month's province value is `expected`.
async fn wait_for_value(system: &mut TestSystem, indicator: &str, month: &str, expected: f64) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let response = system
            .query(
                indicator,
                month,
                month,
                pb::Granularity::Month,
                pb::GroupBy::None,
                "",
            )
            .await
            .unwrap();
        let value = response.series[0].points[0].value;
        if value == Some(expected) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{indicator} {month} stayed {value:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_report_over_grpc_moves_the_value_the_stream_and_the_watchers() {
    let mut system = TestSystem::spawn().await;
    let registry = jilin_registry::start(
        &jilin_registry::Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: system.data.path().join("registry"),
            nats_url: system.nats.url(),
            log_format: Default::default(),
        },
        CancellationToken::new(),
    )
    .await
    .unwrap();
    let mut registry_client = RegistryServiceClient::connect(format!("http://{}", registry.addr()))
        .await
        .unwrap();

    let nats = system.nats_client().await;
    let mut published = nats
        .subscribe("jilin.indicators.value.pillar_output_share")
        .await
        .unwrap();
    let mut watch = system
        .client
        .watch_indicators(pb::WatchIndicatorsRequest {
            names: vec!["indicators/pillar_output_share".into()],
        })
        .await
        .unwrap()
        .into_inner();

    let car = under_construction(
        &mut registry_client,
        "faw-body-shop",
        project("automobile", "220100"),
    )
    .await;
    let bio = under_construction(
        &mut registry_client,
        "siping-biotech",
        project("biotech", "220300"),
    )
    .await;
    submit(&mut registry_client, &car, report("2026-01", 300_000_000)).await;
    submit(&mut registry_client, &bio, report("2026-01", 100_000_000)).await;
    wait_for_value(&mut system, "pillar_output_share", "2026-01", 75.0).await;

    // Breakdown by group and a filter agree with the arithmetic.
    let by_group = system
        .query(
            "pillar_output_share",
            "2026-01",
            "2026-01",
            pb::Granularity::Month,
            pb::GroupBy::Group,
            "",
        )
        .await
        .unwrap();
    let pillar = by_group
        .series
        .iter()
        .find(|s| s.group == "pillar")
        .unwrap();
    assert_eq!(pillar.points[0].value, Some(100.0));
    let emerging = by_group
        .series
        .iter()
        .find(|s| s.group == "emerging")
        .unwrap();
    assert_eq!(emerging.points[0].value, Some(0.0));
    let services = by_group
        .series
        .iter()
        .find(|s| s.group == "services")
        .unwrap();
    assert_eq!(services.points[0].value, None, "no output, no share");

    let explained = system
        .client
        .explain_indicator_value(pb::ExplainIndicatorValueRequest {
            name: "indicators/pillar_output_share".into(),
            period: "2026-01".into(),
            filter: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        explained.parsed_expression,
        "((sum(output_value{group=\"pillar\"}) / sum(output_value)) * 100)"
    );
    assert_eq!(explained.value, Some(75.0));
    let terms: Vec<_> = explained
        .terms
        .iter()
        .map(|t| (t.expression.as_str(), t.start_period.as_str(), t.value))
        .collect();
    assert_eq!(
        terms,
        [
            (
                "sum(output_value{group=\"pillar\"})",
                "2026-01",
                Some(300_000_000.0)
            ),
            ("sum(output_value)", "2026-01", Some(400_000_000.0)),
        ]
    );

    // The watcher and the stream see the change of the province's value.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let change = loop {
        let change = tokio::time::timeout_at(deadline, watch.next())
            .await
            .expect("a change in time")
            .expect("stream open")
            .expect("no error");
        if change.period == "2026-01" && change.group.is_empty() && change.value == Some(75.0) {
            break change;
        }
    };
    assert_eq!(change.name, "indicators/pillar_output_share");
    assert_eq!(change.target, Some(55.0));
    loop {
        let message = tokio::time::timeout_at(deadline, published.next())
            .await
            .expect("an event in time")
            .expect("subscription open");
        let headers = message.headers.as_ref().expect("CloudEvents headers");
        assert_eq!(
            headers.get("ce-type").unwrap().as_str(),
            events::IndicatorValueChanged::full_name()
        );
        assert_eq!(
            headers.get("ce-source").unwrap().as_str(),
            "jilin/indicators"
        );
        let event = events::IndicatorValueChanged::decode(message.payload.clone()).unwrap();
        let change = event.change.unwrap();
        if change.period == "2026-01" && change.group.is_empty() && change.value == Some(75.0) {
            break;
        }
    }

    // A revision of a report applies its difference.
    let mut revised = report("2026-01", 100_000_000);
    revised.investment_completed_yuan = 10;
    submit(&mut registry_client, &car, revised).await;
    wait_for_value(&mut system, "pillar_output_share", "2026-01", 50.0).await;
    registry.shutdown().await.unwrap();
}
