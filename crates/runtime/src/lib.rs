//! What every Jilin service does the same way at run time: start (store,
//! listener, NATS), log with tracing, serve gRPC with health and reflection
//! next to its own service,
//! shut down gracefully on SIGINT/SIGTERM, and report errors as statuses
//! with `google.rpc` details, and read "now" through one injectable clock.

mod admin;
mod allocator;
mod api;
pub mod auth;
mod clock;
pub mod defaults;
mod guard;
mod lifecycle;
mod mask;
mod metrics;
mod nats;
mod panics;
pub mod peer;
mod server;
mod shutdown;
mod status;
mod stream;
mod telemetry;
pub mod tls;

pub use admin::StoreAdminApi;
pub use allocator::{bound_glibc_malloc, purge_freed_pages_at_once};
pub use api::{ApiError, Reply, optional, required, resource_id};
pub use auth::{AuthArgs, Authenticator, permission_denied, principal};
pub use clock::{Clock, ClockError, ClockSetting};
pub use guard::{AUDIT_TARGET, Guarded};
pub use jilin_auth::{Denied, Principal, Role};
pub use lifecycle::{DeployArgs, RunningService, StartError, bind, open_store, run_until_signal};
pub use mask::{MaskField, MaskRules, resolve_mask};
pub use metrics::{CallLabels, GrpcMetrics, MethodLabels, Metrics};
pub use nats::{NatsArgs, connect_nats};
pub use panics::spawn_task;
pub use server::{GrpcServer, MAX_REQUEST_BYTES, ServeError, accept_without_delay};
pub use shutdown::wait_for_signal;
pub use status::StatusDetails;
pub use stream::{ResponseStream, channel_stream};
pub use telemetry::{LogFormat, flush_traces, init_tracing};
pub use tls::{ClientTls, TlsArgs, TlsError};

pub use jilin_bus::trace;
pub use tokio_util::sync::CancellationToken;
