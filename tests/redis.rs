//! The Redis replay store (feature `redis`, issue 15) against a real
//! `redis-server`, started by this binary on a free 127.0.0.1 port for each
//! case, with a password, no persistence, and killed when the case ends
//! (also when it panics or times out).
//!
//! - Two validator instances (two layers, each with its own
//!   `RedisReplayStore` on the same server), as two replicas of an API: a
//!   proof accepted by one is refused by the other (and by itself) with the
//!   exact `DPoP error="invalid_dpop_proof"` challenge; a fresh proof passes
//!   on the other; each proof is one key under the prefix, holding `1`, that
//!   expires within the proof window (`PTTL`).
//! - Redis failing: hung (every client paused), killed (refused
//!   connections, and a connection that a proxy accepts and closes): each
//!   request gets 503 with `Retry-After` and no challenge, and the handler is
//!   not reached; once a server answers again, the store reconnects by itself.
//! - Concurrency: many `insert_new` of one key at once, through two stores
//!   (two connections): exactly one is told the key is new.
//! - Connecting: to a port nobody listens on, with a wrong password: errors
//!   that name the server and never the password; `Debug` never shows it.
//!
//! Runs under `cargo test` with its own `main` (`harness = false`): when
//! `redis-server` is not on PATH it installs Debian's `redis-server` package
//! with `apt-get` (as root, or with `sudo -n`), the way the interop tests
//! install their npm packages; when it still cannot be had, it prints one
//! `redis: SKIPPED` line and passes. Accepts a name filter, `--exact`,
//! `--skip` and `--list` like libtest.

// The helpers `tests/it` shares; this binary uses a part of them.
#[path = "it/support/mod.rs"]
#[allow(dead_code)]
mod support;
// The runner it shares with `tests/interop.rs`.
#[path = "runner/mod.rs"]
mod runner;

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, ExitCode, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use bearer_guard::testing::{DpopKey, KeyKind, TestIssuer};
use bearer_guard::{Algorithm, BearerAuthLayer, Dpop, ManualClock, RedisReplayStore, ReplayStore};
use http::{Request, StatusCode, header};
use runner::Case;
use support::{POLL_DEADLINE, builder, now_on, start};
use tower::ServiceExt;

/// Printed, alone, when the tests cannot run here (the reason follows).
const SKIPPED: &str = "redis: SKIPPED — redis-server is not on PATH and could not be installed";

/// How long one case may take, all included.
const CASE_TIMEOUT: Duration = Duration::from_secs(60);

/// The password every test server is started with; the URLs carry it, and
/// no `Debug` or error may show it.
const PASSWORD: &str = "bearer-guard-test-secret-4f9c";

/// The API's public base URL (requests go in with `oneshot`).
const BASE: &str = "https://api.example.test";
/// The `algs` parameter of every DPoP challenge here.
const ALGS: &str = "algs=\"ES256 EdDSA PS256\"";
/// Proofs are accepted for this long after their `iat` ...
const MAX_AGE: Duration = Duration::from_secs(30);
/// ... with this leeway either side: the window is 40 s.
const LEEWAY: Duration = Duration::from_secs(5);
const WINDOW_MS: i64 = 40_000;
/// The keys of the layers under test.
const PREFIX: &str = "notes-api:dpop:";

/// A timeout for stores whose calls must succeed: on loopback they answer
/// in well under a millisecond; this is only there so that a broken build
/// cannot hang, never a margin a test relies on.
const GENEROUS: Duration = Duration::from_secs(10);

