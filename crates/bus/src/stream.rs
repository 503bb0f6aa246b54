//! The JetStream stream a service publishes to.

use std::time::Duration;

use async_nats::jetstream::{self, stream};

/// Name and subjects of a service's stream, e.g. `JILIN_REGISTRY` over
/// `jilin.registry.>`.
#[derive(Clone, Debug)]
pub struct StreamSpec {
    pub name: &'static str,
    pub subjects: &'static str,
}

/// The registry's stream: projects and progress reports.
pub const REGISTRY_STREAM: StreamSpec = StreamSpec {
    name: "JILIN_REGISTRY",
    subjects: "jilin.registry.>",
};

/// The indicator service's stream: indicator value changes.
pub const INDICATORS_STREAM: StreamSpec = StreamSpec {
    name: "JILIN_INDICATORS",
    subjects: "jilin.indicators.>",
};

/// The risk service's stream: alert changes.
pub const RISK_STREAM: StreamSpec = StreamSpec {
    name: "JILIN_RISK",
    subjects: "jilin.risk.>",
};

/// How long JetStream remembers message ids to drop duplicates. A relay
/// that lost a PubAck republishes the same id well within this window.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(30 * 60);

/// Creates the stream if it does not exist; an existing one is left as is.
pub async fn ensure_stream(
    jetstream: &jetstream::Context,
    spec: &StreamSpec,
) -> Result<stream::Stream, async_nats::Error> {
    let config = stream::Config {
        name: spec.name.to_owned(),
        subjects: vec![spec.subjects.to_owned()],
        storage: stream::StorageType::File,
        duplicate_window: DUPLICATE_WINDOW,
        ..Default::default()
    };
    Ok(jetstream.get_or_create_stream(config).await?)
}

/// Whether `stream` no longer holds its first events (they aged out or
/// were purged), so a consumer starting from scratch must catch up from
/// the owning service first. A stream that does not exist yet has lost
/// nothing.
pub async fn stream_lost_history(
    client: &async_nats::Client,
    stream: &StreamSpec,
) -> Result<bool, String> {
    let jetstream = async_nats::jetstream::new(client.clone());
    let mut stream = match jetstream.get_stream(stream.name).await {
        Ok(stream) => stream,
        Err(err) => {
            use async_nats::jetstream::context::GetStreamErrorKind;
            return match err.kind() {
                GetStreamErrorKind::JetStream(_) => Ok(false),
                _ => Err(err.to_string()),
            };
        }
    };
    let info = stream.info().await.map_err(|e| e.to_string())?;
    Ok(info.state.first_sequence > 1)
}
