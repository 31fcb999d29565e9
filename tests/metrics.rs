//! Metrics through the `metrics` facade (feature `metrics`, enabled for tests by
//! the self dev-dependency, so plain `cargo test` runs this file).
//!
//! A test binary of its own, not a module of `tests/it`: it installs a
//! process-global metrics recorder and asserts exact counts, which any other
//! test running in the same process would pollute. The shared helpers come
//! from `tests/it/support` by `#[path]`.
//!
//! Proves that the layer counts accepted requests, rejections by reason, key
//! fetches by outcome, cooldown hits and unknown-`kid` answers from memory, and
//! that the last-known-good gauge is 1 while a failed refresh leaves older keys
//! serving and 0 again once a refresh succeeds; the key count and load time
//! gauges follow each loaded set.
//!
//! The fetches are recorded from the refresh task, on any runtime thread, so a
//! thread-local recorder cannot see them: a `DebuggingRecorder` is installed
//! globally, and this file holds a single test so that nothing else records
//! into it.
#![cfg(feature = "metrics")]

// The helpers `tests/it` shares; this binary uses a part of them.
#[path = "it/support/mod.rs"]
#[allow(dead_code)]
mod support;

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bearer_guard::testing::TestIssuer;
use bearer_guard::{BearerAuthLayer, ManualClock, TypPolicy};
use http::StatusCode;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use support::fault_server::{FaultServer, Mode};
use support::{INVALID_TOKEN, app, get_with, send};

/// Totals of the counters recorded so far, and the gauges' latest values.
///
/// A `DebuggingRecorder` snapshot hands out each counter's increments since the
/// previous snapshot and each gauge's value *resetting it to 0*; this keeps the
/// running totals, and the tests below set a gauge to a sentinel before an
/// action so that a 0 read afterwards can only be the layer's own write.
struct Recorded {
    snapshotter: Snapshotter,
    counters: HashMap<String, u64>,
    gauges: HashMap<String, f64>,
}

impl Recorded {
    fn read(&mut self) {
        self.gauges.clear();
        for (key, _, _, value) in self.snapshotter.snapshot().into_vec() {
            let name = describe(key.key());
            match value {
                DebugValue::Counter(n) => *self.counters.entry(name).or_default() += n,
                DebugValue::Gauge(v) => {
                    self.gauges.insert(name, v.0);
                }
                DebugValue::Histogram(_) => {}
            }
        }
    }

    fn counter(&self, name: &str) -> u64 {
        self.counters.get(name).copied().unwrap_or(0)
    }

    fn gauge(&self, name: &str) -> Option<f64> {
        self.gauges.get(name).copied()
    }
}

