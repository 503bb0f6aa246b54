//! Parsing each registry request into the command its use case takes.
//! Every part is checked on its own and every bad field is reported at
//! once ([`AllValid`]); a command exists only when all of them are good.

use std::collections::HashMap;

use jilin_domain::{AllValid, Checked, FieldViolation, Violations, invalid, violation_on};
use jilin_proto::registry::v1 as pb;
use jilin_runtime::{MaskField, MaskRules, optional, required, resolve_mask, resource_id};
use time::OffsetDateTime;

use crate::convert;
use crate::domain::filter::Filter;
use crate::domain::listing::{self, OrderBy, SortValue};
use crate::domain::project::{self, OUTPUT_ONLY_FIELDS, ProjectField, is_valid_project_id};
use crate::domain::{Period, report};
use crate::service::{
    BatchReportProgress, CreateProject, ReportProgress, TransitionProject, UpdateProject,
};

const MAX_REQUEST_ID: usize = 128;
const MAX_REASON: usize = 1000;
/// Reports in one BatchReportProgress call, at most.
pub const MAX_BATCH: usize = 1000;

impl MaskField for ProjectField {
    const ALL: &'static [Self] = &ProjectField::ALL;

    fn path(self) -> &'static str {
        self.name()
    }
}

/// `projects/{id}` → id, or a violation on `field`.
pub fn project_id(name: &str, field: &str) -> Checked<String> {
    resource_id(name, "projects", field, is_valid_project_id)
}

/// `projects/{id}/reports/{YYYY-MM}` → id and month.
pub fn report_name(name: &str) -> Checked<(String, Period)> {
    name.split_once("/reports/")
        .and_then(|(parent, period)| {
            let id = parent.strip_prefix("projects/")?;
            Some((id.to_owned(), Period::parse(period)?))
        })
        .filter(|(id, _)| is_valid_project_id(id))
        .ok_or_else(|| {
            vec![FieldViolation::new(
                "name",
                format!(
                    "`{name}` is not a report name `projects/{{project_id}}/reports/{{YYYY-MM}}`"
                ),
            )]
        })
}

/// A client's request id, which makes retries idempotent.
fn request_id(text: &str) -> Checked<Option<String>> {
    if text.len() <= MAX_REQUEST_ID && text.chars().all(|c| c.is_ascii_graphic()) {
        Ok(optional(text))
    } else {
        invalid(
            "request_id",
            format!("at most {MAX_REQUEST_ID} printable ASCII characters (a UUID is best)"),
        )
    }
}

pub fn create_project(
    request: &pb::CreateProjectRequest,
    now: OffsetDateTime,
) -> Checked<CreateProject> {
    let id = if request.project_id.is_empty() {
        format!("p-{}", uuid::Uuid::now_v7().simple())
    } else {
        request.project_id.clone()
    };
    let valid_id = if is_valid_project_id(&id) {
        Ok(())
    } else {
        invalid("project_id", "must match [a-z]([a-z0-9-]{0,61}[a-z0-9])?")
    };
    let project = required(request.project.as_ref(), "project")
        .and_then(|message| project::create(id, &convert::draft_from_proto(message), now));
    let ((), request_id, project) =
        (valid_id, request_id(&request.request_id), project).all_valid()?;
    Ok(CreateProject {
        project,
        request_id,
    })
}

pub fn update_project(request: &pb::UpdateProjectRequest) -> Checked<UpdateProject> {
    let message = required(request.project.as_ref(), "project")?;
    let rules = MaskRules {
        resource: "project",
        output_only: &OUTPUT_ONLY_FIELDS,
        when_empty: Some(convert::populated_fields(message)),
    };
    let (id, mask) = (
        project_id(&message.name, "project.name"),
        resolve_mask(request.update_mask.as_ref(), rules),
    )
        .all_valid()?;
    Ok(UpdateProject {
        id,
        draft: convert::draft_from_proto(message),
        mask,
        etag: optional(&message.etag),
    })
}

pub fn transition_project(request: &pb::TransitionProjectRequest) -> Checked<TransitionProject> {
    let target = convert::status_from_proto(request.status)
        .map_or_else(|| invalid("status", "required: the target status"), Ok);
    let (id, target, reason, effective_date) = (
        project_id(&request.name, "name"),
        target,
        transition_reason(&request.reason),
        effective_date(&request.effective_date),
    )
        .all_valid()?;
    Ok(TransitionProject {
        id,
        target,
        reason,
        etag: optional(&request.etag),
        effective_date,
    })
}

fn transition_reason(text: &str) -> Checked<String> {
    let reason = text.trim();
    let mut violations = Vec::new();
    if reason.is_empty() {
        violations.push(FieldViolation::new(
            "reason",
            "required: why the status changes",
        ));
    }
    if reason.chars().count() > MAX_REASON {
        violations.push(FieldViolation::new(
            "reason",
            format!("at most {MAX_REASON} characters"),
        ));
    }
    if violations.is_empty() {
        Ok(reason.to_owned())
    } else {
        Err(violations)
    }
}

