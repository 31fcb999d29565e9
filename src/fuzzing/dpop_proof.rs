//! The DPoP proof parser (`dpop::proof`).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::EncodingKey;

use crate::dpop::key_cache::ProofKeyCache;
use crate::dpop::proof::{MAX_JTI_BYTES, verify};
use crate::token::algorithm::DEFAULT_ALGORITHMS;

/// The cap on a proof's size the harness runs with.
const MAX_PROOF: usize = 8 * 1024;

/// The fixed Ed25519 key the harness signs with.
const KEY_PEM: &str = include_str!("../testing/keys/ed25519_2.pem");

/// Its RFC 7638 thumbprint (checked by a unit test).
pub(crate) const KEY_THUMBPRINT: &str = "dDgnrTIQtuuckYtRkvYycp9UKEeVfzG1uWAUTPFCchQ";

/// Any bytes, twice: as a proof as they are, and as the proof's header and
/// claims (split at the first newline) signed with a fixed Ed25519 key, so
/// that the checks after the signature are reached. Whatever is accepted is
/// within the caps, has a non-empty bounded `jti`, names the signing key's
/// thumbprint (no other key can have signed it), and is accepted again
/// with the same claims, its key then from the proof key cache.
/// # Panics
/// When an invariant breaks: that is the finding.
#[allow(clippy::panic, clippy::expect_used)]
pub fn dpop_proof(data: &[u8]) {
    check(data);
    let (header, claims) = match data.iter().position(|&b| b == b'\n') {
        Some(at) => (
            data.get(..at).unwrap_or_default(),
            data.get(at + 1..).unwrap_or_default(),
        ),
        None => (data, &b""[..]),
    };
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let key = EncodingKey::from_ed_pem(KEY_PEM.as_bytes()).expect("the bundled key loads");
    let signature =
        jsonwebtoken::crypto::sign(message.as_bytes(), &key, jsonwebtoken::Algorithm::EdDSA)
            .expect("Ed25519 signs anything");
    check(format!("{message}.{signature}").as_bytes());
}

#[allow(clippy::panic)]
fn check(proof: &[u8]) {
    let keys = ProofKeyCache::default();
    let Ok(verified) = verify(proof, &DEFAULT_ALGORITHMS, MAX_PROOF, &keys) else {
        return;
    };
    assert!(proof.len() <= MAX_PROOF, "proof over the cap");
    assert!(
        !verified.jti.is_empty() && verified.jti.len() <= MAX_JTI_BYTES,
        "jti out of bounds"
    );
    assert_eq!(
        verified.key.jkt, KEY_THUMBPRINT,
        "accepted a proof signed by another key"
    );
    let again = verify(proof, &DEFAULT_ALGORITHMS, MAX_PROOF, &keys)
        .map(|p| (p.key.jkt.clone(), p.jti, p.htm, p.htu, p.iat, p.ath));
    assert_eq!(
        again.ok(),
        Some((
            verified.key.jkt.clone(),
            verified.jti,
            verified.htm,
            verified.htu,
            verified.iat,
            verified.ath
        )),
        "verification is not deterministic"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The checked-in seed is a proof the harness's key signs, and is accepted.
    #[test]
    fn the_seed_passes_and_names_the_fixed_key() {
        let seed = include_bytes!("../../fuzz/corpus/dpop_proof/seed-valid");
        let at = seed.iter().position(|&b| b == b'\n').expect("two lines");
        let message = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&seed[..at]),
            URL_SAFE_NO_PAD.encode(&seed[at + 1..])
        );
        let key = EncodingKey::from_ed_pem(KEY_PEM.as_bytes()).expect("key");
        let signature =
            jsonwebtoken::crypto::sign(message.as_bytes(), &key, jsonwebtoken::Algorithm::EdDSA)
                .expect("signs");
        let proof = verify(
            format!("{message}.{signature}").as_bytes(),
            &DEFAULT_ALGORITHMS,
            MAX_PROOF,
            &ProofKeyCache::default(),
        )
        .expect("the seed is a valid proof");
        assert_eq!(proof.key.jkt, KEY_THUMBPRINT);
        dpop_proof(seed);
    }
}
