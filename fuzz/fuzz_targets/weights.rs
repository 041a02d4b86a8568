#![no_main]
//! Fuzz target: see `layerlens_fuzz::weights`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| layerlens_fuzz::weights(data));
