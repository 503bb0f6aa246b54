//! Tracing setup: human-readable or JSON lines on stderr, filtered by
//! `RUST_LOG` (default `info`); and, when `JILIN_AUDIT_LOG` names a file,
//! the audit log (target `jilin::audit`: every denied call) appended to it
//! as JSON lines as well. With `OTEL_EXPORTER_OTLP_ENDPOINT` set, spans
//! are exported as OpenTelemetry traces over OTLP/gRPC (service name from
//! `OTEL_SERVICE_NAME`, default `jilin`); off by default.

use std::sync::{Arc, OnceLock};

use opentelemetry::trace::TracerProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;

use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::AUDIT_TARGET;

/// The environment variable naming the audit log's own file.
pub const AUDIT_LOG_ENV: &str = "JILIN_AUDIT_LOG";
/// The environment variable that turns trace export on.
pub const OTLP_ENDPOINT_ENV: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

/// The tracer provider, when traces are exported; kept to flush at exit.
static TRACES: OnceLock<SdkTracerProvider> = OnceLock::new();

/// An OTLP exporter to the configured endpoint, or `None` (not configured,
/// or it cannot be built: said on stderr).
fn otlp_provider() -> Option<SdkTracerProvider> {
    std::env::var(OTLP_ENDPOINT_ENV)
        .ok()
        .filter(|endpoint| !endpoint.is_empty())?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .build();
    let exporter = match exporter {
        Ok(exporter) => exporter,
        Err(err) => {
            eprintln!("traces are not exported: {err}");
            return None;
        }
    };
    let service = std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| "jilin".to_owned());
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service)
        .build();
    Some(
        SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build(),
    )
}

/// Sends the spans not yet exported (at shutdown).
pub fn flush_traces() {
    if let Some(provider) = TRACES.get()
        && let Err(err) = provider.force_flush()
    {
        eprintln!("traces not flushed: {err}");
    }
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            other => Err(format!("unknown log format `{other}`: use text or json")),
        }
    }
}

/// What is logged unless `RUST_LOG` says otherwise: Jilin's information,
/// and only the warnings of the storage engine (fjall logs each table it
/// opens).
const DEFAULT_FILTER: &str = "info,fjall=warn,lsm_tree=warn";

/// Installs the global subscriber once; later calls are ignored, so tests
/// and the all-in-one binary can call it freely.
pub fn init_tracing(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let stderr = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let stderr = match format {
        LogFormat::Text => stderr.with_filter(filter).boxed(),
        LogFormat::Json => stderr.json().with_filter(filter).boxed(),
    };
    let audit_file = std::env::var_os(AUDIT_LOG_ENV).and_then(|path| {
        let opened = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path);
        match opened {
            Ok(file) => Some(file),
            Err(err) => {
                eprintln!(
                    "cannot open the audit log {}: {err}",
                    path.to_string_lossy()
                );
                None
            }
        }
    });
    let audit = audit_file.map(|file| {
        tracing_subscriber::fmt::layer()
            .json()
            .with_writer(Arc::new(file))
            .with_filter(Targets::new().with_target(AUDIT_TARGET, tracing::Level::INFO))
    });
    let traces = otlp_provider().map(|provider| {
        let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("jilin"));
        let _ = TRACES.set(provider);
        layer
    });
    let _ = tracing_subscriber::registry()
        .with(stderr)
        .with(audit)
        .with(traces)
        .try_init();
}
