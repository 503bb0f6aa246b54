//! What the three gRPC edges share: the reply type, the failures every API
//! can answer with (and their one mapping to a status), and resource names.

use jilin_domain::{Checked, FieldViolation, invalid};
use jilin_store::StoreError;
use tonic::Status;

use crate::StatusDetails;

/// What every RPC handler returns.
pub type Reply<T> = Result<tonic::Response<T>, Status>;

/// The failures every Jilin API shares. Each service's error enum wraps it
/// and adds its own (illegal transitions, built-in indicators, …).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the request has {} invalid field(s)", .0.len())]
    InvalidArgument(Vec<FieldViolation>),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0} already exists")]
    AlreadyExists(String),
    #[error("{name} has changed: etag {given} is stale, current etag is {current}")]
    StaleEtag {
        name: String,
        given: String,
        current: String,
    },
    /// Too many committed events wait to be published: a write now would
    /// only make the wait longer. The caller retries after `retry_after`.
    #[error(
        "{waiting} events are waiting to be published to NATS (at most {limit} may wait): retry in {retry_after:?}"
    )]
    Backlog {
        waiting: usize,
        limit: usize,
        retry_after: std::time::Duration,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ApiError {
    /// A single bad field.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::InvalidArgument(vec![FieldViolation::new(field, description)])
    }

    /// The status for this error, with `google.rpc` details naming
    /// `domain` (e.g. `registry.jilin.gov.cn`).
    pub fn into_status(self, domain: &'static str) -> Status {
        let message = self.to_string();
        let details = StatusDetails::new(domain);
        match self {
            ApiError::InvalidArgument(violations) => details.invalid_fields(message, &violations),
            ApiError::NotFound(name) => details.not_found(message, name),
            ApiError::AlreadyExists(name) => details.already_exists(message, name),
            ApiError::StaleEtag { name, current, .. } => details.stale_etag(message, name, current),
            ApiError::Backlog { retry_after, .. } => details.backlog(message, retry_after),
            ApiError::Store(err) if err.is_disk_full() => details.disk_full(message),
            ApiError::Store(_) => details.storage_failure(message),
        }
    }
}

impl From<Vec<FieldViolation>> for ApiError {
    fn from(violations: Vec<FieldViolation>) -> Self {
        ApiError::InvalidArgument(violations)
    }
}

/// The id in `{collection}/{id}` (e.g. `projects/faw-paint-shop`), when
/// `is_valid_id` accepts it; otherwise a violation on `field`.
pub fn resource_id(
    name: &str,
    collection: &str,
    field: &str,
    is_valid_id: impl Fn(&str) -> bool,
) -> Checked<String> {
    match name
        .strip_prefix(collection)
        .and_then(|rest| rest.strip_prefix('/'))
    {
        Some(id) if is_valid_id(id) => Ok(id.to_owned()),
        _ => invalid(
            field,
            format!("`{name}` is not a name `{collection}/{{id}}`"),
        ),
    }
}

/// An optional string field: `None` when empty (an etag, a request id).
pub fn optional(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

/// A required message field: the message, or a violation on `field`.
pub fn required<'a, T>(message: Option<&'a T>, field: &str) -> Checked<&'a T> {
    message.ok_or_else(|| vec![FieldViolation::new(field, "required")])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_names_give_their_ids() {
        let any = |_: &str| true;
        assert_eq!(
            resource_id("projects/p1", "projects", "name", any),
            Ok("p1".into())
        );
        for bad in ["p1", "projects/", "project/p1", "projectsx/p1"] {
            let violations = resource_id(bad, "projects", "name", |id| !id.is_empty());
            assert_eq!(violations.unwrap_err()[0].field, "name", "{bad}");
        }
    }
}
