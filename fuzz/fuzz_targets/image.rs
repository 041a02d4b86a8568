#![no_main]
//! Fuzz target: see `layerlens_fuzz::image`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| layerlens_fuzz::image(data));
