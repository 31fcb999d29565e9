//! Key discovery, caching and refresh (issue 2, point 3), against the local
//! test issuer on loopback.
//!
//! Proves that: the first request discovers and fetches the key set exactly
//! once and later requests reuse it; concurrent first requests share one fetch;
//! a rotated-in key is accepted after exactly one refresh and a key removed from
//! the set stops verifying after the next refresh, and, with no new `kid` at
//! all, once the set passes its maximum age; floods of random `kid`s never
//! cause more than one fetch per cooldown; an unreachable issuer gives 503 with
//! `Retry-After` and no challenge; a weak (1024-bit) RSA key in the set is
//! refused while its neighbours work; an explicit `jwks_uri` skips discovery; a
//! discovery document naming another issuer is refused without fetching its
//! keys; and `Validator::warm_up` loads the keys before the first request.
//!
//! Cooldowns and key-set ages run on a `ManualClock` the tests move by hand;
//! only the fetches themselves take real time, over loopback.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bearer_guard::testing::{KeyKind, TestIssuer};
use bearer_guard::{BearerAuthLayer, ManualClock, TypPolicy};
use http::{StatusCode, header};

use crate::support::{
    INVALID_TOKEN, Outcome, app, assert_unavailable, builder, eventually, get_headers, get_with,
    layer, random_kid_tokens, serve, start,
};

/// A layer trusting `issuer`, on `clock`, which the test moves past the
/// refresh cooldown by hand.
fn layer_with_cooldown(
    issuer: &TestIssuer,
    cooldown: Duration,
    clock: &ManualClock,
) -> BearerAuthLayer {
    builder(issuer)
        .refresh_cooldown(cooldown)
        .clock(clock.clone())
        .build()
        .expect("valid configuration")
}

/// The default layer (`support::layer`) on a clock that does not move, so
/// that its 30 s cooldown cannot run out during the test, however slow.
fn layer_on_a_still_clock(issuer: &TestIssuer) -> BearerAuthLayer {
    builder(issuer)
        .clock(ManualClock::new())
        .build()
        .expect("valid configuration")
}

/// Sends every token to `GET /me` at once, each from its own task, and returns
/// the outcomes in order.
async fn fire(app: &Router, tokens: Vec<String>) -> Vec<Outcome> {
    let tasks: Vec<_> = tokens
        .into_iter()
        .map(|token| {
            let app = app.clone();
            tokio::spawn(async move { get_with(&app, "/me", &token).await })
        })
        .collect();
    let mut outcomes = Vec::with_capacity(tasks.len());
    for task in tasks {
        outcomes.push(task.await.expect("request task"));
    }
    outcomes
}

/// Asserts every outcome is a 401 `invalid_token` with an empty body.
fn assert_all_invalid_token(outcomes: &[Outcome]) {
    for (i, outcome) in outcomes.iter().enumerate() {
        assert_eq!(
            (
                outcome.status,
                outcome.www_authenticate.as_deref(),
                outcome.body.as_str()
            ),
            (StatusCode::UNAUTHORIZED, Some(INVALID_TOKEN), ""),
            "request {i}"
        );
    }
}

/// A loopback URL where nothing listens: a port just freed by the OS.
fn unreachable_issuer() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

