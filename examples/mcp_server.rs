//! An MCP-style server protected by bearer-guard: the resource-server half of
//! the MCP authorization specification (2025-06-18, 2025-11-25).
//!
//! ```text
//! mcp_server --issuer URL [--listen ADDR] [--resource URL] [--scope SCOPE]
//! cargo run --example mcp_server -- --issuer https://login.example.com
//! ```
//!
//! When it is ready to serve it prints exactly one line to stdout,
//! `listening on ADDR` (the bound address); logs go to stderr (`RUST_LOG`,
//! default `info`). Bad arguments print the usage to stderr and exit with
//! status 2.
//!
//! | route | needs |
//! |---|---|
//! | `POST /mcp` | a token for this resource with the scope (JSON-RPC 2.0, below) |
//! | `GET /.well-known/oauth-protected-resource/mcp` | nothing: the RFC 9728 metadata document |
//!
//! The resource identifier is `--resource`, by default `http://ADDR/mcp` with
//! the bound port. Tokens must name it in `aud` (an MCP client asks for it with
//! the RFC 8707 `resource` parameter) and be typed `at+jwt` (RFC 9068). A
//! request without a token gets `401` with `WWW-Authenticate: Bearer
//! resource_metadata="…"`: where a client learns which authorization server
//! to ask, for which scope.
//!
//! `POST /mcp` takes one JSON-RPC request, as MCP's Streamable HTTP transport
//! sends it, and answers with JSON: `initialize`, `tools/list` and `tools/call`
//! of the one tool, `whoami`, which answers the caller's `sub`, `client_id`
//! and scopes. Other methods get error -32601, a body that is not JSON -32700
//! (with 400), and a notification (no `id`) 202 with no body. No sessions, no
//! server-sent events: enough to show the authorization, not an MCP SDK.

use std::io::{IsTerminal, Write};

use axum::Router;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::post;
use bearer_guard::{Authenticated, BearerAuthLayer, Requirement, require};
use serde_json::{Value, json};
use tracing_subscriber::EnvFilter;

const USAGE: &str =
    "usage: mcp_server --issuer URL [--listen ADDR] [--resource URL] [--scope SCOPE]

  --issuer URL     the authorization server; tokens' `iss` must equal it, keys
                   are discovered from it
  --listen ADDR    the address to serve on (default 127.0.0.1:0)
  --resource URL   this server's resource identifier, the audience tokens must
                   name (default http://ADDR/mcp, with the bound port)
  --scope SCOPE    the scope POST /mcp needs (default mcp:tools)";

/// The MCP protocol versions this server speaks, newest first.
const PROTOCOL_VERSIONS: [&str; 2] = ["2025-11-25", "2025-06-18"];

/// The command line.
struct Args {
    issuer: String,
    listen: String,
    resource: Option<String>,
    scope: String,
}

/// Parses `--flag value` pairs; every flag at most once.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let (mut issuer, mut listen, mut resource, mut scope) = (None, None, None, None);
    while let Some(flag) = args.next() {
        let slot = match flag.as_str() {
            "--issuer" => &mut issuer,
            "--listen" => &mut listen,
            "--resource" => &mut resource,
            "--scope" => &mut scope,
            _ => return Err(format!("unknown argument `{flag}`")),
        };
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        if slot.replace(value).is_some() {
            return Err(format!("{flag} given twice"));
        }
    }
    Ok(Args {
        issuer: issuer.ok_or("--issuer is required")?,
        listen: listen.unwrap_or_else(|| "127.0.0.1:0".to_owned()),
        resource,
        scope: scope.unwrap_or_else(|| "mcp:tools".to_owned()),
    })
}

fn app(auth: BearerAuthLayer, scope: &str) -> Router {
    // Public, outside the layer: a client reads it before it has a token.
    let metadata = auth.resource_metadata_router();
    Router::new()
        .route(
            "/mcp",
            post(mcp).route_layer(require(Requirement::scope(scope))),
        )
        .route_layer(auth)
        .merge(metadata)
}

