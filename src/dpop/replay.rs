//! Replay protection for DPoP proofs (RFC 9449 §11.1): each proof's `jti`
//! is accepted once within the window its `iat` is accepted in.
//!
//! Behind a small trait, so that APIs on several machines can share one
//! store; `MemoryReplayStore` is the in-process default.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use moka::sync::Cache;

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

/// The in-process replay store: a bounded cache, each key kept for its
/// window on the layer's clock. Proofs seen by another process are not
/// seen here: give replicas a shared store.
pub(crate) struct MemoryReplayStore {
    seen: Cache<[u8; 32], i64>,
    time: Time,
}

impl fmt::Debug for MemoryReplayStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryReplayStore")
            .field("entries", &self.seen.entry_count())
            .finish_non_exhaustive()
    }
}

impl MemoryReplayStore {
    /// A store keeping at most `capacity` proofs, each for at most
    /// `max_ttl` of real time (the proofs' window is kept on the layer's
    /// clock; this only frees memory).
    pub(crate) fn new(capacity: u64, max_ttl: Duration, time: Time) -> Self {
        MemoryReplayStore {
            seen: Cache::builder()
                .max_capacity(capacity)
                .time_to_live(max_ttl)
                .build(),
            time,
        }
    }

    /// The synchronous answer.
    pub(crate) fn insert(&self, key: [u8; 32], ttl: Duration) -> bool {
        let now = self.time.now_secs();
        let until = now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX));
        let mut new = false;
        // Atomic for one key: moka runs the closure under the key's lock.
        self.seen.entry(key).and_compute_with(|seen| match seen {
            Some(entry) if *entry.value() > now => moka::ops::compute::Op::Nop,
            _ => {
                new = true;
                moka::ops::compute::Op::Put(until)
            }
        });
        new
    }
}

impl ReplayStore for MemoryReplayStore {
    fn insert_new(&self, key: [u8; 32], ttl: Duration) -> ReplayFuture<'_> {
        let new = self.insert(key, ttl);
        Box::pin(std::future::ready(Ok(new)))
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
        let store = MemoryReplayStore::new(
            100,
            Duration::from_secs(3600),
            Time::new(Arc::new(clock.clone())),
        );
        let ttl = Duration::from_secs(10);
        assert!(store.insert([1; 32], ttl));
        assert!(!store.insert([1; 32], ttl));
        assert!(store.insert([2; 32], ttl));
        clock.advance(Duration::from_secs(9));
        assert!(!store.insert([1; 32], ttl));
        clock.advance(Duration::from_secs(1));
        assert!(store.insert([1; 32], ttl), "the window has passed");
        assert!(!store.insert([1; 32], ttl));
    }

    #[test]
    fn concurrent_inserts_of_one_key_let_exactly_one_through() {
        let store = Arc::new(MemoryReplayStore::new(
            1000,
            Duration::from_secs(3600),
            Time::default(),
        ));
        let winners: usize = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    let store = Arc::clone(&store);
                    s.spawn(move || {
                        (0..200u8)
                            .filter(|&i| store.insert([i; 32], Duration::from_secs(60)))
                            .count()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("thread")).sum()
        });
        assert_eq!(winners, 200);
    }
}
