//! The same `BearerAuthLayer` and `require` guard protect a plain tower service
//! without axum's `Router`: stacked with `tower::ServiceBuilder` around a
//! `service_fn` that reads `Authenticated` from the request extensions, called
//! in process with `ServiceExt::oneshot` and served over a real socket by hyper
//! (`hyper_util::service::TowerToHyperService`).
//!
//! Proves: a valid token with the scope reaches the handler (200) with its
//! claims; no token gives 401 with a bare `Bearer` challenge; a bad token 401
//! `invalid_token`; a valid token without the scope 403 `insufficient_scope`
//! naming the scope; and the same over HTTP/1.1 on 127.0.0.1; and the RFC
//! 9728 metadata document served by `resource_metadata_layer` outside the
//! layer, its challenges naming it.

use std::convert::Infallible;

use crate::support::{INVALID_TOKEN, layer, start};
use bearer_guard::{Authenticated, BearerAuthLayer, Requirement, require};
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tower::{Service, ServiceBuilder, ServiceExt, service_fn};

const INSUFFICIENT_SCOPE: &str = "Bearer error=\"insufficient_scope\", scope=\"notes.read\"";

/// The handler: greets the subject the layer vouched for.
async fn hello<B>(request: Request<B>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = match request.extensions().get::<Authenticated>() {
        Some(token) => format!(
            "hello {} ({})",
            token.registered().sub.clone().unwrap_or_default(),
            token.scopes().iter().collect::<Vec<_>>().join(" ")
        ),
        // Unreachable behind the layer and the guard; visible if it were not.
        None => "no Authenticated in extensions".to_owned(),
    };
    Ok(Response::new(Full::new(Bytes::from(body))))
}

/// The handler behind the auth layer and a `notes.read` guard; no axum.
fn protected<B: Send + 'static>(
    layer: BearerAuthLayer,
) -> impl Service<Request<B>, Response = Response<Full<Bytes>>, Error = Infallible, Future: Send>
+ Clone
+ Send
+ 'static {
    ServiceBuilder::new()
        .layer(layer)
        .layer(require(Requirement::scope("notes.read")))
        .service(service_fn(hello::<B>))
}

/// Status, `WWW-Authenticate` and body of a response.
async fn parts(response: Response<Full<Bytes>>) -> (StatusCode, Option<String>, String) {
    let status = response.status();
    let www = response
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().expect("ascii").to_owned());
    let body = response
        .into_body()
        .collect()
        .await
        .expect("infallible")
        .to_bytes();
    (status, www, String::from_utf8_lossy(&body).into_owned())
}

async fn call(
    layer: &BearerAuthLayer,
    authorization: Option<String>,
) -> (StatusCode, Option<String>, String) {
    let mut request = Request::get("/notes");
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    let request = request.body(Full::<Bytes>::default()).expect("request");
    let response = protected(layer.clone())
        .oneshot(request)
        .await
        .expect("infallible");
    parts(response).await
}

#[tokio::test]
async fn layer_and_guard_protect_a_plain_tower_service() {
    let issuer = start().await;
    let layer = layer(&issuer);

    let reader = issuer.token().scope("notes.read notes.write").sign();
    assert_eq!(
        call(&layer, Some(format!("Bearer {reader}"))).await,
        (
            StatusCode::OK,
            None,
            "hello test-user (notes.read notes.write)".to_owned()
        )
    );

    assert_eq!(
        call(&layer, None).await,
        (
            StatusCode::UNAUTHORIZED,
            Some("Bearer".to_owned()),
            String::new()
        )
    );

    let expired = issuer.token().scope("notes.read").expires_in(-3600).sign();
    assert_eq!(
        call(&layer, Some(format!("Bearer {expired}"))).await,
        (
            StatusCode::UNAUTHORIZED,
            Some(INVALID_TOKEN.to_owned()),
            String::new()
        )
    );

    let writer = issuer.token().scope("notes.write").sign();
    assert_eq!(
        call(&layer, Some(format!("Bearer {writer}"))).await,
        (
            StatusCode::FORBIDDEN,
            Some(INSUFFICIENT_SCOPE.to_owned()),
            String::new()
        )
    );

    // One key-set fetch served all of it, through the layer's shared cache.
    assert_eq!(
        (issuer.discovery_requests(), issuer.jwks_requests()),
        (1, 1)
    );
}

