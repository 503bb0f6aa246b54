//! Indicator expressions on any text: parsed, and when valid, evaluated
//! and explained over a small cube with the built-in catalog.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    jilin_indicators::fuzzing::expression(text);
});
