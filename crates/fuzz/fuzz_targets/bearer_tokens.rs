//! cargo-fuzz target: [`portcullis_fuzz_targets::bearer_tokens`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| portcullis_fuzz_targets::bearer_tokens(data));
