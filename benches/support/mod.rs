//! What the bench targets share: tokens of two sizes, layers with the token
//! cache on or off (and with DPoP, or with introspection), the axum app under
//! test, the raw `jsonwebtoken` key, DPoP proofs with the raw verify of their
//! signature, and a fake introspection endpoint on loopback.
//! Each bench includes it with `mod support;` (a folder without `main.rs` is
//! not a bench target of its own).
#![allow(dead_code)]

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::response::IntoResponse as _;
use axum::routing::get;
use bearer_guard::testing::{DpopKey, TestIssuer, TokenBuilder};
use bearer_guard::{
    BearerAuthLayer, Builder, Claims, Dpop, Introspection, Requirement, TypPolicy, Validator,
    require,
};
use http::{Request, header};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use serde::Deserialize;
use serde_json::json;

/// The claims set a token carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    /// The test issuer's defaults plus `scp` and `jti`: about 200 bytes of claims.
    Small,
    /// Shaped like a Microsoft Entra ID v2 access token: about 1 KB of claims.
    Entra,
    /// 500 short scopes (`s0 … s499`): the shape whose copied strings weigh
    /// most against its claims text (issue 12.5).
    ManyScopes,
}

/// The scopes of [`Size::ManyScopes`].
pub const MANY_SCOPES: usize = 500;

impl Size {
    pub fn parse(s: &str) -> Option<Size> {
        match s {
            "small" => Some(Size::Small),
            "entra" => Some(Size::Entra),
            "many_scopes" => Some(Size::ManyScopes),
            _ => None,
        }
    }
}

/// Token number `n` signed by `kid`: tokens with different `n` differ (in
/// `jti`), so each is a first sight for the verified-token cache.
pub fn token(issuer: &TestIssuer, kid: &str, size: Size, n: usize) -> String {
    claims(issuer, kid, size, n).sign()
}

/// [`token`] bound to `key` for DPoP: the same claims plus `cnf.jkt`.
pub fn bound_token(issuer: &TestIssuer, kid: &str, size: Size, n: usize, key: &DpopKey) -> String {
    claims(issuer, kid, size, n).claim("cnf", key.cnf()).sign()
}

/// The claims of [`token`], not yet signed.
fn claims<'a>(issuer: &'a TestIssuer, kid: &str, size: Size, n: usize) -> TokenBuilder<'a> {
    let b = issuer
        .token()
        .signed_by(kid)
        .scope("notes.read profile")
        .claim("jti", format!("bench-{n:08}"))
        .expires_in(24 * 3600);
    match size {
        Size::Small => b,
        Size::Entra => entra_claims(b, n),
        Size::ManyScopes => {
            let scopes: Vec<String> = (0..MANY_SCOPES).map(|i| format!("s{i}")).collect();
            b.scope(&scopes.join(" "))
        }
    }
}

