//! The filter languages of the three services (and the registry's
//! `order_by`) on any text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    jilin_registry::fuzzing::filter(text);
    jilin_indicators::fuzzing::filter(text);
    jilin_risk::fuzzing::filter(text);
});
