//! When each alert group is next looked at, kept in memory in time order:
//! the dispatcher takes the groups due from here instead of reading every
//! group five times a second (with a route grouping by subject, one group
//! per project).
//!
//! Invariant: every stored group has an entry at its stored `next_tick`
//! (there may be more entries than groups). Entries change only in the
//! writers' turn, inside the transaction that changes the group: a new
//! group's entry is added by [`super::stage`]; the dispatcher swaps the
//! entries it looked at for the groups' next ticks, and puts them back if
//! its transaction fails. Transactions run one at a time, so no group is
//! stored between an entry's change and its commit. An entry whose group
//! is gone (rolled back, or forgotten since) or due later (an entry put
//! back after a commit whose sync failed) costs one lookup, and is
//! dropped or moved to the group's own time.

use std::collections::BTreeSet;
use std::sync::Mutex;

use time::OffsetDateTime;

#[derive(Debug, Default)]
pub struct DueGroups(Mutex<BTreeSet<(OffsetDateTime, String)>>);

impl DueGroups {
    /// The entries of the groups stored at start.
    pub fn of(groups: impl IntoIterator<Item = (OffsetDateTime, String)>) -> Self {
        Self(Mutex::new(groups.into_iter().collect()))
    }

    /// The group `key` is next looked at `at`.
    pub fn expect(&self, at: OffsetDateTime, key: String) {
        self.entries().insert((at, key));
    }

    /// The entries due by `now`, earliest first, left in place until
    /// [`Self::looked_at`].
    pub fn due(&self, now: OffsetDateTime) -> Vec<(OffsetDateTime, String)> {
        self.entries()
            .iter()
            .take_while(|(at, _)| *at <= now)
            .cloned()
            .collect()
    }

    /// Forgets the entries the dispatcher has looked at.
    pub fn looked_at(&self, entries: &[(OffsetDateTime, String)]) {
        let mut held = self.entries();
        for entry in entries {
            held.remove(entry);
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, BTreeSet<(OffsetDateTime, String)>> {
        self.0.lock().expect("no panic holding the due groups")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn only_entries_due_are_given_earliest_first_until_looked_at() {
        let due = DueGroups::of([
            (datetime!(2026-07-01 0:05 UTC), "b".to_owned()),
            (datetime!(2026-07-01 0:01 UTC), "a".to_owned()),
            (datetime!(2026-07-01 1:00 UTC), "later".to_owned()),
        ]);
        due.expect(datetime!(2026-07-01 0:03 UTC), "c".to_owned());
        let now = datetime!(2026-07-01 0:10 UTC);
        let keys = |entries: &[(OffsetDateTime, String)]| -> Vec<String> {
            entries.iter().map(|(_, key)| key.clone()).collect()
        };
        let first = due.due(now);
        assert_eq!(keys(&first), ["a", "c", "b"]);
        assert_eq!(keys(&due.due(now)), ["a", "c", "b"], "kept until looked at");
        due.looked_at(&first[..2]);
        assert_eq!(keys(&due.due(now)), ["b"]);
        assert_eq!(
            keys(&due.due(datetime!(2026-07-02 0:00 UTC))),
            ["b", "later"]
        );
    }

    #[test]
    fn a_group_moved_on_has_its_new_entry_kept_when_the_old_is_looked_at() {
        let due = DueGroups::default();
        let old = (datetime!(2026-07-01 0:01 UTC), "g".to_owned());
        due.expect(old.0, old.1.clone());
        due.expect(datetime!(2026-07-01 0:06 UTC), "g".to_owned());
        due.looked_at(&[old]);
        assert!(due.due(datetime!(2026-07-01 0:05 UTC)).is_empty());
        assert_eq!(due.due(datetime!(2026-07-01 0:06 UTC)).len(), 1);
    }
}
