//! The same layer around a plain hyper service, without axum: a
//! `tower::ServiceBuilder` stacks `BearerAuthLayer` and a `require` guard around
//! a `service_fn`, served with hyper 1 on 127.0.0.1, trusting a local test issuer.
//!
//! ```text
//! cargo run --example hyper_service
//! ```
//!
//! It makes three requests (valid token, no token, token without the scope),
//! prints each status and challenge, and exits with status 1 if any differs
//! from what is expected.

use std::convert::Infallible;
use std::io::IsTerminal;

use bearer_guard::testing::TestIssuer;
use bearer_guard::{Authenticated, BearerAuthLayer, Requirement, require};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use reqwest::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use tower::ServiceBuilder;
use tracing_subscriber::EnvFilter;

/// The inner service: it only runs for requests the layers let through, and
/// finds the validated token in the request extensions.
async fn hello(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let sub = request
        .extensions()
        .get::<Authenticated>()
        .and_then(|token| token.registered().sub.clone())
        .unwrap_or_default();
    Ok(Response::new(Full::new(Bytes::from(format!(
        "hello {sub}"
    )))))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("bearer_guard=info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    let issuer = TestIssuer::start().await?;
    let auth = BearerAuthLayer::builder()
        .issuer(issuer.issuer())
        .audience(TestIssuer::AUDIENCE)
        .build()?;

    // Outermost first: authenticate, then check the scope, then call `hello`.
    let service = ServiceBuilder::new()
        .layer(auth)
        .layer(require(Requirement::scope("notes.read")))
        .service(tower::service_fn(hello));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                if let Err(error) = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                {
                    tracing::warn!(%error, "connection failed");
                }
            });
        }
    });

    let cases = [
        (
            "token with scp notes.read",
            Some(
                issuer
                    .token()
                    .claim("sub", "alice")
                    .scope("notes.read")
                    .sign(),
            ),
            200,
            None,
        ),
        ("no token", None, 401, Some("Bearer")),
        (
            "token with scp profile only",
            Some(issuer.token().scope("profile").sign()),
            403,
            Some(r#"Bearer error="insufficient_scope", scope="notes.read""#),
        ),
    ];
    let client = reqwest::Client::new();
    let mut failed = false;
    for (what, token, want_status, want_challenge) in cases {
        let mut request = client.get(format!("{base}/"));
        if let Some(token) = token {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let challenge = match response.headers().get(WWW_AUTHENTICATE) {
            Some(value) => Some(value.to_str()?.to_owned()),
            None => None,
        };
        let body = response.text().await?;
        println!(
            "GET / {what:<28} -> {status}  WWW-Authenticate: {}  body: {body:?}",
            challenge.as_deref().unwrap_or("-")
        );
        if status != want_status || challenge.as_deref() != want_challenge {
            eprintln!("  expected {want_status} {want_challenge:?}, got {status} {challenge:?}");
            failed = true;
        }
    }
    if failed {
        std::process::exit(1);
    }
    println!("all outcomes as expected");
    Ok(())
}
