//! Opaque tokens through token introspection (RFC 7662), against a local
//! introspection endpoint this file serves: every validation rule of the
//! answer, caching (positive until `exp` capped by the maximum age, negative
//! briefly, one call for concurrent requests), every way the endpoint can
//! fail (503 with `Retry-After`, cached positives still served), client
//! authentication, and the layer, guards and extractors on the answer. Each
//! case asserts the exact response and the number of calls.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bearer_guard::testing::TestIssuer;
use bearer_guard::{BearerAuthLayer, Introspection, Issuer, ManualClock};
use http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::support::{INVALID_TOKEN, Outcome, app, now_on, ok, send, send_request, start};

pub(crate) const CLIENT_ID: &str = "notes api";
/// Characters that must be form-urlencoded before Basic (RFC 6749 §2.3.1).
pub(crate) const SECRET: &str = "s3c:r&t%";

/// What the endpoint answers for one token.
#[derive(Clone)]
pub(crate) enum Reply {
    Json(Value),
    Raw(u16, &'static str, String),
    Redirect(String),
    /// Answers only once the gate opens (or never: a timeout).
    Hang,
    /// Answers this once the gate opens.
    Held(Box<Reply>),
}

#[derive(Default)]
pub(crate) struct Endpoint {
    replies: Mutex<HashMap<String, Reply>>,
    calls: AtomicUsize,
    /// Held answers wait for this.
    gate: Notify,
    /// Every form it received (for client authentication checks).
    forms: Mutex<Vec<(Option<String>, String)>>,
    /// The discovery document it serves (`None`: 500), and how often.
    discovery: Mutex<Option<Value>>,
    discoveries: AtomicUsize,
    /// TCP connections accepted.
    connections: AtomicUsize,
}

impl Endpoint {
    pub(crate) fn answer(&self, token: &str, reply: Reply) {
        self.replies
            .lock()
            .expect("lock")
            .insert(token.to_owned(), reply);
    }
    pub(crate) fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

async fn introspect(
    State(endpoint): State<Arc<Endpoint>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    endpoint.calls.fetch_add(1, Ordering::SeqCst);
    let authorization = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().expect("ascii").to_owned());
    endpoint
        .forms
        .lock()
        .expect("lock")
        .push((authorization, body.clone()));
    let token: String = url::form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let mut reply = endpoint.replies.lock().expect("lock").get(&token).cloned();
    if let Some(Reply::Held(inner)) = reply {
        endpoint.gate.notified().await;
        reply = Some(*inner);
    }
    match reply {
        None => (
            AxumStatus::OK,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"active":false}"#.to_owned(),
        )
            .into_response(),
        Some(Reply::Json(value)) => (
            AxumStatus::OK,
            [(header::CONTENT_TYPE, "application/json")],
            value.to_string(),
        )
            .into_response(),
        Some(Reply::Raw(status, content_type, body)) => (
            AxumStatus::from_u16(status).expect("status"),
            [(header::CONTENT_TYPE, content_type)],
            body,
        )
            .into_response(),
        Some(Reply::Redirect(to)) => {
            (AxumStatus::FOUND, [(header::LOCATION, to)], String::new()).into_response()
        }
        Some(Reply::Held(_)) => unreachable!("unwrapped above"),
        Some(Reply::Hang) => {
            endpoint.gate.notified().await;
            (
                AxumStatus::OK,
                [(header::CONTENT_TYPE, "application/json")],
                r#"{"active":false}"#.to_owned(),
            )
                .into_response()
        }
    }
}

async fn discovery(State(endpoint): State<Arc<Endpoint>>) -> Response {
    endpoint.discoveries.fetch_add(1, Ordering::SeqCst);
    match endpoint.discovery.lock().expect("lock").clone() {
        Some(document) => (
            AxumStatus::OK,
            [(header::CONTENT_TYPE, "application/json")],
            document.to_string(),
        )
            .into_response(),
        None => AxumStatus::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// A running endpoint and its URL.
pub(crate) async fn endpoint() -> (Arc<Endpoint>, String) {
    use axum::serve::ListenerExt as _;
    let endpoint = Arc::new(Endpoint::default());
    let router = Router::new()
        .route("/introspect", post(introspect))
        .route(
            "/.well-known/openid-configuration",
            axum::routing::get(discovery),
        )
        .with_state(Arc::clone(&endpoint));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let counted = Arc::clone(&endpoint);
    let listener = listener.tap_io(move |_| {
        counted.connections.fetch_add(1, Ordering::SeqCst);
    });
    tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });
    (endpoint, format!("{base}/introspect"))
}

struct Setup {
    issuer: TestIssuer,
    endpoint: Arc<Endpoint>,
    url: String,
    clock: ManualClock,
}

