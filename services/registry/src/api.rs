//! The gRPC edge: decodes and checks requests, calls the use cases in
//! [`crate::service`], and encodes responses. No business rule lives here.

use jilin_proto::registry::v1 as pb;
use pb::registry_service_server::RegistryService;
use tonic::{Request, Response, Status};

use crate::convert;
use crate::domain::listing::{self, OrderBy, SortValue};
use crate::domain::project::{self, MUTABLE_FIELDS, OUTPUT_ONLY_FIELDS, is_valid_project_id};
use crate::domain::report;
use crate::domain::{Period, Violations, catalog, filter::Filter};
use crate::error::RegistryError;
use crate::events::Origin;
use crate::service::{CreateProject, Registry, ReportProgress, TransitionProject, UpdateProject};

/// Request header naming the person or system making a change.
pub const ACTOR_HEADER: &str = "x-jilin-actor";
const MAX_REQUEST_ID: usize = 128;
const MAX_REASON: usize = 1000;

pub struct RegistryApi {
    registry: Registry,
}

impl RegistryApi {
    pub fn new(registry: Registry) -> Self {
        Self { registry }
    }
}

type Reply<T> = Result<Response<T>, Status>;

fn origin<T>(request: &Request<T>) -> Origin {
    let header = |name: &str| {
        request
            .metadata()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    Origin {
        actor: header(ACTOR_HEADER)
            .filter(|actor| !actor.is_empty())
            .unwrap_or_else(|| "anonymous".to_owned()),
        traceparent: header("traceparent").unwrap_or_default(),
    }
}

/// `projects/{id}` -> id, or a field violation on `field`.
fn project_id<'a>(name: &'a str, field: &str, violations: &mut Violations) -> &'a str {
    match name.strip_prefix("projects/") {
        Some(id) if is_valid_project_id(id) => id,
        _ => {
            violations.add(
                field,
                format!("`{name}` is not a project name `projects/{{project_id}}`"),
            );
            ""
        }
    }
}

fn check_request_id(request_id: &str, violations: &mut Violations) -> Option<String> {
    violations.check(
        request_id.len() <= MAX_REQUEST_ID && request_id.chars().all(|c| c.is_ascii_graphic()),
        "request_id",
        format!("at most {MAX_REQUEST_ID} printable ASCII characters (a UUID is best)"),
    );
    (!request_id.is_empty()).then(|| request_id.to_owned())
}

fn check_etag(etag: &str) -> Option<String> {
    (!etag.is_empty()).then(|| etag.to_owned())
}

fn fail(violations: Violations) -> Result<(), RegistryError> {
    violations
        .into_result(())
        .map_err(RegistryError::InvalidArgument)
}

/// Resolves an update mask to mutable field names.
fn resolve_mask(
    mask: Option<&prost_types::FieldMask>,
    project: &pb::Project,
    violations: &mut Violations,
) -> Vec<&'static str> {
    let paths = mask.map(|mask| mask.paths.as_slice()).unwrap_or_default();
    if paths.is_empty() {
        let implied = convert::populated_fields(project);
        violations.check(
            !implied.is_empty(),
            "update_mask",
            "nothing to update: set update_mask or some mutable fields",
        );
        return implied;
    }
    if paths.iter().any(|path| path == "*") {
        return MUTABLE_FIELDS.to_vec();
    }
    let mut fields = Vec::new();
    for path in paths {
        let path = path.strip_prefix("project.").unwrap_or(path);
        if let Some(field) = MUTABLE_FIELDS.iter().find(|field| **field == path) {
            if !fields.contains(field) {
                fields.push(*field);
            }
        } else if OUTPUT_ONLY_FIELDS.contains(&path) {
            violations.add("update_mask", format!("`{path}` is output only"));
        } else {
            violations.add("update_mask", format!("`{path}` is not a field of Project"));
        }
    }
    fields
}