#[tokio::test]
async fn first_request_fetches_once_and_later_requests_reuse_the_keys() {
    let issuer = start().await;
    let app = app(layer(&issuer));
    // Building the layer causes no traffic.
    assert_eq!(
        (issuer.discovery_requests(), issuer.jwks_requests()),
        (0, 0)
    );

    let token = issuer.token().sign();
    let first = get_with(&app, "/me", &token).await;
    assert_eq!(
        (first.status, first.www_authenticate),
        (StatusCode::OK, None)
    );
    assert_eq!(
        (issuer.discovery_requests(), issuer.jwks_requests()),
        (1, 1)
    );

    for _ in 0..10 {
        let again = get_with(&app, "/me", &token).await;
        assert_eq!(
            (again.status, again.www_authenticate),
            (StatusCode::OK, None)
        );
    }
    // Another token with the same kid: still served from the cache.
    let other = issuer.token().claim("sub", "someone-else").sign();
    assert_eq!(get_with(&app, "/me", &other).await.status, StatusCode::OK);
    assert_eq!(
        (issuer.discovery_requests(), issuer.jwks_requests()),
        (1, 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_requests_share_exactly_one_fetch() {
    let issuer = start().await;
    // Holds the JWKS response so that the requests pile up on the one fetch
    // under way. Requests arriving after it find the key cached, so the counts
    // below hold whatever the timing.
    issuer.set_jwks_delay(Duration::from_millis(300));
    let app = app(layer(&issuer));
    let token = issuer.token().sign();

    let outcomes = fire(&app, vec![token; 200]).await;
    for (i, outcome) in outcomes.iter().enumerate() {
        assert_eq!(
            (outcome.status, outcome.www_authenticate.as_deref()),
            (StatusCode::OK, None),
            "request {i}"
        );
    }
    assert_eq!(issuer.discovery_requests(), 1);
    assert_eq!(issuer.jwks_requests(), 1);
}

#[tokio::test]
async fn rotation_new_key_accepted_after_one_refresh_removed_key_refused_after_next() {
    let issuer = start().await;
    let cooldown = Duration::from_millis(200);
    let past_cooldown = Duration::from_millis(300);
    let clock = ManualClock::new();
    let app = app(layer_with_cooldown(&issuer, cooldown, &clock));

    let kid_a = issuer.current_kid();
    let token_a = issuer.token().signed_by(&kid_a).sign();
    assert_eq!(get_with(&app, "/me", &token_a).await.status, StatusCode::OK);
    assert_eq!(
        (issuer.discovery_requests(), issuer.jwks_requests()),
        (1, 1)
    );

    // The issuer publishes key B next to A and signs with it from now on.
    clock.advance(past_cooldown);
    let kid_b = issuer.rotate();
    assert_ne!(kid_a, kid_b);
    let token_b = issuer.token().signed_by(&kid_b).sign();
    let b = get_with(&app, "/me", &token_b).await;
    assert_eq!((b.status, b.www_authenticate), (StatusCode::OK, None));
    // Exactly one more JWKS fetch; the jwks_uri found by discovery is reused.
    assert_eq!(
        (issuer.discovery_requests(), issuer.jwks_requests()),
        (1, 2)
    );

    // A is still published: its tokens still pass, from the cache.
    let a = get_with(&app, "/me", &token_a).await;
    assert_eq!((a.status, a.www_authenticate), (StatusCode::OK, None));
    assert_eq!(get_with(&app, "/me", &token_b).await.status, StatusCode::OK);
    assert_eq!(issuer.jwks_requests(), 2);

    // The issuer retires A. The layer learns of it at its next refresh (known
    // kids never cause a fetch): until then A's tokens still pass.
    issuer.remove_key(&kid_a);
    assert_eq!(get_with(&app, "/me", &token_a).await.status, StatusCode::OK);
    assert_eq!(issuer.jwks_requests(), 2);

    // A new key C, past the cooldown: its first token causes one refresh, which
    // loads {B, C} and drops A.
    clock.advance(past_cooldown);
    let kid_c = issuer.rotate();
    let token_c = issuer.token().signed_by(&kid_c).sign();
    let c = get_with(&app, "/me", &token_c).await;
    assert_eq!((c.status, c.www_authenticate), (StatusCode::OK, None));
    assert_eq!(
        (issuer.discovery_requests(), issuer.jwks_requests()),
        (1, 3)
    );

    // A is gone from the cache: refused as a bad token, without a fetch (the
    // clock has not moved since C's, so the cooldown runs).
    let a = get_with(&app, "/me", &token_a).await;
    assert_eq!(
        (a.status, a.www_authenticate.as_deref(), a.body.as_str()),
        (StatusCode::UNAUTHORIZED, Some(INVALID_TOKEN), "")
    );
    assert_eq!(issuer.jwks_requests(), 3);
    // B and C still pass, from the cache.
    assert_eq!(get_with(&app, "/me", &token_b).await.status, StatusCode::OK);
    assert_eq!(get_with(&app, "/me", &token_c).await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdrawn_key_stops_verifying_once_the_set_passes_its_max_age() {
    // No new kid ever shows up here, so only the maximum age can make the layer
    // notice that the issuer withdrew key A.
    let issuer = start().await;
    let clock = ManualClock::new();
    let app = app(BearerAuthLayer::builder()
        .issuer(issuer.issuer())
        .audience(TestIssuer::AUDIENCE)
        .refresh_cooldown(Duration::from_millis(100))
        .key_set_max_age(Duration::from_millis(300))
        .clock(clock.clone())
        .build()
        .expect("valid configuration"));
    let kid_a = issuer.current_kid();
    let kid_b = issuer.rotate();
    let token_a = issuer.token().signed_by(&kid_a).sign();
    let token_b = issuer.token().signed_by(&kid_b).sign();
    assert_eq!(get_with(&app, "/me", &token_a).await.status, StatusCode::OK);
    assert_eq!(get_with(&app, "/me", &token_b).await.status, StatusCode::OK);
    assert_eq!(issuer.jwks_requests(), 1);

    // Withdrawn, but the set is younger than its maximum age: no fetch, A passes.
    issuer.remove_key(&kid_a);
    assert_eq!(get_with(&app, "/me", &token_a).await.status, StatusCode::OK);
    assert_eq!(issuer.jwks_requests(), 1);

    // Past the maximum age, 50 concurrent requests with B are all served from
    // memory, and together start exactly one background refresh.
    clock.advance(Duration::from_millis(400));
    let requests = (0..50).map(|_| {
        let app = app.clone();
        let token = token_b.clone();
        tokio::spawn(async move { get_with(&app, "/me", &token).await.status })
    });
    for status in futures_util::future::join_all(requests).await {
        assert_eq!(status.expect("task"), StatusCode::OK);
    }
    eventually("one background refresh", async || {
        issuer.jwks_requests() == 2
    })
    .await;

    // Once that refresh has landed, A is refused as a bad token and B passes.
    eventually("key A refused", async || {
        get_with(&app, "/me", &token_a).await.status == StatusCode::UNAUTHORIZED
    })
    .await;
    let a = get_with(&app, "/me", &token_a).await;
    assert_eq!(
        (a.status, a.www_authenticate.as_deref(), a.body.as_str()),
        (StatusCode::UNAUTHORIZED, Some(INVALID_TOKEN), "")
    );
    assert_eq!(get_with(&app, "/me", &token_b).await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn flood_of_random_kids_after_warm_up_causes_no_fetch_within_the_cooldown() {
    let issuer = start().await;
    // Sign the flood with Ed25519 (fast), not RSA: only minting speed differs.
    issuer.add_key(KeyKind::EdDsa);
    // Default cooldown: 30 s.
    let app = app(layer_on_a_still_clock(&issuer));
    let good = issuer.token().sign();
    assert_eq!(get_with(&app, "/me", &good).await.status, StatusCode::OK);
    assert_eq!(
        (issuer.discovery_requests(), issuer.jwks_requests()),
        (1, 1)
    );

    // 1,000 concurrent requests, each naming a distinct unknown kid. The spec
    // bound is "at most one JWKS fetch". Here it is exactly zero: the first
    // request above found no key set and so was itself an unknown-kid fetch,
    // which started the 30 s unknown-kid cooldown; none of these kids may
    // cause another. The case where the cooldown has passed, and the first
    // unknown kid does cause one shared refresh, is the next two tests.
    let before = issuer.jwks_requests();
    let outcomes = fire(&app, random_kid_tokens(&issuer, "wave1", 1000)).await;
    assert_all_invalid_token(&outcomes);
    let after_first_wave = issuer.jwks_requests();
    assert!(after_first_wave - before <= 1);
    assert_eq!(after_first_wave - before, 0);

    // A second wave: still nothing.
    let outcomes = fire(&app, random_kid_tokens(&issuer, "wave2", 1000)).await;
    assert_all_invalid_token(&outcomes);
    assert_eq!(issuer.jwks_requests(), after_first_wave);
    assert_eq!(issuer.discovery_requests(), 1);

    // The known key still works, without a fetch.
    assert_eq!(get_with(&app, "/me", &good).await.status, StatusCode::OK);
    assert_eq!(issuer.jwks_requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn flood_of_random_kids_once_the_cooldown_has_passed_causes_exactly_one_fetch() {
    let issuer = start().await;
    // Sign the flood with Ed25519 (fast), not RSA: only minting speed differs.
    issuer.add_key(KeyKind::EdDsa);
    let cooldown = Duration::from_secs(2);
    let clock = ManualClock::new();
    let app = app(layer_with_cooldown(&issuer, cooldown, &clock));
    let good = issuer.token().sign();
    assert_eq!(get_with(&app, "/me", &good).await.status, StatusCode::OK);
    assert_eq!(
        (issuer.discovery_requests(), issuer.jwks_requests()),
        (1, 1)
    );

    let tokens = random_kid_tokens(&issuer, "flood", 1000);
    // Past the cooldown, the first unknown kid may refresh. The slow JWKS holds
    // that fetch open so the others join it; those arriving after it hit the
    // cooldown, which counts from the fetch's start (and the clock does not
    // move again).
    clock.advance(cooldown + Duration::from_millis(200));
    issuer.set_jwks_delay(Duration::from_millis(500));
    let outcomes = fire(&app, tokens).await;
    assert_all_invalid_token(&outcomes);
    assert_eq!(issuer.jwks_requests(), 2);
    assert_eq!(issuer.discovery_requests(), 1);
    assert_eq!(get_with(&app, "/me", &good).await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cold_flood_of_random_kids_causes_exactly_one_fetch() {
    let issuer = start().await;
    // Sign the flood with Ed25519 (fast), not RSA: only minting speed differs.
    issuer.add_key(KeyKind::EdDsa);
    issuer.set_jwks_delay(Duration::from_millis(300));
    // Default cooldown: 30 s.
    let app = app(layer_on_a_still_clock(&issuer));

    // No keys yet: the first unknown kid starts the one discovery and fetch;
    // every other request joins it, or (once it is done) finds the cooldown
    // running. All are then refused as bad tokens, not as "keys unavailable",
    // since a key set did load.
    let outcomes = fire(&app, random_kid_tokens(&issuer, "cold", 1000)).await;
    assert_all_invalid_token(&outcomes);
    assert_eq!(
        (issuer.discovery_requests(), issuer.jwks_requests()),
        (1, 1)
    );

    let outcomes = fire(&app, random_kid_tokens(&issuer, "again", 1000)).await;
    assert_all_invalid_token(&outcomes);
    assert_eq!(
        (issuer.discovery_requests(), issuer.jwks_requests()),
        (1, 1)
    );

    // The set the flood loaded serves real tokens without another fetch.
    let good = issuer.token().sign();
    assert_eq!(get_with(&app, "/me", &good).await.status, StatusCode::OK);
    assert_eq!(issuer.jwks_requests(), 1);
}

#[tokio::test]
async fn unreachable_issuer_on_cold_start_gives_503_with_retry_after_and_no_challenge() {
    let token_issuer = start().await;
    let unreachable = unreachable_issuer();
    let layer = BearerAuthLayer::builder()
        .issuer(&unreachable)
        .audience(TestIssuer::AUDIENCE)
        .typ(TypPolicy::AccessTokenOrJwt)
        // A clock standing still, so that Retry-After is exactly the cooldown.
        .clock(ManualClock::new())
        .build()
        .expect("valid configuration");
    let validator = layer.validator().clone();
    let app = app(layer);
    // A token naming the unreachable issuer, so it passes the `iss` check that
    // comes before any key lookup.
    let token = token_issuer
        .token()
        .claim("iss", unreachable.as_str())
        .sign();

    let (status, headers) = get_headers(&app, "/me", &token).await;
    assert_unavailable(status, &headers, 30, "first request");
    // Again, within the cooldown: still unavailable (no key set ever loaded).
    let (status, headers) = get_headers(&app, "/notes", &token).await;
    assert_unavailable(status, &headers, 30, "within the cooldown");
    assert!(!validator.is_ready());
    // Our own issuer was never asked.
    assert_eq!(
        (
            token_issuer.discovery_requests(),
            token_issuer.jwks_requests()
        ),
        (0, 0)
    );

    // warm_up reports the failure.
    let fresh = BearerAuthLayer::builder()
        .issuer(&unreachable)
        .audience(TestIssuer::AUDIENCE)
        .build_validator()
        .expect("valid configuration");
    assert!(!fresh.warm_up().await);
    assert!(!fresh.is_ready());
}

/// The public half of `tests/data/rsa1024.pem` (a 1024-bit RSA key) as a
/// JWK with `kid` `weak-1024`.
const WEAK_JWK_N: &str = "2O3H1Uq89x4I2GgvZyD6PrYMwXtpBtbqs1MXnf_GAr6upsmpXSpAUpH1ThuQtZdUdy65-v0ZtAP54qKEATkCrWJb9JbuSRwgpNleXvi4i0kuW-uAQcMKLyzBMoXiL_F_2Ff3OKEdY6s0X6gjKxr5aVI7bdtPuYITBLIuCoJQWxk";

/// A token whose RS256 signature by that 1024-bit key is valid, made once with
/// an independent implementation (Python `cryptography`, PKCS#1 v1.5 + SHA-256)
/// because aws-lc-rs refuses to sign with a key under 2048 bits. Header
/// `{"alg":"RS256","kid":"weak-1024","typ":"at+jwt"}`; claims `iss`
/// `https://weak-key.example`, `aud` the test audience, `sub` `test-user`,
/// `iat` 1700000000, `exp` 4102444800 (year 2100).
const WEAK_SIGNED_TOKEN: &str = concat!(
    "eyJhbGciOiJSUzI1NiIsImtpZCI6IndlYWstMTAyNCIsInR5cCI6ImF0K2p3dCJ9.",
    "eyJpc3MiOiJodHRwczovL3dlYWsta2V5LmV4YW1wbGUiLCJhdWQiOiJhcGk6Ly9iZWFyZXItZ3VhcmQtdGVzdCIsInN1YiI6",
    "InRlc3QtdXNlciIsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjo0MTAyNDQ0ODAwfQ.",
    "UIO7GF1bBwQbJMass-RX5IzNlO5d0zYqC0FgxxJLSN_Z3pP5LO2PKdIauGsOmCOSRPi-VgQNucx5ysXOlcxRmrhrVFhVg2t3",
    "K-r8KAnCNCS4dYDwv1B9U0TC6NYpAX8N0NZkMyLSOYy3AaYnzFfandUv-CZNN7yE_1nwWdQUjwA",
);

#[tokio::test]
async fn genuinely_signed_token_from_a_published_1024_bit_key_is_refused() {
    // aws-lc-rs refuses to sign with (or even load) a key under 2048 bits, so
    // the test issuer cannot publish one: a JWKS serving a real 1024-bit RSA JWK next to a
    // good 2048-bit one, and a token with a valid signature by the 1024-bit key.
    let issuer = start().await;
    let good_kid = issuer.current_kid();
    let body = reqwest::get(issuer.jwks_uri())
        .await
        .expect("jwks")
        .bytes()
        .await
        .expect("body");
    let issuer_jwks: serde_json::Value = serde_json::from_slice(&body).expect("json");
    let good_jwk = issuer_jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == good_kid.as_str())
        .expect("good key published")
        .clone();
    let weak_jwk = serde_json::json!({
        "kty": "RSA", "kid": "weak-1024", "use": "sig", "alg": "RS256",
        "n": WEAK_JWK_N, "e": "AQAB",
    });
    assert_eq!(
        URL_SAFE_NO_PAD.decode(WEAK_JWK_N).expect("n").len() * 8,
        1024
    );
    let document = serde_json::json!({ "keys": [weak_jwk, good_jwk] }).to_string();
    let served = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&served);
    let base = serve(Router::new().route(
        "/jwks",
        get(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            let document = document.clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], document) }
        }),
    ))
    .await;

    let app = app(BearerAuthLayer::builder()
        .issuer("https://weak-key.example")
        .audience(TestIssuer::AUDIENCE)
        .jwks_uri(format!("{base}/jwks"))
        .build()
        .expect("valid configuration"));

    let outcome = get_with(&app, "/me", WEAK_SIGNED_TOKEN).await;
    assert_eq!(
        (
            outcome.status,
            outcome.www_authenticate.as_deref(),
            outcome.body.as_str()
        ),
        (StatusCode::UNAUTHORIZED, Some(INVALID_TOKEN), "")
    );
    assert_eq!(served.load(Ordering::SeqCst), 1);

    let good = issuer
        .token()
        .claim("iss", "https://weak-key.example")
        .signed_by(&good_kid)
        .sign();
    let outcome = get_with(&app, "/me", &good).await;
    assert_eq!(
        (outcome.status, outcome.www_authenticate),
        (StatusCode::OK, None)
    );
    assert_eq!(served.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn explicit_jwks_uri_skips_discovery() {
    let issuer = start().await;
    let layer = BearerAuthLayer::builder()
        .issuer(issuer.issuer())
        .audience(TestIssuer::AUDIENCE)
        .jwks_uri(issuer.jwks_uri())
        .build()
        .expect("valid configuration");
    let app = app(layer);

    let token = issuer.token().sign();
    let outcome = get_with(&app, "/me", &token).await;
    assert_eq!(
        (outcome.status, outcome.www_authenticate),
        (StatusCode::OK, None)
    );
    assert_eq!(issuer.discovery_requests(), 0);
    assert_eq!(issuer.jwks_requests(), 1);
}

/// A discovery server with one document per path prefix, all pointing at the
/// test issuer's JWKS: `/good` names itself as issuer, `/slash` names itself
/// with a trailing `/`, `/other` names a different issuer. Returns its base URL
/// and how many discovery documents it served.
async fn discovery_server(jwks_uri: String) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    // The documents name this server's own address, so it is known before they are.
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let served = Arc::new(AtomicUsize::new(0));
    let mut router = Router::new();
    for (prefix, named_issuer) in [
        ("good", format!("{base}/good")),
        ("slash", format!("{base}/slash/")),
        (
            "other",
            "https://login.example.com/other-tenant/v2.0".to_owned(),
        ),
    ] {
        let document =
            serde_json::json!({ "issuer": named_issuer, "jwks_uri": jwks_uri }).to_string();
        let served = Arc::clone(&served);
        router = router.route(
            &format!("/{prefix}/.well-known/openid-configuration"),
            get(move || {
                served.fetch_add(1, Ordering::SeqCst);
                let document = document.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], document) }
            }),
        );
    }
    tokio::spawn(async move {
        axum::serve(listener, router).await.expect("serve");
    });
    (base, served)
}

#[tokio::test]
async fn discovery_document_naming_another_issuer_is_refused_without_fetching_keys() {
    let issuer = start().await;
    let (base, served) = discovery_server(issuer.jwks_uri()).await;

    for prefix in ["slash", "other"] {
        let configured = format!("{base}/{prefix}");
        let layer = BearerAuthLayer::builder()
            .issuer(&configured)
            .audience(TestIssuer::AUDIENCE)
            .clock(ManualClock::new())
            .build()
            .expect("valid configuration");
        let validator = layer.validator().clone();
        let app = app(layer);
        let token = issuer.token().claim("iss", configured.as_str()).sign();
        let served_before = served.load(Ordering::SeqCst);

        let (status, headers) = get_headers(&app, "/me", &token).await;
        assert_unavailable(status, &headers, 30, prefix);
        let (status, headers) = get_headers(&app, "/me", &token).await;
        assert_unavailable(status, &headers, 30, prefix);
        assert!(!validator.is_ready(), "{prefix}");
        // One discovery (the second request is within the cooldown), and the
        // keys it points to were never fetched.
        assert_eq!(served.load(Ordering::SeqCst) - served_before, 1, "{prefix}");
        assert_eq!(issuer.jwks_requests(), 0, "{prefix}");
    }

    // Control: the same server and keys, with a matching document, work.
    let configured = format!("{base}/good");
    let layer = BearerAuthLayer::builder()
        .issuer(&configured)
        .audience(TestIssuer::AUDIENCE)
        .build()
        .expect("valid configuration");
    let app = app(layer);
    let token = issuer.token().claim("iss", configured.as_str()).sign();
    let outcome = get_with(&app, "/me", &token).await;
    assert_eq!(
        (outcome.status, outcome.www_authenticate),
        (StatusCode::OK, None)
    );
    assert_eq!(issuer.jwks_requests(), 1);
    assert_eq!(issuer.discovery_requests(), 0);
}

#[tokio::test]
async fn warm_up_loads_the_keys_before_the_first_request() {
    let issuer = start().await;
    let layer = layer(&issuer);
    let validator = layer.validator().clone();
    assert!(!validator.is_ready());
    assert_eq!(
        (issuer.discovery_requests(), issuer.jwks_requests()),
        (0, 0)
    );

    assert!(validator.warm_up().await);
    assert!(validator.is_ready());
    assert_eq!(
        (issuer.discovery_requests(), issuer.jwks_requests()),
        (1, 1)
    );

    // The layer shares the validator's cache: the first request fetches nothing.
    let app = app(layer);
    let token = issuer.token().sign();
    let outcome = get_with(&app, "/me", &token).await;
    assert_eq!(
        (outcome.status, outcome.www_authenticate),
        (StatusCode::OK, None)
    );
    assert_eq!(
        (issuer.discovery_requests(), issuer.jwks_requests()),
        (1, 1)
    );
}

/// Issue 12.7: the discovery document is read again on its schedule (its own
/// freshness, clamped as a key set's is), so an issuer that moves its key set
/// to a new `jwks_uri` is followed without a restart.
#[tokio::test]
async fn a_jwks_uri_moved_by_the_discovery_document_is_followed() {
    let old = start().await;
    let new = start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let jwks_uri = Arc::new(std::sync::Mutex::new(old.jwks_uri()));
    let served = Arc::new(AtomicUsize::new(0));
    let document = {
        let (base, jwks_uri, served) = (base.clone(), Arc::clone(&jwks_uri), Arc::clone(&served));
        move || {
            served.fetch_add(1, Ordering::SeqCst);
            let jwks_uri = jwks_uri.lock().expect("lock").clone();
            let body = serde_json::json!({ "issuer": base, "jwks_uri": jwks_uri }).to_string();
            async move { ([(header::CONTENT_TYPE, "application/json")], body) }
        }
    };
    let router = Router::new().route("/.well-known/openid-configuration", get(document));
    tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });

    let clock = ManualClock::new();
    let app = app(BearerAuthLayer::builder()
        .issuer(&base)
        .audience(TestIssuer::AUDIENCE)
        .refresh_cooldown(Duration::from_secs(1))
        .key_set_max_age(Duration::from_secs(10))
        .token_cache_bytes(0)
        .clock(clock.clone())
        .build()
        .expect("valid configuration"));
    // The new key set holds another key only (the test issuers' first keys
    // are the same bundled one).
    let moved = new.rotate();
    new.remove_key(&old.current_kid());
    let by_old = old.token().claim("iss", base.as_str()).sign();
    let by_new = new
        .token()
        .signed_by(&moved)
        .claim("iss", base.as_str())
        .sign();
    assert_eq!(get_with(&app, "/me", &by_old).await.status, StatusCode::OK);
    assert_eq!(served.load(Ordering::SeqCst), 1);
    assert_eq!((old.jwks_requests(), new.jwks_requests()), (1, 0));

    // The issuer moves its key set. Within the document's freshness nothing
    // changes; past it, the next refresh reads the document again.
    *jwks_uri.lock().expect("lock") = new.jwks_uri();
    assert_eq!(get_with(&app, "/me", &by_old).await.status, StatusCode::OK);
    clock.advance(Duration::from_secs(11));
    assert_eq!(get_with(&app, "/me", &by_old).await.status, StatusCode::OK);
    eventually("the new key set", async || new.jwks_requests() == 1).await;
    assert_eq!(served.load(Ordering::SeqCst), 2);
    assert_eq!(old.jwks_requests(), 1, "the old jwks_uri is no longer read");
    assert_eq!(get_with(&app, "/me", &by_new).await.status, StatusCode::OK);
    let refused = get_with(&app, "/me", &by_old).await;
    assert_eq!(
        (refused.status, refused.www_authenticate.as_deref()),
        (StatusCode::UNAUTHORIZED, Some(INVALID_TOKEN))
    );
}

/// Validators share one HTTP client per process (per connect timeout), and a
/// client outlives the runtime it was first used on: validators on a second
/// and third runtime, each made after the last is gone, still fetch their
/// keys from the same issuer. The issuer runs on a runtime of its own
/// throughout.
#[test]
fn validators_on_successive_runtimes_share_a_client_and_still_fetch() {
    let issuer_runtime = tokio::runtime::Runtime::new().expect("runtime");
    let issuer = issuer_runtime.block_on(start());
    // A connect timeout no other test uses, so that this test's validators
    // share a client with each other only.
    let settings = || {
        builder(&issuer)
            .connect_timeout(Duration::from_millis(4_321))
            .build_validator()
            .expect("valid configuration")
    };
    for round in 0..3 {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            for validator in [settings(), settings()] {
                assert!(validator.warm_up().await, "round {round}: keys load");
                let token = issuer.token().scope("notes.read").sign();
                assert!(validator.validate(&token).await.is_ok(), "round {round}");
            }
        });
        drop(runtime);
    }
    drop(issuer);
}
