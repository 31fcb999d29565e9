//! Stage 4 of a request: the signature, checked with the key parsed when its
//! set loaded.

use crate::error::Error;
use crate::keys::jwk::VerifyingKey;
use crate::token::algorithm::Algorithm;

/// RFC 8725 §3.1: the algorithm is the key's, never the token's choice. The
/// signature is checked with the key parsed at load time: by aws-lc-rs itself
/// on that backend (jsonwebtoken 11 would rebuild the key, Montgomery context
/// included, for every signature), by jsonwebtoken on the RustCrypto one.
pub(crate) fn verify_signature(
    key: &VerifyingKey,
    alg: Algorithm,
    signing_input: &str,
    signature: &str,
) -> Result<(), Error> {
    if alg != key.alg {
        return Err(Error::AlgorithmMismatch {
            token: alg,
            key: key.alg,
        });
    }
    check_signature(key, signing_input.as_bytes(), signature)
        .then_some(())
        .ok_or(Error::InvalidSignature)
}

/// aws-lc-rs backend: the key aws-lc parsed when the set loaded, with the
/// signature decoded as jsonwebtoken decodes it (base64url, no padding).
#[cfg(feature = "aws-lc-rs")]
fn check_signature(key: &VerifyingKey, message: &[u8], signature: &str) -> bool {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(signature)
        .is_ok_and(|signature| key.parsed.verify_sig(message, &signature).is_ok())
}

/// RustCrypto backend: jsonwebtoken's own verification.
#[cfg(not(feature = "aws-lc-rs"))]
fn check_signature(key: &VerifyingKey, message: &[u8], signature: &str) -> bool {
    jsonwebtoken::crypto::verify(signature, message, &key.key, key.alg.to_jsonwebtoken())
        .unwrap_or(false)
}
