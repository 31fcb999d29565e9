//! A private key the API signs with (its RFC 9728 metadata, its RFC 7523
//! client assertions): loaded from PEM once, bound to one algorithm.

use std::fmt;

use jsonwebtoken::{EncodingKey, Header};
use serde::Serialize;

use crate::error::ConfigError;
use crate::token::algorithm::Algorithm;

/// A PEM private key bound to one algorithm, with an optional `kid`.
#[derive(Clone)]
pub(crate) struct PemKey {
    algorithm: Algorithm,
    key: EncodingKey,
    key_id: Option<String>,
}

impl fmt::Debug for PemKey {
    /// Names the algorithm and key id, never the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PemKey")
            .field("algorithm", &self.algorithm)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl PemKey {
    /// PKCS#8 or PKCS#1 RSA for `RS*`/`PS*`, PKCS#8 EC for `ES256`/`ES384`,
    /// PKCS#8 Ed25519 for `EdDSA`; a key that does not load is
    /// [`ConfigError::InvalidSigningKey`].
    pub(crate) fn from_pem(algorithm: Algorithm, pem: &[u8]) -> Result<Self, ConfigError> {
        let key = match algorithm {
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => EncodingKey::from_rsa_pem(pem),
            Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(pem),
            Algorithm::EdDSA => EncodingKey::from_ed_pem(pem),
        }
        .map_err(|e| ConfigError::InvalidSigningKey(e.to_string()))?;
        Ok(PemKey {
            algorithm,
            key,
            key_id: None,
        })
    }

    /// Sets the `kid` header.
    pub(crate) fn set_key_id(&mut self, kid: String) {
        self.key_id = Some(kid);
    }

    pub(crate) fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    pub(crate) fn key_id(&self) -> Option<&str> {
        self.key_id.as_deref()
    }

    /// The compact JWS of `claims`, typed `typ` when given. A key that does
    /// not fit the algorithm (a P-384 key for `ES256`) fails here.
    pub(crate) fn sign(
        &self,
        typ: Option<&str>,
        claims: &impl Serialize,
    ) -> Result<String, ConfigError> {
        let mut header = Header::new(self.algorithm.to_jsonwebtoken());
        header.kid.clone_from(&self.key_id);
        if let Some(typ) = typ {
            header.typ = Some(typ.to_owned());
        }
        jsonwebtoken::encode(&header, claims, &self.key)
            .map_err(|e| ConfigError::InvalidSigningKey(e.to_string()))
    }
}
