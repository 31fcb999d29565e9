//! Proof keys already bound, by the exact text of the `jwk` header that
//! carried them: a client signs every proof with the same key and sends the
//! same `jwk` member each time, so the key's parse, checks, import into the
//! crypto backend and RFC 7638 thumbprint are done once per key, not once
//! per proof.
//!
//! What is cached is a function of its cache key alone: the `jwk` member's
//! JSON text, compared byte for byte (never by hash alone), and the proof
//! algorithm it was bound to. Binding ([`bind_embedded`]) reads nothing
//! else, so a hit is exactly what binding the same text for the same
//! algorithm again would give. Only keys that passed every check of
//! [`bind_embedded`] (public members only, type, curve, sizes, the
//! algorithm's fit) and then verified a proof's signature are inserted; a
//! refused key is never cached, and is refused again, with the same reason,
//! every time it is sent. Nothing about a proof is cached: its signature,
//! claims, `jti` and everything it says of the request and the token are
//! checked for every request, with the cached key.
//!
//! The cache is per validator (one per [`Dpop`](super::Dpop) policy) and
//! bounded by both a count of keys and an estimate of the bytes they hold.
//! Full, it drops an arbitrary entry of the shard it inserts into: a client
//! sending many keys can only make others miss (and pay the full binding,
//! as without a cache), never make a key verify what it did not sign.
//! The hash (foldhash, randomly seeded) only spreads texts over shards and
//! buckets; the text decides. A shard holds a few hundred keys at most, so
//! texts made to collide would cost a lookup a few hundred comparisons:
//! less than binding one key.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, PoisonError, RwLock};

use crate::keys::jwk::{KeyRejected, VerifyingKey, bind_embedded};
use crate::token::algorithm::Algorithm;

/// How many bound keys a policy's cache holds at most.
pub(crate) const DEFAULT_MAX_KEYS: usize = 4096;
/// The estimated bytes a policy's cache holds at most ([`weight`]).
pub(crate) const DEFAULT_MAX_BYTES: usize = 4 * 1024 * 1024;
/// How many locks the keys are spread over.
const SHARDS: usize = 16;

/// A proof key, bound to one algorithm, and its RFC 7638 SHA-256
/// thumbprint (base64url): what a token's `cnf.jkt` names.
#[derive(Debug)]
pub(crate) struct ProofKey {
    pub(crate) key: VerifyingKey,
    pub(crate) jkt: String,
}

/// The estimated bytes one bound key costs, from its `jwk` text's length:
/// the text itself, the decoded key material kept by jsonwebtoken and the
/// key parsed by the backend (aws-lc's RSA keys hold a few times the
/// modulus), and a fixed part for the thumbprint, the allocations and the
/// map. `cargo bench --bench memory` measured 465–955 bytes of Rust
/// allocations and 105–1,496 bytes in aws-lc's heap per key (RSA-2048
/// 2,451 in all, from a ~400-byte JWK, weighed 2,624 here).
pub(crate) fn weight(jwk_len: usize) -> usize {
    1024_usize.saturating_add(jwk_len.saturating_mul(4))
}

/// One shard: bound keys by their `jwk` text, each text with the keys it
/// was bound to for each algorithm (an RSA key without its own `alg` may be
/// used with several).
#[derive(Default)]
struct Shard {
    entries: HashMap<Box<[u8]>, Vec<Arc<ProofKey>>, foldhash::fast::RandomState>,
    /// How many keys the shard holds (all texts, all algorithms).
    keys: usize,
    /// Their total [`weight`].
    bytes: usize,
}

impl Shard {
    /// Drops the entry for `text` and everything it holds.
    fn remove(&mut self, text: &[u8]) {
        if let Some(bound) = self.entries.remove(text) {
            let each = weight(text.len());
            self.keys = self.keys.saturating_sub(bound.len());
            self.bytes = self.bytes.saturating_sub(each.saturating_mul(bound.len()));
        }
    }
}

/// Bound proof keys by `(algorithm, jwk text)`; see the module's text.
pub(crate) struct ProofKeyCache {
    shards: Box<[RwLock<Shard>]>,
    /// Chooses a text's shard (the maps have their own seeds).
    spread: foldhash::fast::RandomState,
    keys_per_shard: usize,
    bytes_per_shard: usize,
}

impl std::fmt::Debug for ProofKeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProofKeyCache")
            .field("max_keys", &(self.keys_per_shard * self.shards.len()))
            .field("max_bytes", &(self.bytes_per_shard * self.shards.len()))
            .finish_non_exhaustive()
    }
}

