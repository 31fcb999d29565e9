//! Shared helpers for the integration tests: a local issuer, an axum app
//! protected by the layer, and one-shot requests against it.
#![allow(dead_code)]

pub mod der;

use axum::Router;
use axum::body::Body;
use axum::routing::{get, post};
use bearer_guard::testing::TestIssuer;
use bearer_guard::{Authenticated, BearerAuthLayer, Claims, Requirement, TypPolicy, require};
use http::{Request, StatusCode, header};
use tower::ServiceExt;

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
    BearerAuthLayer::builder()
        .issuer(issuer.issuer())
        .audience(TestIssuer::AUDIENCE)
        .typ(TypPolicy::AccessTokenOrJwt)
        .build()
        .expect("valid configuration")
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
