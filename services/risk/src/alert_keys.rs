//! The key of every alert the store may hold, kept in memory: loaded at
//! start, and noted before each write of an alert. A clear reading of a
//! subject that has no alert changes nothing, and this set lets it skip
//! the store lookup (most readings are clear, and most subjects have no
//! alert for most rules).
//!
//! The set may hold more keys than the store (a write that then aborted,
//! an alert retention removed): that costs a lookup, no more. It never
//! holds fewer: every write of an alert notes its key first.
//!
//! It holds a 64-bit digest of each key, not the key: after a bulk load of
//! 100,000 projects the store held about 400,000 alerts, whose keys take
//! 43 MB as a set of strings and 4 MB as a set of digests (BENCHMARKS.md,
//! "The followers' memory at 100,000 projects"). Two keys with the same
//! digest (about one chance in 200 million among 400,000 keys) only
//! cost a lookup, like any key the set holds and the store does not.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::RwLock;

#[derive(Debug, Default)]
pub struct AlertKeys(RwLock<HashSet<u64>>);

impl AlertKeys {
    /// Remembers that the store may hold an alert under `key`.
    pub fn note(&self, key: &str) {
        let digest = digest(key);
        if !self.holds(digest) {
            self.0
                .write()
                .expect("no panic holding the alert keys")
                .insert(digest);
        }
    }

    /// Whether the store may hold an alert under `key`: `false` means it
    /// holds none.
    pub fn may_hold(&self, key: &str) -> bool {
        self.holds(digest(key))
    }

    fn holds(&self, digest: u64) -> bool {
        self.0
            .read()
            .expect("no panic holding the alert keys")
            .contains(&digest)
    }
}

/// The key's digest: the same for the same key for as long as the process
/// runs (`DefaultHasher::new` has fixed keys), which is as long as the set.
fn digest(key: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    key.hash(&mut hasher);
    hasher.finish()
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

    #[test]
    fn every_key_of_a_large_portfolio_is_held_and_its_neighbours_are_not() {
        let keys = AlertKeys::default();
        let key = |rule: &str, project: u32| format!("{rule}:projects:p{project:06}");
        for project in 0..100_000 {
            keys.note(&key("schedule_lag", project));
        }
        for project in 0..100_000 {
            assert!(keys.may_hold(&key("schedule_lag", project)));
            assert!(!keys.may_hold(&key("cost_overrun", project)));
        }
        assert!(!keys.may_hold(&key("schedule_lag", 100_000)));
    }
}