/// One JSON-RPC 2.0 message from an authenticated caller.
async fn mcp(token: Authenticated, body: Bytes) -> Response {
    let Ok(message) = serde_json::from_slice::<Value>(&body) else {
        let reply = error(Value::Null, -32700, "Parse error".to_owned());
        return (StatusCode::BAD_REQUEST, Json(reply)).into_response();
    };
    let method = message.get("method").and_then(Value::as_str);
    let Some(method) = method.filter(|_| message["jsonrpc"] == "2.0") else {
        let reply = error(Value::Null, -32600, "Invalid Request".to_owned());
        return (StatusCode::BAD_REQUEST, Json(reply)).into_response();
    };
    let Some(id) = message.get("id").cloned() else {
        // A notification (`notifications/initialized`): nothing to answer.
        return StatusCode::ACCEPTED.into_response();
    };
    let reply = match answer(method, &message["params"], &token) {
        Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
        Err((code, message)) => error(id, code, message),
    };
    Json(reply).into_response()
}

/// The result of `method`, or a JSON-RPC error code and message.
fn answer(method: &str, params: &Value, token: &Authenticated) -> Result<Value, (i64, String)> {
    match method {
        "initialize" => {
            // The client's version if this server speaks it, else its newest.
            let asked = params["protocolVersion"].as_str();
            let version = PROTOCOL_VERSIONS
                .into_iter()
                .find(|v| Some(*v) == asked)
                .unwrap_or(PROTOCOL_VERSIONS[0]);
            Ok(json!({
                "protocolVersion": version,
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "bearer-guard-mcp-example", "version": env!("CARGO_PKG_VERSION")},
            }))
        }
        "tools/list" => Ok(json!({"tools": [{
            "name": "whoami",
            "description": "Who the access token says is calling: sub, client_id and scopes.",
            "inputSchema": {"type": "object", "properties": {}},
        }]})),
        "tools/call" => match params["name"].as_str() {
            Some("whoami") => Ok(json!({
                "content": [{"type": "text", "text": whoami(token)}],
                "isError": false,
            })),
            other => Err((
                -32602,
                format!("Unknown tool: {}", other.unwrap_or("(none)")),
            )),
        },
        _ => Err((-32601, format!("Method not found: {method}"))),
    }
}

/// What the validated token says about the caller.
fn whoami(token: &Authenticated) -> String {
    let scopes: Vec<&str> = token.scopes().iter().collect();
    format!(
        "sub: {}\nclient_id: {}\nscopes: {}",
        token.registered().sub.as_deref().unwrap_or("(none)"),
        token.client_id().unwrap_or("(none)"),
        scopes.join(" "),
    )
}

fn error(id: Value, code: i64, message: String) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

#[tokio::main]
async fn main() {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(problem) => {
            eprintln!("mcp_server: {problem}\n\n{USAGE}");
            std::process::exit(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    // Bound first: the default resource identifier names the real port.
    let listener = match tokio::net::TcpListener::bind(&args.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("mcp_server: cannot listen on {}: {error}", args.listen);
            std::process::exit(1);
        }
    };
    let addr = match listener.local_addr() {
        Ok(addr) => addr,
        Err(error) => {
            eprintln!("mcp_server: {error}");
            std::process::exit(1);
        }
    };
    let resource = args
        .resource
        .unwrap_or_else(|| format!("http://{addr}/mcp"));

    // The audience is the resource identifier: a token the authorization
    // server issued for another resource is refused (RFC 8707, and the MCP
    // specification's "token audience binding").
    let auth = BearerAuthLayer::builder()
        .issuer(&args.issuer)
        .audience(&resource)
        .resource(&resource)
        .resource_scopes([args.scope.as_str()])
        .resource_name("bearer-guard MCP example")
        .build();
    let auth = match auth {
        Ok(auth) => auth,
        Err(error) => {
            eprintln!("mcp_server: invalid configuration: {error}\n\n{USAGE}");
            std::process::exit(2);
        }
    };

    // Fetch the keys now rather than on the first request; an issuer that is
    // down is not fatal, the layer retries when a token needs a key.
    let validator = auth.validator().clone();
    tokio::spawn(async move {
        if !validator.warm_up().await {
            tracing::warn!("keys not loaded yet; requests get 503 until the issuer answers");
        }
    });

    println!("listening on {addr}");
    let _ = std::io::stdout().flush();
    tracing::info!(issuer = %args.issuer, %resource, scope = %args.scope, "MCP server ready");

    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    if let Err(error) = axum::serve(listener, app(auth, &args.scope))
        .with_graceful_shutdown(shutdown)
        .await
    {
        eprintln!("mcp_server: {error}");
        std::process::exit(1);
    }
}
