//! The gRPC edge: decodes and checks requests, calls the use cases in
//! [`crate::service`], and encodes responses. No business rule lives here.

use jilin_proto::registry::v1 as pb;
use jilin_runtime::{Reply, principal};
use pb::registry_service_server::RegistryService;
use tonic::{Request, Response, Status};

use crate::convert;
use crate::domain::catalog;
use crate::domain::listing::{self, SortValue};
use crate::error::RegistryError;
use crate::events::Origin;
use crate::request::{self, ChildPage};
use crate::service::Registry;

pub struct RegistryApi {
    registry: Registry,
}

impl RegistryApi {
    pub fn new(registry: Registry) -> Self {
        Self { registry }
    }
}

/// Who asks (put on the request by the authenticator) and the trace the
/// request belongs to.
fn origin<T>(request: &Request<T>) -> Result<Origin, Status> {
    Ok(Origin {
        principal: principal(request)?,
        traceparent: jilin_runtime::trace::current_traceparent(
            request
                .metadata()
                .get("traceparent")
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default(),
        ),
    })
}

#[tonic::async_trait]
impl RegistryService for RegistryApi {
    async fn create_project(
        &self,
        request: Request<pb::CreateProjectRequest>,
    ) -> Reply<pb::Project> {
        let origin = origin(&request)?;
        let command = request::create_project(request.get_ref(), self.registry.clock().now())
            .map_err(RegistryError::from)?;
        let created = self.registry.create_project(command, &origin).await?;
        Ok(Response::new(convert::project_to_proto(&created)))
    }

    async fn get_project(&self, request: Request<pb::GetProjectRequest>) -> Reply<pb::Project> {
        let id =
            request::project_id(&request.get_ref().name, "name").map_err(RegistryError::from)?;
        let project = self.registry.get_project(&id)?;
        Ok(Response::new(convert::project_to_proto(&project)))
    }

    async fn list_projects(
        &self,
        request: Request<pb::ListProjectsRequest>,
    ) -> Reply<pb::ListProjectsResponse> {
        let list = request::list_projects(request.get_ref()).map_err(RegistryError::from)?;
        let page = self.registry.list_page(
            &list.filter,
            &list.order,
            &list.query,
            list.after,
            list.size,
        )?;
        Ok(Response::new(pb::ListProjectsResponse {
            projects: page
                .projects
                .iter()
                .map(convert::project_to_proto)
                .collect(),
            next_page_token: page.next_page_token,
            total_size: page.total_size as i32,
        }))
    }

    async fn update_project(
        &self,
        request: Request<pb::UpdateProjectRequest>,
    ) -> Reply<pb::Project> {
        let origin = origin(&request)?;
        let command = request::update_project(request.get_ref()).map_err(RegistryError::from)?;
        let updated = self.registry.update_project(command, &origin).await?;
        Ok(Response::new(convert::project_to_proto(&updated)))
    }

    async fn transition_project(
        &self,
        request: Request<pb::TransitionProjectRequest>,
    ) -> Reply<pb::Project> {
        let origin = origin(&request)?;
        let command =
            request::transition_project(request.get_ref()).map_err(RegistryError::from)?;
        let project = self.registry.transition_project(command, &origin).await?;
        Ok(Response::new(convert::project_to_proto(&project)))
    }

    async fn list_project_history(
        &self,
        request: Request<pb::ListProjectHistoryRequest>,
    ) -> Reply<pb::ListProjectHistoryResponse> {
        let request = request.get_ref();
        let page = request::child_page(
            &request.name,
            "name",
            self.registry.tables().history.name(),
            request.page_size,
            &request.page_token,
        )
        .map_err(RegistryError::from)?;
        let id = page.project_id.clone();
        let (entries, next_page_token) = self.keyed_page(&self.registry.tables().history, page)?;
        Ok(Response::new(pb::ListProjectHistoryResponse {
            entries: entries
                .iter()
                .map(|entry| convert::history_to_proto(&id, entry))
                .collect(),
            next_page_token,
        }))
    }

