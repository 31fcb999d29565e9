//! gRPC with tonic: a notes service behind the layer, each method behind its
//! own guard, and a tonic client that sees every rejection as a gRPC status
//! (`UNAUTHENTICATED`, `PERMISSION_DENIED`, `INVALID_ARGUMENT`) with the
//! RFC 6750 challenge in its `www-authenticate` metadata.
//!
//! ```text
//! cargo run --example grpc_server
//! ```
//!
//! Like the quickstart, it starts a local test issuer, serves on 127.0.0.1,
//! makes one call per outcome and exits with status 1 if any differs from
//! what is expected. `tests/it/grpc.rs` drives the same server.
//!
//! ## How the pieces fit
//! - [`GrpcRejection`] makes the layer and the guards answer as gRPC needs
//!   (HTTP 200, `grpc-status` in a Trailers-Only response): a plain HTTP 401
//!   would reach a tonic client as `UNAUTHENTICATED` without its challenge,
//!   and a 400 as `INTERNAL`.
//! - A gRPC method's path is its HTTP path (`/notes.v1.Notes/Delete`), so a
//!   per-method guard is [`require`] on that path: tonic routes with an axum
//!   `Router`, which takes the guarded methods first and the service's other
//!   paths after.
//! - The method reads the [`Authenticated`] the layer stored from the
//!   request's extensions (tonic keeps the HTTP request's), and typed claims
//!   with [`Authenticated::shared_claims`] (axum's `Claims<T>` extractor is
//!   for axum handlers).
//!
//! ## No `protoc`
//! The messages and the service glue below are written by hand: they are
//! what `tonic-prost-build` generates from the `.proto` in [`proto`], with
//! the same tonic APIs (`tonic::server::Grpc::unary` on the server,
//! `tonic::client::Grpc::unary` on the client, `tonic_prost::ProstCodec`).
//! A real project would generate them in its build script; here that would
//! need `protoc` (or a `.proto` compiler crate) on every build of the crate
//! for one example and one test.

use std::convert::Infallible;
use std::io::IsTerminal;
use std::sync::Arc;

use bearer_guard::testing::TestIssuer;
use bearer_guard::{Authenticated, BearerAuthLayer, Error, GrpcRejection, Requirement, require};
use serde::Deserialize;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::codegen::{Body, BoxFuture, Context, Poll, Service, StdError, http};
use tonic::metadata::MetadataValue;
use tonic::metadata::errors::InvalidMetadataValue;
use tonic::server::NamedService;
use tonic::service::Routes;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Server};
use tonic::{Code, Status};
use tonic_prost::ProstCodec;
use tower::ServiceBuilder;
use tracing_subscriber::EnvFilter;

/// The messages, as `prost` derives them from:
///
/// ```proto
/// syntax = "proto3";
/// package notes.v1;
///
/// service Notes {
///   rpc List(ListRequest) returns (ListReply);       // notes.read or Notes.Read.All
///   rpc Delete(DeleteRequest) returns (DeleteReply); // notes.write
/// }
/// message ListRequest {}
/// message ListReply {
///   string subject = 1;         // `sub`, from the registered claims
///   repeated string scopes = 2; // the token's scopes
///   string name = 3;            // `name`, from the typed claims
///   repeated string notes = 4;
/// }
/// message DeleteRequest { string id = 1; }
/// message DeleteReply { string deleted_by = 1; }
/// ```
pub mod proto {
    /// `notes.v1.ListRequest`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ListRequest {}

    /// `notes.v1.ListReply`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ListReply {
        #[prost(string, tag = "1")]
        pub subject: String,
        #[prost(string, repeated, tag = "2")]
        pub scopes: Vec<String>,
        #[prost(string, tag = "3")]
        pub name: String,
        #[prost(string, repeated, tag = "4")]
        pub notes: Vec<String>,
    }

    /// `notes.v1.DeleteRequest`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct DeleteRequest {
        #[prost(string, tag = "1")]
        pub id: String,
    }

    /// `notes.v1.DeleteReply`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct DeleteReply {
        #[prost(string, tag = "1")]
        pub deleted_by: String,
    }
}

use proto::{DeleteReply, DeleteRequest, ListReply, ListRequest};

/// The service's name: the first part of every method's path.
pub const SERVICE: &str = "notes.v1.Notes";
/// The path of `List`: the HTTP path a guard for it is routed on.
pub const LIST: &str = "/notes.v1.Notes/List";
/// The path of `Delete`.
pub const DELETE: &str = "/notes.v1.Notes/Delete";

/// The claims the methods read beyond the registered ones.
#[derive(Debug, Deserialize)]
pub struct NoteClaims {
    /// The user's display name, when the token has one.
    pub name: Option<String>,
}

// ---- the methods ---------------------------------------------------------

