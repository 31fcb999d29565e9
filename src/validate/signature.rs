//! Stage 4 of a request: the signature, checked with the key parsed when its
//! set loaded.

use crate::digest::Sha256;
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
    same_algorithm(key, alg)?;
    check_signature(key, signing_input.as_bytes(), signature)
        .then_some(())
        .ok_or(Error::InvalidSignature)
}

/// [`verify_signature`] for a token whose proofs may name its hash: once the
/// signature verified, also returns the SHA-256 of the compact token,
/// `signing_input '.' signature` (DPoP's `ath`, RFC 9449 §4.2).
///
/// For an algorithm that signs a SHA-256 of the signing input (RS256, PS256,
/// ES256) on the aws-lc-rs backend, one pass over the signing input serves
/// both: a copy of the hash's state is finished into the digest the signature
/// is checked against, the other goes on over `.` and the signature. Any other
/// algorithm, or the RustCrypto backend, checks the signature as
/// [`verify_signature`] does and then hashes the token.
pub(crate) fn verify_signature_and_hash(
    key: &VerifyingKey,
    alg: Algorithm,
    signing_input: &str,
    signature: &str,
) -> Result<[u8; 32], Error> {
    same_algorithm(key, alg)?;
    let mut token = Sha256::new();
    token.update(signing_input.as_bytes());
    let verified = match one_pass(key, &token, signature) {
        Some(verified) => verified,
        None => check_signature(key, signing_input.as_bytes(), signature),
    };
    if !verified {
        return Err(Error::InvalidSignature);
    }
    token.update(b".");
    token.update(signature.as_bytes());
    Ok(token.finish())
}

fn same_algorithm(key: &VerifyingKey, alg: Algorithm) -> Result<(), Error> {
    if alg != key.alg {
        return Err(Error::AlgorithmMismatch {
            token: alg,
            key: key.alg,
        });
    }
    Ok(())
}

/// aws-lc-rs backend: the key aws-lc parsed when the set loaded, with the
/// signature decoded as jsonwebtoken decodes it (base64url, no padding).
#[cfg(feature = "aws-lc-rs")]
fn check_signature(key: &VerifyingKey, message: &[u8], signature: &str) -> bool {
    decode(signature).is_some_and(|signature| key.parsed.verify_sig(message, &signature).is_ok())
}

/// aws-lc-rs backend: whether `signature` verifies against the SHA-256 of the
/// signing input, hashed into `signed` already (a copy is finished), for a
/// key whose algorithm signs exactly that digest; `None` for any other key.
/// aws-lc itself refuses a digest of another algorithm than the key's, and
/// checks the signature as [`check_signature`] would (`verify_sig` hashes
/// the message, then does the same).
#[cfg(feature = "aws-lc-rs")]
fn one_pass(key: &VerifyingKey, signed: &Sha256, signature: &str) -> Option<bool> {
    if !matches!(
        key.alg,
        Algorithm::RS256 | Algorithm::PS256 | Algorithm::ES256
    ) {
        return None;
    }
    let digest = signed.clone().finish_digest();
    Some(
        decode(signature)
            .is_some_and(|signature| key.parsed.verify_digest_sig(&digest, &signature).is_ok()),
    )
}

#[cfg(feature = "aws-lc-rs")]
fn decode(signature: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(signature)
        .ok()
}

/// RustCrypto backend: jsonwebtoken's own verification.
#[cfg(not(feature = "aws-lc-rs"))]
fn check_signature(key: &VerifyingKey, message: &[u8], signature: &str) -> bool {
    jsonwebtoken::crypto::verify(signature, message, &key.key, key.alg.to_jsonwebtoken())
        .unwrap_or(false)
}

