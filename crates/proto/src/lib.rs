//! The public contract of the Jilin Industrial Development Monitor as Rust
//! code: every message and service under `proto/`, generated at build time.
//! This is the only crate that contains generated code; services convert
//! between these types and their own domain types at their API edge. Beside
//! it: timestamps, and [`registry_change`], which reads any registry event.

/// `jilin.registry.v1`: the project registry service and its resources.
pub mod registry {
    pub mod v1 {
        tonic::include_proto!("jilin.registry.v1");
    }
}

/// `jilin.indicators.v1`: the indicator calculation service.
pub mod indicators {
    pub mod v1 {
        tonic::include_proto!("jilin.indicators.v1");
    }
}

/// `jilin.risk.v1`: the risk monitoring service.
pub mod risk {
    pub mod v1 {
        tonic::include_proto!("jilin.risk.v1");
    }
}

/// `jilin.admin.v1`: what every service serves beside its API for
/// operators (backups of its store).
pub mod admin {
    pub mod v1 {
        tonic::include_proto!("jilin.admin.v1");
    }
}

/// `jilin.events.v1`: the event payloads published on JetStream.
pub mod events {
    pub mod v1 {
        tonic::include_proto!("jilin.events.v1");
    }
}

/// Encoded `FileDescriptorSet` of every .proto file (including the
/// well-known types they import), for gRPC reflection and for decoding an
/// event from its `ce-type` alone.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("jilin_descriptor");

use prost::Message;
/// Gives every generated message its full protobuf name (`Name::full_name`),
/// which is the value of an event's `ce-type` header.
pub use prost::Name;

/// Calls `use_it` with `bytes` decoded as an `M`, if they decode (fuzz
/// targets: bytes as a client could send them).
pub fn if_decodes<M: Message + Default>(bytes: &[u8], use_it: impl FnOnce(M)) {
    if let Ok(message) = M::decode(bytes) {
        use_it(message);
    }
}

/// `google.protobuf.Timestamp` of a time.
pub fn timestamp(time: time::OffsetDateTime) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: time.unix_timestamp(),
        nanos: time.nanosecond() as i32,
    }
}

/// The time of a `google.protobuf.Timestamp`; `None` when out of range.
pub fn from_timestamp(timestamp: &prost_types::Timestamp) -> Option<time::OffsetDateTime> {
    let nanos = i128::from(timestamp.seconds) * 1_000_000_000 + i128::from(timestamp.nanos);
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
}

/// What a registry event says, whatever its kind: the project after the
/// change and, for a report event, the report.
#[derive(Clone, Debug, PartialEq)]
pub struct RegistryChange {
    pub project: registry::v1::Project,
    pub report: Option<registry::v1::ProgressReport>,
}

/// Why an event can never be applied by a consumer: it is terminated and
/// logged, never retried.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum EventError {
    #[error("`{0}` is not an event type this consumer reads")]
    UnknownType(String),
    #[error("{event_type}: undecodable payload: {source}")]
    Payload {
        event_type: String,
        source: prost::DecodeError,
    },
    #[error("the event has no {0}")]
    Missing(&'static str),
    #[error("{field} is not valid: {value:?}")]
    Invalid { field: &'static str, value: String },
}

impl EventError {
    /// `field` holds `value`, which does not make sense.
    pub fn invalid(field: &'static str, value: impl std::fmt::Display) -> Self {
        EventError::Invalid {
            field,
            value: value.to_string(),
        }
    }
}

/// Decodes a `JILIN_REGISTRY` event by its `ce-type`.
pub fn registry_change(event_type: &str, payload: &[u8]) -> Result<RegistryChange, EventError> {
    use events::v1 as events;
    let bad = |source| EventError::Payload {
        event_type: event_type.to_owned(),
        source,
    };
    let (project, report) = if event_type == events::ProjectCreated::full_name() {
        let event = events::ProjectCreated::decode(payload).map_err(bad)?;
        (event.project, None)
    } else if event_type == events::ProjectUpdated::full_name() {
        let event = events::ProjectUpdated::decode(payload).map_err(bad)?;
        (event.project, None)
    } else if event_type == events::ProjectTransitioned::full_name() {
        let event = events::ProjectTransitioned::decode(payload).map_err(bad)?;
        (event.project, None)
    } else if event_type == events::ProgressReported::full_name() {
        let event = events::ProgressReported::decode(payload).map_err(bad)?;
        let report = event.report.ok_or(EventError::Missing("report"))?;
        (event.project, Some(report))
    } else {
        return Err(EventError::UnknownType(event_type.to_owned()));
    };
    Ok(RegistryChange {
        project: project.ok_or(EventError::Missing("project"))?,
        report,
    })
}
