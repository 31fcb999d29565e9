//! A local OpenID issuer for tests (feature `testing`).
//!
//! [`TestIssuer::start`] serves discovery and a JWKS on `127.0.0.1:0`, mints
//! tokens with any claims, algorithm and `kid`, rotates keys, and counts the
//! requests it serves, so tests can assert exactly how much traffic a scenario
//! caused.
//!
//! **Never enable this feature in production.** Its signing keys are fixed and
//! published in this crate's source; they are only ever trusted by a layer
//! pointed at the local issuer.
//!
//! ```
//! use bearer_guard::testing::TestIssuer;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let issuer = TestIssuer::start().await?;
//! let token = issuer.token().scope("notes.read").sign();
//! let validator = bearer_guard::BearerAuthLayer::builder()
//!     .issuer(issuer.issuer())
//!     .audience(TestIssuer::AUDIENCE)
//!     .build_validator()
//!     .map_err(std::io::Error::other)?;
//! let authenticated = validator.validate(&token).await.map_err(std::io::Error::other)?;
//! assert!(authenticated.scopes().contains("notes.read"));
//! # Ok(())
//! # }
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::EncodingKey;
use jsonwebtoken::jwk::Jwk;
use serde_json::{Map, Value, json};
use tokio::sync::oneshot;

use crate::clock::{Clock, SystemClock, Time};

mod dpop;
use crate::token::algorithm::Algorithm;
pub use dpop::{DpopKey, DpopProof};

/// A kind of signing key the test issuer can publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyKind {
    /// RSA 2048, RS256.
    Rs256,
    /// RSA 2048, PS256.
    Ps256,
    /// P-256, ES256.
    Es256,
    /// P-384, ES384.
    Es384,
    /// Ed25519, EdDSA.
    EdDsa,
}

impl KeyKind {
    /// The algorithm this kind of key signs with.
    pub fn algorithm(self) -> Algorithm {
        match self {
            KeyKind::Rs256 => Algorithm::RS256,
            KeyKind::Ps256 => Algorithm::PS256,
            KeyKind::Es256 => Algorithm::ES256,
            KeyKind::Es384 => Algorithm::ES384,
            KeyKind::EdDsa => Algorithm::EdDSA,
        }
    }

    /// The fixed PEM pool for this kind; successive keys of a kind cycle through it.
    fn pool(self) -> &'static [&'static str] {
        const RSA: &[&str] = &[
            include_str!("keys/rsa2048_1.pem"),
            include_str!("keys/rsa2048_2.pem"),
            include_str!("keys/rsa2048_3.pem"),
        ];
        match self {
            KeyKind::Rs256 | KeyKind::Ps256 => RSA,
            KeyKind::Es256 => &[
                include_str!("keys/p256_1.pem"),
                include_str!("keys/p256_2.pem"),
            ],
            KeyKind::Es384 => &[include_str!("keys/p384_1.pem")],
            KeyKind::EdDsa => &[
                include_str!("keys/ed25519_1.pem"),
                include_str!("keys/ed25519_2.pem"),
            ],
        }
    }
}

struct SigningKey {
    kid: String,
    kind: KeyKind,
    encoding: EncodingKey,
    jwk: Value,
}

#[derive(Default)]
struct Keys {
    published: Vec<SigningKey>,
    /// The `kid` used when a token does not choose one.
    current: Option<String>,
    /// How many keys of each kind were made (to cycle the pools).
    made: usize,
}

struct Shared {
    issuer: String,
    /// What `iat` and `exp` are minted from.
    clock: Mutex<Time>,
    /// Extra discovery documents: path prefix -> (issuer named, times served).
    documents: Mutex<Vec<(String, String, usize)>>,
    keys: Mutex<Keys>,
    discovery_requests: AtomicUsize,
    jwks_requests: AtomicUsize,
    jwks_delay_ms: AtomicUsize,
}

impl Shared {
    fn keys(&self) -> MutexGuard<'_, Keys> {
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn documents(&self) -> MutexGuard<'_, Vec<(String, String, usize)>> {
        self.documents.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A local OpenID issuer on `127.0.0.1`. Stops when dropped.
pub struct TestIssuer {
    shared: Arc<Shared>,
    _shutdown: oneshot::Sender<()>,
}

impl std::fmt::Debug for TestIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestIssuer")
            .field("issuer", &self.shared.issuer)
            .finish_non_exhaustive()
    }
}

impl TestIssuer {
    /// The audience tokens carry unless told otherwise.
    pub const AUDIENCE: &'static str = "api://bearer-guard-test";

