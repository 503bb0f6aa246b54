//! Every way a registry call can fail, and its one mapping to a gRPC status
//! with `google.rpc` details (AIP-193).

use jilin_runtime::StatusDetails;
use jilin_store::StoreError;
use tonic::{Code, Status};

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
        let details = StatusDetails::new(ERROR_DOMAIN);
        match err {
            RegistryError::InvalidArgument(violations) => {
                details.invalid_fields(message, &violations)
            }
            RegistryError::NotFound(name) => details.not_found(message, name),
            RegistryError::AlreadyExists(name) => details.already_exists(message, name),
            RegistryError::StaleEtag { name, current, .. } => {
                details.stale_etag(message, name, current)
            }
            RegistryError::IllegalTransition { name, transition } => {
                let allowed: Vec<_> = transition.allowed.iter().map(|s| s.as_str()).collect();
                details
                    .precondition("ILLEGAL_TRANSITION", &name, &transition.to_string())
                    .status(
                        Code::FailedPrecondition,
                        message,
                        "ILLEGAL_TRANSITION",
                        &[
                            ("resource", name),
                            ("from", transition.from.as_str().to_owned()),
                            ("to", transition.to.as_str().to_owned()),
                            ("allowed", allowed.join(",")),
                        ],
                    )
            }
            RegistryError::NotReporting { name, status } => details
                .precondition("PROJECT_NOT_REPORTING", &name, &message)
                .status(
                    Code::FailedPrecondition,
                    message.clone(),
                    "PROJECT_NOT_REPORTING",
                    &[("resource", name), ("status", status.as_str().to_owned())],
                ),
            RegistryError::Store(_) => details.storage_failure(message),
        }
    }
}
