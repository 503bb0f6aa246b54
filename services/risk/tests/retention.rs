//! Alert history is kept for its retention, then forgotten as the clock
//! runs forward: the numbered changes past it are removed and each alert
//! keeps only its recent transitions (and always its last).

mod common;

use common::*;
use jilin_proto::registry::v1::project::Status;
use jilin_proto::risk::v1 as pb;

#[tokio::test]
async fn old_changes_and_transitions_are_forgotten_after_their_retention() {
    let mut system = TestRisk::spawn().await;
    let site = project("site", Status::UnderConstruction);
    let mut behind = report("2026-06", 500_000, 15);
    behind.revision = 1;
    system.registry(&[report_event(&site, &behind)], true).await;
    let fired = system.alert("schedule_lag", "projects/site").await.unwrap();
    assert_eq!(fired.state(), pb::alert::State::Firing);
    assert_eq!(fired.history.len(), 1);

    // Within the year: nothing to forget.
    assert_eq!(system.running().forget_old_history().await.unwrap(), (0, 0));

    // Four hundred days on, a supervisor acknowledges it.
    system.set_clock("2027-08-05");
    let acked = system
        .client
        .acknowledge_alert(pb::AcknowledgeAlertRequest {
            name: fired.name.clone(),
            comment: "still behind".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(acked.history.len(), 2);
    let (changes, alerts) = system.running().forget_old_history().await.unwrap();
    assert_eq!(
        (changes, alerts),
        (1, 1),
        "the firing change and transition"
    );
    let kept = system.alert("schedule_lag", "projects/site").await.unwrap();
    assert_eq!(kept.history.len(), 1);
    assert_eq!(
        kept.history[0].change(),
        pb::alert_transition::Change::Acknowledged
    );
    assert_eq!(
        kept.state(),
        pb::alert::State::Firing,
        "the alert itself stays"
    );
}