    /// Starts an issuer on a free loopback port, publishing one RS256 key.
    pub async fn start() -> std::io::Result<TestIssuer> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            issuer: format!("http://{addr}"),
            clock: Mutex::new(Time::new(Arc::new(SystemClock))),
            keys: Mutex::new(Keys::default()),
            documents: Mutex::new(Vec::new()),
            discovery_requests: AtomicUsize::new(0),
            jwks_requests: AtomicUsize::new(0),
            jwks_delay_ms: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .fallback(extra_discovery)
            .with_state(Arc::clone(&shared));
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        let issuer = TestIssuer {
            shared,
            _shutdown: tx,
        };
        issuer.add_key(KeyKind::Rs256);
        Ok(issuer)
    }

    /// Mints `iat` and `exp` from `clock` from now on (default: the system
    /// clock): give it the [`ManualClock`](crate::ManualClock) the layer
    /// under test reads, and tokens minted after the clock moves are current
    /// for the layer.
    pub fn use_clock(&self, clock: impl Clock) {
        *self.shared.clock.lock().unwrap_or_else(|p| p.into_inner()) = Time::new(Arc::new(clock));
    }

    /// Seconds since the epoch on this issuer's clock.
    fn now_secs(&self) -> i64 {
        self.shared
            .clock
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .now_secs()
    }

    /// The issuer URL (`http://127.0.0.1:PORT`), also every token's `iss`.
    pub fn issuer(&self) -> &str {
        &self.shared.issuer
    }

    /// The JWKS URL.
    pub fn jwks_uri(&self) -> String {
        format!("{}/jwks", self.shared.issuer)
    }

    /// How many discovery documents were served.
    pub fn discovery_requests(&self) -> usize {
        self.shared.discovery_requests.load(Ordering::SeqCst)
    }

    /// How many JWKS documents were served.
    pub fn jwks_requests(&self) -> usize {
        self.shared.jwks_requests.load(Ordering::SeqCst)
    }

    /// Also serves a discovery document at
    /// `{issuer}{path}/.well-known/openid-configuration` naming `issuer_name`
    /// (any string, such as a Microsoft tenant template) and this issuer's
    /// JWKS, as providers with several metadata documents do (Entra's `common`
    /// endpoint, one per Azure AD B2C policy). Returns the document's URL.
    /// Serving a path again replaces its document and resets its count.
    pub fn serve_discovery(&self, path: &str, issuer_name: &str) -> String {
        let path = path.trim_end_matches('/').to_owned();
        let mut documents = self.shared.documents();
        documents.retain(|(p, _, _)| *p != path);
        documents.push((path.clone(), issuer_name.to_owned(), 0));
        format!(
            "{}{path}/.well-known/openid-configuration",
            self.shared.issuer
        )
    }

    /// How many times the document added by [`serve_discovery`](Self::serve_discovery)
    /// at `path` was served.
    pub fn discovery_requests_at(&self, path: &str) -> usize {
        let path = path.trim_end_matches('/');
        self.shared
            .documents()
            .iter()
            .find(|(p, _, _)| p == path)
            .map_or(0, |(_, _, served)| *served)
    }

    /// The JWKS document this issuer serves right now, for a test server of
    /// your own (a fault-injecting proxy, say) to serve.
    pub fn jwks_document(&self) -> String {
        jwks_json(&self.shared)
    }

    /// Makes the JWKS endpoint wait this long before answering (to hold many
    /// requests inside one fetch).
    pub fn set_jwks_delay(&self, delay: Duration) {
        let ms = usize::try_from(delay.as_millis()).unwrap_or(usize::MAX);
        self.shared.jwks_delay_ms.store(ms, Ordering::SeqCst);
    }

    /// Publishes a new key of `kind` and makes it the default signing key.
    /// Returns its `kid`.
    pub fn add_key(&self, kind: KeyKind) -> String {
        let mut keys = self.shared.keys();
        keys.made += 1;
        let kid = format!("{}-{}", format!("{kind:?}").to_lowercase(), keys.made);
        let pool = kind.pool();
        let pem = pool
            .get(keys.made % pool.len())
            .or(pool.first())
            .copied()
            .unwrap_or_default();
        let (encoding, jwk) = load(kind, pem, &kid);
        keys.published.push(SigningKey {
            kid: kid.clone(),
            kind,
            encoding,
            jwk,
        });
        keys.current = Some(kid.clone());
        kid
    }

    /// Rotation: publishes a new key of the current key's kind and signs with it
    /// from now on; the old key stays published until [`remove_key`](Self::remove_key).
    pub fn rotate(&self) -> String {
        let kind = {
            let keys = self.shared.keys();
            keys.current
                .as_ref()
                .and_then(|kid| keys.published.iter().find(|k| &k.kid == kid))
                .map_or(KeyKind::Rs256, |k| k.kind)
        };
        self.add_key(kind)
    }

    /// Publishes `issuer` as the `issuer` member of the key `kid`, as
    /// Microsoft's multi-tenant key set does (`…/{tenantid}/v2.0`). Returns
    /// whether such a key is published.
    pub fn bind_key_to_issuer(&self, kid: &str, issuer: &str) -> bool {
        let mut keys = self.shared.keys();
        let Some(key) = keys.published.iter_mut().find(|k| k.kid == kid) else {
            return false;
        };
        if let Value::Object(jwk) = &mut key.jwk {
            jwk.insert("issuer".into(), json!(issuer));
        }
        true
    }

    /// Stops publishing `kid` (tokens can still be signed with it).
    pub fn remove_key(&self, kid: &str) {
        let mut keys = self.shared.keys();
        keys.published.retain(|k| k.kid != kid);
    }

    /// The `kid` tokens are signed with by default.
    pub fn current_kid(&self) -> String {
        self.shared.keys().current.clone().unwrap_or_default()
    }

    /// Starts a token with defaults: `iss` this issuer, `aud`
    /// [`AUDIENCE`](Self::AUDIENCE), `sub` `test-user`, `iat` now, `exp` in one
    /// hour, header `typ` `at+jwt`, signed by the current key.
    pub fn token(&self) -> TokenBuilder<'_> {
        let now = self.now_secs();
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(self.shared.issuer));
        claims.insert("aud".into(), json!(Self::AUDIENCE));
        claims.insert("sub".into(), json!("test-user"));
        claims.insert("iat".into(), json!(now));
        claims.insert("exp".into(), json!(now + 3600));
        TokenBuilder {
            issuer: self,
            claims,
            kid: None,
            header_kid: HeaderKid::Signing,
            typ: Some("at+jwt".into()),
            alg: None,
        }
    }

    /// Signs arbitrary header and payload bytes with the key `kid` (as its own
    /// algorithm), for tokens no JWT library would produce. `None` if no such key.
    pub fn sign_raw(&self, header_json: &[u8], payload_json: &[u8], kid: &str) -> Option<String> {
        let keys = self.shared.keys();
        let key = keys.published.iter().find(|k| k.kid == kid)?;
        let message = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header_json),
            URL_SAFE_NO_PAD.encode(payload_json)
        );
        let alg = key.kind.algorithm().to_jsonwebtoken();
        let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &key.encoding, alg).ok()?;
        Some(format!("{message}.{signature}"))
    }
}