/// RustCrypto backend: jsonwebtoken takes no digest; the signature is
/// checked over the message ([`check_signature`]).
#[cfg(not(feature = "aws-lc-rs"))]
fn one_pass(_key: &VerifyingKey, _signed: &Sha256, _signature: &str) -> Option<bool> {
    None
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use super::*;
    use crate::digest::sha256;
    use crate::keys::jwk::bind_embedded;
    use crate::testing::{DpopKey, KeyKind};

    /// The public key of a bundled key of `kind` (`which` of them), bound to
    /// its algorithm, and a compact JWS it signed.
    fn signed(kind: KeyKind, which: usize) -> (VerifyingKey, String) {
        let client = DpopKey::new(kind, which);
        let jwk = serde_json::from_str(client.jwk()).expect("JSON");
        let (key, _) = bind_embedded(&jwk, kind.algorithm()).expect("a usable key");
        (key, client.proof("GET", "https://api.example.test/").sign())
    }

    /// `s` with the character at `at` replaced by another of the base64url
    /// alphabet.
    fn flip(s: &str, at: usize) -> String {
        s.char_indices()
            .map(|(i, c)| match (i == at, c) {
                (false, c) => c,
                (true, 'A') => 'B',
                (true, _) => 'A',
            })
            .collect()
    }

    /// Each algorithm, the one-pass ones (RS256, PS256, ES256 on aws-lc-rs)
    /// and the others: a good signature gives the SHA-256 of the whole token,
    /// exactly as hashing it in one piece does; every tampered or misdirected
    /// input gets the same refusal as from `verify_signature`.
    #[test]
    fn the_token_hash_is_its_sha256_and_only_a_good_signature_gets_one() {
        let kinds = [
            KeyKind::Rs256,
            KeyKind::Ps256,
            KeyKind::Es256,
            KeyKind::Es384,
            KeyKind::EdDsa,
        ];
        for kind in kinds {
            let alg = kind.algorithm();
            let (key, token) = signed(kind, 0);
            // Another key of the kind (only one P-384 key is bundled: an
            // Ed25519 key then, bound to ES384 by hand).
            let (mut other_key, _) = signed(
                if kind == KeyKind::Es384 {
                    KeyKind::EdDsa
                } else {
                    kind
                },
                1,
            );
            other_key.alg = alg;
            let (input, signature) = token.rsplit_once('.').expect("a JWS");
            let good = verify_signature_and_hash(&key, alg, input, signature);
            assert_eq!(good, Ok(sha256(token.as_bytes())), "{kind:?}");
            assert_eq!(
                verify_signature(&key, alg, input, signature),
                Ok(()),
                "{kind:?}"
            );

            let header_flipped = flip(input, 5);
            let payload_flipped = flip(input, input.len() - 5);
            let signature_flipped = flip(signature, 10);
            let not_base64 = format!("{signature}!");
            let cases: [(&str, &VerifyingKey, &str, &str); 6] = [
                ("header tampered", &key, &header_flipped, signature),
                ("payload tampered", &key, &payload_flipped, signature),
                ("signature tampered", &key, input, &signature_flipped),
                ("signature not base64url", &key, input, &not_base64),
                ("no signature", &key, input, ""),
                ("another key", &other_key, input, signature),
            ];
            for (what, key, input, signature) in cases {
                assert_eq!(
                    verify_signature_and_hash(key, alg, input, signature),
                    Err(Error::InvalidSignature),
                    "{kind:?}: {what}"
                );
                assert_eq!(
                    verify_signature(key, alg, input, signature),
                    Err(Error::InvalidSignature),
                    "{kind:?}: {what}"
                );
            }
            // The algorithm is the key's: another one is refused before any
            // hashing, as by `verify_signature`.
            let other_alg = if alg == Algorithm::EdDSA {
                Algorithm::ES256
            } else {
                Algorithm::EdDSA
            };
            let mismatch = Err(Error::AlgorithmMismatch {
                token: other_alg,
                key: alg,
            });
            assert_eq!(
                verify_signature_and_hash(&key, other_alg, input, signature),
                mismatch,
                "{kind:?}"
            );
            assert_eq!(
                verify_signature(&key, other_alg, input, signature).map(|()| [0; 32]),
                mismatch,
                "{kind:?}"
            );
        }
    }
}
