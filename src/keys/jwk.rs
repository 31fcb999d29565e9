//! One JWK becomes one verifying key bound to exactly one algorithm
//! (RFC 7517 §4, RFC 8725 §3.1), or a precise reason why it cannot.

use std::sync::atomic::{AtomicBool, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, KeyOperations, PublicKeyUse,
};
use serde::Deserialize;

use crate::error::log_safe;
use crate::token::algorithm::Algorithm;

/// The smallest RSA modulus accepted (RFC 7518 §3.3: 2048 bits or larger).
pub(crate) const MIN_RSA_BITS: usize = 2048;
/// The largest RSA modulus accepted: larger keys only make verification slow.
pub(crate) const MAX_RSA_BITS: usize = 8192;
/// The longest `kid` kept.
pub(crate) const MAX_KID_BYTES: usize = 256;
/// The longest `issuer` a key may name.
pub(crate) const MAX_KEY_ISSUER_BYTES: usize = 1024;

/// A public key from a JWKS, bound to the one algorithm it may verify.
#[derive(Debug)]
pub(crate) struct VerifyingKey {
    /// The key's `kid`.
    pub(crate) kid: String,
    /// The one algorithm this key verifies.
    pub(crate) alg: Algorithm,
    /// The key material, parsed once when the set is loaded.
    pub(crate) key: DecodingKey,
    /// The same key inside aws-lc, parsed once: what signatures are checked
    /// with on the aws-lc-rs backend.
    #[cfg(feature = "aws-lc-rs")]
    pub(crate) parsed: aws_lc_rs::signature::ParsedPublicKey,
    /// The `issuer` the key set publishes for this key, if any (Microsoft's
    /// multi-tenant key set does, as a `{tenantid}` template): the key then
    /// verifies only tokens whose `iss` it names.
    pub(crate) issuer: Option<String>,
    /// Set once the key has left its issuer's key set: tokens it verified
    /// earlier are no longer served from the verified-token cache.
    retired: AtomicBool,
}

impl VerifyingKey {
    /// Whether the key has left its issuer's key set.
    pub(crate) fn is_retired(&self) -> bool {
        self.retired.load(Ordering::Acquire)
    }

    /// Marks the key as gone from its key set (it never comes back: a key
    /// published again is a new `VerifyingKey`).
    pub(crate) fn retire(&self) {
        self.retired.store(true, Ordering::Release);
    }

    /// Whether `other` is the same key: same `kid`, algorithm and material.
    pub(crate) fn same_as(&self, other: &VerifyingKey) -> bool {
        use jsonwebtoken::DecodingKeyKind::{RsaModulusExponent, SecretOrDer};
        let material = match (self.key.kind(), other.key.kind()) {
            (SecretOrDer(a), SecretOrDer(b)) => a == b,
            (RsaModulusExponent { n: n1, e: e1 }, RsaModulusExponent { n: n2, e: e2 }) => {
                n1 == n2 && e1 == e2
            }
            _ => false,
        };
        material && self.kid == other.kid && self.alg == other.alg && self.issuer == other.issuer
    }
}

/// Why a JWK was dropped from its set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum KeyRejected {
    /// Not a JWK this crate understands (bad JSON shape, unknown `kty` or `alg`).
    #[error("not a usable JWK: {0}")]
    Unparsable(String),
    /// No `kid` (or an empty or over-long one).
    #[error("missing, empty or over-long kid")]
    MissingKid,
    /// `use` is present and not `sig`.
    #[error("use is not \"sig\"")]
    NotForSignatures,
    /// `key_ops` is present and lacks `verify`.
    #[error("key_ops does not include \"verify\"")]
    NotForVerify,
    /// A symmetric (`oct`) key: never accepted from a published key set.
    #[error("symmetric key")]
    Symmetric,
    /// The key type or curve is not supported.
    #[error("unsupported key type or curve")]
    Unsupported,
    /// The RSA modulus is shorter than 2048 or longer than 8192 bits.
    #[error("RSA modulus of {0} bits is outside 2048..=8192")]
    RsaSize(usize),
    /// The key's parameters do not decode or have the wrong length.
    #[error("invalid key parameters: {0}")]
    InvalidParameters(&'static str),
    /// The JWK's `alg` does not fit its `kty`/`crv`.
    #[error("alg {0:?} does not fit the key type")]
    AlgorithmMismatch(KeyAlgorithm),
    /// The bound algorithm is not in the configured allow-list.
    #[error("algorithm {0:?} is not allowed")]
    NotAllowed(Algorithm),
    /// Another key in the same set has the same `kid`; both are dropped.
    #[error("duplicate kid")]
    DuplicateKid,
    /// A key carried by a DPoP proof holds private members (`d`, …).
    #[error("private key members")]
    Private,
}

