//! What subscribers can rely on: repeated registry events make no second
//! alert or notification, WatchAlerts resumes after a disconnect with
//! exactly the missed changes, silences mute notifications but not
//! tracking, and alerts, silences and rule edits survive a restart without
//! a repeated notification.

mod common;

use std::time::Duration;

use common::*;
use jilin_proto::registry::v1 as registry;
use jilin_proto::risk::v1 as pb;
use prost_types::Timestamp;
use registry::project::Status;
use tokio_stream::StreamExt;

/// A project whose schedule lag is `50 - progress` points on [`NOW`]: its
/// first report (which carries the project, so one event judges both).
fn lagging(id: &str, progress: i32) -> Vec<jilin_testkit::bus::TestEvent> {
    vec![revised(id, progress, 1)]
}

fn revised(id: &str, progress: i32, revision: i64) -> jilin_testkit::bus::TestEvent {
    let site = project(id, Status::UnderConstruction);
    let mut report = report("2026-06", 500_000, progress);
    report.revision = revision;
    report_event(&site, &report)
}

fn seconds(seconds: i64) -> Timestamp {
    Timestamp { seconds, nanos: 0 }
}

/// 2026-07-01T00:00:00Z as a Unix time.
const NOW_UNIX: i64 = 1_782_864_000;

#[tokio::test]
async fn repeated_registry_events_make_no_second_alert_or_notification() {
    let mut system = TestRisk::spawn().await;
    let events = lagging("twice", 15);
    system.registry(&events, false).await;
    let alerts_once = system
        .alert("schedule_lag", "projects/twice")
        .await
        .unwrap();
    let published_once = system.risk_subjects().await;
    assert_eq!(published_once, ["jilin.risk.alert.firing.critical"]);
    // The same events again, really delivered again (no dedup header).
    system.registry(&events, false).await;
    system.registry(&events, false).await;
    assert_eq!(system.running().applied_events(), 1);
    assert_eq!(
        system
            .alert("schedule_lag", "projects/twice")
            .await
            .unwrap(),
        alerts_once
    );
    assert_eq!(system.risk_subjects().await, published_once);
    // A re-evaluation of an unchanged project notifies nothing either.
    system.running().evaluate_now().await.unwrap();
    assert_eq!(system.risk_subjects().await, published_once);
}

