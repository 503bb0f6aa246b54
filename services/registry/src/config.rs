//! Configuration from flags and environment variables.

use std::net::SocketAddr;
use std::path::PathBuf;

use jilin_runtime::{AuthArgs, ClockSetting, DeployArgs, LogFormat, NatsArgs, TlsArgs};

/// Events that may wait for NATS unless configured otherwise: at the
/// relay's few thousand events a second, some tens of seconds of them.
pub const DEFAULT_OUTBOX_LIMIT: usize = 100_000;

/// The registry's settings; every flag has an environment variable.
#[derive(Clone, Debug, clap::Parser)]
#[command(
    name = "jilin-registry",
    version,
    about = "Jilin project registry gRPC service"
)]
pub struct Config {
    /// Address to serve gRPC on.
    #[arg(long, env = "REGISTRY_LISTEN", default_value = jilin_runtime::defaults::REGISTRY_LISTEN)]
    pub listen: SocketAddr,
    /// Directory of the store (created if missing).
    #[arg(long, env = "REGISTRY_DATA_DIR", default_value = "./data/registry")]
    pub data_dir: PathBuf,
    /// NATS server with JetStream. The service starts without it; events
    /// wait in the outbox until it is reachable.
    #[arg(long, env = "NATS_URL", default_value = "nats://127.0.0.1:4222")]
    pub nats_url: String,
    /// This service's NATS user (or creds file) and the server's CA.
    #[command(flatten)]
    pub nats: NatsArgs,
    /// "Now" for the times the registry records and the months it accepts
    /// reports for: `system`, a fixed date or RFC 3339 time, or one
    /// followed by `*FACTOR` to run faster.
    #[arg(long, env = "REGISTRY_CLOCK", default_value = "system")]
    pub clock: ClockSetting,
    /// Log line format: text or json. Levels come from RUST_LOG.
    #[arg(long, env = "LOG_FORMAT", default_value = "text")]
    pub log_format: LogFormat,
    /// Who may call: token keys, issuer, audience, this service's own token.
    #[command(flatten)]
    pub auth: AuthArgs,
    /// How its gRPC is encrypted: certificate, key, client CA for mutual
    /// TLS, the CA its peers' certificates come from.
    #[command(flatten)]
    pub tls: TlsArgs,
    /// Hours a request id is remembered after its change, so that a retry
    /// gets the first outcome back; then it is forgotten.
    #[arg(long, env = "REGISTRY_REQUEST_RETENTION_HOURS", default_value_t = 168)]
    pub request_retention_hours: u64,
    /// Events that may wait in the outbox for NATS. Above it, writes are
    /// refused with RESOURCE_EXHAUSTED and a retry delay until the relay
    /// catches up, so a load faster than NATS takes (or NATS away for
    /// long) cannot grow the store and the memory without bound.
    #[arg(long, env = "REGISTRY_OUTBOX_LIMIT", default_value_t = DEFAULT_OUTBOX_LIMIT)]
    pub outbox_limit: usize,
    /// Metrics endpoint and stream replicas.
    #[command(flatten)]
    pub deploy: DeployArgs,
}

impl Config {
    /// Defaults for a test or an embedding: the store in `data_dir`.
    pub fn new(listen: SocketAddr, data_dir: PathBuf, nats_url: String) -> Self {
        Self {
            listen,
            data_dir,
            nats_url,
            nats: NatsArgs::default(),
            clock: ClockSetting::System,
            request_retention_hours: 168,
            outbox_limit: DEFAULT_OUTBOX_LIMIT,
            log_format: LogFormat::default(),
            auth: AuthArgs::default(),
            tls: TlsArgs::default(),
            deploy: DeployArgs::default(),
        }
    }
}