fn effective_date(text: &str) -> Checked<Option<time::Date>> {
    if text.is_empty() {
        return Ok(None);
    }
    project::parse_date(text).map(Some).map_or_else(
        || invalid("effective_date", "not an ISO date YYYY-MM-DD"),
        Ok,
    )
}

pub fn report_progress(
    request: &pb::ReportProgressRequest,
    now: OffsetDateTime,
) -> Checked<ReportProgress> {
    let report = required(request.report.as_ref(), "report").and_then(|message| {
        let draft = convert::report_draft_from_proto(message);
        report::validate_draft(&draft, now).map(|period| (period, draft))
    });
    let (project_id, request_id, (period, draft)) = (
        project_id(&request.parent, "parent"),
        request_id(&request.request_id),
        report,
    )
        .all_valid()?;
    Ok(ReportProgress {
        project_id,
        period,
        draft,
        request_id,
    })
}

/// A BatchReportProgress request: every item parsed as its own
/// ReportProgress would be, each violation named under `requests[i]`, and
/// at most one report per project and month.
pub fn batch_report_progress(
    request: &pb::BatchReportProgressRequest,
    now: OffsetDateTime,
) -> Checked<BatchReportProgress> {
    let count = request.requests.len();
    if count == 0 || count > MAX_BATCH {
        return invalid(
            "requests",
            format!("a batch holds 1 to {MAX_BATCH} reports, not {count}"),
        );
    }
    let mut violations = Violations::new();
    let mut reports = Vec::with_capacity(count);
    let mut first_of: HashMap<(String, Period), usize> = HashMap::with_capacity(count);
    for (index, item) in request.requests.iter().enumerate() {
        let prefix = format!("requests[{index}]");
        violations.check(
            item.request_id.is_empty(),
            format!("{prefix}.request_id"),
            "must be empty: a batch has one request_id, on the batch",
        );
        match report_progress(item, now) {
            Ok(report) => {
                let key = (report.project_id.clone(), report.period);
                match first_of.get(&key) {
                    Some(first) => violations.add(
                        format!("{prefix}.report.period"),
                        format!(
                            "requests[{first}] already reports {} for {}: a batch holds one \
                             report per project and month",
                            report.period, item.parent
                        ),
                    ),
                    None => {
                        first_of.insert(key, index);
                    }
                }
                reports.push(report);
            }
            Err(found) => violations.extend(
                found
                    .into_iter()
                    .map(|violation| violation.under(&prefix))
                    .collect(),
            ),
        }
    }
    let (request_id, reports) = (
        request_id(&request.request_id),
        violations.into_result(reports),
    )
        .all_valid()?;
    Ok(BatchReportProgress {
        reports,
        request_id,
    })
}

/// A ListProjects request, parsed.
pub struct ListProjects {
    pub size: usize,
    pub filter: Filter,
    pub order: OrderBy,
    /// The query the page token belongs to.
    pub query: String,
    pub after: Option<Vec<SortValue>>,
}

pub fn list_projects(request: &pb::ListProjectsRequest) -> Checked<ListProjects> {
    let query = listing::query_fingerprint(&["projects", &request.filter, &request.order_by]);
    let (size, filter, order, after) = (
        listing::page_size(request.page_size).map_err(violation_on("page_size")),
        Filter::parse(&request.filter).map_err(violation_on("filter")),
        OrderBy::parse(&request.order_by).map_err(violation_on("order_by")),
        listing::decode_token(&request.page_token, &query).map_err(violation_on("page_token")),
    )
        .all_valid()?;
    Ok(ListProjects {
        size,
        filter,
        order,
        query,
        after,
    })
}

/// One page of a project's reports or history: its size, the query its
/// token belongs to and where it resumes.
pub struct ChildPage {
    pub project_id: String,
    pub size: usize,
    pub query: String,
    pub after: Option<Vec<SortValue>>,
}

pub fn child_page(
    parent: &str,
    parent_field: &str,
    table: &str,
    page_size: i32,
    page_token: &str,
) -> Checked<ChildPage> {
    let id = project_id(parent, parent_field);
    // A bad parent fails the request whatever the token says.
    let query = listing::query_fingerprint(&[table, id.as_deref().unwrap_or(parent)]);
    let (project_id, size, after) = (
        id,
        listing::page_size(page_size).map_err(violation_on("page_size")),
        listing::decode_token(page_token, &query).map_err(violation_on("page_token")),
    )
        .all_valid()?;
    Ok(ChildPage {
        project_id,
        size,
        query,
        after,
    })
}
