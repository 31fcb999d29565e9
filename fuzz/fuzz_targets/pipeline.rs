//! The whole pipeline against a fixed key set, offline.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bearer_guard::fuzzing::pipeline(data));
