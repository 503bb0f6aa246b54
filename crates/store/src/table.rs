//! Typed tables: a sled tree with string keys and JSON-encoded values.
//!
//! JSON keeps stored values readable and lets fields be added later with
//! `#[serde(default)]`; keys are plain UTF-8 so prefix scans follow resource
//! names (`{project}/{period}`).

use std::marker::PhantomData;

use serde::{Serialize, de::DeserializeOwned};

use crate::StoreError;

/// A handle on one declared table holding values of type `V`.
pub struct Table<V> {
    pub(crate) name: &'static str,
    pub(crate) index: usize,
    pub(crate) tree: sled::Tree,
    _value: PhantomData<fn() -> V>,
}

impl<V> Clone for Table<V> {
    fn clone(&self) -> Self {
        Self {
            name: self.name,
            index: self.index,
            tree: self.tree.clone(),
            _value: PhantomData,
        }
    }
}

impl<V: Serialize + DeserializeOwned> Table<V> {
    pub(crate) fn new(name: &'static str, index: usize, tree: sled::Tree) -> Self {
        Self {
            name,
            index,
            tree,
            _value: PhantomData,
        }
    }

    /// The name the table was declared with.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Reads one value outside any transaction.
    pub fn get(&self, key: &str) -> Result<Option<V>, StoreError> {
        match self.tree.get(key.as_bytes())? {
            Some(bytes) => Ok(Some(self.decode(key, &bytes)?)),
            None => Ok(None),
        }
    }

    /// Every entry whose key starts with `prefix`, in key order.
    pub fn scan_prefix(&self, prefix: &str) -> Result<Vec<(String, V)>, StoreError> {
        self.entries(self.tree.scan_prefix(prefix.as_bytes()))
    }

    /// Every key, in order, without decoding the values.
    pub fn keys(&self) -> Result<Vec<String>, StoreError> {
        self.tree
            .iter()
            .keys()
            .map(|key| Ok(String::from_utf8_lossy(&key?).into_owned()))
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
        let start = std::ops::Bound::Excluded(after.as_bytes().to_vec());
        let iter = self
            .tree
            .range::<Vec<u8>, _>((start, std::ops::Bound::Unbounded))
            .take_while(|item| match item {
                Ok((key, _)) => key.starts_with(prefix.as_bytes()),
                Err(_) => true,
            })
            .take(limit);
        self.entries(iter)
    }

    /// Number of entries (walks the tree; for tests and small tables).
    pub fn len(&self) -> usize {
        self.tree.len()
    }

    /// True when the table holds no entry.
    pub fn is_empty(&self) -> bool {
        self.tree.is_empty()
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
        for item in self.tree.iter() {
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
        serde_json::to_vec(value).expect("table values serialize to JSON")
    }

    pub(crate) fn decode(&self, key: &str, bytes: &[u8]) -> Result<V, StoreError> {
        serde_json::from_slice(bytes).map_err(|err| StoreError::Corrupt {
            table: self.name,
            key: key.to_owned(),
            reason: err.to_string(),
        })
    }

    fn entries(
        &self,
        iter: impl Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>,
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