impl Setup {
    async fn new() -> Setup {
        let (endpoint, url) = endpoint().await;
        Setup {
            issuer: start().await,
            endpoint,
            url,
            clock: ManualClock::new(),
        }
    }

    fn now(&self) -> i64 {
        now_on(&self.clock)
    }

    /// A layer trusting the test issuer, introspecting at the endpoint.
    fn layer(&self, introspection: impl FnOnce(Introspection) -> Introspection) -> BearerAuthLayer {
        BearerAuthLayer::builder()
            .trust(
                Issuer::new(self.issuer.issuer())
                    .audience(TestIssuer::AUDIENCE)
                    .typ(bearer_guard::TypPolicy::AccessTokenOrJwt)
                    .introspection(introspection(Introspection::client_secret_basic(
                        &self.url, CLIENT_ID, SECRET,
                    ))),
            )
            .clock(self.clock.clone())
            .fetch_timeout(Duration::from_millis(500))
            .max_jwks_bytes(4096)
            .build()
            .expect("valid configuration")
    }

    /// An active answer for an access token of this API, expiring in `ttl`.
    fn active(&self, scope: &str, ttl: i64) -> Value {
        json!({
            "active": true,
            "iss": self.issuer.issuer(),
            "aud": TestIssuer::AUDIENCE,
            "scope": scope,
            "client_id": "client-1",
            "sub": "alice",
            "token_type": "Bearer",
            "exp": self.now() + ttl,
            "iat": self.now(),
        })
    }
}

fn refused() -> Outcome {
    Outcome {
        status: StatusCode::UNAUTHORIZED,
        www_authenticate: Some(INVALID_TOKEN.to_owned()),
        body: String::new(),
    }
}

async fn get(app: &Router, path: &str, token: &str) -> Outcome {
    send(app, "GET", path, Some(&format!("Bearer {token}"))).await
}

/// 503, `Retry-After`, no challenge.
async fn unavailable(app: &Router, token: &str) {
    let request = Request::get("/notes")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .expect("request");
    let response = tower::ServiceExt::oneshot(app.clone(), request)
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().get(header::RETRY_AFTER).is_some());
    assert_eq!(response.headers().get(header::WWW_AUTHENTICATE), None);
}

#[tokio::test]
async fn an_active_opaque_token_is_introspected_once_and_feeds_guards_and_extractors() {
    let s = Setup::new().await;
    let layer = s.layer(|i| i);
    let app = app(layer.clone());
    s.endpoint.answer(
        "opaque-reader",
        Reply::Json(s.active("notes.read profile", 3600)),
    );
    for _ in 0..3 {
        assert_eq!(get(&app, "/notes", "opaque-reader").await, ok("notes"));
    }
    assert_eq!(s.endpoint.calls(), 1, "one call for the same token");
    // The answer's scope decides: no notes.write.
    assert_eq!(
        send(&app, "POST", "/notes", Some("Bearer opaque-reader")).await,
        Outcome {
            status: StatusCode::FORBIDDEN,
            www_authenticate: Some(
                "Bearer error=\"insufficient_scope\", scope=\"notes.write\"".into()
            ),
            body: String::new(),
        }
    );
    // The handler's claims are the answer's members.
    let me: Value =
        serde_json::from_str(&get(&app, "/me", "opaque-reader").await.body).expect("JSON");
    assert_eq!(me["sub"], "alice");
    assert_eq!(me["client_id"], "client-1");
    assert_eq!(me["active"], true);
    let token = layer
        .validator()
        .validate("opaque-reader")
        .await
        .expect("valid");
    assert_eq!(token.client_id(), Some("client-1"));
    assert_eq!(token.registered().iss, s.issuer.issuer());
    assert_eq!(s.endpoint.calls(), 1);
    // Client authentication: Basic with the id and secret form-urlencoded.
    let (authorization, form) = s.endpoint.forms.lock().expect("lock")[0].clone();
    use base64::Engine as _;
    let expected = base64::engine::general_purpose::STANDARD.encode("notes+api:s3c%3Ar%26t%25");
    assert_eq!(authorization, Some(format!("Basic {expected}")));
    assert_eq!(form, "token=opaque-reader&token_type_hint=access_token");
    // A JWT is still validated locally: no call.
    let jwt = s.issuer.token().scope("notes.read").sign();
    assert_eq!(get(&app, "/notes", &jwt).await, ok("notes"));
    assert_eq!(s.endpoint.calls(), 1);
}