/// The JWK `value`, refused when published for another purpose than
/// signatures (RFC 7517 §4.2: a `use` other than `sig`).
fn parse_jwk(value: &serde_json::Value) -> Result<Jwk, KeyRejected> {
    let jwk = Jwk::deserialize(value)
        .map_err(|e| KeyRejected::Unparsable(log_safe(&e.to_string(), 120)))?;
    if jwk
        .common
        .public_key_use
        .as_ref()
        .is_some_and(|use_| *use_ != PublicKeyUse::Signature)
    {
        return Err(KeyRejected::NotForSignatures);
    }
    Ok(jwk)
}

/// Binds one JWK (as JSON) to a verifying key.
pub(crate) fn bind(
    value: &serde_json::Value,
    allowed: &[Algorithm],
) -> Result<VerifyingKey, KeyRejected> {
    let jwk = parse_jwk(value)?;
    let kid = match &jwk.common.key_id {
        Some(kid) if !kid.is_empty() && kid.len() <= MAX_KID_BYTES => kid.clone(),
        _ => return Err(KeyRejected::MissingKid),
    };
    if jwk
        .common
        .key_operations
        .as_ref()
        .is_some_and(|ops| !ops.contains(&KeyOperations::Verify))
    {
        return Err(KeyRejected::NotForVerify);
    }
    // Not a registered JWK member; Microsoft publishes it on each key of its
    // multi-tenant key set. A key that names an issuer is bound to it.
    let issuer = match value.get("issuer") {
        None => None,
        Some(serde_json::Value::String(issuer))
            if !issuer.is_empty() && issuer.len() <= MAX_KEY_ISSUER_BYTES =>
        {
            Some(issuer.clone())
        }
        Some(_) => return Err(KeyRejected::InvalidParameters("issuer")),
    };
    let alg = bound_algorithm(&jwk)?;
    if !allowed.contains(&alg) {
        return Err(KeyRejected::NotAllowed(alg));
    }
    verifying_key(&jwk, kid, alg, issuer)
}

/// The key material of `jwk`, parsed for `alg` (already checked to fit).
fn verifying_key(
    jwk: &Jwk,
    kid: String,
    alg: Algorithm,
    issuer: Option<String>,
) -> Result<VerifyingKey, KeyRejected> {
    let key =
        DecodingKey::from_jwk(jwk).map_err(|_| KeyRejected::InvalidParameters("key material"))?;
    #[cfg(feature = "aws-lc-rs")]
    let parsed =
        parse_for_aws_lc(&key, alg).ok_or(KeyRejected::InvalidParameters("key material"))?;
    Ok(VerifyingKey {
        kid,
        alg,
        key,
        #[cfg(feature = "aws-lc-rs")]
        parsed,
        issuer,
        retired: AtomicBool::new(false),
    })
}

/// Members that only a private (or symmetric) JWK has (RFC 7518 §6.2.2,
/// §6.3.2, §6.4; RFC 8037 §2).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Binds the public key a DPoP proof carries in its `jwk` header (RFC 9449
/// §4.2) to the proof's `alg`, which must fit its type and curve (and its
/// own `alg`, if it has one); a key with private members is refused. Returns
/// the key and its RFC 7638 SHA-256 thumbprint, base64url: what `cnf.jkt`
/// names.
pub(crate) fn bind_embedded(
    value: &serde_json::Value,
    alg: Algorithm,
) -> Result<(VerifyingKey, String), KeyRejected> {
    let object = value
        .as_object()
        .ok_or(KeyRejected::Unparsable("not a JSON object".into()))?;
    if PRIVATE_MEMBERS.iter().any(|m| object.contains_key(*m)) {
        return Err(KeyRejected::Private);
    }
    let mut jwk = parse_jwk(value)?;
    if jwk.common.key_algorithm.is_none() {
        jwk.common.key_algorithm = alg.name().parse().ok();
    }
    // Type, curve, sizes and lengths checked, as for a published key: the
    // thumbprint below then only ever sees base64url members.
    let bound = bound_algorithm(&jwk)?;
    if bound != alg {
        return Err(KeyRejected::NotAllowed(alg));
    }
    let thumbprint = jwk
        .thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
        .map_err(|_| KeyRejected::Unsupported)?;
    Ok((verifying_key(&jwk, String::new(), alg, None)?, thumbprint))
}