    async fn report_progress(
        &self,
        request: Request<pb::ReportProgressRequest>,
    ) -> Reply<pb::ProgressReport> {
        let origin = origin(&request)?;
        let command = request::report_progress(request.get_ref(), self.registry.clock().now())
            .map_err(RegistryError::from)?;
        let accepted = self.registry.report_progress(command, &origin).await?;
        Ok(Response::new(convert::report_to_proto(&accepted)))
    }

    async fn batch_report_progress(
        &self,
        request: Request<pb::BatchReportProgressRequest>,
    ) -> Reply<pb::BatchReportProgressResponse> {
        let origin = origin(&request)?;
        let command =
            request::batch_report_progress(request.get_ref(), self.registry.clock().now())
                .map_err(RegistryError::from)?;
        let accepted = self
            .registry
            .batch_report_progress(command, &origin)
            .await?;
        Ok(Response::new(pb::BatchReportProgressResponse {
            reports: accepted.iter().map(convert::report_to_proto).collect(),
        }))
    }

    async fn get_progress_report(
        &self,
        request: Request<pb::GetProgressReportRequest>,
    ) -> Reply<pb::ProgressReport> {
        let (id, period) =
            request::report_name(&request.get_ref().name).map_err(RegistryError::from)?;
        let report = self.registry.get_report(&id, period)?;
        Ok(Response::new(convert::report_to_proto(&report)))
    }

    async fn list_progress_reports(
        &self,
        request: Request<pb::ListProgressReportsRequest>,
    ) -> Reply<pb::ListProgressReportsResponse> {
        let request = request.get_ref();
        let page = request::child_page(
            &request.parent,
            "parent",
            self.registry.tables().reports.name(),
            request.page_size,
            &request.page_token,
        )
        .map_err(RegistryError::from)?;
        let (reports, next_page_token) = self.keyed_page(&self.registry.tables().reports, page)?;
        Ok(Response::new(pb::ListProgressReportsResponse {
            reports: reports.iter().map(convert::report_to_proto).collect(),
            next_page_token,
        }))
    }

    async fn list_sectors(
        &self,
        _request: Request<pb::ListSectorsRequest>,
    ) -> Reply<pb::ListSectorsResponse> {
        Ok(Response::new(pb::ListSectorsResponse {
            sectors: catalog::SECTORS
                .iter()
                .map(convert::sector_to_proto)
                .collect(),
        }))
    }

    async fn list_regions(
        &self,
        _request: Request<pb::ListRegionsRequest>,
    ) -> Reply<pb::ListRegionsResponse> {
        Ok(Response::new(pb::ListRegionsResponse {
            regions: catalog::REGIONS
                .iter()
                .map(convert::region_to_proto)
                .collect(),
        }))
    }
}

impl RegistryApi {
    /// One page of a project's child table (reports, history) in key order.
    fn keyed_page<V>(
        &self,
        table: &jilin_store::Table<V>,
        page: ChildPage,
    ) -> Result<(Vec<V>, String), RegistryError>
    where
        V: serde::Serialize + serde::de::DeserializeOwned,
    {
        self.registry.get_project(&page.project_id)?;
        let prefix = format!("{}/", page.project_id);
        let after = match page.after.as_deref() {
            Some([SortValue::Text(key)]) => key.clone(),
            _ => prefix.clone(),
        };
        let mut rows = table.scan_prefix_after(&prefix, &after, page.size + 1)?;
        let more = rows.len() > page.size;
        rows.truncate(page.size);
        let next_page_token = match rows.last() {
            Some((last, _)) if more => {
                listing::encode_token(&page.query, vec![SortValue::Text(last.clone())])
            }
            _ => String::new(),
        };
        Ok((
            rows.into_iter().map(|(_, value)| value).collect(),
            next_page_token,
        ))
    }
}