#[tokio::test]
async fn client_secret_post_sends_the_credentials_in_the_form() {
    let s = Setup::new().await;
    let app = app(BearerAuthLayer::builder()
        .trust(
            Issuer::new(s.issuer.issuer())
                .audience(TestIssuer::AUDIENCE)
                .introspection(Introspection::client_secret_post(&s.url, CLIENT_ID, SECRET)),
        )
        .clock(s.clock.clone())
        .build()
        .expect("valid configuration"));
    s.endpoint
        .answer("t", Reply::Json(s.active("notes.read", 60)));
    assert_eq!(get(&app, "/notes", "t").await, ok("notes"));
    let (authorization, form) = s.endpoint.forms.lock().expect("lock")[0].clone();
    assert_eq!(authorization, None);
    assert_eq!(
        form,
        "token=t&token_type_hint=access_token&client_id=notes+api&client_secret=s3c%3Ar%26t%25"
    );
}

/// Issue 16 point 2, rule by rule: the exact response, the precise reason
/// and one call each (negative answers are cached, so a second request
/// makes none).
#[tokio::test]
async fn every_rule_on_the_answer_refuses_with_invalid_token() {
    let s = Setup::new().await;
    let layer = s.layer(|i| i);
    let app = app(layer.clone());
    let now = s.now();
    let base = s.active("notes.read", 3600);
    let with = |changes: Value| {
        let mut answer = base.clone();
        for (k, v) in changes.as_object().expect("object") {
            if v.is_null() {
                answer.as_object_mut().expect("object").remove(k);
            } else {
                answer[k] = v.clone();
            }
        }
        answer
    };
    let cases = [
        ("inactive", json!({"active": false}), "token_inactive"),
        (
            "active as a string",
            json!({"active": "true"}),
            "token_inactive",
        ),
        ("active as a number", json!({"active": 1}), "token_inactive"),
        ("active missing", json!({"active": null}), "token_inactive"),
        ("expired", json!({"exp": now - 61}), "expired"),
        ("no exp", json!({"exp": null}), "missing_claim"),
        (
            "exp a string",
            json!({"exp": (now + 60).to_string()}),
            "invalid_claim",
        ),
        ("not yet valid", json!({"nbf": now + 61}), "not_yet_valid"),
        (
            "another issuer",
            json!({"iss": "https://evil.example"}),
            "issuer_mismatch",
        ),
        (
            "another audience",
            json!({"aud": "api://other"}),
            "audience_mismatch",
        ),
        (
            "audiences, none ours",
            json!({"aud": ["a", "b"]}),
            "audience_mismatch",
        ),
        (
            "a refresh token",
            json!({"token_type": "refresh_token"}),
            "not_an_access_token",
        ),
        (
            "bare active",
            json!({"aud": null, "token_type": null}),
            "not_an_access_token",
        ),
        (
            "no aud, a refresh type",
            json!({"aud": null, "token_type": "refresh_token"}),
            "not_an_access_token",
        ),
        (
            "cnf not an object of strings",
            json!({"cnf": {"jkt": 1}}),
            "invalid_claim",
        ),
    ];
    for (i, (what, changes, code)) in cases.iter().enumerate() {
        let token = format!("rule-{i}");
        s.endpoint
            .answer(&token, Reply::Json(with(changes.clone())));
        let before = s.endpoint.calls();
        assert_eq!(get(&app, "/notes", &token).await, refused(), "{what}");
        assert_eq!(
            get(&app, "/notes", &token).await,
            refused(),
            "{what}, cached"
        );
        assert_eq!(s.endpoint.calls(), before + 1, "{what}: one call");
        // The precise reason, from a layer of its own (no cached answer).
        let fresh = s.layer(|i| i);
        let error = fresh.validator().validate(&token).await.expect_err(what);
        assert_eq!(error.code(), *code, "{what}: {error}");
    }
    // What passes: no iss (the configured one is meant), no aud with an
    // access-token token_type, aud among several, DPoP as the type.
    for (i, changes) in [
        json!({"iss": null}),
        json!({"aud": null, "token_type": "Bearer"}),
        json!({"aud": null, "token_type": "DPoP"}),
        json!({"aud": ["x", TestIssuer::AUDIENCE]}),
        json!({"token_type": null}),
    ]
    .into_iter()
    .enumerate()
    {
        let token = format!("pass-{i}");
        s.endpoint
            .answer(&token, Reply::Json(with(changes.clone())));
        assert_eq!(get(&app, "/notes", &token).await, ok("notes"), "{changes}");
    }
    // With require_audience, an access-token type without an aud is not
    // enough (oidc-provider's UserInfo-only tokens answer so).
    let strict = s.layer(|i| i.require_audience());
    s.endpoint
        .answer("typed-only", Reply::Json(with(json!({"aud": null}))));
    assert_eq!(get(&app, "/notes", "typed-only").await, ok("notes"));
    assert_eq!(
        get(&app_with(strict.clone()), "/notes", "typed-only").await,
        refused()
    );
    assert_eq!(
        strict
            .validator()
            .validate("typed-only")
            .await
            .expect_err("no aud")
            .to_string(),
        "introspection: not an access token for this API: no aud naming this API"
    );
    // A bare active:true passes only when the endpoint is trusted for it.
    let trusting = app_with(s.layer(|i| i.dangerously_trust_bare_active()));
    s.endpoint.answer(
        "bare",
        Reply::Json(with(json!({"aud": null, "token_type": null}))),
    );
    assert_eq!(get(&trusting, "/notes", "bare").await, ok("notes"));
}

