//! One DPoP proof (RFC 9449 §4.2), checked as §4.3 says for everything the
//! proof says of itself: a compact JWS typed `dpop+jwt`, signed with an
//! allowed asymmetric `alg` by the public key in its own `jwk` header, with
//! the claims `jti`, `htm`, `htu` and `iat` (and `ath`, `nonce`).
//! What it says of the request (`htm`, `htu`, `iat`, `ath`) and of the token
//! (`cnf.jkt`) is compared by the caller.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::sync::Arc;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;

use super::key_cache::{ProofKey, ProofKeyCache};
use crate::error::Error;
use crate::keys::jwk::KeyRejected;
use crate::token::algorithm::Algorithm;
use crate::validate::signature::verify_signature;

/// The longest `jti` accepted (§11.1: reject oversized ones).
pub(crate) const MAX_JTI_BYTES: usize = 256;

/// A proof whose signature verified, with what it claims.
#[derive(Debug)]
pub(crate) struct Proof {
    /// Its key, with the key's RFC 7638 SHA-256 thumbprint (base64url).
    pub(crate) key: Arc<ProofKey>,
    pub(crate) jti: String,
    pub(crate) htm: String,
    pub(crate) htu: String,
    /// Seconds since the epoch.
    pub(crate) iat: i64,
    pub(crate) ath: Option<String>,
    pub(crate) nonce: Option<String>,
}

#[derive(Deserialize)]
struct Header<'a> {
    #[serde(default)]
    typ: Option<String>,
    alg: String,
    /// The key's JSON text, as sent: what bound keys are cached by.
    #[serde(default, borrow)]
    jwk: Option<&'a RawValue>,
    /// No extension is understood, so none may be critical (RFC 7515 §4.1.11).
    #[serde(default)]
    crit: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    jti: Option<String>,
    #[serde(default)]
    htm: Option<String>,
    #[serde(default)]
    htu: Option<String>,
    #[serde(default)]
    iat: Option<serde_json::Number>,
    #[serde(default)]
    ath: Option<String>,
    #[serde(default)]
    nonce: Option<String>,
}

fn refused(reason: &'static str) -> Error {
    Error::InvalidDpopProof(reason)
}

/// Checks the proof's syntax, type, algorithm, key and signature, and
/// returns what it claims. `allowed`: the accepted proof algorithms;
/// `keys`: the keys bound before, by their `jwk` text.
pub(crate) fn verify(
    proof: &[u8],
    allowed: &[Algorithm],
    max_bytes: usize,
    keys: &ProofKeyCache,
) -> Result<Proof, Error> {
    if proof.len() > max_bytes {
        return Err(refused("proof larger than the cap"));
    }
    let text = std::str::from_utf8(proof).map_err(|_| refused("not a compact JWS"))?;
    let (signing_input, signature) = text.rsplit_once('.').ok_or(refused("not a compact JWS"))?;
    let (header_b64, payload_b64) = signing_input
        .split_once('.')
        .ok_or(refused("not a compact JWS"))?;
    if header_b64.is_empty() || payload_b64.is_empty() || signature.is_empty() {
        return Err(refused("not a compact JWS"));
    }
    let header_json = URL_SAFE_NO_PAD
        .decode(header_b64)
        .map_err(|_| refused("header is not base64url"))?;
    let header: Header =
        serde_json::from_slice(&header_json).map_err(|_| refused("header is not a JOSE header"))?;
    // §4.3 check 4: the type, compared as a media type (RFC 7515 §4.1.9).
    if !header
        .typ
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("dpop+jwt"))
    {
        return Err(refused("typ is not dpop+jwt"));
    }
    if header.crit.is_some() {
        return Err(refused("crit header"));
    }
    // Check 5: an asymmetric algorithm the API accepts (`Algorithm` has no
    // symmetric variant, nor `none`).
    // RFC 9864 names Ed25519 signatures `Ed25519` (`EdDSA` is deprecated);
    // clients such as oauth4webapi sign proofs with that name.
    let alg = allowed
        .iter()
        .copied()
        .find(|a| a.name() == header.alg || (*a == Algorithm::EdDSA && header.alg == "Ed25519"))
        .ok_or(refused("alg not accepted"))?;
    // Check 7, then 6: a public key, and the signature by it. A key bound
    // before from the same text for the same alg passed every check then.
    let jwk = header.jwk.ok_or(refused("no jwk header"))?;
    let (key, cached) = keys.get_or_bind(alg, jwk.get()).map_err(|e| match e {
        KeyRejected::Private => refused("jwk holds a private key"),
        KeyRejected::Symmetric => refused("jwk is a symmetric key"),
        KeyRejected::NotAllowed(_) | KeyRejected::AlgorithmMismatch(_) => {
            refused("jwk does not fit alg")
        }
        _ => refused("jwk is not a usable public key"),
    })?;
    verify_signature(&key.key, alg, signing_input, signature)
        .map_err(|_| refused("signature does not verify"))?;
    if !cached {
        keys.insert(jwk.get().as_bytes(), Arc::clone(&key));
    }
    // Check 3: the claims (only now: they are the signer's word).
    let payload = URL_SAFE_NO_PAD
        .decode(payload_b64)
        .map_err(|_| refused("payload is not base64url"))?;
    let claims: Claims =
        serde_json::from_slice(&payload).map_err(|_| refused("claims malformed"))?;
    let jti = claims.jti.ok_or(refused("no jti"))?;
    if jti.is_empty() || jti.len() > MAX_JTI_BYTES {
        return Err(refused("jti empty or too long"));
    }
    let iat = claims.iat.ok_or(refused("no iat"))?;
    let iat = iat
        .as_i64()
        .or_else(|| {
            iat.as_f64()
                .filter(|f| f.is_finite() && f.abs() < 1e15)
                .map(|f| f.floor() as i64)
        })
        .ok_or(refused("iat is not a NumericDate"))?;
    Ok(Proof {
        key,
        jti,
        htm: claims.htm.ok_or(refused("no htm"))?,
        htu: claims.htu.ok_or(refused("no htu"))?,
        iat,
        ath: claims.ath,
        nonce: claims.nonce,
    })
}
