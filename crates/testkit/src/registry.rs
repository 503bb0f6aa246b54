//! Driving a running registry over gRPC as an agency would, for tests of
//! the services that follow it.

use jilin_proto::registry::v1 as registry;
use registry::registry_service_client::RegistryServiceClient;
use tonic::codegen::{Body, Bytes, StdError};
use tonic::transport::Channel;

pub type RegistryClient<T = Channel> = RegistryServiceClient<T>;

/// What a generated client can call through: a plain channel, or one
/// whose calls carry credentials.
pub trait Transport:
    tonic::client::GrpcService<
        tonic::body::Body,
        Error: Into<StdError>,
        ResponseBody: Body<Data = Bytes, Error: Into<StdError> + Send> + Send + 'static,
    >
{
}

impl<T> Transport for T where
    T: tonic::client::GrpcService<
            tonic::body::Body,
            Error: Into<StdError>,
            ResponseBody: Body<Data = Bytes, Error: Into<StdError> + Send> + Send + 'static,
        >
{
}

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
pub async fn under_construction<T: Transport>(
    client: &mut RegistryClient<T>,
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
pub async fn submit<T: Transport>(
    client: &mut RegistryClient<T>,
    parent: &str,
    report: registry::ProgressReport,
) {
    client
        .report_progress(registry::ReportProgressRequest {
            parent: parent.into(),
            report: Some(report),
            request_id: String::new(),
        })
        .await
        .unwrap();
}
