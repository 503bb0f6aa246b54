//! Starting and running a service the same way everywhere: open its store,
//! bind its listener, connect to NATS (each failure a [`StartError`]), and
//! run it from `main` until SIGINT/SIGTERM, then shut it down gracefully.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

use jilin_store::{Layout, Store, StoreError, StoreSettings};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{ServeError, wait_for_signal};

/// Where a service fits its deployment; every service takes these flags.
#[derive(Clone, Debug, clap::Args)]
pub struct DeployArgs {
    /// Serve Prometheus metrics at `http://ADDR/metrics` (off if not given).
    #[arg(long, env = "JILIN_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Copies of the service's stream kept by a NATS cluster (1 for a
    /// single server; 3 in the compose and Kubernetes deployments). Used
    /// when the stream is created.
    #[arg(long, env = "JILIN_STREAM_REPLICAS", default_value_t = 1)]
    pub stream_replicas: usize,
    /// MiB of the store's block cache (fjall's), the bulk of the service's
    /// memory beyond what it holds by design.
    #[arg(long, env = "JILIN_STORE_CACHE_MB", default_value_t = DEFAULT_STORE_CACHE_MB)]
    pub store_cache_mb: u64,
    /// Whether the tables of a new store compress their blocks (lz4, on
    /// by default). A table keeps what it was made with, whatever this
    /// says later.
    #[arg(long, env = "JILIN_STORE_COMPRESSION", action = clap::ArgAction::Set)]
    pub store_compression: Option<bool>,
}

/// The default of `--store-cache-mb`.
pub const DEFAULT_STORE_CACHE_MB: u64 = jilin_store::DEFAULT_CACHE_BYTES >> 20;

impl Default for DeployArgs {
    fn default() -> Self {
        Self {
            metrics_listen: None,
            stream_replicas: 1,
            store_cache_mb: DEFAULT_STORE_CACHE_MB,
            store_compression: None,
        }
    }
}

/// Why a service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot open the store in {path}: {source}")]
    Store { path: String, source: StoreError },
    #[error("cannot connect to NATS at {url}: {source}")]
    Nats {
        url: String,
        source: jilin_bus::ConnectError,
    },
    #[error("bad configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Tls(#[from] crate::TlsError),
    #[error(transparent)]
    Serve(#[from] ServeError),
}

impl StartError {
    /// A store failure in `dir`.
    pub fn store(dir: &Path) -> impl FnOnce(StoreError) -> StartError + '_ {
        move |source| StartError::Store {
            path: dir.display().to_string(),
            source,
        }
    }
}

/// Opens the service's store laid out as `layout`, its cache as `deploy`
/// says.
///
/// Opening may wait for another handle on the same directory to let go of
/// its file lock, so it runs on a blocking thread, not a tokio worker.
pub async fn open_store(
    dir: &Path,
    layout: &'static Layout,
    deploy: &DeployArgs,
) -> Result<Store, StartError> {
    let path = dir.to_owned();
    let settings = StoreSettings {
        cache_bytes: deploy.store_cache_mb.max(1) << 20,
        compress_new: deploy.store_compression,
    };
    let opened =
        tokio::task::spawn_blocking(move || Store::open_with(&path, layout, &settings)).await;
    match opened {
        Ok(result) => result.map_err(StartError::store(dir)),
        Err(join) => match join.try_into_panic() {
            // A panic inside the store is not swallowed.
            Ok(panic) => std::panic::resume_unwind(panic),
            // The runtime is shutting down.
            Err(_) => Err(StartError::store(dir)(StoreError::Closed)),
        },
    }
}

/// Binds the gRPC listener; returns it with the address it really got
/// (a port of 0 picks a free one).
pub async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), StartError> {
    let error = |source| StartError::Listen { addr, source };
    let listener = TcpListener::bind(addr).await.map_err(error)?;
    let local = listener.local_addr().map_err(error)?;
    Ok((listener, local))
}

/// A started service, as `main` drives it.
pub trait RunningService {
    /// Resolves when shutdown has been requested.
    fn cancelled(&self) -> impl Future<Output = ()>;
    /// Stops gracefully.
    fn shutdown(self) -> impl Future<Output = Result<(), ServeError>>;
}

/// The body of every service's `main`: runs `started` until SIGINT/SIGTERM
/// cancels `shutdown`, then shuts it down.
pub async fn run_until_signal<S: RunningService>(
    name: &str,
    started: Result<S, StartError>,
    shutdown: CancellationToken,
) -> ExitCode {
    let running = match started {
        Ok(running) => running,
        Err(err) => {
            tracing::error!(error = %err, "{name} failed to start");
            return ExitCode::FAILURE;
        }
    };
    tokio::spawn(wait_for_signal(shutdown));
    running.cancelled().await;
    let stopped = running.shutdown().await;
    crate::flush_traces();
    match stopped {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "{name} stopped with an error");
            ExitCode::FAILURE
        }
    }
}