/// The key as aws-lc's own parsed public key for `alg`, with the same
/// verification parameters jsonwebtoken's aws-lc backend uses for `alg`; `None`
/// when aws-lc refuses it (an EC point off its curve, say).
#[cfg(feature = "aws-lc-rs")]
fn parse_for_aws_lc(
    key: &DecodingKey,
    alg: Algorithm,
) -> Option<aws_lc_rs::signature::ParsedPublicKey> {
    use aws_lc_rs::signature::{self as sig, ParsedPublicKey, RsaPublicKeyComponents};
    use jsonwebtoken::DecodingKeyKind::{RsaModulusExponent, SecretOrDer};
    match key.kind() {
        RsaModulusExponent { n, e } => {
            let params: &'static sig::RsaParameters = match alg {
                Algorithm::RS256 => &sig::RSA_PKCS1_2048_8192_SHA256,
                Algorithm::RS384 => &sig::RSA_PKCS1_2048_8192_SHA384,
                Algorithm::RS512 => &sig::RSA_PKCS1_2048_8192_SHA512,
                Algorithm::PS256 => &sig::RSA_PSS_2048_8192_SHA256,
                Algorithm::PS384 => &sig::RSA_PSS_2048_8192_SHA384,
                Algorithm::PS512 => &sig::RSA_PSS_2048_8192_SHA512,
                _ => return None,
            };
            RsaPublicKeyComponents { n, e }
                .to_parsed_public_key(params)
                .ok()
        }
        SecretOrDer(bytes) => {
            let params: &'static dyn sig::VerificationAlgorithm = match alg {
                Algorithm::ES256 => &sig::ECDSA_P256_SHA256_FIXED,
                Algorithm::ES384 => &sig::ECDSA_P384_SHA384_FIXED,
                Algorithm::EdDSA => &sig::ED25519,
                _ => return None,
            };
            ParsedPublicKey::new(params, bytes).ok()
        }
    }
}

/// The key's one algorithm: its `alg` when present (checked against `kty`/`crv`),
/// else the only one its `kty`/`crv` allows; RSA without `alg` is RS256, as
/// published by Microsoft Entra ID and others.
fn bound_algorithm(jwk: &Jwk) -> Result<Algorithm, KeyRejected> {
    let declared = jwk.common.key_algorithm;
    let (natural, fits): (Algorithm, fn(Algorithm) -> bool) = match &jwk.algorithm {
        AlgorithmParameters::RSA(rsa) => {
            let bits = rsa_modulus_bits(&rsa.n)?;
            if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
                return Err(KeyRejected::RsaSize(bits));
            }
            let e = decode(&rsa.e, "e")?;
            if e.is_empty() || e.len() > 8 {
                return Err(KeyRejected::InvalidParameters("e"));
            }
            (Algorithm::RS256, |a| {
                matches!(
                    a,
                    Algorithm::RS256
                        | Algorithm::RS384
                        | Algorithm::RS512
                        | Algorithm::PS256
                        | Algorithm::PS384
                        | Algorithm::PS512
                )
            })
        }
        AlgorithmParameters::EllipticCurve(ec) => {
            let (alg, len) = match ec.curve {
                EllipticCurve::P256 => (Algorithm::ES256, 32),
                EllipticCurve::P384 => (Algorithm::ES384, 48),
                _ => return Err(KeyRejected::Unsupported),
            };
            if decode(&ec.x, "x")?.len() != len || decode(&ec.y, "y")?.len() != len {
                return Err(KeyRejected::InvalidParameters("EC coordinate length"));
            }
            match alg {
                Algorithm::ES256 => (alg, |a| a == Algorithm::ES256),
                _ => (alg, |a| a == Algorithm::ES384),
            }
        }
        AlgorithmParameters::OctetKeyPair(okp) => {
            if okp.curve != EllipticCurve::Ed25519 {
                return Err(KeyRejected::Unsupported);
            }
            if decode(&okp.x, "x")?.len() != 32 {
                return Err(KeyRejected::InvalidParameters("Ed25519 key length"));
            }
            (Algorithm::EdDSA, |a| a == Algorithm::EdDSA)
        }
        AlgorithmParameters::OctetKey(_) => return Err(KeyRejected::Symmetric),
        _ => return Err(KeyRejected::Unsupported),
    };
    match declared {
        None => Ok(natural),
        Some(declared) => match signature_algorithm(declared) {
            Some(alg) if fits(alg) => Ok(alg),
            _ => Err(KeyRejected::AlgorithmMismatch(declared)),
        },
    }
}