#[tonic::async_trait]
impl RegistryService for RegistryApi {
    async fn create_project(
        &self,
        request: Request<pb::CreateProjectRequest>,
    ) -> Reply<pb::Project> {
        let origin = origin(&request);
        let request = request.into_inner();
        let mut violations = Violations::new();
        let id = if request.project_id.is_empty() {
            format!("p-{}", uuid::Uuid::now_v7().simple())
        } else {
            violations.check(
                is_valid_project_id(&request.project_id),
                "project_id",
                "must match [a-z]([a-z0-9-]{0,61}[a-z0-9])?",
            );
            request.project_id.clone()
        };
        let request_id = check_request_id(&request.request_id, &mut violations);
        let Some(project) = request.project.as_ref() else {
            violations.add("project", "required");
            return Err(fail(violations).unwrap_err().into());
        };
        let draft = convert::draft_from_proto(project);
        let project = project::create(id, &draft, self.registry.clock().now())
            .map_err(|more| violations.extend(more))
            .ok();
        fail(violations)?;
        let command = CreateProject {
            project: project.expect("validated"),
            request_id,
        };
        let created = self.registry.create_project(command, &origin).await?;
        Ok(Response::new(convert::project_to_proto(&created)))
    }

    async fn get_project(&self, request: Request<pb::GetProjectRequest>) -> Reply<pb::Project> {
        let mut violations = Violations::new();
        let id = project_id(&request.get_ref().name, "name", &mut violations);
        fail(violations)?;
        let project = self.registry.get_project(id)?;
        Ok(Response::new(convert::project_to_proto(&project)))
    }

    async fn list_projects(
        &self,
        request: Request<pb::ListProjectsRequest>,
    ) -> Reply<pb::ListProjectsResponse> {
        let request = request.into_inner();
        let mut violations = Violations::new();
        let size = listing::page_size(request.page_size)
            .map_err(|problem| violations.add("page_size", problem))
            .unwrap_or_default();
        let filter = Filter::parse(&request.filter)
            .map_err(|err| violations.add("filter", err.to_string()))
            .unwrap_or(Filter::All);
        let order = OrderBy::parse(&request.order_by)
            .map_err(|problem| violations.add("order_by", problem))
            .unwrap_or(OrderBy::parse("").expect("the default order parses"));
        let query = listing::query_fingerprint(&["projects", &request.filter, &request.order_by]);
        let after = listing::decode_token(&request.page_token, &query)
            .map_err(|problem| violations.add("page_token", problem))
            .unwrap_or_default();
        fail(violations)?;
        let matching: Vec<_> = self
            .registry
            .tables()
            .all_projects()
            .map_err(RegistryError::from)?
            .into_iter()
            .filter(|project| filter.matches(project))
            .collect();
        let page = listing::paginate(matching, &order, &query, after, size);
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
        let origin = origin(&request);
        let request = request.into_inner();
        let mut violations = Violations::new();
        let Some(project) = request.project.as_ref() else {
            violations.add("project", "required");
            return Err(fail(violations).unwrap_err().into());
        };
        let id = project_id(&project.name, "project.name", &mut violations).to_owned();
        let mask = resolve_mask(request.update_mask.as_ref(), project, &mut violations);
        fail(violations)?;
        let command = UpdateProject {
            id,
            draft: convert::draft_from_proto(project),
            mask,
            etag: check_etag(&project.etag),
        };
        let updated = self.registry.update_project(command, &origin).await?;
        Ok(Response::new(convert::project_to_proto(&updated)))
    }

    async fn transition_project(
        &self,
        request: Request<pb::TransitionProjectRequest>,
    ) -> Reply<pb::Project> {
        let origin = origin(&request);
        let request = request.into_inner();
        let mut violations = Violations::new();
        let id = project_id(&request.name, "name", &mut violations).to_owned();
        let target = convert::status_from_proto(request.status);
        if target.is_none() {
            violations.add("status", "required: the target status");
        }
        let reason = request.reason.trim().to_owned();
        violations.check(
            !reason.is_empty(),
            "reason",
            "required: why the status changes",
        );
        violations.check(
            reason.chars().count() <= MAX_REASON,
            "reason",
            format!("at most {MAX_REASON} characters"),
        );
        let effective_date = if request.effective_date.is_empty() {
            None
        } else {
            let date = crate::domain::project::parse_date(&request.effective_date);
            violations.check(
                date.is_some(),
                "effective_date",
                "not an ISO date YYYY-MM-DD",
            );
            date
        };
        fail(violations)?;
        let command = TransitionProject {
            id,
            target: target.expect("checked above"),
            reason,
            etag: check_etag(&request.etag),
            effective_date,
        };
        let project = self.registry.transition_project(command, &origin).await?;
        Ok(Response::new(convert::project_to_proto(&project)))
    }

