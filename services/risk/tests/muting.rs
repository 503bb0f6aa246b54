//! What mutes a delivery, and what happens when the muting ends: a
//! suspended project's schedule lag is held back by the built-in
//! inhibition and delivered once the project resumes lagging; an
//! inhibition of an operator's mutes from its source alert, whether its
//! source names a rule or not; an alert that fired under a silence is
//! delivered once the silence ends. Real
//! nats-server, a real HTTP receiver, the risk clock moved by hand.

mod common;

use common::delivery::*;
use common::hook::Hook;
use common::*;
use jilin_proto::registry::v1 as registry;
use jilin_proto::risk::v1 as pb;
use registry::project::Status;

/// `id` as the registry publishes a change of status (revision 2 on).
fn with_status(id: &str, status: Status, revision: i64) -> jilin_testkit::bus::TestEvent {
    let mut site = project(id, status);
    site.revision = revision;
    project_event(&site)
}

fn alert_names(post: &hook::Received) -> Vec<(String, String)> {
    post.json()["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|alert| {
            (
                alert["alert"].as_str().unwrap().to_owned(),
                alert["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// A webhook receiver, `site_desk`, taking every critical alert grouped
/// by project after a 60 s `group_wait`; and the risk clock's now.
async fn site_desk(system: &mut TestRisk) -> (Hook, time::OffsetDateTime) {
    let hook = Hook::start().await;
    webhook(system, "site_desk", &hook.url(), 60).await;
    route(system, "site_desk", &["project"], 60).await;
    (hook, system.running().clock().now())
}

/// What [`alert_names`] gives for a notification of one firing alert.
fn firing_only(alert: &str) -> Vec<(String, String)> {
    vec![(alert.to_owned(), "firing".to_owned())]
}

/// A silence of `project`'s alerts for the hour from `start`.
async fn silence_project(
    system: &mut TestRisk,
    project: &str,
    start: time::OffsetDateTime,
) -> pb::Silence {
    system
        .client
        .create_silence(pb::CreateSilenceRequest {
            silence: Some(pb::Silence {
                matchers: vec![pb::silence::Matcher {
                    name: "project".into(),
                    value: project.into(),
                    negated: false,
                }],
                start_time: Some(jilin_proto::timestamp(start)),
                end_time: Some(jilin_proto::timestamp(start + time::Duration::hours(1))),
                comment: "under review".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner()
}

#[tokio::test]
async fn a_suspended_projects_lag_waits_until_it_resumes() {
    let mut system = TestRisk::spawn().await;
    // The lag outlives a clear reading for three periods: it still fires
    // while the project is suspended, which is what the inhibition is for.
    let mut rule = system
        .client
        .get_rule(pb::GetRuleRequest {
            name: "rules/schedule_lag".into(),
        })
        .await
        .unwrap()
        .into_inner();
    rule.keep_firing_for_periods = 3;
    system
        .client
        .update_rule(pb::UpdateRuleRequest {
            rule: Some(rule),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["keep_firing_for_periods".into()],
            }),
        })
        .await
        .unwrap();
    let (hook, start) = site_desk(&mut system).await;

    system.registry(&[lagging("kiln", 15, 1)], true).await;
    system
        .registry(&[with_status("kiln", Status::Suspended, 2)], true)
        .await;
    let lag = system.alert("schedule_lag", "projects/kiln").await.unwrap();
    assert_eq!(lag.state(), pb::alert::State::Firing);
    let suspended = system.alert("suspended", "projects/kiln").await.unwrap();
    assert_eq!(suspended.state(), pb::alert::State::Firing);
    move_clock(&system, start, 60).await;
    move_clock(&system, start, 360).await;
    assert!(
        deliveries(&mut system, pb::delivery::State::Unspecified)
            .await
            .is_empty(),
        "the lag of a suspended project is not delivered"
    );

    // Building again, still behind: the lag is told.
    system
        .registry(&[with_status("kiln", Status::UnderConstruction, 3)], true)
        .await;
    let suspended = system.alert("suspended", "projects/kiln").await.unwrap();
    assert_eq!(suspended.state(), pb::alert::State::Resolved);
    move_clock(&system, start, 660).await;
    let posts = hook.wait_for(1).await;
    assert_eq!(
        alert_names(&posts[0]),
        firing_only("alerts/schedule_lag:projects:kiln")
    );
}

fn matcher(label: &str, value: &str) -> pb::RouteMatcher {
    pb::RouteMatcher {
        label: label.into(),
        operator: pb::route_matcher::Operator::Equal.into(),
        value: value.into(),
    }
}

/// Two lagging projects of one region, with an inhibition whose source is
/// the lag of the first (`source` matchers) muting the region's other
/// lags: only the first is delivered.
async fn the_anchor_lag_mutes_the_regions_others(source: Vec<pb::RouteMatcher>) {
    let mut system = TestRisk::spawn().await;
    system
        .client
        .create_inhibition(pb::CreateInhibitionRequest {
            inhibition_id: "anchor_mutes_region".into(),
            inhibition: Some(pb::Inhibition {
                source_matchers: source,
                target_matchers: vec![matcher("rule", "schedule_lag")],
                equal: vec!["region".into()],
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    let (hook, start) = site_desk(&mut system).await;
    system
        .registry(&[lagging("anchor", 15, 1), lagging("kiln", 15, 1)], true)
        .await;

    move_clock(&system, start, 60).await;
    let posts = hook.wait_for(1).await;
    assert_eq!(
        alert_names(&posts[0]),
        firing_only("alerts/schedule_lag:projects:anchor")
    );
    assert_eq!(
        deliveries(&mut system, pb::delivery::State::Unspecified)
            .await
            .len(),
        1,
        "the kiln's lag is muted"
    );
}

#[tokio::test]
async fn an_inhibition_whose_source_names_a_rule_mutes_from_that_rules_alert() {
    the_anchor_lag_mutes_the_regions_others(vec![
        matcher("rule", "schedule_lag"),
        matcher("project", "anchor"),
    ])
    .await;
}

#[tokio::test]
async fn an_inhibition_whose_source_names_no_rule_mutes_from_any_alert() {
    the_anchor_lag_mutes_the_regions_others(vec![
        matcher("project", "anchor"),
        matcher("severity", "critical"),
    ])
    .await;
}

#[tokio::test]
async fn an_alert_that_fired_under_a_silence_is_delivered_when_it_ends() {
    let mut system = TestRisk::spawn().await;
    let hook = Hook::start().await;
    webhook(&mut system, "silent_desk", &hook.url(), 60).await;
    route(&mut system, "silent_desk", &["project"], 0).await;
    let start = system.running().clock().now();
    let silence = silence_project(&mut system, "quiet", start).await;
    assert!(silence.name.starts_with("silences/"));

    system.registry(&[lagging("quiet", 10, 1)], true).await;
    system.registry(&[lagging("loud", 10, 1)], true).await;
    move_clock(&system, start, 0).await;
    let posts = hook.wait_for(1).await;
    let told: Vec<_> = posts.iter().flat_map(alert_names).collect();
    assert!(
        told.iter().all(|(alert, _)| alert.ends_with(":loud")),
        "{told:?}"
    );

    // Still silenced at each look, every group_interval; told at the
    // first after its end.
    for tick in 1..12 {
        move_clock(&system, start, tick * 300).await;
    }
    assert_eq!(hook.received().len(), 1);
    // (The loud one's repeat_interval ends then too: it is sent again.)
    move_clock(&system, start, 3600).await;
    let posts = hook.wait_for(3).await;
    let told: Vec<_> = posts[1..].iter().flat_map(alert_names).collect();
    let quiet = (
        "alerts/schedule_lag:projects:quiet".to_owned(),
        "firing".to_owned(),
    );
    assert!(told.contains(&quiet), "{told:?}");
}

#[tokio::test]
async fn a_change_kept_off_nats_by_a_silence_is_published_when_it_is_deleted() {
    let mut system = TestRisk::spawn().await;
    let start = system.running().clock().now();
    let silence = silence_project(&mut system, "hushed", start).await;
    system.registry(&[lagging("hushed", 10, 1)], true).await;
    assert!(system.risk_subjects().await.is_empty(), "muted");

    system
        .client
        .delete_silence(pb::DeleteSilenceRequest { name: silence.name })
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + PATIENCE;
    let events = loop {
        let events = system.risk_events().await;
        if !events.is_empty() {
            break events;
        }
        assert!(std::time::Instant::now() < deadline, "never published");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let (subject, change) = &events[0];
    assert_eq!(subject, "jilin.risk.alert.firing.critical");
    assert_eq!(
        change.alert.as_ref().unwrap().name,
        "alerts/schedule_lag:projects:hushed"
    );
    // Once: the next looks find nothing held back.
    system.running().dispatch_now().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(system.risk_events().await.len(), 1);
}
