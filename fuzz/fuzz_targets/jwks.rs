//! JWKS parsing and key binding.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bearer_guard::fuzzing::jwks(data));
