//! Harnesses for `cargo fuzz` (feature `fuzzing`; not a stable API).
//!
//! Each harness feeds arbitrary bytes through one stage of the request pipeline
//! and asserts the invariants that stage promises, not only that it returns.
//! They live here, one file per stage, and production modules carry no fuzz
//! code; the fuzz targets in `fuzz/` are one line each, calling these. Unit
//! tests compile this module too (the pipeline seeds are tested without any
//! feature).

mod authorization;
mod claims;
mod dpop_proof;
mod jwks;
mod parse_token;
mod pipeline;

pub use authorization::authorization;
pub use claims::claims;
pub use dpop_proof::dpop_proof;
pub use jwks::jwks;
pub use parse_token::parse_token;
pub use pipeline::pipeline;
