//! The issuer's keys, held in a moka cache by `kid`, refreshed on an unknown
//! `kid` at most once per cooldown, by one shared fetch, and in the background
//! once the set is older than its time to live (so a key the issuer withdrew
//! stops verifying even when no new `kid` ever shows up).
//!
//! - The time to live is the server's `Cache-Control: max-age` (or `Expires`),
//!   clamped between the refresh cooldown and the configured maximum age; the
//!   maximum age when the server says nothing.
//! - A failed refresh keeps every key already held (last known good) and is
//!   retried with backoff: the cooldown doubled per consecutive failure, up to
//!   eight times the cooldown.
//! - `kid`s looked for and not found are remembered for one cooldown (bounded),
//!   so repeated forged `kid`s are answered from memory.
//!
//! The fetch runs in its own task: a request that gives up (client gone, timeout)
//! never abandons it halfway, and every request waiting for it shares its result.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures_util::FutureExt as _;
use futures_util::future::{self, BoxFuture, Shared};
use reqwest::Url;

use super::fetch::{FetchError, Fetcher};
use super::jwk::{MAX_KID_BYTES, VerifyingKey, parse_set};
use crate::clock::Time;
use crate::error::Error;
use crate::token::algorithm::Algorithm;

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
    /// How long after the last successful load the keys may still be used
    /// while refreshes fail (last known good); then tokens get 503.
    pub max_staleness: Duration,
}

type RefreshFuture = Shared<BoxFuture<'static, bool>>;

/// A key set fetched and installed.
struct Installed {
    /// The server's freshness for it.
    fresh_for: Option<Duration>,
    /// The clock's monotonic reading just before its keys became visible: its
    /// time to live and maximum staleness count from there.
    at: Duration,
}

/// Why a refresh is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cause {
    /// A token named a `kid` the set does not hold.
    UnknownKid,
    /// The set passed its time to live, or a warm-up was asked for.
    Scheduled,
}

/// Times are the clock's monotonic readings.
#[derive(Default)]
struct RefreshState {
    /// When the last fetch started, for any reason.
    last_started: Option<Duration>,
    /// When the last fetch caused by an unknown `kid` started: at most one per
    /// cooldown (backed off after failures), whatever the `kid`s.
    last_unknown_kid: Option<Duration>,
    /// The fetch under way, shared by everyone who waits for it.
    in_flight: Option<(RefreshFuture, Cause)>,
    /// The `jwks_uri` found by discovery, and until when (monotonic) the
    /// discovery document stays fresh: past it, the next refresh reads the
    /// document again, so an issuer that moves its key set is followed.
    discovered: Option<(Url, Duration)>,
    /// Whether a key set has ever been loaded.
    loaded: bool,
    /// Refreshes failed in a row since the last success.
    failures: u32,
}

/// How many unknown `kid`s are remembered at most.
const MAX_MISSING_KIDS: u64 = 10_000;

