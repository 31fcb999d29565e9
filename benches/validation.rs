//! Criterion: validation per algorithm next to a raw `jsonwebtoken` verify of
//! the same token, and requirement evaluation. See BENCHMARKS.md.
//!
//! ```text
//! cargo bench --bench validation                 # everything, about 2 minutes
//! cargo bench --bench validation -- rs256        # one group
//! ```
//!
//! Each algorithm's group measures, on one token and one key:
//! - `raw_jsonwebtoken_verify`: `jsonwebtoken::crypto::verify` of the signature
//!   with a `DecodingKey` parsed once (the floor: only the signature);
//! - `raw_jsonwebtoken_decode`: `jsonwebtoken::decode` (signature and claims),
//!   what a hand-written middleware does;
//! - `bearer_guard_cold`: `Validator::validate` with the token cache off, keys
//!   already fetched: the whole pipeline every time;
//! - `bearer_guard_cached`: the same with the cache on and the token seen before.
//!
//! DPoP (RFC 9449, issue 15): groups `dpop_es256_entra` and
//! `dpop_eddsa_entra` send requests through the axum app under test
//! (`GET /me`, whose handler takes `Claims<EntraClaims>`) behind a layer that
//! accepts DPoP besides bearer tokens, polled once (no executor), with
//! Entra-sized RS256 tokens:
//! - `raw_verify_proof`: aws-lc's `ParsedPublicKey::verify_sig` of one proof's
//!   signature (ES256 or EdDSA), key parsed once: the DPoP baseline;
//! - `raw_verify_parsed`: the same for the token's RS256 signature;
//! - `bearer_cached` / `dpop_cached`: `Authorization: Bearer` / `DPoP` with a
//!   proof, token cache on, the token seen before (the DPoP token is the
//!   bearer one's claims plus `cnf.jkt`);
//! - `bearer_cold` / `dpop_cold`: the same with the token cache off.
//!
//! Each DPoP request carries its own proof (its own `jti`: the replay store
//! takes a proof once), signed before the timed loop; every timed request
//! must be accepted, or the bench fails.
//!
//! Introspection (RFC 7662, issue 16): group `introspection_entra`, through
//! the same app on a layer that validates JWTs locally and introspects
//! opaque tokens at a fake endpoint on loopback (axum on `127.0.0.1:0`, a
//! thread of its own), `GET /me` (`Claims<EntraClaims>`):
//! - `jwt_cached`: the Entra-sized JWT, seen before (verified-token cache);
//! - `introspected_cached`: a 43-character opaque token whose answer carries
//!   the same claims plus `active`, introspected once before (answer cache);
//!   polled once like the DPoP groups, and the endpoint must get no call;
//! - `jwt_cold`: the JWT with the verified-token cache off;
//! - `introspected_cold`: a fresh opaque token per request, so each includes
//!   a call to the endpoint over loopback (HTTP/1.1; the library's client
//!   keeps no idle connection, so each call connects anew): its time is
//!   mostly that round trip. The cold pair runs on the runtime (`block_on`),
//!   as the call needs it;
//! - `cached_interleaved`: the two cached paths in alternating batches of 64,
//!   each batch timed; the time is one request of each kind, and the ratio of
//!   the two totals is printed after the group (drift on a shared machine
//!   moves two functions measured one after the other apart; this does not).
//!
//! After the run it prints each group's means and their ratios to the raw
//! verify, read back from criterion's own estimates of this run.

mod support;

use std::str::FromStr as _;

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use bearer_guard::testing::{KeyKind, TestIssuer};
use bearer_guard::{Authenticated, Requirement, Validator};
use criterion::Criterion;
use futures_util::FutureExt as _;
use support::Size;

/// The groups: name, key kind, token size.
const GROUPS: &[(&str, KeyKind, Size)] = &[
    ("rs256_2048", KeyKind::Rs256, Size::Small),
    ("rs256_2048_entra", KeyKind::Rs256, Size::Entra),
    ("ps256", KeyKind::Ps256, Size::Small),
    ("es256", KeyKind::Es256, Size::Small),
    ("es384", KeyKind::Es384, Size::Small),
    ("eddsa", KeyKind::EdDsa, Size::Small),
];
const RAW: &str = "raw_jsonwebtoken_verify";
const FUNCTIONS: &[&str] = &[
    RAW,
    "raw_jsonwebtoken_decode",
    "bearer_guard_cold",
    "bearer_guard_cached",
];

