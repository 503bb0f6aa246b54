//! Receivers: where notifications go, a webhook (CloudEvents over HTTP,
//! optionally signed) or an Alertmanager, and how long a notification to
//! one is retried.

use std::time::Duration;

use jilin_domain::{FieldViolation, Violations};
use serde::{Deserialize, Serialize};

/// Where a receiver's notifications go.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReceiverKind {
    Webhook {
        url: String,
        secret: Option<String>,
        timeout: Duration,
    },
    Alertmanager {
        url: String,
    },
}

/// A receiver as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receiver {
    pub id: String,
    pub kind: ReceiverKind,
    /// How long a notification is retried before it is marked failed.
    pub deadline: Duration,
    pub created_by: String,
}

pub const DEFAULT_WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_WEBHOOK_TIMEOUT: Duration = Duration::from_secs(60);
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(3600);
const MIN_DEADLINE: Duration = Duration::from_secs(1);
const MAX_DEADLINE: Duration = Duration::from_secs(7 * 86_400);
const MAX_URL: usize = 2048;

fn check_url(violations: &mut Violations, url: &str, field: &str) {
    let scheme_ok = url.starts_with("http://") || url.starts_with("https://");
    let host_ok = url
        .split_once("://")
        .is_some_and(|(_, rest)| !rest.is_empty() && !rest.starts_with('/'));
    violations.check(
        scheme_ok && host_ok && url.len() <= MAX_URL && !url.chars().any(char::is_whitespace),
        field,
        format!("an http:// or https:// URL with a host, at most {MAX_URL} characters"),
    );
}

/// Checks a new receiver: a URL, a timeout and a deadline in range.
pub fn validate_receiver(receiver: &Receiver) -> Result<(), Vec<FieldViolation>> {
    let mut violations = Violations::new();
    match &receiver.kind {
        ReceiverKind::Webhook { url, timeout, .. } => {
            check_url(&mut violations, url, "receiver.webhook.url");
            violations.check(
                !timeout.is_zero() && *timeout <= MAX_WEBHOOK_TIMEOUT,
                "receiver.webhook.timeout",
                "more than 0 s and at most 60 s",
            );
        }
        ReceiverKind::Alertmanager { url } => {
            check_url(&mut violations, url, "receiver.alertmanager.url");
        }
    }
    violations.check(
        (MIN_DEADLINE..=MAX_DEADLINE).contains(&receiver.deadline),
        "receiver.delivery_deadline",
        "from 1 s to 7 days",
    );
    violations.into_result(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receivers_need_a_url_with_a_host_and_sane_timers() {
        let receiver = |url: &str, timeout: u64, deadline: u64| Receiver {
            id: "desk".to_owned(),
            kind: ReceiverKind::Webhook {
                url: url.to_owned(),
                secret: None,
                timeout: Duration::from_secs(timeout),
            },
            deadline: Duration::from_secs(deadline),
            created_by: String::new(),
        };
        assert!(validate_receiver(&receiver("https://desk.example/hook", 5, 60)).is_ok());
        for (url, timeout, deadline) in [
            ("ftp://desk.example", 5, 60),
            ("http://", 5, 60),
            ("http:///path", 5, 60),
            ("http://desk.example", 0, 60),
            ("http://desk.example", 61, 60),
            ("http://desk.example", 5, 0),
        ] {
            assert!(
                validate_receiver(&receiver(url, timeout, deadline)).is_err(),
                "{url} {timeout} {deadline}"
            );
        }
    }
}
