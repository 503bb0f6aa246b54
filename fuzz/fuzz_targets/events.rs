//! Events as the consumers receive them: any payload under any event type.
//! The indicator service decodes two and applies them to one ledger; the
//! risk service decodes one.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [a, b, split, payload @ ..] = data else {
        return;
    };
    jilin_indicators::fuzzing::events([*a, *b], usize::from(*split), payload);
    jilin_risk::fuzzing::event(*a, payload);
});
