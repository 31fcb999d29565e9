//! gRPC with tonic, over a real HTTP/2 connection on 127.0.0.1: the server
//! of `examples/grpc_server.rs` (the layer with `GrpcRejection`, a
//! `require` guard on each method's path, typed claims read in the methods),
//! called by a real tonic client.
//!
//! Proves, each with the exact code, message and `www-authenticate`
//! metadata: no token is `UNAUTHENTICATED` with a bare `Bearer`; a token
//! with a broken signature, or expired on the layer's [`ManualClock`], is
//! `UNAUTHENTICATED` `invalid_token`; a token lacking the method's scope is
//! `PERMISSION_DENIED` `insufficient_scope` naming the scope; a malformed
//! `Authorization` is `INVALID_ARGUMENT` `invalid_request`; a good token
//! reaches the method, whose reply carries the subject, scopes and typed
//! claims it read; claims that do not fit the method's type are refused from
//! inside the method with the layer's own challenge; key sets that cannot be
//! had are `UNAVAILABLE` with `retry-after`; with a resource identifier,
//! every challenge (layer, guard, method) names the RFC 9728 metadata; and
//! on the wire, a rejection is a Trailers-Only response (HTTP 200,
//! `application/grpc`, no body, no trailers).

use std::time::Duration;

use bearer_guard::testing::TestIssuer;
use bearer_guard::{BearerAuthLayer, ManualClock};
use http_body_util::BodyExt;
use tonic::Code;

use crate::support::{builder, serve, start};

#[path = "../../examples/grpc_server.rs"]
#[allow(dead_code)] // `main` and what only it uses.
mod example;

use example::proto::{DeleteReply, DeleteRequest, ListReply, ListRequest};
use example::{NotesClient, with_authorization};

const RESOURCE: &str = "http://127.0.0.1:9/notes-api";
const RESOURCE_METADATA: &str =
    r#"resource_metadata="http://127.0.0.1:9/.well-known/oauth-protected-resource/notes-api""#;

/// A running server and a client connected to it.
struct Setup {
    issuer: TestIssuer,
    clock: ManualClock,
    client: NotesClient,
    url: String,
}

impl Setup {
    /// The example's server behind a layer trusting a fresh test issuer,
    /// both on one [`ManualClock`].
    async fn new() -> Setup {
        Setup::with(|builder| builder).await
    }

    /// As [`new`](Self::new), the layer's builder changed by `configure`.
    async fn with(configure: impl FnOnce(bearer_guard::Builder) -> bearer_guard::Builder) -> Setup {
        let issuer = start().await;
        let clock = ManualClock::new();
        issuer.use_clock(clock.clone());
        let layer = configure(builder(&issuer).clock(clock.clone()))
            .build()
            .expect("valid configuration");
        let (client, url) = start_server(layer).await;
        Setup {
            issuer,
            clock,
            client,
            url,
        }
    }

    async fn list(&mut self, authorization: Option<&str>) -> Result<ListReply, Failure> {
        let request = with_authorization(ListRequest {}, authorization).expect("ASCII");
        self.client
            .list(request)
            .await
            .map(tonic::Response::into_inner)
            .map_err(Failure::from)
    }

    async fn delete(&mut self, authorization: Option<&str>) -> Result<DeleteReply, Failure> {
        let request =
            with_authorization(DeleteRequest { id: "n1".into() }, authorization).expect("ASCII");
        self.client
            .delete(request)
            .await
            .map(tonic::Response::into_inner)
            .map_err(Failure::from)
    }
}

/// Serves the example's routes behind `layer` on a free loopback port;
/// returns a connected client and the server's URL.
async fn start_server(layer: BearerAuthLayer) -> (NotesClient, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { example::serve(layer, listener).await.expect("serve") });
    let client = NotesClient::connect(url.clone()).await.expect("connect");
    (client, url)
}

/// What a test asserts about a failed call: the code, the message, and
/// every `www-authenticate` and `retry-after` value in its metadata.
#[derive(Debug, PartialEq, Eq)]
struct Failure {
    code: Code,
    message: String,
    www_authenticate: Vec<String>,
    retry_after: Option<String>,
}

impl From<tonic::Status> for Failure {
    fn from(status: tonic::Status) -> Failure {
        let text = |v: &tonic::metadata::MetadataValue<_>| v.to_str().expect("ASCII").to_owned();
        Failure {
            code: status.code(),
            message: status.message().to_owned(),
            www_authenticate: status
                .metadata()
                .get_all("www-authenticate")
                .iter()
                .map(text)
                .collect(),
            retry_after: status.metadata().get("retry-after").map(text),
        }
    }
}

fn failure(code: Code, message: &str, challenge: &str) -> Failure {
    Failure {
        code,
        message: message.to_owned(),
        www_authenticate: vec![challenge.to_owned()],
        retry_after: None,
    }
}

fn bearer(token: &str) -> Option<String> {
    Some(format!("Bearer {token}"))
}

