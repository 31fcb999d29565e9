//! Counters and gauges through the `metrics` facade (feature `metrics`); without
//! the feature every function here is an empty inline call.
//!
//! | name | kind | labels |
//! |---|---|---|
//! | `bearer_guard_requests_accepted_total` | counter | |
//! | `bearer_guard_token_cache_hits_total` | counter | |
//! | `bearer_guard_requests_rejected_total` | counter | `reason` (the [`Error::code`](crate::Error::code)) |
//! | `bearer_guard_key_fetches_total` | counter | `source`, `outcome` (`ok`, `error`) |
//! | `bearer_guard_key_refresh_cooldown_hits_total` | counter | `source` |
//! | `bearer_guard_unknown_kid_cache_hits_total` | counter | `source` |
//! | `bearer_guard_key_set_loaded_timestamp_seconds` | gauge | `source` (age = now − value) |
//! | `bearer_guard_key_set_keys` | gauge | `source` |
//! | `bearer_guard_last_known_good_in_use` | gauge | `source` (1 while the last refresh failed and older keys serve) |
//! | `bearer_guard_introspections_total` | counter | `outcome` (`ok`: an answer, `error`: none, 503) |
//! | `bearer_guard_key_set_too_stale` | gauge | `source` (1 while the keys are older than `key_set_max_staleness` and tokens get 503) |
//!
//! `source` is the discovery or JWKS URL of one key cache: one per issuer (one
//! per policy for Azure AD B2C), so its cardinality is what you configured.

#[cfg(feature = "metrics")]
mod imp {
    pub(crate) fn accepted() {
        ::metrics::counter!("bearer_guard_requests_accepted_total").increment(1);
    }
    pub(crate) fn token_cache_hit() {
        ::metrics::counter!("bearer_guard_token_cache_hits_total").increment(1);
    }
    pub(crate) fn rejected(reason: &'static str) {
        ::metrics::counter!("bearer_guard_requests_rejected_total", "reason" => reason)
            .increment(1);
    }
    pub(crate) fn fetch(source: &str, ok: bool) {
        let outcome = if ok { "ok" } else { "error" };
        ::metrics::counter!("bearer_guard_key_fetches_total", "source" => source.to_owned(), "outcome" => outcome)
            .increment(1);
    }
    pub(crate) fn introspection(ok: bool) {
        let outcome = if ok { "ok" } else { "error" };
        ::metrics::counter!("bearer_guard_introspections_total", "outcome" => outcome).increment(1);
    }
    pub(crate) fn cooldown_hit(source: &str) {
        ::metrics::counter!("bearer_guard_key_refresh_cooldown_hits_total", "source" => source.to_owned()).increment(1);
    }
    pub(crate) fn unknown_kid_cache_hit(source: &str) {
        ::metrics::counter!("bearer_guard_unknown_kid_cache_hits_total", "source" => source.to_owned()).increment(1);
    }
    pub(crate) fn key_set_loaded(source: &str, keys: u64, at: std::time::SystemTime) {
        let now = at
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        ::metrics::gauge!("bearer_guard_key_set_loaded_timestamp_seconds", "source" => source.to_owned()).set(now);
        #[allow(clippy::cast_precision_loss)]
        ::metrics::gauge!("bearer_guard_key_set_keys", "source" => source.to_owned())
            .set(keys as f64);
        ::metrics::gauge!("bearer_guard_last_known_good_in_use", "source" => source.to_owned())
            .set(0.0);
    }
    pub(crate) fn key_set_too_stale(source: &str, stale: bool) {
        ::metrics::gauge!("bearer_guard_key_set_too_stale", "source" => source.to_owned())
            .set(if stale { 1.0 } else { 0.0 });
    }
    pub(crate) fn last_known_good(source: &str) {
        ::metrics::gauge!("bearer_guard_last_known_good_in_use", "source" => source.to_owned())
            .set(1.0);
    }
}

#[cfg(not(feature = "metrics"))]
mod imp {
    #[inline]
    pub(crate) fn accepted() {}
    #[inline]
    pub(crate) fn token_cache_hit() {}
    #[inline]
    pub(crate) fn rejected(_reason: &'static str) {}
    #[inline]
    pub(crate) fn fetch(_source: &str, _ok: bool) {}
    #[inline]
    pub(crate) fn introspection(_ok: bool) {}
    #[inline]
    pub(crate) fn cooldown_hit(_source: &str) {}
    #[inline]
    pub(crate) fn unknown_kid_cache_hit(_source: &str) {}
    #[inline]
    pub(crate) fn key_set_loaded(_source: &str, _keys: u64, _at: std::time::SystemTime) {}
    #[inline]
    pub(crate) fn key_set_too_stale(_source: &str, _stale: bool) {}
    #[inline]
    pub(crate) fn last_known_good(_source: &str) {}
}

pub(crate) use imp::*;
