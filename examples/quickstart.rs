//! Quickstart: a local test issuer and a protected notes API in one process,
//! then one real HTTP request per outcome, each printed with its status and
//! `WWW-Authenticate` challenge.
//!
//! ```text
//! cargo run --example quickstart
//! RUST_LOG=bearer_guard=debug cargo run --example quickstart   # more detail
//! ```
//!
//! Every outcome is checked: the example exits with status 1 if any response
//! differs from what is expected, so it doubles as a smoke test.

use std::io::IsTerminal;

use axum::Router;
use axum::routing::{get, post};
use bearer_guard::testing::TestIssuer;
use bearer_guard::{BearerAuthLayer, Claims, Requirement, require};
use reqwest::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use serde::Deserialize;
use tracing_subscriber::EnvFilter;

/// The claims our handlers read, beyond the registered ones.
#[derive(Deserialize)]
struct NoteClaims {
    sub: String,
}

/// The protected API: reading notes needs the delegated scope `notes.read` or
/// the app role `Notes.Read.All`; writing needs `notes.write` or `Notes.ReadWrite.All`.
fn notes_api(auth: BearerAuthLayer) -> Router {
    let read = Requirement::scope("notes.read").or(Requirement::role("Notes.Read.All"));
    let write = Requirement::scope("notes.write").or(Requirement::role("Notes.ReadWrite.All"));
    Router::new()
        .route("/notes", get(list_notes).route_layer(require(read)))
        .route("/notes", post(add_note).route_layer(require(write)))
        // route_layer: only matched routes are guarded, so unknown paths stay 404.
        .route_layer(auth)
}

async fn list_notes(claims: Claims<NoteClaims>) -> String {
    format!("notes for {}", claims.sub)
}

async fn add_note(claims: Claims<NoteClaims>) -> String {
    format!("note added by {}", claims.sub)
}

/// One request and the response it must get.
struct Case {
    method: &'static str,
    path: &'static str,
    what: &'static str,
    token: Option<String>,
    status: u16,
    challenge: Option<&'static str>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The layer logs the precise reason for every rejection (never the token).
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("bearer_guard=info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    // 1. A local OpenID issuer on 127.0.0.1: discovery, a JWKS, and token minting.
    let issuer = TestIssuer::start().await?;

    // 2. The API, trusting that issuer for our audience.
    let auth = BearerAuthLayer::builder()
        .issuer(issuer.issuer())
        .audience(TestIssuer::AUDIENCE)
        .build()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, notes_api(auth)).await });
    println!("issuer {}, notes API {base}\n", issuer.issuer());

    // 3. One request per outcome.
    let cases = [
        Case {
            method: "GET",
            path: "/notes",
            what: "no token",
            token: None,
            status: 401,
            challenge: Some("Bearer"),
        },
        Case {
            method: "GET",
            path: "/notes",
            what: "user token, scp notes.read",
            token: Some(
                issuer
                    .token()
                    .claim("sub", "alice")
                    .scope("notes.read")
                    .sign(),
            ),
            status: 200,
            challenge: None,
        },
        Case {
            method: "GET",
            path: "/notes",
            what: "app token, roles [Notes.Read.All]",
            token: Some(
                issuer
                    .token()
                    .claim("sub", "sync-app")
                    .roles(&["Notes.Read.All"])
                    .sign(),
            ),
            status: 200,
            challenge: None,
        },
        Case {
            method: "GET",
            path: "/notes",
            what: "user token, scp profile only",
            token: Some(issuer.token().scope("profile").sign()),
            status: 403,
            challenge: Some(r#"Bearer error="insufficient_scope", scope="notes.read""#),
        },
        Case {
            method: "POST",
            path: "/notes",
            what: "user token, scp notes.read only",
            token: Some(issuer.token().scope("notes.read").sign()),
            status: 403,
            challenge: Some(r#"Bearer error="insufficient_scope", scope="notes.write""#),
        },
        Case {
            method: "GET",
            path: "/notes",
            what: "expired token",
            token: Some(issuer.token().scope("notes.read").expires_in(-3600).sign()),
            status: 401,
            challenge: Some(r#"Bearer error="invalid_token""#),
        },
        Case {
            method: "GET",
            path: "/notes",
            what: "token for another audience",
            token: Some(
                issuer
                    .token()
                    .scope("notes.read")
                    .audience("api://other")
                    .sign(),
            ),
            status: 401,
            challenge: Some(r#"Bearer error="invalid_token""#),
        },
    ];

    let client = reqwest::Client::new();
    let mut failures = Vec::new();
    for case in &cases {
        let mut request = client.request(case.method.parse()?, format!("{base}{}", case.path));
        if let Some(token) = &case.token {
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
            "{:<4} {:<6} {:<34} -> {status}  WWW-Authenticate: {}{}",
            case.method,
            case.path,
            case.what,
            challenge.as_deref().unwrap_or("-"),
            if body.is_empty() {
                String::new()
            } else {
                format!("  body: {body:?}")
            },
        );
        if status != case.status || challenge.as_deref() != case.challenge {
            failures.push(format!(
                "{} {} ({}): expected {} {:?}, got {status} {challenge:?}",
                case.method, case.path, case.what, case.status, case.challenge
            ));
        }
    }

    if !failures.is_empty() {
        eprintln!("\nunexpected responses:");
        for failure in &failures {
            eprintln!("  {failure}");
        }
        std::process::exit(1);
    }
    println!("\nall {} outcomes as expected", cases.len());
    Ok(())
}
