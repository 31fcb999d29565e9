//! Tokens already verified, remembered by a BLAKE3 hash of the whole token so
//! that a token seen before costs a hash and a lookup instead of a signature
//! check.
//!
//! What a hit skips is only what cannot change for the same bytes: parsing,
//! the issuer, `typ`, algorithm and audience checks, and the signature. What
//! can change is checked on every hit, exactly as on the cold path:
//! - `exp` and `nbf` against the clock, with the issuer's leeway;
//! - the verifying key: once it leaves its key set, the entry is dropped and
//!   the token takes the cold path (where its `kid` is now unknown);
//! - the route's requirements, which run after this layer in any case.
//!
//! An entry never outlives the token's `exp` nor the configured maximum age,
//! and the cache is bounded by an estimate of the bytes its entries hold.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::clock::{Time, until_secs};
use crate::error::Error;
use crate::keys::cache::KeyCache;
use crate::keys::jwk::VerifyingKey;
use crate::token::claims::{Authenticated, check_time};

/// The cache key: BLAKE3 of the whole compact token. The token itself is
/// never stored.
pub(crate) type Digest = [u8; 32];

/// Bytes an entry costs beyond what its validated token holds
/// ([`Authenticated::heap_bytes`]: the claims text and every string copied out
/// of it, counted exactly): the moka entry and its bookkeeping, the digest,
/// the key handles. `cargo bench --bench memory` measured 850–900 bytes per
/// entry *including* the copied strings of a small token (see BENCHMARKS.md),
/// so 1 KiB on top of them is an upper bound with room for the allocator's
/// per-block overhead: the configured budget bounds the memory, whatever the
/// shape of the tokens (thousands of one-letter scopes included).
const ENTRY_OVERHEAD_BYTES: u32 = 1024;

/// Verified tokens by digest.
pub(crate) struct TokenCache {
    entries: moka::sync::Cache<Digest, Entry>,
    max_age: Duration,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("entries", &self.entries.entry_count())
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
struct Entry {
    authenticated: Authenticated,
    /// The key that verified the token.
    key: Arc<VerifyingKey>,
    /// The cache that key came from: a hit counts as a use of its key set.
    keys: Arc<KeyCache>,
    leeway_secs: i64,
    /// How long the entry may live, fixed when it is inserted: what moka
    /// frees memory by.
    lifetime: Duration,
    /// The clock's monotonic time at which the entry stops answering: what
    /// every hit is checked against, so that an injected clock governs it.
    until: Duration,
    weight: u32,
}

/// Each entry lives for the lifetime computed at insertion: until the token's
/// `exp` or the maximum age, whichever comes first.
struct Lifetime;

impl moka::Expiry<Digest, Entry> for Lifetime {
    fn expire_after_create(&self, _: &Digest, entry: &Entry, _: Instant) -> Option<Duration> {
        Some(entry.lifetime)
    }
}

impl TokenCache {
    /// A cache holding about `max_bytes` of entries, each for at most
    /// `max_age`; `None` (no caching) when either is zero.
    pub(crate) fn new(max_bytes: u64, max_age: Duration) -> Option<Self> {
        if max_bytes == 0 || max_age.is_zero() {
            return None;
        }
        let entries = moka::sync::Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|_: &Digest, entry: &Entry| entry.weight)
            .expire_after(Lifetime)
            .build();
        Some(TokenCache { entries, max_age })
    }

    /// The cache key for `token`.
    pub(crate) fn digest(token: &[u8]) -> Digest {
        *blake3::hash(token).as_bytes()
    }

