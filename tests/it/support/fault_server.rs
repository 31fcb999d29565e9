//! A fault-injecting JWKS server on loopback, for the key-management tests.
//!
//! It serves a [`TestIssuer`]'s current key set (`jwks_document()`, read at
//! each request, so `rotate()` and `remove_key()` show at once) and can be
//! switched at run time to misbehave in one of the ways an identity provider
//! does: a 500, a hang, a dripping body, a 50 MB body, invalid JSON, an empty
//! key set, a redirect. It counts every request, by how it was answered, and
//! every byte its streamed bodies handed to the connection, so tests assert
//! exact or bounded traffic. Normal answers can be held back until the test
//! releases them ([`FaultServer::hold`]), to keep a fetch in flight for as long
//! as a test needs, without guessing a delay.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bearer_guard::testing::TestIssuer;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How the server answers `GET /jwks`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// 200 with the issuer's current key set (and the configured
    /// `Cache-Control`, if any).
    Normal,
    /// 500, with the issuer's real, valid key set as the body: only the status
    /// says it is an error.
    ServerError,
    /// Reads the request and never answers.
    Hang,
    /// 200 and the real key set, one byte every [`DRIP_INTERVAL`]: real time,
    /// since what it exercises is the client's real fetch timeout.
    Drip,
    /// 200 and a [`HUGE_BYTES`] body, streamed in chunks without a
    /// `Content-Length` (so only counting while reading can stop it).
    Huge,
    /// The same body, announced with `Content-Length: HUGE_BYTES`.
    HugeDeclared,
    /// 200, `application/json`, but not JSON.
    InvalidJson,
    /// 200 and `{"keys":[]}`.
    EmptySet,
    /// 302 to the issuer's real JWKS URL (which serves a valid key set).
    Redirect,
}

/// The pace of [`Mode::Drip`].
pub const DRIP_INTERVAL: Duration = Duration::from_millis(200);
/// The size of the body of [`Mode::Huge`] and [`Mode::HugeDeclared`]: 50 MB.
pub const HUGE_BYTES: usize = 50 * 1024 * 1024;
const CHUNK_BYTES: usize = 64 * 1024;
static SPACES: [u8; CHUNK_BYTES] = [b' '; CHUNK_BYTES];

struct Shared {
    issuer: Arc<TestIssuer>,
    mode: Mutex<Mode>,
    cache_control: Mutex<Option<String>>,
    /// For [`Mode::Normal`]: while `true`, answers wait between reading the
    /// key set and sending it (a response in flight) until it turns `false`.
    held: watch::Sender<bool>,
    requests: AtomicUsize,
    served: AtomicUsize,
    faulted: AtomicUsize,
    streams_opened: AtomicUsize,
    streams_closed: AtomicUsize,
    bytes_streamed: AtomicUsize,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// A running fault server; stops accepting connections when dropped.
pub struct FaultServer {
    shared: Arc<Shared>,
    base: String,
    task: JoinHandle<()>,
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultServer {
    /// Starts a server on a free loopback port, in [`Mode::Normal`].
    pub async fn start(issuer: Arc<TestIssuer>) -> FaultServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let shared = Arc::new(Shared {
            issuer,
            mode: Mutex::new(Mode::Normal),
            cache_control: Mutex::new(None),
            held: watch::Sender::new(false),
            requests: AtomicUsize::new(0),
            served: AtomicUsize::new(0),
            faulted: AtomicUsize::new(0),
            streams_opened: AtomicUsize::new(0),
            streams_closed: AtomicUsize::new(0),
            bytes_streamed: AtomicUsize::new(0),
        });
        let router = Router::new()
            .route("/jwks", get(jwks))
            .with_state(Arc::clone(&shared));
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.expect("serve");
        });
        FaultServer { shared, base, task }
    }

    /// A new test issuer (shared with its server) and a server for it.
    pub async fn with_issuer() -> (Arc<TestIssuer>, FaultServer) {
        let issuer = Arc::new(TestIssuer::start().await.expect("issuer"));
        let server = FaultServer::start(Arc::clone(&issuer)).await;
        (issuer, server)
    }

    /// The JWKS URL to give the layer.
    pub fn url(&self) -> String {
        format!("{}/jwks", self.base)
    }

    /// How the next requests are answered.
    pub fn set(&self, mode: Mode) {
        *lock(&self.shared.mode) = mode;
    }

    /// The `Cache-Control` value sent with normal answers (`None`: no header).
    pub fn set_cache_control(&self, value: Option<&str>) {
        *lock(&self.shared.cache_control) = value.map(str::to_owned);
    }

    /// In [`Mode::Normal`], from now on, read the key set at once but hold the
    /// answer back until [`release`](Self::release): the fetch stays in flight,
    /// with the document it will deliver already fixed.
    pub fn hold(&self) {
        self.shared.held.send_replace(true);
    }

    /// Sends every answer held back, and answers at once again.
    pub fn release(&self) {
        self.shared.held.send_replace(false);
    }

    /// Every request received on `/jwks`, however answered (or not).
    pub fn requests(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// Requests answered normally (200 and the real key set).
    pub fn served(&self) -> usize {
        self.shared.served.load(Ordering::SeqCst)
    }

    /// Requests received in a fault mode.
    pub fn faulted(&self) -> usize {
        self.shared.faulted.load(Ordering::SeqCst)
    }

    /// Streamed bodies ([`Mode::Drip`], [`Mode::Huge`], [`Mode::HugeDeclared`])
    /// started.
    pub fn streams_opened(&self) -> usize {
        self.shared.streams_opened.load(Ordering::SeqCst)
    }

    /// Streamed bodies dropped by the server: finished, or (as here) abandoned
    /// because the client went away.
    pub fn streams_closed(&self) -> usize {
        self.shared.streams_closed.load(Ordering::SeqCst)
    }

    /// Bytes of streamed bodies handed to the connection so far: an upper
    /// bound on what reached the socket.
    pub fn bytes_streamed(&self) -> usize {
        self.shared.bytes_streamed.load(Ordering::SeqCst)
    }
}

