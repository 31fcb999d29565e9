//! Shared helpers for the integration tests: a local issuer, an axum app
//! protected by the layer, and one-shot requests against it; DER for the
//! attack tables (`der`) and the fault-injecting JWKS server (`fault_server`).
//!
//! `tests/it` uses all of it; `tests/interop.rs` and `tests/metrics.rs`
//! include it by `#[path]`, use a part, and allow `dead_code` for the rest.

pub mod der;
pub mod fault_server;

use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bearer_guard::testing::TestIssuer;
use bearer_guard::{
    Authenticated, BearerAuthLayer, Builder, Claims, Requirement, TypPolicy, require,
};
use http::{HeaderMap, Request, StatusCode, header};
use tower::ServiceExt;

/// Starts a local test issuer on a free loopback port.
pub async fn start() -> TestIssuer {
    TestIssuer::start().await.expect("test issuer starts")
}

/// Whole seconds since the epoch on `clock`'s wall clock.
pub fn now_on(clock: &bearer_guard::ManualClock) -> i64 {
    use bearer_guard::Clock as _;
    let secs = clock
        .now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    i64::try_from(secs).expect("fits")
}

/// Seconds since the Unix epoch on the system's clock, for claims crafted by
/// hand (`exp`, `nbf`, `iat`) against a layer on the system clock.
pub fn now() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    i64::try_from(secs).expect("fits")
}

/// Base64url without padding (RFC 7515 §2).
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// How long [`eventually`] waits at most. Only there so that a broken build
/// cannot hang; nothing asserts how fast anything is.
pub const POLL_DEADLINE: Duration = Duration::from_secs(10);

/// Polls `done` until it holds, failing after [`POLL_DEADLINE`].
///
/// The one wall-clock wait of the tests' own logic. Time itself is a
/// [`ManualClock`](bearer_guard::ManualClock) moved by hand; what no clock can
/// hurry is work on other tasks: a key-set fetch runs over real loopback HTTP
/// on a task the layer spawns (a background refresh, a fetch cut off by a real
/// timeout), so a test that started one polls for its effect here.
pub async fn eventually(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + POLL_DEADLINE;
    while !done().await {
        assert!(
            Instant::now() < deadline,
            "never happened within {POLL_DEADLINE:?}: {what}"
        );
        // Yields to the tasks doing the work; a poll interval, not a margin.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Serves `router` on a free loopback port; returns its base URL.
pub async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        axum::serve(listener, router).await.expect("serve");
    });
    base
}

/// `n` tokens signed by `issuer`'s current key, each naming its own `kid`
/// that no key set holds (distinct, unpredictable values).
pub fn random_kid_tokens(issuer: &TestIssuer, wave: &str, n: usize) -> Vec<String> {
    let seed = std::collections::hash_map::RandomState::new();
    (0..n)
        .map(|i| {
            let mut hasher = seed.build_hasher();
            hasher.write_usize(i);
            let kid = format!("{wave}-{i}-{:016x}", hasher.finish());
            issuer.token().header_kid(&kid).sign()
        })
        .collect()
}

/// The notes app of the examples: `/notes` needs `notes.read` or
/// `Notes.Read.All`, `POST /notes` needs `notes.write` or `Notes.ReadWrite.All`,
/// `/me` any valid token, `/public` none (optional mode).
pub fn app(layer: BearerAuthLayer) -> Router {
    let read = Requirement::scope("notes.read").or(Requirement::role("Notes.Read.All"));
    let write = Requirement::scope("notes.write").or(Requirement::role("Notes.ReadWrite.All"));
    let protected = Router::new()
        .route(
            "/notes",
            get(|| async { "notes" }).route_layer(require(read)),
        )
        .route(
            "/notes",
            post(|| async { "created" }).route_layer(require(write)),
        )
        .route(
            "/me",
            get(|Claims(c): Claims<serde_json::Value>| async move { c.to_string() }),
        )
        .layer(layer.clone());
    let public = Router::new()
        .route(
            "/public",
            get(|t: Option<Authenticated>| async move {
                match t {
                    Some(t) => format!("hello {}", t.registered().sub.clone().unwrap_or_default()),
                    None => "hello anonymous".to_owned(),
                }
            }),
        )
        .layer(layer.optional());
    protected.merge(public)
}

/// A layer trusting `issuer`, accepting `at+jwt` and `JWT`.
pub fn layer(issuer: &TestIssuer) -> BearerAuthLayer {
    builder(issuer).build().expect("valid configuration")
}

/// The builder of [`layer`], for tests that change a setting.
pub fn builder(issuer: &TestIssuer) -> Builder {
    BearerAuthLayer::builder()
        .issuer(issuer.issuer())
        .audience(TestIssuer::AUDIENCE)
        .typ(TypPolicy::AccessTokenOrJwt)
}

