#![no_main]
//! Fuzz target: see `layerlens_fuzz::matrix`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| layerlens_fuzz::matrix(data));
