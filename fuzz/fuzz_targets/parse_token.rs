//! The token parser: Authorization value -> JWS parts -> checked claims.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bearer_guard::fuzzing::parse_token(data));
