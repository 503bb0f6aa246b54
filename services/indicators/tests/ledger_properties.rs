//! Property: for any generated registry history, fed in any order with
//! duplicates, the ledger's cube answers every built-in indicator at every
//! granularity and breakdown exactly as a naive recomputation from the
//! final raw reports does, and two different orders give identical state.

mod common;

use std::collections::{HashMap, HashSet};

use common::portfolio::{Event, Naive, Portfolio, shuffle_with_duplicates};
use jilin_domain::Period;
use jilin_indicators::domain::builtins::builtins;
use jilin_indicators::domain::cube::{CellSource, Cube};
use jilin_indicators::domain::definition::IndicatorSet;
use jilin_indicators::domain::ledger::{self, Known, LedgerError, ProjectFacts, ReportFacts};
use jilin_indicators::domain::query::{self, Granularity, GroupBy, QuerySpec};
use proptest::prelude::*;

/// The ledger kept in memory, applied exactly as the service applies it.
#[derive(Default)]
struct Memory {
    applied: HashSet<String>,
    projects: HashMap<String, ProjectFacts>,
    reports: HashMap<(String, Period), ReportFacts>,
    cube: Cube,
}

impl Known for Memory {
    type Error = LedgerError;

    fn project(&self, id: &str) -> Result<Option<ProjectFacts>, LedgerError> {
        Ok(self.projects.get(id).cloned())
    }

    fn report(&self, id: &str, period: Period) -> Result<Option<ReportFacts>, LedgerError> {
        Ok(self.reports.get(&(id.to_owned(), period)).copied())
    }

    fn reports_of(&self, id: &str) -> Result<Vec<(Period, ReportFacts)>, LedgerError> {
        Ok(self
            .reports
            .iter()
            .filter(|((project, _), _)| project == id)
            .map(|((_, period), report)| (*period, *report))
            .collect())
    }
}

impl Memory {
    fn apply(&mut self, event: &Event) {
        if !self.applied.insert(event.id.clone()) {
            return;
        }
        let outcome = ledger::apply_fact(self, &event.fact).expect("generated facts apply");
        let id = event.fact.project().id.clone();
        if let Some(project) = outcome.project {
            self.projects.insert(id.clone(), project);
        }
        if let Some((period, report)) = outcome.report {
            self.reports.insert((id, period), report);
        }
        self.cube.apply(&outcome.deltas);
    }
}

fn replay(events: &[Event]) -> Memory {
    let mut memory = Memory::default();
    for event in events {
        memory.apply(event);
    }
    memory
}

/// Every built-in, at every granularity and breakdown, from two sources.
fn assert_same_answers(expected: &dyn CellSource, actual: &dyn CellSource) {
    let (indicators, _) = IndicatorSet::compile(builtins(time::OffsetDateTime::UNIX_EPOCH));
    for indicator in indicators.iter() {
        for granularity in [Granularity::Month, Granularity::Quarter, Granularity::Year] {
            for group_by in [
                GroupBy::None,
                GroupBy::Region,
                GroupBy::Sector,
                GroupBy::Group,
            ] {
                let spec = QuerySpec {
                    start: Period::parse("2024-01").unwrap(),
                    end: Period::parse("2025-12").unwrap(),
                    granularity,
                    group_by,
                    filter: Vec::new(),
                };
                let want = query::run(expected, &indicators, indicator, &spec);
                let got = query::run(actual, &indicators, indicator, &spec);
                assert_eq!(
                    got, want,
                    "{} by {group_by:?} per {granularity:?}",
                    indicator.definition.id
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    #[test]
    fn any_order_with_duplicates_matches_the_naive_recomputation(seed in any::<u64>(), order in any::<u64>()) {
        let portfolio = Portfolio::generate(seed, 14, 24);
        let events = portfolio.events();
        let in_order = replay(&events);
        let shuffled = replay(&shuffle_with_duplicates(&events, order));
        prop_assert_eq!(&shuffled.cube, &in_order.cube);
        prop_assert_eq!(&shuffled.projects, &in_order.projects);
        assert_same_answers(&Naive::new(&portfolio), &shuffled.cube);
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
