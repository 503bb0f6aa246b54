//! The risk monitoring service (in progress): rules over projects and
//! indicators that classify a measured risk as yellow (WARNING) or red
//! (CRITICAL), and alerts that follow the Alertmanager life cycle.
//!
//! This slice holds the pure [`domain`]: rules and their bands, the project
//! measurements, and the alert state machine. The gRPC API, the store, the
//! consumers of `JILIN_REGISTRY` / `JILIN_INDICATORS` and the `JILIN_RISK`
//! outbox come next (see ARCHITECTURE.md).

pub mod domain;
