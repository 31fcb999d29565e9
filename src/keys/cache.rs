//! The issuer's keys, held in a moka cache by `kid`, refreshed on an unknown
//! `kid` at most once per cooldown, by one shared fetch, and in the background
//! once the set is older than its maximum age (so a key the issuer withdrew
//! stops verifying even when no new `kid` ever shows up).
//!
//! The fetch runs in its own task: a request that gives up (client gone, timeout)
//! never abandons it halfway, and every request waiting for it shares its result.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures_util::FutureExt as _;
use futures_util::future::{BoxFuture, Shared};
use jsonwebtoken::Algorithm;
use reqwest::Url;

use super::fetch::{FetchError, Fetcher};
use super::jwk::{VerifyingKey, parse_set};
use crate::error::Error;

/// Where the key set comes from.
#[derive(Debug, Clone)]
pub(crate) enum KeySource {
    /// OpenID Connect discovery: the document at `url` must name `issuer`.
    Discovery { url: Url, issuer: String },
    /// An explicit `jwks_uri`.
    Jwks(Url),
}

/// The settings of a key cache.
#[derive(Debug, Clone)]
pub(crate) struct KeyCacheConfig {
    pub source: KeySource,
    pub algorithms: Vec<Algorithm>,
    pub max_keys: usize,
    pub refresh_cooldown: Duration,
    pub max_age: Duration,
}

type RefreshFuture = Shared<BoxFuture<'static, bool>>;

#[derive(Default)]
struct RefreshState {
    /// When the last fetch started; no other starts within the cooldown.
    last_started: Option<Instant>,
    /// The fetch under way, shared by everyone who waits for it.
    in_flight: Option<RefreshFuture>,
    /// The `jwks_uri` found by discovery, kept for later refreshes.
    jwks_uri: Option<Url>,
    /// Whether a key set has ever been loaded.
    loaded: bool,
}

/// One issuer's keys.
pub(crate) struct KeyCache {
    config: KeyCacheConfig,
    fetcher: Fetcher,
    keys: moka::sync::Cache<String, Arc<VerifyingKey>>,
    state: Mutex<RefreshState>,
    /// When (in ms since `epoch`) a request that finds its key should start a
    /// background refresh; `u64::MAX` until a set is loaded. Read without a lock.
    refresh_due_ms: AtomicU64,
    epoch: Instant,
}

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyCache")
            .field("source", &self.config.source)
            .field("keys", &self.keys.entry_count())
            .finish_non_exhaustive()
    }
}

impl KeyCache {
    pub(crate) fn new(config: KeyCacheConfig, fetcher: Fetcher) -> Arc<Self> {
        // Room for the old and the new set side by side during a rotation, so a
        // refresh never evicts a key still in use.
        let capacity = u64::try_from(config.max_keys.saturating_mul(2)).unwrap_or(u64::MAX);
        Arc::new(KeyCache {
            keys: moka::sync::Cache::builder().max_capacity(capacity).build(),
            config,
            fetcher,
            state: Mutex::new(RefreshState::default()),
            refresh_due_ms: AtomicU64::new(u64::MAX),
            epoch: Instant::now(),
        })
    }

    /// The key for `kid`: from memory, else after one shared refresh if the
    /// cooldown allows one.
    ///
    /// A `kid` unknown after that is [`Error::UnknownKeyId`]; when no key set has
    /// ever been loaded it is [`Error::KeysUnavailable`] instead.
    pub(crate) async fn key(self: &Arc<Self>, kid: &str) -> Result<Arc<VerifyingKey>, Error> {
        if let Some(key) = self.keys.get(kid) {
            self.refresh_if_stale();
            return Ok(key);
        }
        if let Some(refresh) = self.start_refresh() {
            refresh.await;
        }
        if let Some(key) = self.keys.get(kid) {
            return Ok(key);
        }
        if self.lock().loaded {
            Err(Error::UnknownKeyId)
        } else {
            Err(Error::KeysUnavailable)
        }
    }

