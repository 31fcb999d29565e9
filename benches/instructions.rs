//! N requests of one kind, in-process, for counting instructions with
//! callgrind (`benches/callgrind.sh` runs it; see BENCHMARKS.md).
//!
//! ```text
//! instructions MODE N [small|entra]
//! ```
//!
//! Everything is set up first (issuer, keys fetched, tokens minted, one
//! request of the same kind sent to warm every lazy initialisation); then
//! [`callgrind_measured_section`], the one function callgrind collects in
//! (`--toggle-collect`), runs the N requests on a current-thread runtime with
//! no I/O. Modes:
//!
//! | mode | what runs N times |
//! |---|---|
//! | `plain` | `GET /hello` through the router (no authentication) |
//! | `plain_layered` | `GET /layered`: the same behind two route layers that do nothing (axum's share of a protected route) |
//! | `raw_verify` | `jsonwebtoken::crypto::verify` of the token's signature, key pre-parsed |
//! | `raw_verify_parsed` | aws-lc's `ParsedPublicKey::verify_sig`, key parsed into aws-lc once (aws-lc-rs backend only) |
//! | `raw_decode` | `jsonwebtoken::decode` (signature and claims), key pre-parsed |
//! | `cold` | `GET /notes`, token cache off: the full validation each time |
//! | `cold_first_sight` | `GET /notes`, token cache on, N distinct tokens never seen |
//! | `cached` | `GET /notes`, token cache on, one token seen before |
//! | `cold_claims` | `GET /me` (the handler takes `Claims<EntraClaims>`), token cache off |
//! | `cached_claims` | `GET /me`, token cache on, one token seen before |
//!
//! DPoP (RFC 9449; issue 15), all on one layer that accepts DPoP besides
//! bearer tokens, `GET /me` (`Claims<EntraClaims>`), the DPoP token the
//! bearer one's claims plus `cnf.jkt`; proofs are ES256, or EdDSA with the
//! `_eddsa` suffix, N of them made before the section (each has its own
//! `jti`: the replay store takes a proof once):
//!
//! | mode | what runs N times |
//! |---|---|
//! | `bearer_cached` / `dpop_cached` | `Authorization: Bearer` / `DPoP` (and a fresh proof), token cache on, the token seen before |
//! | `bearer_cold` / `dpop_cold` | the same, token cache off |
//! | `raw_verify_proof` | aws-lc's `ParsedPublicKey::verify_sig` of the proofs' signatures, the proof key parsed once: the DPoP baseline |
//! | `dpop_cached_eddsa`, `dpop_cold_eddsa`, `raw_verify_proof_eddsa` | the same with an Ed25519 proof key |
//!
//! Introspection (RFC 7662; issue 16), both on one layer that validates JWTs
//! locally and introspects opaque tokens at a fake endpoint on loopback
//! (axum on `127.0.0.1:0`, on a thread of its own), `GET /me`
//! (`Claims<EntraClaims>`), the verified-token and answer caches on:
//!
//! | mode | what runs N times |
//! |---|---|
//! | `jwt_cached` | `Authorization: Bearer` with the JWT of the size, seen before (a verified-token cache hit) |
//! | `introspected_cached` | `Authorization: Bearer` with a 43-character opaque token whose answer carries the same claims plus `active`, introspected once before the section (an answer cache hit); the endpoint must get no call in the section |
//!
//! Every token is RS256 (RSA 2048); every request must be accepted (the run
//! fails otherwise).

mod support;

use std::future::Future;
use std::pin::Pin;

use axum::Router;
use axum::body::Body;
use bearer_guard::testing::{DpopKey, KeyKind, TestIssuer};
use http::Request;
use support::Size;
use tokio::runtime::Runtime;
use tower::ServiceExt;

const USAGE: &str = "usage: instructions MODE N [small|entra]
  MODE: plain | plain_layered | raw_verify | raw_verify_parsed | raw_decode | cold | cold_first_sight | cached
        | cold_claims | cached_claims
        | bearer_cached | dpop_cached | bearer_cold | dpop_cold | raw_verify_proof
        | dpop_cached_eddsa | dpop_cold_eddsa | raw_verify_proof_eddsa
        | jwt_cached | introspected_cached";

type Work = Pin<Box<dyn Future<Output = usize>>>;

