//! The Authorization header parser.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bearer_guard::fuzzing::authorization(data));
