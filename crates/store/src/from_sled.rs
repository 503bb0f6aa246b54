//! Moving a store written by the builds before fjall, when the services
//! kept their state in sled, into fjall: once, on the first open, losing
//! nothing.
//!
//! sled's files sit in the store's directory itself (`conf`, `db`,
//! `snap.*`, `blobs/`). Every sled tree is copied, byte for byte, into a
//! table of the same name of a new keyspace beside them, sled's default
//! tree (the store's format record and marks) into `__meta`; the copy is
//! counted against the source, put on disk, and only then renamed into
//! place as `keyspace/`. sled's files are removed after that. A crash
//! before the rename leaves sled's files as they were and the next open
//! copies again; a crash after it leaves only sled's files to remove.

use std::path::Path;
use std::time::Instant;

use crate::bulk::BulkWriter;
use crate::meta::META_TABLE;
use crate::settings::{StoreSettings, keyspace_dir, open_keyspace};
use crate::{Layout, StoreError};

/// sled's name for the tree every database has.
const SLED_DEFAULT_TREE: &[u8] = b"__sled__default";

/// Whether `dir` holds sled's files.
fn holds_sled(dir: &Path) -> bool {
    dir.join("conf").exists() || dir.join("db").exists()
}

/// Moves the sled store in `dir`, if there is one, to fjall (the caller
/// holds the directory's lock).
pub(crate) fn move_if_present(
    dir: &Path,
    layout: &Layout,
    settings: &StoreSettings,
) -> Result<(), StoreError> {
    if !holds_sled(dir) {
        return Ok(());
    }
    let target = keyspace_dir(dir);
    if !target.exists() {
        let started = Instant::now();
        let staging = dir.join("keyspace.moving");
        let failed = |reason: String| StoreError::Migration {
            dir: dir.to_owned(),
            reason,
        };
        if staging.exists() {
            std::fs::remove_dir_all(&staging).map_err(StoreError::io(&staging))?;
        }
        let records = match copy(dir, &staging, settings) {
            Ok(records) => records,
            Err(reason) => {
                let _ = std::fs::remove_dir_all(&staging);
                return Err(failed(reason));
            }
        };
        std::fs::rename(&staging, &target).map_err(StoreError::io(&target))?;
        sync_dir(dir)?;
        tracing::info!(
            kind = layout.kind,
            records,
            seconds = started.elapsed().as_secs_f64(),
            "moved the store from sled to fjall"
        );
    }
    remove_sled_files(dir)
}

/// Copies every tree of the sled store in `dir` into a new keyspace in
/// `staging`; returns how many records it copied.
fn copy(dir: &Path, staging: &Path, settings: &StoreSettings) -> Result<u64, String> {
    let db = open_sled(dir).map_err(|err| format!("sled cannot open it: {err}"))?;
    let keyspace = open_keyspace(staging, settings).map_err(|err| err.to_string())?;
    let mut records = 0;
    for name in db.tree_names() {
        let table_name = if &name[..] == SLED_DEFAULT_TREE {
            META_TABLE.to_owned()
        } else {
            table_name_of(&name)?
        };
        let table = keyspace
            .open_partition(&table_name, settings.table_options())
            .map_err(|err| err.to_string())?;
        let tree = db.open_tree(&name).map_err(|err| err.to_string())?;
        let mut writer = BulkWriter::new(&keyspace);
        let mut copied = 0;
        for item in tree.iter() {
            let (key, value) = item.map_err(|err| format!("reading {table_name}: {err}"))?;
            writer
                .insert(&table, &key, &value)
                .map_err(|err| err.to_string())?;
            copied += 1;
        }
        writer.finish().map_err(|err| err.to_string())?;
        let landed = table.inner().len().map_err(|err| err.to_string())?;
        if landed != copied {
            return Err(format!(
                "{table_name}: {copied} records read, {landed} written"
            ));
        }
        records += copied as u64;
    }
    keyspace
        .persist(fjall::PersistMode::SyncAll)
        .map_err(|err| err.to_string())?;
    Ok(records)
}

