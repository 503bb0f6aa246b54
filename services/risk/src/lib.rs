//! The risk monitoring service: red-yellow-green rules over projects and
//! indicators, and alerts with the Alertmanager life cycle.
//!
//! Flow: [`ingest`] (registry and indicator events) and the evaluation
//! timer feed [`monitor`], which judges subjects with the pure
//! [`domain`] and writes alerts, numbered changes and their notifications
//! (outbox → `JILIN_RISK`) in one transaction, with the alert groups
//! [`delivery`] turns into notifications to receivers; [`api`] →
//! [`service`] serves rules, alerts, silences, receivers, routes,
//! deliveries and the change stream. [`start`] wires
//! it all, so tests start it exactly as `main` does.

mod active_alerts;
mod api;
mod benchmarks;
mod config;
mod convert;
pub mod delivery;
pub mod domain;
mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod ingest;
mod metrics;
pub mod migrate;
pub mod monitor;
mod notify;
mod observe;
mod request;
mod retention;
pub mod service;
pub mod store;
mod unsilenced;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use jilin_bus::{
    Applier, BusMetrics, ConsumerSpec, Follow, INDICATORS_STREAM, NoSnapshot, OutboxRelay,
    REGISTRY_STREAM, RISK_STREAM,
};
use jilin_proto::risk::v1::risk_service_server::{RiskServiceServer, SERVICE_NAME};
use jilin_runtime::peer::{Peer, RegistrySnapshot};
use jilin_runtime::{
    Authenticator, CancellationToken, GrpcServer, Metrics, bind, connect_nats, open_store,
};
use jilin_store::StoreError;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::benchmarks::BenchmarkSource;
use crate::ingest::{IndicatorFollower, RegistryFollower};
use crate::monitor::Monitor;
use jilin_runtime::Clock;

pub use config::Config;
pub use jilin_runtime::StartError;

/// How long JetStream waits for an ack before redelivering an event.
const ACK_WAIT: Duration = Duration::from_secs(10);
/// Only value events feed the indicator rules.
const INDICATOR_VALUES: &str = "jilin.indicators.value.>";

/// A running risk service: its address, and the handle to stop it.
pub struct RunningRisk {
    addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    server: JoinHandle<Result<(), jilin_runtime::ServeError>>,
    monitor: Monitor,
    evaluator: Evaluator,
    history_retention: Duration,
    dispatcher: delivery::dispatch::Dispatcher,
    registry_events: Applier<RegistryFollower>,
    indicator_events: Applier<IndicatorFollower>,
}

impl jilin_runtime::RunningService for RunningRisk {
    async fn cancelled(&self) {
        RunningRisk::cancelled(self).await
    }

    async fn shutdown(self) -> Result<(), jilin_runtime::ServeError> {
        RunningRisk::shutdown(self).await
    }
}

impl RunningRisk {
    /// The address the gRPC server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where `/metrics` is served, if it is.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The clock time-based rules read; tests and demos move it.
    pub fn clock(&self) -> &Clock {
        self.monitor.clock()
    }

    /// A checksum of every table and the outbox.
    pub fn fingerprint(&self) -> Vec<u64> {
        self.monitor.tables().fingerprint().expect("read the store")
    }

    /// Events committed but not yet acknowledged by JetStream.
    pub fn pending_events(&self) -> usize {
        self.monitor
            .tables()
            .store
            .outbox_len()
            .expect("read the store")
    }

    /// Registry and indicator events applied so far.
    pub fn applied_events(&self) -> usize {
        let registry = self.registry_events.applied_count();
        let indicators = self.indicator_events.applied_count();
        (registry.expect("read the store") + indicators.expect("read the store")) as usize
    }

    /// Refreshes the benchmarks and evaluates every rule now; returns the
    /// number of alert changes.
    pub async fn evaluate_now(&self) -> Result<usize, StoreError> {
        self.evaluator.pass(&self.shutdown).await
    }

    /// Queues the notifications due by the risk clock now (the service
    /// does it continually); returns how many.
    pub async fn dispatch_now(&self) -> Result<usize, StoreError> {
        self.dispatcher.dispatch_due().await
    }

    /// Forgets the alert history past its retention now (the service does
    /// it at start and every hour); returns how many changes and alerts
    /// changed.
    pub async fn forget_old_history(&self) -> Result<(usize, usize), StoreError> {
        retention::forget_old_history(&self.monitor, self.history_retention).await
    }

