//! The storage discipline of every Jilin service, in one place.
//!
//! A service opens one [`Store`] on its data directory, declares its
//! [`Table`]s up front, and changes them only inside [`Store::write`]: one
//! serializable sled transaction over every table plus the outbox, followed by
//! a group-commit flush, so that a write the caller acknowledges survives a
//! `kill -9`. Events staged with [`Tx::stage_event`] are committed in the same
//! transaction as the state they describe; the bus crate's relay drains them.
//! [`StoreMetrics`]: write latency and group-commit batch sizes. Every
//! store records its [`Layout`]'s kind and format version; a build refuses
//! a store it does not understand.

mod backup;
mod commit;
mod error;
mod format;
mod metrics;
mod outbox;
mod settings;
mod store;
mod table;

pub use backup::{
    BackupError, BackupHeader, BackupSummary, restore, unfinished_backup_path, verify,
};
pub use error::StoreError;
pub use format::{FormatError, Layout, Recorded};
pub use metrics::StoreMetrics;
pub use outbox::OutboxEntry;
pub use settings::{DEFAULT_CACHE_BYTES, StoreSettings};
pub use store::{Store, Tx};
pub use table::Table;
