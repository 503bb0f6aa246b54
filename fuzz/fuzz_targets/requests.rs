//! Every request of the three services, decoded from any bytes as a
//! client would send them (the first byte picks the service and the
//! method), then validated.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    match pick % 3 {
        0 => jilin_registry::fuzzing::request(pick / 3, bytes),
        1 => jilin_indicators::fuzzing::request(pick / 3, bytes),
        _ => jilin_risk::fuzzing::request(pick / 3, bytes),
    }
});
