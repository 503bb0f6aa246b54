//! What a store directory holds and in which format: every store records
//! the kind of service that wrote it and its format version, so that a
//! build never misreads a store it does not understand.
//!
//! On open, a store with no record is either new (it gets this build's
//! record) or was written before formats were recorded (format 1, recorded
//! then). A store of another kind, or of a format this build neither writes
//! nor upgrades, is refused with an error that says what to do.
//!
//! Upgrading: from format 2 on, values are MessagePack instead of JSON
//! (see [`crate::Table`]); every build reads both. A store in a format
//! from [`Layout::upgrades_from`] on is upgraded in place on open: this
//! build's format is recorded at once (so an older build refuses it from
//! then on), with a mark on every table whose values are to be re-encoded;
//! [`crate::Store::table`] re-encodes a marked table and removes its mark.
//! A crash half way leaves marks, and the next open finishes the job.

use serde::{Deserialize, Serialize};

use crate::StoreError;
use crate::meta::Meta;

/// The key, in the store's `__meta` table, of its [`Recorded`] format.
const FORMAT_KEY: &[u8] = b"jilin.store.format";

/// What a service keeps: the kind of store, the format version this build
/// writes and reads, and its tables (the outbox comes with every store).
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    /// `registry`, `indicators`, `risk`, …
    pub kind: &'static str,
    /// Raised whenever the meaning or encoding of anything stored changes.
    pub version: u32,
    /// The oldest format this build upgrades on open. An upgrade only
    /// re-encodes values: a change of meaning needs a migration of its own
    /// (run by the service after opening, as the indicator service's
    /// `migrate` does) or raises this to the version that introduced it.
    pub upgrades_from: u32,
    pub tables: &'static [&'static str],
}

/// The format a store records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    pub kind: String,
    pub version: u32,
}

/// Why a store's format is refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error(
        "this directory holds a {found} store, not a {expected} store: check the data directory"
    )]
    OtherKind { found: String, expected: String },
    #[error(
        "this {kind} store is in format {found}, written by a newer Jilin; this build reads format \
         {supported} only. Run the newer build, or restore a backup made by this one"
    )]
    Newer {
        kind: String,
        found: u32,
        supported: u32,
    },
    #[error(
        "this {kind} store is in format {found}; this build upgrades formats {oldest} to \
         {supported} only: open it once with a release that reads format {found} and upgrades \
         it to {oldest} or later"
    )]
    Older {
        kind: String,
        found: u32,
        oldest: u32,
        supported: u32,
    },
    #[error("the store's format record is unreadable: {0}")]
    Unreadable(String),
}

impl Layout {
    /// This build's record.
    fn recorded(&self) -> Recorded {
        Recorded {
            kind: self.kind.to_owned(),
            version: self.version,
        }
    }

    /// Whether this build may open a store recording `found` (perhaps
    /// after an upgrade).
    fn accepts(&self, found: &Recorded) -> Result<(), FormatError> {
        if found.kind != self.kind {
            return Err(FormatError::OtherKind {
                found: found.kind.clone(),
                expected: self.kind.to_owned(),
            });
        }
        let (kind, supported) = (self.kind.to_owned(), self.version);
        match found.version {
            version if version > supported => Err(FormatError::Newer {
                kind,
                found: version,
                supported,
            }),
            version if version < self.upgrades_from => Err(FormatError::Older {
                kind,
                found: version,
                oldest: self.upgrades_from,
                supported,
            }),
            _ => Ok(()),
        }
    }
}

/// Whether a store of `kind` in format `version` may be opened as `layout`.
pub(crate) fn accepts(layout: &Layout, kind: &str, version: u32) -> Result<(), FormatError> {
    layout.accepts(&Recorded {
        kind: kind.to_owned(),
        version,
    })
}

/// Records, on disk, that `meta`'s store holds a `kind` store in format
/// `version` (a restore records the backup's, and the first open upgrades
/// it).
pub(crate) fn record(meta: &Meta, kind: &str, version: u32) -> Result<(), StoreError> {
    let record = Recorded {
        kind: kind.to_owned(),
        version,
    };
    let bytes = serde_json::to_vec(&record).expect("a format record encodes");
    meta.put(FORMAT_KEY, &bytes)
}

/// Prefix, in the `__meta` table, of the marks on tables whose values
/// an upgrade has yet to re-encode.
const REENCODE_PREFIX: &str = "jilin.store.reencode/";

fn reencode_mark(table: &str) -> String {
    format!("{REENCODE_PREFIX}{table}")
}

/// Whether an upgrade left `table`'s values to re-encode.
pub(crate) fn reencode_pending(meta: &Meta, table: &str) -> Result<bool, StoreError> {
    meta.contains(reencode_mark(table).as_bytes())
}

