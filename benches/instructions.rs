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
//! Every request carries the same `Authorization` header shape; every token
//! is RS256 (RSA 2048) and must be accepted (the run fails otherwise).

mod support;

use std::future::Future;
use std::pin::Pin;

use axum::Router;
use axum::body::Body;
use bearer_guard::testing::TestIssuer;
use http::Request;
use support::Size;
use tokio::runtime::Runtime;
use tower::ServiceExt;

const USAGE: &str = "usage: instructions MODE N [small|entra]
  MODE: plain | plain_layered | raw_verify | raw_verify_parsed | raw_decode | cold | cold_first_sight | cached
        | cold_claims | cached_claims";

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
            let key = parsed_rs256_key(&support::raw_key(issuer, kid));
            let check = move |token: &str| {
                use base64::Engine as _;
                let (input, signature) = token.rsplit_once('.').expect("compact JWS");
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(signature)
                    .is_ok_and(|s| key.verify_sig(input.as_bytes(), &s).is_ok())
            };
            assert!(check(&repeated[0]), "baseline accepts the token");
            Box::pin(async move { repeated.iter().filter(|t| check(t)).count() })
        }
        _ => usage(),
    }
}

/// The RSA key as aws-lc's parsed public key for RS256.
#[cfg(feature = "aws-lc-rs")]
fn parsed_rs256_key(key: &jsonwebtoken::DecodingKey) -> aws_lc_rs::signature::ParsedPublicKey {
    use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
    let jsonwebtoken::DecodingKeyKind::RsaModulusExponent { n, e } = key.kind() else {
        panic!("an RSA key")
    };
    RsaPublicKeyComponents { n, e }
        .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
        .expect("aws-lc parses the key")
}

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

/// One request through the router, its body read; 1 if it got 200.
async fn send(app: &Router, request: Request<Body>) -> usize {
    let response = app.clone().oneshot(request).await.expect("infallible");
    let ok = response.status() == http::StatusCode::OK;
    let body = axum::body::to_bytes(response.into_body(), 1024).await;
    // `/me` answers "?" if the typed claims were not what was minted.
    usize::from(ok && body.is_ok_and(|b| &b[..] != b"?"))
}
