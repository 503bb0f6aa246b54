//! The registry's use cases. Each reads the current state inside one store
//! transaction, asks the pure domain for a decision, and writes the new
//! state, its history entry, the request-id record and its event together;
//! the call returns only once that transaction is on disk.

use std::sync::{Arc, RwLock};

use jilin_runtime::Clock;
use jilin_store::StoreError;

use crate::domain::filter::Filter;
use crate::domain::index::ProjectIndex;
use crate::domain::listing::{self, OrderBy, Page, SortValue};
use crate::domain::project::ProjectField;
use crate::domain::report::{self, ReportRejection};
use crate::domain::{
    Action, HistoryEntry, Period, ProgressReport, Project, ProjectDraft, ReportDraft, Status,
    project,
};
use crate::domain::{access, lifecycle};
use crate::error::RegistryError;
use crate::events::{self, Origin};
use crate::store::{self, RequestOutcome, Tables};
use jilin_runtime::ApiError;

/// The registry application: use cases over its tables.
#[derive(Clone)]
pub struct Registry {
    tables: Tables,
    clock: Clock,
    /// The projects by filterable value, built at start and kept current
    /// after each project change commits (see [`Registry::reindex`]).
    index: Arc<RwLock<ProjectIndex>>,
    /// Events that may wait in the outbox before writes are refused.
    outbox_limit: usize,
}

/// How long a writer refused for the outbox's backlog is told to wait.
const BACKLOG_RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// A CreateProject request after decoding and validation.
pub struct CreateProject {
    pub project: Project,
    pub request_id: Option<String>,
}

/// An UpdateProject request after decoding: the fields to change.
pub struct UpdateProject {
    pub id: String,
    pub draft: ProjectDraft,
    pub mask: Vec<ProjectField>,
    pub etag: Option<String>,
}

/// A TransitionProject request after decoding.
pub struct TransitionProject {
    pub id: String,
    pub target: Status,
    pub reason: String,
    pub etag: Option<String>,
    pub effective_date: Option<time::Date>,
}

/// A ReportProgress request after decoding.
pub struct ReportProgress {
    pub project_id: String,
    /// The draft's period, already parsed by the caller's validation.
    pub period: Period,
    pub draft: ReportDraft,
    pub request_id: Option<String>,
}

/// A BatchReportProgress request after decoding: reports for distinct
/// (project, month) pairs, and the batch's request id.
pub struct BatchReportProgress {
    pub reports: Vec<ReportProgress>,
    pub request_id: Option<String>,
}

impl Registry {
    /// The registry over `tables`, its listing index built from every
    /// stored project.
    pub fn new(tables: Tables, clock: Clock) -> Result<Self, StoreError> {
        let index = ProjectIndex::new(&tables.all_projects()?);
        Ok(Self {
            tables,
            clock,
            index: Arc::new(RwLock::new(index)),
            outbox_limit: crate::config::DEFAULT_OUTBOX_LIMIT,
        })
    }

    /// Refuses writes while `limit` events or more wait for NATS.
    pub fn with_outbox_limit(mut self, limit: usize) -> Self {
        self.outbox_limit = limit;
        self
    }

    /// Whether a write may go ahead: not while the outbox holds as many
    /// events as it may. Every write stages events, and the relay must
    /// catch up first.
    fn admit(&self) -> Result<(), RegistryError> {
        let waiting = self.tables.store.outbox_len()?;
        if waiting < self.outbox_limit {
            return Ok(());
        }
        Err(RegistryError::Api(ApiError::Backlog {
            waiting,
            limit: self.outbox_limit,
            retry_after: BACKLOG_RETRY_AFTER,
        }))
    }

