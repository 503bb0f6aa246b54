//! The alerts that may be active (PENDING or FIRING), kept in memory:
//! loaded at start, noted before each write of an alert, and forgotten
//! once a write that resolved one has committed. A clear reading changes
//! only an active alert (a resolved one keeps the reading that resolved
//! it), and this set lets every other clear reading skip the store lookup:
//! most readings are clear, and most subjects have no active alert for
//! most rules.
//!
//! The set may hold more alerts than are active (a write that then
//! aborted, a resolution not yet committed): that costs a lookup, no more.
//! It never holds fewer: every write notes its alert first, and a
//! resolution is forgotten only if no later write noted the alert again
//! (each note carries a new stamp), since transactions commit one at a
//! time but their commits are told afterwards.
//!
//! It holds a 64-bit digest of each key, not the key: after a bulk load of
//! 100,000 projects the store held about 400,000 alerts, whose keys take
//! 43 MB as a set of strings and 4 MB as a set of digests (BENCHMARKS.md,
//! "The followers' memory at 100,000 projects"). Two keys with the same
//! digest (about one chance in 200 million among 400,000 keys) only
//! cost a lookup, like any key the set holds that is not active.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct ActiveAlerts {
    /// Digest of each alert's key → the stamp of its last note.
    stamps: RwLock<HashMap<u64, u64>>,
    last_stamp: AtomicU64,
}

/// One note of an alert: what forgets it once its resolution committed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Noted {
    digest: u64,
    stamp: u64,
}

impl ActiveAlerts {
    /// Remembers, before the alert under `key` is written, that it may be
    /// active.
    pub fn note(&self, key: &str) -> Noted {
        let noted = Noted {
            digest: digest(key),
            stamp: self.last_stamp.fetch_add(1, Ordering::Relaxed) + 1,
        };
        self.stamps
            .write()
            .expect("no panic holding the active alerts")
            .insert(noted.digest, noted.stamp);
        noted
    }

    /// Whether the alert under `key` may be active: `false` means the
    /// store holds no active alert under it.
    pub fn may_be_active(&self, key: &str) -> bool {
        self.stamps
            .read()
            .expect("no panic holding the active alerts")
            .contains_key(&digest(key))
    }

    /// After the commit that wrote them resolved: forgets each alert of
    /// `resolved` not noted again since.
    pub fn forget_resolved(&self, resolved: &[Noted]) {
        if resolved.is_empty() {
            return;
        }
        let mut stamps = self
            .stamps
            .write()
            .expect("no panic holding the active alerts");
        for noted in resolved {
            if stamps.get(&noted.digest) == Some(&noted.stamp) {
                stamps.remove(&noted.digest);
            }
        }
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
    fn a_noted_key_may_be_active_and_no_other() {
        let alerts = ActiveAlerts::default();
        alerts.note("schedule_lag:projects:p1");
        alerts.note("schedule_lag:projects:p1");
        assert!(alerts.may_be_active("schedule_lag:projects:p1"));
        assert!(!alerts.may_be_active("schedule_lag:projects:p2"));
    }

    #[test]
    fn a_committed_resolution_is_forgotten() {
        let alerts = ActiveAlerts::default();
        let resolved = alerts.note("schedule_lag:projects:p1");
        alerts.forget_resolved(&[resolved]);
        assert!(!alerts.may_be_active("schedule_lag:projects:p1"));
    }

    #[test]
    fn a_resolution_told_after_a_later_write_noted_the_alert_again_is_not_forgotten() {
        let alerts = ActiveAlerts::default();
        let resolved = alerts.note("schedule_lag:projects:p1");
        // The next transaction fires it again before the first's commit
        // is told.
        alerts.note("schedule_lag:projects:p1");
        alerts.forget_resolved(&[resolved]);
        assert!(alerts.may_be_active("schedule_lag:projects:p1"));
    }

    #[test]
    fn every_key_of_a_large_portfolio_is_held_and_its_neighbours_are_not() {
        let alerts = ActiveAlerts::default();
        let key = |rule: &str, project: u32| format!("{rule}:projects:p{project:06}");
        for project in 0..100_000 {
            alerts.note(&key("schedule_lag", project));
        }
        for project in 0..100_000 {
            assert!(alerts.may_be_active(&key("schedule_lag", project)));
            assert!(!alerts.may_be_active(&key("cost_overrun", project)));
        }
        assert!(!alerts.may_be_active(&key("schedule_lag", 100_000)));
    }
}
