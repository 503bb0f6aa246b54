//! The client subcommands: flags → a gRPC request to the right service →
//! a table or JSON on stdout. Addresses come from flags or the
//! environment, defaulting to where `jilin up` serves.

pub mod alerts;
pub mod backup;
mod credentials;
pub mod delivery;
pub mod health;
pub mod import;
pub mod indicators;
pub mod registry;
pub mod risk;
pub mod token;

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use jilin_runtime::ClientTls;
use tonic::transport::Channel;
use tonic_types::StatusExt;

pub use credentials::{AuthedChannel, Credentials, CredentialsError, dev_admin_token};

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
    /// The caller's token (a JWT). By default, the admin token `jilin up`
    /// wrote under `./data` (or `$JILIN_DATA_DIR`).
    #[arg(long, global = true, env = "JILIN_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// A file holding the caller's token.
    #[arg(long, global = true, env = "JILIN_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// The CA (PEM) that signed the services' certificates, for
    /// `https://` addresses. By default, the development CA `jilin up`
    /// made under `./data` (or `$JILIN_DATA_DIR`).
    #[arg(long, global = true, env = "JILIN_CA")]
    pub ca: Option<PathBuf>,
    /// Who is making changes, for a system running with
    /// `--insecure-no-auth` (the `x-jilin-actor` header); with tokens, the
    /// token's subject is the actor.
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
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
}

pub type Outcome = Result<(), ClientError>;

impl Connection {
    pub async fn channel(&self, url: &str) -> Result<Channel, ClientError> {
        let connect = |message: String| ClientError::Connect {
            url: url.to_owned(),
            message,
        };
        let ca = self.ca.clone().or_else(|| {
            Some(crate::identity::dev_cert_files(&data_dir()).ca).filter(|ca| ca.exists())
        });
        ClientTls::trusting(ca.as_deref())
            .and_then(|tls| tls.endpoint(url))
            .map_err(|err| connect(err.to_string()))?
            .connect()
            .await
            .map_err(|err| connect(format!("{err} (is `jilin up` running?)")))
    }

    /// The caller's credentials: `--token`, `--token-file`, or the admin
    /// token of a `jilin up` in this directory, if there is one.
    pub fn credentials(&self) -> Result<Credentials, ClientError> {
        let actor = Some(self.actor.as_str());
        if let Some(token) = &self.token {
            return Ok(Credentials::new(Some(token), actor)?);
        }
        let file = self
            .token_file
            .clone()
            .or_else(|| Some(dev_admin_token(&data_dir())).filter(|file| file.exists()));
        let token = match file {
            Some(file) => Some(std::fs::read_to_string(&file).map_err(|err| {
                CredentialsError(format!("cannot read the token {}: {err}", file.display()))
            })?),
            None => None,
        };
        Ok(Credentials::new(token.as_deref(), actor)?)
    }

    /// A channel to `url` whose calls carry the caller's credentials.
    pub async fn authed(&self, url: &str) -> Result<AuthedChannel, ClientError> {
        let credentials = self.credentials()?;
        Ok(credentials.on(self.channel(url).await?))
    }

    pub fn json(&self) -> bool {
        self.output == Format::Json
    }
}

/// Where a `jilin up` in this directory keeps its data: `$JILIN_DATA_DIR`
/// or `./data`.
pub(crate) fn data_dir() -> PathBuf {
    std::env::var_os("JILIN_DATA_DIR").map_or("./data".into(), PathBuf::from)
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

/// The longest wait a refused write honours before asking again.
const LONGEST_BACKLOG_WAIT: Duration = Duration::from_secs(10);

/// Calls `call` until the service stops refusing it for its backlog of
/// unpublished events (RESOURCE_EXHAUSTED with a `RetryInfo`), waiting as
/// long as it asks each time. A refused write changed nothing, so calling
/// again is exact. Any other answer is returned as it is.
pub async fn through_backlog<T, F, Fut>(mut call: F) -> Result<T, tonic::Status>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, tonic::Status>>,
{
    loop {
        match call().await {
            Err(status) if status.code() == tonic::Code::ResourceExhausted => {
                let Some(delay) = status
                    .get_details_retry_info()
                    .and_then(|info| info.retry_delay)
                else {
                    return Err(status);
                };
                tokio::time::sleep(delay.min(LONGEST_BACKLOG_WAIT)).await;
            }
            answer => return answer,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::{Code, Status};
    use tonic_types::ErrorDetails;

    fn backlog(retry: Option<Duration>) -> Status {
        Status::with_error_details(
            Code::ResourceExhausted,
            "events are waiting",
            ErrorDetails::with_retry_info(retry),
        )
    }

    #[tokio::test]
    async fn a_write_refused_for_the_backlog_is_sent_again_after_the_delay() {
        let mut calls = 0;
        let answer = through_backlog(|| {
            calls += 1;
            let answer = if calls < 3 {
                Err(backlog(Some(Duration::from_millis(1))))
            } else {
                Ok(calls)
            };
            async move { answer }
        })
        .await;
        assert_eq!(answer.unwrap(), 3);
    }

    #[tokio::test]
    async fn other_refusals_are_returned_at_once() {
        for refusal in [backlog(None), Status::invalid_argument("bad")] {
            let mut calls = 0;
            let code = refusal.code();
            let answer: Result<(), Status> = through_backlog(|| {
                calls += 1;
                let refusal = refusal.clone();
                async move { Err(refusal) }
            })
            .await;
            assert_eq!(answer.unwrap_err().code(), code);
            assert_eq!(calls, 1);
        }
    }
}
