//! Token validation end to end (issue 2, point 2), through the axum app of
//! `support` and the local test issuer: what a valid token gets (the handler,
//! the exact claims), the request without credentials, the scheme's case, the
//! configured size cap, `exp`/`nbf` and the leeway, accepted audiences, the
//! `typ` policies, each key type verifying its own tokens, and custom
//! rejection responses.
//!
//! Hostile inputs (forged, altered, malformed or confusing tokens and
//! headers) are rows of the tables in `attacks`, not repeated here.
//!
//! Every rejection asserts the exact status, the exact `WWW-Authenticate`
//! value and the (empty) body; every acceptance asserts the handler's body.

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bearer_guard::rejection_parts;
use bearer_guard::testing::{KeyKind, TestIssuer, TokenBuilder};
use bearer_guard::{BearerAuthLayer, Builder, Error, TypPolicy};
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use serde_json::{Value, json};

use crate::support::{
    INVALID_REQUEST, INVALID_TOKEN, Outcome, app, bare, get_with, invalid_token, layer, now, send,
    start,
};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// A builder trusting `issuer` with every other setting at its default
/// (notably `TypPolicy::AccessToken`).
fn builder(issuer: &TestIssuer) -> Builder {
    BearerAuthLayer::builder()
        .issuer(issuer.issuer())
        .audience(TestIssuer::AUDIENCE)
}

/// A token that `GET /notes` accepts unless the test breaks something.
fn read_token(issuer: &TestIssuer) -> TokenBuilder<'_> {
    issuer.token().scope("notes.read")
}

/// `GET /notes` reached its handler.
fn notes() -> Outcome {
    Outcome {
        status: StatusCode::OK,
        www_authenticate: None,
        body: "notes".to_owned(),
    }
}

/// Asserts that `GET /notes` with `token` is refused with 401 `invalid_token`
/// (empty body), and that the precise reason, which only the log sees, is
/// `code` (asked of the layer's own validator, which shares its key cache).
async fn assert_refused(app: &Router, auth: &BearerAuthLayer, token: &str, code: &str) {
    assert_eq!(
        get_with(app, "/notes", token).await,
        invalid_token(),
        "expected reason {code}"
    );
    let reason = auth.validator().validate(token).await.err();
    assert_eq!(reason.as_ref().map(Error::code), Some(code), "{reason:?}");
}

/// The precise reason the layer's validator gives for these `Authorization`
/// header values.
async fn header_reason(auth: &BearerAuthLayer, values: &[&str]) -> Option<&'static str> {
    let mut headers = HeaderMap::new();
    for value in values {
        headers.append(
            header::AUTHORIZATION,
            HeaderValue::from_str(value).expect("header value"),
        );
    }
    auth.validator()
        .authenticate(&headers)
        .await
        .err()
        .map(|e| e.code())
}

/// The three segments of a compact JWS.
fn segments(token: &str) -> [String; 3] {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "compact JWS: {token}");
    [
        parts[0].to_owned(),
        parts[1].to_owned(),
        parts[2].to_owned(),
    ]
}

// ---------------------------------------------------------------------------
// Accepted tokens and the claims handed over
// ---------------------------------------------------------------------------

#[tokio::test]
async fn valid_delegated_token_reaches_the_handler() {
    let issuer = start().await;
    let app = app(layer(&issuer));
    let token = read_token(&issuer).sign();
    assert_eq!(get_with(&app, "/notes", &token).await, notes());
}

#[tokio::test]
async fn me_returns_exactly_the_claims_the_token_carries() {
    let issuer = start().await;
    let app = app(layer(&issuer));
    let token = issuer
        .token()
        .scope("notes.read profile")
        .claim("name", "Ada Lovelace")
        .claim("tid", "tenant-1")
        .sign();

    let outcome = get_with(&app, "/me", &token).await;
    assert_eq!(outcome.status, StatusCode::OK);
    assert_eq!(outcome.www_authenticate, None);
    let body: Value = serde_json::from_str(&outcome.body).expect("JSON body");
    assert_eq!(body["iss"], json!(issuer.issuer()));
    assert_eq!(body["aud"], json!(TestIssuer::AUDIENCE));
    assert_eq!(body["sub"], json!("test-user"));
    assert_eq!(body["scp"], json!("notes.read profile"));
    assert_eq!(body["name"], json!("Ada Lovelace"));
    assert_eq!(body["tid"], json!("tenant-1"));
    assert!(body["exp"].as_i64().expect("exp is a number") > now());
    // Nothing added, nothing dropped: the whole claims set, as signed.
    let payload = URL_SAFE_NO_PAD
        .decode(&segments(&token)[1])
        .expect("base64url payload");
    let signed: Value = serde_json::from_slice(&payload).expect("JSON payload");
    assert_eq!(body, signed);
}

// ---------------------------------------------------------------------------
// The Authorization header (RFC 6750 §2.1)
// ---------------------------------------------------------------------------