/// Each case: its name and what it runs.
const CASES: &[Case] = &[
    (
        "two_replicas_sharing_one_redis_refuse_each_others_proofs",
        CASE_TIMEOUT,
        || Box::pin(two_replicas_sharing_one_redis_refuse_each_others_proofs()),
    ),
    (
        "redis_hung_or_down_fails_closed_then_the_store_reconnects",
        CASE_TIMEOUT,
        || Box::pin(redis_hung_or_down_fails_closed_then_the_store_reconnects()),
    ),
    (
        "concurrent_inserts_of_one_key_through_two_stores_let_one_through",
        CASE_TIMEOUT,
        || Box::pin(concurrent_inserts_of_one_key_through_two_stores_let_one_through()),
    ),
    (
        "connecting_fails_without_showing_the_password",
        CASE_TIMEOUT,
        || Box::pin(connecting_fails_without_showing_the_password()),
    ),
    (
        "introspection_answers_are_shared_by_replicas",
        CASE_TIMEOUT,
        || Box::pin(introspection_answers_are_shared_by_replicas()),
    ),
];

// ---------------------------------------------------------------------------
// The runner
// ---------------------------------------------------------------------------

fn main() -> ExitCode {
    let selected = match runner::selected(CASES) {
        Ok(selected) => selected,
        Err(exit) => return exit,
    };
    let version = match redis_server() {
        Ok(version) => version,
        Err(why) => {
            println!("{SKIPPED} ({why}); install Debian's redis-server to run them");
            return ExitCode::SUCCESS;
        }
    };

    let running = format!("{} tests ({version})", selected.len());
    runner::run(selected, CASES.len(), &running)
}

// ---------------------------------------------------------------------------
// Getting redis-server
// ---------------------------------------------------------------------------

/// `redis-server --version`'s line; Debian's package is installed first
/// when there is no `redis-server` on PATH. `Err`: why there is none.
fn redis_server() -> Result<String, String> {
    if let Some(version) = redis_server_version()? {
        return Ok(version);
    }
    println!("redis: redis-server is not on PATH; installing Debian's redis-server with apt-get");
    let started = Instant::now();
    // A fresh machine may have no package lists yet: update, then again.
    if let Err(first) = apt_get(&["install", "-y", "--no-install-recommends", "redis-server"]) {
        apt_get(&["update"]).map_err(|e| format!("{first}; then {e}"))?;
        apt_get(&["install", "-y", "--no-install-recommends", "redis-server"])?;
    }
    let version =
        redis_server_version()?.ok_or("apt-get installed redis-server, but it is not on PATH")?;
    println!(
        "redis: installed redis-server in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(version)
}

/// `Ok(None)` when `redis-server` is not on PATH.
fn redis_server_version() -> Result<Option<String>, String> {
    match std::process::Command::new("redis-server")
        .arg("--version")
        .stdin(Stdio::null())
        .output()
    {
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("`redis-server --version` could not run: {e}")),
        Ok(out) if !out.status.success() => {
            Err(format!("`redis-server --version` failed ({})", out.status))
        }
        Ok(out) => Ok(Some(String::from_utf8_lossy(&out.stdout).trim().to_owned())),
    }
}

