//! The server the load and memory scripts drive (`benches/load.sh`,
//! `benches/rss.sh`): an axum app on loopback, with its own embedded test
//! issuer unless told otherwise. Not an example to copy: its issuer's keys
//! are public.
//!
//! ```text
//! bench_server --tokens FILE [--entra-tokens FILE] [--pool N] [--no-token-cache] [--workers N] [--exit-after SECS]
//! bench_server --issuer URL [--no-token-cache] [--workers N] [--exit-after SECS]
//! bench_server --plain [--workers N] [--exit-after SECS]
//! bench_server --issuer-only [--tokens FILE] [--entra-tokens FILE] [--pool N] [--workers N] [--exit-after SECS]
//! ```
//!
//! | route | needs |
//! |---|---|
//! | `GET /plain` | nothing (`hello`) |
//! | `GET /protected` | a valid token with scope `notes.read` (token cache on, unless `--no-token-cache`) |
//! | `GET /protected-nocache` | the same, token cache off: every request is a full validation |
//! | `GET /me` | as `/protected` (the same layer, so the same cache); the handler takes `Claims<EntraClaims>` (`me`) |
//! | `GET /me-nocache` | as `/protected-nocache`, the handler as `/me` |
//!
//! By default it starts an embedded test issuer and writes `--pool` distinct
//! RS256 (RSA 2048) tokens to FILE, one a line, valid for a day; the first
//! line is the one `load.sh` repeats. `--entra-tokens FILE` also writes
//! `--pool` distinct tokens with the claims of a Microsoft Entra ID access
//! token (about 1 KB of claims, `Size::Entra` of `benches/support`).
//!
//! The other modes:
//!
//! - `--issuer URL`: no embedded issuer; the layers trust the issuer already
//!   running at URL (audience `TestIssuer::AUDIENCE`, e.g. another
//!   `bench_server --issuer-only`). It writes no tokens.
//! - `--plain`: no issuer and no bearer-guard at all, only `GET /plain`: the
//!   baseline for resident memory.
//! - `--issuer-only`: only the embedded test issuer (writing the token files
//!   it is given, as above); it prints exactly one line to stdout,
//!   `issuer URL`, and serves until `--exit-after`. `benches/rss.sh` and
//!   `benches/callgrind_server.sh` run the server under test as
//!   `--issuer URL` against it, so that the issuer's own memory and work
//!   are not counted.
//!
//! Except with `--issuer-only`, keys are fetched (the layers' `warm_up`)
//! before it prints exactly one line to stdout, `listening on ADDR`. It exits
//! by itself after `--exit-after` seconds (default 900).

use std::io::Write;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use bearer_guard::testing::TestIssuer;
use bearer_guard::{BearerAuthLayer, Requirement, TypPolicy, require};

#[path = "../benches/support/mod.rs"]
mod support;

const USAGE: &str = "usage: bench_server --tokens FILE [--entra-tokens FILE] [--pool N] [--no-token-cache] [--workers N] [--exit-after SECS]
       bench_server --issuer URL [--no-token-cache] [--workers N] [--exit-after SECS]
       bench_server --plain [--workers N] [--exit-after SECS]
       bench_server --issuer-only [--tokens FILE] [--entra-tokens FILE] [--pool N] [--workers N] [--exit-after SECS]";

/// What runs.
enum Mode {
    /// The embedded issuer, tokens written, bearer-guard routes.
    Embedded,
    /// Bearer-guard routes trusting an issuer already running at this URL.
    Issuer(String),
    /// `/plain` only: no issuer, no bearer-guard.
    Plain,
    /// The embedded issuer only.
    IssuerOnly,
}

struct Args {
    mode: Mode,
    tokens: String,
    entra_tokens: Option<String>,
    pool: usize,
    token_cache: bool,
    workers: usize,
    exit_after: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        mode: Mode::Embedded,
        tokens: String::new(),
        entra_tokens: None,
        pool: 1000,
        token_cache: true,
        workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
        exit_after: 900,
    };
    let mut modes = 0;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let number = |v: String| v.parse().map_err(|_| format!("bad number `{v}`"));
        match flag.as_str() {
            "--tokens" => args.tokens = value()?,
            "--entra-tokens" => args.entra_tokens = Some(value()?),
            "--pool" => args.pool = number(value()?)?,
            "--workers" => args.workers = number(value()?)?,
            "--exit-after" => args.exit_after = number(value()?)? as u64,
            "--no-token-cache" => args.token_cache = false,
            "--issuer" => (args.mode, modes) = (Mode::Issuer(value()?), modes + 1),
            "--plain" => (args.mode, modes) = (Mode::Plain, modes + 1),
            "--issuer-only" => (args.mode, modes) = (Mode::IssuerOnly, modes + 1),
            _ => return Err(format!("unknown argument `{flag}`")),
        }
    }
    if modes > 1 {
        return Err("--issuer, --plain and --issuer-only exclude each other".into());
    }
    let writes_tokens = !args.tokens.is_empty() || args.entra_tokens.is_some();
    match args.mode {
        Mode::Embedded if args.tokens.is_empty() => {
            return Err("--tokens is required (unless --issuer, --plain or --issuer-only)".into());
        }
        Mode::Issuer(_) if writes_tokens => {
            return Err("--issuer writes no tokens: drop --tokens and --entra-tokens".into());
        }
        Mode::Plain if writes_tokens || !args.token_cache => {
            return Err("--plain takes only --workers and --exit-after".into());
        }
        Mode::IssuerOnly if !args.token_cache => {
            return Err("--issuer-only serves no API: drop --no-token-cache".into());
        }
        _ => {}
    }
    if args.pool == 0 || args.workers == 0 {
        return Err("--pool and --workers must be positive".into());
    }
    Ok(args)
}

