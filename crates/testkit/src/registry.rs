//! Driving a running registry over gRPC as an agency would, for tests of
//! the services that follow it.

use jilin_proto::registry::v1 as registry;
use registry::registry_service_client::RegistryServiceClient;
use tonic::transport::Channel;

pub type RegistryClient = RegistryServiceClient<Channel>;

/// A valid project: a paint shop in Changchun's automobile sector, of the
/// agency `2201-drc`, planned from 2025-03 to 2027-06.
pub fn paint_shop() -> registry::Project {
    registry::Project {
        display_name: "FAW paint shop".into(),
        sector: "automobile".into(),
        region_code: "220100".into(),
        agency: "2201-drc".into(),
        planned_investment_yuan: 1_000_000_000,
        planned_start_date: "2025-03-01".into(),
        planned_end_date: "2027-06-30".into(),
        ..Default::default()
    }
}

/// Creates `project` as `projects/{id}` and moves it to
/// UNDER_CONSTRUCTION; returns its name.
pub async fn under_construction(
    client: &mut RegistryClient,
    id: &str,
    project: registry::Project,
) -> String {
    let created = client
        .create_project(registry::CreateProjectRequest {
            project_id: id.into(),
            project: Some(project),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    for status in [
        registry::project::Status::Approved,
        registry::project::Status::UnderConstruction,
    ] {
        client
            .transition_project(registry::TransitionProjectRequest {
                name: created.name.clone(),
                status: status.into(),
                reason: "on schedule".into(),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    created.name
}

/// Submits (or revises) one report of `parent`.
pub async fn submit(client: &mut RegistryClient, parent: &str, report: registry::ProgressReport) {
    client
        .report_progress(registry::ReportProgressRequest {
            parent: parent.into(),
            report: Some(report),
            request_id: String::new(),
        })
        .await
        .unwrap();
}