fn app_with(layer: BearerAuthLayer) -> Router {
    app(layer)
}

#[tokio::test]
async fn answers_are_kept_until_exp_capped_by_the_maximum_age_and_refusals_briefly() {
    let s = Setup::new().await;
    let app = app(s.layer(|i| {
        i.max_cache_age(Duration::from_secs(60))
            .negative_cache_age(Duration::from_secs(5))
    }));
    s.endpoint
        .answer("long", Reply::Json(s.active("notes.read", 3600)));
    s.endpoint
        .answer("short", Reply::Json(s.active("notes.read", 30)));
    s.endpoint
        .answer("revoked", Reply::Json(json!({"active": false})));
    for token in ["long", "short"] {
        assert_eq!(get(&app, "/notes", token).await, ok("notes"));
    }
    assert_eq!(get(&app, "/notes", "revoked").await, refused());
    assert_eq!(s.endpoint.calls(), 3);
    s.clock.advance(Duration::from_secs(4));
    for token in ["long", "short"] {
        assert_eq!(get(&app, "/notes", token).await, ok("notes"));
    }
    assert_eq!(get(&app, "/notes", "revoked").await, refused());
    assert_eq!(s.endpoint.calls(), 3, "all three still kept at 4 s");
    s.clock.advance(Duration::from_secs(1));
    assert_eq!(get(&app, "/notes", "revoked").await, refused());
    assert_eq!(s.endpoint.calls(), 4, "the refusal is asked again at 5 s");
    // `short` expires at 30 s: asked again, and now the endpoint says it is
    // revoked; `long` is kept until the 60 s maximum age.
    s.clock.advance(Duration::from_secs(25));
    s.endpoint
        .answer("short", Reply::Json(json!({"active": false})));
    assert_eq!(get(&app, "/notes", "short").await, refused());
    assert_eq!(get(&app, "/notes", "long").await, ok("notes"));
    assert_eq!(s.endpoint.calls(), 5);
    s.endpoint
        .answer("long", Reply::Json(json!({"active": false})));
    s.clock.advance(Duration::from_secs(30));
    assert_eq!(get(&app, "/notes", "long").await, refused());
    assert_eq!(s.endpoint.calls(), 6, "past the maximum age, asked again");

    // A maximum age of zero asks on every request.
    let every_time = app_with(s.layer(|i| i.max_cache_age(Duration::ZERO)));
    s.endpoint
        .answer("each", Reply::Json(s.active("notes.read", 3600)));
    let before = s.endpoint.calls();
    for _ in 0..3 {
        assert_eq!(get(&every_time, "/notes", "each").await, ok("notes"));
    }
    assert_eq!(s.endpoint.calls(), before + 3);
}

/// Concurrent requests with one token share one call, even when answers
/// are not kept (a maximum age of zero): the first asks, the others wait
/// for its answer.
#[tokio::test]
async fn concurrent_requests_with_one_token_share_one_call() {
    let s = Setup::new().await;
    // Positive answers not kept: only sharing the call in flight can make
    // ten requests one call.
    let app = app(s.layer(|i| i.max_cache_age(Duration::ZERO)));
    s.endpoint.answer(
        "busy",
        Reply::Held(Box::new(Reply::Json(s.active("notes.read", 60)))),
    );
    let requests: Vec<_> = (0..10)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { get(&app, "/notes", "busy").await })
        })
        .collect();
    crate::support::eventually("the endpoint is asked", async || s.endpoint.calls() == 1).await;
    // A permit, not a wake-up of the waiters registered so far: the held call
    // is answered even if it has counted itself but not yet started waiting.
    s.endpoint.gate.notify_one();
    for request in requests {
        assert_eq!(request.await.expect("task"), ok("notes"));
    }
    assert_eq!(s.endpoint.calls(), 1);
    // Not kept: the next request asks again.
    s.endpoint
        .answer("busy", Reply::Json(s.active("notes.read", 60)));
    assert_eq!(get(&app, "/notes", "busy").await, ok("notes"));
    assert_eq!(s.endpoint.calls(), 2);
}

