//! Entry points for the fuzz targets in `fuzz/`: the expression language
//! (parsed, then evaluated and explained over a small cube with the
//! built-in catalog), query filters, the validation of every request, and
//! the decoding and applying of registry events. Whatever the input, each
//! returns; a panic or a stack overflow is a bug the fuzzer reports.

use jilin_domain::Period;
use jilin_proto::if_decodes;
use time::macros::datetime;

use crate::domain::builtins::builtins;
use crate::domain::cube::{Cube, Deltas};
use crate::domain::definition::IndicatorSet;
use crate::domain::eval::{Evaluator, Scope};
use crate::domain::labels::{Combo, Measure};
use crate::domain::parser::{parse_expression, parse_filter};
use crate::domain::replay::InMemory;
use crate::{ingest, request};

/// A few months of one sector and region, every measure filled.
fn small_cube() -> Cube {
    let mut deltas = Deltas::new();
    let combo = Combo::of("automobile", "220100").expect("a catalog combination");
    for month in 1..=12 {
        let period = Period::new(2025, month).expect("a month");
        for (slot, _) in Measure::ALL.iter().enumerate() {
            deltas.add(period, combo, slot, i64::from(month) * 100 + slot as i64);
        }
    }
    let mut cube = Cube::new();
    cube.apply(&deltas);
    cube
}

/// An expression parsed and, if valid, evaluated and explained.
pub fn expression(text: &str) {
    let Ok(expr) = parse_expression(text) else {
        return;
    };
    let _ = expr.to_string();
    let (indicators, _) = IndicatorSet::compile(builtins(datetime!(2025-01-01 0:00 UTC)));
    let cube = small_cube();
    let evaluator = Evaluator {
        cells: &cube,
        indicators: &indicators,
    };
    for (first, last) in [((2025, 1), (2025, 12)), ((2025, 6), (2025, 6))] {
        let scope = Scope {
            first: Period::new(first.0, first.1).expect("a month"),
            last: Period::new(last.0, last.1).expect("a month"),
            matchers: Vec::new(),
        };
        let _ = evaluator.value(&expr, &scope);
        let _ = evaluator.explain(&expr, &scope);
    }
}

/// A query filter.
pub fn filter(text: &str) {
    let _ = parse_filter(text);
}

/// One request of the kind `kind` picks, decoded from `bytes` as a client
/// would send it, then validated.
pub fn request(kind: u8, bytes: &[u8]) {
    match kind % 6 {
        0 => if_decodes(bytes, |r| drop(request::create_indicator(&r))),
        1 => if_decodes(bytes, |r| drop(request::update_indicator(&r))),
        2 => if_decodes(bytes, |r| drop(request::delete_indicator(&r))),
        3 => if_decodes(bytes, |r| drop(request::query_indicator(&r))),
        4 => if_decodes(bytes, |r| drop(request::explain(&r))),
        _ => if_decodes(bytes, |r| drop(request::watched(&r))),
    }
}

/// The registry's event types, and one no one publishes.
const EVENT_TYPES: [&str; 5] = [
    "jilin.events.v1.ProjectCreated",
    "jilin.events.v1.ProjectUpdated",
    "jilin.events.v1.ProjectTransitioned",
    "jilin.events.v1.ProgressReported",
    "jilin.events.v1.Unknown",
];

/// Registry events of the types `kinds` pick, with the payloads `bytes`
/// holds (split at `split`), decoded and applied in turn to one ledger.
pub fn events(kinds: [u8; 2], split: usize, bytes: &[u8]) {
    let (first, second) = bytes.split_at(split.min(bytes.len()));
    let mut ledger = InMemory::default();
    for (index, (kind, payload)) in kinds.into_iter().zip([first, second]).enumerate() {
        let event_type = EVENT_TYPES[usize::from(kind) % EVENT_TYPES.len()];
        if let Ok(fact) = ingest::decode(event_type, payload) {
            let _ = ledger.apply(&format!("event-{index}"), &fact);
        }
    }
}

/// Inputs that once broke a parser, and the fuzzers' finds: each must
/// return.
#[cfg(test)]
mod regressions {
    use super::*;

    fn run_text(text: &str) {
        expression(text);
        filter(text);
        events([0, 3], text.len() / 2, text.as_bytes());
    }

    #[test]
    fn known_hostile_inputs_return() {
        jilin_testkit::hostile::feed(run_text, request);
    }
}
