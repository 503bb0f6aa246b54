//! BatchReportProgress over real gRPC: all of the batch or none of it,
//! every refused item named, idempotent with its request id, one event per
//! report.

mod common;

use common::{Code, TestApp, reason, sample_report, violated_fields};
use jilin_proto::registry::v1 as pb;

fn item(parent: &str, report: pb::ProgressReport) -> pb::ReportProgressRequest {
    pb::ReportProgressRequest {
        parent: parent.into(),
        report: Some(report),
        request_id: String::new(),
    }
}

async fn batch(
    app: &mut TestApp,
    requests: Vec<pb::ReportProgressRequest>,
    request_id: &str,
) -> Result<Vec<pb::ProgressReport>, tonic::Status> {
    app.client
        .batch_report_progress(pb::BatchReportProgressRequest {
            requests,
            request_id: request_id.into(),
        })
        .await
        .map(|response| response.into_inner().reports)
}

/// Three projects under construction, `b0`, `b1`, `b2`.
async fn three_projects(app: &mut TestApp) -> Vec<String> {
    let mut names = Vec::new();
    for index in 0..3 {
        let project = app.project_under_construction(&format!("b{index}")).await;
        names.push(project.name);
    }
    names
}

#[tokio::test]
async fn a_batch_stores_every_report_with_one_event_each() {
    let mut app = TestApp::spawn().await;
    let names = three_projects(&mut app).await;
    app.report(&names[0], sample_report("2026-01"), "")
        .await
        .unwrap();
    let events_before = 3 * 3 + 1;

    let requests = vec![
        item(&names[0], sample_report("2026-01")),
        item(&names[0], sample_report("2026-02")),
        item(&names[1], sample_report("2026-02")),
        item(&names[2], sample_report("2026-02")),
    ];
    let reports = batch(&mut app, requests, "").await.unwrap();
    let named: Vec<_> = reports
        .iter()
        .map(|r| (r.name.as_str(), r.revision))
        .collect();
    assert_eq!(
        named,
        [
            ("projects/b0/reports/2026-01", 2),
            ("projects/b0/reports/2026-02", 1),
            ("projects/b1/reports/2026-02", 1),
            ("projects/b2/reports/2026-02", 1),
        ],
        "in the order of the requests, a resubmission as the next revision"
    );
    for report in &reports {
        let stored = app
            .client
            .get_progress_report(pb::GetProgressReportRequest {
                name: report.name.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(&stored, report);
    }

    let messages = app.stream_messages(events_before + 4).await;
    let batch_events: Vec<_> = messages[events_before as usize..]
        .iter()
        .map(|message| message.subject.to_string())
        .collect();
    assert_eq!(
        batch_events,
        [
            "jilin.registry.report.revised",
            "jilin.registry.report.submitted",
            "jilin.registry.report.submitted",
            "jilin.registry.report.submitted",
        ]
    );
}

#[tokio::test]
async fn a_batch_with_bad_items_stores_nothing_and_names_each() {
    let mut app = TestApp::spawn().await;
    let names = three_projects(&mut app).await;
    let before = app.fingerprint();

    let requests = vec![
        item(&names[0], sample_report("2026-02")),
        item(
            &names[1],
            pb::ProgressReport {
                employment: -1,
                ..sample_report("2026-02")
            },
        ),
        item(&names[2], sample_report("2026-02")),
        item("projects/Not A Name", sample_report("2026-02")),
        item(&names[2], sample_report("2026-02")),
        pb::ReportProgressRequest {
            request_id: "mine".into(),
            ..item(&names[0], sample_report("2026-03"))
        },
    ];
    let refused = batch(&mut app, requests, "").await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    assert_eq!(
        violated_fields(&refused),
        [
            "requests[1].report.employment",
            "requests[3].parent",
            "requests[4].report.period",
            "requests[5].request_id",
        ]
    );
    assert_eq!(app.fingerprint(), before, "nothing stored");

    // Items that parse but that the stored state refuses: none is stored
    // either, and the status is the first refusal's own.
    app.transition(&names[2], pb::project::Status::Cancelled)
        .await
        .unwrap();
    let before = app.fingerprint();
    let requests = vec![
        item(&names[0], sample_report("2026-02")),
        item("projects/nowhere", sample_report("2026-02")),
        item(&names[2], sample_report("2026-02")),
        item(&names[0], sample_report("2019-02")),
    ];
    let refused = batch(&mut app, requests, "").await.unwrap_err();
    assert_eq!(refused.code(), Code::NotFound, "{refused:?}");
    assert!(
        refused
            .message()
            .starts_with("requests[1]: projects/nowhere not found")
            && refused
                .message()
                .contains("requests[1], requests[2], requests[3]"),
        "{}",
        refused.message()
    );
    assert_eq!(app.fingerprint(), before, "nothing stored");

    let refused = batch(
        &mut app,
        vec![
            item(&names[0], sample_report("2026-02")),
            item(&names[2], sample_report("2026-02")),
        ],
        "",
    )
    .await
    .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason(&refused), "PROJECT_NOT_REPORTING");
    assert_eq!(app.fingerprint(), before, "nothing stored");
}

#[tokio::test]
async fn a_batch_is_one_to_a_thousand_reports() {
    let mut app = TestApp::spawn().await;
    let names = three_projects(&mut app).await;
    let before = app.fingerprint();
    let empty = batch(&mut app, Vec::new(), "").await.unwrap_err();
    assert_eq!(violated_fields(&empty), ["requests"]);
    let too_many = (0..1001)
        .map(|_| item(&names[0], sample_report("2026-02")))
        .collect();
    let refused = batch(&mut app, too_many, "").await.unwrap_err();
    assert_eq!(violated_fields(&refused), ["requests"]);
    assert!(refused.message().contains("invalid"), "{refused:?}");
    assert_eq!(app.fingerprint(), before);
}

#[tokio::test]
async fn a_retried_batch_returns_the_first_result_and_makes_no_revision() {
    let mut app = TestApp::spawn().await;
    let names = three_projects(&mut app).await;
    let requests = || {
        names
            .iter()
            .map(|name| item(name, sample_report("2026-03")))
            .collect::<Vec<_>>()
    };
    let first = batch(&mut app, requests(), "batch-0001").await.unwrap();
    let fingerprint = app.fingerprint();
    app.restart().await;
    let retried = batch(&mut app, requests(), "batch-0001").await.unwrap();
    assert_eq!(retried, first);
    assert_eq!(app.fingerprint(), fingerprint, "the retry changed nothing");

    let another = batch(&mut app, requests(), "batch-0002").await.unwrap();
    assert!(another.iter().all(|report| report.revision == 2));
}
