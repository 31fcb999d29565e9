//! Stages 4 and 5 of a request: the per-token pipeline ([`validator`]), the
//! signature check ([`signature`]) and the verified-token cache
//! ([`token_cache`]) that lets a token seen before skip both.
//!
//! Imports from `crate::issuer`, `crate::keys`, `crate::token` and the clock;
//! nothing here knows about HTTP services.

pub(crate) mod signature;
pub(crate) mod token_cache;
pub(crate) mod validator;
