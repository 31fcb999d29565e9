//! The verified-token cache gives the same verdict as the full pipeline, for
//! the same token at the same moment, across expiry, key withdrawal, its own
//! maximum age and per-route requirements.
//!
//! Each scenario runs two validators side by side against one issuer: one with
//! the cache off (every check runs cold) and one with it on. Whether an answer
//! came from the cache is observed, not assumed: a hit hands out the very value
//! stored the first time, so its claims text sits at the same address, while a
//! cold validation parses the token into a fresh value.
//!
//! Time is a `ManualClock` both validators share, moved by hand. The cache's
//! own memory bookkeeping (moka's expiry) still runs on real time, so the
//! lifetimes here are long in real terms (a minute): an entry is only ever
//! ended by the clock the test moves.

use std::time::{Duration, UNIX_EPOCH};

use bearer_guard::testing::TestIssuer;
use bearer_guard::{Authenticated, Builder, Clock, Error, ManualClock, Validator};
use http::StatusCode;

use crate::support::{
    INVALID_TOKEN, app, builder, eventually, get_with, insufficient, now_on, send, start,
};

/// A validator with the cache off and one with it on, from the same settings.
fn pair(settings: impl Fn(Builder) -> Builder, issuer: &TestIssuer) -> (Validator, Validator) {
    let cold = settings(builder(issuer))
        .token_cache_bytes(0)
        .build_validator()
        .expect("valid configuration");
    let cached = settings(builder(issuer))
        .build_validator()
        .expect("valid configuration");
    (cold, cached)
}

/// Whether `later` is the value `first` handed out (a cache hit), not a new
/// parse of the same token.
fn same_value(first: &Authenticated, later: &Authenticated) -> bool {
    std::ptr::eq(first.claims_json(), later.claims_json())
}

/// The verdict in comparable form: the claims text, or the precise error.
fn verdict(result: &Result<Authenticated, Error>) -> Result<&str, &Error> {
    result.as_ref().map(Authenticated::claims_json)
}

/// Validates `token` with both and asserts the same verdict; returns both.
async fn both(
    cold: &Validator,
    cached: &Validator,
    token: &str,
    what: &str,
) -> (Result<Authenticated, Error>, Result<Authenticated, Error>) {
    let a = cold.validate(token).await;
    let b = cached.validate(token).await;
    assert_eq!(verdict(&a), verdict(&b), "{what}: cold vs cached");
    (a, b)
}

/// Moves `clock` (both readings) forward until its wall clock reads exactly
/// the NumericDate `secs`.
fn advance_to(clock: &ManualClock, secs: i64) {
    let at = UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).expect("after 1970"));
    clock.advance(at.duration_since(clock.now()).expect("a later time"));
}

#[tokio::test]
async fn a_repeated_token_is_a_hit_only_when_the_cache_is_on() {
    let issuer = start().await;
    let (cold, cached) = pair(|b| b, &issuer);
    let token = issuer.token().scope("notes.read").sign();
    let (c1, h1) = both(&cold, &cached, &token, "first").await;
    let (c2, h2) = both(&cold, &cached, &token, "second").await;
    let (c1, c2, h1, h2) = (
        c1.expect("valid"),
        c2.expect("valid"),
        h1.expect("valid"),
        h2.expect("valid"),
    );
    assert!(same_value(&h1, &h2), "the second validation is a hit");
    assert!(
        !same_value(&c1, &c2),
        "without the cache, every validation parses"
    );
    assert!(!same_value(&h1, &c1));

    // Zero bytes or zero age: no cache.
    for off in [
        builder(&issuer).token_cache_bytes(0),
        builder(&issuer).token_cache_max_age(Duration::ZERO),
    ] {
        let validator = off.build_validator().expect("valid configuration");
        let a = validator.validate(&token).await.expect("valid");
        let b = validator.validate(&token).await.expect("valid");
        assert!(!same_value(&a, &b), "cache off");
    }
    assert_eq!(issuer.jwks_requests(), 4, "one key fetch per validator");
}

