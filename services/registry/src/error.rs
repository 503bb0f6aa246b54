//! Every way a registry call can fail, and its one mapping to a gRPC status
//! with `google.rpc` details (AIP-193).

use jilin_runtime::{ApiError, Denied, StatusDetails, permission_denied};
use jilin_store::StoreError;
use tonic::{Code, Status};

use crate::domain::lifecycle::IllegalTransition;
use crate::domain::{FieldViolation, Status as ProjectStatus};

/// The `ErrorInfo.domain` of every registry error.
pub const ERROR_DOMAIN: &str = "registry.jilin.gov.cn";

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// Bad input, not found, already exists, stale etag, storage.
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("{name}: {transition}")]
    IllegalTransition {
        name: String,
        transition: IllegalTransition,
    },
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error("{name} is {}; only APPROVED, UNDER_CONSTRUCTION, SUSPENDED or OPERATING projects report progress", .status.as_str())]
    NotReporting { name: String, status: ProjectStatus },
}

impl RegistryError {
    /// A single bad field.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::Api(ApiError::invalid(field, description))
    }
}

impl From<RegistryError> for Status {
    fn from(err: RegistryError) -> Status {
        let message = err.to_string();
        let details = StatusDetails::new(ERROR_DOMAIN);
        match err {
            RegistryError::Api(err) => err.into_status(ERROR_DOMAIN),
            RegistryError::Denied(denied) => permission_denied(&denied),
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
        }
    }
}

impl From<StoreError> for RegistryError {
    fn from(err: StoreError) -> Self {
        Self::Api(err.into())
    }
}

impl From<Vec<FieldViolation>> for RegistryError {
    fn from(violations: Vec<FieldViolation>) -> Self {
        Self::Api(ApiError::InvalidArgument(violations))
    }
}
