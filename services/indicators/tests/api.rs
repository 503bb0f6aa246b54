//! The indicator API as a client sees it: the built-in catalog, user
//! definitions with their validation, and bad queries, each rejection with
//! its precise status and leaving the store exactly as it was.

mod common;

use common::{Code, TestSystem};
use jilin_proto::indicators::v1 as pb;
use tonic_types::StatusExt;

fn user_indicator(expression: &str) -> pb::Indicator {
    pb::Indicator {
        display_name: "Automobile share of output".into(),
        display_name_zh: "汽车产值占比".into(),
        description: "Automobile output over all output".into(),
        unit: "%".into(),
        direction: pb::Direction::HigherIsBetter.into(),
        concept: pb::Concept::Structure.into(),
        expression: expression.into(),
        targets: vec![pb::Target {
            year: 2026,
            value: 30.0,
        }],
        ..Default::default()
    }
}

async fn create(
    system: &mut TestSystem,
    id: &str,
    indicator: pb::Indicator,
) -> Result<pb::Indicator, tonic::Status> {
    system
        .client
        .create_indicator(pb::CreateIndicatorRequest {
            indicator_id: id.into(),
            indicator: Some(indicator),
        })
        .await
        .map(|r| r.into_inner())
}

fn violations(status: &tonic::Status) -> Vec<(String, String)> {
    status
        .get_details_bad_request()
        .expect("a BadRequest detail")
        .field_violations
        .into_iter()
        .map(|v| (v.field, v.description))
        .collect()
}

fn reason(status: &tonic::Status) -> String {
    status
        .get_details_error_info()
        .expect("an ErrorInfo")
        .reason
}