    /// One page of ListProjects. A filter of exact values in name order is
    /// answered from the index: its size is the count, and only the page's
    /// projects are read. Anything else reads every candidate, then sorts.
    pub fn list_page(
        &self,
        filter: &Filter,
        order: &OrderBy,
        query: &str,
        after: Option<Vec<SortValue>>,
        size: usize,
    ) -> Result<Page, RegistryError> {
        if filter.is_exact_values() && order.is_by_name() {
            // The page's ids, the count and whether more follow, taken
            // under the index's lock; the projects are read after it.
            let picked = {
                let index = self.index.read().expect("no panic holding the index");
                index.candidates(filter).map(|candidates| {
                    let after = listing::after_name(after.as_deref());
                    let (page, more) = index.page(&candidates, after, size);
                    let page: Vec<String> = page.into_iter().map(str::to_owned).collect();
                    (page, more, candidates.len())
                })
            };
            if let Some((ids, more, total_size)) = picked
                && let Some(page) = self.read_page(&ids, more, total_size, filter, order, query)?
            {
                return Ok(page);
            }
        }
        let matching = self.matching_projects(filter)?;
        Ok(listing::paginate(matching, order, query, after, size))
    }

    /// The page of projects `ids` (from the index), or `None` when one of
    /// them does not match after all (changed since the ids were taken):
    /// the caller then lists the slow way.
    fn read_page(
        &self,
        ids: &[String],
        more: bool,
        total_size: usize,
        filter: &Filter,
        order: &OrderBy,
        query: &str,
    ) -> Result<Option<Page>, RegistryError> {
        let mut projects = Vec::with_capacity(ids.len());
        for id in ids {
            match self.tables.projects.get(id)? {
                Some(project) if filter.matches(&project) => projects.push(project),
                _ => return Ok(None),
            }
        }
        let next_page_token = match projects.last() {
            Some(last) if more => listing::encode_token(query, order.key(last)),
            _ => String::new(),
        };
        Ok(Some(Page {
            projects,
            next_page_token,
            total_size,
        }))
    }

    /// The projects matching `filter`: the index's candidates (or every
    /// project when it cannot narrow the filter), each checked against
    /// the whole filter.
    fn matching_projects(&self, filter: &Filter) -> Result<Vec<Project>, RegistryError> {
        let candidates: Option<Vec<String>> = {
            let index = self.index.read().expect("no panic holding the index");
            index
                .candidates(filter)
                .map(|candidates| index.ids(&candidates).map(str::to_owned).collect())
        };
        let projects = match candidates {
            None => self.tables.all_projects()?,
            Some(ids) => ids
                .iter()
                .filter_map(|id| self.tables.projects.get(id).transpose())
                .collect::<Result<_, _>>()?,
        };
        Ok(projects
            .into_iter()
            .filter(|project| filter.matches(project))
            .collect())
    }

    /// Indexes project `id` as committed now. Read under the index's lock:
    /// of two changes racing to reindex, the last one reads the later
    /// commit, so the index never keeps an older state than the store.
    fn reindex(&self, id: &str) -> Result<(), RegistryError> {
        let mut index = self.index.write().expect("no panic holding the index");
        if let Some(project) = self.tables.projects.get(id)? {
            index.put(&project);
        }
        Ok(())
    }