    /// Resolves when shutdown has been requested (e.g. by a signal).
    pub async fn cancelled(&self) {
        self.shutdown.cancelled().await
    }

    /// Graceful shutdown: health NOT_SERVING, drain calls and watch
    /// streams, stop the consumers (unacked events are redelivered), the
    /// timer and the relay, flush the store.
    pub async fn shutdown(self) -> Result<(), jilin_runtime::ServeError> {
        self.shutdown.cancel();
        let served = self.server.await.expect("the server task does not panic");
        for task in self.tasks {
            let _ = task.await;
        }
        if let Err(err) = self.monitor.tables().store.flush() {
            tracing::error!(error = %err, "final flush failed");
        }
        tracing::info!("risk stopped");
        served
    }
}

/// The durable consumers this service reads the other two through.
pub fn consumer_specs(config: &Config, metrics: &BusMetrics) -> [ConsumerSpec; 2] {
    [
        ConsumerSpec {
            stream: REGISTRY_STREAM.name,
            durable_name: config.consumer_name.clone(),
            filter_subject: REGISTRY_STREAM.subjects.to_owned(),
            ack_wait: ACK_WAIT,
            metrics: metrics.clone(),
        },
        ConsumerSpec {
            stream: INDICATORS_STREAM.name,
            durable_name: config.consumer_name.clone(),
            filter_subject: INDICATOR_VALUES.to_owned(),
            ack_wait: ACK_WAIT,
            metrics: metrics.clone(),
        },
    ]
}

