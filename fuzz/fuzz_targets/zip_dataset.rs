#![no_main]
//! Fuzz target: see `layerlens_fuzz::zip_dataset`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| layerlens_fuzz::zip_dataset(data));