impl Default for ProofKeyCache {
    fn default() -> Self {
        ProofKeyCache::new(DEFAULT_MAX_KEYS, DEFAULT_MAX_BYTES)
    }
}

impl ProofKeyCache {
    /// A cache holding at most `max_keys` keys and `max_bytes` of them by
    /// [`weight`] (each split evenly over the shards, rounded up).
    pub(crate) fn new(max_keys: usize, max_bytes: usize) -> Self {
        ProofKeyCache {
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
            spread: foldhash::fast::RandomState::default(),
            keys_per_shard: max_keys.div_ceil(SHARDS).max(1),
            bytes_per_shard: max_bytes.div_ceil(SHARDS),
        }
    }

    fn shard(&self, text: &[u8]) -> Option<&RwLock<Shard>> {
        let hash = self.spread.hash_one(text);
        // The remainder is below SHARDS, which fits any usize.
        let at = usize::try_from(hash % SHARDS as u64).unwrap_or(0);
        self.shards.get(at)
    }

    /// The key the `jwk` text `text` was bound to for `alg` before, if the
    /// cache still holds it.
    pub(crate) fn get(&self, alg: Algorithm, text: &[u8]) -> Option<Arc<ProofKey>> {
        let shard = self
            .shard(text)?
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        shard
            .entries
            .get(text)?
            .iter()
            .find(|bound| bound.key.alg == alg)
            .cloned()
    }

