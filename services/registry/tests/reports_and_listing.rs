//! Progress reports and project listings over real gRPC.

mod common;

use common::{Code, TestApp, reason, sample_project, sample_report, violated_fields};
use jilin_proto::registry::v1 as pb;
use pb::project::Status;

#[tokio::test]
async fn a_report_is_stored_and_a_resubmission_is_the_next_revision() {
    let mut app = TestApp::spawn().await;
    let project = app.project_under_construction("r").await;
    let first = app
        .report(&project.name, sample_report("2026-02"), "")
        .await
        .unwrap();
    assert_eq!(first.name, "projects/r/reports/2026-02");
    assert_eq!(first.revision, 1);
    let corrected = pb::ProgressReport {
        physical_progress_percent: 33,
        ..sample_report("2026-02")
    };
    let second = app.report(&project.name, corrected, "").await.unwrap();
    assert_eq!(second.revision, 2);
    assert_eq!(second.physical_progress_percent, 33);
    app.report(&project.name, sample_report("2026-01"), "")
        .await
        .unwrap();

    let fetched = app
        .client
        .get_progress_report(pb::GetProgressReportRequest {
            name: first.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fetched, second);

    let listed = app
        .client
        .list_progress_reports(pb::ListProgressReportsRequest {
            parent: project.name.clone(),
            page_size: 1,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.reports[0].period, "2026-01", "ordered by period");
    let rest = app
        .client
        .list_progress_reports(pb::ListProgressReportsRequest {
            parent: project.name.clone(),
            page_size: 1,
            page_token: listed.next_page_token,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.reports[0].period, "2026-02");
    assert!(rest.next_page_token.is_empty());
}

#[tokio::test]
async fn a_retried_report_with_the_same_request_id_is_applied_once() {
    let mut app = TestApp::spawn().await;
    let project = app.project_under_construction("idem").await;
    let first = app
        .report(&project.name, sample_report("2026-03"), "req-1")
        .await
        .unwrap();
    let before = app.fingerprint();
    let retry = app
        .report(&project.name, sample_report("2026-03"), "req-1")
        .await
        .unwrap();
    assert_eq!(first, retry);
    assert_eq!(app.fingerprint(), before);
    let next = app
        .report(&project.name, sample_report("2026-03"), "req-2")
        .await
        .unwrap();
    assert_eq!(next.revision, 2);
}

#[tokio::test]
async fn invalid_reports_name_every_bad_field_and_change_nothing() {
    let mut app = TestApp::spawn().await;
    let project = app.project_under_construction("bad").await;
    let proposed = app.create("still-proposed", sample_project()).await;
    let before = app.fingerprint();

    let bad = pb::ProgressReport {
        period: "2099-01".into(),
        energy_kgce: -3,
        output_value_yuan: 10,
        value_added_yuan: 11,
        physical_progress_percent: 140,
        ..Default::default()
    };
    let status = app.report("not-a-name", bad, "").await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        violated_fields(&status),
        [
            "parent",
            "report.period",
            "report.energy_kgce",
            "report.value_added_yuan",
            "report.physical_progress_percent"
        ]
    );

    let too_early = app
        .report(&project.name, sample_report("2024-12"), "")
        .await
        .unwrap_err();
    assert_eq!(too_early.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&too_early), ["report.period"]);

    let not_reporting = app
        .report(&proposed.name, sample_report("2026-01"), "")
        .await
        .unwrap_err();
    assert_eq!(not_reporting.code(), Code::FailedPrecondition);
    assert_eq!(reason(&not_reporting), "PROJECT_NOT_REPORTING");

    let missing = app
        .report("projects/ghost", sample_report("2026-01"), "")
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);

    let missing_report = app
        .client
        .get_progress_report(pb::GetProgressReportRequest {
            name: format!("{}/reports/2026-05", project.name),
        })
        .await
        .unwrap_err();
    assert_eq!(missing_report.code(), Code::NotFound);
    let malformed = app
        .client
        .get_progress_report(pb::GetProgressReportRequest {
            name: format!("{}/reports/May", project.name),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&malformed), ["name"]);
    assert_eq!(app.fingerprint(), before);
}