    /// "Now" for creation, update, transition and report times.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    pub fn tables(&self) -> &Tables {
        &self.tables
    }

    pub async fn create_project(
        &self,
        request: CreateProject,
        origin: &Origin,
    ) -> Result<Project, RegistryError> {
        let project = request.project;
        access::may_create(&origin.principal, &project)?;
        self.admit()?;
        let now = project.create_time;
        let t = &self.tables;
        let request_key = request.request_id.as_deref().map(store::create_request_key);
        let created = t
            .store
            .write::<_, RegistryError>(|tx| {
                if let Some(key) = &request_key
                    && let Some(RequestOutcome::Project(earlier)) = tx.get(&t.requests, key)?
                {
                    return Ok(earlier);
                }
                if tx.get(&t.projects, &project.id)?.is_some() {
                    return Err(RegistryError::Api(ApiError::AlreadyExists(project.name())));
                }
                tx.insert(&t.projects, &project.id, &project)?;
                let entry = HistoryEntry {
                    to_status: Some(project.status),
                    ..HistoryEntry::new(project.revision, now, origin.actor(), Action::Created)
                };
                tx.insert(
                    &t.history,
                    &store::history_key(&project.id, project.revision),
                    &entry,
                )?;
                if let Some(key) = &request_key {
                    tx.insert(&t.requests, key, &RequestOutcome::Project(project.clone()))?;
                }
                tx.stage_event(&events::project_created(&project, origin))?;
                Ok(project.clone())
            })
            .await?;
        self.reindex(&created.id)?;
        Ok(created)
    }

    pub fn get_project(&self, id: &str) -> Result<Project, RegistryError> {
        self.tables
            .projects
            .get(id)?
            .ok_or_else(|| RegistryError::Api(ApiError::NotFound(format!("projects/{id}"))))
    }

    pub async fn update_project(
        &self,
        request: UpdateProject,
        origin: &Origin,
    ) -> Result<Project, RegistryError> {
        self.admit()?;
        let now = self.clock.now();
        let t = &self.tables;
        let updated = t
            .store
            .write::<_, RegistryError>(|tx| {
                let current = current_project(tx, t, &request.id, request.etag.as_deref(), origin)?;
                let (next, changed) = project::update(&current, &request.draft, &request.mask, now)
                    .map_err(RegistryError::from)?;
                access::may_update(&origin.principal, &current, &next)?;
                if changed.is_empty() {
                    return Ok(current);
                }
                tx.insert(&t.projects, &next.id, &next)?;
                let entry = HistoryEntry {
                    changed_fields: changed.clone(),
                    ..HistoryEntry::new(next.revision, now, origin.actor(), Action::Updated)
                };
                tx.insert(
                    &t.history,
                    &store::history_key(&next.id, next.revision),
                    &entry,
                )?;
                tx.stage_event(&events::project_updated(&current, &next, &changed, origin))?;
                Ok(next)
            })
            .await?;
        self.reindex(&updated.id)?;
        Ok(updated)
    }

    pub async fn transition_project(
        &self,
        request: TransitionProject,
        origin: &Origin,
    ) -> Result<Project, RegistryError> {
        self.admit()?;
        let now = self.clock.now();
        let effective_date = request.effective_date.unwrap_or(now.date());
        let t = &self.tables;
        let transitioned = t
            .store
            .write::<_, RegistryError>(|tx| {
                let current = current_project(tx, t, &request.id, request.etag.as_deref(), origin)?;
                let next = lifecycle::transition(&current, request.target, effective_date, now)
                    .map_err(|transition| RegistryError::IllegalTransition {
                        name: current.name(),
                        transition,
                    })?;
                tx.insert(&t.projects, &next.id, &next)?;
                let entry = HistoryEntry {
                    reason: request.reason.clone(),
                    from_status: Some(current.status),
                    to_status: Some(next.status),
                    ..HistoryEntry::new(next.revision, now, origin.actor(), Action::Transitioned)
                };
                tx.insert(
                    &t.history,
                    &store::history_key(&next.id, next.revision),
                    &entry,
                )?;
                tx.stage_event(&events::project_transitioned(
                    current.status,
                    &next,
                    &request.reason,
                    origin,
                ))?;
                Ok(next)
            })
            .await?;
        self.reindex(&transitioned.id)?;
        Ok(transitioned)
    }

    pub async fn report_progress(
        &self,
        request: ReportProgress,
        origin: &Origin,
    ) -> Result<ProgressReport, RegistryError> {
        self.admit()?;
        let now = self.clock.now();
        let t = &self.tables;
        let request_key = request
            .request_id
            .as_deref()
            .map(|id| store::report_request_key(&request.project_id, id));
        t.store
            .write(|tx| {
                if let Some(key) = &request_key
                    && let Some(RequestOutcome::Report(earlier)) = tx.get(&t.requests, key)?
                {
                    return Ok(earlier);
                }
                let accepted = record_report(tx, t, &request, origin, now)?;
                if let Some(key) = &request_key {
                    tx.insert(&t.requests, key, &RequestOutcome::Report(accepted.clone()))?;
                }
                Ok(accepted)
            })
            .await
    }

    /// Every report of the batch in one transaction, or none of them: the
    /// refusal names each refused item.
    pub async fn batch_report_progress(
        &self,
        request: BatchReportProgress,
        origin: &Origin,
    ) -> Result<Vec<ProgressReport>, RegistryError> {
        self.admit()?;
        let now = self.clock.now();
        let t = &self.tables;
        let request_key = request.request_id.as_deref().map(store::batch_request_key);
        t.store
            .write(|tx| {
                if let Some(key) = &request_key
                    && let Some(RequestOutcome::Batch(earlier)) = tx.get(&t.requests, key)?
                {
                    return Ok(earlier);
                }
                let mut accepted = Vec::with_capacity(request.reports.len());
                let mut refused = Vec::new();
                for (index, item) in request.reports.iter().enumerate() {
                    match record_report(tx, t, item, origin, now) {
                        Ok(report) => accepted.push(report),
                        Err(err @ RegistryError::Api(ApiError::Store(_))) => return Err(err),
                        Err(err) => refused.push((index, err)),
                    }
                }
                if !refused.is_empty() {
                    return Err(RegistryError::BatchRefused(refused));
                }
                if let Some(key) = &request_key {
                    tx.insert(&t.requests, key, &RequestOutcome::Batch(accepted.clone()))?;
                }
                Ok(accepted)
            })
            .await
    }

    pub fn get_report(
        &self,
        project_id: &str,
        period: Period,
    ) -> Result<ProgressReport, RegistryError> {
        self.get_project(project_id)?;
        self.tables
            .reports
            .get(&store::report_key(project_id, period))?
            .ok_or_else(|| {
                RegistryError::Api(ApiError::NotFound(report::report_name(project_id, period)))
            })
    }
}