/// Validation with keys in memory completes without waiting, so it is polled
/// once, without an executor's overhead in the figure.
fn validate(validator: &Validator, token: &str) -> Authenticated {
    validator
        .validate(token)
        .now_or_never()
        .expect("no I/O once the keys are loaded")
        .expect("valid token")
}

fn algorithms(c: &mut Criterion, runtime: &tokio::runtime::Runtime, issuer: &TestIssuer) {
    for &(group_name, kind, size) in GROUPS {
        let kid = if kind == KeyKind::Rs256 {
            issuer.current_kid()
        } else {
            issuer.add_key(kind)
        };
        let token = support::token(issuer, &kid, size, 0);
        // The baseline speaks jsonwebtoken's type; the names are the same.
        let alg = jsonwebtoken::Algorithm::from_str(kind.algorithm().name()).expect("a JOSE name");
        let key = support::raw_key(issuer, &kid);
        let raw_validation = support::raw_validation(issuer, alg);
        let cold = support::validator(issuer, false);
        let cached = support::validator(issuer, true);
        runtime.block_on(async {
            support::warm(&cold, &token).await;
            support::warm(&cached, &token).await;
        });

        let mut group = c.benchmark_group(group_name);
        group.bench_function(RAW, |b| {
            b.iter(|| support::raw_verify(black_box(&token), &key, alg))
        });
        group.bench_function(FUNCTIONS[1], |b| {
            b.iter(|| {
                jsonwebtoken::decode::<serde_json::Value>(black_box(&token), &key, &raw_validation)
                    .expect("valid")
            })
        });
        group.bench_function(FUNCTIONS[2], |b| {
            b.iter(|| validate(&cold, black_box(&token)))
        });
        group.bench_function(FUNCTIONS[3], |b| {
            b.iter(|| validate(&cached, black_box(&token)))
        });
        group.finish();
    }
}

/// The DPoP groups: name and proof key kind.
const DPOP_GROUPS: &[(&str, KeyKind)] = &[
    ("dpop_es256_entra", KeyKind::Es256),
    ("dpop_eddsa_entra", KeyKind::EdDsa),
];
const DPOP_FUNCTIONS: &[&str] = &[
    "raw_verify_proof",
    "raw_verify_parsed",
    "bearer_cached",
    "dpop_cached",
    "bearer_cold",
    "dpop_cold",
];

/// The DPoP groups' measurements (the raw baselines need the aws-lc-rs
/// backend).
#[cfg(feature = "aws-lc-rs")]
mod dpop {
    use std::hint::black_box;
    use std::time::Instant;

    use axum::Router;
    use axum::body::Body;
    use bearer_guard::testing::{DpopKey, TestIssuer};
    use criterion::{Bencher, Criterion};
    use futures_util::FutureExt as _;
    use http::Request;
    use tower::ServiceExt as _;

    use super::{DPOP_FUNCTIONS, DPOP_GROUPS, support};
    use crate::support::Size;

    /// The route of the DPoP groups: its handler takes `Claims<EntraClaims>`.
    const DPOP_PATH: &str = "/me";

    /// One request through the app, polled once: the layer, the replay
    /// store and the handler never wait once the keys are loaded. Whether it
    /// got 200 and the handler saw the typed claims.
    fn send_now(app: &Router, request: Request<Body>) -> bool {
        let response = app
            .clone()
            .oneshot(request)
            .now_or_never()
            .expect("no I/O once the keys are loaded")
            .expect("infallible");
        let ok = response.status() == http::StatusCode::OK;
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .now_or_never()
            .expect("a body in memory");
        ok && body.is_ok_and(|b| &b[..] == b"me")
    }

    /// Times `iters` requests made by `make` (outside the timed loop: DPoP
    /// proofs are the client's to sign), sent one by one; fails if any is
    /// refused.
    fn routed(b: &mut Bencher<'_>, app: &Router, make: impl Fn(u64) -> Vec<Request<Body>>) {
        b.iter_custom(|iters| {
            let requests = make(iters);
            let start = Instant::now();
            let mut accepted = 0u64;
            for request in requests {
                accepted += u64::from(send_now(app, black_box(request)));
            }
            let elapsed = start.elapsed();
            assert_eq!(accepted, iters, "every timed request is accepted");
            elapsed
        });
    }

