//! cargo-fuzz target: [`portcullis_fuzz_targets::query_strings`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| portcullis_fuzz_targets::query_strings(data));
