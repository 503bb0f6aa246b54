//! What a store directory holds and in which format: every store records
//! the kind of service that wrote it and its format version, so that a
//! build never misreads a store it does not understand.
//!
//! On open, a store with no record is either new (it gets this build's
//! record) or was written before formats were recorded (format 1, recorded
//! then). A store of another kind, or of a format this build does not
//! write, is refused with an error that says what to do.

use serde::{Deserialize, Serialize};

use crate::StoreError;

/// The key, in sled's default tree, of the store's [`Recorded`] format.
const FORMAT_KEY: &[u8] = b"jilin.store.format";

/// What a service keeps: the kind of store, the format version this build
/// writes and reads, and its tables (the outbox comes with every store).
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    /// `registry`, `indicators`, `risk`, …
    pub kind: &'static str,
    /// Raised whenever the meaning or encoding of anything stored changes.
    pub version: u32,
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
        "this {kind} store is in format {found}, older than format {supported} that this build \
         reads, and this build has no migration from it: open it once with the release that \
         introduced format {supported}, which migrates it"
    )]
    Older {
        kind: String,
        found: u32,
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

    /// Whether this build may open a store recording `found`.
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
            version if version < supported => Err(FormatError::Older {
                kind,
                found: version,
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

/// Records `layout`'s format in `db`.
pub(crate) fn record(db: &sled::Db, layout: &Layout) -> Result<(), StoreError> {
    let bytes = serde_json::to_vec(&layout.recorded()).expect("a format record encodes");
    db.insert(FORMAT_KEY, bytes)?;
    Ok(())
}

/// The format `db` records, recording one if it has none: this build's
/// for a new store, format 1 for a store written before formats were
/// recorded. Refuses a store this build must not open.
pub(crate) fn check(db: &sled::Db, layout: &Layout) -> Result<Recorded, StoreError> {
    let found = match db.get(FORMAT_KEY)? {
        Some(bytes) => serde_json::from_slice(&bytes)
            .map_err(|err| StoreError::Format(FormatError::Unreadable(err.to_string())))?,
        None => {
            let record = if holds_data(db)? {
                Recorded {
                    kind: layout.kind.to_owned(),
                    version: 1,
                }
            } else {
                layout.recorded()
            };
            let bytes = serde_json::to_vec(&record).expect("a format record encodes");
            db.insert(FORMAT_KEY, bytes)?;
            db.flush()?;
            record
        }
    };
    layout.accepts(&found).map_err(StoreError::Format)?;
    Ok(found)
}

/// Whether any tree of `db` holds anything.
fn holds_data(db: &sled::Db) -> Result<bool, StoreError> {
    for name in db.tree_names() {
        if name.as_ref() != b"__sled__default" && !db.open_tree(&name)?.is_empty() {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: Layout = Layout {
        kind: "things",
        version: 1,
        tables: &["things"],
    };
    const V2: Layout = Layout { version: 2, ..V1 };

    fn db(dir: &std::path::Path) -> sled::Db {
        sled::open(dir).unwrap()
    }

    #[test]
    fn a_new_store_records_this_builds_format() {
        let dir = tempfile::tempdir().unwrap();
        let db = db(dir.path());
        assert_eq!(check(&db, &V2).unwrap(), V2.recorded());
        assert_eq!(check(&db, &V2).unwrap(), V2.recorded());
    }

    #[test]
    fn a_store_from_before_formats_is_format_1() {
        let dir = tempfile::tempdir().unwrap();
        let db = db(dir.path());
        db.open_tree("things").unwrap().insert("k", "v").unwrap();
        assert_eq!(check(&db, &V1).unwrap(), V1.recorded());
        let err = check(&db, &V2).unwrap_err();
        assert!(err.to_string().contains("format 1, older"), "{err}");
    }

    #[test]
    fn newer_and_foreign_stores_are_refused_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let db = db(dir.path());
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
