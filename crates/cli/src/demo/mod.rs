//! The demo portfolio: [`generator`] makes it (pure, seeded), [`loader`]
//! puts its history into the registry over the public gRPC API and then
//! feeds it month by month.

pub mod generator;
pub mod loader;

pub use generator::{Behaviour, DemoProject, agencies, portfolio};
pub use loader::{DemoPlan, feed, load_history};