/// The claims of a typical Entra ID access token (names, ids, groups), with
/// made-up values of realistic length.
fn entra_claims(b: TokenBuilder<'_>, n: usize) -> TokenBuilder<'_> {
    let guid = |i: usize| format!("{:08x}-1f2e-4d3c-9b8a-{:012x}", 0x5eed_0000 + i, n);
    b.claim("aio", "AWQAm/8ZAAAA".repeat(10))
        .claim("azp", guid(1))
        .claim("azpacr", "0")
        .claim(
            "idp",
            "https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/",
        )
        .claim("name", "Ada Lovelace")
        .claim("oid", guid(2))
        .claim("preferred_username", "ada.lovelace@contoso.example")
        .claim(
            "rh",
            "1.AQEAv4j5cvGGr0GRqy180BHbR0ZoHbJzWD5Mn8f3u6pY5mwBAAA.",
        )
        .claim("sid", guid(3))
        .claim("tid", "72f988bf-86f1-41af-91ab-2d7cd011db47")
        .claim("uti", format!("bWVhc3VyZWQtdG9rZW4{n:08}"))
        .claim("ver", "2.0")
        .claim("wids", json!(["b79fbf4d-3ef9-4689-8143-76b194e85509"]))
        .claim("groups", json!((10..20).map(guid).collect::<Vec<_>>()))
        .claim("xms_tcdt", 1_289_241_547)
}

/// A layer trusting `issuer`; `cache` false turns the verified-token cache off.
pub fn layer(issuer: &TestIssuer, cache: bool) -> BearerAuthLayer {
    builder(issuer, cache).build().expect("valid configuration")
}

/// [`layer`], also accepting DPoP-bound tokens (RFC 9449) with proofs for
/// [`DPOP_BASE`], every other DPoP setting its default (all algorithms,
/// proofs a minute old at most, the in-process replay store). Bearer tokens
/// are still accepted: the bench's bearer modes run on this same layer.
pub fn dpop_layer(issuer: &TestIssuer, cache: bool) -> BearerAuthLayer {
    builder(issuer, cache)
        .dpop(Dpop::new(DPOP_BASE))
        .build()
        .expect("valid configuration")
}

/// [`layer`], also validating opaque tokens by introspection (RFC 7662)
/// at `endpoint` (`client_secret_basic`). Answers are kept for an hour at
/// most (the default is five minutes: long enough for a run, but a bench
/// that asserts "no call" must not depend on how long the run takes); JWTs
/// are still validated locally, `cache` (the verified-token cache) as in
/// [`layer`]. The answer cache is on either way (`max_entries` its default,
/// 100,000).
pub fn introspection_layer(issuer: &TestIssuer, cache: bool, endpoint: &str) -> BearerAuthLayer {
    builder(issuer, cache)
        .introspection(
            Introspection::client_secret_basic(
                endpoint,
                INTROSPECTION_CLIENT,
                INTROSPECTION_SECRET,
            )
            .max_cache_age(Duration::from_secs(3600)),
        )
        .build()
        .expect("valid configuration")
}

/// The client id the API introspects as, and its secret.
pub const INTROSPECTION_CLIENT: &str = "bench-api";
pub const INTROSPECTION_SECRET: &str = "bench-secret";

fn builder(issuer: &TestIssuer, cache: bool) -> Builder {
    let builder = BearerAuthLayer::builder()
        .issuer(issuer.issuer())
        .audience(TestIssuer::AUDIENCE)
        .typ(TypPolicy::AccessTokenOrJwt)
        // No background key refresh in the middle of a long run.
        .key_set_max_age(Duration::from_secs(3600));
    if cache {
        builder
    } else {
        builder.token_cache_bytes(0)
    }
}

/// A validator alone, as [`layer`] configures it.
pub fn validator(issuer: &TestIssuer, cache: bool) -> Validator {
    layer(issuer, cache).validator().clone()
}

/// The requirement guarding `/notes`.
pub fn read_requirement() -> Requirement {
    Requirement::scope("notes.read").or(Requirement::role("Notes.Read.All"))
}

/// The claims an API for Microsoft Entra ID typically reads, as its own type:
/// what a handler taking `Claims<EntraClaims>` deserializes (issue 13 measures
/// that, since it is how users read claims). Optional where a small token
/// lacks the claim.
#[derive(Debug, Deserialize)]
pub struct EntraClaims {
    pub iss: String,
    pub aud: String,
    pub exp: i64,
    pub iat: Option<i64>,
    pub nbf: Option<i64>,
    pub sub: Option<String>,
    pub oid: Option<String>,
    pub tid: Option<String>,
    pub azp: Option<String>,
    pub name: Option<String>,
    pub preferred_username: Option<String>,
    pub scp: Option<String>,
    pub roles: Option<Vec<String>>,
    pub groups: Option<Vec<String>>,
    pub ver: Option<String>,
}

/// The handler of `/me`: reads the typed claims, as an API would.
pub async fn me(Claims(claims): Claims<EntraClaims>) -> &'static str {
    if claims.sub.is_some() && claims.exp > 0 {
        "me"
    } else {
        "?"
    }
}

/// The app under test: `/hello` with no authentication (and `/layered`, the
/// same behind two route layers that do nothing), `/notes` behind the
/// layer and a scope guard (the handler takes no claims), `/me` behind the
/// same and taking [`EntraClaims`]. The same router serves all, so a request
/// costs the same routing either way.
///
/// Finished with `with_state(())`, as `axum::serve` does (through
/// `into_make_service`): otherwise axum turns each handler into a route on
/// every request, a cost no server pays.
pub fn app(layer: BearerAuthLayer) -> Router {
    let protected = Router::new()
        .route(
            "/notes",
            get(|| async { "notes" }).route_layer(require(read_requirement())),
        )
        .route("/me", get(me).route_layer(require(read_requirement())))
        .route_layer(layer);
    // What two route layers cost when they do nothing: axum's share of a
    // protected route (the layer and the guard are two route layers).
    let noop = || tower::util::MapRequestLayer::new(|r: Request<Body>| r);
    Router::new()
        .route("/hello", get(|| async { "hello" }))
        .route(
            "/layered",
            get(|| async { "hello" })
                .route_layer(noop())
                .route_layer(noop()),
        )
        .merge(protected)
        .with_state(())
}