#[tokio::test]
async fn no_token_is_unauthenticated_with_a_bare_challenge() {
    let mut s = Setup::new().await;
    assert_eq!(
        s.list(None).await,
        Err(failure(
            Code::Unauthenticated,
            "authentication required",
            "Bearer"
        ))
    );
    // Another scheme is no bearer token either.
    assert_eq!(
        s.delete(Some("Basic dXNlcjpwYXNz")).await,
        Err(failure(
            Code::Unauthenticated,
            "authentication required",
            "Bearer"
        ))
    );
}

#[tokio::test]
async fn a_bad_token_is_unauthenticated_invalid_token() {
    let mut s = Setup::new().await;
    let invalid = || {
        Err(failure(
            Code::Unauthenticated,
            "invalid token",
            "Bearer error=\"invalid_token\"",
        ))
    };
    // The signature of another token: well-formed, signed, and wrong.
    let token = s.issuer.token().scope("notes.read").sign();
    let other = s.issuer.token().scope("notes.write").sign();
    let (head, _) = token.rsplit_once('.').expect("compact JWS");
    let (_, signature) = other.rsplit_once('.').expect("compact JWS");
    let forged = format!("{head}.{signature}");
    assert_eq!(s.list(bearer(&forged).as_deref()).await, invalid());
    // Not a JWT at all.
    assert_eq!(s.list(Some("Bearer abc.def")).await, invalid());
}

#[tokio::test]
async fn an_expired_token_is_unauthenticated_once_the_clock_passes_exp() {
    let mut s = Setup::new().await;
    let token = s
        .issuer
        .token()
        .claim("sub", "alice")
        .scope("notes.read")
        .expires_in(300)
        .sign();
    let authorization = bearer(&token);
    assert_eq!(
        s.list(authorization.as_deref())
            .await
            .map(|reply| reply.subject),
        Ok("alice".to_owned())
    );
    // Past `exp` and the default 60 s leeway: the same token, now from the
    // verified-token cache, is refused.
    s.clock.advance(Duration::from_secs(300 + 60 + 1));
    assert_eq!(
        s.list(authorization.as_deref()).await,
        Err(failure(
            Code::Unauthenticated,
            "invalid token",
            "Bearer error=\"invalid_token\""
        ))
    );
}

#[tokio::test]
async fn a_token_lacking_the_method_s_scope_is_permission_denied() {
    let mut s = Setup::new().await;
    let reader = s.issuer.token().scope("notes.read").sign();
    assert_eq!(
        s.delete(bearer(&reader).as_deref()).await,
        Err(failure(
            Code::PermissionDenied,
            "insufficient scope",
            "Bearer error=\"insufficient_scope\", scope=\"notes.write\""
        ))
    );
    // The other method's guard names its own scope.
    let writer = s.issuer.token().scope("notes.write").sign();
    assert_eq!(
        s.list(bearer(&writer).as_deref()).await,
        Err(failure(
            Code::PermissionDenied,
            "insufficient scope",
            "Bearer error=\"insufficient_scope\", scope=\"notes.read\""
        ))
    );
}

#[tokio::test]
async fn a_malformed_authorization_is_invalid_argument() {
    let mut s = Setup::new().await;
    assert_eq!(
        s.list(Some("Bearer not,a,b64token")).await,
        Err(failure(
            Code::InvalidArgument,
            "malformed authorization request",
            "Bearer error=\"invalid_request\""
        ))
    );
}

#[tokio::test]
async fn a_good_token_reaches_the_method_with_its_claims() {
    let mut s = Setup::new().await;
    let token = s
        .issuer
        .token()
        .claim("sub", "alice")
        .claim("name", "Alice")
        .scope("notes.read profile")
        .sign();
    assert_eq!(
        s.list(bearer(&token).as_deref()).await,
        Ok(ListReply {
            subject: "alice".into(),
            scopes: vec!["notes.read".into(), "profile".into()],
            name: "Alice".into(),
            notes: vec!["buy milk".into()],
        })
    );
    // An app with the role instead of the scope; no `name` claim.
    let app = s
        .issuer
        .token()
        .claim("sub", "sync-app")
        .roles(&["Notes.Read.All"])
        .sign();
    assert_eq!(
        s.list(bearer(&app).as_deref()).await,
        Ok(ListReply {
            subject: "sync-app".into(),
            scopes: vec![],
            name: String::new(),
            notes: vec!["buy milk".into()],
        })
    );
    let writer = s
        .issuer
        .token()
        .claim("sub", "bob")
        .scope("notes.write")
        .sign();
    assert_eq!(
        s.delete(bearer(&writer).as_deref()).await,
        Ok(DeleteReply {
            deleted_by: "bob".into()
        })
    );
}

