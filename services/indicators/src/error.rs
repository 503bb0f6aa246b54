//! Every way an indicator call can fail, and its one mapping to a gRPC
//! status with `google.rpc` details (AIP-193).

use jilin_domain::FieldViolation;
use jilin_runtime::{ApiError, Denied, StatusDetails, permission_denied};
use jilin_store::StoreError;
use tonic::{Code, Status};

/// The `ErrorInfo.domain` of every indicator error.
pub const ERROR_DOMAIN: &str = "indicators.jilin.gov.cn";

#[derive(Debug, thiserror::Error)]
pub enum IndicatorError {
    /// Bad input, not found, already exists, stale etag, storage.
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error("{name} is built in: {what}")]
    BuiltIn { name: String, what: &'static str },
    #[error("{name} is referred to by {}", .referrers.join(", "))]
    Referenced {
        name: String,
        referrers: Vec<String>,
    },
}

impl IndicatorError {
    /// A single bad field.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::Api(ApiError::invalid(field, description))
    }
}

impl From<IndicatorError> for Status {
    fn from(err: IndicatorError) -> Status {
        let message = err.to_string();
        let details = StatusDetails::new(ERROR_DOMAIN);
        match err {
            IndicatorError::Api(err) => err.into_status(ERROR_DOMAIN),
            IndicatorError::Denied(denied) => permission_denied(&denied),
            IndicatorError::BuiltIn { name, .. } => details
                .precondition("BUILT_IN_INDICATOR", &name, &message)
                .status(
                    Code::FailedPrecondition,
                    message.clone(),
                    "BUILT_IN_INDICATOR",
                    &[("resource", name)],
                ),
            IndicatorError::Referenced { name, referrers } => details
                .precondition("INDICATOR_REFERENCED", &name, &message)
                .status(
                    Code::FailedPrecondition,
                    message.clone(),
                    "INDICATOR_REFERENCED",
                    &[("resource", name), ("referrers", referrers.join(","))],
                ),
        }
    }
}

impl From<StoreError> for IndicatorError {
    fn from(err: StoreError) -> Self {
        Self::Api(err.into())
    }
}

impl From<Vec<FieldViolation>> for IndicatorError {
    fn from(violations: Vec<FieldViolation>) -> Self {
        Self::Api(ApiError::InvalidArgument(violations))
    }
}