#[tokio::test]
async fn no_authorization_header_gets_a_bare_bearer_challenge() {
    let issuer = start().await;
    let auth = layer(&issuer);
    let app = app(auth.clone());
    assert_eq!(send(&app, "GET", "/notes", None).await, bare());
    assert_eq!(send(&app, "GET", "/me", None).await, bare());
    assert_eq!(header_reason(&auth, &[]).await, Some("missing_token"));
    assert_eq!(issuer.jwks_requests(), 0);
}

#[tokio::test]
async fn bearer_scheme_is_case_insensitive() {
    let issuer = start().await;
    let app = app(layer(&issuer));
    let token = read_token(&issuer).sign();
    for scheme in ["bearer", "BEARER", "bEaReR"] {
        let value = format!("{scheme} {token}");
        assert_eq!(
            send(&app, "GET", "/notes", Some(&value)).await,
            notes(),
            "{scheme}"
        );
    }
}

#[tokio::test]
async fn max_token_bytes_sets_the_cap_checked_before_any_traffic() {
    // The default cap and hostile sizes (1 MB values, non-b64token bytes over
    // the cap) are rows of `attacks::authorization_header_and_sizes`; here the
    // setting itself: a valid token one byte over a configured cap is refused,
    // one exactly at it passes.
    let issuer = start().await;
    let token = read_token(&issuer).sign();

    let capped = builder(&issuer)
        .max_token_bytes(token.len() - 1)
        .build()
        .expect("valid configuration");
    let capped_app = app(capped.clone());
    assert_refused(&capped_app, &capped, &token, "token_too_large").await;
    assert_eq!(issuer.discovery_requests(), 0);
    assert_eq!(issuer.jwks_requests(), 0);

    // A token exactly at the cap passes.
    let exact = app(builder(&issuer)
        .max_token_bytes(token.len())
        .build()
        .expect("valid configuration"));
    assert_eq!(get_with(&exact, "/notes", &token).await, notes());
}

// ---------------------------------------------------------------------------
// exp / nbf and the leeway (default 60 s)
// ---------------------------------------------------------------------------

#[tokio::test]
async fn expired_token_beyond_the_leeway_is_rejected() {
    let issuer = start().await;
    let auth = layer(&issuer);
    let app = app(auth.clone());
    let token = read_token(&issuer).expires_in(-120).sign();
    assert_refused(&app, &auth, &token, "expired").await;
}

#[tokio::test]
async fn token_expired_within_the_leeway_is_accepted() {
    let issuer = start().await;
    let app = app(layer(&issuer));
    let token = read_token(&issuer).expires_in(-20).sign();
    assert_eq!(get_with(&app, "/notes", &token).await, notes());
}

#[tokio::test]
async fn zero_leeway_rejects_a_token_expired_seconds_ago() {
    let issuer = start().await;
    let auth = builder(&issuer)
        .leeway(std::time::Duration::ZERO)
        .build()
        .expect("valid configuration");
    let app = app(auth.clone());
    let token = read_token(&issuer).expires_in(-20).sign();
    assert_refused(&app, &auth, &token, "expired").await;
}

#[tokio::test]
async fn nbf_in_the_future_beyond_the_leeway_is_rejected() {
    let issuer = start().await;
    let auth = layer(&issuer);
    let app = app(auth.clone());
    let token = read_token(&issuer).claim("nbf", now() + 300).sign();
    assert_refused(&app, &auth, &token, "not_yet_valid").await;
}

#[tokio::test]
async fn nbf_in_the_future_within_the_leeway_is_accepted() {
    let issuer = start().await;
    let app = app(layer(&issuer));
    let token = read_token(&issuer).claim("nbf", now() + 20).sign();
    assert_eq!(get_with(&app, "/notes", &token).await, notes());
}

// ---------------------------------------------------------------------------
// aud
// ---------------------------------------------------------------------------

#[tokio::test]
async fn audience_array_with_one_matching_value_is_accepted() {
    let issuer = start().await;
    let app = app(layer(&issuer));
    let token = read_token(&issuer)
        .claim("aud", json!(["api://other", TestIssuer::AUDIENCE]))
        .sign();
    assert_eq!(get_with(&app, "/notes", &token).await, notes());
}

#[tokio::test]
async fn builder_with_two_audiences_accepts_either_and_nothing_else() {
    let issuer = start().await;
    let auth = BearerAuthLayer::builder()
        .issuer(issuer.issuer())
        .audience("api://first")
        .audience("api://second")
        .build()
        .expect("valid configuration");
    let app = app(auth.clone());
    for aud in ["api://first", "api://second"] {
        let token = read_token(&issuer).audience(aud).sign();
        assert_eq!(get_with(&app, "/notes", &token).await, notes(), "{aud}");
    }
    let token = read_token(&issuer).audience(TestIssuer::AUDIENCE).sign();
    assert_refused(&app, &auth, &token, "audience_mismatch").await;
}

// ---------------------------------------------------------------------------
// typ (RFC 8725 §3.11, RFC 9068 §2.1)
// ---------------------------------------------------------------------------

