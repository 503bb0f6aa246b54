//! A service's Prometheus metrics, served as text at `GET /metrics` on
//! `--metrics-listen`. Every service has the same core: gRPC requests by
//! method and code with a latency histogram (recorded by the guard), its
//! store (write latency, group-commit batch, outbox backlog), its bus
//! (publish latency, consumers' progress and lag) and its build version;
//! a service adds its own, and values read only at scrape time come from
//! [`Metrics::on_scrape`] hooks.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use jilin_bus::BusMetrics;
use jilin_store::Store;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::StartError;

/// The content type of the Prometheus text format.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The gRPC method and status code of a call.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    pub method: String,
    pub code: String,
}

/// The gRPC method of a call.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabels {
    pub method: String,
}

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_1, 2.0, 18))
}

/// Calls answered by a service's API.
#[derive(Clone, Debug)]
pub struct GrpcMetrics {
    requests: Family<CallLabels, Counter>,
    seconds: Family<MethodLabels, Histogram, fn() -> Histogram>,
}

impl Default for GrpcMetrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            seconds: Family::new_with_constructor(latency_histogram),
        }
    }
}

impl GrpcMetrics {
    /// One call of `method` answered with `code` after `elapsed`.
    pub fn observe(&self, method: &str, code: tonic::Code, elapsed: Duration) {
        let labels = CallLabels {
            method: method.to_owned(),
            code: format!("{code:?}"),
        };
        self.requests.get_or_create(&labels).inc();
        self.seconds
            .get_or_create(&MethodLabels {
                method: labels.method,
            })
            .observe(elapsed.as_secs_f64());
    }
}

type ScrapeHook = Box<dyn Fn() + Send + Sync>;

/// A service's metrics registry, built at start, then served.
pub struct Metrics {
    registry: Registry,
    hooks: Vec<ScrapeHook>,
    pub grpc: GrpcMetrics,
    pub bus: BusMetrics,
}

impl Metrics {
    /// The core metrics of `service` (`registry`, `indicators`, `risk`),
    /// all named `jilin_…`.
    pub fn new(service: &str) -> Self {
        let mut registry = Registry::with_prefix("jilin");
        registry.register(
            "build",
            "The service and its version",
            Info::new(vec![
                ("service", service.to_owned()),
                ("version", env!("CARGO_PKG_VERSION").to_owned()),
            ]),
        );
        let grpc = GrpcMetrics::default();
        registry.register(
            "grpc_requests",
            "gRPC calls answered, by method and status code",
            grpc.requests.clone(),
        );
        registry.register(
            "grpc_request_duration_seconds",
            "Time to answer a gRPC call, by method",
            grpc.seconds.clone(),
        );
        let bus = BusMetrics::default();
        bus.register(&mut registry);
        Self {
            registry,
            hooks: Vec::new(),
            grpc,
            bus,
        }
    }

    /// Registers more metrics of the service.
    pub fn registry(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// Runs `hook` before every scrape, to set values read only then. Hooks
    /// run on a blocking thread: they may read a store.
    pub fn on_scrape(&mut self, hook: impl Fn() + Send + Sync + 'static) {
        self.hooks.push(Box::new(hook));
    }

    /// The store's metrics, and its outbox backlog read at each scrape.
    pub fn register_store(&mut self, store: &Store) {
        store.metrics().register(&mut self.registry);
        let backlog = Gauge::<i64>::default();
        self.registry.register(
            "outbox_backlog",
            "Events committed but not yet acknowledged by NATS",
            backlog.clone(),
        );
        let store = store.clone();
        self.on_scrape(move || match store.outbox_len() {
            Ok(len) => {
                backlog.set(i64::try_from(len).unwrap_or(i64::MAX));
            }
            Err(err) => tracing::error!(error = %err, "cannot read the outbox backlog"),
        });
    }

    /// Every metric in the text format, after running the scrape hooks.
    pub fn render(&self) -> String {
        for hook in &self.hooks {
            hook();
        }
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }

    /// Serves `GET /metrics` on `listen` (if given) until `shutdown`;
    /// returns the address it really got.
    pub async fn serve(
        self,
        listen: Option<SocketAddr>,
        shutdown: CancellationToken,
    ) -> Result<Option<SocketAddr>, StartError> {
        let Some(listen) = listen else {
            return Ok(None);
        };
        let (listener, addr) = crate::bind(listen).await?;
        let metrics = Arc::new(self);
        let app = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || {
                let metrics = metrics.clone();
                async move {
                    // Hooks read stores: off the runtime's workers, so a slow
                    // scrape delays no call and no relay.
                    match tokio::task::spawn_blocking(move || metrics.render()).await {
                        Ok(text) => Ok(([("content-type", CONTENT_TYPE)], text)),
                        Err(_) => Err(axum::http::StatusCode::INTERNAL_SERVER_ERROR),
                    }
                }
            }),
        );
        tokio::spawn(serve_until(listener, app, shutdown));
        Ok(Some(addr))
    }
}

async fn serve_until(listener: TcpListener, app: axum::Router, shutdown: CancellationToken) {
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await;
    if let Err(err) = served {
        tracing::error!(error = %err, "the metrics endpoint stopped");
    }
}