async fn seed_portfolio(app: &mut TestApp) {
    let specs = [
        ("a-auto", "automobile", "220100", &["changjitu"][..], 5_000),
        ("b-petro", "petrochemical", "220200", &[][..], 9_000),
        ("c-bio", "biotech", "220182", &["ecological"][..], 1_000),
        (
            "d-tour",
            "tourism",
            "222400",
            &["changjitu", "ecological"][..],
            3_000,
        ),
        ("e-steel", "metallurgy", "220500", &[][..], 7_000),
    ];
    for (id, sector, region, tags, investment) in specs {
        let project = pb::Project {
            sector: sector.into(),
            region_code: region.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            planned_investment_yuan: investment,
            display_name: id.to_uppercase(),
            ..sample_project()
        };
        app.create(id, project).await;
    }
    app.transition("projects/a-auto", Status::Approved)
        .await
        .unwrap();
    app.transition("projects/a-auto", Status::UnderConstruction)
        .await
        .unwrap();
    app.transition("projects/c-bio", Status::Approved)
        .await
        .unwrap();
}

async fn list(
    app: &mut TestApp,
    filter: &str,
    order_by: &str,
) -> Result<Vec<String>, tonic::Status> {
    let mut ids = Vec::new();
    let mut token = String::new();
    loop {
        let page = app
            .client
            .list_projects(pb::ListProjectsRequest {
                page_size: 2,
                page_token: token,
                filter: filter.into(),
                order_by: order_by.into(),
            })
            .await?
            .into_inner();
        ids.extend(
            page.projects
                .into_iter()
                .map(|p| p.name.trim_start_matches("projects/").to_owned()),
        );
        if page.next_page_token.is_empty() {
            return Ok(ids);
        }
        token = page.next_page_token;
    }
}