#[tokio::test]
async fn default_typ_policy_accepts_only_at_jwt() {
    let issuer = start().await;
    let auth = builder(&issuer).build().expect("valid configuration");
    let app = app(auth.clone());
    for typ in [Some("at+jwt"), Some("application/at+jwt"), Some("AT+JWT")] {
        let token = read_token(&issuer).typ(typ).sign();
        assert_eq!(get_with(&app, "/notes", &token).await, notes(), "{typ:?}");
    }
    // An ID token (JWT) or an untyped token never passes as an access token.
    for typ in [
        Some("JWT"),
        None,
        Some("at+jwt2"),
        Some("id_token+jwt"),
        Some(""),
    ] {
        let token = read_token(&issuer).typ(typ).sign();
        assert_refused(&app, &auth, &token, "wrong_type").await;
    }
}

#[tokio::test]
async fn jwt_typ_policy_rejects_at_jwt() {
    let issuer = start().await;
    let auth = builder(&issuer)
        .typ(TypPolicy::Jwt)
        .build()
        .expect("valid configuration");
    let app = app(auth.clone());
    for typ in [Some("JWT"), Some("jwt"), None] {
        let token = read_token(&issuer).typ(typ).sign();
        assert_eq!(get_with(&app, "/notes", &token).await, notes(), "{typ:?}");
    }
    for typ in [Some("at+jwt"), Some("logout+jwt")] {
        let token = read_token(&issuer).typ(typ).sign();
        assert_refused(&app, &auth, &token, "wrong_type").await;
    }
}

// ---------------------------------------------------------------------------
// Algorithms (RFC 8725 §3.1)
// ---------------------------------------------------------------------------

#[tokio::test]
async fn each_supported_key_type_verifies_its_own_tokens() {
    let issuer = start().await;
    let rs = issuer.current_kid();
    // All keys published before the layer's first (and only) fetch.
    let kids = [
        rs,
        issuer.add_key(KeyKind::Ps256),
        issuer.add_key(KeyKind::Es256),
        issuer.add_key(KeyKind::Es384),
        issuer.add_key(KeyKind::EdDsa),
    ];
    let app = app(layer(&issuer));
    for kid in &kids {
        let token = read_token(&issuer).signed_by(kid).sign();
        assert_eq!(get_with(&app, "/notes", &token).await, notes(), "{kid}");
    }
    assert_eq!(issuer.jwks_requests(), 1);
}

// ---------------------------------------------------------------------------
// Custom rejection responses
// ---------------------------------------------------------------------------

#[tokio::test]
async fn custom_rejection_builds_the_response_but_the_layer_still_rejects() {
    let issuer = start().await;
    let custom = layer(&issuer).on_rejection(|error: &Error| {
        let (status, headers) = rejection_parts(error);
        let mut response = Response::new(Body::from(format!("{{\"error\":\"{}\"}}", error.code())));
        *response.status_mut() = status;
        response.headers_mut().extend(headers);
        response
    });
    let app: Router = Router::new()
        .route("/notes", get(|| async { "notes" }))
        .layer(custom);

    assert_eq!(
        send(&app, "GET", "/notes", None).await,
        Outcome {
            status: StatusCode::UNAUTHORIZED,
            www_authenticate: Some("Bearer".to_owned()),
            body: r#"{"error":"missing_token"}"#.to_owned(),
        }
    );
    let expired = read_token(&issuer).expires_in(-3600).sign();
    assert_eq!(
        get_with(&app, "/notes", &expired).await,
        Outcome {
            status: StatusCode::UNAUTHORIZED,
            www_authenticate: Some(INVALID_TOKEN.to_owned()),
            body: r#"{"error":"expired"}"#.to_owned(),
        }
    );
    assert_eq!(
        send(&app, "GET", "/notes", Some("Bearer a b")).await,
        Outcome {
            status: StatusCode::BAD_REQUEST,
            www_authenticate: Some(INVALID_REQUEST.to_owned()),
            body: r#"{"error":"malformed_authorization"}"#.to_owned(),
        }
    );
    // A valid token still gets through.
    assert_eq!(
        get_with(&app, "/notes", &read_token(&issuer).sign()).await,
        notes()
    );
}

#[tokio::test]
async fn custom_rejection_that_ignores_rfc6750_still_never_reaches_the_handler() {
    let issuer = start().await;
    let custom = layer(&issuer).on_rejection(|_: &Error| {
        let mut response = Response::new(Body::from("go away"));
        *response.status_mut() = StatusCode::IM_A_TEAPOT;
        response
    });
    let app: Router = Router::new()
        .route("/notes", get(|| async { "notes" }))
        .layer(custom);
    let forged = read_token(&issuer).audience("api://other").sign();
    assert_eq!(
        get_with(&app, "/notes", &forged).await,
        Outcome {
            status: StatusCode::IM_A_TEAPOT,
            www_authenticate: None,
            body: "go away".to_owned(),
        }
    );
}
