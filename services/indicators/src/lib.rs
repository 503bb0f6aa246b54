//! The indicator calculation service: follows the registry's events into an
//! exact integer cube of the reported measures, evaluates indicator
//! expressions over it on demand, and publishes changed values on
//! JetStream stream `JILIN_INDICATORS`.
//!
//! Flow: [`ingest`] (registry events → [`domain::ledger`] → one transaction
//! per batch, through `jilin_bus::Follow`) keeps the cube; [`api`] → [`service`] → [`domain`] answers
//! queries from it; [`publisher`] turns dirty months into coalesced value
//! events. [`start`] wires it all, so tests start it exactly as `main` does.

mod api;
mod config;
mod convert;
pub mod domain;
mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod ingest;
pub mod migrate;
pub mod publisher;
mod request;
pub mod service;
pub mod store;

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use jilin_bus::{
    Applier, BusMetrics, ConsumerSpec, Follow, INDICATORS_STREAM, OutboxRelay, REGISTRY_STREAM,
};
use jilin_proto::indicators::v1::indicator_service_server::{IndicatorServiceServer, SERVICE_NAME};
use jilin_runtime::peer::{Peer, RegistrySnapshot};
use jilin_runtime::{
    Authenticator, CancellationToken, GrpcServer, Metrics, bind, connect_nats, open_store,
};
use jilin_store::StoreError;
use tokio::sync::{Notify, broadcast};
use tokio::task::JoinHandle;

pub use config::Config;

/// How long JetStream waits for an ack before redelivering an event. An
/// event takes milliseconds to apply; what this bounds in practice is how
/// long events pulled by a stopped instance wait before the next one gets
/// them (a repeat is harmless: applying is idempotent).
const ACK_WAIT: Duration = Duration::from_secs(10);
/// Buffered value changes per watcher before it is told it fell behind.
const WATCH_BUFFER: usize = 4096;

pub use jilin_runtime::StartError;

/// A running indicator service: its address, and the handle to stop it.
pub struct RunningIndicators {
    addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    server: JoinHandle<Result<(), jilin_runtime::ServeError>>,
    tables: store::Tables,
    publisher: publisher::Publisher,
    applier: Applier<ingest::Ingest>,
}

impl jilin_runtime::RunningService for RunningIndicators {
    async fn cancelled(&self) {
        RunningIndicators::cancelled(self).await
    }

    async fn shutdown(self) -> Result<(), jilin_runtime::ServeError> {
        RunningIndicators::shutdown(self).await
    }
}

impl RunningIndicators {
    /// The address the gRPC server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where `/metrics` is served, if it is.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// A checksum of every table and the outbox.
    pub fn fingerprint(&self) -> Vec<u64> {
        self.tables.fingerprint().expect("read the store")
    }

    /// A checksum of the state derived from registry events.
    pub fn state_fingerprint(&self) -> Vec<u64> {
        self.tables.state_fingerprint().expect("read the store")
    }

    /// Number of registry events applied so far.
    pub fn applied_events(&self) -> usize {
        self.applier.applied_count().expect("read the store") as usize
    }

    /// Events committed but not yet acknowledged by JetStream.
    pub fn pending_events(&self) -> usize {
        self.tables.store.outbox_len().expect("read the store")
    }

    /// Runs one publication pass now instead of waiting for the next one.
    pub async fn publish_now(&self) -> Result<usize, StoreError> {
        self.publisher.publish_pending().await
    }

    /// Resolves when shutdown has been requested (e.g. by a signal).
    pub async fn cancelled(&self) {
        self.shutdown.cancelled().await
    }

    /// Graceful shutdown: health NOT_SERVING, drain calls and watch
    /// streams, stop the consumer (unacked events are redelivered), the
    /// publisher and the relay, flush the store.
    pub async fn shutdown(self) -> Result<(), jilin_runtime::ServeError> {
        self.shutdown.cancel();
        let served = self.server.await.expect("the server task does not panic");
        for task in self.tasks {
            let _ = task.await;
        }
        if let Err(err) = self.tables.store.flush() {
            tracing::error!(error = %err, "final flush failed");
        }
        tracing::info!("indicators stopped");
        served
    }
}

/// The durable consumer this service reads the registry through.
pub fn consumer_spec(config: &Config, metrics: &BusMetrics) -> ConsumerSpec {
    ConsumerSpec {
        stream: REGISTRY_STREAM.name,
        durable_name: config.consumer_name.clone(),
        filter_subject: REGISTRY_STREAM.subjects.to_owned(),
        ack_wait: ACK_WAIT,
        metrics: metrics.clone(),
    }
}

