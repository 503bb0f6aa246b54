//! Configuration from flags and environment variables.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use jilin_runtime::{AuthArgs, DeployArgs, LogFormat, NatsArgs, TlsArgs};

use jilin_runtime::ClockSetting;

/// The risk service's settings; every flag has an environment variable.
#[derive(Clone, Debug, clap::Parser)]
#[command(
    name = "jilin-risk",
    version,
    about = "Jilin risk monitoring gRPC service"
)]
pub struct Config {
    /// Address to serve gRPC on.
    #[arg(long, env = "RISK_LISTEN", default_value = jilin_runtime::defaults::RISK_LISTEN)]
    pub listen: SocketAddr,
    /// Directory of the store (created if missing).
    #[arg(long, env = "RISK_DATA_DIR", default_value = "./data/risk")]
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
        env = "RISK_REGISTRY_URL",
        default_value = jilin_runtime::defaults::REGISTRY_URL
    )]
    pub registry_url: String,
    /// The indicator service's gRPC address, for sector benchmarks.
    #[arg(
        long,
        env = "RISK_INDICATORS_URL",
        default_value = jilin_runtime::defaults::INDICATORS_URL
    )]
    pub indicators_url: String,
    /// Durable consumer name on JILIN_REGISTRY and JILIN_INDICATORS.
    #[arg(long, env = "RISK_CONSUMER", default_value = "jilin-risk")]
    pub consumer_name: String,
    /// "Now" for time-based rules: `system`, a fixed date or RFC 3339 time
    /// (`2026-06-15`), or one followed by `*FACTOR` to run faster
    /// (`2026-01-01*86400`: a day per second).
    #[arg(long, env = "RISK_CLOCK", default_value = "system")]
    pub clock: ClockSetting,
    /// Seconds between two evaluations of every rule (time passes even
    /// when nothing is reported).
    #[arg(long, env = "RISK_EVALUATION_INTERVAL", default_value = "60", value_parser = parse_seconds)]
    pub evaluation_interval: Duration,
    /// Days of alert history kept: the numbered changes WatchAlerts
    /// replays, and each alert's transitions (its last one always stays).
    #[arg(long, env = "RISK_HISTORY_RETENTION_DAYS", default_value_t = 365)]
    pub history_retention_days: u64,
    /// Where people look at alerts, e.g. `https://console.example/risk`:
    /// Alertmanager receivers get `generatorURL` =
    /// `{external_url}/alerts/{fingerprint}`. Unset, none is given.
    #[arg(long, env = "RISK_EXTERNAL_URL", value_parser = parse_external_url)]
    pub external_url: Option<String>,
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

fn parse_seconds(text: &str) -> Result<Duration, String> {
    match text.parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && seconds > 0.0 => Ok(Duration::from_secs_f64(seconds)),
        _ => Err(format!("`{text}` is not a positive number of seconds")),
    }
}

fn parse_external_url(text: &str) -> Result<String, String> {
    let url = text.trim_end_matches('/');
    let scheme = url.starts_with("http://") || url.starts_with("https://");
    if scheme && url.len() <= 1024 && !url.chars().any(char::is_whitespace) {
        Ok(url.to_owned())
    } else {
        Err(format!("`{text}` is not an http:// or https:// URL"))
    }
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
            indicators_url: jilin_runtime::defaults::INDICATORS_URL.into(),
            consumer_name: "jilin-risk".into(),
            clock: ClockSetting::System,
            evaluation_interval: Duration::from_secs(60),
            history_retention_days: 365,
            external_url: None,
            log_format: LogFormat::default(),
            auth: AuthArgs::default(),
            tls: TlsArgs::default(),
            deploy: DeployArgs::default(),
        }
    }
}
