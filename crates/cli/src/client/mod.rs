//! The client subcommands: flags → a gRPC request to the right service →
//! a table or JSON on stdout. Addresses come from flags or the
//! environment, defaulting to where `jilin up` serves.

pub mod alerts;
pub mod indicators;
pub mod registry;
pub mod risk;

use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint};

use crate::output::Format;

/// Where the services are and how to print.
#[derive(Clone, Debug, clap::Args)]
pub struct Connection {
    #[arg(
        long,
        global = true,
        env = "JILIN_REGISTRY",
        default_value = jilin_runtime::defaults::REGISTRY_URL
    )]
    pub registry: String,
    #[arg(
        long,
        global = true,
        env = "JILIN_INDICATORS",
        default_value = jilin_runtime::defaults::INDICATORS_URL
    )]
    pub indicators: String,
    #[arg(
        long,
        global = true,
        env = "JILIN_RISK",
        default_value = jilin_runtime::defaults::RISK_URL
    )]
    pub risk: String,
    /// Who is making changes (the `x-jilin-actor` header).
    #[arg(long, global = true, env = "JILIN_ACTOR", default_value = "jilin-cli")]
    pub actor: String,
    /// `table` for people, `json` for scripts (one JSON document per line).
    #[arg(long, short = 'o', global = true, value_enum, default_value = "table")]
    pub output: Format,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{}", crate::output::describe_error(.0))]
    Status(#[from] tonic::Status),
    #[error("cannot reach {url}: {message}")]
    Connect { url: String, message: String },
    #[error("{0}")]
    Usage(String),
}

pub type Outcome = Result<(), ClientError>;

impl Connection {
    pub async fn channel(&self, url: &str) -> Result<Channel, ClientError> {
        let connect = |message: String| ClientError::Connect {
            url: url.to_owned(),
            message,
        };
        Endpoint::from_shared(url.to_owned())
            .map_err(|err| connect(err.to_string()))?
            .tcp_nodelay(true)
            .connect()
            .await
            .map_err(|err| connect(format!("{err} (is `jilin up` running?)")))
    }

    /// A request carrying the actor header.
    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Ok(actor) = MetadataValue::try_from(self.actor.as_str()) {
            request.metadata_mut().insert("x-jilin-actor", actor);
        }
        request
    }

    pub fn json(&self) -> bool {
        self.output == Format::Json
    }
}

/// `{collection}/{id}` from either the full name or the id alone.
pub fn named(collection: &str, name: &str) -> String {
    match name.strip_prefix(collection) {
        Some(rest) if rest.starts_with('/') => name.to_owned(),
        _ => format!("{collection}/{name}"),
    }
}

/// Field names given on the command line, for an update mask.
pub fn mask(paths: Vec<&str>) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask {
        paths: paths.into_iter().map(str::to_owned).collect(),
    })
}

/// A timestamp as people read it.
pub fn time(timestamp: Option<&prost_types::Timestamp>) -> String {
    timestamp
        .and_then(jilin_proto::from_timestamp)
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "-".into())
}
