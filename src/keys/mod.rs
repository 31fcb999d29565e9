//! Stage 3 of a request: the issuer's signing keys. One JWK becomes one key
//! bound to one algorithm ([`jwk`]); key sets and discovery documents are
//! fetched within bounds ([`fetch`]) and held per issuer in a refreshing cache
//! ([`cache`]).
//!
//! Imports only from `crate::token` (algorithms, JSON shape checks), the clock
//! and `crate::error`.

pub(crate) mod cache;
pub(crate) mod fetch;
pub(crate) mod jwk;