/// Removes `table`'s mark, once its values are re-encoded and on disk.
pub(crate) fn reencode_done(meta: &Meta, table: &str) -> Result<(), StoreError> {
    meta.delete(reencode_mark(table).as_bytes())
}

/// The first format whose values are all compact (MessagePack).
const FIRST_COMPACT_FORMAT: u32 = 2;

/// Upgrades a store recording an older `found` format to `layout`'s: marks
/// every table for re-encoding if its values may still be JSON (each mark
/// on disk), then records the new format.
fn upgrade(meta: &Meta, layout: &Layout, found: &Recorded) -> Result<(), StoreError> {
    tracing::info!(
        kind = layout.kind,
        from = found.version,
        to = layout.version,
        "upgrading the store's format"
    );
    if found.version < FIRST_COMPACT_FORMAT {
        for table in layout.tables {
            meta.put(reencode_mark(table).as_bytes(), &[])?;
        }
    }
    record(meta, layout.kind, layout.version)
}

/// The format `meta`'s store records, recording one if it has none: this
/// build's for a new store, format 1 for a store written before formats
/// were recorded. Refuses a store this build must not open.
pub(crate) fn check(meta: &Meta, layout: &Layout) -> Result<Recorded, StoreError> {
    let found = match meta.get(FORMAT_KEY)? {
        Some(bytes) => serde_json::from_slice(&bytes)
            .map_err(|err| StoreError::Format(FormatError::Unreadable(err.to_string())))?,
        None => {
            let record = if meta.others_hold_data()? {
                Recorded {
                    kind: layout.kind.to_owned(),
                    version: 1,
                }
            } else {
                layout.recorded()
            };
            self::record(meta, &record.kind, record.version)?;
            record
        }
    };
    layout.accepts(&found).map_err(StoreError::Format)?;
    if found.version < layout.version {
        upgrade(meta, layout, &found)?;
        return Ok(layout.recorded());
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: Layout = Layout {
        kind: "things",
        version: 1,
        upgrades_from: 1,
        tables: &["things"],
    };
    const V2: Layout = Layout { version: 2, ..V1 };
    const V3: Layout = Layout {
        version: 3,
        upgrades_from: 2,
        ..V1
    };

    /// A keyspace in `dir`, its `__meta` table, and a `things` table.
    fn db(dir: &std::path::Path) -> (Meta, fjall::TxPartitionHandle) {
        let keyspace = fjall::Config::new(dir).open_transactional().unwrap();
        let things = keyspace
            .open_partition("things", Default::default())
            .unwrap();
        (Meta::open(&keyspace).unwrap(), things)
    }

    #[test]
    fn a_new_store_records_this_builds_format() {
        let dir = tempfile::tempdir().unwrap();
        let (db, _) = db(dir.path());
        assert_eq!(check(&db, &V2).unwrap(), V2.recorded());
        assert_eq!(check(&db, &V2).unwrap(), V2.recorded());
    }

    #[test]
    fn a_store_from_before_formats_is_format_1() {
        let dir = tempfile::tempdir().unwrap();
        let (db, things) = db(dir.path());
        things.insert("k", "v").unwrap();
        assert_eq!(check(&db, &V1).unwrap(), V1.recorded());
        let err = check(&db, &V3).unwrap_err();
        assert!(
            err.to_string()
                .contains("format 1; this build upgrades formats 2 to 3"),
            "{err}"
        );
    }

    #[test]
    fn an_upgradable_store_is_recorded_upgraded_with_its_tables_marked() {
        let dir = tempfile::tempdir().unwrap();
        let (db, things) = db(dir.path());
        things.insert("k", "v").unwrap();
        check(&db, &V1).unwrap();
        assert!(!reencode_pending(&db, "things").unwrap());
        assert_eq!(check(&db, &V2).unwrap(), V2.recorded());
        assert!(reencode_pending(&db, "things").unwrap());
        // The old build now refuses it, and opening again upgrades nothing.
        assert!(check(&db, &V1).is_err());
        reencode_done(&db, "things").unwrap();
        assert_eq!(check(&db, &V2).unwrap(), V2.recorded());
        assert!(!reencode_pending(&db, "things").unwrap());
        // From a compact format on, an upgrade has nothing to re-encode.
        assert_eq!(check(&db, &V3).unwrap(), V3.recorded());
        assert!(!reencode_pending(&db, "things").unwrap());
        assert!(check(&db, &V2).is_err());
    }

    #[test]
    fn newer_and_foreign_stores_are_refused_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let (db, _) = db(dir.path());
        check(&db, &V2).unwrap();
        let err = check(&db, &V1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "this things store is in format 2, written by a newer Jilin; this build reads format 1 \
             only. Run the newer build, or restore a backup made by this one"
        );
        let other = Layout {
            kind: "registry",
            ..V2
        };
        let err = check(&db, &other).unwrap_err();
        assert!(
            err.to_string()
                .contains("holds a things store, not a registry store")
        );
    }
}
