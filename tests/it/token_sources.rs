//! Issue 17.3 and 17.4: tokens from the `access_token` query parameter
//! (RFC 6750 §2.3) and a cookie, on the routes that opt in; one method per
//! request (RFC 6750 §2); and `error_description` when configured.

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use bearer_guard::testing::{DpopKey, KeyKind};
use bearer_guard::{Authenticated, Dpop};
use http::{Request, StatusCode, header};
use tower::ServiceExt;

use crate::support::{builder, start};

/// `/events` takes the token from the query too, `/feed` from the cookie
/// `at` too, `/notes` only from the header; each handler answers with the
/// URI it was handed and the token's subject.
fn app(layer: bearer_guard::BearerAuthLayer) -> Router {
    async fn echo(request: Request<Body>) -> String {
        let sub = request
            .extensions()
            .get::<Authenticated>()
            .and_then(|t| t.registered().sub.clone())
            .unwrap_or_default();
        format!("{} {sub}", request.uri())
    }
    Router::new()
        .route(
            "/events",
            get(echo).route_layer(layer.clone().token_from_query()),
        )
        .route(
            "/feed",
            get(echo).route_layer(layer.clone().token_from_cookie("at")),
        )
        .route("/notes", get(echo).route_layer(layer))
}

struct Answer {
    status: StatusCode,
    challenge: Option<String>,
    cache_control: Option<String>,
    body: String,
}