#[tokio::test]
async fn list_projects_filters_orders_and_pages() {
    let mut app = TestApp::spawn().await;
    seed_portfolio(&mut app).await;
    assert_eq!(
        list(&mut app, "", "").await.unwrap(),
        ["a-auto", "b-petro", "c-bio", "d-tour", "e-steel"]
    );
    assert_eq!(
        list(
            &mut app,
            r#"status = UNDER_CONSTRUCTION AND region_code = "220100""#,
            ""
        )
        .await
        .unwrap(),
        ["a-auto"]
    );
    assert_eq!(
        list(&mut app, "group = pillar", "").await.unwrap(),
        ["a-auto", "b-petro"]
    );
    assert_eq!(
        list(&mut app, "tags:ecological OR tags:changjitu", "")
            .await
            .unwrap(),
        ["a-auto", "c-bio", "d-tour"]
    );
    assert_eq!(
        list(&mut app, r#"prefecture = "220100""#, "")
            .await
            .unwrap(),
        ["a-auto", "c-bio"]
    );
    assert_eq!(
        list(&mut app, "NOT status = PROPOSED", "").await.unwrap(),
        ["a-auto", "c-bio"]
    );
    assert_eq!(
        list(&mut app, "agency = changchun-drc AND sector = tourism", "")
            .await
            .unwrap(),
        ["d-tour"]
    );
    assert_eq!(
        list(&mut app, "", "planned_investment_yuan desc")
            .await
            .unwrap(),
        ["b-petro", "e-steel", "a-auto", "d-tour", "c-bio"]
    );

    let response = app
        .client
        .list_projects(pb::ListProjectsRequest {
            page_size: 2,
            filter: "group = pillar OR group = emerging".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.total_size, 3);
}

#[tokio::test]
async fn list_projects_rejects_bad_arguments_precisely() {
    let mut app = TestApp::spawn().await;
    seed_portfolio(&mut app).await;
    let status = app
        .client
        .list_projects(pb::ListProjectsRequest {
            page_size: -1,
            page_token: "forged".into(),
            filter: "status = BUILDING".into(),
            order_by: "budget".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        violated_fields(&status),
        ["page_size", "filter", "order_by", "page_token"]
    );
    assert!(
        status
            .get_details_bad_request_description("filter")
            .contains("position 9")
    );

    let first = app
        .client
        .list_projects(pb::ListProjectsRequest {
            page_size: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let reused = app
        .client
        .list_projects(pb::ListProjectsRequest {
            page_size: 1,
            page_token: first.next_page_token,
            filter: "group = pillar".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&reused), ["page_token"]);
}

trait BadRequestDescription {
    fn get_details_bad_request_description(&self, field: &str) -> String;
}

impl BadRequestDescription for tonic::Status {
    fn get_details_bad_request_description(&self, field: &str) -> String {
        use tonic_types::StatusExt;
        self.get_details_bad_request()
            .and_then(|bad| bad.field_violations.into_iter().find(|v| v.field == field))
            .map(|v| v.description)
            .unwrap_or_default()
    }
}

#[tokio::test]
async fn child_listings_reject_bad_parents_and_tokens() {
    let mut app = TestApp::spawn().await;
    let project = app.project_under_construction("kids").await;

    let missing = app
        .client
        .list_progress_reports(pb::ListProgressReportsRequest {
            parent: "projects/ghost".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    let malformed = app
        .client
        .list_progress_reports(pb::ListProgressReportsRequest {
            parent: "ghost".into(),
            page_size: -3,
            page_token: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&malformed), ["parent", "page_size"]);

    let history = app
        .client
        .list_project_history(pb::ListProjectHistoryRequest {
            name: project.name.clone(),
            page_size: 1,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    // A history token is not a report token.
    let foreign = app
        .client
        .list_progress_reports(pb::ListProgressReportsRequest {
            parent: project.name.clone(),
            page_size: 1,
            page_token: history.next_page_token,
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&foreign), ["page_token"]);
    let missing_history = app
        .client
        .list_project_history(pb::ListProjectHistoryRequest {
            name: "projects/ghost".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(missing_history.code(), Code::NotFound);
}

/// One request must not take the service down: a filter nested 3,000 deep
/// once overflowed the parser's stack and aborted the whole process.
#[tokio::test]
async fn a_hostile_filter_is_refused_and_the_service_stays_up() {
    let mut app = TestApp::spawn().await;
    for filter in [
        format!("{}x", "(".repeat(3000)),
        format!("{}x", "(".repeat(1000)),
        format!("{}status = APPROVED", "NOT ".repeat(500)),
        format!("status = {}", "X".repeat(100_000)),
    ] {
        let refused = app
            .client
            .list_projects(pb::ListProjectsRequest {
                filter,
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument);
        assert_eq!(violated_fields(&refused), ["filter"]);
    }
    app.client
        .list_projects(pb::ListProjectsRequest::default())
        .await
        .expect("still serving");
}

#[tokio::test]
async fn listings_follow_each_change_and_a_restart() {
    let mut app = TestApp::spawn().await;
    seed_portfolio(&mut app).await;
    let filter = "status = UNDER_CONSTRUCTION OR region_code = \"220200\"";
    assert_eq!(
        list(&mut app, filter, "").await.unwrap(),
        ["a-auto", "b-petro"]
    );

    // A transition and an update move projects in and out of the filter.
    app.transition("projects/c-bio", Status::UnderConstruction)
        .await
        .unwrap();
    app.client
        .update_project(pb::UpdateProjectRequest {
            project: Some(pb::Project {
                name: "projects/b-petro".into(),
                region_code: "220300".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["region_code".into()],
            }),
        })
        .await
        .unwrap();
    let expected = ["a-auto", "c-bio"];
    assert_eq!(list(&mut app, filter, "").await.unwrap(), expected);
    assert_eq!(
        list(
            &mut app,
            "region_code = \"220300\" AND sector = petrochemical",
            ""
        )
        .await
        .unwrap(),
        ["b-petro"]
    );

    app.restart().await;
    assert_eq!(list(&mut app, filter, "").await.unwrap(), expected);
}
