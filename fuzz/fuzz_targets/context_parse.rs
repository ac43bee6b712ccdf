//! Fuzz target `context_parse`: see `kms_envelope_fuzz::check_context` for the properties checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(
    init: {
        kms_envelope_fuzz::seed_mode();
    },
    |data: &[u8]| {
        kms_envelope_fuzz::check_context(data);
    }
);
