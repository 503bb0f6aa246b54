//! CloudEvents NATS protocol binding (binary mode): event attributes travel
//! as `ce-*` headers, the protobuf payload as the message body.

use async_nats::{HeaderMap, HeaderName};
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

// The header names of an event, made once: a name made from a `&str` is
// checked and copied on every use, for every event published or received.
pub(crate) static NATS_MSG_ID: HeaderName = HeaderName::from_static("Nats-Msg-Id");
static CE_SPECVERSION: HeaderName = HeaderName::from_static("ce-specversion");
static CE_ID: HeaderName = HeaderName::from_static("ce-id");
static CE_TYPE: HeaderName = HeaderName::from_static("ce-type");
static CE_SOURCE: HeaderName = HeaderName::from_static("ce-source");
static CE_SUBJECT: HeaderName = HeaderName::from_static("ce-subject");
static CE_TIME: HeaderName = HeaderName::from_static("ce-time");
static CE_PRINCIPAL: HeaderName = HeaderName::from_static("ce-principal");
static CONTENT_TYPE_HEADER: HeaderName = HeaderName::from_static("content-type");
static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// An outbox entry as the message that publishes it.
#[derive(Debug)]
pub(crate) struct Outgoing {
    /// The event's id (`Nats-Msg-Id`, `ce-id`).
    pub id: String,
    /// The NATS subject.
    pub subject: String,
    /// The CloudEvents headers and `Nats-Msg-Id`.
    pub headers: HeaderMap,
    pub payload: Bytes,
}

impl Outgoing {
    /// `entry` as published from `source`; its strings move into the
    /// message's headers.
    pub(crate) fn new(entry: OutboxEntry, source: &str) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(NATS_MSG_ID.clone(), entry.id.as_str());
        headers.insert(CE_SPECVERSION.clone(), SPEC_VERSION);
        headers.insert(CE_ID.clone(), entry.id.as_str());
        headers.insert(CE_TYPE.clone(), entry.event_type);
        headers.insert(CE_SOURCE.clone(), source);
        headers.insert(CE_SUBJECT.clone(), entry.resource);
        headers.insert(CE_TIME.clone(), entry.time);
        headers.insert(CONTENT_TYPE_HEADER.clone(), CONTENT_TYPE);
        if !entry.traceparent.is_empty() {
            headers.insert(TRACEPARENT.clone(), entry.traceparent);
        }
        if !entry.principal.is_empty() {
            headers.insert(CE_PRINCIPAL.clone(), entry.principal);
        }
        Self {
            id: entry.id,
            subject: entry.subject,
            headers,
            payload: Bytes::from(entry.payload),
        }
    }
}

impl CloudEvent {
    /// Reads the event attributes back from a received message.
    pub fn from_message(
        nats_subject: &str,
        headers: Option<&HeaderMap>,
        payload: Bytes,
    ) -> Result<Self, CloudEventError> {
        let header = |name: &'static HeaderName| {
            headers
                .and_then(|headers| headers.get(name.clone()))
                .map(|value| value.as_str().to_owned())
                .ok_or_else(|| CloudEventError {
                    nats_subject: nats_subject.to_owned(),
                    header: name.as_ref(),
                })
        };
        Ok(Self {
            id: header(&CE_ID)?,
            event_type: header(&CE_TYPE)?,
            source: header(&CE_SOURCE)?,
            subject: header(&CE_SUBJECT)?,
            time: header(&CE_TIME)?,
            payload,
            sequence: 0,
            traceparent: header(&TRACEPARENT).unwrap_or_default(),
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
        let message = Outgoing::new(entry.clone(), "jilin/registry");
        assert_eq!(message.id, entry.id);
        assert_eq!(message.subject, entry.subject);
        assert_eq!(message.payload, entry.payload);
        let headers = message.headers;
        assert_eq!(headers.get("Nats-Msg-Id").unwrap().as_str(), "0190-abc");
        assert_eq!(
            headers.get("ce-specversion").unwrap().as_str(),
            SPEC_VERSION
        );
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