enum HeaderKid {
    Signing,
    Absent,
    Named(String),
}

/// A token being minted; finish with [`sign`](Self::sign).
#[must_use]
pub struct TokenBuilder<'a> {
    issuer: &'a TestIssuer,
    claims: Map<String, Value>,
    kid: Option<String>,
    header_kid: HeaderKid,
    typ: Option<String>,
    alg: Option<Algorithm>,
}

impl TokenBuilder<'_> {
    /// Sets any claim (replacing the default, if any) to any serializable
    /// value (`"text"`, `42`, `serde_json::json!([..])`, your own type).
    ///
    /// # Panics
    /// If `value` does not serialize to JSON: a test must fail loudly rather
    /// than mint a token without the claim it meant to test.
    #[allow(clippy::panic)]
    pub fn claim(mut self, name: &str, value: impl serde::Serialize) -> Self {
        let value = serde_json::to_value(value)
            .unwrap_or_else(|e| panic!("test issuer: claim {name} does not serialize: {e}"));
        self.claims.insert(name.to_owned(), value);
        self
    }

    /// Removes a claim.
    pub fn without(mut self, name: &str) -> Self {
        self.claims.remove(name);
        self
    }

    /// `aud`.
    pub fn audience(self, aud: &str) -> Self {
        self.claim("aud", aud)
    }

    /// `scp`, a space-separated string (Entra ID, Azure AD B2C).
    pub fn scope(self, scp: &str) -> Self {
        self.claim("scp", scp)
    }

    /// `roles`, an array (app-only, client-credentials tokens).
    pub fn roles(self, roles: &[&str]) -> Self {
        self.claim("roles", json!(roles))
    }

    /// `exp` this many seconds from now (negative: already expired).
    pub fn expires_in(self, secs: i64) -> Self {
        let now = self.issuer.now_secs();
        self.claim("exp", now + secs)
    }

    /// The header `typ` (`None`: absent). Default `at+jwt`.
    pub fn typ(mut self, typ: Option<&str>) -> Self {
        self.typ = typ.map(str::to_owned);
        self
    }

    /// Signs with the published key `kid` instead of the current one.
    pub fn signed_by(mut self, kid: &str) -> Self {
        self.kid = Some(kid.to_owned());
        self
    }

    /// Puts this `kid` in the header, whatever key signs.
    pub fn header_kid(mut self, kid: &str) -> Self {
        self.header_kid = HeaderKid::Named(kid.to_owned());
        self
    }

    /// Leaves `kid` out of the header.
    pub fn no_kid(mut self) -> Self {
        self.header_kid = HeaderKid::Absent;
        self
    }

    /// Claims this `alg` in the header instead of the key's own (the signature
    /// is still made with the key's algorithm).
    pub fn header_alg(mut self, alg: Algorithm) -> Self {
        self.alg = Some(alg);
        self
    }

    /// The compact JWS. An unknown signing `kid` signs with the current key.
    ///
    /// # Panics
    /// If no key is published at all, or the backend fails to sign: a test must
    /// fail loudly rather than send an empty token and misread the answer.
    #[allow(clippy::panic)]
    pub fn sign(self) -> String {
        let signing_kid = self
            .kid
            .clone()
            .unwrap_or_else(|| self.issuer.current_kid());
        let keys = self.issuer.shared.keys();
        let Some(key) = keys
            .published
            .iter()
            .find(|k| k.kid == signing_kid)
            .or_else(|| keys.published.first())
        else {
            panic!("test issuer: no key is published to sign with");
        };
        let mut header = Map::new();
        let alg = self.alg.unwrap_or(key.kind.algorithm());
        header.insert("alg".into(), json!(alg.name()));
        if let Some(typ) = &self.typ {
            header.insert("typ".into(), json!(typ));
        }
        match &self.header_kid {
            HeaderKid::Signing => {
                header.insert("kid".into(), json!(key.kid));
            }
            HeaderKid::Named(kid) => {
                header.insert("kid".into(), json!(kid));
            }
            HeaderKid::Absent => {}
        }
        let header = Value::Object(header).to_string();
        let payload = Value::Object(self.claims).to_string();
        let message = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let alg = key.kind.algorithm().to_jsonwebtoken();
        match jsonwebtoken::crypto::sign(message.as_bytes(), &key.encoding, alg) {
            Ok(signature) => format!("{message}.{signature}"),
            Err(e) => panic!("test issuer: signing with {} failed: {e}", key.kid),
        }
    }
}

