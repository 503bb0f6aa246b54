//! `jilin up`: the registry, indicator and risk services in one process,
//! each on its own port with its own store under the data dir, connected
//! through NATS exactly as when deployed apart. [`System::start`] is the
//! entry point tests use too.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jilin_domain::Period;
use jilin_indicators::RunningIndicators;
use jilin_registry::RunningRegistry;
use jilin_risk::RunningRisk;
use jilin_runtime::ClockSetting;
use jilin_runtime::tls::url_of;
use jilin_runtime::{
    AuthArgs, CancellationToken, ClientTls, DeployArgs, LogFormat, NatsArgs, StartError,
};
use tonic_health::pb::health_check_response::ServingStatus;

use crate::demo::{self, DemoPlan};
use crate::identity::{AgencyCredentials, DevIdentity, IdentityError, IssuedTokens};
use crate::nats::{Nats, NatsError};

/// `jilin up` flags.
#[derive(Clone, Debug, clap::Args)]
pub struct UpArgs {
    /// Where the three stores (and a NATS store started here) live.
    #[arg(long, env = "JILIN_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// NATS with JetStream; started here from PATH when nothing answers.
    #[arg(long, env = "NATS_URL", default_value = crate::nats::DEFAULT_URL)]
    pub nats_url: String,
    #[arg(long, env = "REGISTRY_LISTEN", default_value = jilin_runtime::defaults::REGISTRY_LISTEN)]
    pub registry_listen: SocketAddr,
    #[arg(long, env = "INDICATORS_LISTEN", default_value = jilin_runtime::defaults::INDICATORS_LISTEN)]
    pub indicators_listen: SocketAddr,
    #[arg(long, env = "RISK_LISTEN", default_value = jilin_runtime::defaults::RISK_LISTEN)]
    pub risk_listen: SocketAddr,
    /// Where each service serves its Prometheus metrics (`/metrics`).
    #[arg(long, default_value = jilin_runtime::defaults::REGISTRY_METRICS)]
    pub registry_metrics: SocketAddr,
    #[arg(long, default_value = jilin_runtime::defaults::INDICATORS_METRICS)]
    pub indicators_metrics: SocketAddr,
    #[arg(long, default_value = jilin_runtime::defaults::RISK_METRICS)]
    pub risk_metrics: SocketAddr,
    /// Load the demo portfolio into an empty store and keep feeding it.
    #[arg(long)]
    pub demo: bool,
    /// Seed of the demo portfolio.
    #[arg(long, default_value = "2026")]
    pub demo_seed: u64,
    /// Projects in the demo portfolio.
    #[arg(long, default_value = "300")]
    pub demo_projects: usize,
    /// Months of the demo fed live, one every `--demo-month-seconds`.
    #[arg(long, default_value = "12")]
    pub demo_live_months: i32,
    #[arg(long, default_value = "20")]
    pub demo_month_seconds: u64,
    /// Log line format: text or json. Levels come from RUST_LOG.
    #[arg(long, env = "LOG_FORMAT", default_value = "text")]
    pub log_format: LogFormat,
    /// Whether the services' new stores compress their pages (zstd): about
    /// a third of the disk, for CPU on every write. By default only the
    /// registry's does. A store keeps what it was made with.
    #[arg(long, env = "JILIN_STORE_COMPRESSION", action = clap::ArgAction::Set)]
    pub store_compression: Option<bool>,
}