/// Issue 16 point 4: an endpoint that cannot give a usable answer → 503
/// with `Retry-After` for a token not kept (never acceptance); a token kept
/// meanwhile is still served; a redirect is never followed.
#[tokio::test]
async fn an_endpoint_that_cannot_answer_gives_503_and_kept_answers_still_serve() {
    let s = Setup::new().await;
    let layer = s.layer(|i| i);
    let app = app(layer.clone());
    s.endpoint
        .answer("kept", Reply::Json(s.active("notes.read", 3600)));
    assert_eq!(get(&app, "/notes", "kept").await, ok("notes"));
    let (elsewhere, elsewhere_url) = endpoint().await;
    elsewhere.answer("redirected", Reply::Json(s.active("notes.read", 3600)));
    let cases = [
        (
            "500",
            Reply::Raw(500, "application/json", "{}".into()),
            "introspection_unavailable",
        ),
        (
            "401",
            Reply::Raw(
                401,
                "application/json",
                r#"{"error":"invalid_client"}"#.into(),
            ),
            "introspection_unavailable",
        ),
        (
            "redirect",
            Reply::Redirect(elsewhere_url.clone()),
            "introspection_unavailable",
        ),
        (
            "not JSON",
            Reply::Raw(200, "text/html", "<html>".into()),
            "introspection_unavailable",
        ),
        (
            "a JSON array",
            Reply::Raw(200, "application/json", "[true]".into()),
            "introspection_unavailable",
        ),
        (
            "oversized",
            Reply::Raw(
                200,
                "application/json",
                format!("{{\"active\":false,\"pad\":\"{}\"}}", "x".repeat(8192)),
            ),
            "introspection_unavailable",
        ),
        ("timeout", Reply::Hang, "introspection_unavailable"),
    ];
    for (i, (what, reply, code)) in cases.into_iter().enumerate() {
        let token = format!("fail-{i}");
        s.endpoint.answer(&token, reply);
        let before = s.endpoint.calls();
        unavailable(&app, &token).await;
        assert_eq!(s.endpoint.calls(), before + 1, "{what}");
        // Not kept: asked again next time.
        let error = layer.validator().validate(&token).await.expect_err(what);
        assert_eq!(error.code(), code, "{what}: {error}");
        assert_eq!(
            s.endpoint.calls(),
            before + 2,
            "{what}: an outage is not cached"
        );
    }
    assert_eq!(elsewhere.calls(), 0, "the redirect was not followed");
    // The endpoint gone entirely: connection refused.
    let gone = BearerAuthLayer::builder()
        .trust(
            Issuer::new(s.issuer.issuer())
                .audience(TestIssuer::AUDIENCE)
                .introspection(Introspection::client_secret_basic(
                    "http://127.0.0.1:9/introspect",
                    CLIENT_ID,
                    SECRET,
                )),
        )
        .build()
        .expect("valid configuration");
    unavailable(&app_with(gone), "anything").await;
    // The kept answer is still served while the endpoint fails.
    s.endpoint
        .answer("kept", Reply::Raw(500, "application/json", "{}".into()));
    assert_eq!(get(&app, "/notes", "kept").await, ok("notes"));
}

#[tokio::test]
async fn configuration_that_cannot_work_is_refused() {
    let s = Setup::new().await;
    let intro = || Introspection::client_secret_basic(&s.url, CLIENT_ID, SECRET);
    let two = BearerAuthLayer::builder()
        .trust(
            Issuer::new(s.issuer.issuer())
                .audience("a")
                .introspection(intro()),
        )
        .trust(
            Issuer::new("http://127.0.0.1:1")
                .audience("a")
                .introspection(intro()),
        )
        .build();
    assert!(
        matches!(two, Err(bearer_guard::ConfigError::Introspection(_))),
        "{two:?}"
    );
    let template = BearerAuthLayer::builder()
        .trust(
            Issuer::new("https://login.example.com/{tenantid}/v2.0")
                .audience("a")
                .jwks_uri("https://login.example.com/keys")
                .allowed_tenants(["t"])
                .introspection(intro()),
        )
        .build();
    assert!(
        matches!(template, Err(bearer_guard::ConfigError::Introspection(_))),
        "{template:?}"
    );
    let insecure = BearerAuthLayer::builder()
        .trust(Issuer::new(s.issuer.issuer()).audience("a").introspection(
            Introspection::client_secret_basic("http://idp.example/introspect", CLIENT_ID, SECRET),
        ))
        .build();
    assert!(insecure.is_err());
    // The secret never shows in Debug.
    assert!(!format!("{:?}", intro()).contains(SECRET));
}