/// `name{label=value,...}`, labels sorted.
fn describe(key: &metrics::Key) -> String {
    let mut labels: Vec<String> = key
        .labels()
        .map(|l| format!("{}={}", l.key(), l.value()))
        .collect();
    labels.sort();
    format!("{}{{{}}}", key.name(), labels.join(","))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_and_gauges_follow_requests_fetches_and_outages() {
    let recorder = DebuggingRecorder::new();
    let mut recorded = Recorded {
        snapshotter: recorder.snapshotter(),
        counters: HashMap::new(),
        gauges: HashMap::new(),
    };
    recorder
        .install()
        .expect("the only recorder in this test binary");

    let (issuer, server) = FaultServer::with_issuer().await;
    // Time is a clock moved by hand. The cooldown is long in real terms too:
    // the memory of unknown kids is also bounded by real time (moka's expiry),
    // and must outlast the test for the memory hits counted below; the key
    // set outlives every step, so no scheduled refresh interferes.
    let clock = ManualClock::new();
    let cooldown = Duration::from_secs(30);
    let layer = BearerAuthLayer::builder()
        .issuer(issuer.issuer())
        .audience(TestIssuer::AUDIENCE)
        .typ(TypPolicy::AccessTokenOrJwt)
        .jwks_uri(server.url())
        .refresh_cooldown(cooldown)
        .key_set_max_age(Duration::from_secs(600))
        .clock(clock.clone())
        .build()
        .expect("valid configuration");
    let validator = layer.validator().clone();
    let app = app(layer);
    let source = server.url();

    let accepted = "bearer_guard_requests_accepted_total{}".to_owned();
    let cache_hits = "bearer_guard_token_cache_hits_total{}".to_owned();
    let rejected =
        |reason: &str| format!("bearer_guard_requests_rejected_total{{reason={reason}}}");
    let fetches = |outcome: &str| {
        format!("bearer_guard_key_fetches_total{{outcome={outcome},source={source}}}")
    };
    let cooldown_hits = format!("bearer_guard_key_refresh_cooldown_hits_total{{source={source}}}");
    let memory_hits = format!("bearer_guard_unknown_kid_cache_hits_total{{source={source}}}");
    let last_known_good = format!("bearer_guard_last_known_good_in_use{{source={source}}}");
    let keys = format!("bearer_guard_key_set_keys{{source={source}}}");
    let loaded_at = format!("bearer_guard_key_set_loaded_timestamp_seconds{{source={source}}}");
    let set_sentinel = |value: f64| {
        metrics::gauge!("bearer_guard_last_known_good_in_use", "source" => source.clone())
            .set(value);
    };

    // Warm-up: one successful fetch, one key, no last known good in use.
    assert!(validator.warm_up().await);
    recorded.read();
    assert_eq!(recorded.counter(&fetches("ok")), 1);
    assert_eq!(recorded.counter(&fetches("error")), 0);
    assert_eq!(recorded.gauge(&keys), Some(1.0));
    assert_eq!(recorded.gauge(&last_known_good), Some(0.0));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    let loaded = recorded.gauge(&loaded_at).expect("load time recorded");
    assert!(
        (now - 60.0..=now + 1.0).contains(&loaded),
        "{loaded} vs {now}"
    );

    // One valid request; one without a token.
    let known = issuer.token().sign();
    let ok = get_with(&app, "/me", &known).await;
    assert_eq!((ok.status, ok.www_authenticate), (StatusCode::OK, None));
    recorded.read();
    assert_eq!(recorded.counter(&cache_hits), 0);
    // The same token again: answered from the verified-token cache.
    let again = get_with(&app, "/me", &known).await;
    assert_eq!(
        (again.status, again.www_authenticate),
        (StatusCode::OK, None)
    );
    recorded.read();
    assert_eq!(recorded.counter(&cache_hits), 1);
    let none = send(&app, "GET", "/me", None).await;
    assert_eq!(
        (none.status, none.www_authenticate.as_deref()),
        (StatusCode::UNAUTHORIZED, Some("Bearer"))
    );

    // A forged kid: one fetch (the unknown-kid clock is separate from the
    // warm-up's), then 401. The same kid again: answered from memory. Another
    // forged kid within the cooldown: no fetch, a cooldown hit.
    let forged = |kid: &str| issuer.token().header_kid(kid).sign();
    for (token, what) in [
        (forged("forged-1"), "forged kid"),
        (forged("forged-1"), "same forged kid"),
        (forged("forged-2"), "other forged kid within the cooldown"),
    ] {
        let outcome = get_with(&app, "/me", &token).await;
        assert_eq!(
            (outcome.status, outcome.www_authenticate.as_deref()),
            (StatusCode::UNAUTHORIZED, Some(INVALID_TOKEN)),
            "{what}"
        );
    }
    assert_eq!(server.requests(), 2);
    recorded.read();
    assert_eq!(recorded.counter(&accepted), 2);
    assert_eq!(recorded.counter(&rejected("missing_token")), 1);
    assert_eq!(recorded.counter(&rejected("unknown_kid")), 3);
    assert_eq!(recorded.counter(&fetches("ok")), 2);
    assert_eq!(recorded.counter(&memory_hits), 1);
    assert_eq!(recorded.counter(&cooldown_hits), 1);

    // Outage: the provider answers 500. Past the cooldown, the issuer rotates
    // and signs at once; that kid's request waits for the refresh, which fails
    // (so every metric of the failure is recorded when it returns). It is
    // refused, the known key still passes, and the last known good is in use.
    server.set(Mode::ServerError);
    clock.advance(cooldown + Duration::from_millis(100));
    let old_kid = issuer.current_kid();
    let new_kid = issuer.rotate();
    let new = issuer.token().signed_by(&new_kid).sign();
    set_sentinel(42.0);
    let refused = get_with(&app, "/me", &new).await;
    assert_eq!(
        (refused.status, refused.www_authenticate.as_deref()),
        (StatusCode::UNAUTHORIZED, Some(INVALID_TOKEN))
    );
    // A token never seen before, so the key cache, not the token cache, answers.
    let fresh = issuer
        .token()
        .signed_by(&old_kid)
        .claim("jti", "fresh")
        .sign();
    let ok = get_with(&app, "/me", &fresh).await;
    assert_eq!((ok.status, ok.www_authenticate), (StatusCode::OK, None));
    assert_eq!(server.faulted(), 1);
    recorded.read();
    assert_eq!(recorded.gauge(&last_known_good), Some(1.0));
    assert_eq!(recorded.counter(&fetches("error")), 1);
    assert_eq!(recorded.counter(&fetches("ok")), 2);
    assert_eq!(recorded.counter(&accepted), 3);
    assert_eq!(recorded.counter(&rejected("unknown_kid")), 4);

    // Recovery: past the backoff (2 cooldowns after one failure) and the
    // memory of the refused kid (1 cooldown), its next request refreshes,
    // successfully, and passes; the last known good is no longer in use.
    server.set(Mode::Normal);
    clock.advance(cooldown * 2 + Duration::from_millis(200));
    set_sentinel(42.0);
    let ok = get_with(&app, "/me", &new).await;
    assert_eq!((ok.status, ok.www_authenticate), (StatusCode::OK, None));
    recorded.read();
    assert_eq!(recorded.gauge(&last_known_good), Some(0.0));
    assert_eq!(recorded.gauge(&keys), Some(2.0));
    assert_eq!(recorded.counter(&fetches("ok")), 3);
    assert_eq!(recorded.counter(&fetches("error")), 1);
    assert_eq!(recorded.counter(&accepted), 4);
    assert_eq!(recorded.counter(&cache_hits), 1);
    assert_eq!(recorded.counter(&rejected("unknown_kid")), 4);
    assert_eq!(recorded.counter(&rejected("missing_token")), 1);
    assert_eq!(recorded.counter(&memory_hits), 1);
    assert_eq!(recorded.counter(&cooldown_hits), 1);
    assert_eq!((server.served(), server.faulted()), (3, 1));
    println!("metrics: {:#?}", recorded.counters);
}
