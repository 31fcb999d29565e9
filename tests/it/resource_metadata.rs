//! Protected-resource metadata (RFC 9728): the document the layer serves,
//! where it serves it (§3.1), and the `resource_metadata` parameter every
//! challenge of the layer and its guards then carries (§5.1), asserted byte
//! for byte; and nothing of it without a resource identifier.

use axum::Router;
use bearer_guard::testing::TestIssuer;
use bearer_guard::{BearerAuthLayer, Requirement};
use http::StatusCode;

use crate::support::{
    INVALID_TOKEN, Outcome, app, builder, get_with, ok, send, send_request, start,
};

/// The notes app of `support`, with its layer given the resource
/// identifier `resource`, and the metadata router merged outside the layer.
fn app_with(issuer: &TestIssuer, resource: &str) -> (Router, BearerAuthLayer) {
    let read = Requirement::scope("notes.read").or(Requirement::role("Notes.Read.All"));
    let layer = builder(issuer)
        .resource(resource)
        .resource_scopes_of(&read)
        .resource_scopes(["notes.write"])
        .resource_name("Notes")
        .build()
        .expect("valid configuration");
    let router = app(layer.clone()).merge(layer.resource_metadata_router());
    (router, layer)
}

fn challenged(status: StatusCode, challenge: &str) -> Outcome {
    Outcome {
        status,
        www_authenticate: Some(challenge.to_owned()),
        body: String::new(),
    }
}

#[tokio::test]
async fn every_challenge_names_where_the_metadata_is() {
    let issuer = start().await;
    let (app, _) = app_with(&issuer, "http://127.0.0.1:9/notes-api");
    let at =
        r#"resource_metadata="http://127.0.0.1:9/.well-known/oauth-protected-resource/notes-api""#;
    let reader = issuer.token().scope("notes.read").sign();
    for round in 0..2 {
        // The second round answers the reader's token from the cache.
        assert_eq!(
            send(&app, "GET", "/notes", None).await,
            challenged(StatusCode::UNAUTHORIZED, &format!("Bearer {at}")),
            "no token, round {round}"
        );
        assert_eq!(
            send(&app, "GET", "/notes", Some("Bearer a b")).await,
            challenged(
                StatusCode::BAD_REQUEST,
                &format!("Bearer error=\"invalid_request\", {at}")
            ),
            "malformed, round {round}"
        );
        assert_eq!(
            get_with(&app, "/notes", "not.a.token").await,
            challenged(StatusCode::UNAUTHORIZED, &format!("{INVALID_TOKEN}, {at}")),
            "bad token, round {round}"
        );
        assert_eq!(get_with(&app, "/notes", &reader).await, ok("notes"));
        assert_eq!(
            send(&app, "POST", "/notes", Some(&format!("Bearer {reader}"))).await,
            challenged(
                StatusCode::FORBIDDEN,
                &format!("Bearer error=\"insufficient_scope\", scope=\"notes.write\", {at}")
            ),
            "lacking permission, round {round}"
        );
    }
    // An optional route lets a request without a token through; a guard
    // behind it still names the metadata.
    let layer = builder(&issuer)
        .resource("http://127.0.0.1:9/notes-api")
        .build()
        .expect("valid configuration")
        .optional();
    let guarded: Router = Router::new()
        .route(
            "/notes",
            axum::routing::get(|| async { "notes" })
                .route_layer(bearer_guard::require(Requirement::scope("notes.read"))),
        )
        .route_layer(layer);
    assert_eq!(
        send(&guarded, "GET", "/notes", None).await,
        challenged(StatusCode::UNAUTHORIZED, &format!("Bearer {at}"))
    );
}