/// One issuer's keys.
pub(crate) struct KeyCache {
    config: KeyCacheConfig,
    fetcher: Fetcher,
    keys: moka::sync::Cache<String, Arc<VerifyingKey>>,
    /// `kid`s looked for and not found, each for one cooldown from the
    /// monotonic time it holds (bounded in number; an entry past its
    /// cooldown is dropped when next looked up).
    missing: moka::sync::Cache<String, Duration>,
    /// The discovery or JWKS URL, for logs and metrics.
    label: String,
    state: Mutex<RefreshState>,
    /// When (in ms of the clock's monotonic time) a request that finds its
    /// key should start a background refresh; `u64::MAX` until a set is
    /// loaded. Read without a lock.
    refresh_due_ms: AtomicU64,
    /// When (ms, monotonic) the held keys stop being usable unless a refresh
    /// succeeds first: the last successful load plus the maximum staleness;
    /// `u64::MAX` until a set is loaded. Read without a lock.
    usable_until_ms: AtomicU64,
    /// Whether the passing of `usable_until_ms` has been logged (once per
    /// episode).
    stale_reported: AtomicBool,
    time: Time,
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
    pub(crate) fn new(config: KeyCacheConfig, fetcher: Fetcher, time: Time) -> Arc<Self> {
        // Room for the old and the new set side by side during a rotation, so a
        // refresh never evicts a key still in use.
        let capacity = u64::try_from(config.max_keys.saturating_mul(2)).unwrap_or(u64::MAX);
        let label = match &config.source {
            KeySource::Discovery { url, .. } | KeySource::Jwks(url) => url.to_string(),
        };
        Arc::new(KeyCache {
            keys: moka::sync::Cache::builder().max_capacity(capacity).build(),
            missing: moka::sync::Cache::builder()
                .max_capacity(MAX_MISSING_KIDS)
                .build(),
            label,
            config,
            fetcher,
            state: Mutex::new(RefreshState::default()),
            refresh_due_ms: AtomicU64::new(u64::MAX),
            usable_until_ms: AtomicU64::new(u64::MAX),
            stale_reported: AtomicBool::new(false),
            time,
        })
    }

    /// A cache holding `keys` that never fetches (a day-long cooldown that has
    /// just started): for the whole-pipeline fuzz harness and unit tests.
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn preloaded(
        keys: Vec<VerifyingKey>,
        algorithms: Vec<Algorithm>,
    ) -> Option<Arc<Self>> {
        let day = Duration::from_secs(86_400);
        let fetcher = Fetcher::new(day, day, 1, false).ok()?;
        let source = KeySource::Jwks(Url::parse("http://127.0.0.1:9/never").ok()?);
        let cache = KeyCache::new(
            KeyCacheConfig {
                source,
                algorithms,
                max_keys: 16,
                refresh_cooldown: day,
                max_age: day,
                max_staleness: day,
            },
            fetcher,
            Time::default(),
        );
        cache.install(keys);
        {
            let mut state = cache.lock();
            let now = cache.time.monotonic();
            state.loaded = true;
            state.last_started = Some(now);
            state.last_unknown_kid = Some(now);
        }
        cache.refresh_due_ms.store(u64::MAX, Ordering::Release);
        Some(cache)
    }

    /// The key held for `kid`, without any refresh: for unit tests.
    #[cfg(test)]
    pub(crate) fn key_now(&self, kid: &str) -> Option<Arc<VerifyingKey>> {
        self.keys.get(kid)
    }

    /// The key for `kid`: from memory, else after one shared refresh if the
    /// cooldown allows one.
    ///
    /// A `kid` unknown after that is [`Error::UnknownKeyId`]; when no key set has
    /// ever been loaded it is [`Error::KeysUnavailable`] instead.
    pub(crate) async fn key(self: &Arc<Self>, kid: &str) -> Result<Arc<VerifyingKey>, Error> {
        if self.is_too_stale() {
            // Past the bound, the keys held may not serve: wait for a refresh
            // the backoff allows (joining one under way), as an unknown kid
            // does, so that keys grown old while nothing asked for them (a
            // process that slept) cost one fetch, not a 503.
            if let Some((refresh, _)) = self.start_refresh(Cause::Scheduled, None) {
                refresh.await;
            }
            if self.is_too_stale() {
                return Err(self.stale());
            }
        }
        if let Some(key) = self.keys.get(kid) {
            self.refresh_if_stale();
            return Ok(key);
        }
        // No key is ever stored under a longer kid: nothing to look for, and
        // the token, not the issuer, is at fault (401, never 503).
        if kid.len() > MAX_KID_BYTES {
            return Err(Error::UnknownKeyId);
        }
        if let Some(since) = self.missing.get(kid) {
            if self.time.monotonic().saturating_sub(since) < self.config.refresh_cooldown {
                crate::metrics::unknown_kid_cache_hit(&self.label);
                return Err(Error::UnknownKeyId);
            }
            self.missing.invalidate(kid);
        }
        match self.start_refresh(Cause::UnknownKid, Some(kid)) {
            Some((refresh, cause)) => {
                refresh.await;
                // A scheduled fetch this request joined may have read the set
                // before this key was published: the kid still gets a fetch of
                // its own, if the unknown-kid clock allows one.
                if cause == Cause::Scheduled
                    && self.keys.get(kid).is_none()
                    && let Some((again, _)) = self.start_refresh(Cause::UnknownKid, Some(kid))
                {
                    again.await;
                }
            }
            None => crate::metrics::cooldown_hit(&self.label),
        }
        if let Some(key) = self.keys.get(kid) {
            return Ok(key);
        }
        let error = self.not_found();
        if error == Error::UnknownKeyId {
            self.missing.insert(kid.to_owned(), self.time.monotonic());
        }
        Err(error)
    }

