//! The project RPCs over real gRPC: happy paths, every error with its code
//! and field violations, idempotency, etags and the status machine.

mod common;

use common::{Code, TestApp, reason, sample_project, violated_fields};
use jilin_proto::registry::v1 as pb;
use pb::project::Status;

#[tokio::test]
async fn create_then_get_returns_the_stored_project() {
    let mut app = TestApp::spawn().await;
    let created = app.create("hongqi-body-shop", sample_project()).await;
    assert_eq!(created.name, "projects/hongqi-body-shop");
    assert_eq!(created.status(), Status::Proposed);
    assert_eq!(created.group, "pillar");
    assert_eq!(created.revision, 1);
    assert!(!created.etag.is_empty());
    assert!(created.create_time.is_some());
    assert_eq!(
        created.milestones[0].status(),
        pb::milestone::Status::Scheduled
    );

    let fetched = app
        .client
        .get_project(pb::GetProjectRequest {
            name: created.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fetched, created);
}

#[tokio::test]
async fn a_server_generated_id_is_used_when_none_is_given() {
    let mut app = TestApp::spawn().await;
    let created = app.create("", sample_project()).await;
    assert!(created.name.starts_with("projects/p-"), "{}", created.name);
}

#[tokio::test]
async fn invalid_create_names_every_bad_field_and_changes_nothing() {
    let mut app = TestApp::spawn().await;
    app.create("existing", sample_project()).await;
    let before = app.fingerprint();

    let bad = pb::Project {
        display_name: String::new(),
        sector: "shipbuilding".into(),
        region_code: "110000".into(),
        planned_investment_yuan: -5,
        planned_start_date: "2026-01-01".into(),
        planned_end_date: "2025-01-01".into(),
        ..sample_project()
    };
    let status = app
        .client
        .create_project(pb::CreateProjectRequest {
            project: Some(bad),
            project_id: "Bad_ID".into(),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(reason(&status), "INVALID_FIELDS");
    assert_eq!(
        violated_fields(&status),
        [
            "project_id",
            "project.display_name",
            "project.sector",
            "project.region_code",
            "project.planned_investment_yuan",
            "project.planned_end_date",
        ]
    );

    let missing = app
        .client
        .create_project(pb::CreateProjectRequest::default())
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&missing), ["project"]);

    let duplicate = app
        .client
        .create_project(pb::CreateProjectRequest {
            project: Some(sample_project()),
            project_id: "existing".into(),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(duplicate.code(), Code::AlreadyExists);
    assert_eq!(
        app.fingerprint(),
        before,
        "rejected calls must not touch the store"
    );
}

#[tokio::test]
async fn a_retried_create_with_the_same_request_id_returns_the_same_project() {
    let mut app = TestApp::spawn().await;
    let request = pb::CreateProjectRequest {
        project: Some(sample_project()),
        project_id: String::new(),
        request_id: "0b7e0c3a-retry".into(),
    };
    let first = app
        .client
        .create_project(request.clone())
        .await
        .unwrap()
        .into_inner();
    let before = app.fingerprint();
    let second = app
        .client
        .create_project(request)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, second);
    assert_eq!(app.fingerprint(), before, "a retry writes nothing");
    let listed = app
        .client
        .list_projects(pb::ListProjectsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.projects.len(), 1);
}

#[tokio::test]
async fn get_errors() {
    let mut app = TestApp::spawn().await;
    let missing = app
        .client
        .get_project(pb::GetProjectRequest {
            name: "projects/nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    assert_eq!(reason(&missing), "RESOURCE_NOT_FOUND");
    let malformed = app
        .client
        .get_project(pb::GetProjectRequest {
            name: "project/x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(malformed.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&malformed), ["name"]);
}

#[tokio::test]
async fn update_applies_the_mask_and_rejects_stale_etags() {
    let mut app = TestApp::spawn().await;
    let created = app.create("plant", sample_project()).await;

    let updated = app
        .client
        .update_project(pb::UpdateProjectRequest {
            project: Some(pb::Project {
                name: created.name.clone(),
                etag: created.etag.clone(),
                display_name: "Renamed plant".into(),
                agency: "not-in-mask".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["display_name".into()],
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.display_name, "Renamed plant");
    assert_eq!(updated.agency, created.agency);
    assert_eq!(updated.revision, 2);
    assert_ne!(updated.etag, created.etag);

    let before = app.fingerprint();
    let stale = app
        .client
        .update_project(pb::UpdateProjectRequest {
            project: Some(pb::Project {
                name: created.name.clone(),
                etag: created.etag.clone(),
                display_name: "Lost update".into(),
                ..Default::default()
            }),
            update_mask: None,
        })
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    assert_eq!(reason(&stale), "ETAG_MISMATCH");

    let bad_mask = app
        .client
        .update_project(pb::UpdateProjectRequest {
            project: Some(pb::Project {
                name: created.name.clone(),
                planned_investment_yuan: -1,
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec![
                    "status".into(),
                    "colour".into(),
                    "planned_investment_yuan".into(),
                ],
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_mask.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&bad_mask), ["update_mask", "update_mask"]);

    let bad_value = app
        .client
        .update_project(pb::UpdateProjectRequest {
            project: Some(pb::Project {
                name: created.name.clone(),
                planned_end_date: "2020-01-01".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["planned_end_date".into()],
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&bad_value), ["project.planned_end_date"]);

    let missing = app
        .client
        .update_project(pb::UpdateProjectRequest {
            project: Some(pb::Project {
                name: "projects/ghost".into(),
                display_name: "x".into(),
                ..Default::default()
            }),
            update_mask: None,
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    assert_eq!(app.fingerprint(), before);
}

#[tokio::test]
async fn every_legal_transition_succeeds_and_every_illegal_one_names_the_allowed_targets() {
    let mut app = TestApp::spawn().await;
    use Status::*;
    let legal: &[(Status, &[Status])] = &[
        (Proposed, &[Approved, Cancelled]),
        (Approved, &[UnderConstruction, Suspended, Cancelled]),
        (UnderConstruction, &[Operating, Suspended, Cancelled]),
        (Operating, &[]),
        (Cancelled, &[]),
    ];
    let path_to = |status: Status| -> Vec<Status> {
        match status {
            Proposed => vec![],
            Approved => vec![Approved],
            UnderConstruction => vec![Approved, UnderConstruction],
            Operating => vec![Approved, UnderConstruction, Operating],
            Cancelled => vec![Cancelled],
            _ => unreachable!(),
        }
    };
    let all = [
        Proposed,
        Approved,
        UnderConstruction,
        Operating,
        Suspended,
        Cancelled,
    ];
    let mut counter = 0;
    for (from, allowed) in legal {
        for target in all {
            counter += 1;
            let id = format!("p{counter}");
            let created = app.create(&id, sample_project()).await;
            for step in path_to(*from) {
                app.transition(&created.name, step).await.unwrap();
            }
            let before = app.fingerprint();
            let outcome = app.transition(&created.name, target).await;
            if allowed.contains(&target) {
                let moved = outcome.unwrap_or_else(|e| panic!("{from:?} -> {target:?}: {e}"));
                assert_eq!(moved.status(), target);
            } else {
                let status = outcome.unwrap_err();
                assert_eq!(
                    status.code(),
                    Code::FailedPrecondition,
                    "{from:?} -> {target:?}"
                );
                assert_eq!(reason(&status), "ILLEGAL_TRANSITION");
                for allowed in *allowed {
                    assert!(
                        status.message().contains(allowed.as_str_name()),
                        "{}",
                        status.message()
                    );
                }
                assert_eq!(app.fingerprint(), before);
            }
        }
    }
}

#[tokio::test]
async fn suspension_resumes_to_where_the_project_was_and_sets_actual_dates() {
    let mut app = TestApp::spawn().await;
    let project = app.project_under_construction("resume").await;
    assert!(!project.actual_start_date.is_empty());
    let suspended = app
        .transition(&project.name, Status::Suspended)
        .await
        .unwrap();
    assert_eq!(suspended.suspended_from(), Status::UnderConstruction);
    let wrong = app
        .transition(&project.name, Status::Approved)
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Code::FailedPrecondition);
    assert!(wrong.message().contains("UNDER_CONSTRUCTION"));
    let resumed = app
        .transition(&project.name, Status::UnderConstruction)
        .await
        .unwrap();
    assert_eq!(resumed.actual_start_date, project.actual_start_date);
    let done = app
        .transition(&project.name, Status::Operating)
        .await
        .unwrap();
    assert!(!done.actual_end_date.is_empty());
}

#[tokio::test]
async fn transition_request_errors() {
    let mut app = TestApp::spawn().await;
    let created = app.create("t", sample_project()).await;
    let before = app.fingerprint();
    let status = app
        .client
        .transition_project(pb::TransitionProjectRequest {
            name: created.name.clone(),
            status: 0,
            reason: " ".into(),
            etag: String::new(),
            effective_date: "yesterday".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        violated_fields(&status),
        ["status", "reason", "effective_date"]
    );

    let stale = app
        .client
        .transition_project(pb::TransitionProjectRequest {
            name: created.name.clone(),
            status: Status::Approved as i32,
            reason: "approved by the provincial DRC".into(),
            etag: "\"r0\"".into(),
            effective_date: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    assert_eq!(app.fingerprint(), before);
}

#[tokio::test]
async fn history_records_every_change_with_actor_and_reason() {
    let mut app = TestApp::spawn().await;
    let mut request = tonic::Request::new(pb::CreateProjectRequest {
        project: Some(sample_project()),
        project_id: "h".into(),
        request_id: String::new(),
    });
    request
        .metadata_mut()
        .insert("x-jilin-actor", "li.wei@jilin-drc".parse().unwrap());
    app.client.create_project(request).await.unwrap();
    app.transition("projects/h", Status::Approved)
        .await
        .unwrap();
    app.transition("projects/h", Status::UnderConstruction)
        .await
        .unwrap();
    app.report("projects/h", common::sample_report("2026-01"), "")
        .await
        .unwrap();
    app.report("projects/h", common::sample_report("2026-01"), "")
        .await
        .unwrap();

    let mut entries = Vec::new();
    let mut token = String::new();
    loop {
        let page = app
            .client
            .list_project_history(pb::ListProjectHistoryRequest {
                name: "projects/h".into(),
                page_size: 2,
                page_token: token,
            })
            .await
            .unwrap()
            .into_inner();
        entries.extend(page.entries);
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    use pb::history_entry::Action;
    let actions: Vec<_> = entries.iter().map(|e| e.action()).collect();
    assert_eq!(
        actions,
        [
            Action::Created,
            Action::Transitioned,
            Action::Transitioned,
            Action::ReportSubmitted,
            Action::ReportRevised
        ]
    );
    assert_eq!(entries[0].actor, "li.wei@jilin-drc");
    assert_eq!(entries[1].actor, "anonymous");
    assert_eq!(entries[1].reason, "move to APPROVED");
    assert_eq!(entries[2].from_status(), Status::Approved);
    assert_eq!(entries[4].report, "projects/h/reports/2026-01");
    assert_eq!(entries[4].report_revision, 2);
}

#[tokio::test]
async fn catalog_lists_sectors_and_regions() {
    let mut app = TestApp::spawn().await;
    let sectors = app
        .client
        .list_sectors(pb::ListSectorsRequest {})
        .await
        .unwrap()
        .into_inner()
        .sectors;
    let automobile = sectors.iter().find(|s| s.code == "automobile").unwrap();
    assert_eq!(automobile.group, "pillar");
    assert_eq!(automobile.industry_codes, ["C36"]);
    for group in [
        "pillar",
        "advantageous",
        "emerging",
        "traditional",
        "services",
    ] {
        assert!(sectors.iter().any(|s| s.group == group), "{group}");
    }
    let regions = app
        .client
        .list_regions(pb::ListRegionsRequest {})
        .await
        .unwrap()
        .into_inner()
        .regions;
    assert_eq!(regions.len(), 9);
    let changjitu: Vec<_> = regions
        .iter()
        .filter(|r| r.changjitu)
        .map(|r| r.code.as_str())
        .collect();
    assert_eq!(changjitu, ["220100", "220200", "222400"]);
}

/// A request over the documented size is refused before it is parsed, and
/// changes nothing.
#[tokio::test]
async fn an_oversized_request_is_refused_whole() {
    let mut app = TestApp::spawn().await;
    let before = app.fingerprint();
    let huge = pb::Project {
        description: "x".repeat(jilin_runtime::MAX_REQUEST_BYTES + 1),
        ..sample_project()
    };
    let refused = app
        .client
        .create_project(pb::CreateProjectRequest {
            project_id: "huge".into(),
            project: Some(huge),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::OutOfRange, "{refused:?}");
    assert_eq!(app.fingerprint(), before);
    app.client
        .list_projects(pb::ListProjectsRequest::default())
        .await
        .expect("still serving");
}