/// `apt-get ARGS`, non-interactively; with `sudo -n` unless root. Its
/// output is kept: the error says how it ended and its last line.
fn apt_get(args: &[&str]) -> Result<(), String> {
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0");
    let mut command = if root {
        std::process::Command::new("apt-get")
    } else {
        let mut sudo = std::process::Command::new("sudo");
        sudo.args(["-n", "env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]);
        sudo
    };
    let shown = format!(
        "{}apt-get {}",
        if root { "" } else { "sudo -n " },
        args.join(" ")
    );
    let out = command
        .args(["-q", "-o", "Dpkg::Use-Pty=0"])
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("`{shown}` could not run: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().rev().find(|l| !l.trim().is_empty());
    Err(format!(
        "`{shown}` failed ({}): {}",
        out.status,
        last.unwrap_or("no message")
    ))
}

// ---------------------------------------------------------------------------
// A redis-server of the test's own, and a relay in front of it
// ---------------------------------------------------------------------------

/// A `redis-server` on a free 127.0.0.1 port, with [`PASSWORD`], without
/// persistence: killed (by its PID) when dropped.
struct RedisServer {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl RedisServer {
    async fn start() -> RedisServer {
        // The port is picked by binding port 0 and letting it go: another
        // process may take it in between, so a clash is tried again.
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let log = std::env::temp_dir().join(format!(
                "bearer-guard-redis-{}-{port}.log",
                std::process::id()
            ));
            let child = std::process::Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .args(["--requirepass", PASSWORD])
                .args(["--dir", &std::env::temp_dir().to_string_lossy()])
                .args(["--logfile", &log.to_string_lossy()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn redis-server");
            let mut server = RedisServer { child, port, log };
            if server.ready().await {
                return server;
            }
        }
        panic!("redis-server: five ports in a row were taken");
    }

    /// Waits until the server answers `PING` (true) or exits because its
    /// port was taken (false); panics on any other exit.
    async fn ready(&mut self) -> bool {
        let deadline = Instant::now() + POLL_DEADLINE;
        loop {
            match self.child.try_wait().expect("try_wait") {
                Some(status) => {
                    let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                    if log.contains("Address already in use") {
                        return false;
                    }
                    panic!("redis-server exited ({status}):\n{log}");
                }
                None => {
                    if let Ok(mut connection) = self.connection().await
                        && let Ok(pong) = redis::cmd("PING")
                            .query_async::<String>(&mut connection)
                            .await
                    {
                        assert_eq!(pong, "PONG");
                        return true;
                    }
                }
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer PING within {POLL_DEADLINE:?}"
            );
            // A poll interval, not a margin.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn url(&self) -> String {
        format!("redis://:{PASSWORD}@127.0.0.1:{}", self.port)
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// A plain client connection, for the test's own commands.
    async fn connection(&self) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
        redis::Client::open(self.url())?
            .get_multiplexed_async_connection()
            .await
    }

    /// A store on this server, under [`PREFIX`].
    async fn store(&self, timeout: Duration) -> RedisReplayStore {
        RedisReplayStore::builder(self.url())
            .key_prefix(PREFIX)
            .timeout(timeout)
            .connect()
            .await
            .expect("store connects")
    }

    /// Kills the server and waits for it to exit.
    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            eprintln!(
                "--- log of redis-server :{} ---\n{log}--- end ---",
                self.port
            );
        }
        let _ = std::fs::remove_file(&self.log);
    }
}

/// A TCP relay on 127.0.0.1 in front of a server that can be swapped: a
/// store connects to one address while the server behind it dies and
/// another takes its place. While nothing listens at the target, it
/// accepts connections and closes them (as a proxy in front of a dead
/// Redis does).
struct Relay {
    addr: SocketAddr,
    target: Arc<Mutex<SocketAddr>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Relay {
    async fn start(target: SocketAddr) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let target = Arc::new(Mutex::new(target));
        let to = Arc::clone(&target);
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = *to.lock().expect("lock");
                tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Relay {
            addr,
            target,
            accept,
        }
    }

    fn url(&self) -> String {
        format!("redis://:{PASSWORD}@{}", self.addr)
    }

    /// New connections go to `target`.
    fn retarget(&self, target: SocketAddr) {
        *self.target.lock().expect("lock") = target;
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

// ---------------------------------------------------------------------------
// The API under test
// ---------------------------------------------------------------------------

/// A local issuer, a DPoP key, and a token bound to it granting `notes.read`.
struct Setup {
    issuer: TestIssuer,
    clock: ManualClock,
    key: DpopKey,
    token: String,
}

impl Setup {
    async fn new() -> Setup {
        let issuer = start().await;
        let key = DpopKey::new(KeyKind::Es256, 0);
        let token = issuer
            .token()
            .scope("notes.read")
            .claim("cnf", key.cnf())
            .sign();
        Setup {
            issuer,
            clock: ManualClock::new(),
            key,
            token,
        }
    }

    /// A layer for one replica: DPoP at [`BASE`], its replays in `store`.
    fn layer(&self, store: RedisReplayStore) -> BearerAuthLayer {
        builder(&self.issuer)
            .clock(self.clock.clone())
            .leeway(LEEWAY)
            .dpop(
                Dpop::new(BASE)
                    .algorithms([Algorithm::ES256, Algorithm::EdDSA, Algorithm::PS256])
                    .max_age(MAX_AGE)
                    .replay_store(store),
            )
            .build()
            .expect("valid configuration")
    }

    /// A fresh proof (its own `jti`) for `GET /notes` with the token.
    fn proof(&self) -> String {
        self.key
            .proof("GET", &format!("{BASE}/notes"))
            .access_token(&self.token)
            .iat(now_on(&self.clock))
            .sign()
    }

    fn get(&self, proof: &str) -> Request<Body> {
        Request::get("/notes")
            .header(header::AUTHORIZATION, format!("DPoP {}", self.token))
            .header("DPoP", proof)
            .body(Body::empty())
            .expect("request")
    }
}

/// `GET /notes` behind `layer`, counting the handler's calls in `reached`.
fn api(layer: BearerAuthLayer, reached: &Arc<AtomicUsize>) -> Router {
    let reached = Arc::clone(reached);
    Router::new()
        .route(
            "/notes",
            get(move || {
                reached.fetch_add(1, Ordering::SeqCst);
                async { "notes" }
            }),
        )
        .layer(layer)
}

/// What a test asserts of a response: status, every challenge,
/// `Retry-After`, body.
#[derive(Debug, PartialEq, Eq)]
struct Answer {
    status: StatusCode,
    challenges: Vec<String>,
    retry_after: Option<String>,
    body: String,
}

async fn call(app: &Router, request: Request<Body>) -> Answer {
    let response = app.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let text = |v: &http::HeaderValue| v.to_str().expect("ascii").to_owned();
    let challenges = response
        .headers()
        .get_all(header::WWW_AUTHENTICATE)
        .iter()
        .map(text)
        .collect();
    let retry_after = response.headers().get(header::RETRY_AFTER).map(text);
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    Answer {
        status,
        challenges,
        retry_after,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

fn passed() -> Answer {
    Answer {
        status: StatusCode::OK,
        challenges: vec![],
        retry_after: None,
        body: "notes".to_owned(),
    }
}

/// RFC 9449 §7.1: the proof is refused (here, replayed).
fn proof_refused() -> Answer {
    Answer {
        status: StatusCode::UNAUTHORIZED,
        challenges: vec![format!("DPoP error=\"invalid_dpop_proof\", {ALGS}")],
        retry_after: None,
        body: String::new(),
    }
}

/// The store could not answer: 503, `Retry-After: 1`, no challenge (the
/// client is not at fault), empty body.
fn unavailable() -> Answer {
    Answer {
        status: StatusCode::SERVICE_UNAVAILABLE,
        challenges: vec![],
        retry_after: Some("1".to_owned()),
        body: String::new(),
    }
}

/// The keys under [`PREFIX`], sorted.
async fn keys(server: &RedisServer) -> Vec<String> {
    let mut connection = server.connection().await.expect("connect");
    let mut keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{PREFIX}*"))
        .query_async(&mut connection)
        .await
        .expect("KEYS");
    keys.sort();
    keys
}

// ---------------------------------------------------------------------------
// The cases
// ---------------------------------------------------------------------------

async fn two_replicas_sharing_one_redis_refuse_each_others_proofs() {
    let server = RedisServer::start().await;
    let s = Setup::new().await;
    let reached = Arc::new(AtomicUsize::new(0));
    let store_one = server.store(GENEROUS).await;
    let shown = format!("{store_one:?}");
    assert!(!shown.contains(PASSWORD), "{shown}");
    assert!(
        shown.contains(&format!("127.0.0.1:{}/0", server.port)),
        "{shown}"
    );
    let one = api(s.layer(store_one), &reached);
    let two = api(s.layer(server.store(GENEROUS).await), &reached);

    let first = s.proof();
    assert_eq!(call(&one, s.get(&first)).await, passed());
    // Replayed to the other replica, then to the first one.
    assert_eq!(call(&two, s.get(&first)).await, proof_refused());
    assert_eq!(call(&one, s.get(&first)).await, proof_refused());
    // A fresh proof passes on the other replica, once.
    let second = s.proof();
    assert_eq!(call(&two, s.get(&second)).await, passed());
    assert_eq!(call(&one, s.get(&second)).await, proof_refused());
    assert_eq!(reached.load(Ordering::SeqCst), 2);

    // One key per accepted proof, holding 1, expiring within the window.
    let keys = keys(&server).await;
    assert_eq!(keys.len(), 2, "{keys:?}");
    let mut connection = server.connection().await.expect("connect");
    for key in &keys {
        let suffix = key.strip_prefix(PREFIX).expect("prefix");
        assert_eq!(suffix.len(), 43, "32 bytes in base64url: {key}");
        let value: String = redis::cmd("GET")
            .arg(key)
            .query_async(&mut connection)
            .await
            .expect("GET");
        assert_eq!(value, "1");
        let pttl: i64 = redis::cmd("PTTL")
            .arg(key)
            .query_async(&mut connection)
            .await
            .expect("PTTL");
        assert!(
            pttl > 0 && pttl <= WINDOW_MS,
            "PTTL {pttl} ms, window {WINDOW_MS} ms"
        );
    }
}

async fn redis_hung_or_down_fails_closed_then_the_store_reconnects() {
    let mut server = RedisServer::start().await;
    let relay = Relay::start(server.addr()).await;
    let s = Setup::new().await;
    let reached = Arc::new(AtomicUsize::new(0));
    // Through the relay (it will outlive the server), with a timeout short
    // enough for the hang below: a request waits this long at most.
    let hang_timeout = Duration::from_secs(2);
    let through_relay = RedisReplayStore::builder(relay.url())
        .key_prefix(PREFIX)
        .timeout(hang_timeout)
        .connect()
        .await
        .expect("store connects");
    let relayed = api(s.layer(through_relay), &reached);
    // Straight to the server: refused connections once it is gone.
    let direct = api(s.layer(server.store(GENEROUS).await), &reached);
    assert_eq!(call(&relayed, s.get(&s.proof())).await, passed());
    assert_eq!(call(&direct, s.get(&s.proof())).await, passed());
    assert_eq!(reached.load(Ordering::SeqCst), 2);

    // Hung: every client's writes paused (until unpaused), so SET gets no
    // answer; the store gives up after its timeout.
    let mut admin = server.connection().await.expect("connect");
    let paused: String = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(60_000)
        .arg("WRITE")
        .query_async(&mut admin)
        .await
        .expect("CLIENT PAUSE");
    assert_eq!(paused, "OK");
    let waited = Instant::now();
    assert_eq!(call(&relayed, s.get(&s.proof())).await, unavailable());
    // Only that the request did wait for the timeout (a lower bound, which
    // no slow machine can break), so it was the timeout that answered.
    assert!(waited.elapsed() >= hang_timeout);
    let unpaused: String = redis::cmd("CLIENT")
        .arg("UNPAUSE")
        .query_async(&mut admin)
        .await
        .expect("CLIENT UNPAUSE");
    assert_eq!(unpaused, "OK");
    drop(admin);
    eventually_passes(&s, &relayed).await;
    assert_eq!(reached.load(Ordering::SeqCst), 3);

    // Down: killed. The direct store's connections are refused; the
    // relay's are accepted and closed.
    server.stop();
    for round in 0..3 {
        assert_eq!(
            call(&direct, s.get(&s.proof())).await,
            unavailable(),
            "direct, round {round}"
        );
        assert_eq!(
            call(&relayed, s.get(&s.proof())).await,
            unavailable(),
            "relayed, round {round}"
        );
    }
    assert_eq!(reached.load(Ordering::SeqCst), 3, "no handler reached");

    // A new server behind the relay: the store reconnects by itself.
    let replacement = RedisServer::start().await;
    relay.retarget(replacement.addr());
    eventually_passes(&s, &relayed).await;
    assert_eq!(reached.load(Ordering::SeqCst), 4);
    assert_eq!(keys(&replacement).await.len(), 1);
}

/// Sends fresh proofs until one passes: every answer before is 503 with
/// `Retry-After` and no challenge. Fails after [`POLL_DEADLINE`].
async fn eventually_passes(s: &Setup, app: &Router) {
    let deadline = Instant::now() + POLL_DEADLINE;
    loop {
        let answer = call(app, s.get(&s.proof())).await;
        if answer == passed() {
            return;
        }
        assert_eq!(answer, unavailable());
        assert!(
            Instant::now() < deadline,
            "the store did not answer again within {POLL_DEADLINE:?}"
        );
        // A poll interval, not a margin.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn concurrent_inserts_of_one_key_through_two_stores_let_one_through() {
    let server = RedisServer::start().await;
    let stores = [server.store(GENEROUS).await, server.store(GENEROUS).await];
    const KEYS: u8 = 16;
    const CALLS_PER_STORE: usize = 16;
    let start = Arc::new(tokio::sync::Barrier::new(
        usize::from(KEYS) * CALLS_PER_STORE * 2,
    ));
    let mut calls = tokio::task::JoinSet::new();
    for key in 0..KEYS {
        for store in &stores {
            for _ in 0..CALLS_PER_STORE {
                let store = store.clone();
                let start = Arc::clone(&start);
                calls.spawn(async move {
                    start.wait().await;
                    let new = store
                        .insert_new([key; 32], Duration::from_secs(60))
                        .await
                        .expect("the store answers");
                    (key, new)
                });
            }
        }
    }
    let mut new_per_key = [0usize; KEYS as usize];
    let mut answers = 0;
    while let Some(joined) = calls.join_next().await {
        let (key, new) = joined.expect("task");
        answers += 1;
        if new {
            new_per_key[usize::from(key)] += 1;
        }
    }
    assert_eq!(answers, usize::from(KEYS) * CALLS_PER_STORE * 2);
    assert_eq!(new_per_key, [1; KEYS as usize]);
    assert_eq!(keys(&server).await.len(), usize::from(KEYS));
}

async fn connecting_fails_without_showing_the_password() {
    // A port bound but not listening: connections to it are refused.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind("127.0.0.1:0".parse().expect("addr"))
        .expect("bind");
    let port = socket.local_addr().expect("addr").port();
    let refused = RedisReplayStore::connect(&format!("redis://:{PASSWORD}@127.0.0.1:{port}"))
        .await
        .expect_err("nobody listens");
    let text = refused.to_string();
    assert!(
        text.starts_with(&format!("cannot connect to Redis at 127.0.0.1:{port}/0: ")),
        "{text}"
    );
    assert!(!text.contains(PASSWORD), "{text}");

    let server = RedisServer::start().await;
    let wrong = format!("redis://:not-{PASSWORD}@127.0.0.1:{}", server.port);
    let refused = RedisReplayStore::connect(&wrong)
        .await
        .expect_err("wrong password");
    let text = refused.to_string();
    assert!(
        text.starts_with(&format!(
            "cannot connect to Redis at 127.0.0.1:{}/0: ",
            server.port
        )),
        "{text}"
    );
    assert!(!text.contains(PASSWORD), "{text}");
    assert!(text.contains("authentication failed"), "{text}");
    drop(socket);
}

/// Issue 16 point 3: two replicas sharing one Redis introspect an opaque
/// token once between them (the second takes the first's answer, keyed by a
/// hash, never the token); a refusal is shared as well; a Redis that cannot
/// answer is passed by (the endpoint is asked, the request still served).
async fn introspection_answers_are_shared_by_replicas() {
    use bearer_guard::{Introspection, Issuer};
    let server = RedisServer::start().await;
    let issuer = start().await;
    let clock = ManualClock::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let now = now_on(&clock);
    let answers: Arc<std::collections::HashMap<&'static str, serde_json::Value>> = Arc::new(
        [
            (
                "opaque-shared",
                serde_json::json!({
                    "active": true, "iss": issuer.issuer(), "aud": TestIssuer::AUDIENCE,
                    "scope": "notes.read", "exp": now + 600, "token_type": "Bearer",
                }),
            ),
            ("opaque-revoked", serde_json::json!({"active": false})),
        ]
        .into_iter()
        .collect(),
    );
    let endpoint = {
        let (calls, answers) = (Arc::clone(&calls), Arc::clone(&answers));
        Router::new().route(
            "/introspect",
            axum::routing::post(move |body: String| {
                let (calls, answers) = (Arc::clone(&calls), Arc::clone(&answers));
                async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    let token = body
                        .split('&')
                        .find_map(|pair| pair.strip_prefix("token="))
                        .unwrap_or_default()
                        .to_owned();
                    let answer = answers
                        .get(token.as_str())
                        .cloned()
                        .unwrap_or(serde_json::json!({"active": false}));
                    (
                        [(header::CONTENT_TYPE, "application/json")],
                        answer.to_string(),
                    )
                }
            }),
        )
    };
    let url = format!("{}/introspect", support::serve(endpoint).await);
    let replica = |store: &RedisReplayStore| {
        let layer = BearerAuthLayer::builder()
            .trust(
                Issuer::new(issuer.issuer())
                    .audience(TestIssuer::AUDIENCE)
                    .introspection(
                        Introspection::client_secret_basic(&url, "notes-api", "secret")
                            .shared_cache(store),
                    ),
            )
            .clock(clock.clone())
            .build()
            .expect("valid configuration");
        api(layer, &Arc::new(AtomicUsize::new(0)))
    };
    let one = replica(&server.store(GENEROUS).await);
    let two = replica(&server.store(GENEROUS).await);
    let bearer = |token: &str| {
        Request::get("/notes")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .expect("request")
    };
    assert_eq!(call(&one, bearer("opaque-shared")).await, passed());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(call(&two, bearer("opaque-shared")).await, passed());
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the second replica used the first's answer"
    );
    let refused = call(&one, bearer("opaque-revoked")).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(call(&two, bearer("opaque-revoked")).await, refused);
    assert_eq!(calls.load(Ordering::SeqCst), 2, "a refusal is shared too");
    // What Redis holds: two keys, a hash each, never the token.
    let mut connection = server.connection().await.expect("connect");
    let mut shared: Vec<String> = redis::cmd("KEYS")
        .arg("bearer-guard:introspection:*")
        .query_async(&mut connection)
        .await
        .expect("KEYS");
    shared.sort();
    assert_eq!(shared.len(), 2, "{shared:?}");
    for key in &shared {
        assert!(!key.contains("opaque"), "{key}");
        let ttl: i64 = redis::cmd("PTTL")
            .arg(key)
            .query_async(&mut connection)
            .await
            .expect("PTTL");
        assert!(ttl > 0 && ttl <= 300_000, "{key}: {ttl}");
    }
    // Redis gone: each replica asks the endpoint itself, and serves.
    let mut server = server;
    server.stop();
    let three = replica(&{
        // A store needs a live server to connect: a fresh one, then gone too.
        let fresh = RedisServer::start().await;
        let store = fresh.store(Duration::from_millis(300)).await;
        drop(fresh);
        store
    });
    assert_eq!(call(&three, bearer("opaque-shared")).await, passed());
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "asked the endpoint, Redis being down"
    );
}
