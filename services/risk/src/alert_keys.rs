//! The key of every alert the store may hold, kept in memory: loaded at
//! start, and noted before each write of an alert. A clear reading of a
//! subject that has no alert changes nothing, and this set lets it skip
//! the store lookup (most readings are clear, and most subjects have no
//! alert for most rules).
//!
//! The set may hold more keys than the store (a write that then aborted,
//! an alert retention removed): that costs a lookup, no more. It never
//! holds fewer: every write of an alert notes its key first.

use std::collections::HashSet;
use std::sync::RwLock;

#[derive(Debug, Default)]
pub struct AlertKeys(RwLock<HashSet<String>>);

impl AlertKeys {
    /// Remembers that the store may hold an alert under `key`.
    pub fn note(&self, key: &str) {
        if !self.may_hold(key) {
            self.0
                .write()
                .expect("no panic holding the alert keys")
                .insert(key.to_owned());
        }
    }

    /// Whether the store may hold an alert under `key`: `false` means it
    /// holds none.
    pub fn may_hold(&self, key: &str) -> bool {
        self.0
            .read()
            .expect("no panic holding the alert keys")
            .contains(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_noted_key_may_be_held_and_no_other() {
        let keys = AlertKeys::default();
        keys.note("schedule_lag:projects:p1");
        keys.note("schedule_lag:projects:p1");
        assert!(keys.may_hold("schedule_lag:projects:p1"));
        assert!(!keys.may_hold("schedule_lag:projects:p2"));
    }
}
