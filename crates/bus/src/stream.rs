//! The JetStream stream a service publishes to.

use std::time::Duration;

use async_nats::jetstream::{self, stream};

/// Name and subjects of a service's stream, e.g. `JILIN_REGISTRY` over
/// `jilin.registry.>`, and the CloudEvents `ce-source` of its events.
#[derive(Clone, Debug)]
pub struct StreamSpec {
    pub name: &'static str,
    pub subjects: &'static str,
    /// `ce-source` of every event the owning service publishes.
    pub source: &'static str,
}

/// The registry's stream: projects and progress reports.
pub const REGISTRY_STREAM: StreamSpec = StreamSpec {
    name: "JILIN_REGISTRY",
    subjects: "jilin.registry.>",
    source: "jilin/registry",
};

/// The indicator service's stream: indicator value changes.
pub const INDICATORS_STREAM: StreamSpec = StreamSpec {
    name: "JILIN_INDICATORS",
    subjects: "jilin.indicators.>",
    source: "jilin/indicators",
};

/// The risk service's stream: alert changes.
pub const RISK_STREAM: StreamSpec = StreamSpec {
    name: "JILIN_RISK",
    subjects: "jilin.risk.>",
    source: "jilin/risk",
};

/// How long JetStream remembers message ids to drop duplicates. A relay
/// that lost a PubAck republishes the same id well within this window.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(30 * 60);

/// Creates the stream if it does not exist, stored on `replicas` servers
/// of a cluster (1 for a single server); an existing one is left as is.
pub async fn ensure_stream(
    jetstream: &jetstream::Context,
    spec: &StreamSpec,
    replicas: usize,
) -> Result<stream::Stream, async_nats::Error> {
    let config = stream::Config {
        name: spec.name.to_owned(),
        subjects: vec![spec.subjects.to_owned()],
        storage: stream::StorageType::File,
        duplicate_window: DUPLICATE_WINDOW,
        num_replicas: replicas.max(1),
        ..Default::default()
    };
    Ok(jetstream.get_or_create_stream(config).await?)
}

/// Why a stream could not be inspected.
#[derive(Debug, thiserror::Error)]
#[error("cannot inspect stream {stream}: {source}")]
pub struct StreamError {
    pub stream: &'static str,
    #[source]
    pub source: async_nats::Error,
}

/// Whether JetStream answered that the stream does not exist (as opposed
/// to not answering, or another JetStream error).
pub(crate) fn is_stream_not_found(err: &jetstream::context::GetStreamError) -> bool {
    use jetstream::context::GetStreamErrorKind;
    matches!(err.kind(), GetStreamErrorKind::JetStream(ref e) if e.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND)
}

/// Whether `stream` no longer holds its first events (they aged out or
/// were purged), so a consumer starting from scratch must catch up from
/// the owning service first. A stream that does not exist yet has lost
/// nothing; any other failure is an error.
pub async fn stream_lost_history(
    client: &async_nats::Client,
    stream: &StreamSpec,
) -> Result<bool, StreamError> {
    let failed = |source: async_nats::Error| StreamError {
        stream: stream.name,
        source,
    };
    let jetstream = jetstream::new(client.clone());
    let mut handle = match jetstream.get_stream(stream.name).await {
        Ok(handle) => handle,
        Err(err) if is_stream_not_found(&err) => return Ok(false),
        Err(err) => return Err(failed(err.into())),
    };
    let info = handle.info().await.map_err(|err| failed(err.into()))?;
    Ok(info.state.first_sequence > 1)
}
