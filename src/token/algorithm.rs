//! The signature algorithms this crate verifies: our own type, so that the
//! public API does not change with the JWS library underneath.

use std::fmt;

/// An asymmetric JWS signature algorithm (RFC 7518 §3, RFC 8037).
///
/// Symmetric algorithms (`HS256` and the like) and `none` have no variant:
/// keys published in a JWKS are public, so they can never be allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// ECDSA on P-384 with SHA-384.
    ES384,
    /// EdDSA on Ed25519 (RFC 8037).
    EdDSA,
}

/// Every algorithm this crate verifies, the default allow-list.
pub const DEFAULT_ALGORITHMS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

impl Algorithm {
    /// The JOSE name (`"RS256"`, `"EdDSA"`, …), as it appears in `alg`.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::EdDSA => "EdDSA",
        }
    }

    /// The algorithm with this JOSE name, compared exactly and case-sensitively
    /// (RFC 7515 §4.1.1); `None` for any other name, `none` and HMAC included.
    pub fn from_name(name: &str) -> Option<Self> {
        DEFAULT_ALGORITHMS
            .into_iter()
            .find(|alg| alg.name() == name)
    }

    /// The same algorithm in the JWS library's terms.
    pub(crate) fn to_jsonwebtoken(self) -> jsonwebtoken::Algorithm {
        match self {
            Algorithm::RS256 => jsonwebtoken::Algorithm::RS256,
            Algorithm::RS384 => jsonwebtoken::Algorithm::RS384,
            Algorithm::RS512 => jsonwebtoken::Algorithm::RS512,
            Algorithm::PS256 => jsonwebtoken::Algorithm::PS256,
            Algorithm::PS384 => jsonwebtoken::Algorithm::PS384,
            Algorithm::PS512 => jsonwebtoken::Algorithm::PS512,
            Algorithm::ES256 => jsonwebtoken::Algorithm::ES256,
            Algorithm::ES384 => jsonwebtoken::Algorithm::ES384,
            Algorithm::EdDSA => jsonwebtoken::Algorithm::EdDSA,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_nothing_else_parses() {
        for alg in DEFAULT_ALGORITHMS {
            assert_eq!(Algorithm::from_name(alg.name()), Some(alg));
            assert_eq!(format!("{:?}", alg.to_jsonwebtoken()), alg.name());
        }
        for name in ["none", "HS256", "rs256", "RS257", "EdDSA ", ""] {
            assert_eq!(Algorithm::from_name(name), None, "{name:?}");
        }
    }
}
