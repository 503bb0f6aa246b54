//! How many alerts are held in each state and severity, for the
//! `jilin_alerts` metric: counted from the store once, then kept by the
//! moves each committed write reports, so that a scrape never reads the
//! alerts (at 100,000 projects that read took seconds).

use std::collections::BTreeMap;

use super::alert::{Alert, State};
use super::rules::Severity;

/// A state and a severity: what the tally counts by.
pub type Kind = (State, Severity);

const STATES: [State; 3] = [State::Pending, State::Firing, State::Resolved];
const SEVERITIES: [Severity; 2] = [Severity::Warning, Severity::Critical];

/// One alert written: what it was (`None` when it is new) and what it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Move {
    pub from: Option<Kind>,
    pub to: Kind,
}

impl Move {
    pub fn of(before: Option<&Alert>, after: &Alert) -> Self {
        Move {
            from: before.map(kind_of),
            to: kind_of(after),
        }
    }
}

fn kind_of(alert: &Alert) -> Kind {
    (alert.state, alert.severity)
}

/// Alerts by state and severity.
///
/// Moves may be applied in any order: two writes of one alert commit in
/// order, but the moves they report may arrive the other way round, and
/// `A → B` then `B → C` sums to `A → C` either way. A count may therefore
/// dip below zero for a moment, never once every move has arrived.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlertTally(BTreeMap<Kind, i64>);

impl AlertTally {
    /// Counts `alert`, as read from the store.
    pub fn add(&mut self, alert: &Alert) {
        *self.0.entry(kind_of(alert)).or_default() += 1;
    }

    pub fn apply(&mut self, moves: &[Move]) {
        for Move { from, to } in moves {
            if let Some(from) = from {
                *self.0.entry(*from).or_default() -= 1;
            }
            *self.0.entry(*to).or_default() += 1;
        }
    }

    /// Every state and severity with its count, zeros included, so that
    /// no series of the metric comes and goes.
    pub fn counts(&self) -> impl Iterator<Item = (Kind, i64)> + '_ {
        STATES.iter().flat_map(move |&state| {
            SEVERITIES.iter().map(move |&severity| {
                let kind = (state, severity);
                (kind, self.0.get(&kind).copied().unwrap_or_default())
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn kind() -> impl Strategy<Value = Kind> {
        (0..STATES.len(), 0..SEVERITIES.len()).prop_map(|(s, v)| (STATES[s], SEVERITIES[v]))
    }

    /// Recounting after every write, the slow way.
    fn recount(held: &BTreeMap<usize, Kind>) -> BTreeMap<Kind, i64> {
        let mut counts = BTreeMap::new();
        for kind in held.values() {
            *counts.entry(*kind).or_default() += 1;
        }
        counts
    }

    proptest! {
        #[test]
        fn moves_in_any_order_keep_the_count_of_a_recount(
            writes in prop::collection::vec((0..8usize, kind()), 0..60),
            shuffle in any::<u64>(),
        ) {
            let mut held: BTreeMap<usize, Kind> = BTreeMap::new();
            let mut moves = Vec::new();
            for (alert, kind) in writes {
                moves.push(Move { from: held.insert(alert, kind), to: kind });
            }
            // Arrival order is not commit order.
            let mut state = shuffle;
            for i in (1..moves.len()).rev() {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                moves.swap(i, (state >> 33) as usize % (i + 1));
            }
            let mut tally = AlertTally::default();
            tally.apply(&moves);
            let expected = recount(&held);
            for (kind, count) in tally.counts() {
                prop_assert_eq!(count, expected.get(&kind).copied().unwrap_or_default());
            }
        }
    }

    #[test]
    fn every_state_and_severity_is_counted_even_at_zero() {
        let mut tally = AlertTally::default();
        tally.apply(&[Move {
            from: None,
            to: (State::Firing, Severity::Critical),
        }]);
        let counts: Vec<_> = tally.counts().collect();
        assert_eq!(counts.len(), 6);
        assert!(counts.contains(&((State::Firing, Severity::Critical), 1)));
        assert!(counts.contains(&((State::Pending, Severity::Warning), 0)));
    }
}
