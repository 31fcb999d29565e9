//! Tokens already verified, remembered by their own bytes, so that a token
//! seen before costs a fast hash, one comparison of its bytes and a lookup
//! instead of a signature check.
//!
//! The key is the whole compact token, compared byte for byte: a cached
//! verdict is only ever returned for exactly the bytes that were verified,
//! whatever the hash does. The hash only spreads keys over moka's table: two
//! tokens that share a hash are still two keys, and one who could make them
//! would at most make a lookup compare one more key. So it is cheap: foldhash,
//! seeded per cache from the standard library's randomly keyed `RandomState`,
//! over the token's length and its last [`HASHED_TAIL`] bytes, which are the
//! end of its signature. Only verified tokens are ever inserted, and their
//! signatures are the issuer's, unpredictable and different for every token:
//! hashing the rest of a 1.5 KB token would cost ~900 instructions per
//! request and spread the keys no better.
//!
//! What a hit skips is only what cannot change for the same bytes: parsing,
//! the issuer, `typ`, algorithm and audience checks, and the signature. What
//! can change is checked on every hit, exactly as on the cold path:
//! - `exp` and `nbf` against the clock, with the issuer's leeway;
//! - the verifying key: once it leaves its key set, the entry is dropped and
//!   the token takes the cold path (where its `kid` is now unknown);
//! - the route's requirements, which run after this layer in any case.
//!
//! A hit hands out the same [`Authenticated`] every time, so the claims a
//! handler reads as its own type are deserialized once per entry
//! ([`Authenticated::shared_claims`]); each value kept that way re-weighs
//! the entry.
//!
//! An entry never outlives the token's `exp` nor the configured maximum age,
//! and the cache is bounded by an estimate of the bytes its entries hold.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use moka::ops::compute::Op;

use crate::clock::{Time, until_secs};
use crate::error::Error;
use crate::keys::cache::KeyCache;
use crate::keys::jwk::VerifyingKey;
use crate::token::claims::{Authenticated, check_time};
use crate::token::permissions::heap_block;

/// The cache key: the compact token's bytes, shared with the hook that
/// re-weighs the entry.
type Key = Arc<[u8]>;

/// How many bytes at the end of a token the hash reads: 32 base64url
/// characters are the last 24 bytes of the signature.
const HASHED_TAIL: usize = 32;

/// Spreads keys over moka's table by their length and last [`HASHED_TAIL`]
/// bytes; the comparison of the whole bytes decides.
#[derive(Clone)]
struct KeyHasher(foldhash::fast::SeedableRandomState);

impl BuildHasher for KeyHasher {
    type Hasher = TailHasher;

    fn build_hasher(&self) -> TailHasher {
        TailHasher(self.0.build_hasher())
    }
}