    /// Whether the held keys are past their maximum staleness: the last
    /// successful load is older than it allows, so the issuer may have
    /// withdrawn any of them. One atomic load.
    pub(crate) fn is_too_stale(&self) -> bool {
        self.is_too_stale_at(self.time.monotonic())
    }

    /// [`is_too_stale`](Self::is_too_stale) at the clock's monotonic time
    /// `monotonic`, read by the caller (a cache hit reads the clock once).
    pub(crate) fn is_too_stale_at(&self, monotonic: Duration) -> bool {
        millis(monotonic) >= self.usable_until_ms.load(Ordering::Acquire)
    }

    /// The answer while the keys are too stale: 503, until the next attempt
    /// the backoff allows; logged once per episode, with a metric.
    fn stale(&self) -> Error {
        if !self.stale_reported.swap(true, Ordering::AcqRel) {
            crate::metrics::key_set_too_stale(&self.label, true);
            tracing::error!(
                source = %self.label,
                max_staleness_secs = self.config.max_staleness.as_secs(),
                "bearer-guard: key set older than its maximum staleness and refreshes are \
                 failing: tokens of this issuer get 503 until a refresh succeeds"
            );
        }
        let now = self.elapsed_ms();
        let due = self.refresh_due_ms.load(Ordering::Acquire);
        let wait = Duration::from_millis(due.saturating_sub(now));
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        Error::KeysUnavailable {
            retry_after_secs: secs.max(1),
        }
    }

    /// Why a kid was not found: unknown to the set held, or no set at all
    /// (then with the time until the next fetch may start: with no set
    /// loaded, one cooldown after the last attempt).
    fn not_found(&self) -> Error {
        let state = self.lock();
        if state.loaded {
            return Error::UnknownKeyId;
        }
        let cooldown = self.config.refresh_cooldown;
        let wait = match state.last_started {
            Some(started) => started
                .saturating_add(cooldown)
                .saturating_sub(self.time.monotonic()),
            None => cooldown,
        };
        // Whole seconds, rounded up, and never 0: "retry now" would invite a
        // client to hammer the API while nothing can change.
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        Error::KeysUnavailable {
            retry_after_secs: secs.max(1),
        }
    }

    /// The least time between two fetches while older keys serve: the
    /// cooldown, doubled per failure in a row, at most eight times the cooldown.
    fn retry_delay(&self, failures: u32) -> Duration {
        self.config
            .refresh_cooldown
            .saturating_mul(1 << failures.min(3))
    }

    /// Starts a background refresh when the set has passed its maximum age; the
    /// keys held keep serving meanwhile, and stay if the refresh fails. Only the
    /// request that wins the compare-and-swap starts it, then at most once per
    /// cooldown until a refresh succeeds.
    ///
    /// The verified-token cache calls it on every hit too, so a key set whose
    /// keys are only ever used through cached tokens still notices a withdrawn
    /// key.
    pub(crate) fn refresh_if_stale(self: &Arc<Self>) {
        self.refresh_if_stale_at(self.time.monotonic());
    }

