//! The DPoP proof parser: raw proofs, and headers and claims signed with a fixed key.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bearer_guard::fuzzing::dpop_proof(data));
