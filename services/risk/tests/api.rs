//! The API as a client sees it: health and reflection, the rule catalog
//! and its validated edits, indicator rules created over gRPC, alert
//! filters and pages, and precise errors that leave the store untouched.

mod common;

use common::*;
use jilin_proto::indicators::v1 as indicators;
use jilin_proto::registry::v1 as registry;
use jilin_proto::risk::v1 as pb;
use jilin_testkit::grpc;
use prost_types::FieldMask;
use tonic_types::StatusExt;

fn violated_fields(status: &tonic::Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .expect("a BadRequest detail")
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect()
}

fn mask(paths: &[&str]) -> Option<FieldMask> {
    Some(FieldMask {
        paths: paths.iter().map(|p| p.to_string()).collect(),
    })
}

#[tokio::test]
async fn health_and_reflection_name_the_risk_service() {
    use tonic_health::pb::health_check_response::ServingStatus;
    let system = TestRisk::spawn().await;
    let channel = grpc::channel(system.running().addr()).await;
    let service = "jilin.risk.v1.RiskService";
    assert_eq!(
        grpc::health(channel.clone(), service).await,
        ServingStatus::Serving
    );
    let names = grpc::reflected_services(channel).await;
    assert!(names.iter().any(|n| n == service), "{names:?}");
}

