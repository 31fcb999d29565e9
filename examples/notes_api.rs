//! A notes API protected by bearer-guard, pointed at any OpenID issuer.
//!
//! ```text
//! notes_api --issuer URL --audience AUD [--jwks-uri URL] [--listen ADDR] [--resource URL]
//!           [--require-dpop] [--step-up-acr VALUE] [--step-up-max-age SECS]
//!           [--introspection-url URL --client-id ID --client-secret SECRET]
//! cargo run --example notes_api -- --issuer https://login.example.com --audience api://notes
//! ```
//!
//! When it is ready to serve it prints exactly one line to stdout,
//! `listening on ADDR` (the bound address, also with `--listen 127.0.0.1:0`);
//! logs go to stderr (`RUST_LOG`, default `info`). Bad arguments print the usage
//! to stderr and exit with status 2.
//!
//! | route | needs |
//! |---|---|
//! | `GET /health` | nothing (200 `ok`) |
//! | `GET /notes` | scope `notes.read` or app role `Notes.Read.All` |
//! | `POST /notes` `{"text": "…"}` | scope `notes.write` or app role `Notes.ReadWrite.All` (201 with the note) |
//! | `DELETE /notes` | the same as `POST /notes`, and the step-up below (204; every note is removed) |
//! | `GET /me` | any valid token (the validated claims as JSON) |
//! | `GET /.well-known/oauth-protected-resource[/PATH]` | nothing; only with `--resource URL`: the RFC 9728 metadata document, at the place RFC 9728 §3.1 gives URL (its path, if any, after the well-known suffix) |
//!
//! With `--resource URL`, every 401 and 403 challenge also carries
//! `resource_metadata="…"` naming where that document is served (RFC 9728
//! §5.1); its `resource` is URL, its `authorization_servers` the `--issuer`
//! value, its `scopes_supported` `notes.read` and `notes.write`.
//!
//! With `--resource URL`, the API also accepts DPoP-bound tokens (RFC 9449):
//! `Authorization: DPoP <token>` with one `DPoP` proof header, whose `htu`
//! must be URL with the request's path appended (URL is the public base URL:
//! the server may listen elsewhere, behind a proxy). The metadata then lists
//! `dpop_signing_alg_values_supported`. A proof that fails a check gets 401
//! `DPoP error="invalid_dpop_proof"`, a token that fails one under the DPoP
//! scheme `DPoP error="invalid_token"` (a DPoP-bound token sent as a bearer
//! token gets `Bearer error="invalid_token"`), a missing permission 403
//! `DPoP error="insufficient_scope"`; each `DPoP` challenge names the
//! accepted `algs`, and a request without credentials is offered both
//! schemes. `--require-dpop` (needs `--resource`) refuses bearer tokens with
//! a `DPoP` challenge, and challenges then name only `DPoP`. Without
//! `--resource`, the `DPoP` scheme is refused as any unknown scheme is
//! (401 `Bearer`).
//!
//! With `--step-up-acr VALUE`, `DELETE /notes` also needs the token's `acr`
//! to be VALUE, and with `--step-up-max-age SECS` its `auth_time` at most SECS
//! seconds old; a token with the write permission that falls short gets 401
//! `Bearer error="insufficient_user_authentication"` with `acr_values="VALUE"`
//! and `max_age="SECS"` for the flags given (RFC 9470). A token without the
//! write permission gets 403 `insufficient_scope` first.
//!
//! With `--introspection-url URL --client-id ID --client-secret SECRET` (all
//! three together), tokens that are not compact JWS (opaque tokens) are sent
//! to URL (RFC 7662) as `token=…&token_type_hint=access_token`, the API
//! authenticating with HTTP Basic as ID; `active: false` gets 401
//! `invalid_token`, and an active answer must name `--issuer` in `iss` and
//! `--audience` in `aud` when it has them, must not be a refresh token, and
//! must have an `aud` or an access-token `token_type` (else 401); its
//! `scope` then meets the routes' requirements, and `GET /me` returns its
//! members. An answer is kept until the token's `exp` (at most 5 minutes):
//! the same token twice is one call. An endpoint that cannot answer gives 503
//! with `Retry-After`. JWTs are still validated locally.
//!
//! Tokens may be typed `at+jwt` (RFC 9068) or `JWT`. Notes live in memory.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use bearer_guard::{
    Authenticated, BearerAuthLayer, Claims, Dpop, Introspection, Requirement, StepUp, TypPolicy,
    require,
};
use serde::{Deserialize, Serialize};
use tracing_subscriber::EnvFilter;