fn layer(issuer: &str, cache: bool) -> Result<BearerAuthLayer, bearer_guard::ConfigError> {
    let builder = BearerAuthLayer::builder()
        .issuer(issuer)
        .audience(TestIssuer::AUDIENCE)
        .typ(TypPolicy::AccessTokenOrJwt)
        .key_set_max_age(Duration::from_secs(3600));
    if cache {
        builder.build()
    } else {
        builder.token_cache_bytes(0).build()
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args().unwrap_or_else(|e| {
        eprintln!("bench_server: {e}\n{USAGE}");
        std::process::exit(2)
    });
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.workers)
        .enable_all()
        .build()?
        .block_on(serve(args))
}

async fn serve(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let deadline = tokio::time::sleep(Duration::from_secs(args.exit_after));
    // Kept alive until the end: dropping it stops the issuer.
    let embedded;
    let issuer_url = match &args.mode {
        Mode::Plain => {
            let app = Router::new().route("/plain", get(|| async { "hello" }));
            return listen(app, deadline).await;
        }
        Mode::IssuerOnly => {
            let issuer = TestIssuer::start().await?;
            write_tokens(&issuer, &args)?;
            println!("issuer {}", issuer.issuer());
            std::io::stdout().flush()?;
            deadline.await;
            return Ok(());
        }
        Mode::Issuer(url) => url.clone(),
        Mode::Embedded => {
            let issuer = TestIssuer::start().await?;
            write_tokens(&issuer, &args)?;
            embedded = issuer;
            embedded.issuer().to_owned()
        }
    };

    let read = Requirement::scope("notes.read").or(Requirement::role("Notes.Read.All"));
    let cached = layer(&issuer_url, args.token_cache)?;
    let uncached = layer(&issuer_url, false)?;
    for validator in [cached.validator(), uncached.validator()] {
        if !validator.warm_up().await {
            return Err("the key set did not load".into());
        }
    }
    let app = Router::new()
        .route("/plain", get(|| async { "hello" }))
        .merge(
            Router::new()
                .route("/protected", get(|| async { "notes" }))
                .route("/me", get(support::me))
                .route_layer(require(read.clone()))
                .route_layer(cached),
        )
        .merge(
            Router::new()
                .route("/protected-nocache", get(|| async { "notes" }))
                .route("/me-nocache", get(support::me))
                .route_layer(require(read))
                .route_layer(uncached),
        );
    listen(app, deadline).await
}

/// Writes the token pool(s) the embedded issuer signs.
fn write_tokens(issuer: &TestIssuer, args: &Args) -> std::io::Result<()> {
    if !args.tokens.is_empty() {
        let mut file = std::io::BufWriter::new(std::fs::File::create(&args.tokens)?);
        for n in 0..args.pool {
            let token = issuer
                .token()
                .scope("notes.read profile")
                .claim("jti", format!("load-{n:06}"))
                .expires_in(24 * 3600)
                .sign();
            writeln!(file, "{token}")?;
        }
        file.flush()?;
    }
    if let Some(path) = &args.entra_tokens {
        let kid = issuer.current_kid();
        let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
        for n in 0..args.pool {
            let token = support::token(issuer, &kid, support::Size::Entra, n);
            writeln!(file, "{token}")?;
        }
        file.flush()?;
    }
    Ok(())
}

/// Binds `127.0.0.1:0`, prints `listening on ADDR`, serves until `deadline`.
async fn listen(
    app: Router,
    deadline: tokio::time::Sleep,
) -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("listening on {}", listener.local_addr()?);
    std::io::stdout().flush()?;
    axum::serve(listener, app)
        .with_graceful_shutdown(deadline)
        .await?;
    Ok(())
}
