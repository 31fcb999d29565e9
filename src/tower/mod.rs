//! Stages 6 to 8 of a request, the service side: the [`layer`] and the
//! [`service`] it wraps around yours (the token is validated and handed over
//! in the request extensions), per-route guards ([`require`], with
//! [`step_up`] for RFC 9470), axum
//! extractors (`axum`), the RFC 9728 document for any tower stack
//! ([`metadata`]), the one place a rejection becomes a response
//! ([`response`]), and its gRPC form ([`grpc`]).
//!
//! The top of the import graph: only `crate::config` (the builder) and the
//! crate root import from here.

#[cfg(feature = "axum")]
pub(crate) mod axum;
pub(crate) mod grpc;
pub(crate) mod layer;
pub(crate) mod metadata;
pub(crate) mod require;
pub(crate) mod response;
pub(crate) mod service;
pub(crate) mod step_up;
