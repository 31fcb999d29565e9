//! Nothing from a token or a key server reaches a log line unescaped
//! (issue 12.3): signed tokens and a key set whose values carry newlines,
//! carriage returns and ANSI escape sequences are refused, and the captured
//! log output is checked line by line.
//!
//! A test binary of its own, not a module of `tests/it`: it installs the
//! process-global `tracing` subscriber. As a module of `tests/it` with a
//! thread-local subscriber (`set_default`) it lost the rejection events in 2
//! of about 15 runs of the whole suite, while the other tests ran beside it;
//! the likely cause is that tracing caches each callsite's interest for the
//! whole process, so a callsite first reached on another thread's (absent)
//! subscriber can be skipped. Alone in its process, with the global
//! subscriber, it sees every event. The shared helpers come from
//! `tests/it/support` by `#[path]`.

#[path = "it/support/mod.rs"]
#[allow(dead_code)]
mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::get;
use bearer_guard::{BearerAuthLayer, Claims};
use http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use support::{get_with, start};

/// A writer for the fmt subscriber that appends to a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }
}

/// What a handler asks of the claims: `name` as a number, no other claim.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Strict {
    name: u32,
}

const FORGED: &str = "\nINFO bearer_guard: request accepted sub=admin\r\u{1b}[2K\u{1b}[32mOK";

#[tokio::test(flavor = "current_thread")]
async fn token_and_key_set_text_with_newlines_and_ansi_is_logged_escaped() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // The only test in this process: the global subscriber sees every event,
    // on every thread, from the first callsite on.
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");

    let issuer = start().await;
    // A key set entry whose kid carries the forged line, twice (duplicates
    // are dropped and logged with their kid).
    let kid = format!("k{FORGED}");
    let layer = BearerAuthLayer::builder()
        .issuer(issuer.issuer())
        .audience(bearer_guard::testing::TestIssuer::AUDIENCE)
        .token_cache_bytes(0)
        .build()
        .expect("valid configuration");
    let app = Router::new()
        .route("/strict", get(|_: Claims<Strict>| async { "never" }))
        .route_layer(layer);

    // 1. A claim value that does not fit the handler's type: serde's message
    //    quotes it.
    let value = issuer.token().claim("name", FORGED).sign();
    // 2. A claim name the handler's type does not know: serde's message
    //    quotes the name.
    let name = issuer
        .token()
        .claim("name", 1)
        .claim(&format!("x{FORGED}"), true)
        .sign();
    // 3. A typ the policy refuses.
    let hostile_typ = format!("at+jwt{FORGED}");
    let typ = issuer.token().typ(Some(hostile_typ.as_str())).sign();
    // 4. An alg nobody knows, signed all the same.
    let header = json!({"alg": format!("RS256{FORGED}"), "kid": issuer.current_kid()});
    let payload = json!({"iss": issuer.issuer(), "aud": "x", "exp": 4_000_000_000u64});
    let alg = issuer
        .sign_raw(
            header.to_string().as_bytes(),
            payload.to_string().as_bytes(),
            &issuer.current_kid(),
        )
        .expect("a published key");
    for token in [&value, &name, &typ, &alg] {
        let outcome = get_with(&app, "/strict", token).await;
        assert_eq!(outcome.status, StatusCode::UNAUTHORIZED, "{token}");
    }

    // 5. The key server: a duplicated kid with the forged line, and an
    //    unparsable entry whose parse error quotes it.
    let jwks: serde_json::Value = serde_json::from_str(&issuer.jwks_document()).expect("JSON");
    let mut key = jwks["keys"][0].clone();
    key["kid"] = json!(kid);
    let hostile = json!({"keys": [key.clone(), key, {"kty": FORGED}]}).to_string();
    let served = support::serve(Router::new().route(
        "/jwks",
        get(move || {
            let body = hostile.clone();
            async move { body }
        }),
    ))
    .await;
    let second = BearerAuthLayer::builder()
        .issuer(issuer.issuer())
        .audience(bearer_guard::testing::TestIssuer::AUDIENCE)
        .jwks_uri(format!("{served}/jwks"))
        .build()
        .expect("valid configuration");
    assert!(!second.validator().warm_up().await, "no usable key");

    // 6. Fetch errors name their cause (issue 17.2): a key server whose
    //    certificate no root vouches for, and a port nobody listens on.
    let tls = support::serve_tls(Router::new().route("/jwks", get(|| async { "{}" }))).await;
    // A port that was just free: bound, then released.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .local_addr()
        .expect("addr");
    for jwks_uri in [format!("{tls}/jwks"), format!("http://{closed}/jwks")] {
        let unreachable = BearerAuthLayer::builder()
            .issuer(issuer.issuer())
            .audience(bearer_guard::testing::TestIssuer::AUDIENCE)
            .jwks_uri(jwks_uri)
            .build()
            .expect("valid configuration");
        assert!(!unreachable.validator().warm_up().await, "nothing to load");
    }

    let log = captured.text();
    for needle in [
        // rustls's reason, three causes below reqwest's "error sending request"
        "invalid peer certificate: UnknownIssuer",
        // the operating system's
        "Connection refused",
    ] {
        assert!(
            log.lines()
                .any(|line| line.contains(needle) && line.contains("error sending request")),
            "no fetch failure naming {needle:?} in the log:\n{log}"
        );
    }
    // Every rejection and every dropped key was logged...
    for needle in [
        "claims do not deserialize",
        "token type (typ) not accepted",
        "is not allowed",
        "JWK dropped",
    ] {
        assert!(log.contains(needle), "no {needle:?} in the log:\n{log}");
    }
    // ...with the hostile text escaped, never raw:
    assert!(!log.contains('\u{1b}'), "a raw escape sequence:\n{log}");
    assert!(!log.contains('\r'), "a raw carriage return:\n{log}");
    assert!(
        log.contains("\\u{1b}[2K"),
        "the escape sequences appear escaped:\n{log}"
    );
    // Every line is one event of the fmt subscriber (time, level, target):
    // none begins with the forged text.
    for line in log.lines() {
        assert!(
            !line.starts_with("INFO bearer_guard: request accepted"),
            "a forged line: {line:?}\n{log}"
        );
        let level = line.split_whitespace().nth(1).unwrap_or_default();
        assert!(
            matches!(level, "TRACE" | "DEBUG" | "INFO" | "WARN" | "ERROR"),
            "not an event line: {line:?}\n{log}"
        );
    }
}
