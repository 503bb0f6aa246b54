//! Building a `tonic::Status` with `google.rpc` details (AIP-193) the same
//! way in every service: an `ErrorInfo` with a reason and the service's
//! error domain, plus field violations or precondition failures.
//!
//! What a status carries is bounded here, once for every service: the
//! details travel in trailing metadata, and clients refuse metadata past a
//! limit (grpcio: 8 KB soft, 16 KB hard). A status with too much to say
//! keeps its message to [`MAX_MESSAGE_BYTES`], each text in the details to
//! [`MAX_DETAIL_BYTES`], and its violations to [`MAX_DETAILS_BYTES`] in
//! all, the last saying how many more there were. A client always gets the
//! real code and the first violations instead of RESOURCE_EXHAUSTED.

use std::collections::HashMap;

use jilin_domain::FieldViolation;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// Bytes of a status message, at most (percent-encoded on the wire: up to
/// three times as many).
pub const MAX_MESSAGE_BYTES: usize = 600;

/// Bytes of one text in the details (a field path, a description), at most.
pub const MAX_DETAIL_BYTES: usize = 400;

/// Bytes of all the violations of one status, at most (base64 on the wire:
/// four thirds as many).
pub const MAX_DETAILS_BYTES: usize = 3000;

/// The details of one error status, collected before it is built.
pub struct StatusDetails {
    domain: &'static str,
    details: ErrorDetails,
    /// Bytes of violations added so far.
    used: usize,
    /// Violations left out for want of room.
    left_out: usize,
}

/// `text` cut to at most `max` bytes at a character boundary, with an
/// ellipsis when cut.
fn clipped(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut cut = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", &text[..cut])
}

impl StatusDetails {
    /// Details whose `ErrorInfo` will name `domain`, e.g.
    /// `registry.jilin.gov.cn`.
    pub fn new(domain: &'static str) -> Self {
        Self {
            domain,
            details: ErrorDetails::new(),
            used: 0,
            left_out: 0,
        }
    }

    /// Room for one more violation of `texts`, clipped: `None` (and it is
    /// counted as left out) when the details are full.
    fn room_for<const N: usize>(&mut self, texts: [&str; N]) -> Option<[String; N]> {
        let texts = texts.map(|text| clipped(text, MAX_DETAIL_BYTES));
        let size: usize = texts.iter().map(String::len).sum();
        if self.left_out > 0 || self.used + size > MAX_DETAILS_BYTES {
            self.left_out += 1;
            return None;
        }
        self.used += size;
        Some(texts)
    }

    /// Adds a `BadRequest` violation per bad field, as many as there is
    /// room for.
    pub fn field_violations(mut self, violations: &[FieldViolation]) -> Self {
        for violation in violations {
            if let Some([field, description]) =
                self.room_for([&violation.field, &violation.description])
            {
                self.details.add_bad_request_violation(field, description);
            }
        }
        self
    }

    /// Adds a `PreconditionFailure` violation.
    pub fn precondition(mut self, kind: &str, subject: &str, description: &str) -> Self {
        if let Some([kind, subject, description]) = self.room_for([kind, subject, description]) {
            self.details
                .add_precondition_failure_violation(kind, subject, description);
        }
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
        let mut metadata: HashMap<String, String> = metadata
            .iter()
            .map(|(key, value)| (key.to_string(), clipped(value, MAX_DETAIL_BYTES)))
            .collect();
        if self.left_out > 0 {
            metadata.insert("violations_not_shown".into(), self.left_out.to_string());
        }
        self.details.set_error_info(reason, self.domain, metadata);
        Status::with_error_details(code, clipped(&message, MAX_MESSAGE_BYTES), self.details)
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

    /// RESOURCE_EXHAUSTED: the service's disk is full, logged here. The
    /// change is not durable: the caller retries it once there is room.
    pub fn disk_full(self, message: String) -> Status {
        tracing::error!(error = %message, "the disk is full: writes are refused");
        let message = format!(
            "the disk is full, so the change is not durable: retry it (with the same request_id) once there is room ({message})"
        );
        self.status(Code::ResourceExhausted, message, "DISK_FULL", &[])
    }

    /// RESOURCE_EXHAUSTED with a `RetryInfo`: the service refuses writes
    /// until what it committed is published; nothing was changed.
    pub fn backlog(mut self, message: String, retry_after: std::time::Duration) -> Status {
        self.details.set_retry_info(Some(retry_after));
        self.status(Code::ResourceExhausted, message, "EVENT_BACKLOG", &[])
    }

    /// INTERNAL for a storage failure, logged here.
    pub fn storage_failure(self, message: String) -> Status {
        tracing::error!(error = %message, "storage failure");
        self.status(Code::Internal, message, "STORAGE_FAILURE", &[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::StatusExt;

    /// Bytes the status takes in trailing metadata.
    fn metadata_bytes(status: &Status) -> usize {
        let mut headers = tonic::codegen::http::HeaderMap::new();
        status
            .add_header(&mut headers)
            .expect("a status always fits in headers");
        headers
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len())
            .sum()
    }

    #[test]
    fn short_statuses_are_untouched() {
        let violations = [FieldViolation::new("filter", "unexpected ')'")];
        let status = StatusDetails::new("test.jilin.gov.cn")
            .invalid_fields("bad filter".into(), &violations);
        assert_eq!(status.message(), "bad filter");
        let bad = status.get_details_bad_request().expect("violations");
        assert_eq!(bad.field_violations.len(), 1);
        assert_eq!(bad.field_violations[0].description, "unexpected ')'");
    }

    #[test]
    fn huge_statuses_fit_what_clients_accept() {
        let huge = "吉".repeat(1_000_000);
        let long = "吉".repeat(3_000);
        let violations: Vec<_> = (0..5_000)
            .map(|i| FieldViolation::new(format!("requests[{i}].{long}"), long.clone()))
            .collect();
        let status = StatusDetails::new("test.jilin.gov.cn").invalid_fields(huge, &violations);
        assert!(
            metadata_bytes(&status) < 8 * 1024,
            "{} bytes",
            metadata_bytes(&status)
        );
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().ends_with('…'));
        let bad = status.get_details_bad_request().expect("violations");
        assert!(!bad.field_violations.is_empty());
        assert!(bad.field_violations[0].field.starts_with("requests[0]."));
        let info = status.get_details_error_info().expect("error info");
        let shown = bad.field_violations.len();
        assert_eq!(
            info.metadata["violations_not_shown"],
            (5_000 - shown).to_string()
        );
    }

    #[test]
    fn clipping_keeps_characters_whole() {
        assert_eq!(clipped("abc", 3), "abc");
        assert_eq!(clipped("abcdef", 4), "a…");
        let cut = clipped(&"吉".repeat(10), 10);
        assert!(cut.len() <= 10 && cut.ends_with('…'), "{cut}");
    }
}