    /// The groups of [`DPOP_GROUPS`], each on one layer with the token cache
    /// on and one with it off, both accepting DPoP and bearer tokens; tokens
    /// are signed by `kid` (RS256).
    pub(super) fn groups(
        c: &mut Criterion,
        runtime: &tokio::runtime::Runtime,
        issuer: &TestIssuer,
        kid: &str,
    ) {
        let bearer_token = support::token(issuer, kid, Size::Entra, 0);
        let token_key = support::parsed_rs256_key(&support::raw_key(issuer, kid));
        for &(group_name, kind) in DPOP_GROUPS {
            let proof_key = DpopKey::new(kind, 0);
            let bound_token = support::bound_token(issuer, kid, Size::Entra, 0, &proof_key);
            let parsed_proof_key = support::parsed_proof_key(&proof_key);
            let one_proof = support::proofs(&proof_key, DPOP_PATH, &bound_token, 1).remove(0);
            let apps = [true, false].map(|cache| {
                let layer = support::dpop_layer(issuer, cache);
                runtime.block_on(support::warm(layer.validator(), &bearer_token));
                support::app(layer)
            });
            let bearer = |n: u64| {
                (0..n)
                    .map(|_| support::request(DPOP_PATH, &bearer_token))
                    .collect::<Vec<_>>()
            };
            let dpop = |n: u64| {
                let n = usize::try_from(n).expect("iterations fit memory");
                support::proofs(&proof_key, DPOP_PATH, &bound_token, n)
                    .iter()
                    .map(|proof| support::dpop_request(DPOP_PATH, &bound_token, proof))
                    .collect::<Vec<_>>()
            };
            // One request of each kind first: the token in the cache, every
            // lazy initialisation done (the replay store's among them).
            for app in &apps {
                for request in bearer(1).into_iter().chain(dpop(1)) {
                    assert!(send_now(app, request), "the warm-up request passes");
                }
            }
            assert!(support::raw_verify_parsed(&one_proof, &parsed_proof_key));
            assert!(support::raw_verify_parsed(&bearer_token, &token_key));

            let [cached, cold] = &apps;
            let mut group = c.benchmark_group(group_name);
            group.bench_function(DPOP_FUNCTIONS[0], |b| {
                b.iter(|| support::raw_verify_parsed(black_box(&one_proof), &parsed_proof_key))
            });
            group.bench_function(DPOP_FUNCTIONS[1], |b| {
                b.iter(|| support::raw_verify_parsed(black_box(&bearer_token), &token_key))
            });
            group.bench_function(DPOP_FUNCTIONS[2], |b| routed(b, cached, bearer));
            group.bench_function(DPOP_FUNCTIONS[3], |b| routed(b, cached, dpop));
            group.bench_function(DPOP_FUNCTIONS[4], |b| routed(b, cold, bearer));
            group.bench_function(DPOP_FUNCTIONS[5], |b| routed(b, cold, dpop));
            group.finish();
        }
    }
}

/// The introspection group and its functions.
const INTROSPECTION_GROUP: &str = "introspection_entra";
const INTROSPECTION_FUNCTIONS: &[&str] = &[
    "jwt_cached",
    "introspected_cached",
    "jwt_cold",
    "introspected_cold",
    "cached_interleaved",
];

/// Issue 16: a cached introspected token next to a cached JWT, and each cold.
mod introspection {
    use std::cell::Cell;
    use std::hint::black_box;
    use std::time::{Duration, Instant};

    use axum::Router;
    use axum::body::Body;
    use bearer_guard::testing::TestIssuer;
    use criterion::{Bencher, Criterion};
    use futures_util::FutureExt as _;
    use http::Request;
    use tokio::runtime::Runtime;
    use tower::ServiceExt as _;

    use super::{INTROSPECTION_FUNCTIONS, INTROSPECTION_GROUP, support};
    use crate::support::{FakeIntrospection, Size};

    /// The route: its handler takes `Claims<EntraClaims>`.
    const PATH: &str = "/me";

    /// One request through the app, its body read: whether it got 200 and
    /// the handler saw the typed claims.
    async fn send(app: &Router, request: Request<Body>) -> bool {
        let response = app.clone().oneshot(request).await.expect("infallible");
        let ok = response.status() == http::StatusCode::OK;
        let body = axum::body::to_bytes(response.into_body(), 1024).await;
        ok && body.is_ok_and(|b| &b[..] == b"me")
    }