async fn send(app: &Router, uri: &str, headers: &[(header::HeaderName, String)]) -> Answer {
    let mut request = Request::builder().uri(uri);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    let text = |name| {
        response
            .headers()
            .get(name)
            .map(|v: &http::HeaderValue| v.to_str().expect("ascii").to_owned())
    };
    let (status, challenge, cache_control) = (
        response.status(),
        text(header::WWW_AUTHENTICATE),
        text(header::CACHE_CONTROL),
    );
    let body = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .expect("body");
    Answer {
        status,
        challenge,
        cache_control,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

const INVALID_REQUEST: &str = "Bearer error=\"invalid_request\"";

#[tokio::test]
async fn the_query_parameter_works_only_where_allowed_and_is_handed_on_stripped() {
    let issuer = start().await;
    let app = app(builder(&issuer).build().expect("configuration"));
    let token = issuer.token().claim("sub", "alice").sign();

    let ok = send(
        &app,
        &format!("/events?room=1&access_token={token}&x=y"),
        &[],
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(
        ok.body, "/events?room=1&x=y alice",
        "the token never reaches the handler"
    );
    assert_eq!(ok.cache_control.as_deref(), Some("private"));

    // The header still works there, and the response is not marked.
    let header_only = send(
        &app,
        "/events",
        &[(header::AUTHORIZATION, format!("Bearer {token}"))],
    )
    .await;
    assert_eq!(
        (header_only.status, header_only.cache_control),
        (StatusCode::OK, None)
    );

    // Two methods, or the parameter twice: a malformed request.
    for (uri, headers) in [
        (
            format!("/events?access_token={token}"),
            vec![(header::AUTHORIZATION, format!("Bearer {token}"))],
        ),
        (
            format!("/events?access_token={token}&access_token={token}"),
            vec![],
        ),
    ] {
        let answer = send(&app, &uri, &headers).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(answer.challenge.as_deref(), Some(INVALID_REQUEST));
    }

    // A bad token by the query is a bad token; a value that is not a
    // b64token a malformed request.
    let expired = issuer.token().expires_in(-3_600).sign();
    let bad = send(&app, &format!("/events?access_token={expired}"), &[]).await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        bad.challenge.as_deref(),
        Some("Bearer error=\"invalid_token\"")
    );
    let spaced = send(&app, "/events?access_token=a+b", &[]).await;
    assert_eq!(spaced.status, StatusCode::BAD_REQUEST);
    assert_eq!(spaced.challenge.as_deref(), Some(INVALID_REQUEST));

    // A route that did not opt in never reads the query: no token there.
    let elsewhere = send(&app, &format!("/notes?access_token={token}"), &[]).await;
    assert_eq!(elsewhere.status, StatusCode::UNAUTHORIZED);
    assert_eq!(elsewhere.challenge.as_deref(), Some("Bearer"));
}

#[tokio::test]
async fn the_cookie_works_only_where_allowed_and_alone() {
    let issuer = start().await;
    let app = app(builder(&issuer).build().expect("configuration"));
    let token = issuer.token().claim("sub", "bob").sign();
    let cookie = (header::COOKIE, format!("theme=dark; at={token}"));

    let ok = send(&app, "/feed", std::slice::from_ref(&cookie)).await;
    assert_eq!((ok.status, ok.body.as_str()), (StatusCode::OK, "/feed bob"));
    assert_eq!(ok.cache_control, None);

    let both = send(
        &app,
        "/feed",
        &[
            cookie.clone(),
            (header::AUTHORIZATION, format!("Bearer {token}")),
        ],
    )
    .await;
    assert_eq!(both.status, StatusCode::BAD_REQUEST);
    assert_eq!(both.challenge.as_deref(), Some(INVALID_REQUEST));

    let elsewhere = send(&app, "/notes", &[cookie]).await;
    assert_eq!(elsewhere.status, StatusCode::UNAUTHORIZED);
    assert_eq!(elsewhere.challenge.as_deref(), Some("Bearer"));
}

/// A DPoP-bound token loses nothing by the query: it needs its proof, which
/// the query cannot carry, so it is refused as a bound token sent as bearer.
#[tokio::test]
async fn a_dpop_bound_token_in_the_query_is_refused() {
    let issuer = start().await;
    let layer = builder(&issuer)
        .dpop(Dpop::new("https://api.example.test"))
        .build()
        .expect("configuration");
    let app = app(layer);
    let key = DpopKey::new(KeyKind::Es256, 0);
    let bound = issuer.token().claim("cnf", key.cnf()).sign();
    let answer = send(&app, &format!("/events?access_token={bound}"), &[]).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        answer.challenge.as_deref(),
        Some("Bearer error=\"invalid_token\"")
    );
    // The same answer as the token sent as `Authorization: Bearer`.
    let header = send(
        &app,
        "/events",
        &[(header::AUTHORIZATION, format!("Bearer {bound}"))],
    )
    .await;
    assert_eq!(
        (header.status, header.challenge),
        (answer.status, answer.challenge)
    );
}

#[tokio::test]
async fn error_descriptions_say_why_when_configured_and_only_then() {
    let issuer = start().await;
    let expired = issuer.token().expires_in(-3_600).sign();
    let stranger = issuer.token().audience("api://someone-else").sign();
    let described = app(builder(&issuer)
        .error_descriptions(true)
        .build()
        .expect("configuration"));
    let plain = app(builder(&issuer).build().expect("configuration"));
    for (token, description) in [
        (&expired, "token expired"),
        (&stranger, "audience not accepted"),
    ] {
        let bearer = [(header::AUTHORIZATION, format!("Bearer {token}"))];
        let answer = send(&described, "/notes", &bearer).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            answer.challenge,
            Some(format!(
                "Bearer error=\"invalid_token\", error_description=\"{description}\""
            ))
        );
        let answer = send(&plain, "/notes", &bearer).await;
        assert_eq!(
            answer.challenge.as_deref(),
            Some("Bearer error=\"invalid_token\"")
        );
    }
    // No token: no error code, so no description (RFC 6750 §3.1).
    assert_eq!(
        send(&described, "/notes", &[]).await.challenge.as_deref(),
        Some("Bearer")
    );
    let both = send(
        &described,
        &format!("/events?access_token={expired}"),
        &[(header::AUTHORIZATION, format!("Bearer {expired}"))],
    )
    .await;
    assert_eq!(
        both.challenge.as_deref(),
        Some(
            "Bearer error=\"invalid_request\", \
             error_description=\"token sent by more than one method\""
        )
    );
}