/// Opens the store (rebuilding if asked), follows the registry, publishes
/// value changes and serves the API until `shutdown` is cancelled.
pub async fn start(
    config: &Config,
    shutdown: CancellationToken,
) -> Result<RunningIndicators, StartError> {
    let store_error = StartError::store(&config.data_dir);
    let store = open_store(&config.data_dir, &store::LAYOUT, &config.deploy).await?;
    let tables = store::Tables::open(store.clone()).map_err(store_error)?;
    migrate::to_format_4(&tables)
        .await
        .map_err(StartError::store(&config.data_dir))?;
    let unfinished_rebuild = tables
        .rebuild_pending()
        .map_err(StartError::store(&config.data_dir))?;
    if config.rebuild || unfinished_rebuild {
        tracing::warn!(
            requested = config.rebuild,
            "rebuild: forgetting derived state, replaying JILIN_REGISTRY"
        );
        tables
            .clear_derived()
            .await
            .map_err(StartError::store(&config.data_dir))?;
    }
    let cube = tables
        .load_cube()
        .map_err(StartError::store(&config.data_dir))?;
    let cube = Arc::new(RwLock::new(cube));
    let (listener, addr) = bind(config.listen).await?;
    let client = connect_nats(&config.nats_url, "jilin-indicators", &config.nats).await?;

    let changed = Arc::new(Notify::new());
    let (watchers, _) = broadcast::channel(WATCH_BUFFER);
    let clock = jilin_runtime::Clock::new(config.clock);
    let authenticator =
        Authenticator::from_args(&config.auth, "indicators").map_err(StartError::Config)?;
    authenticator.reload_on_hangup(shutdown.clone());
    let registry = Peer::new(
        &config.registry_url,
        config
            .auth
            .peer_token()
            .map_err(StartError::Config)?
            .as_deref(),
        &config.tls.client()?,
    )
    .map_err(|err| {
        StartError::Config(format!(
            "INDICATORS_REGISTRY_URL {}: {err}",
            config.registry_url
        ))
    })?;
    let indicators = service::Indicators::new(
        tables.clone(),
        cube.clone(),
        watchers.clone(),
        clock.clone(),
    );
    indicators
        .seed_builtins()
        .await
        .map_err(StartError::store(&config.data_dir))?;
    let applier = ingest::Ingest::new(tables.clone(), cube.clone(), changed.clone())
        .applier()
        .map_err(StartError::store(&config.data_dir))?;
    let publisher = publisher::Publisher::new(
        tables.clone(),
        cube,
        changed.clone(),
        watchers,
        clock.clone(),
    );

    let mut metrics = Metrics::new("indicators");
    metrics.register_store(&store);
    let relay = OutboxRelay::new(store.clone(), client.clone(), INDICATORS_STREAM)
        .replicas(config.deploy.stream_replicas)
        .metrics(&metrics.bus);
    let tasks = vec![
        jilin_runtime::spawn_task("outbox relay", &shutdown, relay.run(shutdown.clone())),
        jilin_runtime::spawn_task(
            "registry consumer",
            &shutdown,
            follow_registry(
                Follow {
                    client,
                    stream: REGISTRY_STREAM,
                    consumer: consumer_spec(config, &metrics.bus),
                    applier: applier.clone(),
                },
                tables.clone(),
                registry,
                shutdown.clone(),
            ),
        ),
        jilin_runtime::spawn_task(
            "publisher",
            &shutdown,
            publisher.clone().run(shutdown.clone()),
        ),
    ];
    // Anything left dirty by a previous run is published soon.
    changed.notify_one();

    let api = IndicatorServiceServer::new(api::IndicatorApi::new(indicators, shutdown.clone()))
        .max_decoding_message_size(jilin_runtime::MAX_REQUEST_BYTES);
    let routes = authenticator.routes(api, &store, &clock, &metrics.grpc);
    let server = GrpcServer::new(listener, SERVICE_NAME, routes, &store)?
        .with_tls(config.tls.server("indicators")?)?;
    let server = tokio::spawn(server.serve(shutdown.clone()));
    let metrics_addr = metrics
        .serve(config.deploy.metrics_listen, shutdown.clone())
        .await?;
    tracing::info!(%addr, data_dir = %config.data_dir.display(), nats = %config.nats_url, "indicators serving");
    Ok(RunningIndicators {
        addr,
        metrics_addr,
        shutdown,
        tasks,
        server,
        tables,
        publisher,
        applier,
    })
}

/// Resets the durable consumer if a rebuild is pending, then follows the
/// registry (catching up from it over gRPC if the stream lost its oldest
/// events) until shutdown.
async fn follow_registry(
    follow: Follow<ingest::Ingest>,
    tables: store::Tables,
    registry: Peer,
    shutdown: CancellationToken,
) {
    while matches!(tables.rebuild_pending(), Ok(true)) {
        let reset = jilin_bus::reset_consumer(follow.client.clone(), &follow.consumer).await;
        let cleared = match reset {
            Ok(()) => tables
                .store
                .write(|tx| tx.remove(&tables.meta, store::REBUILD_PENDING))
                .await
                .map_err(|err| err.to_string()),
            Err(err) => Err(err.to_string()),
        };
        if let Err(err) = cleared {
            tracing::warn!(error = %err, "cannot reset the registry consumer yet; retrying");
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }
    follow.run(RegistrySnapshot { registry }, shutdown).await;
}
