//! The storage discipline of every Jilin service, in one place.
//!
//! A service opens one [`Store`] on its data directory (a fjall keyspace),
//! declares its [`Table`]s up front, and changes them only inside
//! [`Store::write`]: one serialized transaction over every table plus the
//! outbox, followed by a group-commit sync of the journal, so that a write
//! the caller acknowledges survives a `kill -9` or a power cut. A store
//! written by the builds that used sled is moved to fjall on its first
//! open. Events staged with [`Tx::stage_event`] are committed in the same
//! transaction as the state they describe; the bus crate's relay drains them.
//! [`StoreMetrics`]: write latency and group-commit batch sizes. Every
//! store records its [`Layout`]'s kind and format version; a build refuses
//! a store it does not understand.

mod backup;
mod bulk;
mod commit;
mod error;
mod format;
mod from_sled;
mod journals;
mod meta;
mod metrics;
mod outbox;
mod settings;
mod store;
mod table;
mod writable;

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
