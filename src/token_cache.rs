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

use crate::claims::{Authenticated, check_time};
use crate::error::Error;
use crate::keys::cache::KeyCache;
use crate::keys::jwk::VerifyingKey;

/// The cache key: BLAKE3 of the whole compact token. The token itself is
/// never stored.
pub(crate) type Digest = [u8; 32];

/// Bytes an entry costs beyond its claims text: the moka entry and its
/// bookkeeping, the digest, the shared claims value and its strings' headers.
/// Measured with `cargo bench --bench memory` (see BENCHMARKS.md).
const ENTRY_OVERHEAD_BYTES: u32 = 640;

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
    /// How long the entry may live, fixed when it is inserted.
    lifetime: Duration,
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
    pub(crate) fn digest(token: &str) -> Digest {
        *blake3::hash(token.as_bytes()).as_bytes()
    }

    /// The verdict for a token verified before, at time `now`; `None` when the
    /// token is not cached (or its key has since left the key set), and the
    /// full pipeline must run.
    pub(crate) fn get(&self, digest: &Digest, now: i64) -> Option<Result<Authenticated, Error>> {
        let entry = self.entries.get(digest)?;
        if entry.key.is_retired() {
            self.entries.invalidate(digest);
            return None;
        }
        entry.keys.refresh_if_stale();
        let registered = entry.authenticated.registered();
        Some(
            check_time(registered.exp, registered.nbf, entry.leeway_secs, now)
                .map(|()| entry.authenticated),
        )
    }

    /// Remembers a token that passed every check at time `now`, verified by
    /// `key` from `keys`; a token whose `exp` has passed (it was accepted
    /// within the leeway) is not cached.
    pub(crate) fn insert(
        &self,
        digest: Digest,
        authenticated: &Authenticated,
        key: Arc<VerifyingKey>,
        keys: &Arc<KeyCache>,
        leeway_secs: i64,
        now: i64,
    ) {
        let until_exp = authenticated.registered().exp.saturating_sub(now);
        let Ok(until_exp) = u64::try_from(until_exp) else {
            return;
        };
        if until_exp == 0 {
            return;
        }
        let lifetime = Duration::from_secs(until_exp).min(self.max_age);
        let text = u32::try_from(authenticated.claims_json().len()).unwrap_or(u32::MAX);
        self.entries.insert(
            digest,
            Entry {
                authenticated: authenticated.clone(),
                key,
                keys: Arc::clone(keys),
                leeway_secs,
                lifetime,
                weight: text.saturating_mul(2).saturating_add(ENTRY_OVERHEAD_BYTES),
            },
        );
    }
}