/// The table a sled tree named `name` becomes: the same name, if fjall
/// takes it (it refuses, by panicking, any but ASCII letters, digits and
/// `_-#$`, up to 255 of them; every tree Jilin made qualifies).
fn table_name_of(name: &[u8]) -> Result<String, String> {
    let allowed = |byte: &u8| byte.is_ascii_alphanumeric() || b"_-#$".contains(byte);
    if name.is_empty() || name.len() > 255 || !name.iter().all(allowed) {
        return Err(format!(
            "a tree named {:?} cannot be a table",
            String::from_utf8_lossy(name)
        ));
    }
    Ok(String::from_utf8_lossy(name).into_owned())
}

/// Opens the sled store in `dir`, waiting a moment for a handle this
/// process has just dropped: sled's threads let go of its file lock a
/// little after the last handle.
fn open_sled(dir: &Path) -> sled::Result<sled::Db> {
    let deadline = Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let opened = sled::Config::new()
            .path(dir)
            .use_compression(sled_compressed(dir))
            .open();
        match opened {
            Err(sled::Error::Io(err))
                if err.to_string().contains("could not acquire lock")
                    && Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            opened => return opened,
        }
    }
}

/// Whether the sled store in `dir` compresses its pages, as sled recorded
/// in its `conf` (it refuses to open a store the other way).
fn sled_compressed(dir: &Path) -> bool {
    // The file is text lines followed by a binary checksum.
    std::fs::read(dir.join("conf")).is_ok_and(|conf| {
        conf.split(|&byte| byte == b'\n')
            .any(|line| line == b"use_compression: true")
    })
}

fn remove_sled_files(dir: &Path) -> Result<(), StoreError> {
    let entries = std::fs::read_dir(dir).map_err(StoreError::io(dir))?;
    for entry in entries {
        let entry = entry.map_err(StoreError::io(dir))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let path = entry.path();
        if name == "blobs" {
            std::fs::remove_dir_all(&path).map_err(StoreError::io(&path))?;
        } else if name == "conf" || name == "db" || name.starts_with("snap.") {
            std::fs::remove_file(&path).map_err(StoreError::io(&path))?;
        }
    }
    sync_dir(dir)
}