const USAGE: &str =
    "usage: notes_api --issuer URL --audience AUD [--jwks-uri URL] [--listen ADDR] [--resource URL]
                 [--require-dpop] [--step-up-acr VALUE] [--step-up-max-age SECS]
                 [--introspection-url URL --client-id ID --client-secret SECRET]

  --issuer URL     the issuer; tokens' `iss` must equal it, keys are discovered from it
  --audience AUD   the audience tokens must name in `aud`
  --jwks-uri URL   fetch keys from this URL instead of discovering it
  --listen ADDR    the address to serve on (default 127.0.0.1:8080)
  --resource URL   this API's resource identifier: serve its RFC 9728 metadata
                   and name it in every challenge; accept DPoP with URL as
                   the public base URL of the proofs' htu
  --require-dpop   with --resource: refuse bearer tokens, accept only DPoP
  --step-up-acr VALUE      DELETE /notes also needs the token's acr to be VALUE
  --step-up-max-age SECS   DELETE /notes also needs auth_time at most SECS old
  --introspection-url URL  send opaque tokens to this RFC 7662 endpoint
  --client-id ID           with --introspection-url: the API's client id
  --client-secret SECRET   with --introspection-url: its secret (HTTP Basic)";

/// The longest note text accepted, in bytes.
const MAX_TEXT_BYTES: usize = 4096;

/// The command line.
struct Args {
    issuer: String,
    audience: String,
    jwks_uri: Option<String>,
    listen: String,
    resource: Option<String>,
    require_dpop: bool,
    step_up_acr: Option<String>,
    step_up_max_age: Option<u64>,
    /// The introspection endpoint, client id and secret.
    introspection: Option<(String, String, String)>,
}

/// Parses `--flag value` pairs; every flag at most once.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let (mut issuer, mut audience, mut jwks_uri, mut listen) = (None, None, None, None);
    let (mut resource, mut step_up_acr, mut step_up_max_age) = (None, None, None);
    let mut require_dpop = false;
    let (mut introspection_url, mut client_id, mut client_secret) = (None, None, None);
    while let Some(flag) = args.next() {
        if flag == "--require-dpop" {
            if std::mem::replace(&mut require_dpop, true) {
                return Err(format!("{flag} given twice"));
            }
            continue;
        }
        let slot = match flag.as_str() {
            "--issuer" => &mut issuer,
            "--audience" => &mut audience,
            "--jwks-uri" => &mut jwks_uri,
            "--listen" => &mut listen,
            "--resource" => &mut resource,
            "--step-up-acr" => &mut step_up_acr,
            "--step-up-max-age" => &mut step_up_max_age,
            "--introspection-url" => &mut introspection_url,
            "--client-id" => &mut client_id,
            "--client-secret" => &mut client_secret,
            _ => return Err(format!("unknown argument `{flag}`")),
        };
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        if slot.replace(value).is_some() {
            return Err(format!("{flag} given twice"));
        }
    }
    let introspection = match (introspection_url, client_id, client_secret) {
        (None, None, None) => None,
        (Some(url), Some(id), Some(secret)) => Some((url, id, secret)),
        _ => {
            return Err("--introspection-url, --client-id and --client-secret go together".into());
        }
    };
    if require_dpop && resource.is_none() {
        return Err("--require-dpop needs --resource (the public base URL of the proofs)".into());
    }
    Ok(Args {
        issuer: issuer.ok_or("--issuer is required")?,
        audience: audience.ok_or("--audience is required")?,
        jwks_uri,
        listen: listen.unwrap_or_else(|| "127.0.0.1:8080".to_owned()),
        resource,
        require_dpop,
        step_up_acr,
        introspection,
        step_up_max_age: step_up_max_age
            .map(|secs| {
                secs.parse()
                    .map_err(|_| format!("--step-up-max-age needs whole seconds, not `{secs}`"))
            })
            .transpose()?,
    })
}

/// A stored note.
#[derive(Clone, Serialize)]
struct Note {
    id: usize,
    text: String,
    /// The `sub` of the token that wrote it.
    author: Option<String>,
}

/// The body of `POST /notes`.
#[derive(Deserialize)]
struct NewNote {
    text: String,
}

type Notes = Arc<Mutex<Vec<Note>>>;

