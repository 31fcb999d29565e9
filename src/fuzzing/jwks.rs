//! JWKS parsing and key binding (`keys::jwk`).

use jsonwebtoken::AlgorithmFamily;

use crate::keys::jwk::{MAX_KID_BYTES, parse_set};
use crate::token::algorithm::DEFAULT_ALGORITHMS;

/// Any bytes as a JWKS document. Whatever survives is bounded,
/// has unique, non-empty, bounded `kid`s, and binds each key to one allowed
/// algorithm that fits its key type; binding is deterministic.
/// # Panics
/// When an invariant breaks: that is the finding.
#[allow(clippy::panic)]
pub fn jwks(data: &[u8]) {
    const MAX_KEYS: usize = 8;
    let allowed = DEFAULT_ALGORITHMS;
    let Ok(keys) = parse_set(data, &allowed, MAX_KEYS) else {
        return;
    };
    assert!(
        !keys.is_empty() && keys.len() <= MAX_KEYS,
        "key count out of bounds"
    );
    for (i, key) in keys.iter().enumerate() {
        assert!(
            !key.kid.is_empty() && key.kid.len() <= MAX_KID_BYTES,
            "kid out of bounds"
        );
        assert!(
            keys.iter().skip(i + 1).all(|k| k.kid != key.kid),
            "duplicate kid kept"
        );
        assert!(
            allowed.contains(&key.alg),
            "algorithm outside the allow-list"
        );
        assert_eq!(
            key.alg.to_jsonwebtoken().family(),
            key.key.family(),
            "algorithm does not fit the key type"
        );
        assert_ne!(
            key.key.family(),
            AlgorithmFamily::Hmac,
            "symmetric key kept"
        );
    }
    let again = parse_set(data, &allowed, MAX_KEYS)
        .map(|k| k.iter().map(|k| (k.kid.clone(), k.alg)).collect::<Vec<_>>());
    assert_eq!(
        again,
        Ok(keys.iter().map(|k| (k.kid.clone(), k.alg)).collect()),
        "binding is not deterministic"
    );
}
