//! The server `benches/load.sh` drives: an axum app with its own embedded test
//! issuer, on loopback. Not an example to copy: its issuer's keys are public.
//!
//! ```text
//! bench_server --tokens FILE [--pool N] [--no-token-cache] [--workers N] [--exit-after SECS]
//! ```
//!
//! | route | needs |
//! |---|---|
//! | `GET /plain` | nothing |
//! | `GET /protected` | a valid token with scope `notes.read` (token cache on, unless `--no-token-cache`) |
//! | `GET /protected-nocache` | the same, token cache off: every request is a full validation |
//!
//! It writes `--pool` distinct RS256 (RSA 2048) tokens to FILE, one a line,
//! valid for a day; the first line is the one `load.sh` repeats. Keys are
//! fetched before it prints exactly one line to stdout, `listening on ADDR`.
//! It exits by itself after `--exit-after` seconds (default 900).

use std::io::Write;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use bearer_guard::testing::TestIssuer;
use bearer_guard::{BearerAuthLayer, Requirement, TypPolicy, require};

const USAGE: &str = "usage: bench_server --tokens FILE [--pool N] [--no-token-cache] [--workers N] [--exit-after SECS]";

struct Args {
    tokens: String,
    pool: usize,
    token_cache: bool,
    workers: usize,
    exit_after: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        tokens: String::new(),
        pool: 1000,
        token_cache: true,
        workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
        exit_after: 900,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let number = |v: String| v.parse().map_err(|_| format!("bad number `{v}`"));
        match flag.as_str() {
            "--tokens" => args.tokens = value()?,
            "--pool" => args.pool = number(value()?)?,
            "--workers" => args.workers = number(value()?)?,
            "--exit-after" => args.exit_after = number(value()?)? as u64,
            "--no-token-cache" => args.token_cache = false,
            _ => return Err(format!("unknown argument `{flag}`")),
        }
    }
    if args.tokens.is_empty() || args.pool == 0 || args.workers == 0 {
        return Err("--tokens is required; --pool and --workers must be positive".into());
    }
    Ok(args)
}

fn layer(issuer: &TestIssuer, cache: bool) -> Result<BearerAuthLayer, bearer_guard::ConfigError> {
    let builder = BearerAuthLayer::builder()
        .issuer(issuer.issuer())
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
    let issuer = TestIssuer::start().await?;
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

    let read = Requirement::scope("notes.read").or(Requirement::role("Notes.Read.All"));
    let cached = layer(&issuer, args.token_cache)?;
    let uncached = layer(&issuer, false)?;
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
                .route_layer(require(read.clone()))
                .route_layer(cached),
        )
        .merge(
            Router::new()
                .route("/protected-nocache", get(|| async { "notes" }))
                .route_layer(require(read))
                .route_layer(uncached),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("listening on {}", listener.local_addr()?);
    std::io::stdout().flush()?;
    let deadline = tokio::time::sleep(Duration::from_secs(args.exit_after));
    axum::serve(listener, app)
        .with_graceful_shutdown(deadline)
        .await?;
    Ok(())
}
