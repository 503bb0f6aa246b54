//! The `jilin` command as a library, so the system tests drive exactly
//! what the binary runs: [`up`] (the three services in one process over
//! NATS, found or started by [`nats`]), [`demo`] (a seeded portfolio,
//! loaded over gRPC and fed month by month) and [`client`] (the
//! subcommands people and scripts use, printed by [`output`]).

pub mod bench;
pub mod client;
pub mod demo;
pub mod identity;
pub mod nats;
pub mod output;
pub mod up;