/// The only function callgrind collects in: it runs the prepared work and
/// nothing else. No closure is defined inside it, so no other symbol
/// contains its name (a nested match would toggle collection off again).
#[inline(never)]
fn callgrind_measured_section(runtime: &Runtime, work: Work) -> usize {
    runtime.block_on(work)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mode, n, size) = match args.as_slice() {
        [mode, n, rest @ ..] if rest.len() <= 1 => {
            let size = rest.first().map_or(Some(Size::Small), |s| Size::parse(s));
            match (n.parse::<usize>(), size) {
                (Ok(n), Some(size)) if n > 0 => (mode.clone(), n, size),
                _ => usage(),
            }
        }
        _ => usage(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let work = runtime.block_on(prepare(&mode, n, size));
    let accepted = callgrind_measured_section(&runtime, work);
    assert_eq!(accepted, n, "every request must succeed");
    println!("{mode} n={n} size={size:?}: {accepted} accepted");
}

fn usage() -> ! {
    eprintln!("{USAGE}");
    std::process::exit(2)
}

/// Sets up `mode` and returns its N requests as one future, not yet started.
async fn prepare(mode: &str, n: usize, size: Size) -> Work {
    // Leaked: the issuer must outlive the measured section, and the process
    // ends right after it.
    let issuer: &'static TestIssuer =
        Box::leak(Box::new(TestIssuer::start().await.expect("test issuer")));
    let kid: &'static str = issuer.current_kid().leak();
    let fixture = Fixture {
        issuer,
        kid,
        size,
        n,
    };
    let repeated = vec![fixture.token(0); n];
    match mode {
        "plain" => fixture.routed(true, "/hello", repeated, false).await,
        "plain_layered" => fixture.routed(true, "/layered", repeated, false).await,
        "cold" => fixture.routed(false, "/notes", repeated, false).await,
        "cached" => fixture.routed(true, "/notes", repeated, false).await,
        "cold_claims" => fixture.routed(false, "/me", repeated, false).await,
        "cached_claims" => fixture.routed(true, "/me", repeated, false).await,
        "cold_first_sight" => {
            let distinct = (1..=n).map(|i| fixture.token(i)).collect();
            fixture.routed(true, "/notes", distinct, true).await
        }
        "raw_verify" | "raw_decode" => {
            let alg = jsonwebtoken::Algorithm::RS256;
            let key = support::raw_key(issuer, kid);
            let validation = support::raw_validation(issuer, alg);
            let decode = mode == "raw_decode";
            let check = move |token: &str| {
                if decode {
                    jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation).is_ok()
                } else {
                    support::raw_verify(token, &key, alg)
                }
            };
            assert!(check(&repeated[0]), "baseline accepts the token");
            Box::pin(async move { repeated.iter().filter(|t| check(t)).count() })
        }
        // The floor on the aws-lc-rs backend: the signature decoded and checked
        // with the key parsed into aws-lc once, as bearer-guard now does.
        #[cfg(feature = "aws-lc-rs")]
        "raw_verify_parsed" => {
            let key = support::parsed_rs256_key(&support::raw_key(issuer, kid));
            let check = move |token: &str| support::raw_verify_parsed(token, &key);
            assert!(check(&repeated[0]), "baseline accepts the token");
            Box::pin(async move { repeated.iter().filter(|t| check(t)).count() })
        }
        "bearer_cached" => fixture.dpop_routed(true, None).await,
        "bearer_cold" => fixture.dpop_routed(false, None).await,
        "dpop_cached" => fixture.dpop_routed(true, Some(KeyKind::Es256)).await,
        "dpop_cold" => fixture.dpop_routed(false, Some(KeyKind::Es256)).await,
        "dpop_cached_eddsa" => fixture.dpop_routed(true, Some(KeyKind::EdDsa)).await,
        "dpop_cold_eddsa" => fixture.dpop_routed(false, Some(KeyKind::EdDsa)).await,
        // The DPoP baseline: the proofs' signatures alone, key parsed once.
        #[cfg(feature = "aws-lc-rs")]
        "raw_verify_proof" | "raw_verify_proof_eddsa" => {
            let kind = if mode == "raw_verify_proof" {
                KeyKind::Es256
            } else {
                KeyKind::EdDsa
            };
            let proof_key = DpopKey::new(kind, 0);
            let key = support::parsed_proof_key(&proof_key);
            let token = fixture.bound_token(&proof_key);
            let proofs = support::proofs(&proof_key, DPOP_PATH, &token, n);
            let check = move |proof: &str| support::raw_verify_parsed(proof, &key);
            assert!(check(&proofs[0]), "baseline accepts the proof");
            Box::pin(async move { proofs.iter().filter(|p| check(p)).count() })
        }
        "jwt_cached" => fixture.introspection_routed(false).await,
        "introspected_cached" => fixture.introspection_routed(true).await,
        _ => usage(),
    }
}

/// The route of the DPoP modes: its handler takes `Claims<EntraClaims>`.
const DPOP_PATH: &str = "/me";

struct Fixture {
    issuer: &'static TestIssuer,
    kid: &'static str,
    size: Size,
    n: usize,
}

impl Fixture {
    fn token(&self, i: usize) -> String {
        support::token(self.issuer, self.kid, self.size, i)
    }