    async fn list_project_history(
        &self,
        request: Request<pb::ListProjectHistoryRequest>,
    ) -> Reply<pb::ListProjectHistoryResponse> {
        let request = request.into_inner();
        let mut violations = Violations::new();
        let id = project_id(&request.name, "name", &mut violations).to_owned();
        let (entries, next_page_token) = self.keyed_page(
            &self.registry.tables().history,
            &id,
            request.page_size,
            &request.page_token,
            violations,
        )?;
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
        let origin = origin(&request);
        let request = request.into_inner();
        let mut violations = Violations::new();
        let project_id = project_id(&request.parent, "parent", &mut violations).to_owned();
        let request_id = check_request_id(&request.request_id, &mut violations);
        let Some(report) = request.report.as_ref() else {
            violations.add("report", "required");
            return Err(fail(violations).unwrap_err().into());
        };
        let draft = convert::report_draft_from_proto(report);
        let period = report::validate_draft(&draft, self.registry.clock().now())
            .map_err(|more| violations.extend(more))
            .ok();
        fail(violations)?;
        let command = ReportProgress {
            project_id,
            period: period.expect("validated"),
            draft,
            request_id,
        };
        let accepted = self.registry.report_progress(command, &origin).await?;
        Ok(Response::new(convert::report_to_proto(&accepted)))
    }

    async fn get_progress_report(
        &self,
        request: Request<pb::GetProgressReportRequest>,
    ) -> Reply<pb::ProgressReport> {
        let name = &request.get_ref().name;
        let parsed = name
            .split_once("/reports/")
            .and_then(|(parent, period)| {
                let id = parent.strip_prefix("projects/")?;
                Some((id, Period::parse(period)?))
            })
            .filter(|(id, _)| is_valid_project_id(id));
        let Some((id, period)) = parsed else {
            return Err(RegistryError::invalid(
                "name",
                format!(
                    "`{name}` is not a report name `projects/{{project_id}}/reports/{{YYYY-MM}}`"
                ),
            )
            .into());
        };
        let report = self.registry.get_report(id, period)?;
        Ok(Response::new(convert::report_to_proto(&report)))
    }

    async fn list_progress_reports(
        &self,
        request: Request<pb::ListProgressReportsRequest>,
    ) -> Reply<pb::ListProgressReportsResponse> {
        let request = request.into_inner();
        let mut violations = Violations::new();
        let id = project_id(&request.parent, "parent", &mut violations).to_owned();
        let (reports, next_page_token) = self.keyed_page(
            &self.registry.tables().reports,
            &id,
            request.page_size,
            &request.page_token,
            violations,
        )?;
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
        project_id: &str,
        page_size: i32,
        page_token: &str,
        mut violations: Violations,
    ) -> Result<(Vec<V>, String), RegistryError>
    where
        V: serde::Serialize + serde::de::DeserializeOwned,
    {
        let size = listing::page_size(page_size)
            .map_err(|problem| violations.add("page_size", problem))
            .unwrap_or_default();
        let query = listing::query_fingerprint(&[table.name(), project_id]);
        let after = listing::decode_token(page_token, &query)
            .map_err(|problem| violations.add("page_token", problem))
            .unwrap_or_default();
        fail(violations)?;
        self.registry.get_project(project_id)?;
        let prefix = format!("{project_id}/");
        let after = match after.as_deref() {
            Some([SortValue::Text(key)]) => key.clone(),
            _ => prefix.clone(),
        };
        let mut rows = table.scan_prefix_after(&prefix, &after, size + 1)?;
        let next_page_token = if rows.len() > size {
            rows.truncate(size);
            let last = rows.last().expect("a full page").0.clone();
            listing::encode_token(&query, vec![SortValue::Text(last)])
        } else {
            String::new()
        };
        Ok((
            rows.into_iter().map(|(_, value)| value).collect(),
            next_page_token,
        ))
    }
}
