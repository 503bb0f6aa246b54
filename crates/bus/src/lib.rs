//! JetStream plumbing shared by every Jilin service.
//!
//! - [`connect`]: a NATS connection that is allowed to come up later, so a
//!   service starts (and keeps accepting writes) while the broker is away;
//!   with a service's [`NatsAccess`] (credentials, TLS). [`system_users`]:
//!   the server side, one user per service that may publish only its own
//!   subjects.
//! - [`StreamSpec`] / [`ensure_stream`]: the service's own stream, created
//!   at start if missing (file storage, duplicate window); the three
//!   streams of the system are named here once.
//! - [`OutboxRelay`]: drains the store's outbox in commit order, publishes
//!   each event with `Nats-Msg-Id` and CloudEvents headers, and forgets it
//!   only after the PubAck.
//! - [`run_consumer`]: a durable pull consumer that acks a message only
//!   after the handler says it committed it.
//! - [`Follow`] / [`Applier`]: following another service's stream, the one
//!   way every service does it: catch up from a [`SnapshotSource`] when the
//!   stream lost history, apply each batch with its event ids in one
//!   transaction ([`Follower`] says what an event means), ack after the
//!   commit, forget ids below the ack floor.

mod access;
mod applied;
mod cloudevents;
mod connect;
mod consumer;
mod follow;
mod metrics;
mod relay;
mod server;
mod stream;
pub mod trace;

pub use access::{
    NatsAccess, NatsUser, SERVICE_STREAMS, WATCHER, authorization_block, system_users,
};
pub use applied::{APPLIED_EVENTS, Applier, Delivery, Follower, applied_fingerprint};
pub use cloudevents::{CloudEvent, CloudEventError, event_time};
pub use connect::{ConnectError, connect};
pub use consumer::{ConsumerSpec, HandlerError, reset_consumer, run_consumer};
pub use follow::{
    Follow, NoSnapshot, PRUNE_INTERVAL, SnapshotError, SnapshotSource, apply_events, prune,
};
pub use metrics::{BusMetrics, ConsumerLabels};
pub use relay::OutboxRelay;
pub use server::{NATS_SERVER_ENV, find_nats_server};
pub use stream::{
    INDICATORS_STREAM, REGISTRY_STREAM, RISK_STREAM, StreamError, StreamSpec, ensure_stream,
    stream_lost_history,
};

pub use async_nats;
