//! The risk monitoring service: red-yellow-green rules over projects and
//! indicators, and alerts with the Alertmanager life cycle.
//!
//! Flow: [`ingest`] (registry and indicator events) and the evaluation
//! timer feed [`monitor`], which judges subjects with the pure
//! [`domain`] and writes alerts, numbered changes and their notifications
//! (outbox → `JILIN_RISK`) in one transaction; [`api`] → [`service`]
//! serves rules, alerts, silences and the change stream. [`start`] wires
//! it all, so tests start it exactly as `main` does.

pub mod api;
pub mod benchmarks;
pub mod config;
pub mod convert;
pub mod domain;
pub mod error;
pub mod ingest;
pub mod monitor;
pub mod service;
pub mod store;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use jilin_bus::{
    ConsumerSpec, INDICATORS_STREAM, OutboxRelay, REGISTRY_STREAM, RISK_STREAM, async_nats,
    stream_lost_history,
};
use jilin_proto::risk::v1::risk_service_server::{RiskServiceServer, SERVICE_NAME};
use jilin_runtime::peer::registry_portfolio;
use jilin_runtime::{CancellationToken, GrpcServer, bind, connect_nats, open_store};
use jilin_store::StoreError;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::benchmarks::BenchmarkSource;
use crate::monitor::{Monitor, RegistryFact};
use jilin_runtime::Clock;

pub use config::Config;
pub use jilin_runtime::StartError;

/// How long JetStream waits for an ack before redelivering an event.
const ACK_WAIT: Duration = Duration::from_secs(10);
/// Facts applied per transaction when catching up from the registry.
const BOOTSTRAP_BATCH: usize = 256;
/// Only value events feed the indicator rules.
const INDICATOR_VALUES: &str = "jilin.indicators.value.>";