impl UpArgs {
    /// Every flag at its default (environment variables aside).
    pub fn parse_from_defaults() -> Self {
        #[derive(clap::Parser)]
        struct Defaults {
            #[command(flatten)]
            up: UpArgs,
        }
        <Defaults as clap::Parser>::parse_from(["jilin"]).up
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UpError {
    #[error(transparent)]
    Nats(#[from] NatsError),
    #[error("{service}: {source}")]
    Start {
        service: &'static str,
        source: StartError,
    },
    #[error("{0} did not report SERVING within 30 s")]
    Unhealthy(String),
    #[error("development identity: {0}")]
    Identity(#[from] IdentityError),
}

/// The three services, running.
pub struct System {
    pub registry: RunningRegistry,
    pub indicators: RunningIndicators,
    pub risk: RunningRisk,
    /// The signing key and the tokens written at start.
    pub identity: DevIdentity,
    pub tokens: IssuedTokens,
    /// What a client trusts to reach the services (the development CA).
    pub client_tls: ClientTls,
    nats: Nats,
}

/// Where each service's store goes and how they are reached.
#[derive(Clone, Debug)]
pub struct SystemConfig {
    pub data_dir: PathBuf,
    pub nats_url: String,
    pub registry_listen: SocketAddr,
    pub indicators_listen: SocketAddr,
    pub risk_listen: SocketAddr,
    /// Where each service serves its metrics (registry, indicators, risk).
    pub metrics: [Option<SocketAddr>; 3],
    /// Copies of each stream kept by the NATS cluster (1 for one server).
    pub stream_replicas: usize,
    /// "Now" for the registry and the indicator service.
    pub clock: ClockSetting,
    /// "Now" for the risk service (the demo moves it month by month).
    pub risk_clock: ClockSetting,
    pub risk_evaluation_interval: Duration,
    /// Whether new stores compress their pages (None: each store's default).
    pub store_compression: Option<bool>,
}

impl System {
    /// Finds or starts NATS, then starts the registry, the indicator
    /// service (pointed at the registry) and the risk service (pointed at
    /// both), and waits until all three are SERVING.
    pub async fn start(config: &SystemConfig) -> Result<Self, UpError> {
        let identity = DevIdentity::ensure(&config.data_dir)?;
        let nats = Nats::ensure(&config.nats_url, &config.data_dir, &identity.certs).await?;
        if let Err(err) = crate::nats::note_url(&config.data_dir, &nats.url) {
            tracing::warn!(error = %err, "the NATS URL is not noted for watchers");
        }
        let start_error = |service| move |source| UpError::Start { service, source };
        let tokens = identity.issue_tokens(time::OffsetDateTime::now_utc(), &demo::agencies())?;
        let jwks = identity.keys.jwks.clone();
        let client_tls = identity.client_tls().map_err(IdentityError::from)?;
        let service_auth =
            |name: &str| AuthArgs::verified(jwks.clone(), tokens.file(name).map(Path::to_path_buf));
        let registry = jilin_registry::start(
            &jilin_registry::Config {
                clock: config.clock,
                auth: AuthArgs::verified(jwks.clone(), None),
                tls: identity.service_tls(),
                nats: NatsArgs::from_access(&nats.access("registry")),
                deploy: deploy(config, 0),
                ..jilin_registry::Config::new(
                    config.registry_listen,
                    config.data_dir.join("registry"),
                    nats.url.clone(),
                )
            },
            CancellationToken::new(),
        )
        .await
        .map_err(start_error("registry"))?;
        let registry_url = url_of(registry.addr(), true);
        let mut indicators_config = jilin_indicators::Config::new(
            config.indicators_listen,
            config.data_dir.join("indicators"),
            nats.url.clone(),
        );
        indicators_config.registry_url = registry_url.clone();
        indicators_config.clock = config.clock;
        indicators_config.auth = service_auth("service-indicators");
        indicators_config.tls = identity.service_tls();
        indicators_config.nats = NatsArgs::from_access(&nats.access("indicators"));
        indicators_config.deploy = deploy(config, 1);
        let indicators = jilin_indicators::start(&indicators_config, CancellationToken::new())
            .await
            .map_err(start_error("indicators"))?;
        let mut risk_config = jilin_risk::Config::new(
            config.risk_listen,
            config.data_dir.join("risk"),
            nats.url.clone(),
        );
        risk_config.registry_url = registry_url;
        risk_config.indicators_url = url_of(indicators.addr(), true);
        risk_config.clock = config.risk_clock;
        risk_config.auth = service_auth("service-risk");
        risk_config.tls = identity.service_tls();
        risk_config.nats = NatsArgs::from_access(&nats.access("risk"));
        risk_config.deploy = deploy(config, 2);
        risk_config.evaluation_interval = config.risk_evaluation_interval;
        let risk = jilin_risk::start(&risk_config, CancellationToken::new())
            .await
            .map_err(start_error("risk"))?;
        let system = Self {
            registry,
            indicators,
            risk,
            identity,
            tokens,
            client_tls,
            nats,
        };
        for (addr, service) in system.services() {
            wait_serving(&system.client_tls, addr, service).await?;
        }
        Ok(system)
    }

    /// Each service's address and gRPC service name.
    pub fn services(&self) -> [(SocketAddr, &'static str); 3] {
        [
            (self.registry.addr(), "jilin.registry.v1.RegistryService"),
            (
                self.indicators.addr(),
                "jilin.indicators.v1.IndicatorService",
            ),
            (self.risk.addr(), "jilin.risk.v1.RiskService"),
        ]
    }

    /// The `https://` URL of each service: registry, indicators, risk.
    pub fn urls(&self) -> [String; 3] {
        self.services().map(|(addr, _)| url_of(addr, true))
    }

    /// A channel to the service at `url`, trusting the development CA.
    pub async fn channel(&self, url: &str) -> Result<tonic::transport::Channel, UpError> {
        let endpoint = self.client_tls.endpoint(url).map_err(IdentityError::from)?;
        endpoint
            .connect()
            .await
            .map_err(|err| UpError::Unhealthy(format!("{url}: {err}")))
    }

    /// How `user` (a service, or `watcher`) signs in to NATS.
    pub fn nats_access(&self, user: &str) -> jilin_bus::NatsAccess {
        self.nats.access(user)
    }

    /// Where each service serves `/metrics`: registry, indicators, risk.
    pub fn metrics_addrs(&self) -> [Option<SocketAddr>; 3] {
        [
            self.registry.metrics_addr(),
            self.indicators.metrics_addr(),
            self.risk.metrics_addr(),
        ]
    }

    pub fn nats_url(&self) -> &str {
        &self.nats.url
    }

    /// Stops the services (each drains, flushes its store), then a NATS
    /// server started here.
    pub async fn shutdown(self) {
        let results = [
            ("risk", self.risk.shutdown().await),
            ("indicators", self.indicators.shutdown().await),
            ("registry", self.registry.shutdown().await),
        ];
        for (service, result) in results {
            if let Err(err) = result {
                tracing::error!(%service, error = %err, "did not stop cleanly");
            }
        }
        self.nats.stop().await;
    }
}

/// The deployment flags of service `index` (registry, indicators, risk).
fn deploy(config: &SystemConfig, index: usize) -> DeployArgs {
    DeployArgs {
        metrics_listen: config.metrics[index],
        stream_replicas: config.stream_replicas,
        store_compression: config.store_compression,
        ..DeployArgs::default()
    }
}

async fn wait_serving(tls: &ClientTls, addr: SocketAddr, service: &str) -> Result<(), UpError> {
    let unhealthy = || UpError::Unhealthy(format!("{service} at {addr}"));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let status = async {
            let channel = tls
                .endpoint(&url_of(addr, true))
                .ok()?
                .connect()
                .await
                .ok()?;
            crate::client::health::status(channel, service).await.ok()
        }
        .await;
        if status == Some(ServingStatus::Serving) {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(unhealthy());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The demo's timeline as of `today`: three years of history, the last
/// `live` months of which are fed live, up to last month.
pub fn demo_plan(args: &UpArgs, today: time::Date) -> DemoPlan {
    let last = Period::of_date(today).add_months(-1).expect("in range");
    DemoPlan {
        seed: args.demo_seed,
        projects: args.demo_projects,
        first: last.add_months(-36).expect("in range"),
        loaded_until: last
            .add_months(-args.demo_live_months.max(0))
            .expect("in range"),
        until: last,
    }
}

/// The first day of `month`, as the risk clock's "now" while `month`'s
/// reports come in (the month before is complete).
pub fn start_of(month: Period) -> ClockSetting {
    let date =
        time::Date::from_calendar_date(month.year(), month.month(), 1).expect("a valid date");
    ClockSetting::Fixed(date.midnight().assume_utc())
}

/// The first day after `month`, as the risk clock's "now".
pub fn after(month: Period) -> ClockSetting {
    let next = month.next().expect("in range");
    let date = time::Date::from_calendar_date(next.year(), next.month(), 1).expect("a valid date");
    ClockSetting::Fixed(date.midnight().assume_utc())
}

/// Runs `jilin up` until SIGINT/SIGTERM.
pub async fn run(args: UpArgs) -> std::process::ExitCode {
    let today = time::OffsetDateTime::now_utc().date();
    let plan = demo_plan(&args, today);
    let pace = Duration::from_secs(args.demo_month_seconds.max(1));
    let config = SystemConfig {
        data_dir: args.data_dir.clone(),
        nats_url: args.nats_url.clone(),
        registry_listen: args.registry_listen,
        indicators_listen: args.indicators_listen,
        risk_listen: args.risk_listen,
        metrics: [
            Some(args.registry_metrics),
            Some(args.indicators_metrics),
            Some(args.risk_metrics),
        ],
        stream_replicas: 1,
        store_compression: args.store_compression,
        clock: ClockSetting::System,
        risk_clock: if args.demo {
            after(plan.loaded_until)
        } else {
            ClockSetting::System
        },
        risk_evaluation_interval: if args.demo {
            pace / 2
        } else {
            Duration::from_secs(60)
        },
    };
    let system = match System::start(&config).await {
        Ok(system) => system,
        Err(err) => {
            eprintln!("jilin up: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    print_welcome(&system, args.demo);
    let shutdown = CancellationToken::new();
    let credentials = match AgencyCredentials::from_tokens(&system.tokens) {
        Ok(credentials) => credentials,
        Err(err) => {
            eprintln!("jilin up: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let demo = args.demo.then(|| {
        let registry_url = url_of(system.registry.addr(), true);
        let tls = system.client_tls.clone();
        let clock = system.risk.clock().clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = shutdown.cancelled() => {}
                result = run_demo(&registry_url, &tls, &credentials, plan, pace, clock) => if let Err(err) = result {
                    tracing::error!(error = %err, "the demo stopped");
                },
            }
        })
    });
    jilin_runtime::wait_for_signal(shutdown.clone()).await;
    shutdown.cancel();
    if let Some(demo) = demo {
        let _ = demo.await;
    }
    system.shutdown().await;
    jilin_runtime::flush_traces();
    println!("jilin stopped");
    std::process::ExitCode::SUCCESS
}

async fn run_demo(
    registry_url: &str,
    tls: &ClientTls,
    credentials: &AgencyCredentials,
    plan: DemoPlan,
    pace: Duration,
    clock: jilin_runtime::Clock,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let channel = tls.endpoint(registry_url)?.connect().await?;
    let client =
        jilin_proto::registry::v1::registry_service_client::RegistryServiceClient::new(channel);
    let projects = plan.portfolio();
    let calls = demo::load_history(
        &client,
        credentials,
        &projects,
        plan.loaded_until,
        true,
        |month| clock.set(start_of(month)),
    )
    .await?;
    clock.set(after(plan.loaded_until));
    if calls == 0 {
        println!("the registry already holds projects: the demo is not loaded again");
        clock.set(after(plan.until));
        return Ok(());
    }
    println!(
        "demo loaded: {} projects, {calls} calls, up to {}; now feeding a month every {} s",
        projects.len(),
        plan.loaded_until,
        pace.as_secs()
    );
    let until = plan.until;
    demo::feed(
        &client,
        credentials,
        &projects,
        plan.loaded_until,
        until,
        pace,
        |month| {
            clock.set(after(month));
        },
    )
    .await?;
    println!("the demo has caught up with last month ({until})");
    Ok(())
}

fn print_welcome(system: &System, demo: bool) {
    let [registry, indicators, risk] = system.urls();
    println!();
    println!("Jilin Industrial Development Monitor is up");
    println!("  registry    {registry}");
    println!("  indicators  {indicators}");
    println!("  risk        {risk}");
    println!("  NATS        {}", system.nats_url());
    let metrics = system
        .metrics_addrs()
        .map(|addr| addr.map_or_else(|| "-".to_owned(), |addr| format!("http://{addr}/metrics")));
    println!("  metrics     {}", metrics.join("  "));
    println!();
    println!(
        "Every call needs a token. Development tokens (admin, analyst, supervisor, one reporter\n\
         per agency) are in {}; `jilin` uses the admin one by default.\n\
         gRPC is served over TLS; clients trust the development CA {} \n\
         (`jilin` finds both by itself).",
        system.identity.tokens_dir().display(),
        system.identity.certs.ca.display()
    );
    println!();
    println!("Try:");
    println!("  jilin projects list");
    println!("  jilin indicators query output_growth --group-by group");
    println!("  jilin indicators query revitalization_index --granularity year");
    println!("  jilin alerts list --filter 'state = FIRING AND severity = CRITICAL'");
    println!("  jilin alerts watch");
    if demo {
        println!("(the demo portfolio is loading; alerts fire and resolve as months go by)");
    }
    println!();
}
