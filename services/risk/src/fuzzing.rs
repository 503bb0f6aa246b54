//! Entry points for the fuzz targets in `fuzz/`: the alert filter, the
//! validation of every request (routes' regular expressions included), and the decoding of the events the risk
//! service consumes. Whatever the input, each returns; a panic or a stack
//! overflow is a bug the fuzzer reports.

use jilin_proto::if_decodes;

use crate::delivery::request as delivery_request;
use crate::domain::filter::AlertFilter;
use crate::domain::{inhibition, receiver, routing};
use crate::{ingest, request};

/// An alert filter.
pub fn filter(text: &str) {
    let _ = AlertFilter::parse(text);
}

/// One request of the kind `kind` picks, decoded from `bytes` as a client
/// would send it, then validated.
pub fn request(kind: u8, bytes: &[u8]) {
    match kind % 10 {
        0 => if_decodes(bytes, |r| drop(request::create_rule(&r))),
        1 => if_decodes(bytes, |r| drop(request::update_rule(&r))),
        2 => if_decodes(bytes, |r| drop(request::list_alerts(&r))),
        3 => if_decodes(bytes, |r| drop(request::acknowledge(&r))),
        4 => if_decodes(bytes, |r| {
            drop(request::create_silence(&r, "users/fuzzer".into()))
        }),
        5 => if_decodes(bytes, |r| drop(request::watch_alerts(&r))),
        6 => if_decodes(bytes, |r| {
            if let Ok(receiver) = delivery_request::create_receiver(&r, "users/fuzzer") {
                drop(receiver::validate_receiver(&receiver));
            }
        }),
        7 => if_decodes(bytes, |r| {
            if let Ok(route) = delivery_request::create_route(&r, "users/fuzzer") {
                drop(routing::validate_route(&route));
            }
        }),
        8 => if_decodes(bytes, |r| {
            if let Ok(inhibition) = delivery_request::create_inhibition(&r, "users/fuzzer") {
                drop(inhibition::validate(&inhibition));
            }
        }),
        _ => if_decodes(bytes, |r| drop(delivery_request::list_deliveries(&r))),
    }
}

/// An event of the type `kind` picks (the registry's four, the indicator
/// service's, or an unknown one) with payload `bytes`, decoded.
pub fn event(kind: u8, bytes: &[u8]) {
    const REGISTRY: [&str; 4] = [
        "jilin.events.v1.ProjectCreated",
        "jilin.events.v1.ProjectUpdated",
        "jilin.events.v1.ProjectTransitioned",
        "jilin.events.v1.ProgressReported",
    ];
    match usize::from(kind) % 6 {
        index @ 0..=3 => {
            let _ = ingest::decode_registry(REGISTRY[index], bytes);
        }
        4 => {
            let _ = ingest::decode_indicator("jilin.events.v1.IndicatorValueChanged", bytes);
        }
        _ => {
            let _ = ingest::decode_indicator("jilin.events.v1.Unknown", bytes);
        }
    }
}

/// Inputs that once broke a parser, and the fuzzers' finds: each must
/// return.
#[cfg(test)]
mod regressions {
    use super::*;

    fn run_text(text: &str) {
        filter(text);
        for kind in 0..6 {
            event(kind, text.as_bytes());
        }
    }

    #[test]
    fn known_hostile_inputs_return() {
        jilin_testkit::hostile::feed(run_text, request);
    }
}