#[tokio::test]
async fn watch_alerts_resumes_with_exactly_the_missed_changes() {
    let mut system = TestRisk::spawn().await;
    let mut watch = system
        .client
        .watch_alerts(pb::WatchAlertsRequest {
            filter: "rule = schedule_lag".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    system.registry(&lagging("w1", 35), true).await;
    let first = tokio::time::timeout(PATIENCE, watch.next())
        .await
        .expect("a change in time")
        .unwrap()
        .unwrap();
    assert_eq!(first.change(), pb::alert_transition::Change::Firing);
    assert_eq!(first.alert.as_ref().unwrap().subject, "projects/w1");
    drop(watch);

    // While disconnected: an escalation, a resolution and a new alert.
    system.registry(&[revised("w1", 15, 2)], true).await;
    system.registry(&[revised("w1", 50, 3)], true).await;
    system.registry(&lagging("w2", 30), true).await;

    let mut resumed = system
        .client
        .watch_alerts(pb::WatchAlertsRequest {
            after_sequence: first.sequence,
            filter: "rule = schedule_lag".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut missed = Vec::new();
    for _ in 0..3 {
        let change = tokio::time::timeout(PATIENCE, resumed.next())
            .await
            .expect("a missed change")
            .unwrap()
            .unwrap();
        missed.push((change.change(), change.alert.unwrap().subject));
    }
    use pb::alert_transition::Change as C;
    assert_eq!(
        missed,
        [
            (C::Escalated, "projects/w1".to_owned()),
            (C::Resolved, "projects/w1".to_owned()),
            (C::Firing, "projects/w2".to_owned()),
        ]
    );
    // Nothing more than what was missed, then live changes follow.
    let quiet = tokio::time::timeout(Duration::from_millis(300), resumed.next()).await;
    assert!(
        quiet.is_err(),
        "no change beyond the missed ones: {quiet:?}"
    );
    system.registry(&[revised("w2", 50, 2)], true).await;
    let live = tokio::time::timeout(PATIENCE, resumed.next())
        .await
        .expect("a live change")
        .unwrap()
        .unwrap();
    assert_eq!(live.change(), C::Resolved);

    // Every sequence is numbered without gaps from the start.
    let mut all = system
        .client
        .watch_alerts(pb::WatchAlertsRequest {
            from_start: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut expected = 1;
    while let Ok(Some(change)) = tokio::time::timeout(Duration::from_millis(300), all.next()).await
    {
        assert_eq!(change.unwrap().sequence, expected);
        expected += 1;
    }
    assert!(expected > 5);
    let beyond = system
        .client
        .watch_alerts(pb::WatchAlertsRequest {
            after_sequence: 10_000,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(beyond.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn a_silenced_alert_is_tracked_but_not_published() {
    let mut system = TestRisk::spawn().await;
    let silence = system
        .client
        .create_silence(pb::CreateSilenceRequest {
            silence: Some(pb::Silence {
                matchers: vec![pb::silence::Matcher {
                    name: "region".into(),
                    value: "220100".into(),
                    negated: false,
                }],
                start_time: Some(seconds(NOW_UNIX - 60)),
                end_time: Some(seconds(NOW_UNIX + 86_400)),
                comment: "Changchun projects under review".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(silence.name.starts_with("silences/"));

    system.registry(&lagging("muted", 15), true).await;
    let alert = system
        .alert("schedule_lag", "projects/muted")
        .await
        .unwrap();
    assert_eq!(alert.state(), pb::alert::State::Firing, "still tracked");
    assert!(alert.silenced);
    assert!(system.risk_subjects().await.is_empty(), "nothing published");

    let listed = system
        .client
        .list_silences(pb::ListSilencesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .silences;
    assert_eq!(listed, std::slice::from_ref(&silence));
    system
        .client
        .delete_silence(pb::DeleteSilenceRequest {
            name: silence.name.clone(),
        })
        .await
        .unwrap();
    let alert = system
        .alert("schedule_lag", "projects/muted")
        .await
        .unwrap();
    assert!(!alert.silenced);
    // The next change is published again.
    system.registry(&[revised("muted", 50, 2)], true).await;
    let subjects = system.risk_subjects().await;
    assert!(subjects.contains(&"jilin.risk.alert.resolved.critical".to_owned()));

    // A silence that would mute everything, or ends before it starts, is refused.
    let before = system.running().fingerprint();
    let refused = system
        .client
        .create_silence(pb::CreateSilenceRequest {
            silence: Some(pb::Silence {
                start_time: Some(seconds(NOW_UNIX)),
                end_time: Some(seconds(NOW_UNIX - 1)),
                comment: "oops".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    let fields: Vec<_> = tonic_types::StatusExt::get_details_bad_request(&refused)
        .unwrap()
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect();
    assert!(
        fields.contains(&"silence.matchers".to_owned()),
        "{fields:?}"
    );
    assert!(fields.contains(&"silence.ends_at".to_owned()), "{fields:?}");
    assert_eq!(system.running().fingerprint(), before);
}

#[tokio::test]
async fn alerts_silences_and_rule_edits_survive_a_restart_without_repeats() {
    let mut system = TestRisk::spawn().await;
    let rule = system
        .client
        .get_rule(pb::GetRuleRequest {
            name: "rules/schedule_lag".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut edited = rule.clone();
    edited.bands[0].threshold = 5.0;
    edited.summary = "{subject}: {value} points late".into();
    let edited = system
        .client
        .update_rule(pb::UpdateRuleRequest {
            rule: Some(edited),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["bands".into(), "summary".into()],
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(edited.revision, 2);
    system
        .client
        .create_silence(pb::CreateSilenceRequest {
            silence: Some(pb::Silence {
                matchers: vec![pb::silence::Matcher {
                    name: "sector".into(),
                    value: "chemicals".into(),
                    negated: false,
                }],
                start_time: Some(seconds(NOW_UNIX)),
                end_time: Some(seconds(NOW_UNIX + 3_600)),
                comment: "maintenance".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    system.registry(&lagging("kept", 44), true).await;
    let alert = system.alert("schedule_lag", "projects/kept").await.unwrap();
    assert_eq!(
        alert.rule_revision, 2,
        "6 points is yellow under the edited rule"
    );
    assert_eq!(alert.summary, "projects/kept: 6.0 points late");
    let published = system.risk_subjects().await;
    let silences = system
        .client
        .list_silences(pb::ListSilencesRequest::default())
        .await
        .unwrap()
        .into_inner();

    system.restart().await;
    system.running().evaluate_now().await.unwrap();
    assert_eq!(
        system
            .client
            .get_rule(pb::GetRuleRequest {
                name: "rules/schedule_lag".into()
            })
            .await
            .unwrap()
            .into_inner(),
        edited
    );
    assert_eq!(
        system
            .client
            .list_silences(pb::ListSilencesRequest::default())
            .await
            .unwrap()
            .into_inner(),
        silences
    );
    assert_eq!(
        system.alert("schedule_lag", "projects/kept").await.unwrap(),
        alert
    );
    // Registry events are not applied twice either.
    system.registry(&lagging("kept", 44), true).await;
    assert_eq!(system.risk_subjects().await, published);
}
