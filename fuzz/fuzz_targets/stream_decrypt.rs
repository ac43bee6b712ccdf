//! Fuzz target `stream_decrypt`: see `kms_envelope_fuzz::check_stream` for the properties checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(
    init: {
        kms_envelope_fuzz::seed_mode();
    },
    |data: &[u8]| {
        kms_envelope_fuzz::check_stream(data);
    }
);