#[tokio::test]
async fn the_builtin_pack_is_listed_and_edits_are_validated() {
    let mut system = TestRisk::spawn().await;
    let rules = system
        .client
        .list_rules(pb::ListRulesRequest {})
        .await
        .unwrap()
        .into_inner()
        .rules;
    assert_eq!(rules.len(), 12);
    assert!(rules.iter().all(|r| r.built_in && r.revision == 1));
    let lag = rules
        .iter()
        .find(|r| r.name == "rules/schedule_lag")
        .unwrap()
        .clone();
    assert_eq!(lag.kind(), pb::rule::Kind::ScheduleLag);

    let before = system.running().fingerprint();
    let mut bad = lag.clone();
    bad.bands[1].threshold = 5.0; // red before yellow
    bad.for_periods = 0;
    let refused = system
        .client
        .update_rule(pb::UpdateRuleRequest {
            rule: Some(bad),
            update_mask: mask(&["bands", "for_periods"]),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(
        violated_fields(&refused),
        ["rule.bands", "rule.for_periods"]
    );

    let refused = system
        .client
        .update_rule(pb::UpdateRuleRequest {
            rule: Some(lag.clone()),
            update_mask: mask(&["kind"]),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&refused), ["update_mask"]);

    let mut stale = lag.clone();
    stale.etag = "r0".into();
    let refused = system
        .client
        .update_rule(pb::UpdateRuleRequest {
            rule: Some(stale),
            update_mask: mask(&["summary"]),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Aborted);
    assert_eq!(system.running().fingerprint(), before, "nothing written");

    let mut edit = lag.clone();
    edit.keep_firing_for_periods = 2;
    let edited = system
        .client
        .update_rule(pb::UpdateRuleRequest {
            rule: Some(edit),
            update_mask: mask(&["rule.keep_firing_for_periods"]),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(edited.keep_firing_for_periods, 2);
    assert_eq!((edited.revision, edited.etag.as_str()), (2, "r2"));
    assert_eq!(edited.bands, lag.bands, "unmasked fields kept");

    let missing = system
        .client
        .get_rule(pb::GetRuleRequest {
            name: "rules/nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
}

fn regional_decline_rule() -> pb::Rule {
    pb::Rule {
        kind: pb::rule::Kind::Indicator.into(),
        indicator: Some(pb::rule::IndicatorMeasure {
            indicator: "indicators/output_growth".into(),
            group: "220200".into(),
            measure: pb::rule::indicator_measure::Measure::Value.into(),
        }),
        bands: vec![pb::Band {
            severity: pb::Severity::Warning.into(),
            comparison: pb::Comparison::Below.into(),
            threshold: -5.0,
        }],
        for_periods: 1,
        summary: "Jilin City output fell {value}%".into(),
        labels: [("team".to_owned(), "jilin-city".to_owned())].into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn indicator_rules_are_created_and_judge_their_group() {
    let mut system = TestRisk::spawn().await;
    let before = system.running().fingerprint();
    let mut project_kind = regional_decline_rule();
    project_kind.kind = pb::rule::Kind::ScheduleLag.into();
    project_kind.bands[0].comparison = 0;
    let refused = system
        .client
        .create_rule(pb::CreateRuleRequest {
            rule_id: "X".into(),
            rule: Some(project_kind),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(
        violated_fields(&refused),
        ["rule_id", "rule.kind", "rule.bands[0].comparison"]
    );
    assert_eq!(system.running().fingerprint(), before);

    let created = system
        .client
        .create_rule(pb::CreateRuleRequest {
            rule_id: "jilin_city_decline".into(),
            rule: Some(regional_decline_rule()),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.name, "rules/jilin_city_decline");
    assert!(!created.built_in);
    let again = system
        .client
        .create_rule(pb::CreateRuleRequest {
            rule_id: "jilin_city_decline".into(),
            rule: Some(regional_decline_rule()),
        })
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::AlreadyExists);

    let mut regional = value("output_growth", "2026-05", -6.5, None);
    regional.group_by = indicators::GroupBy::Region.into();
    regional.group = "220200".into();
    system.indicator_values(&[regional]).await;
    let alert = system
        .alert("jilin_city_decline", "indicators/output_growth")
        .await
        .unwrap();
    assert_eq!(alert.state(), pb::alert::State::Firing);
    assert_eq!(alert.summary, "Jilin City output fell -6.5%");
    assert_eq!(alert.labels["region"], "220200");
    assert_eq!(alert.labels["team"], "jilin-city");
}

#[tokio::test]
async fn alerts_are_filtered_and_paged() {
    let mut system = TestRisk::spawn().await;
    let mut events = Vec::new();
    for (index, region) in ["220102", "220102", "220203", "220203", "220204"]
        .iter()
        .enumerate()
    {
        let mut site = project(&format!("p{index}"), registry::project::Status::Suspended);
        site.region_code = region.to_string();
        events.push(project_event(&site));
    }
    system.registry(&events, true).await;
    let mut pages = Vec::new();
    let mut token = String::new();
    loop {
        let page = system
            .client
            .list_alerts(pb::ListAlertsRequest {
                page_size: 2,
                page_token: token.clone(),
                filter: "rule = suspended AND state = FIRING".into(),
            })
            .await
            .unwrap()
            .into_inner();
        pages.push(
            page.alerts
                .iter()
                .map(|a| a.subject.clone())
                .collect::<Vec<_>>(),
        );
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(
        pages,
        [
            vec!["projects/p0", "projects/p1"],
            vec!["projects/p2", "projects/p3"],
            vec!["projects/p4"]
        ]
    );
    let jilin_city = system
        .client
        .list_alerts(pb::ListAlertsRequest {
            filter: r#"region = "220200" AND severity = WARNING"#.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .alerts;
    let subjects: Vec<_> = jilin_city.iter().map(|a| a.subject.as_str()).collect();
    assert_eq!(subjects, ["projects/p2", "projects/p3", "projects/p4"]);

    let refused = system
        .client
        .list_alerts(pb::ListAlertsRequest {
            filter: "colour = red".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&refused), ["filter"]);
    let refused = system
        .client
        .get_alert(pb::GetAlertRequest {
            name: "suspended:projects:p0".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&refused), ["name"]);
}

#[tokio::test]
async fn accepted_connections_have_tcp_nodelay() {
    let system = TestRisk::spawn().await;
    assert!(grpc::accepted_socket_has_nodelay(system.running().addr()).await);
}

/// How many alerts ListAlerts lists in each state and severity, beside
/// what `jilin_alerts` says of them.
async fn listed_and_measured(system: &mut TestRisk) -> Vec<(String, usize, f64)> {
    let addr = system.running().metrics_addr().expect("metrics are served");
    let scrape = jilin_testkit::scrape(addr).await;
    let mut counts = Vec::new();
    for state in ["PENDING", "FIRING", "RESOLVED"] {
        for severity in ["WARNING", "CRITICAL"] {
            let mut listed = 0;
            let mut page_token = String::new();
            loop {
                let page = system
                    .client
                    .list_alerts(pb::ListAlertsRequest {
                        page_size: 1000,
                        page_token,
                        filter: format!("state = {state} AND severity = {severity}"),
                    })
                    .await
                    .unwrap()
                    .into_inner();
                listed += page.alerts.len();
                if page.next_page_token.is_empty() {
                    break;
                }
                page_token = page.next_page_token;
            }
            let series = format!(
                "jilin_alerts{{state=\"{}\",severity=\"{}\"}}",
                state.to_lowercase(),
                severity.to_lowercase()
            );
            let measured = jilin_testkit::sample(&scrape, &series)
                .unwrap_or_else(|| panic!("{series} is not in {scrape}"));
            counts.push((series, listed, measured));
        }
    }
    counts
}

#[tokio::test]
async fn the_alert_metric_counts_what_is_listed_through_every_change_and_a_restart() {
    use common::delivery::lagging;
    let mut system = TestRisk::spawn_with(|config| {
        config.deploy.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let mut events = vec![
        lagging("far-behind", 10, 1),
        lagging("behind", 30, 1),
        lagging("on-track", 90, 1),
    ];
    for id in ["halted-1", "halted-2"] {
        events.push(project_event(&project(
            id,
            registry::project::Status::Suspended,
        )));
    }
    system.registry(&events, true).await;
    // One catches up, one is acknowledged.
    system.registry(&[lagging("far-behind", 95, 2)], true).await;
    let behind = system
        .alert("schedule_lag", "projects/behind")
        .await
        .unwrap();
    system
        .client
        .acknowledge_alert(pb::AcknowledgeAlertRequest {
            name: behind.name,
            comment: "on it".into(),
            ..Default::default()
        })
        .await
        .unwrap();

    let counts = listed_and_measured(&mut system).await;
    for (series, listed, measured) in &counts {
        assert_eq!(*listed as f64, *measured, "{series}");
    }
    let kinds_held = counts.iter().filter(|(_, listed, _)| *listed > 0).count();
    assert!(kinds_held >= 2, "{counts:?}");

    system.restart().await;
    assert_eq!(listed_and_measured(&mut system).await, counts);
}
