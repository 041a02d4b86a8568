#![no_main]
//! Fuzz target: see `layerlens_fuzz::session`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| layerlens_fuzz::session(data));