    /// Times `iters` requests with `token`, each polled once (a cache hit
    /// never waits); fails if any is refused or the endpoint is called.
    fn cached(b: &mut Bencher<'_>, app: &Router, endpoint: &FakeIntrospection, token: &str) {
        b.iter_custom(|iters| {
            let requests: Vec<_> = (0..iters).map(|_| support::request(PATH, token)).collect();
            let calls = endpoint.calls();
            let start = Instant::now();
            let mut accepted = 0u64;
            for request in requests {
                let sent = send(app, black_box(request)).now_or_never();
                accepted += u64::from(sent.expect("a cache hit never waits"));
            }
            let elapsed = start.elapsed();
            assert_eq!(accepted, iters, "every timed request is accepted");
            assert_eq!(endpoint.calls(), calls, "no call to the endpoint");
            elapsed
        });
    }

    /// Requests per timed batch of [`interleaved`].
    const BATCH: u64 = 64;

    /// The two cached paths interleaved: `iters` requests with `jwt` and
    /// `iters` with `opaque`, in alternating batches of [`BATCH`] (which goes
    /// first alternates too), each batch timed. Criterion's figure is the
    /// time of one request of each kind; the two totals, added to `totals`,
    /// give their ratio without the drift of a shared machine between two
    /// functions measured one after the other.
    fn interleaved(
        b: &mut Bencher<'_>,
        app: &Router,
        endpoint: &FakeIntrospection,
        [jwt, opaque]: [&str; 2],
        totals: &Cell<[Duration; 2]>,
    ) {
        b.iter_custom(|iters| {
            let make = |token: &str| {
                (0..iters)
                    .map(|_| support::request(PATH, token))
                    .collect::<Vec<_>>()
                    .into_iter()
            };
            let mut requests = [make(jwt), make(opaque)];
            let calls = endpoint.calls();
            let mut spent = [Duration::ZERO; 2];
            let mut accepted = 0u64;
            for batch in 0..iters.div_ceil(BATCH) {
                let order = if batch % 2 == 0 { [0, 1] } else { [1, 0] };
                for kind in order {
                    let start = Instant::now();
                    for request in requests[kind].by_ref().take(BATCH as usize) {
                        let sent = send(app, black_box(request)).now_or_never();
                        accepted += u64::from(sent.expect("a cache hit never waits"));
                    }
                    spent[kind] += start.elapsed();
                }
            }
            assert_eq!(accepted, 2 * iters, "every timed request is accepted");
            assert_eq!(endpoint.calls(), calls, "no call to the endpoint");
            let [j, o] = totals.get();
            totals.set([j + spent[0], o + spent[1]]);
            spent[0] + spent[1]
        });
    }

    /// Times `iters` requests with the tokens `tokens` makes, each run to
    /// completion on `runtime`; fails if any is refused, or if the endpoint
    /// gets other than `calls_each` calls per request.
    fn cold(
        b: &mut Bencher<'_>,
        runtime: &Runtime,
        app: &Router,
        endpoint: &FakeIntrospection,
        tokens: impl Fn(u64) -> Vec<String>,
        calls_each: u64,
    ) {
        b.iter_custom(|iters| {
            let requests: Vec<_> = tokens(iters)
                .iter()
                .map(|token| support::request(PATH, token))
                .collect();
            let calls = endpoint.calls();
            let start = Instant::now();
            let mut accepted = 0u64;
            for request in requests {
                accepted += u64::from(runtime.block_on(send(app, black_box(request))));
            }
            let elapsed = start.elapsed();
            assert_eq!(accepted, iters, "every timed request is accepted");
            let made = u64::try_from(endpoint.calls() - calls).expect("fits");
            assert_eq!(made, iters * calls_each, "calls to the endpoint");
            elapsed
        });
    }