/// With `introspect_jwts`, a JWT that passes locally must also be active at
/// the endpoint (revocation), asked once per maximum age, cache or not.
#[tokio::test]
async fn jwts_can_be_introspected_for_revocation() {
    let s = Setup::new().await;
    let app = app(s.layer(|i| i.introspect_jwts().max_cache_age(Duration::from_secs(30))));
    let jwt = s.issuer.token().scope("notes.read").sign();
    s.endpoint
        .answer(&jwt, Reply::Json(s.active("notes.read", 3600)));
    for _ in 0..2 {
        assert_eq!(get(&app, "/notes", &jwt).await, ok("notes"));
    }
    assert_eq!(s.endpoint.calls(), 1);
    // Revoked: seen once the kept answer is past its maximum age, although
    // the JWT itself is still in the verified-token cache.
    s.endpoint
        .answer(&jwt, Reply::Json(json!({"active": false})));
    s.clock.advance(Duration::from_secs(30));
    assert_eq!(get(&app, "/notes", &jwt).await, refused());
    assert_eq!(s.endpoint.calls(), 2);
    // A JWT that fails locally is never sent.
    let foreign = s.issuer.token().audience("api://other").sign();
    assert_eq!(get(&app, "/notes", &foreign).await, refused());
    assert_eq!(s.endpoint.calls(), 2);
}

/// `private_key_jwt` (RFC 7523 §2.2): a fresh assertion per call, signed
/// with the API's key, naming the client and the authorization server.
#[tokio::test]
async fn private_key_jwt_signs_a_fresh_assertion_per_call() {
    use bearer_guard::{Algorithm, ClientAssertionKey};
    use jsonwebtoken::{DecodingKey, EncodingKey, Validation, jwk::Jwk};
    const PEM: &[u8] = include_bytes!("../../src/testing/keys/p256_2.pem");
    let s = Setup::new().await;
    let key = ClientAssertionKey::from_pem(Algorithm::ES256, PEM)
        .expect("key")
        .key_id("api-key-1");
    let app = app(BearerAuthLayer::builder()
        .trust(
            Issuer::new(s.issuer.issuer())
                .audience(TestIssuer::AUDIENCE)
                .introspection(Introspection::private_key_jwt(&s.url, CLIENT_ID, key)),
        )
        .clock(s.clock.clone())
        .build()
        .expect("valid configuration"));
    s.endpoint
        .answer("one", Reply::Json(s.active("notes.read", 60)));
    s.endpoint
        .answer("two", Reply::Json(s.active("notes.read", 60)));
    assert_eq!(get(&app, "/notes", "one").await, ok("notes"));
    assert_eq!(get(&app, "/notes", "two").await, ok("notes"));
    let public = Jwk::from_encoding_key(
        &EncodingKey::from_ec_pem(PEM).expect("key"),
        jsonwebtoken::Algorithm::ES256,
    )
    .expect("public key");
    let decoding = DecodingKey::from_jwk(&public).expect("decoding key");
    let mut validation = Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&[s.issuer.issuer()]);
    validation.set_issuer(&[CLIENT_ID]);
    validation.validate_exp = false;
    let mut jtis = Vec::new();
    for (authorization, form) in s.endpoint.forms.lock().expect("lock").iter() {
        assert_eq!(authorization, &None);
        let fields: HashMap<String, String> = url::form_urlencoded::parse(form.as_bytes())
            .into_owned()
            .collect();
        assert_eq!(fields["client_id"], CLIENT_ID);
        assert_eq!(
            fields["client_assertion_type"],
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        );
        let assertion =
            jsonwebtoken::decode::<Value>(&fields["client_assertion"], &decoding, &validation)
                .expect("the assertion verifies with the API's public key");
        assert_eq!(assertion.header.kid.as_deref(), Some("api-key-1"));
        let claims = assertion.claims;
        assert_eq!(claims["sub"], CLIENT_ID);
        assert_eq!(claims["aud"], json!([s.issuer.issuer(), s.url]));
        assert_eq!(claims["exp"], json!(s.now() + 60));
        jtis.push(claims["jti"].as_str().expect("jti").to_owned());
    }
    assert_eq!(jtis.len(), 2);
    assert_ne!(jtis[0], jtis[1], "a fresh jti per call");
    // A key that does not fit its algorithm is refused when the layer is built.
    let wrong = ClientAssertionKey::from_pem(Algorithm::ES384, PEM).expect("an EC key loads");
    assert!(
        BearerAuthLayer::builder()
            .trust(
                Issuer::new(s.issuer.issuer())
                    .audience("a")
                    .introspection(Introspection::private_key_jwt(&s.url, CLIENT_ID, wrong)),
            )
            .build()
            .is_err()
    );
}