    /// `GET path` once per token through the app, with the token cache on or
    /// off. Tokens number 0 and 1..=N are the measured ones; N+1 and N+2 warm.
    async fn routed(
        &self,
        cache: bool,
        path: &'static str,
        tokens: Vec<String>,
        first_sight: bool,
    ) -> Work {
        let layer = support::layer(self.issuer, cache);
        support::warm(layer.validator(), &self.token(self.n + 1)).await;
        // Leaked too: dropping the app (its caches, its HTTP client) at the
        // end of the section would be counted.
        let app: &'static Router = Box::leak(Box::new(support::app(layer)));
        // One request of the same kind first, outside the measured section:
        // with a token never measured for first sights, else the measured
        // token itself (so `cached` starts with a hit).
        let warm = if first_sight {
            self.token(self.n + 2)
        } else {
            tokens[0].clone()
        };
        assert_eq!(send(app, support::request(path, &warm)).await, 1);
        let requests: Vec<Request<Body>> =
            tokens.iter().map(|t| support::request(path, t)).collect();
        Box::pin(async move {
            let mut accepted = 0;
            for request in requests {
                accepted += send(app, request).await;
            }
            accepted
        })
    }
}

impl Fixture {
    /// The token of the DPoP modes, bound to `key`.
    fn bound_token(&self, key: &DpopKey) -> String {
        support::bound_token(self.issuer, self.kid, self.size, 0, key)
    }

    /// `GET /me` N times through a layer accepting DPoP, token cache on or
    /// off: with the bearer token (`proof_key` `None`), or with the token
    /// bound to a `proof_key` of that kind and a fresh proof each time.
    async fn dpop_routed(&self, cache: bool, proof_key: Option<KeyKind>) -> Work {
        let layer = support::dpop_layer(self.issuer, cache);
        support::warm(layer.validator(), &self.token(self.n + 1)).await;
        let app: &'static Router = Box::leak(Box::new(support::app(layer)));
        // N measured requests and, first, one of the same kind to warm
        // (the token cache, the replay store): the same token, another proof.
        let requests: Vec<Request<Body>> = match proof_key {
            None => {
                let token = self.token(0);
                (0..=self.n)
                    .map(|_| support::request(DPOP_PATH, &token))
                    .collect()
            }
            Some(kind) => {
                let key = DpopKey::new(kind, 0);
                let token = self.bound_token(&key);
                support::proofs(&key, DPOP_PATH, &token, self.n + 1)
                    .iter()
                    .map(|proof| support::dpop_request(DPOP_PATH, &token, proof))
                    .collect()
            }
        };
        let mut requests = requests.into_iter();
        let warm = requests.next().expect("a request to warm with");
        assert_eq!(send(app, warm).await, 1, "the warm-up request passes");
        let requests: Vec<Request<Body>> = requests.collect();
        Box::pin(async move {
            let mut accepted = 0;
            for request in requests {
                accepted += send(app, request).await;
            }
            accepted
        })
    }
}

impl Fixture {
    /// `GET /me` N times through a layer that also introspects, both caches
    /// on: with the JWT of the size (`opaque` false) or with an opaque token
    /// whose answer carries that JWT's claims, each seen once before the
    /// section. The endpoint is asked once, by that first request, for the
    /// opaque token, and never for the JWT; the section must ask nothing.
    async fn introspection_routed(&self, opaque: bool) -> Work {
        let jwt = self.token(0);
        let endpoint: &'static support::FakeIntrospection = Box::leak(Box::new(
            support::FakeIntrospection::start(support::introspection_answer(&jwt)),
        ));
        let layer = support::introspection_layer(self.issuer, true, &endpoint.url);
        support::warm(layer.validator(), &self.token(self.n + 1)).await;
        let app: &'static Router = Box::leak(Box::new(support::app(layer)));
        let token = if opaque {
            support::opaque_token(0)
        } else {
            jwt
        };
        let warm = support::request(DPOP_PATH, &token);
        assert_eq!(send(app, warm).await, 1, "the warm-up request passes");
        let calls = endpoint.calls();
        assert_eq!(calls, usize::from(opaque), "one call, for the opaque token");
        let requests: Vec<Request<Body>> = (0..self.n)
            .map(|_| support::request(DPOP_PATH, &token))
            .collect();
        Box::pin(async move {
            let mut accepted = 0;
            for request in requests {
                accepted += send(app, request).await;
            }
            // One atomic load, in the section but the same for N and 2N.
            assert_eq!(endpoint.calls(), calls, "no call in the section");
            accepted
        })
    }
}

/// One request through the router, its body read; 1 if it got 200.
async fn send(app: &Router, request: Request<Body>) -> usize {
    let response = app.clone().oneshot(request).await.expect("infallible");
    let ok = response.status() == http::StatusCode::OK;
    let body = axum::body::to_bytes(response.into_body(), 1024).await;
    // `/me` answers "?" if the typed claims were not what was minted.
    usize::from(ok && body.is_ok_and(|b| &b[..] != b"?"))
}
