//! Every way an indicator call can fail, and its one mapping to a gRPC
//! status with `google.rpc` details (AIP-193).

use jilin_domain::FieldViolation;
use jilin_runtime::StatusDetails;
use jilin_store::StoreError;
use tonic::{Code, Status};

/// The `ErrorInfo.domain` of every indicator error.
pub const ERROR_DOMAIN: &str = "indicators.jilin.gov.cn";

#[derive(Debug, thiserror::Error)]
pub enum IndicatorError {
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
    #[error("{name} is built in: {what}")]
    BuiltIn { name: String, what: &'static str },
    #[error("{name} is referred to by {}", .referrers.join(", "))]
    Referenced {
        name: String,
        referrers: Vec<String>,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl IndicatorError {
    /// A single bad field.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::InvalidArgument(vec![FieldViolation {
            field: field.into(),
            description: description.into(),
        }])
    }
}

impl From<IndicatorError> for Status {
    fn from(err: IndicatorError) -> Status {
        let message = err.to_string();
        let details = StatusDetails::new(ERROR_DOMAIN);
        match err {
            IndicatorError::InvalidArgument(violations) => {
                details.invalid_fields(message, &violations)
            }
            IndicatorError::NotFound(name) => details.not_found(message, name),
            IndicatorError::AlreadyExists(name) => details.already_exists(message, name),
            IndicatorError::StaleEtag { name, current, .. } => {
                details.stale_etag(message, name, current)
            }
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
            IndicatorError::Store(_) => details.storage_failure(message),
        }
    }
}
