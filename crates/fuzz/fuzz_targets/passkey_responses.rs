//! cargo-fuzz target: [`portcullis_fuzz_targets::passkey_responses`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| portcullis_fuzz_targets::passkey_responses(data));
