//! JetStream plumbing shared by every Jilin service.
//!
//! - [`connect`]: a NATS connection that is allowed to come up later, so a
//!   service starts (and keeps accepting writes) while the broker is away.
//! - [`StreamSpec`] / [`ensure_stream`]: the service's own stream, created
//!   at start if missing (file storage, duplicate window); the three
//!   streams of the system are named here once.
//! - [`OutboxRelay`]: drains the store's outbox in commit order, publishes
//!   each event with `Nats-Msg-Id` and CloudEvents headers, and forgets it
//!   only after the PubAck.
//! - [`run_consumer`]: a durable pull consumer that acks a message only
//!   after the handler says it committed it.

mod cloudevents;
mod connect;
mod consumer;
mod relay;
mod server;
mod stream;

pub use cloudevents::{CloudEvent, CloudEventError};
pub use connect::connect;
pub use consumer::{ConsumerSpec, HandlerError, reset_consumer, run_consumer};
pub use relay::OutboxRelay;
pub use server::{NATS_SERVER_ENV, find_nats_server};
pub use stream::{
    INDICATORS_STREAM, REGISTRY_STREAM, RISK_STREAM, StreamSpec, ensure_stream, stream_lost_history,
};

pub use async_nats;
