//! # bearer-guard
//!
//! An OAuth 2.0 resource server for tower and axum. On every request the
//! [`BearerAuthLayer`] takes the bearer token from the `Authorization` header
//! (RFC 6750), finds its key in the issuer's JWKS (discovered, fetched and
//! cached), verifies the signature with the key's own algorithm, checks `iss`,
//! `aud`, `exp`/`nbf` and `typ`, and stores the result, an [`Authenticated`],
//! in the request extensions. Per-route guards ([`require`]) check scopes and
//! app roles; extractors ([`Claims<T>`]) hand handlers typed claims. A token
//! seen before is answered from a bounded cache of verified tokens (one lookup
//! instead of a signature check), its `exp`/`nbf` still checked on
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
//!     .route("/notes", get(|Claims(c): Claims<serde_json::Value>| async move { c.to_string() }))
//!     .route_layer(require(read))
//!     // route_layer, not layer: a request to an unknown path stays a 404.
//!     .route_layer(auth);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app).await?;
//! # Ok(())
//! # }
//! ```
//!
//! Rejections follow RFC 6750 §3 and say nothing more than its error code: no
//! token gives 401 with a bare `WWW-Authenticate: Bearer`; a bad token 401
//! `invalid_token`; a malformed request 400 `invalid_request`; a valid token
//! lacking permission 403 `insufficient_scope` with the `scope` needed; a
//! valid token whose sign-in falls short of a route's [`StepUp`] 401
//! `insufficient_user_authentication` (RFC 9470). With a
//! [`resource`](Builder::resource) identifier, every challenge also names the
//! RFC 9728 metadata document, which the layer serves. The precise reason is
//! logged with `tracing`.
//!
//! ## How a request flows
//!
//! Each stage is one module; each imports only from the stages below it, so
//! the files read top-down and no two import each other
//! (`python3 ../shared/tools/import_cycles.py src` lists any ring).
//!
//! 1. `tower::service`: [`BearerAuth`], made by [`BearerAuthLayer`], takes the
//!    request and asks the validator.
//! 2. `token::extract`: the `Authorization` header gives the token
//!    (RFC 6750 §2.1); no header is a bare 401, a malformed one 400. On
//!    routes whose layer allows it, `token::sources` takes it from the
//!    `access_token` query parameter or a cookie instead (one method per
//!    request).
//! 3. `validate::token_cache`: a token verified before is answered from
//!    memory, its `exp`/`nbf` and its key re-checked; skip to 8.
//! 4. `token::jws`: the compact JWS is split and its header checked (`alg`
//!    against [`Algorithm`]s allowed, `crit`, `typ`, `kid`); `token::claims`
//!    parses the claims once (`token::json`).
//! 5. `issuer::name`: the unverified `iss` (and `tid`) picks a trusted
//!    issuer, compiled at build time by `issuer::trusted` from an [`Issuer`],
//!    before anything can reach the network.
//! 6. `keys::cache`: the `kid` finds its key (`keys::jwk` bound it to one
//!    algorithm when the set loaded; `keys::fetch` fetched it, within bounds).
//! 7. `validate::signature` checks the signature; `token::claims` checks
//!    `iss`, `aud`, `exp`, `nbf` and reads scopes and roles
//!    (`token::claim_map`). `validate::validator` runs 3 to 7 in this order.
//! 8. The [`Authenticated`] result goes into the request extensions; route
//!    guards (`tower::require`, [`Requirement`]) and extractors
//!    (`tower::axum`, [`Claims`]) read it there.
//! 9. `tower::response`: every rejection is an [`Error`], logged once with its
//!    precise reason and answered as RFC 6750 says (for gRPC, `tower::grpc`'s
//!    [`GrpcRejection`] answers it as a gRPC status).
//!
//! Beside the flow: `error` (the bottom: every stage's error type), `clock`
//! (the one clock every check reads), `metrics`, `resource` (what the API
//! tells clients about itself, RFC 9728: the metadata document and the
//! `resource_metadata` challenge parameter), `config` (the
//! [`Builder`], at the top: it compiles issuers and builds the validator and
//! the layer; nothing in the request path imports it), and `settings` (feature
//! `config`, above `config`: the configuration read from files and the
//! environment, turned into a `Builder`). Above it, `cli` (feature `cli`):
//! the command-line tool, which builds a validator with the builder and
//! reads the key fetcher and JWK binding directly; nothing imports it.
//!
//! ## Features
//! - `axum` (default): the extractors and `IntoResponse` for [`Error`].
//! - `aws-lc-rs` (default) or `rust-crypto`: the crypto backend. Exactly one
//!   must be enabled.
//! - `testing`: `testing::TestIssuer`, a local issuer for tests.
//! - `fuzzing`: the harnesses `cargo fuzz` runs (`fuzzing`); not a stable API.
//! - `metrics`: counters and gauges through the `metrics` facade ([`metrics`]).
//! - `redis`: `RedisReplayStore`, a DPoP replay store in Redis shared by the
//!   replicas of an API.
//! - `webpki-roots`: trust Mozilla's roots compiled into the binary instead
//!   of the platform's certificate store (slim containers).
//! - `system-proxy`: also the operating system's proxy settings (the
//!   environment's `HTTPS_PROXY`/`NO_PROXY` are honoured without it).
//! - `config`: `Settings`, the layer's configuration from TOML or JSON files
//!   (a .NET `appsettings.json` `AzureAd` section included) and environment
//!   variables.
//! - `cli`: the command-line tool `bearer-guard` (`inspect`, `verify`,
//!   `keys`), whose code is the hidden module `cli`; not a stable API.

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

