//! The transactional outbox: events staged in the same sled transaction as
//! the state change they describe, drained in order by a relay.
//!
//! Entries live in the `__outbox` tree under an 8-byte big-endian sequence
//! number taken from a counter in the same tree, so the outbox order is the
//! commit order. The counter key sorts after every entry key.

use prost::Message;

use crate::StoreError;

/// Key of the sequence counter inside the outbox tree.
pub(crate) const SEQUENCE_KEY: &[u8] = b"\xff\xffsequence";
/// Name of the outbox tree.
pub(crate) const OUTBOX_TREE: &str = "__outbox";

/// One event waiting to be published.
#[derive(Clone, PartialEq, Message)]
pub struct OutboxEntry {
    /// Unique event id: CloudEvents `ce-id` and JetStream `Nats-Msg-Id`.
    #[prost(string, tag = "1")]
    pub id: String,
    /// NATS subject, e.g. `jilin.registry.project.created`.
    #[prost(string, tag = "2")]
    pub subject: String,
    /// Full protobuf name of the payload: CloudEvents `ce-type`.
    #[prost(string, tag = "3")]
    pub event_type: String,
    /// Resource the event is about: CloudEvents `ce-subject`.
    #[prost(string, tag = "4")]
    pub resource: String,
    /// RFC 3339 time of the change: CloudEvents `ce-time`.
    #[prost(string, tag = "5")]
    pub time: String,
    /// Encoded protobuf payload.
    #[prost(bytes = "vec", tag = "6")]
    pub payload: Vec<u8>,
    /// W3C trace context of the request that caused the event, if any.
    #[prost(string, tag = "7")]
    pub traceparent: String,
    /// The principal (token subject) whose request caused the event, if
    /// any: the CloudEvents extension attribute `principal`.
    #[prost(string, tag = "8")]
    pub principal: String,
}

pub(crate) fn sequence_key(sequence: u64) -> [u8; 8] {
    sequence.to_be_bytes()
}

pub(crate) fn decode_sequence(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

/// The sequence number an outbox entry's key holds; any other key there is
/// corruption.
pub(crate) fn entry_sequence(key: &[u8]) -> Result<u64, StoreError> {
    decode_sequence(key).ok_or_else(|| StoreError::Corrupt {
        table: OUTBOX_TREE,
        key: format!("{key:?}"),
        reason: "outbox key is not a sequence number".into(),
    })
}
