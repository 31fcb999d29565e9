//! Claims, scopes and roles, and the registered-claim checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bearer_guard::fuzzing::claims(data));