#[tokio::test]
async fn the_builtin_catalog_is_listed_and_protected() {
    let mut system = TestSystem::spawn().await;
    let all = system
        .client
        .list_indicators(pb::ListIndicatorsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .indicators;
    let ids: Vec<_> = all.iter().map(|i| i.name.as_str()).collect();
    for expected in [
        "indicators/pillar_output_share",
        "indicators/emerging_output_share",
        "indicators/rd_intensity",
        "indicators/energy_intensity",
        "indicators/energy_intensity_reduction",
        "indicators/export_share",
        "indicators/employment",
        "indicators/labour_productivity",
        "indicators/output_growth",
        "indicators/investment_completion_rate",
        "indicators/sector_concentration",
        "indicators/regional_dispersion",
        "indicators/changjitu_share",
        "indicators/revitalization_index",
    ] {
        assert!(ids.contains(&expected), "{expected} in {ids:?}");
    }
    assert!(all.iter().all(|i| i.built_in));
    let green = system
        .client
        .list_indicators(pb::ListIndicatorsRequest {
            concept: pb::Concept::Green.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .indicators;
    assert_eq!(green.len(), 2);

    let before = system.running().fingerprint();
    let refused = system
        .client
        .delete_indicator(pb::DeleteIndicatorRequest {
            name: "indicators/rd_intensity".into(),
            etag: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason(&refused), "BUILT_IN_INDICATOR");

    let mut changed = all
        .iter()
        .find(|i| i.name == "indicators/rd_intensity")
        .unwrap()
        .clone();
    changed.expression = "sum(rd_spend)".into();
    let refused = system
        .client
        .update_indicator(pb::UpdateIndicatorRequest {
            indicator: Some(changed.clone()),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["expression".into()],
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(system.running().fingerprint(), before);

    // Targets of a built-in are editable, guarded by the etag.
    changed.targets = vec![pb::Target {
        year: 2026,
        value: 2.5,
    }];
    let updated = system
        .client
        .update_indicator(pb::UpdateIndicatorRequest {
            indicator: Some(changed.clone()),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["targets".into()],
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.targets.len(), 1);
    assert_eq!(updated.revision, changed.revision + 1);
    assert_eq!(
        updated.expression, "sum(rd_spend) / sum(value_added) * 100",
        "only the masked field changed"
    );
    let stale = system
        .client
        .update_indicator(pb::UpdateIndicatorRequest {
            indicator: Some(changed),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["description".into()],
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
}

#[tokio::test]
async fn a_bad_definition_names_every_field_and_the_expression_position() {
    let mut system = TestSystem::spawn().await;
    let before = system.running().fingerprint();
    let mut bad = user_indicator("sum(output_value{sector=\"automobile\"}) / sum(output_value");
    bad.display_name.clear();
    bad.direction = 0;
    bad.targets.push(pb::Target {
        year: 2026,
        value: 1.0,
    });
    let status = create(&mut system, "Auto-Share", bad).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        violations(&status),
        [(
            "indicator_id".to_owned(),
            "must be 3 to 63 lower case letters, digits or '_', starting with a letter".to_owned()
        )]
    );
    let mut bad = user_indicator("sum(output_value{sector=\"automobile\"}) / sum(output_value");
    bad.display_name.clear();
    bad.direction = 0;
    bad.targets.push(pb::Target {
        year: 2026,
        value: 1.0,
    });
    let status = create(&mut system, "auto_share", bad).await.unwrap_err();
    let fields: Vec<_> = violations(&status);
    assert_eq!(
        fields.iter().map(|(f, _)| f.as_str()).collect::<Vec<_>>(),
        [
            "indicator.display_name",
            "indicator.direction",
            "indicator.expression",
            "indicator.targets[1].year"
        ]
    );
    assert_eq!(
        fields[2].1,
        "at position 58: expected ')', found end of input"
    );
    let unknown = create(
        &mut system,
        "auto_share",
        user_indicator("sum(output_value{city=\"x\"})"),
    )
    .await
    .unwrap_err();
    assert!(
        violations(&unknown)[0]
            .1
            .starts_with("at position 18: unknown label 'city'")
    );
    assert_eq!(system.running().fingerprint(), before);
}

#[tokio::test]
async fn user_indicators_are_created_referenced_and_deleted() {
    let mut system = TestSystem::spawn().await;
    let share = create(
        &mut system,
        "auto_share",
        user_indicator("sum(output_value{sector=\"automobile\"}) / sum(output_value) * 100"),
    )
    .await
    .unwrap();
    assert_eq!(share.name, "indicators/auto_share");
    assert!(!share.built_in);
    let again = create(
        &mut system,
        "auto_share",
        user_indicator("sum(output_value)"),
    )
    .await
    .unwrap_err();
    assert_eq!(again.code(), Code::AlreadyExists);

    create(
        &mut system,
        "auto_index",
        user_indicator("100 * attain(auto_share)"),
    )
    .await
    .unwrap();
    let cycle = system
        .client
        .update_indicator(pb::UpdateIndicatorRequest {
            indicator: Some(pb::Indicator {
                name: "indicators/auto_share".into(),
                expression: "attain(auto_index)".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["expression".into()],
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(cycle.code(), Code::InvalidArgument);
    assert!(violations(&cycle)[0].1.contains("lead back to auto_share"));

    let delete = |name: &str| pb::DeleteIndicatorRequest {
        name: name.into(),
        etag: String::new(),
    };
    let referenced = system
        .client
        .delete_indicator(delete("indicators/auto_share"))
        .await
        .unwrap_err();
    assert_eq!(referenced.code(), Code::FailedPrecondition);
    assert_eq!(reason(&referenced), "INDICATOR_REFERENCED");
    system
        .client
        .delete_indicator(delete("indicators/auto_index"))
        .await
        .unwrap();
    system
        .client
        .delete_indicator(delete("indicators/auto_share"))
        .await
        .unwrap();
    let gone = system
        .client
        .get_indicator(pb::GetIndicatorRequest {
            name: "indicators/auto_share".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
}

#[tokio::test]
async fn bad_queries_name_every_bad_field() {
    let mut system = TestSystem::spawn().await;
    let status = system
        .client
        .query_indicator(pb::QueryIndicatorRequest {
            name: "projects/x".into(),
            start_period: "2026-05".into(),
            end_period: "2026-02".into(),
            granularity: 9,
            group_by: pb::GroupBy::Region.into(),
            filter: "region=\"999999\"".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let fields: Vec<_> = violations(&status).into_iter().map(|(f, _)| f).collect();
    assert_eq!(fields, ["name", "end_period", "granularity", "filter"]);

    let too_long = system
        .query(
            "employment",
            "2000-01",
            "2026-01",
            pb::Granularity::Year,
            pb::GroupBy::None,
            "",
        )
        .await
        .unwrap_err();
    assert_eq!(
        violations(&too_long)[0].1,
        "a query spans at most 240 months"
    );

    let missing = system
        .query(
            "nothing_here",
            "2026-01",
            "2026-02",
            pb::Granularity::Month,
            pb::GroupBy::None,
            "",
        )
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);

    // An empty portfolio: sums are zero, ratios have no value.
    let empty = system
        .query(
            "pillar_output_share",
            "2026-01",
            "2026-06",
            pb::Granularity::Quarter,
            pb::GroupBy::None,
            "",
        )
        .await
        .unwrap();
    let points = &empty.series[0].points;
    assert_eq!(points.len(), 2);
    assert_eq!(points[0].period, "2026-Q1");
    assert_eq!(points[0].value, None);
    assert_eq!(points[0].target, Some(55.0));
}

#[tokio::test]
async fn health_and_reflection_name_the_indicator_service() {
    use jilin_testkit::grpc;
    use tonic_health::pb::health_check_response::ServingStatus;

    let system = TestSystem::spawn().await;
    let channel = grpc::channel(system.running().addr()).await;
    let service = "jilin.indicators.v1.IndicatorService";
    assert_eq!(
        grpc::health(channel.clone(), service).await,
        ServingStatus::Serving
    );
    let names = grpc::reflected_services(channel).await;
    assert!(names.iter().any(|n| n == service), "{names:?}");
    assert!(
        names.iter().any(|n| n == "grpc.health.v1.Health"),
        "{names:?}"
    );
}

#[tokio::test]
async fn accepted_connections_have_tcp_nodelay() {
    let system = TestSystem::spawn().await;
    assert!(jilin_testkit::grpc::accepted_socket_has_nodelay(system.running().addr()).await);
}
