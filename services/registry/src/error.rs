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
    /// Items of a BatchReportProgress refused (by index); none was stored.
    #[error("{} of the batch's reports refused; none was stored", .0.len())]
    BatchRefused(Vec<(usize, RegistryError)>),
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
            RegistryError::BatchRefused(refused) => batch_status(message, refused),
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

/// Items shown by index in a refused batch's message, at most.
const ITEMS_NAMED: usize = 10;

/// A refused batch: when only fields are wrong, one INVALID_ARGUMENT with
/// every violation under `requests[i]`; otherwise the first other refusal's
/// own status (code and details), its message naming the item and the
/// indexes of all refused items.
fn batch_status(message: String, refused: Vec<(usize, RegistryError)>) -> Status {
    let indexes: Vec<String> = refused
        .iter()
        .take(ITEMS_NAMED)
        .map(|(index, _)| format!("requests[{index}]"))
        .collect();
    let more = refused.len().saturating_sub(ITEMS_NAMED);
    let named = match more {
        0 => indexes.join(", "),
        _ => format!("{}, and {more} more", indexes.join(", ")),
    };
    let mut violations = Vec::new();
    let mut other = None;
    for (index, err) in refused {
        match err {
            RegistryError::Api(ApiError::InvalidArgument(found)) => violations.extend(
                found
                    .into_iter()
                    .map(|violation| violation.under(&format!("requests[{index}]"))),
            ),
            err => {
                other.get_or_insert((index, err));
            }
        }
    }
    match other {
        None => with_message(
            RegistryError::Api(ApiError::InvalidArgument(violations)).into(),
            format!("{message}: {named}"),
        ),
        Some((index, err)) => {
            let status = Status::from(err);
            let message = format!(
                "requests[{index}]: {} ({message}: {named})",
                status.message()
            );
            with_message(status, message)
        }
    }
}

/// `status` (code, details, metadata) with another message.
fn with_message(status: Status, message: String) -> Status {
    Status::with_details_and_metadata(
        status.code(),
        message,
        status.details().to_vec().into(),
        status.metadata().clone(),
    )
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
