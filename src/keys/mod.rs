//! The issuer's signing keys: parsing JWKs ([`jwk`]), fetching them
//! ([`fetch`]) and holding them (a moka cache per issuer).

pub(crate) mod cache;
pub mod fetch;
pub mod jwk;

pub use fetch::FetchError;
pub use jwk::{KeyRejected, SetRejected, VerifyingKey};