/// A running risk service: its address, and the handle to stop it.
pub struct RunningRisk {
    addr: SocketAddr,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    server: JoinHandle<Result<(), jilin_runtime::ServeError>>,
    monitor: Monitor,
    evaluator: Evaluator,
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
        self.monitor.tables().store.outbox_len()
    }

    /// Registry and indicator events applied so far.
    pub fn applied_events(&self) -> usize {
        self.monitor.tables().applied.len()
    }

    /// Refreshes the benchmarks and evaluates every rule now; returns the
    /// number of alert changes.
    pub async fn evaluate_now(&self) -> Result<usize, StoreError> {
        self.evaluator.pass(&self.shutdown).await
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
pub fn consumer_specs(config: &Config) -> [ConsumerSpec; 2] {
    [
        ConsumerSpec {
            stream: REGISTRY_STREAM.name,
            durable_name: config.consumer_name.clone(),
            filter_subject: REGISTRY_STREAM.subjects.to_owned(),
            ack_wait: ACK_WAIT,
        },
        ConsumerSpec {
            stream: INDICATORS_STREAM.name,
            durable_name: config.consumer_name.clone(),
            filter_subject: INDICATOR_VALUES.to_owned(),
            ack_wait: ACK_WAIT,
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
    let store = open_store(&config.data_dir, &store::ALL)?;
    let tables = store::Tables::open(store.clone()).map_err(StartError::store(&config.data_dir))?;
    let monitor = Monitor::new(tables, Clock::new(config.clock))
        .map_err(StartError::store(&config.data_dir))?;
    let reevaluate = Arc::new(Notify::new());
    let risk = service::Risk::new(monitor.clone(), reevaluate.clone());
    risk.seed_builtins()
        .await
        .map_err(StartError::store(&config.data_dir))?;
    let benchmarks = BenchmarkSource::new(&config.indicators_url).map_err(|err| {
        StartError::Config(format!(
            "RISK_INDICATORS_URL {}: {err}",
            config.indicators_url
        ))
    })?;
    let evaluator = Evaluator {
        monitor: monitor.clone(),
        benchmarks,
    };
    let (listener, addr) = bind(config.listen).await?;
    let client = connect_nats(&config.nats_url, "jilin-risk").await?;

    let [registry_spec, indicators_spec] = consumer_specs(config);
    let relay = OutboxRelay::new(store, client.clone(), RISK_STREAM, monitor::SOURCE);
    let tasks = vec![
        tokio::spawn(relay.run(shutdown.clone())),
        tokio::spawn(follow_registry(
            client.clone(),
            registry_spec,
            config.registry_url.clone(),
            monitor.clone(),
            shutdown.clone(),
        )),
        tokio::spawn(follow_indicators(
            client,
            indicators_spec,
            monitor.clone(),
            shutdown.clone(),
        )),
        tokio::spawn(evaluator.clone().run(
            config.evaluation_interval,
            reevaluate,
            shutdown.clone(),
        )),
    ];

    let routes = tonic::service::Routes::new(RiskServiceServer::new(api::RiskApi::new(
        risk,
        shutdown.clone(),
    )));
    let server = GrpcServer::new(listener, SERVICE_NAME, routes)?;
    let server = tokio::spawn(server.serve(shutdown.clone()));
    tracing::info!(%addr, data_dir = %config.data_dir.display(), nats = %config.nats_url, "risk serving");
    Ok(RunningRisk {
        addr,
        shutdown,
        tasks,
        server,
        monitor,
        evaluator,
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

/// Catches up from the registry if the stream lost its oldest events and
/// nothing is known yet, then applies registry events until shutdown.
async fn follow_registry(
    client: async_nats::Client,
    spec: ConsumerSpec,
    registry_url: String,
    monitor: Monitor,
    shutdown: CancellationToken,
) {
    if monitor.tables().projects.is_empty() {
        loop {
            match stream_lost_history(&client, &REGISTRY_STREAM).await {
                Ok(true) => {
                    bootstrap(&registry_url, &monitor, &shutdown).await;
                    break;
                }
                Ok(false) => break,
                Err(err) => {
                    tracing::warn!(error = %err, "cannot inspect JILIN_REGISTRY yet; retrying")
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }
    jilin_bus::run_consumer(
        client,
        spec,
        move |events| {
            let monitor = monitor.clone();
            async move { ingest::handle_registry(&monitor, events).await }
        },
        shutdown,
    )
    .await;
}

/// Applies every project and report the registry holds now, under
/// synthetic event ids; the stream's older events are stale by revision.
async fn bootstrap(registry_url: &str, monitor: &Monitor, shutdown: &CancellationToken) {
    let portfolio = match registry_portfolio(registry_url, shutdown).await {
        Ok(portfolio) => portfolio,
        Err(err) => {
            tracing::error!(error = %err, "bootstrap from the registry failed; following the stream only");
            return;
        }
    };
    let mut facts = Vec::new();
    for entry in &portfolio {
        let snapshot = match ingest::snapshot(&entry.project) {
            Ok(snapshot) => snapshot,
            Err(err) => {
                tracing::error!(project = %entry.project.name, error = %err, "skipping an unusable project");
                continue;
            }
        };
        facts.push((
            format!("bootstrap:{}:r{}", snapshot.id, snapshot.revision),
            RegistryFact::Project(snapshot.clone()),
        ));
        for report in &entry.reports {
            if let Some(period) = jilin_domain::Period::parse(&report.period) {
                facts.push((
                    format!("bootstrap:{}:{period}:v{}", snapshot.id, report.revision),
                    RegistryFact::Report {
                        project: snapshot.clone(),
                        period,
                        report: ingest::report_record(report),
                    },
                ));
            }
        }
    }
    for chunk in facts.chunks(BOOTSTRAP_BATCH) {
        if let Err(err) = monitor.apply_registry(chunk).await {
            tracing::error!(error = %err, "bootstrap stopped: cannot store");
            return;
        }
    }
    tracing::info!(facts = facts.len(), "bootstrapped from the registry");
}

/// Applies indicator value events until shutdown.
async fn follow_indicators(
    client: async_nats::Client,
    spec: ConsumerSpec,
    monitor: Monitor,
    shutdown: CancellationToken,
) {
    jilin_bus::run_consumer(
        client,
        spec,
        move |events| {
            let monitor = monitor.clone();
            async move { ingest::handle_indicators(&monitor, events).await }
        },
        shutdown,
    )
    .await;
}