/// Puts `dir`'s entries (a rename, a removal) on disk.
fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::File::open(dir)
        .and_then(|handle| handle.sync_all())
        .map_err(StoreError::io(dir))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::{SEQUENCE_KEY, sequence_key};
    use crate::{OutboxEntry, Store, Table};
    use prost::Message;

    const THINGS: Layout = Layout {
        kind: "test",
        version: 2,
        upgrades_from: 1,
        tables: &["things"],
    };

    /// Leaves in `dir` a store as the last sled build wrote it: format 2,
    /// compressed pages, `things` holding `count` compact values, three
    /// events staged of which the first was published, and a restore mark.
    fn sled_store(dir: &Path, count: u32) {
        let db = sled::Config::new()
            .path(dir)
            .use_compression(true)
            .open()
            .unwrap();
        db.insert(
            "jilin.store.format",
            serde_json::to_vec(&crate::Recorded {
                kind: "test".into(),
                version: 2,
            })
            .unwrap(),
        )
        .unwrap();
        db.insert("jilin.store.restore-step/replay", &[]).unwrap();
        let things = db.open_tree("things").unwrap();
        for n in 0..count {
            things
                .insert(format!("{n:06}"), Table::<u32>::encode(&n))
                .unwrap();
        }
        let outbox = db.open_tree("__outbox").unwrap();
        for sequence in 2..=3u64 {
            let entry = OutboxEntry {
                id: format!("e{sequence}"),
                ..Default::default()
            };
            outbox
                .insert(sequence_key(sequence), entry.encode_to_vec())
                .unwrap();
        }
        outbox.insert(SEQUENCE_KEY, &sequence_key(3)).unwrap();
        db.flush().unwrap();
    }

    /// Checks that the store in `dir` holds what [`sled_store`] wrote, in
    /// fjall, and carries on from it.
    async fn holds_what_sled_held(dir: &Path, count: u32) {
        let store = Store::open(dir, &THINGS).unwrap();
        assert!(!holds_sled(dir), "sled's files are gone");
        let things = store.table::<u32>("things").unwrap();
        assert_eq!(things.len().unwrap(), count as usize);
        let mut expected = 0;
        things
            .for_each(|key, n| {
                assert_eq!((key, n), (format!("{expected:06}").as_str(), expected));
                expected += 1;
            })
            .unwrap();
        let waiting: Vec<_> = store.outbox_batch(10).unwrap();
        let ids: Vec<_> = waiting.iter().map(|(s, e)| (*s, e.id.as_str())).collect();
        assert_eq!(ids, [(2, "e2"), (3, "e3")]);
        let next = store
            .write(|tx| -> Result<u64, StoreError> {
                tx.insert(&things, "new", &7)?;
                tx.stage_event(&OutboxEntry::default())
            })
            .await
            .unwrap();
        assert_eq!(next, 4, "the outbox sequence carries on");
        assert!(
            store
                .meta()
                .contains(b"jilin.store.restore-step/replay")
                .unwrap()
        );
    }

    #[tokio::test]
    async fn a_sled_store_moves_to_fjall_on_its_first_open_losing_nothing() {
        let dir = tempfile::tempdir().unwrap();
        sled_store(dir.path(), 25_000);
        holds_what_sled_held(dir.path(), 25_000).await;
        // And it opens again as fjall, with the write made after the move.
        let store = Store::open(dir.path(), &THINGS).unwrap();
        let things = store.table::<u32>("things").unwrap();
        assert_eq!(things.get("new").unwrap(), Some(7));
    }

    #[test]
    fn a_tree_fjall_would_refuse_stops_the_move_with_its_name() {
        assert_eq!(table_name_of(b"alert_groups").unwrap(), "alert_groups");
        for refused in [&b"a/b"[..], b"", &[b'x'; 256], "项目".as_bytes()] {
            assert!(table_name_of(refused).is_err());
        }
        let dir = tempfile::tempdir().unwrap();
        sled_store(dir.path(), 3);
        let db = open_sled(dir.path()).unwrap();
        db.open_tree("odd/name").unwrap().insert("k", "v").unwrap();
        db.flush().unwrap();
        drop(db);
        let err = Store::open(dir.path(), &THINGS).err().unwrap();
        assert!(
            err.to_string().contains("\"odd/name\" cannot be a table"),
            "{err}"
        );
        assert!(holds_sled(dir.path()), "sled's files are left as they were");
        assert!(!keyspace_dir(dir.path()).exists());
        assert!(!dir.path().join("keyspace.moving").exists());
    }

    #[tokio::test]
    async fn a_move_cut_short_by_a_crash_is_finished_on_the_next_open() {
        // Killed while copying: a half-made keyspace beside sled's files.
        let copying = tempfile::tempdir().unwrap();
        sled_store(copying.path(), 100);
        let staging = copying.path().join("keyspace.moving");
        std::fs::create_dir_all(staging.join("journals")).unwrap();
        std::fs::write(staging.join("journals/0"), b"half a journal").unwrap();
        holds_what_sled_held(copying.path(), 100).await;

        // Killed after the rename, before sled's files were all removed.
        let removing = tempfile::tempdir().unwrap();
        sled_store(removing.path(), 100);
        let snapshot_of_sled = tempfile::tempdir().unwrap();
        for name in ["conf", "db"] {
            std::fs::copy(
                removing.path().join(name),
                snapshot_of_sled.path().join(name),
            )
            .unwrap();
        }
        drop(Store::open(removing.path(), &THINGS).unwrap());
        std::fs::copy(
            snapshot_of_sled.path().join("db"),
            removing.path().join("db"),
        )
        .unwrap();
        let store = Store::open(removing.path(), &THINGS).unwrap();
        assert!(!holds_sled(removing.path()));
        let things = store.table::<u32>("things").unwrap();
        assert_eq!(things.len().unwrap(), 100);
    }
}