#[tokio::test]
async fn expiry_gives_the_same_verdict_cold_and_cached_at_every_step() {
    let issuer = start().await;
    let leeway: i64 = 2;
    let clock = ManualClock::new();
    let (cold, cached) = pair(
        |b| {
            b.leeway(Duration::from_secs(leeway.unsigned_abs()))
                .clock(clock.clone())
        },
        &issuer,
    );
    let exp = now_on(&clock) + 60;
    let token = issuer.token().scope("notes.read").claim("exp", exp).sign();

    // Before exp: valid, and the second look is a hit.
    let (_, first) = both(&cold, &cached, &token, "before exp").await;
    let first = first.expect("valid before exp");
    let (_, second) = both(&cold, &cached, &token, "before exp, again").await;
    assert!(
        same_value(&first, &second.expect("valid")),
        "hit before exp"
    );

    // Past exp, within the leeway: valid both ways; the entry ended at exp, so
    // the cached validator checks it cold again (and does not cache it anew).
    advance_to(&clock, exp);
    let (_, within) = both(&cold, &cached, &token, "within the leeway").await;
    let within = within.expect("valid within the leeway");
    assert!(!same_value(&first, &within), "no entry outlives exp");
    let (_, again) = both(&cold, &cached, &token, "within the leeway, again").await;
    assert!(
        !same_value(&within, &again.expect("valid")),
        "not re-cached"
    );

    // Past exp and leeway: expired both ways.
    advance_to(&clock, exp + leeway);
    let (_, expired) = both(&cold, &cached, &token, "after the leeway").await;
    assert_eq!(expired.err(), Some(Error::Expired));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_token_is_dropped_once_its_key_leaves_the_set() {
    let issuer = start().await;
    let clock = ManualClock::new();
    let (cold, cached) = pair(
        |b| {
            b.refresh_cooldown(Duration::from_millis(100))
                .key_set_max_age(Duration::from_millis(300))
                .clock(clock.clone())
        },
        &issuer,
    );
    let kid_a = issuer.current_kid();
    let token = issuer.token().scope("notes.read").sign();
    let (_, first) = both(&cold, &cached, &token, "key A published").await;
    let first = first.expect("valid");

    // A refresh that still publishes A (B is added) keeps the entry: the
    // token stays a hit after it.
    let kid_b = issuer.rotate();
    clock.advance(Duration::from_millis(400));
    let fetched = issuer.jwks_requests();
    let (_, hit) = both(&cold, &cached, &token, "A and B published").await;
    assert!(same_value(&first, &hit.expect("valid")));
    // That started a background refresh in each validator. A token signed
    // with B (published before they started) waits for them: it finds B once
    // its validator's refresh has landed, or joins the refresh under way.
    let token_b = issuer.token().signed_by(&kid_b).sign();
    let (_, b) = both(&cold, &cached, &token_b, "B, once the refreshes land").await;
    assert!(b.is_ok());
    assert_eq!(issuer.jwks_requests(), fetched + 2, "one refresh each");
    let (_, hit) = both(&cold, &cached, &token, "after a refresh keeping A").await;
    assert!(same_value(&first, &hit.expect("valid")), "unchanged key");

    // A withdrawn: once the sets are refreshed, 401 both ways.
    issuer.remove_key(&kid_a);
    clock.advance(Duration::from_millis(400));
    eventually("both notice the withdrawal", async || {
        let a = cold.validate(&token).await;
        let b = cached.validate(&token).await;
        if a.is_err() && b.is_err() {
            assert_eq!(a.err(), Some(Error::UnknownKeyId));
            assert_eq!(b.err(), Some(Error::UnknownKeyId));
            return true;
        }
        false
    })
    .await;
    let (_, after) = both(&cold, &cached, &token, "A withdrawn").await;
    assert_eq!(after.err(), Some(Error::UnknownKeyId));
}

#[tokio::test]
async fn an_entry_lives_no_longer_than_the_maximum_age() {
    let issuer = start().await;
    let clock = ManualClock::new();
    let max_age = Duration::from_secs(60);
    let (cold, cached) = pair(
        |b| b.token_cache_max_age(max_age).clock(clock.clone()),
        &issuer,
    );
    let token = issuer.token().scope("notes.read").sign();
    let (_, first) = both(&cold, &cached, &token, "first").await;
    let first = first.expect("valid");
    let (_, hit) = both(&cold, &cached, &token, "second").await;
    assert!(same_value(&first, &hit.expect("valid")));
    clock.advance(max_age);
    let (_, renewed) = both(&cold, &cached, &token, "past the maximum age").await;
    let renewed = renewed.expect("valid");
    assert!(!same_value(&first, &renewed), "checked cold again");
    let (_, hit) = both(&cold, &cached, &token, "cached again").await;
    assert!(same_value(&renewed, &hit.expect("valid")));
}

#[tokio::test]
async fn a_cache_too_small_for_any_entry_still_gives_every_verdict() {
    let issuer = start().await;
    let (cold, tiny) = pair(|b| b.token_cache_bytes(1), &issuer);
    let good = issuer.token().scope("notes.read").sign();
    let other_audience = issuer.token().audience("api://other").sign();
    for _ in 0..3 {
        let (_, ok) = both(&cold, &tiny, &good, "good").await;
        assert!(ok.is_ok());
        let (_, bad) = both(&cold, &tiny, &other_audience, "other audience").await;
        assert_eq!(bad.err(), Some(Error::AudienceMismatch));
    }
}

#[tokio::test]
async fn route_requirements_are_checked_on_every_cached_request() {
    let issuer = start().await;
    let app = app(crate::support::layer(&issuer));
    let reader = issuer.token().scope("notes.read").sign();
    for round in 0..3 {
        let read = get_with(&app, "/notes", &reader).await;
        assert_eq!(
            (read.status, read.www_authenticate),
            (StatusCode::OK, None),
            "round {round}"
        );
        let write = send(&app, "POST", "/notes", Some(&format!("Bearer {reader}"))).await;
        assert_eq!(write, insufficient("notes.write"), "round {round}");
    }
    // A tampered copy of a cached token is a different token: checked cold.
    let mut tampered = reader.clone().into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ascii");
    let outcome = get_with(&app, "/notes", &tampered).await;
    assert_eq!(
        (outcome.status, outcome.www_authenticate.as_deref()),
        (StatusCode::UNAUTHORIZED, Some(INVALID_TOKEN))
    );
}

/// A handler's `Claims<T>` is deserialized once per cached token: requests
/// presenting the same token share one `Arc<T>`; another token, or the cache
/// off, gets its own value. Claims that do not fit `T` are refused on every
/// request, cached or not.
#[tokio::test]
async fn typed_claims_are_deserialized_once_per_cached_token() {
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::routing::get;
    use bearer_guard::Claims;

    #[derive(serde::Deserialize)]
    struct Mine {
        sub: String,
    }
    #[derive(serde::Deserialize)]
    struct Strict {
        #[allow(dead_code)]
        oid: String,
    }

    let issuer = start().await;
    // Every value a request was handed, kept alive, so that two values are
    // one exactly when they share an address.
    let seen: Arc<Mutex<Vec<Arc<Mine>>>> = Arc::default();
    let app = |layer| {
        let seen = Arc::clone(&seen);
        Router::new()
            .route(
                "/mine",
                get(move |Claims(mine): Claims<Mine>| async move {
                    let sub = mine.sub.clone();
                    seen.lock().expect("lock").push(mine);
                    sub
                }),
            )
            .route("/strict", get(|_: Claims<Strict>| async { "never" }))
            .route_layer(layer)
    };
    let cached = app(crate::support::layer(&issuer));
    let uncached = app(builder(&issuer)
        .token_cache_bytes(0)
        .build()
        .expect("valid configuration"));
    let one = issuer.token().claim("sub", "one").sign();
    let two = issuer.token().claim("sub", "two").sign();
    let take = || std::mem::take(&mut *seen.lock().expect("lock"));

    for token in [&one, &one, &one, &two, &two] {
        assert_eq!(
            get_with(&cached, "/mine", token).await.status,
            StatusCode::OK
        );
    }
    let values = take();
    let subs: Vec<&str> = values.iter().map(|v| v.sub.as_str()).collect();
    assert_eq!(subs, ["one", "one", "one", "two", "two"]);
    assert!(values[..3].iter().all(|v| Arc::ptr_eq(v, &values[0])));
    assert!(Arc::ptr_eq(&values[3], &values[4]));
    assert!(
        !Arc::ptr_eq(&values[0], &values[3]),
        "another token, another value"
    );

    for _ in 0..2 {
        assert_eq!(
            get_with(&uncached, "/mine", &one).await.status,
            StatusCode::OK
        );
    }
    let values = take();
    assert!(
        !Arc::ptr_eq(&values[0], &values[1]),
        "cache off: one value each"
    );

    for app in [&cached, &cached, &uncached] {
        let outcome = get_with(app, "/strict", &one).await;
        assert_eq!(
            (outcome.status, outcome.www_authenticate.as_deref()),
            (StatusCode::UNAUTHORIZED, Some(INVALID_TOKEN))
        );
    }
}
