//! Building a `tonic::Status` with `google.rpc` details (AIP-193) the same
//! way in every service: an `ErrorInfo` with a reason and the service's
//! error domain, plus field violations or precondition failures.

use std::collections::HashMap;

use jilin_domain::FieldViolation;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The details of one error status, collected before it is built.
pub struct StatusDetails {
    domain: &'static str,
    details: ErrorDetails,
}

impl StatusDetails {
    /// Details whose `ErrorInfo` will name `domain`, e.g.
    /// `registry.jilin.gov.cn`.
    pub fn new(domain: &'static str) -> Self {
        Self {
            domain,
            details: ErrorDetails::new(),
        }
    }

    /// Adds a `BadRequest` violation per bad field.
    pub fn field_violations(mut self, violations: &[FieldViolation]) -> Self {
        for violation in violations {
            self.details
                .add_bad_request_violation(&violation.field, &violation.description);
        }
        self
    }

    /// Adds a `PreconditionFailure` violation.
    pub fn precondition(mut self, kind: &str, subject: &str, description: &str) -> Self {
        self.details
            .add_precondition_failure_violation(kind, subject, description);
        self
    }

    /// The status, with an `ErrorInfo` of `reason` and `metadata`.
    pub fn status(
        mut self,
        code: Code,
        message: String,
        reason: &str,
        metadata: &[(&str, String)],
    ) -> Status {
        let metadata: HashMap<String, String> = metadata
            .iter()
            .map(|(key, value)| (key.to_string(), value.clone()))
            .collect();
        self.details.set_error_info(reason, self.domain, metadata);
        Status::with_error_details(code, message, self.details)
    }

    /// INVALID_ARGUMENT naming every bad field.
    pub fn invalid_fields(self, message: String, violations: &[FieldViolation]) -> Status {
        self.field_violations(violations).status(
            Code::InvalidArgument,
            message,
            "INVALID_FIELDS",
            &[],
        )
    }

    /// NOT_FOUND for `resource`.
    pub fn not_found(self, message: String, resource: String) -> Status {
        self.status(
            Code::NotFound,
            message,
            "RESOURCE_NOT_FOUND",
            &[("resource", resource)],
        )
    }

    /// ALREADY_EXISTS for `resource`.
    pub fn already_exists(self, message: String, resource: String) -> Status {
        self.status(
            Code::AlreadyExists,
            message,
            "RESOURCE_ALREADY_EXISTS",
            &[("resource", resource)],
        )
    }

    /// ABORTED: the caller's etag of `resource` is stale.
    pub fn stale_etag(self, message: String, resource: String, current: String) -> Status {
        self.status(
            Code::Aborted,
            message,
            "ETAG_MISMATCH",
            &[("resource", resource), ("current_etag", current)],
        )
    }

    /// INTERNAL for a storage failure, logged here.
    pub fn storage_failure(self, message: String) -> Status {
        tracing::error!(error = %message, "storage failure");
        self.status(Code::Internal, message, "STORAGE_FAILURE", &[])
    }
}