#[cfg(feature = "cli")]
#[doc(hidden)]
pub mod cli;
mod clock;
mod config;
mod digest;
mod dpop;
mod error;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
mod introspection;
mod issuer;
mod keys;
pub mod metrics;
mod mtls;
mod resource;
#[cfg(feature = "config")]
mod settings;
mod signing;
#[cfg(feature = "testing")]
pub mod testing;
mod token;
mod tower;
mod validate;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::Builder;
pub use dpop::{Dpop, ReplayFuture, ReplayStore, ReplayStoreError};
#[cfg(feature = "redis")]
pub use dpop::{RedisReplayStore, RedisReplayStoreBuilder};
pub use error::{Challenge, ConfigError, Error, HttpClientError};
pub use introspection::{ClientAssertionKey, Introspection, IntrospectionEndpoint};
pub use issuer::typ::TypPolicy;
pub use issuer::{Issuer, TENANT_PLACEHOLDER};
pub use mtls::{CertificateBinding, ClientCertificate, ProxyHeader};
pub use resource::{MetadataSigner, ResourceMetadata};
#[cfg(feature = "config")]
pub use settings::{Settings, SettingsLoader};
pub use token::algorithm::{Algorithm, DEFAULT_ALGORITHMS};
pub use token::claims::{Authenticated, RegisteredClaims};
pub use token::extract::{bearer_token, parse_credentials};
pub use token::permissions::Permissions;
#[cfg(feature = "axum")]
pub use tower::axum::{Claims, ExtractRejection};
pub use tower::grpc::GrpcRejection;
pub use tower::layer::BearerAuthLayer;
pub use tower::metadata::{ResourceMetadataLayer, ServeResourceMetadata};
pub use tower::require::{
    ClaimPath, ClaimRequirement, ClaimValue, Predicate, Require, RequireFuture, RequireLayer,
    Requirement, require,
};
pub use tower::response::{DefaultRejection, OnRejection, rejection_parts};
pub use tower::service::{BearerAuth, ResponseFuture};
pub use tower::step_up::StepUp;
pub use validate::validator::Validator;

/// The README's usage example, compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
