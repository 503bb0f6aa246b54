//! With the registry running: a report submitted over gRPC changes the
//! value QueryIndicator returns, is explained term by term, and produces a
//! value event on `jilin.indicators.>` and on WatchIndicators.

mod common;

use common::registry_api::{project, report, start_registry, submit, under_construction};
use common::{PATIENCE, TestSystem, wait_for_value};
use futures::StreamExt;
use jilin_proto::Name;
use jilin_proto::events::v1 as events;
use jilin_proto::indicators::v1 as pb;
use prost::Message;

#[tokio::test]
async fn a_report_over_grpc_moves_the_value_the_stream_and_the_watchers() {
    let mut system = TestSystem::spawn().await;
    let (registry, mut registry_client) = start_registry(&system.nats, system.data.path()).await;

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

#[tokio::test]
async fn batches_of_reports_and_their_revisions_move_the_values_exactly() {
    let mut system = TestSystem::spawn().await;
    let (_registry, mut registry_client) = start_registry(&system.nats, system.data.path()).await;
    let sectors = [
        "automobile",
        "petrochemical",
        "agri-products-processing",
        "biotech",
        "biotech",
        "medicine-health",
    ];
    let mut parents = Vec::new();
    for (index, sector) in sectors.iter().enumerate() {
        let id = format!("batch-{index}");
        parents
            .push(under_construction(&mut registry_client, &id, project(sector, "220100")).await);
    }
    let batch = |outputs: [i64; 6]| jilin_proto::registry::v1::BatchReportProgressRequest {
        requests: parents
            .iter()
            .zip(outputs)
            .map(
                |(parent, output)| jilin_proto::registry::v1::ReportProgressRequest {
                    parent: parent.clone(),
                    report: Some(report("2026-01", output)),
                    request_id: String::new(),
                },
            )
            .collect(),
        request_id: String::new(),
    };
    // The value the indicator must have: pillar output over all output,
    // recomputed from what the batches reported.
    let pillar_share = |outputs: [i64; 6]| {
        let pillar: i64 = outputs[..3].iter().sum();
        100.0 * pillar as f64 / outputs.iter().sum::<i64>() as f64
    };

    let first = [100_000_000; 6];
    registry_client
        .batch_report_progress(batch(first))
        .await
        .unwrap();
    wait_for_value(
        &mut system,
        "pillar_output_share",
        "2026-01",
        pillar_share(first),
    )
    .await;

    // Every report revised in one batch: the values move by the exact
    // difference of each revision, not by its whole amount.
    let revised = [
        100_000_000,
        200_000_000,
        300_000_000,
        50_000_000,
        50_000_000,
        100_000_000,
    ];
    let reports = registry_client
        .batch_report_progress(batch(revised))
        .await
        .unwrap()
        .into_inner()
        .reports;
    assert!(reports.iter().all(|report| report.revision == 2));
    wait_for_value(
        &mut system,
        "pillar_output_share",
        "2026-01",
        pillar_share(revised),
    )
    .await;
    assert_eq!(pillar_share(revised), 75.0);
}