/// Counts a streamed body as closed when the server drops it.
struct StreamGuard(Arc<Shared>);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.streams_closed.fetch_add(1, Ordering::SeqCst);
    }
}

fn json_response(status: StatusCode, body: impl Into<Body>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.into(),
    )
        .into_response()
}

async fn jwks(State(shared): State<Arc<Shared>>) -> Response {
    shared.requests.fetch_add(1, Ordering::SeqCst);
    let mode = *lock(&shared.mode);
    if mode == Mode::Normal {
        let document = shared.issuer.jwks_document();
        let _ = shared.held.subscribe().wait_for(|held| !held).await;
        shared.served.fetch_add(1, Ordering::SeqCst);
        let mut response = json_response(StatusCode::OK, document);
        if let Some(value) = lock(&shared.cache_control).clone() {
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                value.parse().expect("cache-control value"),
            );
        }
        return response;
    }
    shared.faulted.fetch_add(1, Ordering::SeqCst);
    match mode {
        Mode::Normal => unreachable!("answered above"),
        Mode::ServerError => json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            shared.issuer.jwks_document(),
        ),
        Mode::Hang => std::future::pending::<Response>().await,
        Mode::Drip => json_response(StatusCode::OK, drip(&shared)),
        Mode::Huge => json_response(StatusCode::OK, huge(&shared)),
        Mode::HugeDeclared => {
            let mut response = json_response(StatusCode::OK, huge(&shared));
            response
                .headers_mut()
                .insert(header::CONTENT_LENGTH, HUGE_BYTES.into());
            response
        }
        Mode::InvalidJson => json_response(StatusCode::OK, "{\"keys\": [ this is not JSON"),
        Mode::EmptySet => json_response(StatusCode::OK, "{\"keys\":[]}"),
        Mode::Redirect => (
            StatusCode::FOUND,
            [(header::LOCATION, shared.issuer.jwks_uri())],
        )
            .into_response(),
    }
}

/// The real key set, one byte per [`DRIP_INTERVAL`].
fn drip(shared: &Arc<Shared>) -> Body {
    shared.streams_opened.fetch_add(1, Ordering::SeqCst);
    let document = Bytes::from(shared.issuer.jwks_document());
    let state = (StreamGuard(Arc::clone(shared)), document, 0usize);
    Body::from_stream(futures_util::stream::unfold(
        state,
        |(guard, document, sent)| async move {
            if sent == document.len() {
                return None;
            }
            // A real wait: the drip is there to run into the client's real
            // fetch timeout (reqwest's timer), which no injected clock drives.
            tokio::time::sleep(DRIP_INTERVAL).await;
            guard.0.bytes_streamed.fetch_add(1, Ordering::SeqCst);
            let byte = document.slice(sent..=sent);
            Some((Ok::<_, Infallible>(byte), (guard, document, sent + 1)))
        },
    ))
}

/// [`HUGE_BYTES`] of a JSON object that never ends: `{"keys":[` and spaces,
/// in 64 KiB chunks, each counted as it is handed to the connection.
fn huge(shared: &Arc<Shared>) -> Body {
    shared.streams_opened.fetch_add(1, Ordering::SeqCst);
    let state = (StreamGuard(Arc::clone(shared)), 0usize);
    Body::from_stream(futures_util::stream::unfold(
        state,
        |(guard, sent)| async move {
            if sent >= HUGE_BYTES {
                return None;
            }
            let chunk = if sent == 0 {
                Bytes::from_static(b"{\"keys\":[")
            } else {
                Bytes::from_static(&SPACES[..CHUNK_BYTES.min(HUGE_BYTES - sent)])
            };
            guard
                .0
                .bytes_streamed
                .fetch_add(chunk.len(), Ordering::SeqCst);
            let sent = sent + chunk.len();
            Some((Ok::<_, Infallible>(chunk), (guard, sent)))
        },
    ))
}