/// Loads a bundled key. The bundled keys are fixed and known to load with
/// both backends, so a failure here is a broken build of this crate: it panics
/// loudly rather than publish a key set or tokens a test would misread.
#[allow(clippy::panic)]
fn load(kind: KeyKind, pem: &str, kid: &str) -> (EncodingKey, Value) {
    let bytes = pem.as_bytes();
    let encoding = match kind {
        KeyKind::Rs256 | KeyKind::Ps256 => EncodingKey::from_rsa_pem(bytes),
        KeyKind::Es256 | KeyKind::Es384 => EncodingKey::from_ec_pem(bytes),
        KeyKind::EdDsa => EncodingKey::from_ed_pem(bytes),
    }
    .unwrap_or_else(|e| panic!("test issuer: bundled {kind:?} key does not load: {e}"));
    let jwk = Jwk::from_encoding_key(&encoding, kind.algorithm().to_jsonwebtoken())
        .unwrap_or_else(|e| panic!("test issuer: no JWK for the bundled {kind:?} key: {e}"));
    let mut jwk =
        serde_json::to_value(jwk).unwrap_or_else(|e| panic!("test issuer: JWK to JSON: {e}"));
    if let Value::Object(map) = &mut jwk {
        map.insert("kid".into(), json!(kid));
        map.insert("use".into(), json!("sig"));
    }
    (encoding, jwk)
}

async fn discovery(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    shared.discovery_requests.fetch_add(1, Ordering::SeqCst);
    let body = json!({
        "issuer": shared.issuer,
        "jwks_uri": format!("{}/jwks", shared.issuer),
        "id_token_signing_alg_values_supported": ["RS256", "PS256", "ES256", "ES384", "EdDSA"],
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
}

async fn jwks(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    shared.jwks_requests.fetch_add(1, Ordering::SeqCst);
    let delay = shared.jwks_delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay as u64)).await;
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        jwks_json(&shared),
    )
}

fn jwks_json(shared: &Shared) -> String {
    let keys: Vec<Value> = shared
        .keys()
        .published
        .iter()
        .map(|k| k.jwk.clone())
        .collect();
    json!({ "keys": keys }).to_string()
}

async fn extra_discovery(
    State(shared): State<Arc<Shared>>,
    uri: axum::http::Uri,
) -> axum::response::Response {
    let found = uri
        .path()
        .strip_suffix("/.well-known/openid-configuration")
        .and_then(|prefix| {
            let mut documents = shared.documents();
            let entry = documents.iter_mut().find(|(p, _, _)| p == prefix)?;
            entry.2 += 1;
            Some(entry.1.clone())
        });
    match found {
        Some(issuer_name) => {
            let body = json!({
                "issuer": issuer_name,
                "jwks_uri": format!("{}/jwks", shared.issuer),
            });
            (
                [(header::CONTENT_TYPE, "application/json")],
                body.to_string(),
            )
                .into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
