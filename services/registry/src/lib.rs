//! The project registry service: agencies register investment projects,
//! move them through their life cycle and report monthly progress; every
//! change is published on JetStream stream `JILIN_REGISTRY`.
//!
//! Flow inside the service is one way: [`api`] (decode, check) →
//! [`service`] (use cases, one transaction each) → [`domain`] (pure rules) and
//! [`store`] (tables + outbox). [`start`] wires it to a listener, a store, a
//! NATS connection and the outbox relay, so tests start it exactly as
//! `main` does.

mod api;
mod config;
mod convert;
mod domain;
mod error;
mod events;
#[doc(hidden)]
pub mod fuzzing;
mod request;
mod retention;
mod service;
mod store;

use std::net::SocketAddr;

use jilin_bus::OutboxRelay;
use jilin_proto::registry::v1::registry_service_server::{RegistryServiceServer, SERVICE_NAME};
use jilin_runtime::{
    Authenticator, CancellationToken, GrpcServer, Metrics, bind, connect_nats, open_store,
};
use tokio::task::JoinHandle;

pub use config::Config;
/// The registry's store: its kind, format version and tables.
pub use store::LAYOUT as STORE_LAYOUT;

/// [`RunningRegistry::state_fingerprint`] of a store that is not running
/// (a restored one, say).
pub fn state_fingerprint_of(
    store: jilin_store::Store,
) -> Result<Vec<u64>, jilin_store::StoreError> {
    store::Tables::open(store)?.fingerprint()
}

pub use jilin_runtime::StartError;

/// A running registry: its address, and the handle to stop it.
pub struct RunningRegistry {
    addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    shutdown: CancellationToken,
    server: JoinHandle<Result<(), jilin_runtime::ServeError>>,
    relay: JoinHandle<()>,
    tables: store::Tables,
    clock: jilin_runtime::Clock,
    request_retention: std::time::Duration,
}

impl jilin_runtime::RunningService for RunningRegistry {
    async fn cancelled(&self) {
        RunningRegistry::cancelled(self).await
    }

    async fn shutdown(self) -> Result<(), jilin_runtime::ServeError> {
        RunningRegistry::shutdown(self).await
    }
}

impl RunningRegistry {
    /// The address the gRPC server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where `/metrics` is served, if it is.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// A checksum of every table and the outbox, for tests that prove a
    /// rejected call changed nothing.
    /// The clock the registry reads "now" from; tests move it.
    pub fn clock(&self) -> &jilin_runtime::Clock {
        &self.clock
    }

    /// Forgets the request ids past their retention now (the service does
    /// it at start and every ten minutes); returns how many.
    pub async fn forget_old_requests(&self) -> Result<usize, jilin_store::StoreError> {
        retention::forget_old_requests(&self.tables, &self.clock, self.request_retention).await
    }

    pub fn state_fingerprint(&self) -> Vec<u64> {
        self.tables.fingerprint().expect("read the store")
    }

    /// Events committed but not yet acknowledged by JetStream.
    pub fn pending_events(&self) -> usize {
        self.tables.store.outbox_len().expect("read the store")
    }

    /// Resolves when shutdown has been requested (e.g. by a signal).
    pub async fn cancelled(&self) {
        self.shutdown.cancelled().await
    }

    /// Graceful shutdown: health NOT_SERVING, drain in-flight calls, stop the
    /// relay (unpublished events stay in the outbox), flush the store and
    /// release its files.
    pub async fn shutdown(self) -> Result<(), jilin_runtime::ServeError> {
        self.shutdown.cancel();
        let served = self.server.await.expect("the server task does not panic");
        let _ = self.relay.await;
        if let Err(err) = self.tables.store.flush() {
            tracing::error!(error = %err, "final flush failed");
        }
        tracing::info!("registry stopped");
        served
    }
}

/// Opens the store, connects to NATS (or keeps trying in the background),
/// and serves the API. `shutdown` stops everything when cancelled.
pub async fn start(
    config: &Config,
    shutdown: CancellationToken,
) -> Result<RunningRegistry, StartError> {
    let store = open_store(&config.data_dir, &store::LAYOUT, &config.deploy).await?;
    let tables = store::Tables::open(store.clone()).map_err(StartError::store(&config.data_dir))?;
    let (listener, addr) = bind(config.listen).await?;
    let client = connect_nats(&config.nats_url, "jilin-registry", &config.nats).await?;
    let mut metrics = Metrics::new("registry");
    metrics.register_store(&store);
    let relay = OutboxRelay::new(store.clone(), client, events::STREAM)
        .replicas(config.deploy.stream_replicas)
        .metrics(&metrics.bus);
    let relay = jilin_runtime::spawn_task("outbox relay", &shutdown, relay.run(shutdown.clone()));

    let clock = jilin_runtime::Clock::new(config.clock);
    let authenticator =
        Authenticator::from_args(&config.auth, "registry").map_err(StartError::Config)?;
    authenticator.reload_on_hangup(shutdown.clone());
    let registry = service::Registry::new(tables.clone(), clock.clone())
        .map_err(StartError::store(&config.data_dir))?
        .with_outbox_limit(config.outbox_limit);
    let request_retention = std::time::Duration::from_secs(config.request_retention_hours * 3600);
    jilin_runtime::spawn_task(
        "request id pruning",
        &shutdown,
        retention::run(
            tables.clone(),
            clock.clone(),
            request_retention,
            shutdown.clone(),
        ),
    );
    let api = RegistryServiceServer::new(api::RegistryApi::new(registry))
        .max_decoding_message_size(jilin_runtime::MAX_REQUEST_BYTES);
    let routes = authenticator.routes(api, &store, &clock, &metrics.grpc);
    let server = GrpcServer::new(listener, SERVICE_NAME, routes, &store)?
        .with_tls(config.tls.server("registry")?)?;
    let server = tokio::spawn(server.serve(shutdown.clone()));
    let metrics_addr = metrics
        .serve(config.deploy.metrics_listen, shutdown.clone())
        .await?;
    tracing::info!(%addr, data_dir = %config.data_dir.display(), nats = %config.nats_url, "registry serving");
    Ok(RunningRegistry {
        addr,
        metrics_addr,
        shutdown,
        server,
        relay,
        tables,
        clock,
        request_retention,
    })
}
