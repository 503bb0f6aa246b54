//! Property: for any generated registry history, fed in any order with
//! duplicates, the ledger's cube answers every built-in indicator at every
//! granularity and breakdown exactly as a naive recomputation from the
//! final raw reports does, and two different orders give identical state.

mod common;

use common::portfolio::{Event, Naive, Portfolio, shuffle_with_duplicates};
use jilin_domain::Period;
use jilin_indicators::domain::builtins::builtins;
use jilin_indicators::domain::cube::CellSource;
use jilin_indicators::domain::definition::IndicatorSet;
use jilin_indicators::domain::query::{self, Granularity, GroupBy, QuerySpec};
use jilin_indicators::domain::replay::InMemory;
use proptest::prelude::*;

fn replay(events: &[Event]) -> InMemory {
    let mut memory = InMemory::default();
    for event in events {
        memory
            .apply(&event.id, &event.fact)
            .expect("generated facts apply");
    }
    memory
}

const GRANULARITIES: [Granularity; 3] =
    [Granularity::Month, Granularity::Quarter, Granularity::Year];
const GROUP_BYS: [GroupBy; 4] = [
    GroupBy::None,
    GroupBy::Region,
    GroupBy::Sector,
    GroupBy::Group,
];

/// Every built-in at one granularity and breakdown, from two sources.
fn assert_same_answers(
    expected: &dyn CellSource,
    actual: &dyn CellSource,
    granularity: Granularity,
    group_by: GroupBy,
) {
    let (indicators, _) = IndicatorSet::compile(builtins(time::OffsetDateTime::UNIX_EPOCH));
    let spec = QuerySpec {
        start: Period::parse("2024-01").unwrap(),
        end: Period::parse("2025-12").unwrap(),
        granularity,
        group_by,
        filter: Vec::new(),
    };
    for indicator in indicators.iter() {
        let want = query::run(expected, &indicators, indicator, &spec);
        let got = query::run(actual, &indicators, indicator, &spec);
        assert_eq!(
            got, want,
            "{} by {group_by:?} per {granularity:?}",
            indicator.definition.id
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Each case: a new history, a new order, one granularity and breakdown;
    /// the cube summed from the entries left equals the cube kept by deltas.
    #[test]
    fn any_order_with_duplicates_matches_the_naive_recomputation(
        seed in any::<u64>(),
        order in any::<u64>(),
        granularity in proptest::sample::select(GRANULARITIES.to_vec()),
        group_by in proptest::sample::select(GROUP_BYS.to_vec()),
    ) {
        let portfolio = Portfolio::generate(seed, 14, 24);
        let events = portfolio.events();
        let in_order = replay(&events);
        let shuffled = replay(&shuffle_with_duplicates(&events, order));
        prop_assert_eq!(&shuffled.cube, &in_order.cube);
        prop_assert_eq!(&shuffled.projects, &in_order.projects);
        // What the service computes at start from its stored entries.
        prop_assert_eq!(&shuffled.contributions(), &shuffled.cube);
        assert_same_answers(&Naive::new(&portfolio), &shuffled.cube, granularity, group_by);
    }
}

#[test]
fn every_granularity_and_breakdown_matches_for_one_history() {
    let portfolio = Portfolio::generate(2024, 14, 24);
    let memory = replay(&shuffle_with_duplicates(&portfolio.events(), 3));
    for granularity in GRANULARITIES {
        for group_by in GROUP_BYS {
            assert_same_answers(&Naive::new(&portfolio), &memory.cube, granularity, group_by);
        }
    }
}

#[test]
fn a_filtered_query_matches_too() {
    let portfolio = Portfolio::generate(7, 20, 24);
    let memory = replay(&shuffle_with_duplicates(&portfolio.events(), 11));
    let (indicators, _) = IndicatorSet::compile(builtins(time::OffsetDateTime::UNIX_EPOCH));
    let filter =
        jilin_indicators::domain::parser::parse_filter("changjitu=\"true\", group!=\"services\"")
            .unwrap();
    for indicator in indicators.iter() {
        let spec = QuerySpec {
            start: Period::parse("2024-01").unwrap(),
            end: Period::parse("2025-12").unwrap(),
            granularity: Granularity::Quarter,
            group_by: GroupBy::Sector,
            filter: filter.clone(),
        };
        assert_eq!(
            query::run(&memory.cube, &indicators, indicator, &spec),
            query::run(&Naive::new(&portfolio), &indicators, indicator, &spec),
            "{}",
            indicator.definition.id
        );
    }
}
