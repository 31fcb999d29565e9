//! # bearer-guard
//!
//! An OAuth 2.0 resource server for tower and axum. On every request the
//! [`BearerAuthLayer`] takes the bearer token from the `Authorization` header
//! (RFC 6750), finds its key in the issuer's JWKS (discovered, fetched and
//! cached), verifies the signature with the key's own algorithm, checks `iss`,
//! `aud`, `exp`/`nbf` and `typ`, and stores the result, an [`Authenticated`],
//! in the request extensions. Per-route guards ([`require`]) check scopes and
//! app roles; extractors ([`Claims<T>`]) hand handlers typed claims. A token
//! seen before is answered from a bounded cache of verified tokens (a hash and
//! a lookup instead of a signature check), its `exp`/`nbf` still checked on
//! every request and dropped once its key leaves the key set
//! ([`Builder::token_cache_bytes`]).
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use bearer_guard::{BearerAuthLayer, Claims, Requirement, TypPolicy, require};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let auth = BearerAuthLayer::builder()
//!     .issuer("https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/v2.0")
//!     .audience("api://notes")
//!     .typ(TypPolicy::Jwt) // Entra ID does not use RFC 9068 `at+jwt`
//!     .build()?;
//! let read = Requirement::scope("notes.read").or(Requirement::role("Notes.Read.All"));
//! let app: Router = Router::new()
//!     .route("/notes", get(|c: Claims<serde_json::Value>| async move { c.to_string() }))
//!     .route_layer(require(read)) // route_layer: unknown paths stay 404
//!     .layer(auth);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app).await?;
//! # Ok(())
//! # }
//! ```
//!
//! Rejections follow RFC 6750 §3 and say nothing more than its error code: no
//! token gives 401 with a bare `WWW-Authenticate: Bearer`; a bad token 401
//! `invalid_token`; a malformed request 400 `invalid_request`; a valid token
//! lacking permission 403 `insufficient_scope` with the `scope` needed. The
//! precise reason is logged with `tracing`.
//!
//! ## Features
//! - `axum` (default): the extractors and `IntoResponse` for [`Error`].
//! - `aws-lc-rs` (default) or `rust-crypto`: the crypto backend of
//!   `jsonwebtoken`. Exactly one must be enabled.
//! - `testing`: `testing::TestIssuer`, a local issuer for tests.
//! - `metrics`: counters and gauges through the `metrics` facade ([`metrics`]).

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    warn(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

#[cfg(all(feature = "aws-lc-rs", feature = "rust-crypto"))]
compile_error!(
    "bearer-guard: the features `aws-lc-rs` and `rust-crypto` are both enabled; enable exactly one \
     crypto backend (for rust-crypto: default-features = false, features = [\"rust-crypto\", \"axum\"])"
);
#[cfg(not(any(feature = "aws-lc-rs", feature = "rust-crypto")))]
compile_error!(
    "bearer-guard: no crypto backend; enable exactly one of the features `aws-lc-rs` (default) or `rust-crypto`"
);

#[cfg(feature = "axum")]
mod axum;
mod claim_map;
mod claims;
mod config;
mod error;
mod extract;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod issuer;
mod json;
mod jws;
pub mod keys;
mod layer;
pub mod metrics;
pub mod profiles;
mod require;
pub mod response;
mod service;
#[cfg(feature = "testing")]
pub mod testing;
mod token_cache;
mod validator;

#[cfg(feature = "axum")]
pub use crate::axum::Claims;
pub use claim_map::ClaimMap;
pub use claims::{Authenticated, Permissions, RegisteredClaims};
pub use config::{Builder, TypPolicy};
pub use error::{Challenge, ConfigError, Error};
pub use extract::{bearer_token, parse_credentials};
pub use issuer::{Issuer, TENANT_PLACEHOLDER};
pub use jsonwebtoken::Algorithm;
pub use jws::DEFAULT_ALGORITHMS;
pub use layer::BearerAuthLayer;
pub use require::{Require, RequireLayer, Requirement, require};
pub use response::{DefaultRejection, OnRejection};
pub use service::{BearerAuth, ResponseFuture};
pub use validator::Validator;

/// The README's usage example, compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