/// The endpoint from the issuer's discovery document, read once; a failed
/// discovery gives 503 and is not retried for 10 s of the layer's clock.
#[tokio::test]
async fn the_endpoint_can_come_from_discovery() {
    use bearer_guard::IntrospectionEndpoint;
    let (endpoint, url) = endpoint().await;
    let base = url.trim_end_matches("/introspect").to_owned();
    let clock = ManualClock::new();
    let app = app(BearerAuthLayer::builder()
        .trust(
            Issuer::new(&base)
                .audience(TestIssuer::AUDIENCE)
                .introspection(Introspection::client_secret_basic(
                    IntrospectionEndpoint::Discovered,
                    CLIENT_ID,
                    SECRET,
                )),
        )
        .clock(clock.clone())
        .build()
        .expect("valid configuration"));
    let active = json!({
        "active": true, "iss": base, "aud": TestIssuer::AUDIENCE, "scope": "notes.read",
        "exp": now_on(&clock) + 600,
    });
    endpoint.answer("opaque", Reply::Json(active));
    // Discovery down: 503, and not asked again for 10 s.
    unavailable(&app, "opaque").await;
    unavailable(&app, "opaque").await;
    assert_eq!(endpoint.discoveries.load(Ordering::SeqCst), 1);
    assert_eq!(endpoint.calls(), 0);
    *endpoint.discovery.lock().expect("lock") = Some(json!({
        "issuer": base,
        "jwks_uri": format!("{base}/jwks"),
        "introspection_endpoint": url,
    }));
    clock.advance(Duration::from_secs(10));
    assert_eq!(get(&app, "/notes", "opaque").await, ok("notes"));
    assert_eq!(get(&app, "/notes", "other").await, refused());
    assert_eq!(endpoint.discoveries.load(Ordering::SeqCst), 2);
    assert_eq!(endpoint.calls(), 2);
    // A document naming another issuer is refused.
    let (elsewhere, elsewhere_url) = self::endpoint().await;
    let elsewhere_base = elsewhere_url.trim_end_matches("/introspect").to_owned();
    *elsewhere.discovery.lock().expect("lock") = Some(json!({
        "issuer": "https://evil.example",
        "introspection_endpoint": elsewhere_url,
    }));
    let confused = app_with(
        BearerAuthLayer::builder()
            .trust(
                Issuer::new(&elsewhere_base)
                    .audience(TestIssuer::AUDIENCE)
                    .introspection(Introspection::client_secret_basic(
                        IntrospectionEndpoint::Discovered,
                        CLIENT_ID,
                        SECRET,
                    )),
            )
            .build()
            .expect("valid configuration"),
    );
    unavailable(&confused, "opaque").await;
    assert_eq!(elsewhere.calls(), 0);
}

/// RFC 9701: with signed responses on, only a JWT typed
/// `token-introspection+jwt`, signed by one of the issuer's keys, from the
/// issuer, for this client, is an answer; its `token_introspection` goes
/// through the same rules. Anything else is no usable answer (503).
#[tokio::test]
async fn signed_answers_are_verified_with_the_issuers_keys() {
    let s = Setup::new().await;
    let layer = s.layer(|i| i.signed_responses());
    let app = app(layer.clone());
    let signed = |body: Value| {
        s.issuer
            .token()
            .typ(Some("token-introspection+jwt"))
            .audience(CLIENT_ID)
            .without("scope")
            .claim("token_introspection", body)
    };
    let jwt = |token: bearer_guard::testing::TokenBuilder<'_>| {
        Reply::Raw(200, "application/token-introspection+jwt", token.sign())
    };
    s.endpoint
        .answer("good", jwt(signed(s.active("notes.read", 600))));
    assert_eq!(get(&app, "/notes", "good").await, ok("notes"));
    let me: Value = serde_json::from_str(&get(&app, "/me", "good").await.body).expect("JSON");
    assert_eq!(
        me["sub"], "alice",
        "the handler sees the introspection answer"
    );
    s.endpoint
        .answer("inactive", jwt(signed(json!({"active": false}))));
    assert_eq!(get(&app, "/notes", "inactive").await, refused());
    let cases = [
        ("unsigned JSON", Reply::Json(s.active("notes.read", 600))),
        (
            "typ JWT",
            jwt(signed(s.active("notes.read", 600)).typ(Some("JWT"))),
        ),
        (
            "another audience",
            jwt(signed(s.active("notes.read", 600)).audience("someone-else")),
        ),
        (
            "another issuer",
            jwt(signed(s.active("notes.read", 600)).claim("iss", "https://evil.example")),
        ),
        (
            "an unpublished key",
            jwt(signed(s.active("notes.read", 600)).header_kid("not-published")),
        ),
        (
            "no token_introspection",
            jwt(s
                .issuer
                .token()
                .typ(Some("token-introspection+jwt"))
                .audience(CLIENT_ID)),
        ),
    ];
    for (i, (what, reply)) in cases.into_iter().enumerate() {
        let token = format!("signed-{i}");
        s.endpoint.answer(&token, reply);
        unavailable(&app, &token).await;
        let error = layer.validator().validate(&token).await.expect_err(what);
        assert_eq!(error.code(), "introspection_unavailable", "{what}: {error}");
        let reason = match what {
            "unsigned JSON" => "signed answer: malformed token",
            "typ JWT" => "typ is not token-introspection+jwt",
            "another audience" => "aud does not name this client",
            "another issuer" => "iss is not the issuer",
            "an unpublished key" => "no key with the token's kid",
            _ => "claims malformed",
        };
        assert!(error.to_string().contains(reason), "{what}: {error}");
    }
    // A tampered signature.
    let good = signed(s.active("notes.read", 600)).sign();
    let (signed_part, signature) = good.rsplit_once('.').expect("JWS");
    let flipped = format!(
        "{signed_part}.{}{}",
        if signature.starts_with('A') { "B" } else { "A" },
        &signature[1..]
    );
    s.endpoint.answer(
        "tampered",
        Reply::Raw(200, "application/token-introspection+jwt", flipped),
    );
    unavailable(&app, "tampered").await;
}