/// Records one report inside `tx`: the report, its history entry and its
/// event (the caller records its request id).
fn record_report(
    tx: &jilin_store::Tx<'_>,
    t: &Tables,
    request: &ReportProgress,
    origin: &Origin,
    now: time::OffsetDateTime,
) -> Result<ProgressReport, RegistryError> {
    let project = current_project(tx, t, &request.project_id, None, origin)?;
    let key = store::report_key(&project.id, request.period);
    let previous = tx.get(&t.reports, &key)?;
    let accepted =
        report::accept(&project, &request.draft, previous.as_ref(), now).map_err(|rejection| {
            match rejection {
                ReportRejection::Invalid(violations) => {
                    RegistryError::Api(ApiError::InvalidArgument(violations))
                }
                ReportRejection::NotReporting(status) => RegistryError::NotReporting {
                    name: project.name(),
                    status,
                },
            }
        })?;
    tx.insert(&t.reports, &key, &accepted)?;
    let action = if previous.is_some() {
        Action::ReportRevised
    } else {
        Action::ReportSubmitted
    };
    let entry = HistoryEntry {
        report: Some((accepted.period, accepted.revision)),
        ..HistoryEntry::new(project.revision, now, origin.actor(), action)
    };
    let history_key = store::report_history_key(&project.id, project.revision, &accepted);
    tx.insert(&t.history, &history_key, &entry)?;
    tx.stage_event(&events::progress_reported(
        &project,
        &accepted,
        previous.as_ref(),
        origin,
    ))?;
    Ok(accepted)
}

/// The project `origin` wants to change, once it may change it and its
/// etag (if given) is current.
fn current_project(
    tx: &jilin_store::Tx<'_>,
    tables: &Tables,
    id: &str,
    etag: Option<&str>,
    origin: &Origin,
) -> Result<Project, RegistryError> {
    let project = tx
        .get(&tables.projects, id)?
        .ok_or_else(|| RegistryError::Api(ApiError::NotFound(format!("projects/{id}"))))?;
    access::may_change(&origin.principal, &project)?;
    if let Some(given) = etag
        && given != project.etag()
    {
        return Err(RegistryError::Api(ApiError::StaleEtag {
            name: project.name(),
            given: given.to_owned(),
            current: project.etag(),
        }));
    }
    Ok(project)
}
