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
