//! What a delivery sends. To a webhook: a CloudEvent in HTTP binary mode
//! (the `ce-*` attributes as headers, `ce-id` the delivery id, so that a
//! receiver can drop repeats) whose JSON body is the group, optionally
//! signed with HMAC-SHA256. To an Alertmanager: its `/api/v2/alerts` body,
//! a firing alert valid for three repeat intervals unless sent again.

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::domain::alert::State;
use crate::domain::delivery::Delivery;
use crate::domain::grouping::GroupedAlert;
use crate::domain::rules::Severity;

/// The `ce-type` of a webhook notification.
pub const NOTIFICATION_TYPE: &str = "jilin.risk.v1.Notification";
/// The header carrying `sha256=<hex HMAC-SHA256 of the body>`.
pub const SIGNATURE_HEADER: &str = "x-jilin-signature";

/// One HTTP request to make: where, which headers, which body.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WebhookBody<'a> {
    receiver: String,
    route: String,
    /// `firing` while anything in the group fires, else `resolved`.
    status: &'static str,
    group_labels: &'a BTreeMap<String, String>,
    firing: usize,
    resolved: usize,
    alerts: Vec<WebhookAlert<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WebhookAlert<'a> {
    alert: String,
    rule: String,
    subject: &'a str,
    state: &'static str,
    severity: &'static str,
    episode: u32,
    labels: &'a BTreeMap<String, String>,
    summary: &'a str,
    value: Option<f64>,
    starts_at: String,
    ends_at: Option<String>,
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).expect("a UTC time formats")
}

fn state_name(alert: &GroupedAlert) -> &'static str {
    match alert.state {
        State::Firing => "firing",
        State::Resolved => "resolved",
        State::Pending => "pending",
    }
}

fn severity_name(severity: Severity) -> &'static str {
    match severity {
        Severity::Warning => "warning",
        Severity::Critical => "critical",
    }
}

/// The hex HMAC-SHA256 of `body` under `secret`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The webhook request for `delivery`, from `source` (the service's
/// CloudEvents source).
pub fn webhook(delivery: &Delivery, url: &str, secret: Option<&str>, source: &str) -> Request {
    let notification = &delivery.notification;
    let firing = notification.firing();
    let body = WebhookBody {
        receiver: format!("receivers/{}", notification.receiver_id),
        route: format!("routes/{}", notification.route_id),
        status: if firing > 0 { "firing" } else { "resolved" },
        group_labels: &notification.group_labels,
        firing,
        resolved: notification.resolved(),
        alerts: notification
            .alerts
            .iter()
            .map(|alert| WebhookAlert {
                alert: format!("alerts/{}", alert.fingerprint),
                rule: format!("rules/{}", alert.rule_id),
                subject: &alert.subject,
                state: state_name(alert),
                severity: severity_name(alert.severity),
                episode: alert.episode,
                labels: &alert.labels,
                summary: &alert.summary,
                value: alert.value,
                starts_at: rfc3339(alert.starts_at),
                ends_at: alert.ends_at.map(rfc3339),
            })
            .collect(),
    };
    let body = serde_json::to_vec(&body).expect("plain data serializes");
    let mut headers = vec![
        ("content-type", "application/json".to_owned()),
        ("ce-specversion", "1.0".to_owned()),
        ("ce-id", delivery.id.clone()),
        ("ce-type", NOTIFICATION_TYPE.to_owned()),
        ("ce-source", source.to_owned()),
        ("ce-subject", format!("deliveries/{}", delivery.id)),
        ("ce-time", rfc3339(delivery.created_at)),
    ];
    if let Some(secret) = secret {
        headers.push((
            SIGNATURE_HEADER,
            format!("sha256={}", signature(secret, &body)),
        ));
    }
    Request {
        url: url.to_owned(),
        headers,
        body,
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PostableAlert<'a> {
    labels: BTreeMap<&'a str, &'a str>,
    annotations: BTreeMap<&'static str, &'a str>,
    starts_at: String,
    ends_at: String,
    #[serde(rename = "generatorURL", skip_serializing_if = "Option::is_none")]
    generator_url: Option<String>,
}

/// The Alertmanager request for `delivery` at `now`: every alert of the
/// group, labelled with `alertname` (the rule), `severity`, `subject` and
/// its own labels; a resolved alert ends when it resolved, a firing one
/// three repeat intervals from now unless it is sent again. With an
/// `external_url`, each links to `{external_url}/alerts/{fingerprint}`.
pub fn alertmanager(
    delivery: &Delivery,
    url: &str,
    now: OffsetDateTime,
    external_url: Option<&str>,
) -> Request {
    let notification = &delivery.notification;
    let valid_for = time::Duration::try_from(notification.repeat.saturating_mul(3))
        .unwrap_or(time::Duration::MAX);
    let alerts: Vec<PostableAlert<'_>> = notification
        .alerts
        .iter()
        .map(|alert| {
            let mut labels: BTreeMap<&str, &str> = alert
                .labels
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_str()))
                .collect();
            labels.insert("alertname", &alert.rule_id);
            labels.insert("severity", severity_name(alert.severity));
            labels.insert("subject", &alert.subject);
            let ends_at = match (alert.state, alert.ends_at) {
                (State::Resolved, Some(end)) => end,
                _ => now.saturating_add(valid_for),
            };
            PostableAlert {
                labels,
                annotations: BTreeMap::from([("summary", alert.summary.as_str())]),
                starts_at: rfc3339(alert.starts_at),
                ends_at: rfc3339(ends_at),
                generator_url: external_url
                    .map(|base| format!("{base}/alerts/{}", alert.fingerprint)),
            }
        })
        .collect();
    Request {
        url: format!("{}/api/v2/alerts", url.trim_end_matches('/')),
        headers: vec![("content-type", "application/json".to_owned())],
        body: serde_json::to_vec(&alerts).expect("plain data serializes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_rfc_4231_hmac_sha256() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