/// `List`: who is asking, as the layer vouched for them, and their notes.
async fn list(request: tonic::Request<ListRequest>) -> Result<tonic::Response<ListReply>, Status> {
    let (token, claims) = caller(&request)?;
    Ok(tonic::Response::new(ListReply {
        subject: token.registered().sub.clone().unwrap_or_default(),
        scopes: token.scopes().iter().map(str::to_owned).collect(),
        name: claims.name.clone().unwrap_or_default(),
        notes: vec!["buy milk".to_owned()],
    }))
}

/// `Delete`: reached only with `notes.write` (its guard saw to that).
async fn delete(
    request: tonic::Request<DeleteRequest>,
) -> Result<tonic::Response<DeleteReply>, Status> {
    let (token, _) = caller(&request)?;
    Ok(tonic::Response::new(DeleteReply {
        deleted_by: token.registered().sub.clone().unwrap_or_default(),
    }))
}

/// The token the layer stored in the request's extensions, and its claims
/// as [`NoteClaims`] (deserialized once per token, shared afterwards).
///
/// A rejection decided here is answered as the layer answers its own: the
/// same status, and the same challenge in the metadata.
fn caller<M>(request: &tonic::Request<M>) -> Result<(Authenticated, Arc<NoteClaims>), Status> {
    let Some(token) = request.extensions().get::<Authenticated>() else {
        // Only behind an optional layer, which this server does not use.
        return Err(rejection(&Error::Unauthenticated, None));
    };
    let claims = token
        .shared_claims::<NoteClaims>()
        .map_err(|error| rejection(&error, Some(token)))?;
    Ok((token.clone(), claims))
}

/// `error` as a tonic [`Status`], with [`GrpcRejection`]'s code, message and
/// metadata.
fn rejection(error: &Error, token: Option<&Authenticated>) -> Status {
    Status::from_header_map(&GrpcRejection.headers(error, token))
        // Never taken: the headers always have a `grpc-status`.
        .unwrap_or_else(|| Status::unauthenticated("authentication required"))
}

// ---- the server glue (what tonic-prost-build generates) -----------------

/// The `notes.v1.Notes` service: answers each method's path, and
/// `UNIMPLEMENTED` for any other path under it.
#[derive(Debug, Clone, Copy, Default)]
pub struct NotesServer;

impl NamedService for NotesServer {
    const NAME: &'static str = SERVICE;
}

impl<B> Service<http::Request<B>> for NotesServer
where
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        match request.uri().path() {
            LIST => Box::pin(async move {
                let mut grpc = tonic::server::Grpc::new(ProstCodec::default());
                Ok(grpc.unary(tower::service_fn(list), request).await)
            }),
            DELETE => Box::pin(async move {
                let mut grpc = tonic::server::Grpc::new(ProstCodec::default());
                Ok(grpc.unary(tower::service_fn(delete), request).await)
            }),
            _ => Box::pin(async move { Ok(Status::unimplemented("").into_http()) }),
        }
    }
}

/// The service with a guard on each method: `List` needs the delegated
/// scope `notes.read` or the app role `Notes.Read.All`, `Delete` the scope
/// `notes.write`. Any other path under the service (a method this server
/// does not have) only needs the layer's valid token, and gets
/// `UNIMPLEMENTED`.
pub fn routes() -> Routes {
    let read = Requirement::scope("notes.read").or(Requirement::role("Notes.Read.All"));
    let write = Requirement::scope("notes.write");
    let guarded = |requirement| {
        ServiceBuilder::new()
            .layer(require(requirement).on_rejection(GrpcRejection))
            .service(NotesServer)
    };
    let methods = axum::Router::new()
        .route_service(LIST, guarded(read))
        .route_service(DELETE, guarded(write));
    Routes::from(methods).add_service(NotesServer)
}

/// Serves [`routes`] behind `auth` on `listener`, until the task is dropped.
pub async fn serve(
    auth: BearerAuthLayer,
    listener: tokio::net::TcpListener,
) -> Result<(), tonic::transport::Error> {
    Server::builder()
        .layer(auth.on_rejection(GrpcRejection))
        .add_routes(routes())
        .serve_with_incoming(TcpIncoming::from(listener))
        .await
}

// ---- the client glue (what tonic-prost-build generates) -----------------

/// A `notes.v1.Notes` client.
#[derive(Debug, Clone)]
pub struct NotesClient {
    grpc: tonic::client::Grpc<Channel>,
}

impl NotesClient {
    /// Connects to `url` (`http://127.0.0.1:PORT`).
    pub async fn connect(url: String) -> Result<NotesClient, StdError> {
        let channel = Channel::from_shared(url)?.connect().await?;
        Ok(NotesClient {
            grpc: tonic::client::Grpc::new(channel),
        })
    }

    /// Calls `List`.
    pub async fn list(
        &mut self,
        request: tonic::Request<ListRequest>,
    ) -> Result<tonic::Response<ListReply>, Status> {
        self.unary(request, LIST).await
    }