/// Parses a JWKS document (RFC 7517 §5): each entry on its own, so one bad
/// entry never poisons the rest; entries sharing a `kid` are all dropped
/// (ambiguous); at most `max_keys` keys are kept. Every dropped entry is logged
/// with its reason.
pub(crate) fn parse_set(
    body: &[u8],
    allowed: &[Algorithm],
    max_keys: usize,
) -> Result<Vec<VerifyingKey>, SetRejected> {
    let mut keys: Vec<VerifyingKey> = Vec::new();
    for (index, (jwk, bound)) in bind_entries(body, allowed)?.into_iter().enumerate() {
        match bound {
            Ok(key) => keys.push(key),
            Err(reason @ KeyRejected::DuplicateKid) => {
                let kid = jwk.get("kid").and_then(serde_json::Value::as_str);
                let kid = log_safe(kid.unwrap_or_default(), 64);
                tracing::warn!(index, %kid, %reason, "bearer-guard: JWK dropped");
            }
            Err(reason) => tracing::warn!(index, %reason, "bearer-guard: JWK dropped"),
        }
    }
    if keys.len() > max_keys {
        tracing::warn!(
            kept = max_keys,
            dropped = keys.len() - max_keys,
            "bearer-guard: JWKS has more keys than the limit"
        );
        keys.truncate(max_keys);
    }
    if keys.is_empty() {
        return Err(SetRejected::NoUsableKeys);
    }
    Ok(keys)
}

/// One entry of a key set: the JWK as published, and its key or why it
/// cannot be one.
pub(crate) type Entry = (serde_json::Value, Result<VerifyingKey, KeyRejected>);

/// Each entry of a JWKS document (RFC 7517 §5), in order, with its key or
/// why it cannot be one: every entry on its own, so one bad entry never
/// poisons the rest; entries sharing a `kid` are all refused (ambiguous).
/// [`parse_set`] keeps the keys; the command-line tool shows every verdict.
pub(crate) fn bind_entries(body: &[u8], allowed: &[Algorithm]) -> Result<Vec<Entry>, SetRejected> {
    #[derive(Deserialize)]
    struct Set {
        keys: Vec<serde_json::Value>,
    }
    if !crate::token::jws::is_json_object(body) {
        return Err(SetRejected::NotAnObject);
    }
    let set: Set = serde_json::from_slice(body).map_err(|_| SetRejected::NotAnObject)?;
    let mut entries: Vec<_> = set
        .keys
        .into_iter()
        .map(|entry| {
            let bound = bind(&entry, allowed);
            (entry, bound)
        })
        .collect();
    let kids: Vec<Option<String>> = entries
        .iter()
        .map(|(_, bound)| bound.as_ref().ok().map(|k| k.kid.clone()))
        .collect();
    for (index, (_, bound)) in entries.iter_mut().enumerate() {
        let shared = bound.as_ref().is_ok_and(|key| {
            kids.iter()
                .enumerate()
                .any(|(other, kid)| other != index && kid.as_deref() == Some(key.kid.as_str()))
        });
        if shared {
            *bound = Err(KeyRejected::DuplicateKid);
        }
    }
    Ok(entries)
}

/// Why a whole JWKS document was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum SetRejected {
    /// Not a JSON object with a `keys` array.
    #[error("not a JWKS (a JSON object with a keys array)")]
    NotAnObject,
    /// No entry survived the checks.
    #[error("no usable key in the set")]
    NoUsableKeys,
}

/// The asymmetric signature algorithm a JWK `alg` names, if any.
fn signature_algorithm(alg: KeyAlgorithm) -> Option<Algorithm> {
    Some(match alg {
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        _ => return None,
    })
}

pub(crate) fn rsa_modulus_bits(n: &str) -> Result<usize, KeyRejected> {
    let bytes = decode(n, "n")?;
    let first = bytes
        .iter()
        .position(|&b| b != 0)
        .ok_or(KeyRejected::InvalidParameters("n"))?;
    let significant = bytes.get(first..).unwrap_or_default();
    let top = significant.first().copied().unwrap_or(0);
    Ok((significant.len() - 1) * 8 + (8 - top.leading_zeros() as usize))
}

