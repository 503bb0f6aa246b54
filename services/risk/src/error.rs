//! Every way a risk call can fail, and its one mapping to a gRPC status
//! with `google.rpc` details (AIP-193).

use jilin_domain::FieldViolation;
use jilin_runtime::{ApiError, Denied, StatusDetails, permission_denied};
use jilin_store::StoreError;
use tonic::{Code, Status};

/// The `ErrorInfo.domain` of every risk error.
pub const ERROR_DOMAIN: &str = "risk.jilin.gov.cn";

#[derive(Debug, thiserror::Error)]
pub enum RiskError {
    /// Bad input, not found, already exists, stale etag, storage.
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error("{name}: {reason}")]
    FailedPrecondition { name: String, reason: String },
}

impl RiskError {
    /// A single bad field.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::Api(ApiError::invalid(field, description))
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
            RiskError::Api(err) => err.into_status(ERROR_DOMAIN),
            RiskError::Denied(denied) => permission_denied(&denied),
            RiskError::FailedPrecondition { name, reason } => {
                details.precondition("STATE", &name, &reason).status(
                    Code::FailedPrecondition,
                    message.clone(),
                    "FAILED_PRECONDITION",
                    &[("resource", name)],
                )
            }
        }
    }
}

impl From<StoreError> for RiskError {
    fn from(err: StoreError) -> Self {
        Self::Api(err.into())
    }
}

impl From<Vec<FieldViolation>> for RiskError {
    fn from(violations: Vec<FieldViolation>) -> Self {
        Self::Api(ApiError::InvalidArgument(violations))
    }
}