    /// [`refresh_if_stale`](Self::refresh_if_stale) at the clock's monotonic
    /// time `monotonic`, read by the caller.
    pub(crate) fn refresh_if_stale_at(self: &Arc<Self>, monotonic: Duration) {
        let now = millis(monotonic);
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
            drop(self.start_refresh(Cause::Scheduled, None));
        }
    }

    fn elapsed_ms(&self) -> u64 {
        millis(self.time.monotonic())
    }

    /// Loads the key set now unless the cooldown forbids it; for warming up.
    pub(crate) async fn refresh(self: &Arc<Self>) -> bool {
        match self.start_refresh(Cause::Scheduled, None) {
            Some((refresh, _)) => refresh.await,
            None => self.lock().loaded,
        }
    }

    /// Whether a key set has been loaded.
    pub(crate) fn is_loaded(&self) -> bool {
        self.lock().loaded
    }

    /// Joins the fetch under way, or starts one if its cause's cooldown has
    /// passed; `None` when neither.
    ///
    /// Unknown `kid`s are limited by their own clock: a scheduled refresh (or
    /// the warm-up) does not stop the first token signed with a key published
    /// just after it from causing one fetch, which is what an issuer that
    /// rotates and signs at once needs. Both clocks together bound the traffic:
    /// at most one unknown-`kid` fetch per cooldown, plus one scheduled fetch
    /// per time to live (never shorter than the cooldown).
    ///
    /// `wanted`: the `kid` an unknown-`kid` refresh is for. A refresh may have
    /// landed since the caller looked; with none under way, whatever the last
    /// one installed is visible (a refresh installs before it leaves
    /// `in_flight`), so a `kid` found now needs no fetch of its own.
    fn start_refresh(
        self: &Arc<Self>,
        cause: Cause,
        wanted: Option<&str>,
    ) -> Option<(RefreshFuture, Cause)> {
        let mut state = self.lock();
        if let Some(in_flight) = &state.in_flight {
            return Some(in_flight.clone());
        }
        if wanted.is_some_and(|kid| self.keys.contains_key(kid)) {
            return Some((future::ready(true).boxed().shared(), cause));
        }
        let now = self.time.monotonic();
        // Back off only while older keys serve; with none loaded the service
        // is down anyway, and one fetch per cooldown is cheap.
        let delay = if state.loaded {
            self.retry_delay(state.failures)
        } else {
            self.config.refresh_cooldown
        };
        let last = match cause {
            Cause::UnknownKid => state.last_unknown_kid,
            Cause::Scheduled => state.last_started,
        };
        // After a failure both causes wait for the backoff from the last attempt.
        let last = if state.failures > 0 {
            state.last_started
        } else {
            last
        };
        if last.is_some_and(|t| now.saturating_sub(t) < delay) {
            tracing::debug!("bearer-guard: key refresh skipped (cooldown)");
            return None;
        }
        state.last_started = Some(now);
        if cause == Cause::UnknownKid {
            state.last_unknown_kid = Some(now);
        }
        // The fetch needs a tokio runtime to run on; outside one there is no
        // way to fetch, and no reason to panic: the keys stay unloaded (503).
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::error!(
                source = %self.label,
                "bearer-guard: no tokio runtime to fetch keys on; use the validator inside one"
            );
            return None;
        };
        let this = Arc::clone(self);
        let task = runtime.spawn(async move {
            let outcome = this.fetch_and_install().await;
            let mut state = this.lock();
            state.in_flight = None;
            crate::metrics::fetch(&this.label, outcome.is_ok());
            match outcome {
                Ok(Installed { fresh_for, at }) => {
                    let ttl = this.time_to_live(fresh_for);
                    let now = millis(at);
                    this.refresh_due_ms
                        .store(now.saturating_add(millis(ttl)), Ordering::Release);
                    this.usable_until_ms.store(
                        now.saturating_add(millis(this.config.max_staleness)),
                        Ordering::Release,
                    );
                    if this.stale_reported.swap(false, Ordering::AcqRel) {
                        crate::metrics::key_set_too_stale(&this.label, false);
                    }
                    state.loaded = true;
                    state.failures = 0;
                    this.missing.invalidate_all();
                    let keys = this.keys.entry_count();
                    crate::metrics::key_set_loaded(&this.label, keys, this.time.now());
                    tracing::info!(
                        source = %this.label,
                        keys,
                        next_refresh_secs = ttl.as_secs(),
                        "bearer-guard: key set loaded"
                    );
                    true
                }
                Err(error) => {
                    state.failures = state.failures.saturating_add(1);
                    let retry_in = if state.loaded {
                        this.retry_delay(state.failures)
                    } else {
                        this.config.refresh_cooldown
                    };
                    this.refresh_due_ms.store(
                        this.elapsed_ms().saturating_add(millis(retry_in)),
                        Ordering::Release,
                    );
                    if state.loaded {
                        crate::metrics::last_known_good(&this.label);
                    }
                    tracing::warn!(
                        source = %this.label,
                        %error,
                        failures = state.failures,
                        retry_in_secs = retry_in.as_secs(),
                        last_known_good = state.loaded,
                        "bearer-guard: key set refresh failed"
                    );
                    false
                }
            }
        });
        let shared = task.map(|joined| joined.unwrap_or(false)).boxed().shared();
        state.in_flight = Some((shared.clone(), cause));
        Some((shared, cause))
    }

    /// The server's freshness, clamped to `[cooldown, max_age]`; `max_age`
    /// when it gave none.
    fn time_to_live(&self, fresh_for: Option<Duration>) -> Duration {
        fresh_for
            .unwrap_or(self.config.max_age)
            .max(self.config.refresh_cooldown)
            .min(self.config.max_age)
    }

    /// Fetches and installs the key set; returns the server's freshness for it
    /// and when it was installed.
    async fn fetch_and_install(&self) -> Result<Installed, FetchError> {
        let started = self.time.monotonic();
        let jwks_uri = match &self.config.source {
            KeySource::Jwks(uri) => uri.clone(),
            KeySource::Discovery { url, issuer } => self.jwks_uri(url, issuer).await?,
        };
        let fetched = self.fetcher.get(&jwks_uri, self.time.now()).await?;
        let keys = parse_set(&fetched.body, &self.config.algorithms, self.config.max_keys)
            .map_err(|reason| FetchError::KeySet {
                url: jwks_uri.to_string(),
                reason,
            })?;
        // Read before the keys become visible: whoever sees them, and moves
        // the clock on, cannot make the set look younger than it is.
        let at = self.time.monotonic();
        self.install(keys);
        tracing::debug!(
            jwks_uri = %jwks_uri,
            elapsed_ms = millis(at.saturating_sub(started)),
            "bearer-guard: key set fetched"
        );
        Ok(Installed {
            fresh_for: fetched.fresh_for,
            at,
        })
    }

    /// The `jwks_uri` to fetch: the one discovery gave while its document is
    /// fresh (its own `Cache-Control`/`Expires`, clamped as a key set's time
    /// to live is), else from the document read again. If that read fails
    /// while a `jwks_uri` is known, the known one serves (last known good) and
    /// the next refresh reads the document again.
    async fn jwks_uri(&self, url: &Url, issuer: &str) -> Result<Url, FetchError> {
        let known = self.lock().discovered.clone();
        if let Some((uri, until)) = &known
            && self.time.monotonic() < *until
        {
            return Ok(uri.clone());
        }
        match self.fetcher.discover(url, issuer, self.time.now()).await {
            Ok((uri, fresh_for)) => {
                if let Some((old, _)) = &known
                    && *old != uri
                {
                    tracing::info!(
                        source = %self.label,
                        old = %old,
                        new = %uri,
                        "bearer-guard: discovery names a new jwks_uri"
                    );
                }
                let until = self
                    .time
                    .monotonic()
                    .saturating_add(self.time_to_live(fresh_for));
                self.lock().discovered = Some((uri.clone(), until));
                Ok(uri)
            }
            Err(error) => match known {
                Some((uri, _)) => {
                    tracing::warn!(
                        source = %self.label,
                        %error,
                        "bearer-guard: discovery document refresh failed; using the jwks_uri known"
                    );
                    Ok(uri)
                }
                None => Err(error),
            },
        }
    }

    /// Replaces the cached keys with `keys`: keys gone from the set are retired
    /// and removed first (a removed key stops verifying at once, and tokens it
    /// verified leave the verified-token cache), then new or changed keys are
    /// inserted. A key published unchanged keeps its entry, so tokens it
    /// verified stay cached across refreshes.
    fn install(&self, keys: Vec<VerifyingKey>) {
        for (kid, held) in self.keys.iter() {
            if !keys.iter().any(|k| k.kid == *kid) {
                held.retire();
                self.keys.invalidate(kid.as_str());
            }
        }
        for key in keys {
            match self.keys.get(&key.kid) {
                Some(held) if held.same_as(&key) => {}
                held => {
                    if let Some(held) = held {
                        held.retire();
                    }
                    self.keys.insert(key.kid.clone(), Arc::new(key));
                }
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// An Ed25519 JWK whose `x` is 43 copies of `fill` (one of `AEIQ…`, whose
    /// low bits are zero, so the 32 bytes decode strictly).
    fn ed_key(kid: &str, fill: char) -> String {
        let x: String = std::iter::repeat_n(fill, 43).collect();
        format!(r#"{{"kty":"OKP","crv":"Ed25519","kid":"{kid}","x":"{x}"}}"#)
    }

    fn set(keys: &[String]) -> Vec<VerifyingKey> {
        let json = format!(r#"{{"keys":[{}]}}"#, keys.join(","));
        parse_set(json.as_bytes(), &[Algorithm::EdDSA], 16).expect("valid set")
    }

    /// Installing a set retires exactly the keys that left it or changed:
    /// what the verified-token cache relies on to drop tokens they verified.
    #[test]
    fn install_retires_removed_and_changed_keys_and_keeps_unchanged_ones() {
        let cache = KeyCache::preloaded(
            set(&[ed_key("a", 'A'), ed_key("b", 'E'), ed_key("c", 'I')]),
            vec![Algorithm::EdDSA],
        )
        .expect("cache");
        let held = |kid: &str| cache.keys.get(kid).expect("held");
        let (a, b, c) = (held("a"), held("b"), held("c"));

        // a unchanged, b with new material under the same kid, c withdrawn.
        cache.install(set(&[ed_key("a", 'A'), ed_key("b", 'Q')]));
        assert!(!a.is_retired());
        assert!(Arc::ptr_eq(&a, &held("a")), "unchanged key keeps its entry");
        assert!(b.is_retired(), "changed material");
        assert!(!held("b").is_retired());
        assert!(!Arc::ptr_eq(&b, &held("b")));
        assert!(c.is_retired(), "withdrawn");
        assert!(cache.keys.get("c").is_none());
    }

    /// An unknown-`kid` refresh looks again under the lock: a `kid` that a
    /// refresh installed after the caller looked needs no fetch of its own
    /// (within the cooldown here, which would otherwise refuse one).
    #[test]
    fn a_kid_installed_since_the_caller_looked_needs_no_fetch() {
        let cache =
            KeyCache::preloaded(set(&[ed_key("a", 'A')]), vec![Algorithm::EdDSA]).expect("cache");
        cache.install(set(&[ed_key("a", 'A'), ed_key("b", 'E')]));
        let (found, _) = cache
            .start_refresh(Cause::UnknownKid, Some("b"))
            .expect("held now: ready at once");
        assert_eq!(found.now_or_never(), Some(true));
        assert!(
            cache.start_refresh(Cause::UnknownKid, Some("c")).is_none(),
            "a kid not held still waits for the cooldown"
        );
    }
}