fn decode(b64: &str, what: &'static str) -> Result<Vec<u8>, KeyRejected> {
    URL_SAFE_NO_PAD
        .decode(b64)
        .map_err(|_| KeyRejected::InvalidParameters(what))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::algorithm::DEFAULT_ALGORITHMS;
    use serde_json::json;

    fn rsa_n(bits: usize) -> String {
        let mut n = vec![0xffu8; bits / 8];
        if let Some(first) = n.first_mut() {
            *first = 0x80;
        }
        URL_SAFE_NO_PAD.encode(n)
    }

    fn err(value: serde_json::Value) -> KeyRejected {
        match bind(&value, &DEFAULT_ALGORITHMS) {
            Ok(k) => panic!("accepted: {k:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn rsa_without_alg_binds_to_rs256_and_honours_declared_alg() {
        let k = bind(
            &json!({"kty":"RSA","kid":"a","use":"sig","n":rsa_n(2048),"e":"AQAB"}),
            &DEFAULT_ALGORITHMS,
        )
        .expect("valid");
        assert_eq!((k.kid.as_str(), k.alg), ("a", Algorithm::RS256));
        let k = bind(
            &json!({"kty":"RSA","kid":"b","alg":"PS384","n":rsa_n(3072),"e":"AQAB"}),
            &DEFAULT_ALGORITHMS,
        )
        .expect("valid");
        assert_eq!(k.alg, Algorithm::PS384);
    }

    #[test]
    fn each_unsafe_key_is_refused_with_its_reason() {
        let n = rsa_n(2048);
        let p256 = URL_SAFE_NO_PAD.encode([1u8; 32]);
        assert_eq!(
            err(json!({"kty":"RSA","kid":"a","n":rsa_n(1024),"e":"AQAB"})),
            KeyRejected::RsaSize(1024)
        );
        assert_eq!(
            err(json!({"kty":"RSA","kid":"a","n":rsa_n(2040),"e":"AQAB"})),
            KeyRejected::RsaSize(2040)
        );
        assert_eq!(
            err(json!({"kty":"RSA","n":n,"e":"AQAB"})),
            KeyRejected::MissingKid
        );
        assert_eq!(
            err(json!({"kty":"RSA","kid":"","n":n,"e":"AQAB"})),
            KeyRejected::MissingKid
        );
        assert_eq!(
            err(json!({"kty":"RSA","kid":"a","use":"enc","n":n,"e":"AQAB"})),
            KeyRejected::NotForSignatures
        );
        assert_eq!(
            err(json!({"kty":"RSA","kid":"a","key_ops":["encrypt"],"n":n,"e":"AQAB"})),
            KeyRejected::NotForVerify
        );
        assert_eq!(
            err(json!({"kty":"oct","kid":"a","k":"c2VjcmV0"})),
            KeyRejected::Symmetric
        );
        assert_eq!(
            err(json!({"kty":"RSA","kid":"a","alg":"ES256","n":n,"e":"AQAB"})),
            KeyRejected::AlgorithmMismatch(KeyAlgorithm::ES256)
        );
        assert_eq!(
            err(json!({"kty":"EC","kid":"a","crv":"P-256","alg":"ES384","x":p256,"y":p256})),
            KeyRejected::AlgorithmMismatch(KeyAlgorithm::ES384)
        );
        assert_eq!(
            err(json!({"kty":"EC","kid":"a","crv":"P-256","x":"AAAA","y":p256})),
            KeyRejected::InvalidParameters("EC coordinate length")
        );
        assert_eq!(
            err(json!({"kty":"EC","kid":"a","crv":"Ed25519","x":p256,"y":p256})),
            KeyRejected::Unsupported
        );
        assert!(matches!(
            err(json!({"kty":"RSA","kid":"a","alg":"HS256","n":n,"e":"AQAB"})),
            KeyRejected::AlgorithmMismatch(_)
        ));
        assert!(matches!(
            err(json!({"kty":"XYZ","kid":"a"})),
            KeyRejected::Unsupported | KeyRejected::Unparsable(_)
        ));
        assert!(matches!(
            err(json!(["not", "an", "object"])),
            KeyRejected::Unparsable(_)
        ));
    }

    #[test]
    fn one_bad_entry_does_not_poison_the_set_and_duplicates_are_dropped() {
        let n = rsa_n(2048);
        let body = json!({"keys":[
            {"kty":"RSA","kid":"good","n":n,"e":"AQAB"},
            {"kty":"RSA","kid":"weak","n":rsa_n(1024),"e":"AQAB"},
            {"kty":"oct","kid":"hmac","k":"c2VjcmV0"},
            "garbage",
            {"kty":"RSA","kid":"twin","n":n,"e":"AQAB"},
            {"kty":"RSA","kid":"twin","n":n,"e":"AQAB"}
        ]})
        .to_string();
        let keys = parse_set(body.as_bytes(), &DEFAULT_ALGORITHMS, 10).expect("one usable key");
        assert_eq!(
            keys.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(),
            ["good"]
        );
        assert_eq!(
            parse_set(b"[]", &DEFAULT_ALGORITHMS, 10).err(),
            Some(SetRejected::NotAnObject)
        );
        assert_eq!(
            parse_set(br#"{"keys":[]}"#, &DEFAULT_ALGORITHMS, 10).err(),
            Some(SetRejected::NoUsableKeys)
        );
        let many = json!({"keys": (0..5).map(|i| json!({"kty":"RSA","kid":format!("k{i}"),"n":n,"e":"AQAB"})).collect::<Vec<_>>()}).to_string();
        assert_eq!(
            parse_set(many.as_bytes(), &DEFAULT_ALGORITHMS, 3).map(|k| k.len()),
            Ok(3)
        );
    }

    #[test]
    fn a_key_outside_the_allow_list_is_refused() {
        let p256 = URL_SAFE_NO_PAD.encode([1u8; 32]);
        assert_eq!(
            bind(
                &json!({"kty":"EC","kid":"a","crv":"P-256","x":p256,"y":p256}),
                &[Algorithm::RS256]
            )
            .err(),
            Some(KeyRejected::NotAllowed(Algorithm::ES256))
        );
    }

    /// RFC 7638 §3.1's example key and thumbprint, bound as a DPoP proof's
    /// key; and what a proof's key may not be.
    #[test]
    fn an_embedded_key_has_its_rfc_7638_thumbprint_and_must_be_public() {
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let key = json!({"kty":"RSA","n":n,"e":"AQAB","alg":"RS256","kid":"2011-04-29"});
        let (bound, thumbprint) = bind_embedded(&key, Algorithm::RS256).expect("binds");
        assert_eq!(thumbprint, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
        assert_eq!(bound.alg, Algorithm::RS256);
        // Without its own alg, the proof's alg binds it, if it fits.
        let bare = json!({"kty":"RSA","n":n,"e":"AQAB"});
        assert_eq!(
            bind_embedded(&bare, Algorithm::PS256).expect("binds").0.alg,
            Algorithm::PS256
        );
        let err = |value: serde_json::Value, alg| bind_embedded(&value, alg).err();
        // Its own alg wins: a proof signed with another is refused.
        assert_eq!(
            err(key.clone(), Algorithm::PS256),
            Some(KeyRejected::NotAllowed(Algorithm::PS256))
        );
        assert_eq!(
            err(bare.clone(), Algorithm::ES256),
            Some(KeyRejected::AlgorithmMismatch(
                jsonwebtoken::jwk::KeyAlgorithm::ES256
            ))
        );
        let mut private = bare.clone();
        private["d"] = json!("AAAA");
        assert_eq!(err(private, Algorithm::RS256), Some(KeyRejected::Private));
        assert_eq!(
            err(json!({"kty":"oct","k":"c2VjcmV0"}), Algorithm::RS256),
            Some(KeyRejected::Private)
        );
        assert_eq!(
            err(json!("not an object"), Algorithm::RS256)
                .map(|e| matches!(e, KeyRejected::Unparsable(_))),
            Some(true)
        );
        // A curve that does not fit its type never reaches the thumbprint.
        let p256 = URL_SAFE_NO_PAD.encode([7u8; 32]);
        assert_eq!(
            err(
                json!({"kty":"EC","crv":"Ed25519","x":p256,"y":p256}),
                Algorithm::ES256
            ),
            Some(KeyRejected::Unsupported)
        );
        assert!(
            err(
                json!({"kty":"OKP","crv":"P-256","x":p256}),
                Algorithm::EdDSA
            )
            .is_some()
        );
    }
}