/// The layer covers every path of the service, so a method the server does
/// not have is `UNIMPLEMENTED` only for a caller with a valid token.
#[tokio::test]
async fn an_unknown_method_needs_a_token_too() {
    let mut s = Setup::new().await;
    let missing = "/notes.v1.Notes/Purge";
    let no_token = with_authorization(ListRequest {}, None).expect("ASCII");
    let answer = s.client.unary::<_, ListReply>(no_token, missing).await;
    assert_eq!(
        answer.map(|_| ()).map_err(Failure::from),
        Err(failure(
            Code::Unauthenticated,
            "authentication required",
            "Bearer"
        ))
    );
    let token = s.issuer.token().sign();
    let authorization = bearer(&token);
    let request = with_authorization(ListRequest {}, authorization.as_deref()).expect("ASCII");
    let answer = s.client.unary::<_, ListReply>(request, missing).await;
    assert_eq!(
        answer.map(|_| ()).map_err(|status| status.code()),
        Err(Code::Unimplemented)
    );
}

/// A claims type that does not fit is refused from inside the method
/// (`GrpcRejection::headers`), as the axum extractor refuses it: 401
/// `invalid_token`.
#[tokio::test]
async fn claims_that_do_not_fit_the_method_s_type_are_refused_there() {
    let mut s = Setup::new().await;
    let token = s
        .issuer
        .token()
        .claim("name", 42)
        .scope("notes.read")
        .sign();
    assert_eq!(
        s.list(bearer(&token).as_deref()).await,
        Err(failure(
            Code::Unauthenticated,
            "invalid token",
            "Bearer error=\"invalid_token\""
        ))
    );
}

/// With a resource identifier, the challenge the client gets names the
/// RFC 9728 metadata whoever refused: the layer, a method's guard, or the
/// method itself.
#[tokio::test]
async fn with_a_resource_identifier_every_challenge_names_the_metadata() {
    let mut s = Setup::with(|b| b.resource(RESOURCE)).await;
    assert_eq!(
        s.list(None).await,
        Err(failure(
            Code::Unauthenticated,
            "authentication required",
            &format!("Bearer {RESOURCE_METADATA}")
        ))
    );
    let reader = s.issuer.token().scope("notes.read").sign();
    assert_eq!(
        s.delete(bearer(&reader).as_deref()).await,
        Err(failure(
            Code::PermissionDenied,
            "insufficient scope",
            &format!(
                "Bearer error=\"insufficient_scope\", scope=\"notes.write\", {RESOURCE_METADATA}"
            )
        ))
    );
    let misfit = s
        .issuer
        .token()
        .claim("name", 42)
        .scope("notes.read")
        .sign();
    assert_eq!(
        s.list(bearer(&misfit).as_deref()).await,
        Err(failure(
            Code::Unauthenticated,
            "invalid token",
            &format!("Bearer error=\"invalid_token\", {RESOURCE_METADATA}")
        ))
    );
}

/// An issuer whose keys cannot be fetched (it answers 503 to everything):
/// `UNAVAILABLE`, no challenge, and `retry-after` the seconds until the next
/// fetch may start (one 30 s cooldown: the clock does not move).
#[tokio::test]
async fn keys_that_cannot_be_had_are_unavailable_with_retry_after() {
    let down =
        serve(axum::Router::new().fallback(|| async { http::StatusCode::SERVICE_UNAVAILABLE }))
            .await;
    let issuer = start().await;
    let clock = ManualClock::new();
    let layer = BearerAuthLayer::builder()
        .issuer(&down)
        .audience(TestIssuer::AUDIENCE)
        .clock(clock)
        .build()
        .expect("valid configuration");
    let (mut client, _) = start_server(layer).await;
    let token = issuer
        .token()
        .claim("iss", &down)
        .scope("notes.read")
        .sign();
    let authorization = bearer(&token);
    let request = with_authorization(ListRequest {}, authorization.as_deref()).expect("ASCII");
    assert_eq!(
        client
            .list(request)
            .await
            .map(|_| ())
            .map_err(Failure::from),
        Err(Failure {
            code: Code::Unavailable,
            message: "authorization temporarily unavailable".into(),
            www_authenticate: vec![],
            retry_after: Some("30".into()),
        })
    );
}

/// On the wire, below the tonic client: a rejection is HTTP 200 with
/// `content-type: application/grpc` and the status in the headers, and
/// nothing after them (gRPC over HTTP/2, "Trailers-Only").
#[tokio::test]
async fn a_rejection_is_a_trailers_only_response() {
    use tower::ServiceExt as _;
    let s = Setup::new().await;
    let channel = tonic::transport::Channel::from_shared(s.url.clone())
        .expect("URL")
        .connect()
        .await
        .expect("connect");
    let request = http::Request::post(format!("{}{}", s.url, example::LIST))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(tonic::body::Body::empty())
        .expect("request");
    let response = channel.oneshot(request).await.expect("a response");
    assert_eq!(response.status(), http::StatusCode::OK);
    let mut headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .filter(|(name, _)| *name != "date")
        .map(|(k, v)| (k.to_string(), v.to_str().expect("ASCII").to_owned()))
        .collect();
    headers.sort();
    assert_eq!(
        headers,
        [
            ("content-type", "application/grpc"),
            ("grpc-message", "authentication required"),
            ("grpc-status", "16"),
            ("www-authenticate", "Bearer"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
    );
    let body = response.into_body().collect().await.expect("body");
    assert!(body.trailers().is_none(), "no trailers after the headers");
    assert!(body.to_bytes().is_empty(), "no message");
}