#[tokio::test]
async fn guard_alone_in_optional_mode_gives_bare_401_without_a_token() {
    let issuer = start().await;
    // Optional mode lets a request without a token through the auth layer; the
    // guard then finds no Authenticated and answers 401 with a bare challenge.
    let service = ServiceBuilder::new()
        .layer(layer(&issuer).optional())
        .layer(require(Requirement::scope("notes.read")))
        .service(service_fn(hello::<Full<Bytes>>));
    let request = Request::get("/notes")
        .body(Full::<Bytes>::default())
        .expect("request");
    let response = service.oneshot(request).await.expect("infallible");
    assert_eq!(
        parts(response).await,
        (
            StatusCode::UNAUTHORIZED,
            Some("Bearer".to_owned()),
            String::new()
        )
    );
    // No token, no key lookup.
    assert_eq!(
        (issuer.discovery_requests(), issuer.jwks_requests()),
        (0, 0)
    );
}

#[tokio::test]
async fn layer_serves_over_hyper_http1_on_a_socket() {
    let issuer = start().await;
    let service = protected::<Incoming>(layer(&issuer));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });

    let client = reqwest::Client::new();
    let url = format!("http://{addr}/notes");
    let www = |r: &reqwest::Response| {
        r.headers()
            .get(header::WWW_AUTHENTICATE)
            .map(|v| v.to_str().expect("ascii").to_owned())
    };

    let token = issuer.token().scope("notes.read").sign();
    let response = client
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(www(&response), None);
    assert_eq!(
        response.text().await.expect("body"),
        "hello test-user (notes.read)"
    );

    let response = client.get(&url).send().await.expect("send");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(www(&response).as_deref(), Some("Bearer"));
    assert_eq!(response.text().await.expect("body"), "");

    let token = issuer.token().scope("notes.write").sign();
    let response = client
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(www(&response).as_deref(), Some(INSUFFICIENT_SCOPE));
    assert_eq!(response.text().await.expect("body"), "");

    assert_eq!(issuer.jwks_requests(), 1);
}

/// `resource_metadata_layer` answers the document's path without a token and
/// passes every other request to the layer, whose challenges name the
/// document.
#[tokio::test]
async fn the_metadata_layer_serves_the_document_to_a_plain_tower_stack() {
    let issuer = start().await;
    let auth = crate::support::builder(&issuer)
        .resource("http://127.0.0.1:9/notes")
        .resource_scopes(["notes.read"])
        .build()
        .expect("valid configuration");
    let service = ServiceBuilder::new()
        .layer(auth.resource_metadata_layer())
        .service(protected::<String>(auth.clone()));
    let path = "/.well-known/oauth-protected-resource/notes";
    let metadata = auth.validator().resource_metadata().expect("configured");
    let get = |uri: &str| Request::get(uri).body(String::new()).expect("request");
    let response = service
        .clone()
        .oneshot(get(path))
        .await
        .expect("infallible");
    assert_eq!(
        response
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.as_bytes()),
        Some(&b"application/json"[..])
    );
    assert_eq!(
        parts(response).await,
        (StatusCode::OK, None, metadata.document().to_owned())
    );
    let post = Request::post(path).body(String::new()).expect("request");
    let at = "resource_metadata=\"http://127.0.0.1:9/.well-known/oauth-protected-resource/notes\"";
    for request in [get("/hello"), post] {
        let response = service.clone().oneshot(request).await.expect("infallible");
        assert_eq!(
            parts(response).await,
            (
                StatusCode::UNAUTHORIZED,
                Some(format!("Bearer {at}")),
                String::new()
            )
        );
    }
}
