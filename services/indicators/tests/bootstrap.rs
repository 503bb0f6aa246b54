//! When JILIN_REGISTRY has lost its oldest events, a fresh indicator
//! service catches up from the registry over gRPC and then replays what
//! the stream still holds, counting nothing twice.

mod common;

use std::time::{Duration, Instant};

use common::registry_api::{project, report, start_registry, submit, under_construction};
use common::{PATIENCE, config, connect, start_indicators};
use jilin_bus::{REGISTRY_STREAM, async_nats};
use jilin_proto::indicators::v1 as pb;
use jilin_testkit::NatsServer;

#[tokio::test]
async fn a_fresh_service_catches_up_from_the_registry_when_events_aged_out() {
    let nats = NatsServer::start().await;
    let data = tempfile::tempdir().unwrap();
    let (registry, mut registry_client) = start_registry(&nats, data.path()).await;
    let car = under_construction(
        &mut registry_client,
        "faw-paint-shop",
        project("automobile", "220100"),
    )
    .await;
    let bio = under_construction(
        &mut registry_client,
        "tonghua-pharma",
        project("medicine-health", "220500"),
    )
    .await;
    for (month, car_output, bio_output) in [
        ("2026-01", 300, 100),
        ("2026-02", 200, 200),
        ("2026-03", 500, 100),
    ] {
        submit(
            &mut registry_client,
            &car,
            report(month, car_output * 1_000_000),
        )
        .await;
        submit(
            &mut registry_client,
            &bio,
            report(month, bio_output * 1_000_000),
        )
        .await;
    }
    // A revision whose event stays in the stream, over one that ages out.
    submit(&mut registry_client, &car, report("2026-02", 600_000_000)).await;
    let deadline = Instant::now() + PATIENCE;
    while registry.pending_events() > 0 {
        assert!(Instant::now() < deadline, "registry events never published");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The oldest events age out: keep only the last three.
    let jetstream = async_nats::jetstream::new(async_nats::connect(nats.url()).await.unwrap());
    let stream = jetstream.get_stream(REGISTRY_STREAM.name).await.unwrap();
    stream.purge().keep(3).await.unwrap();

    let mut config = config(&nats, data.path(), "jilin-indicators");
    config.registry_url = format!("http://{}", registry.addr());
    let indicators = start_indicators(&config).await;
    let mut client = connect(&indicators).await;
    client
        .create_indicator(pb::CreateIndicatorRequest {
            indicator_id: "total_output".into(),
            indicator: Some(pb::Indicator {
                display_name: "Output".into(),
                display_name_zh: "产值".into(),
                unit: "yuan".into(),
                direction: pb::Direction::HigherIsBetter.into(),
                concept: pb::Concept::Structure.into(),
                expression: "sum(output_value)".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap();

    let expected = [Some(400e6), Some(800e6), Some(600e6)];
    let deadline = Instant::now() + PATIENCE;
    loop {
        let response = client
            .query_indicator(pb::QueryIndicatorRequest {
                name: "indicators/total_output".into(),
                start_period: "2026-01".into(),
                end_period: "2026-03".into(),
                granularity: pb::Granularity::Month.into(),
                group_by: pb::GroupBy::None.into(),
                filter: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        let values: Vec<_> = response.series[0].points.iter().map(|p| p.value).collect();
        if values == expected {
            break;
        }
        assert!(Instant::now() < deadline, "values stayed {values:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let building = client
        .query_indicator(pb::QueryIndicatorRequest {
            name: "indicators/projects_under_construction".into(),
            start_period: jilin_testkit::test_month().into(),
            end_period: jilin_testkit::test_month().into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(building.series[0].points[0].value, Some(2.0));
    indicators.shutdown().await.unwrap();
    registry.shutdown().await.unwrap();
}