/// The answer's `cnf` binds an opaque token as a JWT's does: DPoP-bound
/// (`cnf.jkt`) it needs its proof, and is never a bearer token;
/// certificate-bound (`cnf.x5t#S256`) it needs its certificate.
#[tokio::test]
async fn an_answers_cnf_binds_the_opaque_token() {
    use bearer_guard::testing::{DpopKey, KeyKind};
    use bearer_guard::{CertificateBinding, Dpop};
    let s = Setup::new().await;
    let key = DpopKey::new(KeyKind::Es256, 0);
    let layer = BearerAuthLayer::builder()
        .trust(
            Issuer::new(s.issuer.issuer())
                .audience(TestIssuer::AUDIENCE)
                .introspection(Introspection::client_secret_basic(
                    &s.url, CLIENT_ID, SECRET,
                )),
        )
        .clock(s.clock.clone())
        .dpop(Dpop::new("https://api.example.test"))
        .certificate_bound_tokens(CertificateBinding::new())
        .build()
        .expect("valid configuration");
    let app = app(layer);
    let mut bound = s.active("notes.read", 600);
    bound["cnf"] =
        serde_json::from_str(&serde_json::to_string(&key.cnf()).expect("JSON")).expect("JSON");
    bound["token_type"] = json!("DPoP");
    s.endpoint.answer("opaque-dpop", Reply::Json(bound));
    let proof = key
        .proof("GET", "https://api.example.test/notes")
        .access_token("opaque-dpop")
        .iat(s.now())
        .sign();
    let request = Request::get("/notes")
        .header(header::AUTHORIZATION, "DPoP opaque-dpop")
        .header("DPoP", proof)
        .body(Body::empty())
        .expect("request");
    assert_eq!(send_request(&app, request).await, ok("notes"));
    assert_eq!(
        get(&app, "/notes", "opaque-dpop").await,
        refused(),
        "no downgrade"
    );
    let mut certificate_bound = s.active("notes.read", 600);
    certificate_bound["cnf"] = json!({"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"});
    s.endpoint
        .answer("opaque-mtls", Reply::Json(certificate_bound));
    assert_eq!(
        get(&app, "/notes", "opaque-mtls").await,
        refused(),
        "no certificate"
    );
    assert_eq!(s.endpoint.calls(), 2);
}

/// Introspection calls share connections (a pooled client of their own,
/// not the key fetches' client, which keeps none): three tokens, three
/// calls, one TCP connection.
#[tokio::test]
async fn introspection_calls_reuse_one_connection() {
    let s = Setup::new().await;
    let app = app(s.layer(|i| i));
    for token in ["opaque-one", "opaque-two", "opaque-three"] {
        s.endpoint
            .answer(token, Reply::Json(s.active("notes.read", 300)));
        assert_eq!(get(&app, "/notes", token).await, ok("notes"));
    }
    assert_eq!(s.endpoint.calls(), 3);
    assert_eq!(s.endpoint.connections.load(Ordering::SeqCst), 1);
}
