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
}