    pub(super) fn group(c: &mut Criterion, runtime: &Runtime, issuer: &TestIssuer, kid: &str) {
        let jwt = support::token(issuer, kid, Size::Entra, 0);
        let endpoint = FakeIntrospection::start(support::introspection_answer(&jwt));
        let opaque = support::opaque_token(0);
        // Fresh opaque tokens for the cold requests: numbers never used.
        let next = Cell::new(1u64);
        let fresh = |n: u64| {
            let first = next.get();
            next.set(first + n);
            (first..first + n)
                .map(support::opaque_token)
                .collect::<Vec<String>>()
        };
        let repeated = |n: u64| {
            let n = usize::try_from(n).expect("iterations fit memory");
            vec![jwt.clone(); n]
        };
        // Both caches on, and the verified-token cache off.
        let [on, off] = [true, false].map(|cache| {
            let layer = support::introspection_layer(issuer, cache, &endpoint.url);
            runtime.block_on(support::warm(layer.validator(), &jwt));
            support::app(layer)
        });
        // One request of each kind first: the JWT and the opaque token in
        // their caches (one call), the pooled connection to the endpoint
        // open, every lazy initialisation done.
        for (app, token) in [
            (&on, &jwt),
            (&on, &opaque),
            (&off, &jwt),
            (&off, &fresh(1)[0]),
        ] {
            let sent = runtime.block_on(send(app, support::request(PATH, token)));
            assert!(sent, "the warm-up request passes");
        }
        assert_eq!(endpoint.calls(), 2, "one call per opaque token");

        let mut group = c.benchmark_group(INTROSPECTION_GROUP);
        group.bench_function(INTROSPECTION_FUNCTIONS[0], |b| {
            cached(b, &on, &endpoint, &jwt)
        });
        group.bench_function(INTROSPECTION_FUNCTIONS[1], |b| {
            cached(b, &on, &endpoint, &opaque)
        });
        group.bench_function(INTROSPECTION_FUNCTIONS[2], |b| {
            cold(b, runtime, &off, &endpoint, repeated, 0)
        });
        group.bench_function(INTROSPECTION_FUNCTIONS[3], |b| {
            cold(b, runtime, &off, &endpoint, fresh, 1)
        });
        let totals = Cell::new([Duration::ZERO; 2]);
        group.bench_function(INTROSPECTION_FUNCTIONS[4], |b| {
            interleaved(b, &on, &endpoint, [&jwt, &opaque], &totals)
        });
        group.finish();
        let [j, o] = totals.get();
        println!(
            "{INTROSPECTION_GROUP}/{}: introspected_cached / jwt_cached = {:.3} \
             (interleaved in batches of {BATCH}, warm-up included: {:.2} s against {:.2} s)",
            INTROSPECTION_FUNCTIONS[4],
            o.as_secs_f64() / j.as_secs_f64(),
            o.as_secs_f64(),
            j.as_secs_f64()
        );
        println!(
            "{INTROSPECTION_GROUP}: {} calls to the fake endpoint over {} connection(s)",
            endpoint.calls(),
            endpoint.connections()
        );
    }
}

fn requirements(c: &mut Criterion, runtime: &tokio::runtime::Runtime, issuer: &TestIssuer) {
    let token = issuer
        .token()
        .scope("openid profile email offline_access notes.read notes.write")
        .roles(&["Notes.Read.All", "Reports.Read", "Admin"])
        .sign();
    let validator = support::validator(issuer, true);
    let authenticated = runtime.block_on(async {
        support::warm(&validator, &token).await;
        validate(&validator, &token)
    });
    let cases = [
        ("scope_present", Requirement::scope("notes.write")),
        (
            "scope_or_role_via_role",
            Requirement::scope("notes.admin").or(Requirement::role("Admin")),
        ),
        (
            "all_of_three",
            Requirement::all([
                Requirement::scope("notes.read"),
                Requirement::scope("email"),
                Requirement::role("Reports.Read"),
            ]),
        ),
    ];
    let mut group = c.benchmark_group("requirements");
    for (name, requirement) in &cases {
        assert!(requirement.is_satisfied_by(&authenticated));
        group.bench_function(*name, |b| {
            b.iter(|| requirement.is_satisfied_by(black_box(&authenticated)))
        });
    }
    let denied = Requirement::scope("notes.admin").or(Requirement::role("Notes.Admin"));
    group.bench_function("check_denied", |b| {
        b.iter(|| denied.check(black_box(&authenticated)).is_err())
    });
    group.finish();
}

fn main() {
    let started = SystemTime::now();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // The issuer serves keys on this runtime while `block_on` runs; the
    // measured validations never need it (keys are in memory).
    let _context = runtime.enter();
    let issuer = runtime.block_on(TestIssuer::start()).expect("test issuer");
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    // The RSA key, before the algorithm groups add keys of other kinds.
    let rsa_kid = issuer.current_kid();
    algorithms(&mut c, &runtime, &issuer);
    #[cfg(feature = "aws-lc-rs")]
    dpop::groups(&mut c, &runtime, &issuer, &rsa_kid);
    introspection::group(&mut c, &runtime, &issuer, &rsa_kid);
    requirements(&mut c, &runtime, &issuer);
    c.final_summary();
    print_ratios(started);
}

