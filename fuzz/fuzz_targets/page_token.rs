//! The registry's page tokens on any text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    jilin_registry::fuzzing::page_token(text);
});
