//! Stage 1 and 2 of a request: the token itself. Taking it from the
//! `Authorization` header ([`extract`]), splitting the compact JWS and checking
//! its header ([`jws`]), and reading its claims ([`claims`], through the
//! borrowed JSON view of [`json`] and an issuer's [`claim_map`]), and
//! the claims as the caller's own types, deserialized once ([`typed`]).
//!
//! Nothing here knows about keys, issuers' key sets or the network; every
//! module here imports only from this stage and from `crate::error`.

pub(crate) mod algorithm;
pub(crate) mod claim_map;
pub(crate) mod claims;
pub(crate) mod extract;
pub(crate) mod json;
pub(crate) mod jws;
pub(crate) mod permissions;
pub(crate) mod sources;
pub(crate) mod typed;