/// `GET path` with `Authorization: Bearer token`.
pub fn request(path: &str, token: &str) -> Request<Body> {
    Request::builder()
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .expect("request")
}

/// The API's public base URL for DPoP: each proof's `htu` is it with the
/// request's path appended.
pub const DPOP_BASE: &str = "https://api.bench.test";

/// `GET path` with `Authorization: DPoP token` and `DPoP: proof`.
pub fn dpop_request(path: &str, token: &str, proof: &str) -> Request<Body> {
    Request::builder()
        .uri(path)
        .header(header::AUTHORIZATION, format!("DPoP {token}"))
        .header("DPoP", proof)
        .body(Body::empty())
        .expect("request")
}

/// `n` proofs by `key` for `GET path` with `token`, each with its own `jti`
/// (the replay store accepts a proof once), issued now by the system clock.
/// Signing is the client's work: benches make proofs before they measure.
pub fn proofs(key: &DpopKey, path: &str, token: &str, n: usize) -> Vec<String> {
    let htu = format!("{DPOP_BASE}{path}");
    (0..n)
        .map(|_| key.proof("GET", &htu).access_token(token).sign())
        .collect()
}

/// The proof key as aws-lc's parsed public key, parsed once: the baseline
/// of a DPoP request is a bare verify of its proof's signature with it.
#[cfg(feature = "aws-lc-rs")]
pub fn parsed_proof_key(key: &DpopKey) -> aws_lc_rs::signature::ParsedPublicKey {
    use aws_lc_rs::signature::{self as sig, ParsedPublicKey};
    use base64::Engine as _;
    let jwk: serde_json::Value = serde_json::from_str(key.jwk()).expect("a JWK");
    let member = |name: &str| {
        let text = jwk[name].as_str().expect("a JWK member");
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .expect("base64url")
    };
    let (params, bytes): (&'static dyn sig::VerificationAlgorithm, Vec<u8>) =
        match jwk["crv"].as_str() {
            // An uncompressed point: 0x04, x, y.
            Some("P-256") => (
                &sig::ECDSA_P256_SHA256_FIXED,
                [vec![4], member("x"), member("y")].concat(),
            ),
            Some("Ed25519") => (&sig::ED25519, member("x")),
            other => panic!("no raw baseline for a {other:?} proof key"),
        };
    ParsedPublicKey::new(params, bytes).expect("aws-lc parses the key")
}

/// The bare verify of a compact JWS: its signature decoded from base64url and
/// checked over `header.payload` with a key parsed once (aws-lc-rs only).
#[cfg(feature = "aws-lc-rs")]
pub fn raw_verify_parsed(jws: &str, key: &aws_lc_rs::signature::ParsedPublicKey) -> bool {
    use base64::Engine as _;
    let (input, signature) = jws.rsplit_once('.').expect("compact JWS");
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(signature)
        .is_ok_and(|s| key.verify_sig(input.as_bytes(), &s).is_ok())
}

/// The RSA key as aws-lc's parsed public key for RS256.
#[cfg(feature = "aws-lc-rs")]
pub fn parsed_rs256_key(key: &DecodingKey) -> aws_lc_rs::signature::ParsedPublicKey {
    use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
    let jsonwebtoken::DecodingKeyKind::RsaModulusExponent { n, e } = key.kind() else {
        panic!("an RSA key")
    };
    RsaPublicKeyComponents { n, e }
        .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
        .expect("aws-lc parses the key")
}

/// The public key `kid` as `jsonwebtoken` parses it from the issuer's JWKS,
/// once: the raw baseline verifies with it.
pub fn raw_key(issuer: &TestIssuer, kid: &str) -> DecodingKey {
    let set: JwkSet = serde_json::from_str(&issuer.jwks_document()).expect("JWKS");
    let jwk = set.find(kid).expect("kid in the JWKS");
    DecodingKey::from_jwk(jwk).expect("usable JWK")
}

/// The checks a hand-written middleware would ask `jsonwebtoken::decode` for.
pub fn raw_validation(issuer: &TestIssuer, alg: jsonwebtoken::Algorithm) -> Validation {
    let mut v = Validation::new(alg);
    v.set_issuer(&[issuer.issuer()]);
    v.set_audience(&[TestIssuer::AUDIENCE]);
    v.leeway = 60;
    v
}

/// The raw verify of a compact token: the signature over `header.payload`.
pub fn raw_verify(token: &str, key: &DecodingKey, alg: jsonwebtoken::Algorithm) -> bool {
    let (input, signature) = token.rsplit_once('.').expect("compact JWS");
    jsonwebtoken::crypto::verify(signature, input.as_bytes(), key, alg).expect("verifies")
}

/// Validates once so that keys are loaded and every lazy initialisation has
/// happened before anything is measured.
pub async fn warm(validator: &Validator, token: &str) {
    assert!(validator.warm_up().await, "key set loads");
    validator.validate(token).await.expect("token is valid");
}

/// What a fake introspection endpoint answers: the claims of `jwt` (its
/// payload, decoded, not verified) plus `"active": true`, so that an opaque
/// token introspected with it carries the same claims as that JWT.
pub fn introspection_answer(jwt: &str) -> String {
    use base64::Engine as _;
    let payload = jwt.split('.').nth(1).expect("compact JWS");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    let mut claims: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&bytes).expect("a JSON object");
    claims.insert("active".into(), json!(true));
    serde_json::Value::Object(claims).to_string()
}

