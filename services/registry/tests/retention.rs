//! Request ids are remembered for their retention window (a retry gets
//! the first outcome back), then forgotten, as the clock runs forward.

mod common;

use common::*;
use jilin_runtime::ClockSetting;
use time::OffsetDateTime;

/// Reports October with the same request id every time; its revision.
async fn submit(app: &mut TestApp, parent: &str) -> i64 {
    app.report(parent, sample_report("2026-10"), "report-once")
        .await
        .unwrap()
        .revision
}

#[tokio::test]
async fn request_ids_are_forgotten_after_their_retention() {
    let mut app = TestApp::spawn().await;
    let now: OffsetDateTime = OffsetDateTime::parse(
        jilin_testkit::TEST_NOW,
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let parent = app.project_under_construction("kept").await.name;
    assert_eq!(submit(&mut app, &parent).await, 1);

    // Six days on: still remembered, the retry is answered with revision 1.
    app.running()
        .clock()
        .set(ClockSetting::Fixed(now + time::Duration::days(6)));
    assert_eq!(app.running().forget_old_requests().await.unwrap(), 0);
    assert_eq!(
        submit(&mut app, &parent).await,
        1,
        "a retry within the window"
    );

    // Eight days on: forgotten; the same id now makes a new revision.
    app.running()
        .clock()
        .set(ClockSetting::Fixed(now + time::Duration::days(8)));
    assert_eq!(app.running().forget_old_requests().await.unwrap(), 1);
    assert_eq!(submit(&mut app, &parent).await, 2, "the id was forgotten");
}