/// Opens the store, seeds the built-in rules, follows the registry and
/// the indicators, evaluates on a timer and serves the API until
/// `shutdown` is cancelled.
pub async fn start(
    config: &Config,
    shutdown: CancellationToken,
) -> Result<RunningRisk, StartError> {
    let store = open_store(&config.data_dir, &store::LAYOUT, &config.deploy).await?;
    let tables = store::Tables::open(store.clone()).map_err(StartError::store(&config.data_dir))?;
    migrate::to_format_4(&tables)
        .await
        .map_err(StartError::store(&config.data_dir))?;
    let mut metrics = Metrics::new("risk");
    metrics.register_store(&store);
    let delivery_metrics = metrics::DeliveryMetrics::register(&mut metrics);
    let clock = Clock::new(config.clock);
    let authenticator =
        Authenticator::from_args(&config.auth, "risk").map_err(StartError::Config)?;
    authenticator.reload_on_hangup(shutdown.clone());
    let peer_token = config.auth.peer_token().map_err(StartError::Config)?;
    let peer_tls = config.tls.client()?;
    let peer = |variable: &str, url: &str| {
        Peer::new(url, peer_token.as_deref(), &peer_tls)
            .map_err(|err| StartError::Config(format!("{variable} {url}: {err}")))
    };
    let registry = peer("RISK_REGISTRY_URL", &config.registry_url)?;
    let indicators = peer("RISK_INDICATORS_URL", &config.indicators_url)?;
    let monitor =
        Monitor::new(tables, clock.clone()).map_err(StartError::store(&config.data_dir))?;
    metrics::register_alerts(&mut metrics, monitor.clone());
    let reevaluate = Arc::new(Notify::new());
    let risk = service::Risk::new(monitor.clone(), reevaluate.clone());
    risk.seed_builtins()
        .await
        .map_err(StartError::store(&config.data_dir))?;
    let benchmarks = BenchmarkSource::new(indicators);
    let evaluator = Evaluator {
        monitor: monitor.clone(),
        benchmarks,
    };
    let (listener, addr) = bind(config.listen).await?;
    let client = connect_nats(&config.nats_url, "jilin-risk", &config.nats).await?;

    let [registry_spec, indicators_spec] = consumer_specs(config, &metrics.bus);
    let registry_events = RegistryFollower(monitor.clone())
        .applier()
        .map_err(StartError::store(&config.data_dir))?;
    let indicator_events = IndicatorFollower(monitor.clone())
        .applier()
        .map_err(StartError::store(&config.data_dir))?;
    let registry_snapshot = RegistrySnapshot { registry };
    let relay = OutboxRelay::new(store.clone(), client.clone(), RISK_STREAM)
        .replicas(config.deploy.stream_replicas)
        .metrics(&metrics.bus);
    let history_retention = Duration::from_secs(config.history_retention_days * 86_400);
    let send_bell = Arc::new(Notify::new());
    // Receivers live by the wall clock, whatever the risk clock says.
    let wall = Clock::new(jilin_runtime::ClockSetting::System);
    let dispatcher = delivery::dispatch::Dispatcher {
        monitor: monitor.clone(),
        wall: wall.clone(),
        sender: send_bell.clone(),
    };
    let sender = delivery::send::Sender {
        tables: monitor.tables().clone(),
        wall,
        http: delivery::send::http_client(),
        source: RISK_STREAM.source,
        external_url: config.external_url.clone(),
        wake: send_bell,
        metrics: delivery_metrics,
    };
    let tasks = vec![
        jilin_runtime::spawn_task(
            "history pruning",
            &shutdown,
            retention::run(monitor.clone(), history_retention, shutdown.clone()),
        ),
        jilin_runtime::spawn_task("outbox relay", &shutdown, relay.run(shutdown.clone())),
        jilin_runtime::spawn_task(
            "delivery dispatcher",
            &shutdown,
            dispatcher.clone().run(shutdown.clone()),
        ),
        jilin_runtime::spawn_task("delivery sender", &shutdown, sender.run(shutdown.clone())),
        jilin_runtime::spawn_task(
            "registry consumer",
            &shutdown,
            Follow {
                client: client.clone(),
                stream: REGISTRY_STREAM,
                consumer: registry_spec,
                applier: registry_events.clone(),
            }
            .run(registry_snapshot, shutdown.clone()),
        ),
        // Values are republished when they change: nothing to catch up.
        jilin_runtime::spawn_task(
            "indicators consumer",
            &shutdown,
            Follow {
                client,
                stream: INDICATORS_STREAM,
                consumer: indicators_spec,
                applier: indicator_events.clone(),
            }
            .run(NoSnapshot, shutdown.clone()),
        ),
        jilin_runtime::spawn_task(
            "evaluator",
            &shutdown,
            evaluator
                .clone()
                .run(config.evaluation_interval, reevaluate, shutdown.clone()),
        ),
    ];

    let api = RiskServiceServer::new(api::RiskApi::new(risk, shutdown.clone()))
        .max_decoding_message_size(jilin_runtime::MAX_REQUEST_BYTES);
    let routes = authenticator.routes(api, &store, &clock, &metrics.grpc);
    let server = GrpcServer::new(listener, SERVICE_NAME, routes, &store)?
        .with_tls(config.tls.server("risk")?)?;
    let server = tokio::spawn(server.serve(shutdown.clone()));
    let metrics_addr = metrics
        .serve(config.deploy.metrics_listen, shutdown.clone())
        .await?;
    tracing::info!(%addr, data_dir = %config.data_dir.display(), nats = %config.nats_url, "risk serving");
    Ok(RunningRisk {
        addr,
        metrics_addr,
        shutdown,
        tasks,
        server,
        monitor,
        evaluator,
        history_retention,
        dispatcher,
        registry_events,
        indicator_events,
    })
}

/// The periodic pass: sector benchmarks from the indicator service, then
/// every rule for every subject at the clock's now.
#[derive(Clone)]
struct Evaluator {
    monitor: Monitor,
    benchmarks: BenchmarkSource,
}

impl Evaluator {
    async fn pass(&self, shutdown: &CancellationToken) -> Result<usize, StoreError> {
        let years: BTreeSet<i32> = self
            .monitor
            .tables()
            .projects
            .scan_prefix("")?
            .iter()
            .filter_map(|(_, project)| project.benchmark_year())
            .collect();
        if !years.is_empty()
            && let Err(err) = self
                .benchmarks
                .refresh(&self.monitor, years, shutdown)
                .await
        {
            tracing::warn!(error = %err, "sector benchmarks not refreshed; keeping the last ones");
        }
        self.monitor.evaluate_all().await
    }

    /// Runs a pass every `interval`, and soon after a rule edit.
    async fn run(self, interval: Duration, wake: Arc<Notify>, shutdown: CancellationToken) {
        loop {
            match self.pass(&shutdown).await {
                Ok(changes) if changes > 0 => tracing::info!(changes, "evaluation pass"),
                Ok(_) => {}
                Err(err) => tracing::error!(error = %err, "evaluation pass failed"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(interval) => {}
                _ = wake.notified() => {}
            }
        }
    }
}
