//! Replay protection for DPoP proofs (RFC 9449 §11.1): each proof's `jti`
//! is accepted once within the window its `iat` is accepted in.
//!
//! Behind a small trait, so that APIs on several machines can share one
//! store; `MemoryReplayStore` is the in-process default.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use crate::clock::Time;

/// The answer of a [`ReplayStore`]: `Ok(true)` when the key was new (and is
/// now recorded), `Ok(false)` when it was seen before, `Err` when the store
/// could not be asked (the request then fails closed with 503).
pub type ReplayFuture<'a> =
    Pin<Box<dyn Future<Output = Result<bool, ReplayStoreError>> + Send + 'a>>;

/// Why a [`ReplayStore`] could not answer.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ReplayStoreError(pub String);

/// Where the DPoP proofs already seen are recorded (RFC 9449 §11.1).
///
/// `insert_new` must be atomic: of two calls with the same key, at most one
/// answers `Ok(true)`, also across the machines that share the store.
pub trait ReplayStore: Send + Sync + fmt::Debug + 'static {
    /// Records `key` for `ttl` if it is not recorded already. `key` is a
    /// SHA-256 over the proof key's thumbprint and the proof's `jti`.
    fn insert_new(&self, key: [u8; 32], ttl: Duration) -> ReplayFuture<'_>;
}

/// The in-process replay store: each key kept for its window on the
/// layer's clock, at most `capacity` at once. Proofs seen by another process
/// are not seen here: give replicas a shared store.
///
/// Full (more proofs accepted within one window than it holds), it refuses
/// new proofs (503) rather than forget one it holds: a cache that evicted
/// under pressure would let a flood of fresh proofs push out the one an
/// attacker wants to replay.
pub(crate) struct MemoryReplayStore {
    shards: Vec<Mutex<HashMap<[u8; 32], i64>>>,
    per_shard: usize,
    time: Time,
}

/// How many locks the keys are spread over.
const SHARDS: usize = 16;

impl fmt::Debug for MemoryReplayStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryReplayStore")
            .field("capacity", &(self.per_shard * SHARDS))
            .finish_non_exhaustive()
    }
}

impl MemoryReplayStore {
    /// A store keeping at most `capacity` proofs (rounded up to a multiple
    /// of the shard count).
    pub(crate) fn new(capacity: usize, time: Time) -> Self {
        MemoryReplayStore {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
            time,
        }
    }

    /// `Some(true)` when `key` is new (now kept for `ttl`), `Some(false)`
    /// when it is kept already, `None` when the store is full.
    pub(crate) fn insert(&self, key: [u8; 32], ttl: Duration) -> Option<bool> {
        let now = self.time.now_secs();
        let until = now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX));
        // Keys are SHA-256 outputs: their first byte spreads them evenly.
        let shard = self.shards.get(usize::from(key[0]) % SHARDS)?;
        let mut seen = shard.lock().unwrap_or_else(PoisonError::into_inner);
        if seen.get(&key).is_some_and(|&kept| kept > now) {
            return Some(false);
        }
        if seen.len() >= self.per_shard {
            // Past their window, proofs are refused for their age: drop them.
            seen.retain(|_, kept| *kept > now);
            if seen.len() >= self.per_shard {
                return None;
            }
        }
        seen.insert(key, until);
        Some(true)
    }
}

impl ReplayStore for MemoryReplayStore {
    fn insert_new(&self, key: [u8; 32], ttl: Duration) -> ReplayFuture<'_> {
        let answer = self.insert(key, ttl).ok_or_else(|| {
            ReplayStoreError("the in-process replay store is full for this window".into())
        });
        Box::pin(std::future::ready(answer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use std::sync::Arc;

    #[test]
    fn a_key_is_new_once_within_its_window_on_the_layers_clock() {
        let clock = ManualClock::new();
        let store = MemoryReplayStore::new(100, Time::new(Arc::new(clock.clone())));
        let ttl = Duration::from_secs(10);
        assert_eq!(store.insert([1; 32], ttl), Some(true));
        assert_eq!(store.insert([1; 32], ttl), Some(false));
        assert_eq!(store.insert([2; 32], ttl), Some(true));
        clock.advance(Duration::from_secs(9));
        assert_eq!(store.insert([1; 32], ttl), Some(false));
        clock.advance(Duration::from_secs(1));
        assert_eq!(
            store.insert([1; 32], ttl),
            Some(true),
            "the window has passed"
        );
        assert_eq!(store.insert([1; 32], ttl), Some(false));
    }

    /// Full, the store refuses new proofs and still remembers every one it
    /// holds: a flood never pushes out a proof to replay. Once their window
    /// has passed, room is made again.
    #[test]
    fn a_full_store_refuses_new_proofs_and_forgets_none() {
        let clock = ManualClock::new();
        let store = MemoryReplayStore::new(SHARDS, Time::new(Arc::new(clock.clone())));
        let ttl = Duration::from_secs(10);
        let key = |shard: usize, n: u8| {
            let mut key = [n; 32];
            key[0] = u8::try_from(shard).expect("small");
            key
        };
        for shard in 0..SHARDS {
            assert_eq!(store.insert(key(shard, 1), ttl), Some(true));
        }
        for shard in 0..SHARDS {
            assert_eq!(
                store.insert(key(shard, 2), ttl),
                None,
                "shard {shard} is full"
            );
            assert_eq!(
                store.insert(key(shard, 1), ttl),
                Some(false),
                "still remembered"
            );
        }
        clock.advance(Duration::from_secs(10));
        assert_eq!(
            store.insert(key(0, 2), ttl),
            Some(true),
            "expired proofs made room"
        );
    }

    #[test]
    fn concurrent_inserts_of_one_key_let_exactly_one_through() {
        let store = Arc::new(MemoryReplayStore::new(4096, Time::default()));
        let winners: usize = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    let store = Arc::clone(&store);
                    s.spawn(move || {
                        (0..200u8)
                            .filter(|&i| {
                                store.insert([i; 32], Duration::from_secs(60)) == Some(true)
                            })
                            .count()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("thread")).sum()
        });
        assert_eq!(winners, 200);
    }
}