#[tokio::test]
async fn the_document_is_served_where_rfc_9728_puts_it_without_a_token() {
    let issuer = start().await;
    for (resource, path) in [
        (
            "http://127.0.0.1:9",
            "/.well-known/oauth-protected-resource",
        ),
        (
            "http://127.0.0.1:9/notes-api",
            "/.well-known/oauth-protected-resource/notes-api",
        ),
    ] {
        let (app, layer) = app_with(&issuer, resource);
        let request = http::Request::get(path)
            .body(axum::body::Body::empty())
            .expect("request");
        let response = tower::ServiceExt::oneshot(app.clone(), request)
            .await
            .expect("infallible");
        assert_eq!(response.status(), StatusCode::OK, "{resource}");
        assert_eq!(
            response.headers().get(http::header::CONTENT_TYPE),
            Some(&http::HeaderValue::from_static("application/json"))
        );
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .expect("body");
        let document: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(
            document,
            serde_json::json!({
                "resource": resource,
                "authorization_servers": [issuer.issuer()],
                "scopes_supported": ["notes.read", "notes.write"],
                "bearer_methods_supported": ["header"],
                "resource_name": "Notes",
            }),
            "{resource}"
        );
        let metadata = layer.validator().resource_metadata().expect("configured");
        assert_eq!(metadata.document().as_bytes(), &body[..]);
        assert_eq!(metadata.path(), path);
        // With a bearer token or without, the document is public.
        assert_eq!(
            get_with(&app, path, "not.a.token").await.status,
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn without_a_resource_identifier_there_is_no_document_and_no_parameter() {
    let issuer = start().await;
    let layer = builder(&issuer).build().expect("valid configuration");
    assert!(layer.validator().resource_metadata().is_none());
    let app = app(layer.clone()).merge(layer.resource_metadata_router());
    assert_eq!(
        send(&app, "GET", "/notes", None).await,
        challenged(StatusCode::UNAUTHORIZED, "Bearer")
    );
    let request = http::Request::get("/.well-known/oauth-protected-resource")
        .body(axum::body::Body::empty())
        .expect("request");
    assert_eq!(
        send_request(&app, request).await.status,
        StatusCode::NOT_FOUND
    );
}

/// The parameter goes into the `Bearer` challenge of a handler's own
/// rejection too, and a response without a challenge (503) is left alone.
#[tokio::test]
async fn a_custom_rejection_keeps_its_challenge_and_gains_the_parameter() {
    let issuer = start().await;
    let layer = builder(&issuer)
        .resource("http://127.0.0.1:9")
        .build()
        .expect("valid configuration")
        .on_rejection(|error: &bearer_guard::Error| {
            let (status, headers) = bearer_guard::rejection_parts(error);
            let mut response = http::Response::new(axum::body::Body::from("refused"));
            *response.status_mut() = status;
            response.headers_mut().extend(headers);
            response
        });
    let app: Router = Router::new()
        .route("/x", axum::routing::get(|| async { "x" }))
        .route_layer(layer);
    let outcome = send(&app, "GET", "/x", None).await;
    assert_eq!(
        outcome,
        Outcome {
            status: StatusCode::UNAUTHORIZED,
            www_authenticate: Some(
                "Bearer resource_metadata=\"http://127.0.0.1:9/.well-known/oauth-protected-resource\""
                    .into()
            ),
            body: "refused".into(),
        }
    );
}

/// The extractors' rejections carry the parameter too: `Claims<T>` refusing a
/// token whose claims do not fit `T` (behind a required layer), and
/// `Authenticated` and `Claims<T>` on an optional route without a token.
#[tokio::test]
async fn extractor_rejections_name_where_the_metadata_is() {
    #[derive(serde::Deserialize)]
    struct NeedsTenant {
        #[allow(dead_code)]
        tid: String,
    }
    let issuer = start().await;
    let at = r#"resource_metadata="http://127.0.0.1:9/.well-known/oauth-protected-resource""#;
    let routes = || {
        Router::new()
            .route(
                "/tenant",
                axum::routing::get(|_: bearer_guard::Claims<NeedsTenant>| async { "tenant" }),
            )
            .route(
                "/who",
                axum::routing::get(|_: bearer_guard::Authenticated| async { "who" }),
            )
    };
    let layer = builder(&issuer)
        .resource("http://127.0.0.1:9")
        .build()
        .expect("valid configuration");
    let required = routes().route_layer(layer.clone());
    let optional = routes().route_layer(layer.optional());
    let without_tid = issuer.token().scope("notes.read").sign();
    let with_tid = issuer.token().scope("notes.read").claim("tid", "t1").sign();
    for app in [&required, &optional] {
        assert_eq!(
            get_with(app, "/tenant", &without_tid).await,
            challenged(StatusCode::UNAUTHORIZED, &format!("{INVALID_TOKEN}, {at}"))
        );
        assert_eq!(get_with(app, "/tenant", &with_tid).await, ok("tenant"));
        assert_eq!(get_with(app, "/who", &without_tid).await, ok("who"));
    }
    for path in ["/tenant", "/who"] {
        assert_eq!(
            send(&optional, "GET", path, None).await,
            challenged(StatusCode::UNAUTHORIZED, &format!("Bearer {at}")),
            "{path} without a token"
        );
    }
    // Without a resource identifier the same rejections have no parameter.
    let plain = routes().route_layer(builder(&issuer).build().expect("valid").optional());
    assert_eq!(
        get_with(&plain, "/tenant", &without_tid).await,
        challenged(StatusCode::UNAUTHORIZED, INVALID_TOKEN)
    );
    assert_eq!(
        send(&plain, "GET", "/who", None).await,
        challenged(StatusCode::UNAUTHORIZED, "Bearer")
    );
}