/// What reading and writing notes need.
fn requirements() -> (Requirement, Requirement) {
    let read = Requirement::scope("notes.read").or(Requirement::role("Notes.Read.All"));
    let write = Requirement::scope("notes.write").or(Requirement::role("Notes.ReadWrite.All"));
    (read, write)
}

fn app(auth: BearerAuthLayer, step_up: StepUp) -> Router {
    let (read, write) = requirements();
    let clear = require(write.clone()).step_up(step_up);
    // Public: clients read it before they have a token. No routes without
    // --resource.
    let metadata = auth.resource_metadata_router();
    let protected = Router::new()
        .route("/notes", get(list_notes).route_layer(require(read)))
        .route("/notes", post(add_note).route_layer(require(write)))
        .route("/notes", delete(remove_notes).route_layer(clear))
        .route("/me", get(me))
        // route_layer, not layer: a request to an unknown path stays a 404.
        .route_layer(auth)
        .with_state(Notes::default());
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .merge(protected)
        .merge(metadata)
}

async fn list_notes(State(notes): State<Notes>) -> Json<Vec<Note>> {
    Json(notes.lock().unwrap_or_else(|p| p.into_inner()).clone())
}

async fn add_note(
    State(notes): State<Notes>,
    token: Authenticated,
    Json(new): Json<NewNote>,
) -> Result<(StatusCode, Json<Note>), (StatusCode, String)> {
    if new.text.len() > MAX_TEXT_BYTES {
        let reason = format!("text is longer than {MAX_TEXT_BYTES} bytes");
        return Err((StatusCode::UNPROCESSABLE_ENTITY, reason));
    }
    let mut notes = notes.lock().unwrap_or_else(|p| p.into_inner());
    let note = Note {
        id: notes.len() + 1,
        text: new.text,
        author: token.registered().sub.clone(),
    };
    notes.push(note.clone());
    Ok((StatusCode::CREATED, Json(note)))
}

async fn remove_notes(State(notes): State<Notes>) -> StatusCode {
    notes.lock().unwrap_or_else(|p| p.into_inner()).clear();
    StatusCode::NO_CONTENT
}

/// The validated claims, as the token carried them.
async fn me(Claims(claims): Claims<serde_json::Value>) -> Json<serde_json::Value> {
    Json(Arc::unwrap_or_clone(claims))
}

#[tokio::main]
async fn main() {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(problem) => {
            eprintln!("notes_api: {problem}\n\n{USAGE}");
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

    let mut builder = BearerAuthLayer::builder()
        .issuer(&args.issuer)
        .audience(&args.audience)
        .typ(TypPolicy::AccessTokenOrJwt);
    if let Some(uri) = &args.jwks_uri {
        builder = builder.jwks_uri(uri);
    }
    if let Some((url, id, secret)) = &args.introspection {
        builder = builder.introspection(Introspection::client_secret_basic(url, id, secret));
    }
    if let Some(resource) = &args.resource {
        let (read, write) = requirements();
        let mut dpop = Dpop::new(resource);
        if args.require_dpop {
            dpop = dpop.required();
        }
        builder = builder
            .resource(resource)
            .resource_scopes_of(&read)
            .resource_scopes_of(&write)
            .dpop(dpop);
    }
    let auth = match builder.build() {
        Ok(auth) => auth,
        Err(error) => {
            eprintln!("notes_api: invalid configuration: {error}");
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

    let listener = match tokio::net::TcpListener::bind(&args.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("notes_api: cannot listen on {}: {error}", args.listen);
            std::process::exit(1);
        }
    };
    let addr = match listener.local_addr() {
        Ok(addr) => addr,
        Err(error) => {
            eprintln!("notes_api: {error}");
            std::process::exit(1);
        }
    };
    println!("listening on {addr}");
    let _ = std::io::stdout().flush();
    tracing::info!(issuer = %args.issuer, audience = %args.audience, %addr, "notes API ready");

    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let mut step_up = StepUp::new();
    if let Some(acr) = &args.step_up_acr {
        step_up = step_up.acr_values([acr.as_str()]);
    }
    if let Some(secs) = args.step_up_max_age {
        step_up = step_up.max_age(std::time::Duration::from_secs(secs));
    }
    if let Err(error) = axum::serve(listener, app(auth, step_up))
        .with_graceful_shutdown(shutdown)
        .await
    {
        eprintln!("notes_api: {error}");
        std::process::exit(1);
    }
}
