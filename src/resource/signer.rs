//! Signed metadata (RFC 9728 §2.2): the document's members, with the `iss`
//! of the party attesting to them, as a JWS the document carries in
//! `signed_metadata`. Signed once, when the layer is built.

use std::fmt;

use serde::Serialize;

use crate::error::ConfigError;
use crate::signing::PemKey;
use crate::token::algorithm::Algorithm;

/// A private key that signs this API's protected-resource metadata (RFC 9728
/// §2.2), for [`Builder::resource_signed_metadata`](crate::Builder::resource_signed_metadata).
///
/// The document then carries `signed_metadata`: a JWT whose claims are the
/// document's members and `iss`, the party that attests to them (the one
/// whose keys a client trusts to verify it). A client that checks it (§3.3)
/// uses the signed values over the plain ones.
///
/// ```
/// use bearer_guard::{Algorithm, BearerAuthLayer, MetadataSigner};
///
/// # fn main() -> Result<(), bearer_guard::ConfigError> {
/// # let pem = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/src/testing/keys/p256_1.pem"));
/// let signer = MetadataSigner::from_pem("https://attest.example.com", Algorithm::ES256, pem)?
///     .key_id("metadata-2026");
/// let auth = BearerAuthLayer::builder()
///     .issuer("https://login.example.com")
///     .audience("https://api.example.com")
///     .resource("https://api.example.com")
///     .resource_signed_metadata(signer)
///     .build()?;
/// let document = auth.validator().resource_metadata().expect("configured").document();
/// assert!(document.contains("\"signed_metadata\":\"ey"));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct MetadataSigner {
    issuer: String,
    key: PemKey,
}

impl fmt::Debug for MetadataSigner {
    /// Names the issuer, algorithm and key id, never the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetadataSigner")
            .field("issuer", &self.issuer)
            .field("algorithm", &self.key.algorithm())
            .field("key_id", &self.key.key_id())
            .finish_non_exhaustive()
    }
}

impl MetadataSigner {
    /// A signer for `issuer` (the signed metadata's `iss`), signing with
    /// `algorithm` and the PEM-encoded private key `pem`: PKCS#8 or PKCS#1
    /// RSA for `RS*`/`PS*`, PKCS#8 EC for `ES256`/`ES384`, PKCS#8 Ed25519 for
    /// `EdDSA`. A key that does not load is [`ConfigError::InvalidSigningKey`];
    /// one that does not fit the algorithm (a P-384 key for `ES256`) is
    /// found when the layer is built, by signing.
    pub fn from_pem(
        issuer: impl Into<String>,
        algorithm: Algorithm,
        pem: &[u8],
    ) -> Result<Self, ConfigError> {
        Ok(MetadataSigner {
            issuer: issuer.into(),
            key: PemKey::from_pem(algorithm, pem)?,
        })
    }

    /// The `kid` header naming the key among the issuer's published keys.
    pub fn key_id(mut self, kid: impl Into<String>) -> Self {
        self.key.set_key_id(kid.into());
        self
    }

    /// The issuer the signed metadata names in `iss`.
    pub(crate) fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The compact JWS of `claims` (which carry `iss`). A key that does not
    /// fit the algorithm fails here.
    pub(crate) fn sign(&self, claims: &impl Serialize) -> Result<String, ConfigError> {
        self.key.sign(None, claims)
    }
}
