//! CloudEvents NATS protocol binding (binary mode): event attributes travel
//! as `ce-*` headers, the protobuf payload as the message body.

use async_nats::HeaderMap;
use bytes::Bytes;
use jilin_store::OutboxEntry;

pub const SPEC_VERSION: &str = "1.0";
pub const CONTENT_TYPE: &str = "application/protobuf";

/// An event as a consumer receives it.
#[derive(Clone, Debug, PartialEq)]
pub struct CloudEvent {
    pub id: String,
    /// Full protobuf name of the payload.
    pub event_type: String,
    pub source: String,
    /// The resource the event is about.
    pub subject: String,
    pub time: String,
    pub payload: Bytes,
    /// The stream sequence it was delivered at; 0 for an event that did
    /// not come from a stream (a catch-up snapshot, a test).
    pub sequence: u64,
    /// The W3C trace context of the change that caused it; empty if none.
    pub traceparent: String,
}

#[derive(Debug, thiserror::Error)]
#[error("message on `{nats_subject}` is not a CloudEvent: header `{header}` missing")]
pub struct CloudEventError {
    pub nats_subject: String,
    pub header: &'static str,
}

/// The `ce-time` of an event at `time`: RFC 3339. Only a year outside
/// 0000–9999, which no service clock produces, has no such form; it is
/// then left empty (the attribute is optional) rather than failing the
/// change it belongs to.
pub fn event_time(time: time::OffsetDateTime) -> String {
    time.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Headers for publishing `entry` from `source`, including `Nats-Msg-Id`.
pub fn headers_for(entry: &OutboxEntry, source: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Msg-Id", entry.id.as_str());
    headers.insert("ce-specversion", SPEC_VERSION);
    headers.insert("ce-id", entry.id.as_str());
    headers.insert("ce-type", entry.event_type.as_str());
    headers.insert("ce-source", source);
    headers.insert("ce-subject", entry.resource.as_str());
    headers.insert("ce-time", entry.time.as_str());
    headers.insert("content-type", CONTENT_TYPE);
    if !entry.traceparent.is_empty() {
        headers.insert("traceparent", entry.traceparent.as_str());
    }
    if !entry.principal.is_empty() {
        headers.insert("ce-principal", entry.principal.as_str());
    }
    headers
}

impl CloudEvent {
    /// Reads the event attributes back from a received message.
    pub fn from_message(
        nats_subject: &str,
        headers: Option<&HeaderMap>,
        payload: Bytes,
    ) -> Result<Self, CloudEventError> {
        let header = |name: &'static str| {
            headers
                .and_then(|headers| headers.get(name))
                .map(|value| value.as_str().to_owned())
                .ok_or_else(|| CloudEventError {
                    nats_subject: nats_subject.to_owned(),
                    header: name,
                })
        };
        Ok(Self {
            id: header("ce-id")?,
            event_type: header("ce-type")?,
            source: header("ce-source")?,
            subject: header("ce-subject")?,
            time: header("ce-time")?,
            payload,
            sequence: 0,
            traceparent: header("traceparent").unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_into_a_cloud_event() {
        let entry = OutboxEntry {
            id: "0190-abc".into(),
            subject: "jilin.registry.project.created".into(),
            event_type: "jilin.events.v1.ProjectCreated".into(),
            resource: "projects/p1".into(),
            time: "2026-11-28T10:00:00Z".into(),
            payload: vec![1, 2, 3],
            traceparent: String::new(),
            principal: String::new(),
        };
        let headers = headers_for(&entry, "jilin/registry");
        assert_eq!(headers.get("Nats-Msg-Id").unwrap().as_str(), "0190-abc");
        assert_eq!(headers.get("content-type").unwrap().as_str(), CONTENT_TYPE);
        assert!(headers.get("traceparent").is_none());
        let event = CloudEvent::from_message(
            &entry.subject,
            Some(&headers),
            Bytes::from(entry.payload.clone()),
        )
        .unwrap();
        assert_eq!(event.id, entry.id);
        assert_eq!(event.event_type, entry.event_type);
        assert_eq!(event.source, "jilin/registry");
        assert_eq!(event.subject, "projects/p1");
        assert_eq!(event.time, entry.time);
    }

    #[test]
    fn a_message_without_ce_headers_is_rejected_by_name() {
        let err = CloudEvent::from_message("x", None, Bytes::new()).unwrap_err();
        assert_eq!(err.header, "ce-id");
    }
}