/// Where criterion writes its estimates, resolved as criterion does (without
/// its `cargo metadata` step: the default target directory is assumed).
fn criterion_home() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return home.into();
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"),
        PathBuf::from,
    );
    target.join("criterion")
}

/// The mean of `group/function` in nanoseconds, if it was measured by this
/// run (its estimates file is newer than `started`).
fn mean_ns(group: &str, function: &str, started: SystemTime) -> Option<f64> {
    let path = criterion_home()
        .join(group)
        .join(function)
        .join("new/estimates.json");
    let fresh = std::fs::metadata(&path).ok()?.modified().ok()? >= started;
    let text = std::fs::read_to_string(&path).ok().filter(|_| fresh)?;
    let estimates: serde_json::Value = serde_json::from_str(&text).ok()?;
    estimates["mean"]["point_estimate"].as_f64()
}

fn print_ratios(started: SystemTime) {
    println!("\nmeans of this run (µs) and ratios to {RAW} of the same group:");
    println!(
        "{:<18} {:>9} {:>16} {:>16} {:>16}",
        "group", "raw µs", "decode (×raw)", "cold (×raw)", "cached (×raw)"
    );
    for &(group, _, _) in GROUPS {
        let Some(raw) = mean_ns(group, RAW, started) else {
            continue;
        };
        let cell = |f: &str| {
            mean_ns(group, f, started).map_or("-".to_owned(), |m| {
                format!("{:.2} ({:.3})", m / 1000.0, m / raw)
            })
        };
        println!(
            "{group:<18} {:>9.2} {:>16} {:>16} {:>16}",
            raw / 1000.0,
            cell(FUNCTIONS[1]),
            cell(FUNCTIONS[2]),
            cell(FUNCTIONS[3])
        );
    }
    println!("\nDPoP (issue 15), means of this run (µs) and their ratios:");
    println!(
        "{:<18} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>14} {:>22} {:>12}",
        "group",
        "proof",
        "token",
        "b_cached",
        "d_cached",
        "b_cold",
        "d_cold",
        "d_cached/proof",
        "d_cold/(b_cold+proof)",
        "d/b cached"
    );
    for &(group, _) in DPOP_GROUPS {
        let m: Vec<Option<f64>> = DPOP_FUNCTIONS
            .iter()
            .map(|f| mean_ns(group, f, started))
            .collect();
        let &[
            Some(proof),
            token,
            Some(b_cached),
            Some(d_cached),
            Some(b_cold),
            Some(d_cold),
        ] = m.as_slice()
        else {
            continue;
        };
        let us = |ns: f64| format!("{:.2}", ns / 1000.0);
        println!(
            "{group:<18} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>14.3} {:>22.3} {:>12.3}",
            us(proof),
            token.map_or("-".to_owned(), us),
            us(b_cached),
            us(d_cached),
            us(b_cold),
            us(d_cold),
            d_cached / proof,
            d_cold / (b_cold + proof),
            d_cached / b_cached
        );
    }
    let m: Vec<Option<f64>> = INTROSPECTION_FUNCTIONS
        .iter()
        .map(|f| mean_ns(INTROSPECTION_GROUP, f, started))
        .collect();
    if let &[Some(jwt_cached), Some(i_cached), jwt_cold, i_cold, _] = m.as_slice() {
        println!("\nIntrospection (issue 16), means of this run (µs) and their ratios:");
        println!(
            "{:<20} {:>11} {:>11} {:>11} {:>11} {:>28} {:>24}",
            "group",
            "jwt_cached",
            "i_cached",
            "jwt_cold",
            "i_cold",
            "i_cached/jwt_cached",
            "i_cold/jwt_cold"
        );
        let us = |ns: Option<f64>| ns.map_or("-".to_owned(), |ns| format!("{:.3}", ns / 1000.0));
        let cold_ratio = match (i_cold, jwt_cold) {
            (Some(i), Some(j)) => format!("{:.3}", i / j),
            _ => "-".to_owned(),
        };
        println!(
            "{INTROSPECTION_GROUP:<20} {:>11} {:>11} {:>11} {:>11} {:>28.3} {:>24}",
            us(Some(jwt_cached)),
            us(Some(i_cached)),
            us(jwt_cold),
            us(i_cold),
            i_cached / jwt_cached,
            cold_ratio
        );
    }
}