    /// The key `text` binds to for `alg`: from the cache, or bound now
    /// ([`bind_embedded`], every check) and not yet cached. The second value
    /// says whether it came from the cache; a key bound now is cached by
    /// [`insert`](Self::insert) once it has verified a proof.
    pub(crate) fn get_or_bind(
        &self,
        alg: Algorithm,
        text: &str,
    ) -> Result<(Arc<ProofKey>, bool), KeyRejected> {
        if let Some(bound) = self.get(alg, text.as_bytes()) {
            return Ok((bound, true));
        }
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|_| KeyRejected::Unparsable("not JSON".into()))?;
        let (key, jkt) = bind_embedded(&value, alg)?;
        Ok((Arc::new(ProofKey { key, jkt }), false))
    }

    /// Keeps `bound`, which [`bind_embedded`] bound from `text` for its
    /// algorithm, making room if the shard is full. A key heavier than a
    /// whole shard is not kept.
    pub(crate) fn insert(&self, text: &[u8], bound: Arc<ProofKey>) {
        let each = weight(text.len());
        if each > self.bytes_per_shard {
            return;
        }
        let Some(shard) = self.shard(text) else {
            return;
        };
        let mut shard = shard.write().unwrap_or_else(PoisonError::into_inner);
        let alg = bound.key.alg;
        if shard
            .entries
            .get(text)
            .is_some_and(|keys| keys.iter().any(|k| k.key.alg == alg))
        {
            // Another request bound the same key meanwhile.
            return;
        }
        while shard.keys >= self.keys_per_shard
            || shard.bytes.saturating_add(each) > self.bytes_per_shard
        {
            // Any entry: where the seeded hash put it decides which.
            let Some(victim) = shard.entries.keys().next().cloned() else {
                break;
            };
            shard.remove(&victim);
        }
        match shard.entries.get_mut(text) {
            Some(keys) => keys.push(bound),
            None => {
                shard.entries.insert(text.into(), vec![bound]);
            }
        }
        shard.keys = shard.keys.saturating_add(1);
        shard.bytes = shard.bytes.saturating_add(each);
    }

    /// How many keys the cache holds, all shards.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().unwrap_or_else(PoisonError::into_inner).keys)
            .sum()
    }

    /// Their total [`weight`].
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().unwrap_or_else(PoisonError::into_inner).bytes)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpop::proof::verify;
    use crate::error::Error;
    use crate::token::algorithm::DEFAULT_ALGORITHMS;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jsonwebtoken::EncodingKey;

    /// The bundled test keys, and their public JWKs as a client sends them.
    const P256_1: &str = include_str!("../testing/keys/p256_1.pem");
    const P256_2: &str = include_str!("../testing/keys/p256_2.pem");
    const ED25519_2: &str = include_str!("../testing/keys/ed25519_2.pem");
    const JWK_1: &str = r#"{"crv":"P-256","kty":"EC","x":"NlhYXK7OpDhqv1xWGj4GB6zloiECS2HRzN5eH1cwSwA","y":"hBCh2E-d11O39yw1AVmP2KeNyxS1ajOOAXVNGd0EOV8"}"#;
    const JWK_2: &str = r#"{"crv":"P-256","kty":"EC","x":"Szu-7sfohsiZKpgiV1wi8BoMzaXQMf8DA4uaqy50DUc","y":"UEwVWg5UFN9Qmn0lWbBum-PT460Hb7--5sz-lKUwrIg"}"#;
    const JWK_ED: &str =
        r#"{"kty":"OKP","crv":"Ed25519","x":"7hxKo2CSv7HEr6pSdfwOG7hQJPXmFnudB__fp9-Jlfs"}"#;

    /// A proof with the header `{"typ":"dpop+jwt","alg":alg,"jwk":jwk}`,
    /// `jwk` inserted as text, exactly, signed by `pem`.
    fn proof(pem: &str, alg: &str, jwk: &str) -> String {
        let header = format!(r#"{{"typ":"dpop+jwt","alg":"{alg}","jwk":{jwk}}}"#);
        let claims = r#"{"jti":"j","htm":"GET","htu":"https://api.example.test/","iat":1}"#;
        let message = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims)
        );
        let (key, alg) = if pem == ED25519_2 {
            (
                EncodingKey::from_ed_pem(pem.as_bytes()).expect("key"),
                jsonwebtoken::Algorithm::EdDSA,
            )
        } else {
            (
                EncodingKey::from_ec_pem(pem.as_bytes()).expect("key"),
                jsonwebtoken::Algorithm::ES256,
            )
        };
        let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &key, alg).expect("signs");
        format!("{message}.{signature}")
    }

    fn check(proof: &str, keys: &ProofKeyCache) -> Result<String, Error> {
        verify(proof.as_bytes(), &DEFAULT_ALGORITHMS, 8192, keys).map(|p| p.key.jkt.clone())
    }

    fn thumbprint(jwk: &str) -> String {
        serde_json::from_str::<jsonwebtoken::jwk::Jwk>(jwk)
            .expect("JWK")
            .thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
            .expect("thumbprint")
    }

    #[test]
    fn two_keys_never_share_an_entry() {
        let keys = ProofKeyCache::default();
        for _ in 0..3 {
            assert_eq!(
                check(&proof(P256_1, "ES256", JWK_1), &keys).ok(),
                Some(thumbprint(JWK_1))
            );
            assert_eq!(
                check(&proof(P256_2, "ES256", JWK_2), &keys).ok(),
                Some(thumbprint(JWK_2))
            );
            assert_eq!(
                check(&proof(ED25519_2, "EdDSA", JWK_ED), &keys).ok(),
                Some(thumbprint(JWK_ED))
            );
        }
        assert_ne!(thumbprint(JWK_1), thumbprint(JWK_2));
        assert_eq!(keys.len(), 3);
        // Each key cached, a proof carrying one's exact text but signed by
        // the other is refused: the text gives its own key, never another.
        for (pem, jwk) in [(P256_2, JWK_1), (P256_1, JWK_2)] {
            assert_eq!(
                check(&proof(pem, "ES256", jwk), &keys)
                    .err()
                    .map(|e| e.to_string()),
                Some("DPoP proof refused: signature does not verify".into())
            );
        }
        let one = keys
            .get(Algorithm::ES256, JWK_1.as_bytes())
            .expect("cached");
        let two = keys
            .get(Algorithm::ES256, JWK_2.as_bytes())
            .expect("cached");
        assert!(!Arc::ptr_eq(&one, &two));
        assert_eq!(
            (one.jkt.clone(), two.jkt.clone()),
            (thumbprint(JWK_1), thumbprint(JWK_2))
        );
    }

    #[test]
    fn a_jwk_differing_by_one_byte_is_another_entry() {
        let keys = ProofKeyCache::default();
        assert!(check(&proof(P256_1, "ES256", JWK_1), &keys).is_ok());
        // The same key, one space more: another text, another entry (the
        // same key and thumbprint, bound again).
        let spaced = JWK_1.replacen(',', ", ", 1);
        assert_eq!(spaced.len(), JWK_1.len() + 1);
        assert!(keys.get(Algorithm::ES256, spaced.as_bytes()).is_none());
        assert_eq!(
            check(&proof(P256_1, "ES256", &spaced), &keys).ok(),
            Some(thumbprint(JWK_1))
        );
        assert_eq!(keys.len(), 2);
        // One character of a coordinate changed: another key, whose proofs
        // key 1 cannot sign (or no key at all); never cached.
        let changed = JWK_1.replacen("NlhY", "NlhZ", 1);
        assert!(keys.get(Algorithm::ES256, changed.as_bytes()).is_none());
        for _ in 0..3 {
            assert!(check(&proof(P256_1, "ES256", &changed), &keys).is_err());
        }
        assert!(keys.get(Algorithm::ES256, changed.as_bytes()).is_none());
        assert_eq!(keys.len(), 2);
        // The algorithm is part of the cache key.
        assert!(keys.get(Algorithm::ES384, JWK_1.as_bytes()).is_none());
        assert!(keys.get(Algorithm::EdDSA, JWK_1.as_bytes()).is_none());
    }

    #[test]
    fn a_refused_key_is_never_cached_and_refused_every_time() {
        let keys = ProofKeyCache::default();
        let private = JWK_1.replacen('}', r#","d":"BaN5Ys0yWFFbtBrr"}"#, 1);
        let own_alg = JWK_1.replacen('}', r#","alg":"ES384"}"#, 1);
        let cases = [
            // A private member, the key otherwise cached and the proof
            // signed by it.
            (proof(P256_1, "ES256", &private), "jwk holds a private key"),
            (
                proof(P256_1, "ES256", r#"{"kty":"oct","k":"c2VjcmV0"}"#),
                "jwk holds a private key",
            ),
            // A P-256 key for an Ed25519 proof, a key whose own alg is not
            // the proof's.
            (proof(ED25519_2, "EdDSA", JWK_1), "jwk does not fit alg"),
            (proof(P256_1, "ES256", &own_alg), "jwk does not fit alg"),
            (
                proof(P256_1, "ES256", r#""a string""#),
                "jwk is not a usable public key",
            ),
            // A usable key that did not sign the proof.
            (proof(P256_2, "ES256", JWK_1), "signature does not verify"),
        ];
        for round in 0..3 {
            for (proof, reason) in &cases {
                assert_eq!(
                    check(proof, &keys).err().map(|e| e.to_string()),
                    Some(format!("DPoP proof refused: {reason}")),
                    "round {round}"
                );
            }
            assert_eq!(keys.len(), 0, "round {round}");
        }
        // With JWK_1 cached, its private and mis-algorithmed variants and an
        // EdDSA proof carrying it are still refused: they are other keys.
        assert!(check(&proof(P256_1, "ES256", JWK_1), &keys).is_ok());
        for (proof, reason) in cases.iter().take(4) {
            assert_eq!(
                check(proof, &keys).err().map(|e| e.to_string()),
                Some(format!("DPoP proof refused: {reason}"))
            );
        }
        assert_eq!(keys.len(), 1);
    }

    #[test]
    fn the_cache_is_bounded_by_keys_and_by_bytes() {
        let keys = ProofKeyCache::default();
        assert!(check(&proof(P256_1, "ES256", JWK_1), &keys).is_ok());
        let bound = keys
            .get(Algorithm::ES256, JWK_1.as_bytes())
            .expect("cached");
        // Texts that differ by their whitespace: one entry each.
        let text = |i: usize| format!("{}{JWK_1}", " ".repeat(i));
        let small = ProofKeyCache::new(64, usize::MAX);
        for i in 0..1000 {
            small.insert(text(i).as_bytes(), Arc::clone(&bound));
            assert!(small.len() <= 64, "{} keys after {i}", small.len());
            // The key just inserted is there.
            assert!(small.get(Algorithm::ES256, text(i).as_bytes()).is_some());
        }
        assert!(small.len() > 32, "{}", small.len());
        // By bytes: room for about 40 of them.
        let budget = 40 * weight(text(500).len());
        let light = ProofKeyCache::new(usize::MAX, budget);
        for i in 0..1000 {
            light.insert(text(i).as_bytes(), Arc::clone(&bound));
            assert!(light.bytes() <= light.bytes_per_shard * SHARDS);
            assert!(light.bytes() <= budget, "{} bytes after {i}", light.bytes());
        }
        assert!(
            light.len() > 0 && light.len() <= 40 + SHARDS,
            "{}",
            light.len()
        );
        // A key heavier than a shard's share is not kept at all.
        let heavy = format!("{}{JWK_1}", " ".repeat(budget));
        light.insert(heavy.as_bytes(), Arc::clone(&bound));
        assert!(light.get(Algorithm::ES256, heavy.as_bytes()).is_none());
        // The default bound.
        assert_eq!(
            (keys.keys_per_shard * SHARDS, keys.bytes_per_shard * SHARDS),
            (DEFAULT_MAX_KEYS, DEFAULT_MAX_BYTES)
        );
    }
}