    /// Starts a background refresh when the set has passed its maximum age; the
    /// keys held keep serving meanwhile, and stay if the refresh fails. Only the
    /// request that wins the compare-and-swap starts it, then at most once per
    /// cooldown until a refresh succeeds.
    fn refresh_if_stale(self: &Arc<Self>) {
        let now = self.elapsed_ms();
        let due = self.refresh_due_ms.load(Ordering::Acquire);
        if now < due {
            return;
        }
        let retry_at = now.saturating_add(millis(self.config.refresh_cooldown));
        if self
            .refresh_due_ms
            .compare_exchange(due, retry_at, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            tracing::debug!(
                "bearer-guard: key set past its maximum age, refreshing in the background"
            );
            // The fetch runs in its own task; not awaiting it does not cancel it.
            drop(self.start_refresh());
        }
    }

    fn elapsed_ms(&self) -> u64 {
        millis(self.epoch.elapsed())
    }

    /// Loads the key set now unless the cooldown forbids it; for warming up.
    pub(crate) async fn refresh(self: &Arc<Self>) -> bool {
        match self.start_refresh() {
            Some(refresh) => refresh.await,
            None => self.lock().loaded,
        }
    }

    /// Whether a key set has been loaded.
    pub(crate) fn is_loaded(&self) -> bool {
        self.lock().loaded
    }

    /// Joins the fetch under way, or starts one if the cooldown has passed;
    /// `None` when neither.
    fn start_refresh(self: &Arc<Self>) -> Option<RefreshFuture> {
        let mut state = self.lock();
        if let Some(in_flight) = &state.in_flight {
            return Some(in_flight.clone());
        }
        let now = Instant::now();
        if state
            .last_started
            .is_some_and(|t| now.duration_since(t) < self.config.refresh_cooldown)
        {
            tracing::debug!("bearer-guard: key refresh skipped (cooldown)");
            return None;
        }
        state.last_started = Some(now);
        let this = Arc::clone(self);
        let task = tokio::spawn(async move {
            let outcome = this.fetch_and_install().await;
            let mut state = this.lock();
            state.in_flight = None;
            match outcome {
                Ok(jwks_uri) => {
                    let due = this
                        .elapsed_ms()
                        .saturating_add(millis(this.config.max_age));
                    this.refresh_due_ms.store(due, Ordering::Release);
                    state.loaded = true;
                    state.jwks_uri = Some(jwks_uri);
                    true
                }
                Err(error) => {
                    tracing::warn!(%error, "bearer-guard: key set refresh failed");
                    false
                }
            }
        });
        let shared = task.map(|joined| joined.unwrap_or(false)).boxed().shared();
        state.in_flight = Some(shared.clone());
        Some(shared)
    }

    async fn fetch_and_install(&self) -> Result<Url, FetchError> {
        let started = Instant::now();
        let known_uri = self.lock().jwks_uri.clone();
        let jwks_uri = match (&self.config.source, known_uri) {
            (KeySource::Jwks(uri), _) => uri.clone(),
            (KeySource::Discovery { .. }, Some(uri)) => uri,
            (KeySource::Discovery { url, issuer }, None) => {
                self.fetcher.discover(url, issuer).await?
            }
        };
        let body = self.fetcher.get(&jwks_uri).await?;
        let keys =
            parse_set(&body, &self.config.algorithms, self.config.max_keys).map_err(|reason| {
                FetchError::KeySet {
                    url: jwks_uri.to_string(),
                    reason,
                }
            })?;
        self.install(keys);
        tracing::info!(
            jwks_uri = %jwks_uri,
            keys = self.keys.entry_count(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "bearer-guard: key set loaded"
        );
        Ok(jwks_uri)
    }

    /// Replaces the cached keys with `keys`: keys gone from the set are removed
    /// first (a removed key stops verifying at once), then the set is inserted.
    fn install(&self, keys: Vec<VerifyingKey>) {
        let stale: Vec<Arc<String>> = self
            .keys
            .iter()
            .map(|(kid, _)| kid)
            .filter(|kid| !keys.iter().any(|k| k.kid == **kid))
            .collect();
        for kid in stale {
            self.keys.invalidate(kid.as_str());
        }
        for key in keys {
            self.keys.insert(key.kid.clone(), Arc::new(key));
        }
        self.keys.run_pending_tasks();
    }

    fn lock(&self) -> MutexGuard<'_, RefreshState> {
        // The state stays consistent even if a holder panicked: every field is
        // written in one assignment.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