    /// The verdict for a token verified before, at time `now`; `None` when the
    /// token is not cached (or its key has since left the key set), and the
    /// full pipeline must run.
    pub(crate) fn get(&self, digest: &Digest, time: &Time) -> Option<Result<Authenticated, Error>> {
        let entry = self.entries.get(digest)?;
        // A retired key, an ended entry, or keys past their maximum
        // staleness (the cold path answers 503 then): not a hit.
        if entry.key.is_retired() || time.monotonic() >= entry.until || entry.keys.is_too_stale() {
            self.entries.invalidate(digest);
            return None;
        }
        entry.keys.refresh_if_stale();
        crate::metrics::token_cache_hit();
        let registered = entry.authenticated.registered();
        Some(
            check_time(
                registered.exp,
                registered.nbf,
                entry.leeway_secs,
                time.now_secs(),
            )
            .map(|()| entry.authenticated),
        )
    }

    /// Remembers a token that passed every check, verified by `key` from
    /// `keys`; a token whose `exp` has passed (it was accepted within the
    /// leeway) is not cached.
    pub(crate) fn insert(
        &self,
        digest: Digest,
        authenticated: &Authenticated,
        key: Arc<VerifyingKey>,
        keys: &Arc<KeyCache>,
        leeway_secs: i64,
        time: &Time,
    ) {
        // Until the exact second `exp` names, not `exp - now` whole seconds
        // (which would overshoot by the fraction of the current second).
        let until_exp = until_secs(time.now(), authenticated.registered().exp);
        if until_exp.is_zero() {
            return;
        }
        let lifetime = until_exp.min(self.max_age);
        let until = time.monotonic().saturating_add(lifetime);
        let held = u32::try_from(authenticated.heap_bytes()).unwrap_or(u32::MAX);
        self.entries.insert(
            digest,
            Entry {
                authenticated: authenticated.clone(),
                key,
                keys: Arc::clone(keys),
                leeway_secs,
                lifetime,
                until,
                weight: held.saturating_add(ENTRY_OVERHEAD_BYTES),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;
    use crate::clock::ManualClock;
    use crate::token::algorithm::Algorithm;
    use crate::token::claim_map::ClaimMap;
    use crate::token::claims::{ClaimRules, check_claims};

    const NOW: i64 = 1_700_000_000;

    struct Fixture {
        cache: TokenCache,
        digest: Digest,
        keys: Arc<KeyCache>,
        clock: ManualClock,
        time: Time,
    }

    impl Fixture {
        /// The verdict of a lookup at the wall-clock second `t`.
        fn at(&self, t: i64) -> Option<Result<i64, Error>> {
            let secs = u64::try_from(t).unwrap_or_default();
            self.clock
                .set_wall_clock(UNIX_EPOCH + Duration::from_secs(secs));
            self.cache
                .get(&self.digest, &self.time)
                .map(|r| r.map(|a| a.registered().exp))
        }
    }

    fn fixture(claims: &str, max_age: Duration) -> Fixture {
        let jwks = format!(
            r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","kid":"k","x":"{}"}}]}}"#,
            "A".repeat(43)
        );
        let keys = crate::keys::jwk::parse_set(jwks.as_bytes(), &[Algorithm::EdDSA], 4)
            .expect("valid set");
        let keys = KeyCache::preloaded(keys, vec![Algorithm::EdDSA]).expect("cache");
        let key = keys.key_now("k").expect("held");
        let rules = ClaimRules {
            audiences: vec!["api".into()],
            leeway_secs: 10,
            map: ClaimMap::default(),
            require_permissions: false,
            required: &[],
        };
        let clock = ManualClock::starting_at(UNIX_EPOCH + Duration::from_secs(NOW as u64));
        let time = Time::new(Arc::new(clock.clone()));
        let authenticated = check_claims(claims, &rules, NOW).expect("valid claims");
        let cache = TokenCache::new(1 << 20, max_age).expect("on");
        let digest = TokenCache::digest(claims.as_bytes());
        cache.insert(digest, &authenticated, key, &keys, rules.leeway_secs, &time);
        Fixture {
            cache,
            digest,
            keys,
            clock,
            time,
        }
    }

    /// A hit checks `exp` and `nbf` against the clock it is given, with the
    /// leeway, exactly as `claims::validate` does cold.
    #[test]
    fn a_hit_checks_exp_and_nbf_with_the_leeway() {
        let (exp, nbf) = (NOW + 100, NOW - 5);
        let claims = format!(r#"{{"iss":"i","aud":"api","exp":{exp},"nbf":{nbf}}}"#);
        let f = fixture(&claims, Duration::from_secs(600));
        assert_eq!(f.at(NOW), Some(Ok(exp)));
        assert_eq!(f.at(exp + 9), Some(Ok(exp)), "inside the leeway");
        assert_eq!(f.at(exp + 10), Some(Err(Error::Expired)));
        assert_eq!(f.at(nbf - 10), Some(Ok(exp)), "inside the leeway");
        assert_eq!(f.at(nbf - 11), Some(Err(Error::NotYetValid)));
        assert!(f.cache.get(&[0; 32], &f.time).is_none(), "a miss");
    }

    /// An entry answers until the token's exact `exp` or the maximum age,
    /// whichever is first, measured on the injected clock's monotonic time.
    #[test]
    fn an_entry_lives_until_exp_or_the_maximum_age() {
        let claims = format!(r#"{{"iss":"i","aud":"api","exp":{}}}"#, NOW + 100);
        let f = fixture(&claims, Duration::from_secs(30));
        f.clock.advance(Duration::from_millis(29_999));
        assert!(matches!(f.cache.get(&f.digest, &f.time), Some(Ok(_))));
        f.clock.advance(Duration::from_millis(1));
        assert!(f.cache.get(&f.digest, &f.time).is_none(), "max age reached");

        let f = fixture(&claims, Duration::from_secs(600));
        f.clock.advance(Duration::from_millis(99_999));
        assert!(matches!(f.cache.get(&f.digest, &f.time), Some(Ok(_))));
        f.clock.advance(Duration::from_millis(1));
        assert!(f.cache.get(&f.digest, &f.time).is_none(), "exp reached");
    }

    /// An entry weighs what its token holds: many short scopes weigh far
    /// more than their share of the claims text (a list entry and a string
    /// each), and the weight counts every one of them.
    #[test]
    fn an_entry_weighs_every_copied_string_not_only_the_claims_text() {
        let scopes: Vec<String> = (0..2_000).map(|i| format!("s{i}")).collect();
        let claims = format!(
            r#"{{"iss":"i","aud":"api","exp":{},"scp":"{}"}}"#,
            NOW + 100,
            scopes.join(" ")
        );
        let f = fixture(&claims, Duration::from_secs(60));
        let held = f
            .cache
            .get(&f.digest, &f.time)
            .and_then(Result::ok)
            .map(|a| a.heap_bytes())
            .expect("a hit");
        // Each of the 2,000 names is a block of at least 32 bytes, beside
        // its place in the list and the claims text.
        let list = 2_000 * std::mem::size_of::<String>();
        assert!(held >= claims.len() + list + 2_000 * 32, "{held}");
        f.cache.entries.run_pending_tasks();
        assert_eq!(
            f.cache.entries.weighted_size(),
            u64::try_from(held).expect("fits") + u64::from(ENTRY_OVERHEAD_BYTES)
        );
    }

    /// Once its key is retired, an entry is gone: the token goes cold.
    #[test]
    fn an_entry_whose_key_is_retired_is_a_miss() {
        let claims = format!(r#"{{"iss":"i","aud":"api","exp":{}}}"#, NOW + 100);
        let f = fixture(&claims, Duration::from_secs(60));
        assert!(matches!(f.cache.get(&f.digest, &f.time), Some(Ok(_))));
        f.keys.key_now("k").expect("held").retire();
        assert!(f.cache.get(&f.digest, &f.time).is_none());
        assert!(f.cache.get(&f.digest, &f.time).is_none(), "and stays gone");
    }
}
