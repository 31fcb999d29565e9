//! The one clock every time-dependent check reads: token expiry and
//! not-before, the verified-token cache's lifetimes, and the key cache's
//! cooldowns, backoff and key-set ages.
//!
//! Production code uses [`SystemClock`]; tests inject a clock they move by
//! hand ([`ManualClock`]) through
//! [`Builder::clock`](crate::Builder::clock), so that expiry, cooldown and
//! backoff are tested without waiting.

use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A source of time.
///
/// Two readings, because they answer different questions: [`now`](Clock::now)
/// is compared with the times a token names (`exp`, `nbf`), and
/// [`monotonic`](Clock::monotonic) measures intervals (cooldowns, backoff,
/// how old a key set or a cache entry is) and must never go backwards, so a
/// wall-clock step cannot stall or hasten a refresh.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The wall-clock time.
    fn now(&self) -> SystemTime;

    /// Time elapsed since a fixed point of this clock's choosing; never
    /// decreases.
    fn monotonic(&self) -> Duration;
}

/// The operating system's clocks: [`SystemTime`] and [`Instant`]. The default.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn monotonic(&self) -> Duration {
        static ORIGIN: OnceLock<Instant> = OnceLock::new();
        ORIGIN.get_or_init(Instant::now).elapsed()
    }
}

/// A clock that moves only when told to: for tests of expiry, cooldowns and
/// backoff that must not wait. Clones share one time.
///
/// ```
/// use std::time::Duration;
/// use bearer_guard::{Clock, ManualClock};
///
/// let clock = ManualClock::new();
/// let (wall, mono) = (clock.now(), clock.monotonic());
/// clock.advance(Duration::from_secs(90));
/// assert_eq!(clock.now().duration_since(wall).ok(), Some(Duration::from_secs(90)));
/// assert_eq!(clock.monotonic() - mono, Duration::from_secs(90));
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock {
    /// The wall-clock time and the monotonic reading.
    state: Arc<Mutex<(SystemTime, Duration)>>,
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock::new()
    }
}

impl ManualClock {
    /// A clock standing at the system's current wall-clock time (so tokens
    /// minted now are current for it), monotonic time zero.
    pub fn new() -> Self {
        ManualClock::starting_at(SystemTime::now())
    }

    /// A clock standing at `time`, monotonic time zero.
    pub fn starting_at(time: SystemTime) -> Self {
        ManualClock {
            state: Arc::new(Mutex::new((time, Duration::ZERO))),
        }
    }

    /// Moves both readings forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut state = self.lock();
        state.0 = state.0.checked_add(by).unwrap_or(state.0);
        state.1 = state.1.saturating_add(by);
    }

    /// Steps the wall clock to `time`, forward or back, as an NTP correction
    /// would; monotonic time does not move.
    pub fn set_wall_clock(&self, time: SystemTime) {
        self.lock().0 = time;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (SystemTime, Duration)> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        self.lock().0
    }

    fn monotonic(&self) -> Duration {
        self.lock().1
    }
}

/// The clock as the crate holds it: shared, cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Time(Arc<dyn Clock>);

impl Default for Time {
    fn default() -> Self {
        Time(Arc::new(SystemClock))
    }
}

impl Time {
    pub(crate) fn new(clock: Arc<dyn Clock>) -> Self {
        Time(clock)
    }

    /// Wall-clock time.
    pub(crate) fn now(&self) -> SystemTime {
        self.0.now()
    }

    /// Whole seconds since the Unix epoch (0 before it), for NumericDate
    /// comparisons (RFC 7519 §2).
    pub(crate) fn now_secs(&self) -> i64 {
        let secs = self
            .0
            .now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        i64::try_from(secs).unwrap_or(i64::MAX)
    }

    /// Monotonic time since the clock's origin.
    pub(crate) fn monotonic(&self) -> Duration {
        self.0.monotonic()
    }
}

/// How long from `now` until the NumericDate `secs` (zero when it has
/// passed). Checked arithmetic throughout: `secs` comes from a token and may
/// lie beyond what `SystemTime` holds on some platforms.
pub(crate) fn until_secs(now: SystemTime, secs: i64) -> Duration {
    let Ok(secs) = u64::try_from(secs) else {
        return Duration::ZERO;
    };
    UNIX_EPOCH
        .checked_add(Duration::from_secs(secs))
        .map_or(Duration::MAX, |at| {
            at.duration_since(now).unwrap_or(Duration::ZERO)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_clock_is_monotonic_and_near_the_wall_clock() {
        let clock = SystemClock;
        let (a, b) = (clock.monotonic(), clock.monotonic());
        assert!(b >= a);
        let skew = clock
            .now()
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        assert!(skew < Duration::from_secs(1));
    }

    #[test]
    fn until_secs_never_panics_and_is_exact_to_the_second() {
        let now = UNIX_EPOCH + Duration::from_millis(1_700_000_000_250);
        assert_eq!(until_secs(now, 1_700_000_010), Duration::from_millis(9_750));
        assert_eq!(until_secs(now, 1_700_000_000), Duration::ZERO);
        assert_eq!(until_secs(now, -5), Duration::ZERO);
        // Beyond what SystemTime holds on narrower platforms: no panic.
        assert!(until_secs(now, i64::MAX) > Duration::from_secs(1 << 40));
    }
}