    /// Calls `Delete`.
    pub async fn delete(
        &mut self,
        request: tonic::Request<DeleteRequest>,
    ) -> Result<tonic::Response<DeleteReply>, Status> {
        self.unary(request, DELETE).await
    }

    /// Calls the method at `path`, which need not exist.
    pub async fn unary<M1, M2>(
        &mut self,
        request: tonic::Request<M1>,
        path: &'static str,
    ) -> Result<tonic::Response<M2>, Status>
    where
        M1: prost::Message + Send + Sync + 'static,
        M2: prost::Message + Default + Send + Sync + 'static,
    {
        self.grpc
            .ready()
            .await
            .map_err(|e| Status::unknown(format!("service was not ready: {e}")))?;
        self.grpc
            .unary(
                request,
                PathAndQuery::from_static(path),
                ProstCodec::default(),
            )
            .await
    }
}

/// `message` as a request with `authorization` metadata (`None`: none).
pub fn with_authorization<M>(
    message: M,
    authorization: Option<&str>,
) -> Result<tonic::Request<M>, InvalidMetadataValue> {
    let mut request = tonic::Request::new(message);
    if let Some(value) = authorization {
        request
            .metadata_mut()
            .insert("authorization", MetadataValue::try_from(value)?);
    }
    Ok(request)
}

// ---- the demonstration ---------------------------------------------------

/// One call and the outcome it must get: the gRPC code, and the
/// `www-authenticate` metadata of a rejection.
struct Case {
    method: &'static str,
    what: &'static str,
    token: Option<String>,
    code: Code,
    challenge: Option<&'static str>,
}

#[tokio::main]
async fn main() -> Result<(), StdError> {
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

    // 2. The gRPC server, trusting that issuer for our audience.
    let auth = BearerAuthLayer::builder()
        .issuer(issuer.issuer())
        .audience(TestIssuer::AUDIENCE)
        .build()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(serve(auth, listener));
    println!("issuer {}, notes gRPC service {url}\n", issuer.issuer());

    // 3. One call per outcome.
    let cases = [
        Case {
            method: "List",
            what: "no token",
            token: None,
            code: Code::Unauthenticated,
            challenge: Some("Bearer"),
        },
        Case {
            method: "List",
            what: "user token, scp notes.read",
            token: Some(
                issuer
                    .token()
                    .claim("sub", "alice")
                    .claim("name", "Alice")
                    .scope("notes.read")
                    .sign(),
            ),
            code: Code::Ok,
            challenge: None,
        },
        Case {
            method: "List",
            what: "a token with a broken signature",
            token: Some(format!("{}AAAA", issuer.token().scope("notes.read").sign())),
            code: Code::Unauthenticated,
            challenge: Some(r#"Bearer error="invalid_token""#),
        },
        Case {
            method: "Delete",
            what: "user token, scp notes.read only",
            token: Some(issuer.token().scope("notes.read").sign()),
            code: Code::PermissionDenied,
            challenge: Some(r#"Bearer error="insufficient_scope", scope="notes.write""#),
        },
        Case {
            method: "Delete",
            what: "user token, scp notes.write",
            token: Some(
                issuer
                    .token()
                    .claim("sub", "alice")
                    .scope("notes.write")
                    .sign(),
            ),
            code: Code::Ok,
            challenge: None,
        },
    ];

    let mut client = NotesClient::connect(url).await?;
    let mut failures = 0;
    for case in cases {
        let authorization = case.token.as_ref().map(|t| format!("Bearer {t}"));
        let authorization = authorization.as_deref();
        let outcome = match case.method {
            "List" => client
                .list(with_authorization(ListRequest {}, authorization)?)
                .await
                .map(|r| format!("{:?}", r.into_inner())),
            _ => client
                .delete(with_authorization(
                    DeleteRequest { id: "n1".into() },
                    authorization,
                )?)
                .await
                .map(|r| format!("{:?}", r.into_inner())),
        };
        let (code, challenge, detail) = match outcome {
            Ok(reply) => (Code::Ok, None, reply),
            Err(status) => (
                status.code(),
                status
                    .metadata()
                    .get("www-authenticate")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned),
                status.message().to_owned(),
            ),
        };
        let ok = code == case.code && challenge.as_deref() == case.challenge;
        if !ok {
            failures += 1;
        }
        println!(
            "{} {:<6} {:<36} -> {:?} {}\n    www-authenticate: {}",
            if ok { "ok  " } else { "FAIL" },
            case.method,
            case.what,
            code,
            detail,
            challenge.as_deref().unwrap_or("-"),
        );
    }
    if failures > 0 {
        eprintln!("\n{failures} call(s) did not get the expected outcome");
        std::process::exit(1);
    }
    println!("\nevery call got the expected outcome");
    Ok(())
}
