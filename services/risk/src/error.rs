//! Every way a risk call can fail, and its one mapping to a gRPC status
//! with `google.rpc` details (AIP-193).

use jilin_domain::FieldViolation;
use jilin_runtime::StatusDetails;
use jilin_store::StoreError;
use tonic::{Code, Status};

/// The `ErrorInfo.domain` of every risk error.
pub const ERROR_DOMAIN: &str = "risk.jilin.gov.cn";

#[derive(Debug, thiserror::Error)]
pub enum RiskError {
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
    #[error("{name}: {reason}")]
    FailedPrecondition { name: String, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl RiskError {
    /// A single bad field.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::InvalidArgument(vec![FieldViolation {
            field: field.into(),
            description: description.into(),
        }])
    }

    /// The alert (by fingerprint) or rule cannot take this change now.
    pub fn precondition(name: &str, reason: impl Into<String>) -> Self {
        Self::FailedPrecondition {
            name: name.to_owned(),
            reason: reason.into(),
        }
    }
}

impl From<RiskError> for Status {
    fn from(err: RiskError) -> Status {
        let message = err.to_string();
        let details = StatusDetails::new(ERROR_DOMAIN);
        match err {
            RiskError::InvalidArgument(violations) => details.invalid_fields(message, &violations),
            RiskError::NotFound(name) => details.not_found(message, name),
            RiskError::AlreadyExists(name) => details.already_exists(message, name),
            RiskError::StaleEtag { name, current, .. } => {
                details.stale_etag(message, name, current)
            }
            RiskError::FailedPrecondition { name, reason } => {
                details.precondition("STATE", &name, &reason).status(
                    Code::FailedPrecondition,
                    message.clone(),
                    "FAILED_PRECONDITION",
                    &[("resource", name)],
                )
            }
            RiskError::Store(_) => details.storage_failure(message),
        }
    }
}
