//! The integration tests, as one binary: one link and one process for all of
//! them instead of one per file. Each module is one former `tests/*.rs` suite;
//! `support` holds every helper they share (the notes app, one-shot requests,
//! the expected outcomes, the fault-injecting JWKS server, DER for the attack
//! tables, the bounded polling helper).
//!
//! Two suites stay binaries of their own:
//! - `tests/interop.rs` has its own `main` (`harness = false`), so that the
//!   line saying it was skipped (no `node` on PATH) is printed, not captured;
//! - `tests/metrics.rs` installs a process-global metrics recorder and asserts
//!   exact counts, which any other test running in the same process would
//!   pollute.
//!
//! Both reach the shared helpers with `#[path = "it/support/mod.rs"]`.

mod support;

mod attacks;
mod authorization;
mod cli;
mod dpop;
mod fault_injection;
mod grpc;
mod http_client;
mod introspection;
mod keys;
mod mtls;
mod notes_api_cli;
mod providers;
mod requirements;
mod resource_metadata;
mod settings;
mod step_up;
mod token_cache;
mod token_sources;
mod tower_hyper;
mod validation;