/// The precise reason the layer's own validator gives for refusing `token`.
pub async fn code(layer: &BearerAuthLayer, token: &str) -> &'static str {
    layer
        .validator()
        .validate(token)
        .await
        .expect_err("the token must be refused")
        .code()
}

/// What a test asserts about a response.
#[derive(Debug, PartialEq, Eq)]
pub struct Outcome {
    pub status: StatusCode,
    pub www_authenticate: Option<String>,
    pub body: String,
}

pub async fn send(app: &Router, method: &str, path: &str, authorization: Option<&str>) -> Outcome {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    send_request(app, request.body(Body::empty()).expect("request")).await
}

/// Sends a hand-built request (for header shapes `send` cannot make).
pub async fn send_request(app: &Router, request: Request<Body>) -> Outcome {
    let response = app.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let www_authenticate = response
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().expect("ascii").to_owned());
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    Outcome {
        status,
        www_authenticate,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

pub async fn get_with(app: &Router, path: &str, token: &str) -> Outcome {
    send(app, "GET", path, Some(&format!("Bearer {token}"))).await
}

/// GET `path` with `Bearer token`: the status and every response header.
pub async fn get_headers(app: &Router, path: &str, token: &str) -> (StatusCode, HeaderMap) {
    let request = Request::get(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .expect("request");
    let response = app.clone().oneshot(request).await.expect("infallible");
    (response.status(), response.headers().clone())
}

/// Asserts the answer when no key set was ever loaded: 503, no challenge (the
/// token is not at fault), and `Retry-After` the whole seconds until the key
/// cache may try again (`retry_after`).
pub fn assert_unavailable(status: StatusCode, headers: &HeaderMap, retry_after: u64, what: &str) {
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{what}");
    let retry_after = retry_after.to_string();
    assert_eq!(
        headers
            .get(header::RETRY_AFTER)
            .map(|v| v.to_str().expect("ascii")),
        Some(retry_after.as_str()),
        "{what}"
    );
    assert_eq!(headers.get(header::WWW_AUTHENTICATE), None, "{what}");
}

pub const INVALID_TOKEN: &str = "Bearer error=\"invalid_token\"";
pub const INVALID_REQUEST: &str = "Bearer error=\"invalid_request\"";

/// 200 with `body` and no challenge.
pub fn ok(body: &str) -> Outcome {
    Outcome {
        status: StatusCode::OK,
        www_authenticate: None,
        body: body.to_owned(),
    }
}

/// 401 with a bare `Bearer` challenge, empty body.
pub fn bare() -> Outcome {
    rejected(StatusCode::UNAUTHORIZED, "Bearer")
}

/// 400 `invalid_request`, empty body.
pub fn invalid_request() -> Outcome {
    rejected(StatusCode::BAD_REQUEST, INVALID_REQUEST)
}

/// 401 `invalid_token`, empty body (the token is never echoed).
pub fn invalid_token() -> Outcome {
    rejected(StatusCode::UNAUTHORIZED, INVALID_TOKEN)
}

/// 403 `insufficient_scope` naming `scope`, empty body.
pub fn insufficient(scope: &str) -> Outcome {
    rejected(
        StatusCode::FORBIDDEN,
        &format!("Bearer error=\"insufficient_scope\", scope=\"{scope}\""),
    )
}

fn rejected(status: StatusCode, challenge: &str) -> Outcome {
    Outcome {
        status,
        www_authenticate: Some(challenge.to_owned()),
        body: String::new(),
    }
}

/// Serves `router` over TLS on a free loopback port, with the test server
/// certificate of `tests/data/mtls` (for `localhost` and `127.0.0.1`, issued
/// by the test CA there, which no machine trusts); returns its base URL,
/// `https://localhost:PORT`.
pub async fn serve_tls(router: Router) -> String {
    use hyper_util::rt::TokioIo;
    use hyper_util::service::TowerToHyperService;
    use tokio_rustls::rustls::ServerConfig;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/mtls/");
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(format!("{dir}server.pem"))
            .expect("server.pem")
            .collect::<Result<_, _>>()
            .expect("server certificate");
    let key = PrivateKeyDer::from_pem_file(format!("{dir}server-key.pem")).expect("server key");
    let config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("TLS configuration");
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let service = TowerToHyperService::new(router.clone());
            tokio::spawn(async move {
                // A client that refuses the certificate ends the handshake.
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    format!("https://localhost:{port}")
}

/// The test CA of `tests/data/mtls`, which issued [`serve_tls`]'s certificate.
pub fn test_ca() -> reqwest::Certificate {
    let pem = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/mtls/ca.pem"
    ))
    .expect("ca.pem");
    reqwest::Certificate::from_pem(&pem).expect("the test CA")
}