/// What hashing a key (`[u8]`'s `Hash`: its length, then its bytes in one
/// `write`) feeds foldhash: the length and the last bytes.
struct TailHasher(foldhash::fast::FoldHasher<'static>);

impl Hasher for TailHasher {
    fn write(&mut self, bytes: &[u8]) {
        let tail = bytes.len().saturating_sub(HASHED_TAIL);
        self.0.write(bytes.get(tail..).unwrap_or(bytes));
    }

    fn write_usize(&mut self, n: usize) {
        self.0.write_usize(n);
    }

    fn finish(&self) -> u64 {
        self.0.finish()
    }
}

type Entries = moka::sync::Cache<Key, Arc<Entry>, KeyHasher>;

/// Bytes an entry costs beyond what it holds and is counted exactly (the
/// validated token's [`Authenticated::heap_bytes`], the key bytes, the entry
/// itself): moka's entry and its bookkeeping, the key handles.
/// `cargo bench --bench memory` measured 850–900 bytes per entry *including*
/// the copied strings of a small token (see BENCHMARKS.md), so 1 KiB on top
/// of them is an upper bound with room for the allocator's per-block
/// overhead: the configured budget bounds the memory, whatever the shape of
/// the tokens (thousands of one-letter scopes included).
const ENTRY_OVERHEAD_BYTES: u32 = 1024;

/// Verified tokens by their bytes.
pub(crate) struct TokenCache {
    /// Shared with the hooks that re-weigh entries, which hold it weakly.
    entries: Arc<Entries>,
    max_age: Duration,
    /// Tells entries apart across re-insertions of the same token.
    next_id: AtomicU64,
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
    id: u64,
}

/// Each entry lives for the lifetime computed at insertion: until the token's
/// `exp` or the maximum age, whichever comes first. Re-weighing it keeps the
/// time it has left (moka's default for updates).
struct Lifetime;

impl moka::Expiry<Key, Arc<Entry>> for Lifetime {
    fn expire_after_create(&self, _: &Key, entry: &Arc<Entry>, _: Instant) -> Option<Duration> {
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
        // 64 bits from the standard library's randomly keyed SipHash state
        // (seeded from the operating system), so that this cache's hash is
        // not guessable from the program's addresses alone.
        let seed = std::hash::RandomState::new().build_hasher().finish();
        let shared = foldhash::SharedSeed::global_random();
        let hasher = KeyHasher(foldhash::fast::SeedableRandomState::with_seed(seed, shared));
        let entries = moka::sync::Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|_: &Key, entry: &Arc<Entry>| entry.weight)
            .expire_after(Lifetime)
            .build_with_hasher(hasher);
        Some(TokenCache {
            entries: Arc::new(entries),
            max_age,
            next_id: AtomicU64::new(0),
        })
    }

    /// The verdict for `token` if it was verified before, at time `now`;
    /// `None` when it is not cached (or its key has since left the key set),
    /// and the full pipeline must run.
    pub(crate) fn get(&self, token: &[u8], time: &Time) -> Option<Result<Authenticated, Error>> {
        let entry = self.entries.get(token)?;
        let monotonic = time.monotonic();
        // A retired key, an ended entry, or keys past their maximum
        // staleness (the cold path answers 503 then): not a hit.
        if entry.key.is_retired()
            || monotonic >= entry.until
            || entry.keys.is_too_stale_at(monotonic)
        {
            self.entries.invalidate(token);
            return None;
        }
        entry.keys.refresh_if_stale_at(monotonic);
        crate::metrics::token_cache_hit();
        let registered = entry.authenticated.registered();
        Some(
            check_time(
                registered.exp,
                registered.nbf,
                entry.leeway_secs,
                time.now_secs(),
            )
            .map(|()| entry.authenticated.clone()),
        )
    }

    /// Remembers `token`, which passed every check, verified by `key` from
    /// `keys`; a token whose `exp` has passed (it was accepted within the
    /// leeway) is not cached.
    pub(crate) fn insert(
        &self,
        token: &[u8],
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
        let counts = 2 * std::mem::size_of::<usize>();
        // What is counted exactly: the token's claims and copied strings,
        // the key bytes (and moka's handle on them), the entry.
        let held = authenticated.heap_bytes()
            + heap_block(counts + token.len())
            + heap_block(counts + std::mem::size_of::<Key>())
            + heap_block(counts + std::mem::size_of::<Entry>());
        let held = u32::try_from(held).unwrap_or(u32::MAX);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let token: Key = Arc::from(token);
        let entries = Arc::downgrade(&self.entries);
        let hooked = Arc::clone(&token);
        authenticated.on_typed_kept(Box::new(move |bytes| {
            reweigh(&entries, &hooked, id, bytes);
        }));
        self.entries.insert(
            token,
            Arc::new(Entry {
                authenticated: authenticated.clone(),
                key,
                keys: Arc::clone(keys),
                leeway_secs,
                lifetime,
                until,
                weight: held.saturating_add(ENTRY_OVERHEAD_BYTES),
                id,
            }),
        );
    }
}

