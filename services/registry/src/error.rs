//! Every way a registry call can fail, and its one mapping to a gRPC status
//! with `google.rpc` details (AIP-193).

use std::collections::HashMap;

use jilin_store::StoreError;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::domain::lifecycle::IllegalTransition;
use crate::domain::{FieldViolation, Status as ProjectStatus};

/// The `ErrorInfo.domain` of every registry error.
pub const ERROR_DOMAIN: &str = "registry.jilin.gov.cn";

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
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
    #[error("{name}: {transition}")]
    IllegalTransition {
        name: String,
        transition: IllegalTransition,
    },
    #[error("{name} is {}; only APPROVED, UNDER_CONSTRUCTION, SUSPENDED or OPERATING projects report progress", .status.as_str())]
    NotReporting { name: String, status: ProjectStatus },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl RegistryError {
    /// A single bad field.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::InvalidArgument(vec![FieldViolation {
            field: field.into(),
            description: description.into(),
        }])
    }
}

impl From<RegistryError> for Status {
    fn from(err: RegistryError) -> Status {
        let message = err.to_string();
        let mut details = ErrorDetails::new();
        let info = |details: &mut ErrorDetails, reason: &str, metadata: &[(&str, String)]| {
            let metadata: HashMap<String, String> = metadata
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect();
            details.set_error_info(reason, ERROR_DOMAIN, metadata);
        };
        let code = match err {
            RegistryError::InvalidArgument(violations) => {
                for violation in &violations {
                    details.add_bad_request_violation(&violation.field, &violation.description);
                }
                info(&mut details, "INVALID_FIELDS", &[]);
                Code::InvalidArgument
            }
            RegistryError::NotFound(name) => {
                info(&mut details, "RESOURCE_NOT_FOUND", &[("resource", name)]);
                Code::NotFound
            }
            RegistryError::AlreadyExists(name) => {
                info(
                    &mut details,
                    "RESOURCE_ALREADY_EXISTS",
                    &[("resource", name)],
                );
                Code::AlreadyExists
            }
            RegistryError::StaleEtag { name, current, .. } => {
                info(
                    &mut details,
                    "ETAG_MISMATCH",
                    &[("resource", name), ("current_etag", current)],
                );
                Code::Aborted
            }
            RegistryError::IllegalTransition { name, transition } => {
                let allowed: Vec<_> = transition.allowed.iter().map(|s| s.as_str()).collect();
                details.add_precondition_failure_violation(
                    "ILLEGAL_TRANSITION",
                    &name,
                    transition.to_string(),
                );
                info(
                    &mut details,
                    "ILLEGAL_TRANSITION",
                    &[
                        ("resource", name),
                        ("from", transition.from.as_str().to_owned()),
                        ("to", transition.to.as_str().to_owned()),
                        ("allowed", allowed.join(",")),
                    ],
                );
                Code::FailedPrecondition
            }
            RegistryError::NotReporting { name, status } => {
                details.add_precondition_failure_violation(
                    "PROJECT_NOT_REPORTING",
                    &name,
                    &message,
                );
                info(
                    &mut details,
                    "PROJECT_NOT_REPORTING",
                    &[("resource", name), ("status", status.as_str().to_owned())],
                );
                Code::FailedPrecondition
            }
            RegistryError::Store(err) => {
                tracing::error!(error = %err, "storage failure");
                info(&mut details, "STORAGE_FAILURE", &[]);
                Code::Internal
            }
        };
        Status::with_error_details(code, message, details)
    }
}
