//! The whole system as `jilin up` runs it, with a small seeded demo
//! loaded through the public API, checked as a client sees it: projects
//! listed with filters and pages, an indicator by region equal to a
//! recomputation from the loaded reports, the expected alerts firing, and
//! an acknowledgement in the alert's history, on WatchAlerts and on NATS.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use jilin_domain::{Period, prefecture_of};
use jilin_proto::indicators::v1 as indicators;
use jilin_proto::registry::v1 as registry;
use jilin_proto::risk::v1 as risk;
use registry::project::Status;
use tokio_stream::StreamExt;

#[tokio::test]
async fn the_demo_system_answers_as_its_data_says() {
    let running = start(30).await;
    let [registry_url, indicators_url, risk_url] = urls(&running.system);
    let until = running.plan.loaded_until;

    // Projects under construction, listed three at a time.
    let mut registry_client = registry::registry_service_client::RegistryServiceClient::new(
        authed(&running.system, &registry_url, "admin").await,
    );
    let expected: BTreeSet<String> = running
        .projects
        .iter()
        .filter(|p| p.status_at(until) == Status::UnderConstruction)
        .map(|p| format!("projects/{}", p.id))
        .collect();
    assert!(
        expected.len() > 3,
        "the demo has several projects under construction"
    );
    let mut listed = BTreeSet::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = registry_client
            .list_projects(registry::ListProjectsRequest {
                page_size: 3,
                page_token: token,
                filter: "status = UNDER_CONSTRUCTION".into(),
                order_by: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(page.total_size as usize, expected.len());
        listed.extend(page.projects.into_iter().map(|p| p.name));
        pages += 1;
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(listed, expected);
    assert_eq!(pages, expected.len().div_ceil(3));

    // Energy intensity by prefecture for 2025, recomputed from the reports.
    let mut sums: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for project in &running.projects {
        let region = prefecture_of(&project.draft.region_code)
            .unwrap()
            .code
            .to_owned();
        let mut month = Period::parse("2025-01").unwrap();
        while month <= until {
            if let Some(report) = project.month(month).report {
                let sum = sums.entry(region.clone()).or_default();
                sum.0 += report.energy_kgce;
                sum.1 += report.value_added_yuan;
            }
            month = month.next().unwrap();
        }
    }
    let mut indicators_client = indicators::indicator_service_client::IndicatorServiceClient::new(
        authed(&running.system, &indicators_url, "analyst").await,
    );
    let response = indicators_client
        .query_indicator(indicators::QueryIndicatorRequest {
            name: "indicators/energy_intensity".into(),
            start_period: "2025-01".into(),
            end_period: "2025-12".into(),
            granularity: indicators::Granularity::Year.into(),
            group_by: indicators::GroupBy::Region.into(),
            filter: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.series.len(), 9, "one series per prefecture");
    let mut compared = 0;
    for series in &response.series {
        let value = series.points[0].value;
        match sums.get(&series.group) {
            Some((energy, added)) if *added > 0 => {
                let expected = *energy as f64 / *added as f64 * 10_000.0;
                let got = value.unwrap_or_else(|| panic!("{} has reports", series.group));
                assert!(
                    (got - expected).abs() <= expected.abs() * 1e-9,
                    "{}: {got} vs {expected}",
                    series.group
                );
                compared += 1;
            }
            _ => assert_eq!(value, None, "{} has no value added", series.group),
        }
    }
    assert!(compared >= 3, "several prefectures have data");

    // The suspended projects are exactly the suspension alerts firing.
    running.system.risk.evaluate_now().await.unwrap();
    let mut risk_client = risk::risk_service_client::RiskServiceClient::new(
        authed(&running.system, &risk_url, "supervisor").await,
    );
    let suspended: BTreeSet<String> = running
        .projects
        .iter()
        .filter(|p| p.status_at(until) == Status::Suspended)
        .map(|p| format!("projects/{}", p.id))
        .collect();
    assert!(!suspended.is_empty(), "the demo suspends some projects");
    let firing = risk_client
        .list_alerts(risk::ListAlertsRequest {
            page_size: 500,
            filter: "rule = suspended AND state = FIRING".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .alerts;
    let firing_subjects: BTreeSet<String> = firing.iter().map(|a| a.subject.clone()).collect();
    assert_eq!(firing_subjects, suspended);
    let lagging = risk_client
        .list_alerts(risk::ListAlertsRequest {
            page_size: 500,
            filter: "state = FIRING AND severity = CRITICAL".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .alerts;
    assert!(
        !lagging.is_empty(),
        "projects behind, stalled or not started are red"
    );

    // An acknowledgement: in the history, on WatchAlerts and on NATS. The
    // actor is the supervisor's token subject, whatever a header claims.
    let mut watch = risk_client
        .watch_alerts(risk::WatchAlertsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let target = firing[0].name.clone();
    let before_ack = {
        let jetstream = jilin_bus::async_nats::jetstream::new(watcher(&running.system).await);
        let stream = jetstream.get_stream("JILIN_RISK").await.unwrap();
        stream.get_info().await.unwrap().state.last_sequence
    };
    let mut request = tonic::Request::new(risk::AcknowledgeAlertRequest {
        name: target.clone(),
        comment: "inspection booked".into(),
        ..Default::default()
    });
    request
        .metadata_mut()
        .insert("x-jilin-actor", "somebody.else".parse().unwrap());
    let acked = risk_client
        .acknowledge_alert(request)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(acked.acknowledged_by, "users/dev-supervisor");
    let history = risk_client
        .get_alert(risk::GetAlertRequest {
            name: target.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .history;
    assert_eq!(
        history.last().unwrap().change(),
        risk::alert_transition::Change::Acknowledged
    );
    assert_eq!(
        history.last().unwrap().note,
        "users/dev-supervisor: inspection booked"
    );
    // Among the changes streamed since the watch began: the demo keeps
    // changing other alerts meanwhile.
    let streamed = tokio::time::timeout(PATIENCE, async {
        while let Some(change) = watch.next().await {
            let change = change.unwrap();
            if change.change() == risk::alert_transition::Change::Acknowledged {
                return change.alert.unwrap().name;
            }
        }
        panic!("the watch ended before the acknowledgement")
    })
    .await
    .expect("the acknowledgement is streamed");
    assert_eq!(streamed, target);

    // On NATS: among what JILIN_RISK got since just before the
    // acknowledgement (other alert changes may follow it).
    let jetstream = jilin_bus::async_nats::jetstream::new(watcher(&running.system).await);
    let stream = jetstream.get_stream("JILIN_RISK").await.unwrap();
    let deadline = std::time::Instant::now() + PATIENCE;
    let mut next = before_ack + 1;
    'published: loop {
        let last = stream.get_info().await.unwrap().state.last_sequence;
        while next <= last {
            let message = stream.get_raw_message(next).await.unwrap();
            next += 1;
            let about_target = message
                .headers
                .get("ce-subject")
                .is_some_and(|subject| subject.as_str() == target);
            if about_target && message.subject.as_str() == "jilin.risk.alert.acknowledged.warning" {
                break 'published;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the acknowledgement is never published"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // What the metrics say of it: the alerts firing, each consumer's
    // progress through the registry's stream.
    let [_, indicators_metrics, risk_metrics] = running
        .system
        .metrics_addrs()
        .map(|addr| addr.expect("metrics are served"));
    let risk_scrape = jilin_testkit::scrape(risk_metrics).await;
    let firing: f64 = ["warning", "critical"]
        .iter()
        .filter_map(|severity| {
            jilin_testkit::sample(
                &risk_scrape,
                &format!("jilin_alerts{{state=\"firing\",severity=\"{severity}\"}}"),
            )
        })
        .sum();
    assert!(firing >= 1.0, "{risk_scrape}");
    let indicators_scrape = jilin_testkit::scrape(indicators_metrics).await;
    let consumer = "{stream=\"JILIN_REGISTRY\",consumer=\"jilin-indicators\"}";
    let applied = jilin_testkit::sample(
        &indicators_scrape,
        &format!("jilin_consumer_last_applied_sequence{consumer}"),
    );
    assert!(applied.unwrap_or(0.0) > 0.0, "{indicators_scrape}");
    assert!(
        jilin_testkit::sample(
            &indicators_scrape,
            &format!("jilin_consumer_lag_seconds{consumer}")
        )
        .is_some(),
        "{indicators_scrape}"
    );
    running.system.shutdown().await;
}
