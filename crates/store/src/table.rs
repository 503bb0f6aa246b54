//! Typed tables: a fjall partition with string keys and compact values.
//!
//! A value is the byte [`COMPACT`] followed by its MessagePack encoding,
//! structs as arrays (no field names). MessagePack says how long each array
//! is, so a field added at the end of a struct with `#[serde(default)]`
//! still reads from values written before it. Store formats before 2 held
//! JSON: a value not starting with [`COMPACT`] is read as JSON (0xC1 is
//! neither a MessagePack type nor a byte JSON text starts with), and an
//! upgrade re-encodes them ([`Table::reencode_legacy`]). Keys are plain
//! UTF-8 so prefix scans follow resource names (`{project}/{period}`).

use std::marker::PhantomData;
use std::ops::Bound;

use serde::{Serialize, de::DeserializeOwned};

use crate::{Store, StoreError};

/// The first byte of every value written since store format 2.
pub(crate) const COMPACT: u8 = 0xC1;

/// A handle on one declared table holding values of type `V`. It keeps
/// its store open.
pub struct Table<V> {
    pub(crate) name: &'static str,
    pub(crate) index: usize,
    store: Store,
    _value: PhantomData<fn() -> V>,
}

impl<V> Clone for Table<V> {
    fn clone(&self) -> Self {
        Self {
            name: self.name,
            index: self.index,
            store: self.store.clone(),
            _value: PhantomData,
        }
    }
}

impl<V: Serialize + DeserializeOwned> Table<V> {
    pub(crate) fn new(name: &'static str, index: usize, store: Store) -> Self {
        Self {
            name,
            index,
            store,
            _value: PhantomData,
        }
    }

    /// The partition the table lives in; reads through it see every
    /// committed write.
    pub(crate) fn partition(&self) -> &fjall::PartitionHandle {
        self.store.partition(self.index).inner()
    }

    /// The name the table was declared with.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Reads one value outside any transaction.
    pub fn get(&self, key: &str) -> Result<Option<V>, StoreError> {
        match self.partition().get(key.as_bytes())? {
            Some(bytes) => Ok(Some(self.decode(key, &bytes)?)),
            None => Ok(None),
        }
    }

    /// Every entry whose key starts with `prefix`, in key order.
    pub fn scan_prefix(&self, prefix: &str) -> Result<Vec<(String, V)>, StoreError> {
        self.entries(self.partition().prefix(prefix.as_bytes()))
    }

    /// Hands every entry to `each`, in key order, decoding one value at a
    /// time: a pass over a table too big to hold decoded all at once.
    pub fn for_each(&self, each: impl FnMut(&str, V)) -> Result<(), StoreError> {
        self.for_each_with_prefix("", each)
    }

    /// As [`Self::for_each`], over the keys that start with `prefix`.
    pub fn for_each_with_prefix(
        &self,
        prefix: &str,
        mut each: impl FnMut(&str, V),
    ) -> Result<(), StoreError> {
        for item in self.partition().prefix(prefix.as_bytes()) {
            let (key, bytes) = item?;
            let key = String::from_utf8_lossy(&key);
            each(&key, self.decode(&key, &bytes)?);
        }
        Ok(())
    }

    /// Every key, in order, without decoding the values.
    pub fn keys(&self) -> Result<Vec<String>, StoreError> {
        self.partition()
            .keys()
            .map(|key| Ok(String::from_utf8_lossy(&key?).into_owned()))
            .collect()
    }

    /// At most `limit` keys strictly after `after`, in order, without
    /// decoding the values.
    pub fn keys_after(&self, after: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        self.partition()
            .range::<&[u8], _>((Bound::Excluded(after.as_bytes()), Bound::Unbounded))
            .take(limit)
            .map(|item| Ok(String::from_utf8_lossy(&item?.0).into_owned()))
            .collect()
    }

    /// Every entry whose key is strictly after `after` and starts with
    /// `prefix`, in key order, at most `limit` of them.
    pub fn scan_prefix_after(
        &self,
        prefix: &str,
        after: &str,
        limit: usize,
    ) -> Result<Vec<(String, V)>, StoreError> {
        let iter = self
            .partition()
            .range::<&[u8], _>((Bound::Excluded(after.as_bytes()), Bound::Unbounded))
            .take_while(|item| match item {
                Ok((key, _)) => key.starts_with(prefix.as_bytes()),
                Err(_) => true,
            })
            .take(limit);
        self.entries(iter)
    }

    /// Number of entries (walks the table; for tests and small tables).
    pub fn len(&self) -> Result<usize, StoreError> {
        Ok(self.partition().len()?)
    }

    /// True when the table holds no entry.
    pub fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.partition().is_empty()?)
    }

    /// A checksum over every key and raw value, to prove in tests that a
    /// rejected request left the table exactly as it was.
    pub fn fingerprint(&self) -> Result<u64, StoreError> {
        self.fingerprint_where(|_| true)
    }

    /// A checksum over the entries whose key passes `keep`.
    pub fn fingerprint_where(&self, keep: impl Fn(&str) -> bool) -> Result<u64, StoreError> {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        for item in self.partition().iter() {
            let (key, value) = item?;
            if !keep(&String::from_utf8_lossy(&key)) {
                continue;
            }
            key.as_ref().hash(&mut hasher);
            value.as_ref().hash(&mut hasher);
        }
        Ok(hasher.finish())
    }

    pub(crate) fn encode(value: &V) -> Vec<u8> {
        let mut bytes = vec![COMPACT];
        rmp_serde::encode::write(&mut bytes, value).expect("table values serialize");
        bytes
    }

    pub(crate) fn decode(&self, key: &str, bytes: &[u8]) -> Result<V, StoreError> {
        let decoded = match bytes.split_first() {
            Some((&COMPACT, compact)) => {
                rmp_serde::from_slice(compact).map_err(|err| err.to_string())
            }
            _ => serde_json::from_slice(bytes).map_err(|err| err.to_string()),
        };
        decoded.map_err(|reason| StoreError::Corrupt {
            table: self.name,
            key: key.to_owned(),
            reason,
        })
    }

    /// Rewrites every value still in the JSON of formats before 2 in the
    /// compact encoding, a thousand per transaction, and puts them on disk;
    /// returns how many it rewrote. Each value is swapped only if unchanged
    /// since it was read, so a write racing the upgrade is never undone.
    pub(crate) fn reencode_legacy(&self) -> Result<usize, StoreError> {
        let mut legacy = Vec::new();
        for item in self.partition().iter() {
            let (key, bytes) = item?;
            if bytes.first() != Some(&COMPACT) {
                legacy.push((key, bytes));
            }
        }
        let mut rewritten = 0;
        for chunk in legacy.chunks(1000) {
            rewritten += self
                .store
                .swap_if_unchanged(self.index, chunk, |key, bytes| {
                    let value = self.decode(&String::from_utf8_lossy(key), bytes)?;
                    Ok(Self::encode(&value))
                })?;
        }
        self.store.flush()?;
        Ok(rewritten)
    }

    pub(crate) fn entries(
        &self,
        iter: impl Iterator<Item = fjall::Result<fjall::KvPair>>,
    ) -> Result<Vec<(String, V)>, StoreError> {
        iter.map(|item| {
            let (key, bytes) = item?;
            let key = String::from_utf8_lossy(&key).into_owned();
            let value = self.decode(&key, &bytes)?;
            Ok((key, value))
        })
        .collect()
    }
}