/// Opaque token number `n`: 43 base64url characters (32 bytes, as
/// oidc-provider issues them), distinct for each `n`, never a compact JWS.
pub fn opaque_token(n: u64) -> String {
    use base64::Engine as _;
    let mut bytes = [0x5a_u8; 32];
    bytes[..8].copy_from_slice(&n.to_le_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A fake introspection endpoint (RFC 7662) on loopback: axum on
/// `127.0.0.1:0`, on a thread and a current-thread runtime of its own (as
/// an authorization server is another process), answering every call with
/// one fixed answer, and counting the calls and the connections.
pub struct FakeIntrospection {
    /// `http://127.0.0.1:PORT/introspect`.
    pub url: String,
    calls: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    connections: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl FakeIntrospection {
    /// Starts it, answering `answer` (a JSON object's text) to every call
    /// that names a token and authenticates as [`INTROSPECTION_CLIENT`]
    /// (anything else: 401).
    pub fn start(answer: String) -> FakeIntrospection {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let calls = Arc::new(AtomicUsize::new(0));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("non-blocking");
        let url = format!(
            "http://{}/introspect",
            listener.local_addr().expect("address")
        );
        let counted = Arc::clone(&calls);
        let connections = Arc::new(AtomicUsize::new(0));
        let accepted = Arc::clone(&connections);
        std::thread::Builder::new()
            .name("fake-introspection".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                runtime.block_on(async move {
                    use base64::Engine as _;
                    let answer: Arc<str> = answer.into();
                    let expected: Arc<str> = format!(
                        "Basic {}",
                        base64::engine::general_purpose::STANDARD
                            .encode(format!("{INTROSPECTION_CLIENT}:{INTROSPECTION_SECRET}"))
                    )
                    .into();
                    let endpoint =
                        axum::routing::post(move |headers: http::HeaderMap, form: String| {
                            let (counted, expected, answer) = (
                                Arc::clone(&counted),
                                Arc::clone(&expected),
                                Arc::clone(&answer),
                            );
                            async move {
                                counted.fetch_add(1, Ordering::SeqCst);
                                let basic = headers
                                    .get(header::AUTHORIZATION)
                                    .is_some_and(|v| v.as_bytes() == expected.as_bytes());
                                let token = form.starts_with("token=");
                                if !(basic && token) {
                                    return http::StatusCode::UNAUTHORIZED.into_response();
                                }
                                (
                                    [(header::CONTENT_TYPE, "application/json")],
                                    answer.to_string(),
                                )
                                    .into_response()
                            }
                        });
                    let app = Router::new().route("/introspect", endpoint);
                    use axum::serve::ListenerExt as _;
                    let listener = tokio::net::TcpListener::from_std(listener)
                        .expect("tokio listener")
                        .tap_io(move |_| {
                            accepted.fetch_add(1, Ordering::SeqCst);
                        });
                    axum::serve(listener, app).await.expect("serve");
                });
            })
            .expect("a thread for the fake endpoint");
        FakeIntrospection {
            url,
            calls,
            connections,
        }
    }

    /// Connections accepted so far (the API's client keeps one alive).
    pub fn connections(&self) -> usize {
        self.connections.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Calls answered so far.
    pub fn calls(&self) -> usize {
        self.calls.load(std::sync::atomic::Ordering::SeqCst)
    }
}