/// Adds `bytes` to the weight of the entry `id` under `token`, if it is still
/// there: an entry evicted or replaced in the meantime is left alone (never
/// brought back).
fn reweigh(entries: &Weak<Entries>, token: &Key, id: u64, bytes: usize) {
    let Some(entries) = entries.upgrade() else {
        return;
    };
    let added = u32::try_from(bytes).unwrap_or(u32::MAX);
    entries
        .entry(Arc::clone(token))
        .and_compute_with(|current| match current {
            Some(current) if current.value().id == id => {
                let mut entry = Entry::clone(current.value());
                entry.weight = entry.weight.saturating_add(added);
                Op::Put(Arc::new(entry))
            }
            _ => Op::Nop,
        });
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;
    use crate::clock::ManualClock;
    use crate::token::algorithm::Algorithm;
    use crate::token::claims::{ClaimRules, check_claims};

    const NOW: i64 = 1_700_000_000;

    struct Fixture {
        cache: TokenCache,
        token: Vec<u8>,
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
                .get(&self.token, &self.time)
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
        let rules = ClaimRules::for_tests(10);
        let clock = ManualClock::starting_at(UNIX_EPOCH + Duration::from_secs(NOW as u64));
        let time = Time::new(Arc::new(clock.clone()));
        let authenticated = check_claims(claims, &rules, NOW).expect("valid claims");
        let cache = TokenCache::new(1 << 20, max_age).expect("on");
        // The claims text stands for the token: the cache keeps any bytes.
        let token = claims.as_bytes().to_vec();
        cache.insert(&token, &authenticated, key, &keys, rules.leeway_secs, &time);
        Fixture {
            cache,
            token,
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
        assert!(matches!(f.cache.get(&f.token, &f.time), Some(Ok(_))));
        f.clock.advance(Duration::from_millis(1));
        assert!(f.cache.get(&f.token, &f.time).is_none(), "max age reached");

        let f = fixture(&claims, Duration::from_secs(600));
        f.clock.advance(Duration::from_millis(99_999));
        assert!(matches!(f.cache.get(&f.token, &f.time), Some(Ok(_))));
        f.clock.advance(Duration::from_millis(1));
        assert!(f.cache.get(&f.token, &f.time).is_none(), "exp reached");
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
            .get(&f.token, &f.time)
            .and_then(Result::ok)
            .map(|a| a.heap_bytes())
            .expect("a hit");
        // Each of the 2,000 names is a block of at least 32 bytes, beside
        // its place in the list and the claims text.
        let list = 2_000 * std::mem::size_of::<String>();
        assert!(held >= claims.len() + list + 2_000 * 32, "{held}");
        // Beside it, the key bytes (the whole token) and the entry itself.
        let least = held + f.token.len() + ENTRY_OVERHEAD_BYTES as usize;
        let weight = f.weight();
        assert!((least..least + 512).contains(&weight), "{weight} {least}");
    }

    impl Fixture {
        fn weight(&self) -> usize {
            self.cache.entries.run_pending_tasks();
            usize::try_from(self.cache.entries.weighted_size()).expect("fits")
        }
    }

    /// Only the exact bytes verified are a hit: a prefix, an extension or a
    /// change of one byte anywhere is a miss.
    #[test]
    fn only_the_exact_bytes_are_a_hit() {
        let claims = format!(r#"{{"iss":"i","aud":"api","exp":{}}}"#, NOW + 100);
        let f = fixture(&claims, Duration::from_secs(60));
        assert!(matches!(f.cache.get(&f.token, &f.time), Some(Ok(_))));
        let len = f.token.len();
        assert!(f.cache.get(&f.token[..len - 1], &f.time).is_none());
        assert!(
            f.cache
                .get(&[&f.token[..], b" "].concat(), &f.time)
                .is_none()
        );
        for at in 0..len {
            let mut other = f.token.clone();
            other[at] ^= 1;
            assert!(f.cache.get(&other, &f.time).is_none(), "byte {at}");
        }
        assert!(matches!(f.cache.get(&f.token, &f.time), Some(Ok(_))));
    }

    #[derive(serde::Deserialize)]
    struct Typed {
        aud: String,
    }

    /// Claims a handler reads as its own type are deserialized once per
    /// entry: every hit shares the value, and the entry is re-weighed once
    /// by what the value is charged.
    #[test]
    fn typed_claims_are_kept_once_per_entry_and_weighed() {
        let claims = format!(r#"{{"iss":"i","aud":"api","exp":{}}}"#, NOW + 100);
        let f = fixture(&claims, Duration::from_secs(60));
        let before = f.weight();
        let hit = || {
            f.cache
                .get(&f.token, &f.time)
                .and_then(Result::ok)
                .expect("a hit")
        };
        let first = hit().shared_claims::<Typed>().expect("fits");
        assert_eq!(first.aud, "api");
        let again = hit().shared_claims::<Typed>().expect("fits");
        assert!(Arc::ptr_eq(&first, &again), "deserialized once");
        let charged = crate::token::typed::value_bytes::<Typed>(&claims);
        assert_eq!(f.weight(), before + charged);
        hit().shared_claims::<Typed>().expect("fits");
        assert_eq!(f.weight(), before + charged, "charged once");
    }

    /// A value kept after its entry left the cache does not bring the entry
    /// back.
    #[test]
    fn a_value_kept_after_the_entry_left_does_not_bring_it_back() {
        let claims = format!(r#"{{"iss":"i","aud":"api","exp":{}}}"#, NOW + 100);
        let f = fixture(&claims, Duration::from_secs(60));
        let token = f
            .cache
            .get(&f.token, &f.time)
            .and_then(Result::ok)
            .expect("a hit");
        f.cache.entries.invalidate(&f.token[..]);
        assert_eq!(f.weight(), 0);
        assert_eq!(token.shared_claims::<Typed>().expect("fits").aud, "api");
        assert_eq!(f.weight(), 0);
        assert!(f.cache.get(&f.token, &f.time).is_none());
    }

    /// Once its key is retired, an entry is gone: the token goes cold.
    #[test]
    fn an_entry_whose_key_is_retired_is_a_miss() {
        let claims = format!(r#"{{"iss":"i","aud":"api","exp":{}}}"#, NOW + 100);
        let f = fixture(&claims, Duration::from_secs(60));
        assert!(matches!(f.cache.get(&f.token, &f.time), Some(Ok(_))));
        f.keys.key_now("k").expect("held").retire();
        assert!(f.cache.get(&f.token, &f.time).is_none());
        assert!(f.cache.get(&f.token, &f.time).is_none(), "and stays gone");
    }
}
