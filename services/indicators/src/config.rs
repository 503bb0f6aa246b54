//! Configuration from flags and environment variables.

use std::net::SocketAddr;
use std::path::PathBuf;

use jilin_runtime::{AuthArgs, ClockSetting, DeployArgs, LogFormat, NatsArgs, TlsArgs};

/// The indicator service's settings; every flag has an environment variable.
#[derive(Clone, Debug, clap::Parser)]
#[command(
    name = "jilin-indicators",
    version,
    about = "Jilin indicator calculation gRPC service"
)]
pub struct Config {
    /// Address to serve gRPC on.
    #[arg(long, env = "INDICATORS_LISTEN", default_value = jilin_runtime::defaults::INDICATORS_LISTEN)]
    pub listen: SocketAddr,
    /// Directory of the store (created if missing).
    #[arg(long, env = "INDICATORS_DATA_DIR", default_value = "./data/indicators")]
    pub data_dir: PathBuf,
    /// NATS server with JetStream. The service starts without it and
    /// catches up when it is reachable.
    #[arg(long, env = "NATS_URL", default_value = "nats://127.0.0.1:4222")]
    pub nats_url: String,
    /// This service's NATS user (or creds file) and the server's CA.
    #[command(flatten)]
    pub nats: NatsArgs,
    /// The registry's gRPC address, read when JILIN_REGISTRY has lost its
    /// oldest events and the store must catch up from the registry itself.
    #[arg(
        long,
        env = "INDICATORS_REGISTRY_URL",
        default_value = jilin_runtime::defaults::REGISTRY_URL
    )]
    pub registry_url: String,
    /// Durable consumer name on JILIN_REGISTRY; two instances that must
    /// each see every event need different names.
    #[arg(long, env = "INDICATORS_CONSUMER", default_value = "jilin-indicators")]
    pub consumer_name: String,
    /// Forget the derived state and rebuild it by replaying JILIN_REGISTRY
    /// from the start. Definitions and published values are kept.
    #[arg(long, env = "INDICATORS_REBUILD")]
    pub rebuild: bool,
    /// "Now" for definition times and for the last month published:
    /// `system`, a fixed date or RFC 3339 time, or one followed by
    /// `*FACTOR` to run faster.
    #[arg(long, env = "INDICATORS_CLOCK", default_value = "system")]
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
    /// Metrics endpoint and stream replicas.
    #[command(flatten)]
    pub deploy: DeployArgs,
}

impl Config {
    /// Defaults for a test or an embedding: everything under `data_dir`.
    pub fn new(listen: SocketAddr, data_dir: PathBuf, nats_url: String) -> Self {
        Self {
            listen,
            data_dir,
            nats_url,
            nats: NatsArgs::default(),
            registry_url: jilin_runtime::defaults::REGISTRY_URL.into(),
            consumer_name: "jilin-indicators".into(),
            rebuild: false,
            clock: ClockSetting::System,
            log_format: LogFormat::default(),
            auth: AuthArgs::default(),
            tls: TlsArgs::default(),
            deploy: DeployArgs::default(),
        }
    }
}
