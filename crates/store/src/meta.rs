//! The store's own records, beside the service's tables: its format, the
//! marks of an unfinished upgrade, the backup it was restored from. They
//! live in a table of their own, `__meta`, that no service declares.

use crate::StoreError;

/// Name of the table of the store's own records.
pub(crate) const META_TABLE: &str = "__meta";

/// The `__meta` table of one keyspace.
#[derive(Clone)]
pub(crate) struct Meta {
    keyspace: fjall::TxKeyspace,
    table: fjall::TxPartitionHandle,
}

impl Meta {
    /// The table's own handle (for [`crate::journals`]).
    pub(crate) fn partition(&self) -> fjall::TxPartitionHandle {
        self.table.clone()
    }

    pub(crate) fn open(keyspace: &fjall::TxKeyspace) -> Result<Self, StoreError> {
        let table = keyspace.open_partition(META_TABLE, Default::default())?;
        Ok(Self {
            keyspace: keyspace.clone(),
            table,
        })
    }

    pub(crate) fn get(&self, key: &[u8]) -> Result<Option<fjall::Slice>, StoreError> {
        Ok(self.table.get(key)?)
    }

    pub(crate) fn contains(&self, key: &[u8]) -> Result<bool, StoreError> {
        Ok(self.table.contains_key(key)?)
    }

    /// Writes a record and puts it on disk before returning.
    pub(crate) fn put(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.table.insert(key, value)?;
        self.persist()
    }

    /// Removes a record and puts that on disk before returning.
    pub(crate) fn delete(&self, key: &[u8]) -> Result<(), StoreError> {
        self.table.remove(key)?;
        self.persist()
    }

    fn persist(&self) -> Result<(), StoreError> {
        Ok(self.keyspace.persist(fjall::PersistMode::SyncAll)?)
    }

    /// Whether any table but this one holds anything.
    pub(crate) fn others_hold_data(&self) -> Result<bool, StoreError> {
        for name in self.keyspace.list_partitions() {
            if &*name == META_TABLE {
                continue;
            }
            let table = self.keyspace.open_partition(&name, Default::default())?;
            if !table.inner().is_empty()? {
                return Ok(true);
            }
        }
        Ok(false)
    }
}
