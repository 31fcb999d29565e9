//! Hostile-input attack suite (issue 5, points 1 and 2): a table-driven
//! catalogue of what has broken JWT libraries and bearer-token middlewares,
//! each case naming its source (an RFC section or a published CVE) and
//! asserting its exact outcome through the axum app of `support`.
//!
//! Attack classes, one table (and one `#[tokio::test]`) each:
//! - algorithm confusion: `none` in any case, HMAC keyed with the issuer's
//!   public key (PEM, DER, modulus, JWK text), RS256↔PS256 and ES256↔ES384
//!   switches with genuine signatures, `alg` missing or of the wrong JSON type,
//!   an algorithm outside a narrowed allow-list;
//! - embedded and remote keys: header `jwk` (the attacker's own key), `jku`
//!   and `x5u` pointing at a loopback trap server (which must see no request),
//!   `x5c`, all refused on the header;
//! - `kid` tricks: path traversal, injection strings, empty, over-long (256 B,
//!   257 B, 10 KiB), of the wrong JSON type, naming a key of another algorithm,
//!   NUL bytes, unicode and case variants, JSON escapes;
//! - ECDSA and EdDSA forgeries: psychic signatures (r = s = 0, r = s = n),
//!   wrong lengths, DER instead of R||S, high-S and S + L malleability,
//!   base64 padding;
//! - signature stripping and truncation, cut-and-paste signatures, header and
//!   payload edits under the original signature, another published key's
//!   signature, non-canonical base64 (padding, trailing bits, `+/`),
//!   whitespace, NUL, 1/2/4/5 segments, empty segments, JSON-serialization
//!   polyglots, duplicate header names;
//! - critical and JWE-only headers: `crit`, `b64` (RFC 7797), `zip`, `enc`,
//!   `epk`, `apu`/`apv`, `iv`/`tag`, `p2s`/`p2c`, `cty` nested tokens;
//! - profile conformance: RFC 9068 tokens without a claim §2.2 makes a MUST;
//! - keys bound to an issuer: a key its set binds to another cloud's issuer;
//! - claim type confusion: `exp`/`nbf`/`iat`/`aud`/`iss`/`sub` of the wrong
//!   JSON type or out of range, duplicate claims, payloads that are not an
//!   object, a BOM, invalid UTF-8, lone surrogates, deep nesting;
//! - issuer and audience matching: trailing slash, case, confusables, prefixes
//!   and suffixes, userinfo, 200-value arrays, empty arrays;
//! - cross-token confusion: ID, logout and refresh-shaped tokens, another
//!   audience, another issuer's key, at+jwt against a `JWT` profile;
//! - time: `exp` and `nbf` on both sides of the leeway boundary;
//! - `Authorization` header parsing and sizes: the exact cap and one byte over,
//!   1 MB values, non-ASCII bytes, tabs, repeated schemes, other schemes, two
//!   headers, trailing spaces, query-string tokens, the optional route;
//! - scope and role matching: prefixes, suffixes, case, whitespace and commas,
//!   roles named like scopes and scopes named like roles, unicode lookalikes;
//! - load-time key defence: JWKS documents with one unsafe entry (symmetric,
//!   small, wrong `use`/`key_ops`, mismatched `alg`/`kty`/`crv`, bad lengths,
//!   duplicate `kid`s, non-objects, more keys than `max_keys`) next to a good
//!   key: the good key works, the unsafe entry never verifies.
//!
//! Hostile inputs live here only: the functional suites (`validation`,
//! `authorization`) test what valid tokens and settings do, and leave every
//! forged, altered, malformed or confusing input to these tables.
//!
//! Every case asserts the exact status, the exact `WWW-Authenticate` value, the
//! precise reason (`Error::code`, asked of the layer's own validator, which
//! shares its key cache; for a 403 the route requirement's verdict) and the
//! exact number of discovery + JWKS requests the case caused, counted on every
//! server in the test (the issuers, the attacker's issuer and the trap). Each
//! case gets a fresh layer, so a case that reaches the key lookup on a cold
//! cache costs exactly one discovery and one JWKS fetch ([`COLD`]); a case
//! refused earlier costs nothing. A refused request always has an empty body.
//!
//! Floods of random `kid`s (one fetch per cooldown) are proven in
//! `tests/it/keys.rs` (`cold_flood_of_random_kids_causes_exactly_one_fetch`,
//! `flood_of_random_kids_*`) and `tests/it/fault_injection.rs`
//! (`ten_thousand_random_kids_cause_at_most_one_fetch_per_cooldown`); they are
//! not repeated here.

use crate::support::der::{der, der_uint, pem, rsa_public_der};

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::support::{INVALID_REQUEST, INVALID_TOKEN, app, b64, now, serve};
use axum::Router;
use axum::body::Body;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use bearer_guard::rejection_parts;
use bearer_guard::testing::{KeyKind, TestIssuer, TokenBuilder};
use bearer_guard::{BearerAuthLayer, Issuer, Requirement, TypPolicy};
use http::{HeaderMap, HeaderValue, Request, StatusCode, header};
use jsonwebtoken::Algorithm;
use jsonwebtoken::EncodingKey;
use serde_json::{Value, json};
use tower::ServiceExt;

const AUD: &str = TestIssuer::AUDIENCE;

/// Requests caused by the first key lookup of a fresh layer: one discovery
/// document and one JWKS.
const COLD: usize = 2;

/// The default `max_token_bytes`.
const CAP: usize = 16 * 1024;

/// `GET /notes` refused for lack of `notes.read` (or the role `Notes.Read.All`).
const NEEDS_READ: &str = "Bearer error=\"insufficient_scope\", scope=\"notes.read\"";
/// `POST /notes` refused for lack of `notes.write` (or `Notes.ReadWrite.All`).
const NEEDS_WRITE: &str = "Bearer error=\"insufficient_scope\", scope=\"notes.write\"";

// ---------------------------------------------------------------------------
// The case table and its runner
// ---------------------------------------------------------------------------

/// Which layer (and so which issuer) a case is sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum App {
    /// `issuer(a)` with every default: `TypPolicy::AccessToken` (at+jwt), all
    /// asymmetric algorithms. Issuer `a` publishes RS256, ES256, ES384, EdDSA
    /// and PS256 keys.
    Default,
    /// Entra-like: `Issuer::new(e)` with `TypPolicy::Jwt` and
    /// `require_permissions(true)`.
    Entra,
    /// `issuer(r)` with `.algorithms([RS256])`; issuer `r` also publishes a
    /// PS256 and an ES256 key.
    Rs256Only,
    /// `Issuer::rfc9068(a)`: `typ` `at+jwt`, and every claim RFC 9068 §2.2
    /// makes a MUST required; scopes from `scope`.
    Rfc9068,
    /// `issuer(k)`; issuer `k` publishes an RS256 key whose JWK names `k`
    /// as its `issuer`, and an ES256 key naming another cloud's template.
    Bound,
}

/// What a case sends.
enum Req {
    /// `method path` through the app, with these `Authorization` header values
    /// (raw bytes; none at all when empty).
    Http {
        method: &'static str,
        path: String,
        authorization: Vec<Vec<u8>>,
    },
    /// `Validator::validate` directly, for tokens no HTTP header can carry
    /// (newlines, NUL); status and challenge come from `rejection_parts`, the
    /// function the layer answers with.
    Validate(String),
}

/// The exact outcome a case must have.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Expect {
    status: StatusCode,
    www_authenticate: Option<&'static str>,
    /// `Error::code` of the validator's verdict (for a 403, of the route
    /// requirement's); `None` when the token passes.
    reason: Option<&'static str>,
    /// Discovery + JWKS requests the case caused, on every server in the test.
    jwks_fetches: usize,
}

struct Case {
    name: &'static str,
    source: &'static str,
    app: App,
    /// Load the key set before the request (not counted).
    warm: bool,
    request: fn(&Ctx) -> Req,
    expect: Expect,
}

fn case(
    name: &'static str,
    source: &'static str,
    request: fn(&Ctx) -> Req,
    expect: Expect,
) -> Case {
    Case {
        name,
        source,
        app: App::Default,
        warm: false,
        request,
        expect,
    }
}

impl Case {
    fn on(mut self, app: App) -> Self {
        self.app = app;
        self
    }

    fn warm(mut self) -> Self {
        self.warm = true;
        self
    }
}

fn ok(fetches: usize) -> Expect {
    Expect {
        status: StatusCode::OK,
        www_authenticate: None,
        reason: None,
        jwks_fetches: fetches,
    }
}

fn invalid(reason: &'static str, fetches: usize) -> Expect {
    Expect {
        status: StatusCode::UNAUTHORIZED,
        www_authenticate: Some(INVALID_TOKEN),
        reason: Some(reason),
        jwks_fetches: fetches,
    }
}

fn bad_request(reason: &'static str) -> Expect {
    Expect {
        status: StatusCode::BAD_REQUEST,
        www_authenticate: Some(INVALID_REQUEST),
        reason: Some(reason),
        jwks_fetches: 0,
    }
}

fn bare(reason: &'static str) -> Expect {
    Expect {
        status: StatusCode::UNAUTHORIZED,
        www_authenticate: Some("Bearer"),
        reason: Some(reason),
        jwks_fetches: 0,
    }
}

fn forbidden(challenge: &'static str, fetches: usize) -> Expect {
    Expect {
        status: StatusCode::FORBIDDEN,
        www_authenticate: Some(challenge),
        reason: Some("insufficient_scope"),
        jwks_fetches: fetches,
    }
}

/// What a case actually produced.
#[derive(Debug)]
struct Got {
    status: StatusCode,
    www_authenticate: Option<String>,
    reason: Option<&'static str>,
    jwks_fetches: usize,
    body: String,
}

/// The requirement `support::app` puts on a route.
fn route_requirement(method: &str, path: &str) -> Option<Requirement> {
    match (method, path) {
        ("GET", "/notes") => {
            Some(Requirement::scope("notes.read").or(Requirement::role("Notes.Read.All")))
        }
        ("POST", "/notes") => {
            Some(Requirement::scope("notes.write").or(Requirement::role("Notes.ReadWrite.All")))
        }
        _ => None,
    }
}

/// Sends `req` through `layer` and observes the outcome; `traffic` counts
/// every discovery and JWKS request served so far.
async fn observe(layer: &BearerAuthLayer, req: Req, traffic: &dyn Fn() -> usize) -> Got {
    let before = traffic();
    let (status, www_authenticate, body, reason) = match req {
        Req::Http {
            method,
            path,
            authorization,
        } => {
            let mut headers = HeaderMap::new();
            for value in &authorization {
                headers.append(
                    header::AUTHORIZATION,
                    HeaderValue::from_bytes(value).expect("a value HTTP can carry"),
                );
            }
            let mut request = Request::builder()
                .method(method)
                .uri(path.as_str())
                .body(Body::empty())
                .expect("request");
            *request.headers_mut() = headers.clone();
            let router: Router = app(layer.clone());
            let response = router.oneshot(request).await.expect("infallible");
            let status = response.status();
            let www = response
                .headers()
                .get(header::WWW_AUTHENTICATE)
                .map(|v| v.to_str().expect("ascii challenge").to_owned());
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .expect("body");
            let route = path.split('?').next().unwrap_or_default();
            let reason = match layer.validator().authenticate(&headers).await {
                Err(e) => Some(e.code()),
                Ok(token) => route_requirement(method, route)
                    .and_then(|r| r.check(&token).err())
                    .map(|e| e.code()),
            };
            (
                status,
                www,
                String::from_utf8_lossy(&bytes).into_owned(),
                reason,
            )
        }
        Req::Validate(token) => match layer.validator().validate(&token).await {
            Ok(_) => (StatusCode::OK, None, String::new(), None),
            Err(e) => {
                let (status, headers) = rejection_parts(&e);
                let www = headers
                    .get(header::WWW_AUTHENTICATE)
                    .map(|v| v.to_str().expect("ascii challenge").to_owned());
                (status, www, String::new(), Some(e.code()))
            }
        },
    };
    Got {
        status,
        www_authenticate,
        reason,
        jwks_fetches: traffic() - before,
        body,
    }
}

/// Compares `got` with `want`; `None` when every field matches.
fn mismatch(want: &Expect, got: &Got) -> Option<String> {
    let same = got.status == want.status
        && got.www_authenticate.as_deref() == want.www_authenticate
        && got.reason == want.reason
        && got.jwks_fetches == want.jwks_fetches
        && (got.status.is_success() || got.body.is_empty());
    (!same).then(|| {
        format!(
            "want {} {:?} reason {:?} fetches {}; got {} {:?} reason {:?} fetches {} body {:?}",
            want.status,
            want.www_authenticate,
            want.reason,
            want.jwks_fetches,
            got.status,
            got.www_authenticate,
            got.reason,
            got.jwks_fetches,
            got.body.chars().take(80).collect::<String>(),
        )
    })
}

/// Runs every case of one section against a fresh context, each through a
/// fresh layer, and fails listing every case whose outcome differs.
async fn run(section: &str, cases: Vec<Case>) {
    let ctx = Ctx::start().await;
    let mut failures = Vec::new();
    for case in &cases {
        let layer = ctx.layer(case.app);
        if case.warm {
            assert!(layer.validator().warm_up().await, "{}: warm-up", case.name);
        }
        let request = (case.request)(&ctx);
        let got = observe(&layer, request, &|| ctx.traffic()).await;
        if let Some(diff) = mismatch(&case.expect, &got) {
            failures.push(format!("{} ({}): {diff}", case.name, case.source));
        }
    }
    assert_eq!(
        ctx.trap_hits.load(Ordering::SeqCst),
        0,
        "[{section}] a header URL (jku/x5u) was fetched"
    );
    println!("[{section}] {} cases", cases.len());
    assert!(
        failures.is_empty(),
        "[{section}] {} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------
// Context: the issuers, the attacker, the trap server
// ---------------------------------------------------------------------------

/// The test issuer's fixed RSA keys, to sign exact byte strings (non-canonical
/// encodings, PSS with a key published for PKCS#1 v1.5) with the private key
/// of a published `kid`.
const RSA_PEMS: [&str; 3] = [
    include_str!("../../src/testing/keys/rsa2048_1.pem"),
    include_str!("../../src/testing/keys/rsa2048_2.pem"),
    include_str!("../../src/testing/keys/rsa2048_3.pem"),
];

struct Ctx {
    /// The default layer's issuer.
    a: TestIssuer,
    /// The Entra-like layer's issuer.
    e: TestIssuer,
    /// The RS256-only layer's issuer.
    r: TestIssuer,
    /// The bound-keys layer's issuer (`k_rs` names `k`, `k_es` another cloud).
    k: TestIssuer,
    k_rs: String,
    k_es: String,
    /// An issuer nobody trusts, holding a key none of the others publish.
    attacker: TestIssuer,
    /// A loopback server serving the attacker's JWKS at any path, for
    /// `jku`/`x5u`; it must never be asked.
    trap_url: String,
    trap_hits: Arc<AtomicUsize>,
    // Issuer `a`'s kids.
    rs: String,
    es256: String,
    es384: String,
    ed: String,
    ps: String,
    // Issuer `r`'s kids.
    r_rs: String,
    r_ps: String,
    r_es: String,
    /// The attacker's signing kid (its own issuer's name for it).
    atk: String,
    /// The attacker's public key as a JWK, with kid `attacker-key`.
    atk_jwk: Value,
    /// The private keys behind `rs` and `ps`.
    rs_key: EncodingKey,
    ps_key: EncodingKey,
    /// Issuer `a`'s published JWKS, as an attacker reads it.
    jwks: Value,
}

fn jwk_of(jwks: &Value, kid: &str) -> Value {
    jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == kid)
        .unwrap_or_else(|| panic!("kid {kid} published"))
        .clone()
}

/// The bundled RSA private key whose public modulus is `jwk`'s.
fn rsa_private_key(jwk: &Value) -> EncodingKey {
    RSA_PEMS
        .iter()
        .map(|pem| EncodingKey::from_rsa_pem(pem.as_bytes()).expect("bundled key"))
        .find(|key| {
            let public = jsonwebtoken::jwk::Jwk::from_encoding_key(key, Algorithm::RS256)
                .expect("public JWK");
            serde_json::to_value(public).expect("JWK JSON")["n"] == jwk["n"]
        })
        .expect("the published key is one of the bundled keys")
}

/// Serves `document` at every path on a free loopback port, counting requests.
async fn counting_server(document: String) -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    let router = Router::new().fallback(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        let document = document.clone();
        async move { ([(header::CONTENT_TYPE, "application/json")], document) }
    });
    (serve(router).await, hits)
}

impl Ctx {
    async fn start() -> Ctx {
        let a = TestIssuer::start().await.expect("issuer a");
        let rs = a.current_kid();
        let es256 = a.add_key(KeyKind::Es256);
        let es384 = a.add_key(KeyKind::Es384);
        let ed = a.add_key(KeyKind::EdDsa);
        let ps = a.add_key(KeyKind::Ps256);
        let jwks: Value = serde_json::from_str(&a.jwks_document()).expect("JWKS JSON");

        let e = TestIssuer::start().await.expect("issuer e");
        let r = TestIssuer::start().await.expect("issuer r");
        let r_rs = r.current_kid();
        let r_ps = r.add_key(KeyKind::Ps256);
        let r_es = r.add_key(KeyKind::Es256);

        let k = TestIssuer::start().await.expect("issuer k");
        let k_rs = k.current_kid();
        let k_es = k.add_key(KeyKind::Es256);
        assert!(k.bind_key_to_issuer(&k_rs, k.issuer()));
        assert!(k.bind_key_to_issuer(&k_es, "https://login.microsoftonline.us/{tenantid}/v2.0"));

        // The bundled RSA keys cycle; the attacker's third key is one issuer
        // `a` does not publish (checked below).
        let attacker = TestIssuer::start().await.expect("attacker");
        attacker.add_key(KeyKind::Rs256);
        let atk = attacker.add_key(KeyKind::Rs256);
        let attacker_jwks: Value =
            serde_json::from_str(&attacker.jwks_document()).expect("JWKS JSON");
        let mut atk_jwk = jwk_of(&attacker_jwks, &atk);
        for key in jwks["keys"].as_array().expect("keys") {
            assert_ne!(key["n"], atk_jwk["n"], "the attacker's key must be foreign");
        }
        atk_jwk["kid"] = json!("attacker-key");
        let (trap_url, trap_hits) =
            counting_server(json!({ "keys": [atk_jwk.clone()] }).to_string()).await;

        let rs_key = rsa_private_key(&jwk_of(&jwks, &rs));
        let ps_key = rsa_private_key(&jwk_of(&jwks, &ps));
        Ctx {
            a,
            e,
            r,
            k,
            k_rs,
            k_es,
            attacker,
            trap_url,
            trap_hits,
            rs,
            es256,
            es384,
            ed,
            ps,
            r_rs,
            r_ps,
            r_es,
            atk,
            atk_jwk,
            rs_key,
            ps_key,
            jwks,
        }
    }

    fn layer(&self, app: App) -> BearerAuthLayer {
        match app {
            App::Default => BearerAuthLayer::builder()
                .issuer(self.a.issuer())
                .audience(AUD)
                .build(),
            App::Entra => BearerAuthLayer::builder()
                .trust(
                    Issuer::new(self.e.issuer())
                        .audience(AUD)
                        .typ(TypPolicy::Jwt)
                        .require_permissions(true),
                )
                .build(),
            App::Rs256Only => BearerAuthLayer::builder()
                .issuer(self.r.issuer())
                .audience(AUD)
                .algorithms([bearer_guard::Algorithm::RS256])
                .build(),
            App::Rfc9068 => BearerAuthLayer::builder()
                .trust(Issuer::rfc9068(self.a.issuer(), AUD))
                .build(),
            App::Bound => BearerAuthLayer::builder()
                .issuer(self.k.issuer())
                .audience(AUD)
                .build(),
        }
        .expect("valid configuration")
    }

    /// Every discovery and JWKS request served so far, on every server.
    fn traffic(&self) -> usize {
        [&self.a, &self.e, &self.r, &self.k, &self.attacker]
            .iter()
            .map(|i| i.discovery_requests() + i.jwks_requests())
            .sum::<usize>()
            + self.trap_hits.load(Ordering::SeqCst)
    }

    /// A token `GET /notes` accepts: issuer `a`, at+jwt, scope `notes.read`,
    /// signed by the RS256 key.
    fn tok(&self) -> TokenBuilder<'_> {
        self.a.token().signed_by(&self.rs).scope("notes.read")
    }

    /// The same token's claims, for byte-level crafting.
    fn claims(&self) -> Value {
        json!({
            "iss": self.a.issuer(),
            "aud": AUD,
            "sub": "test-user",
            "iat": now(),
            "exp": now() + 3600,
            "scp": "notes.read",
        })
    }

    /// The claims with `name` set to `value`, as JSON text.
    fn with(&self, name: &str, value: Value) -> String {
        let mut claims = self.claims();
        claims[name] = value;
        claims.to_string()
    }

    /// `{"alg":alg,"typ":"at+jwt","kid":kid}`.
    fn hdr(&self, alg: &str, kid: &str) -> String {
        json!({ "alg": alg, "typ": "at+jwt", "kid": kid }).to_string()
    }

    /// The RS256 key's header.
    fn rs_hdr(&self) -> String {
        self.hdr("RS256", &self.rs)
    }

    /// `header` and `payload` bytes, signed by issuer `a`'s key `kid` (with
    /// that key's own algorithm, whatever the header says).
    fn raw_by(&self, kid: &str, header: &str, payload: impl AsRef<[u8]>) -> String {
        self.a
            .sign_raw(header.as_bytes(), payload.as_ref(), kid)
            .expect("published kid")
    }

    /// `header` and `payload`, signed by the RS256 key.
    fn raw(&self, header: &str, payload: impl AsRef<[u8]>) -> String {
        self.raw_by(&self.rs, header, payload)
    }

    /// The claims with `name` set to `value`, under the RS256 header, signed.
    fn claim(&self, name: &str, value: Value) -> String {
        self.raw(&self.rs_hdr(), self.with(name, value))
    }

    /// `input` exactly as given, with a genuine `alg` signature by `key`.
    fn exact(&self, input: &str, key: &EncodingKey, alg: Algorithm) -> String {
        let signature = jsonwebtoken::crypto::sign(input.as_bytes(), key, alg).expect("sign");
        format!("{input}.{signature}")
    }

    /// `input` exactly as given, signed RS256 by the `rs` key.
    fn exact_rs(&self, input: &str) -> String {
        self.exact(input, &self.rs_key, Algorithm::RS256)
    }

    /// A token over the valid claims signed by the attacker's own key, with
    /// the header `{"alg":"RS256","typ":"at+jwt"}` plus `extra`.
    fn attacker_token(&self, extra: Value) -> String {
        let mut header = json!({ "alg": "RS256", "typ": "at+jwt" });
        for (name, value) in extra.as_object().expect("object") {
            header[name] = value.clone();
        }
        self.attacker
            .sign_raw(
                header.to_string().as_bytes(),
                self.claims().to_string().as_bytes(),
                &self.atk,
            )
            .expect("attacker key")
    }

    /// A token over the valid claims signed by the RS256 key, with its header
    /// plus `extra`.
    fn header_token(&self, extra: Value) -> String {
        let mut header: Value = serde_json::from_str(&self.rs_hdr()).expect("JSON");
        for (name, value) in extra.as_object().expect("object") {
            header[name] = value.clone();
        }
        self.raw(&header.to_string(), self.claims().to_string())
    }

    /// A URL on the trap server.
    fn trap(&self, path: &str) -> String {
        format!("{}{path}", self.trap_url)
    }

    /// An HS* token over the valid claims keyed with `secret`.
    fn hmac(&self, alg: Algorithm, name: &str, secret: &[u8]) -> String {
        let input = format!(
            "{}.{}",
            b64(self.hdr(name, &self.rs)),
            b64(self.claims().to_string())
        );
        self.exact(&input, &EncodingKey::from_secret(secret), alg)
    }

    /// The RS256 key's public forms an attacker would try as an HMAC secret.
    fn rsa_public(&self) -> RsaPublic {
        let jwk = jwk_of(&self.jwks, &self.rs);
        let n = URL_SAFE_NO_PAD
            .decode(jwk["n"].as_str().expect("n"))
            .expect("n");
        let e = URL_SAFE_NO_PAD
            .decode(jwk["e"].as_str().expect("e"))
            .expect("e");
        let (pkcs1, spki) = rsa_public_der(&n, &e);
        RsaPublic {
            spki_pem: pem("PUBLIC KEY", &spki),
            pkcs1_pem: pem("RSA PUBLIC KEY", &pkcs1),
            spki,
            pkcs1,
            n,
            jwk_text: jwk.to_string(),
        }
    }
}

struct RsaPublic {
    spki_pem: String,
    pkcs1_pem: String,
    spki: Vec<u8>,
    pkcs1: Vec<u8>,
    n: Vec<u8>,
    jwk_text: String,
}

// ---------------------------------------------------------------------------
// Byte-level helpers
// ---------------------------------------------------------------------------

fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).expect("base64url")
}

/// The three segments of a compact JWS.
fn parts(token: &str) -> (String, String, String) {
    let v: Vec<&str> = token.split('.').collect();
    assert_eq!(v.len(), 3, "compact JWS");
    (v[0].to_owned(), v[1].to_owned(), v[2].to_owned())
}

/// `token` with its signature replaced by `signature` (raw bytes).
fn resign(token: &str, signature: &[u8]) -> String {
    let (h, p, _) = parts(token);
    format!("{h}.{p}.{}", b64(signature))
}

/// The order of the P-256 group (FIPS 186-4 D.1.2.3), big-endian.
const P256_N: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// The order L of the Ed25519 group (RFC 8032 §5.1), little-endian.
const ED25519_L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// `a - b` for big-endian numbers of equal length, `a >= b`.
fn sub_be(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; a.len()];
    let mut borrow = 0u16;
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b).rev() {
        let d = 256 + u16::from(x) - u16::from(y) - borrow;
        *o = d.to_le_bytes()[0];
        borrow = u16::from(d < 256);
    }
    assert_eq!(borrow, 0, "a >= b");
    out
}

/// `a + b` for little-endian numbers of equal length (no overflow expected).
fn add_le(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; a.len()];
    let mut carry = 0u16;
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        let s = u16::from(x) + u16::from(y) + carry;
        *o = s.to_le_bytes()[0];
        carry = s >> 8;
    }
    assert_eq!(carry, 0, "no overflow");
    out
}

/// Base64url length of `n` bytes, unpadded.
fn b64_len(n: usize) -> usize {
    (4 * n).div_ceil(3)
}

/// A valid RS256 token of exactly `target` bytes (padding a claim and the
/// header's whitespace until the lengths add up).
fn token_of_len(c: &Ctx, target: usize) -> String {
    const SIGNATURE: usize = 342; // RSA-2048: 256 bytes
    let base = c.with("pad", json!(""));
    for spaces in 0..4 {
        let header = c
            .rs_hdr()
            .replacen('{', &format!("{{{}", " ".repeat(spaces)), 1);
        let fixed = b64_len(header.len()) + 2 + SIGNATURE;
        for pad in 0..target {
            let total = fixed + b64_len(base.len() + pad);
            if total == target {
                let payload = c.with("pad", json!("x".repeat(pad)));
                let token = c.raw(&header, payload);
                assert_eq!(token.len(), target);
                return token;
            }
            if total > target {
                break;
            }
        }
    }
    panic!("no token of exactly {target} bytes");
}

/// The base64url alphabet, in value order (RFC 4648 §5).
const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Claims whose encoding needs base64 padding, and that padded encoding.
fn padded_payload(c: &Ctx) -> String {
    (0..3)
        .map(|n| URL_SAFE.encode(c.with("fill", json!("x".repeat(n)))))
        .find(|p| p.ends_with('='))
        .expect("one of three lengths needs padding")
}

// ---------------------------------------------------------------------------
// Request builders
// ---------------------------------------------------------------------------

/// `GET path` with `Authorization: Bearer <token>`.
fn get(path: &str, token: &str) -> Req {
    Req::Http {
        method: "GET",
        path: path.to_owned(),
        authorization: vec![format!("Bearer {token}").into_bytes()],
    }
}

/// `GET /notes` with `Authorization: Bearer <token>`.
fn notes(token: impl AsRef<str>) -> Req {
    get("/notes", token.as_ref())
}

/// `POST /notes` with `Authorization: Bearer <token>`.
fn post_notes(token: impl AsRef<str>) -> Req {
    Req::Http {
        method: "POST",
        path: "/notes".to_owned(),
        authorization: vec![format!("Bearer {}", token.as_ref()).into_bytes()],
    }
}

/// `GET path` with exactly these `Authorization` header values.
fn headers(path: &str, values: Vec<Vec<u8>>) -> Req {
    Req::Http {
        method: "GET",
        path: path.to_owned(),
        authorization: values,
    }
}

/// `GET /notes` with one `Authorization` header of exactly these bytes.
fn authz(value: impl Into<Vec<u8>>) -> Req {
    headers("/notes", vec![value.into()])
}

fn validate(token: impl Into<String>) -> Req {
    Req::Validate(token.into())
}

// ---------------------------------------------------------------------------
// Algorithm confusion (RFC 8725 §2.1, §3.1)
// ---------------------------------------------------------------------------

/// `none` in any spelling, HMAC keyed with the public key in every form a
/// library might accept as a secret, and switching between algorithms a key
/// could plausibly serve: all refused, the header-only ones with no traffic.
#[tokio::test]
async fn algorithm_confusion() {
    run(
        "algorithm confusion",
        vec![
            case(
                "alg_none_empty_signature",
                "RFC 8725 §3.1; RFC 7519 §6 (Unsecured JWT)",
                |c| {
                    notes(format!(
                        "{}.{}.",
                        b64(c.hdr("none", &c.rs)),
                        b64(c.claims().to_string())
                    ))
                },
                invalid("malformed_token", 0),
            ),
            case(
                "alg_None_with_a_signature",
                "RFC 7515 §4.1.1 (alg is case-sensitive); CVE-2022-23540 (node-jsonwebtoken none)",
                |c| {
                    notes(format!(
                        "{}.{}.c2lnbmF0dXJl",
                        b64(c.hdr("None", &c.rs)),
                        b64(c.claims().to_string())
                    ))
                },
                invalid("disallowed_algorithm", 0),
            ),
            case(
                "alg_NONE_genuinely_signed",
                "RFC 8725 §3.1",
                |c| notes(c.raw(&c.hdr("NONE", &c.rs), c.claims().to_string())),
                invalid("disallowed_algorithm", 0),
            ),
            case(
                "alg_none_with_a_signature",
                "RFC 8725 §3.1; CVE-2022-23540 (node-jsonwebtoken none)",
                |c| {
                    notes(format!(
                        "{}.{}.c2lnbmF0dXJl",
                        b64(c.hdr("none", &c.rs)),
                        b64(c.claims().to_string())
                    ))
                },
                invalid("disallowed_algorithm", 0),
            ),
            case(
                "alg_none_genuinely_signed",
                "RFC 8725 §3.1",
                |c| notes(c.raw(&c.hdr("none", &c.rs), c.claims().to_string())),
                invalid("disallowed_algorithm", 0),
            ),
            case(
                "alg_None_empty_signature",
                "RFC 8725 §3.1; RFC 7519 §6 (Unsecured JWT)",
                |c| {
                    notes(format!(
                        "{}.{}.",
                        b64(c.hdr("None", &c.rs)),
                        b64(c.claims().to_string())
                    ))
                },
                invalid("malformed_token", 0),
            ),
            case(
                "alg_None_genuinely_signed",
                "RFC 8725 §3.1",
                |c| notes(c.raw(&c.hdr("None", &c.rs), c.claims().to_string())),
                invalid("disallowed_algorithm", 0),
            ),
            case(
                "alg_NONE_empty_signature",
                "RFC 8725 §3.1; RFC 7519 §6 (Unsecured JWT)",
                |c| {
                    notes(format!(
                        "{}.{}.",
                        b64(c.hdr("NONE", &c.rs)),
                        b64(c.claims().to_string())
                    ))
                },
                invalid("malformed_token", 0),
            ),
            case(
                "alg_NONE_with_a_signature",
                "RFC 8725 §3.1",
                |c| {
                    notes(format!(
                        "{}.{}.c2lnbmF0dXJl",
                        b64(c.hdr("NONE", &c.rs)),
                        b64(c.claims().to_string())
                    ))
                },
                invalid("disallowed_algorithm", 0),
            ),
            case(
                "hs256_keyed_with_rsa_spki_pem",
                "CVE-2015-9235 (node-jsonwebtoken HS/RS confusion)",
                |c| {
                    notes(c.hmac(
                        Algorithm::HS256,
                        "HS256",
                        c.rsa_public().spki_pem.as_bytes(),
                    ))
                },
                invalid("disallowed_algorithm", 0),
            ),
            case(
                "hs384_keyed_with_rsa_pkcs1_pem",
                "CVE-2017-11424 (PyJWT: BEGIN RSA PUBLIC KEY not blocklisted)",
                |c| {
                    notes(c.hmac(
                        Algorithm::HS384,
                        "HS384",
                        c.rsa_public().pkcs1_pem.as_bytes(),
                    ))
                },
                invalid("disallowed_algorithm", 0),
            ),
            case(
                "hs512_keyed_with_rsa_spki_der",
                "CVE-2016-10555 (jwt-simple HS/RS confusion)",
                |c| notes(c.hmac(Algorithm::HS512, "HS512", &c.rsa_public().spki)),
                invalid("disallowed_algorithm", 0),
            ),
            case(
                "hs384_keyed_with_rsa_pkcs1_der",
                "CVE-2016-10555 family (PKCS#1 DER as HMAC secret)",
                |c| notes(c.hmac(Algorithm::HS384, "HS384", &c.rsa_public().pkcs1)),
                invalid("disallowed_algorithm", 0),
            ),
            case(
                "hs256_keyed_with_rsa_modulus_bytes",
                "CVE-2015-9235 family",
                |c| notes(c.hmac(Algorithm::HS256, "HS256", &c.rsa_public().n)),
                invalid("disallowed_algorithm", 0),
            ),
            case(
                "hs256_keyed_with_rsa_jwk_text",
                "CVE-2015-9235 family (public JWK text as HMAC secret)",
                |c| {
                    notes(c.hmac(
                        Algorithm::HS256,
                        "HS256",
                        c.rsa_public().jwk_text.as_bytes(),
                    ))
                },
                invalid("disallowed_algorithm", 0),
            ),
            case(
                "hs256_keyed_with_ec_jwk_text",
                "CVE-2022-29217 (PyJWT: public key formats as HMAC secret)",
                |c| {
                    notes(c.hmac(
                        Algorithm::HS256,
                        "HS256",
                        jwk_of(&c.jwks, &c.es256).to_string().as_bytes(),
                    ))
                },
                invalid("disallowed_algorithm", 0),
            ),
            case(
                "hs256_keyed_with_empty_secret",
                "CVE-2022-23540 (node-jsonwebtoken falsy secret)",
                |c| notes(c.hmac(Algorithm::HS256, "HS256", b"")),
                invalid("disallowed_algorithm", 0),
            ),
            case(
                "rs256_key_claimed_as_ps256_genuine_pss_signature",
                "RFC 8725 §3.1 (one key, one algorithm)",
                |c| {
                    notes(c.exact(
                        &format!(
                            "{}.{}",
                            b64(c.hdr("PS256", &c.rs)),
                            b64(c.claims().to_string())
                        ),
                        &c.rs_key,
                        Algorithm::PS256,
                    ))
                },
                invalid("algorithm_mismatch", COLD),
            ),
            case(
                "ps256_key_claimed_as_rs256_genuine_pkcs1_signature",
                "RFC 8725 §3.1 (one key, one algorithm)",
                |c| {
                    notes(c.exact(
                        &format!(
                            "{}.{}",
                            b64(c.hdr("RS256", &c.ps)),
                            b64(c.claims().to_string())
                        ),
                        &c.ps_key,
                        Algorithm::RS256,
                    ))
                },
                invalid("algorithm_mismatch", COLD),
            ),
            case(
                "rs256_key_claimed_as_rs384",
                "RFC 8725 §3.1 (one key, one algorithm: same family, other hash)",
                |c| notes(c.tok().header_alg(bearer_guard::Algorithm::RS384).sign()),
                invalid("algorithm_mismatch", COLD),
            ),
            case(
                "es256_key_claimed_as_es384",
                "RFC 7518 §3.4 (curve fixes the algorithm)",
                |c| notes(c.raw_by(&c.es384, &c.hdr("ES384", &c.es256), c.claims().to_string())),
                invalid("algorithm_mismatch", COLD),
            ),
            case(
                "es384_key_claimed_as_es256",
                "RFC 7518 §3.4 (curve fixes the algorithm)",
                |c| notes(c.raw_by(&c.es256, &c.hdr("ES256", &c.es384), c.claims().to_string())),
                invalid("algorithm_mismatch", COLD),
            ),
            case(
                "eddsa_claimed_on_the_rsa_key",
                "RFC 8725 §3.1",
                |c| notes(c.raw_by(&c.ed, &c.hdr("EdDSA", &c.rs), c.claims().to_string())),
                invalid("algorithm_mismatch", COLD),
            ),
            case(
                "alg_missing",
                "RFC 7515 §4.1.1 (alg is required)",
                |c| {
                    notes(c.raw(
                        &json!({ "typ": "at+jwt", "kid": c.rs }).to_string(),
                        c.claims().to_string(),
                    ))
                },
                invalid("malformed_token", 0),
            ),
            case(
                "alg_null",
                "RFC 7515 §4.1.1",
                |c| {
                    notes(c.raw(
                        &json!({ "alg": null, "typ": "at+jwt", "kid": c.rs }).to_string(),
                        c.claims().to_string(),
                    ))
                },
                invalid("malformed_token", 0),
            ),
            case(
                "alg_array",
                "RFC 7515 §4.1.1",
                |c| {
                    notes(c.raw(
                        &json!({ "alg": ["RS256"], "typ": "at+jwt", "kid": c.rs }).to_string(),
                        c.claims().to_string(),
                    ))
                },
                invalid("malformed_token", 0),
            ),
            case(
                "alg_number",
                "RFC 7515 §4.1.1",
                |c| {
                    notes(c.raw(
                        &json!({ "alg": 256, "typ": "at+jwt", "kid": c.rs }).to_string(),
                        c.claims().to_string(),
                    ))
                },
                invalid("malformed_token", 0),
            ),
            case(
                "alg_lowercase",
                "RFC 7515 §4.1.1 (case-sensitive)",
                |c| notes(c.raw(&c.hdr("rs256", &c.rs), c.claims().to_string())),
                invalid("disallowed_algorithm", 0),
            ),
            case(
                "alg_es512_not_offered",
                "RFC 8725 §3.1 (allow-list)",
                |c| notes(c.raw(&c.hdr("ES512", &c.rs), c.claims().to_string())),
                invalid("disallowed_algorithm", 0),
            ),
            case(
                "rs256_only_layer_refuses_a_genuine_ps256_token",
                "RFC 8725 §3.1 (allow-list)",
                |c| notes(c.r.token().signed_by(&c.r_ps).scope("notes.read").sign()),
                invalid("disallowed_algorithm", 0),
            )
            .on(App::Rs256Only),
            case(
                "rs256_only_layer_refuses_a_genuine_es256_token",
                "RFC 8725 §3.1 (allow-list)",
                |c| notes(c.r.token().signed_by(&c.r_es).scope("notes.read").sign()),
                invalid("disallowed_algorithm", 0),
            )
            .on(App::Rs256Only),
            case(
                "rs256_only_layer_rs256_header_naming_its_ps256_key",
                "RFC 8725 §3.1 (key outside the allow-list is never loaded)",
                |c| {
                    notes(
                        c.r.token()
                            .signed_by(&c.r_ps)
                            .header_alg(bearer_guard::Algorithm::RS256)
                            .scope("notes.read")
                            .sign(),
                    )
                },
                invalid("unknown_kid", COLD),
            )
            .on(App::Rs256Only),
            case(
                "rs256_only_layer_accepts_rs256",
                "control",
                |c| notes(c.r.token().signed_by(&c.r_rs).scope("notes.read").sign()),
                ok(COLD),
            )
            .on(App::Rs256Only),
        ],
    )
    .await;
}

// ---------------------------------------------------------------------------
// Embedded and remote keys (RFC 8725 §3.10)
// ---------------------------------------------------------------------------

/// Keys and key URLs carried in the header (`jwk`, `jku`, `x5u`, `x5c`) are
/// refused on the header alone, before any key lookup (401,
/// `unsupported_header`, no key-server traffic): the key is only ever chosen
/// by `kid` from the issuer's own key set, and the trap server behind
/// `jku`/`x5u` sees no request at all (checked after every section).
#[tokio::test]
async fn embedded_and_remote_keys() {
    run(
        "embedded and remote keys",
        vec![
            case(
                "embedded_jwk_attacker_key_under_the_victims_kid",
                "CVE-2018-0114 (node-jose embedded jwk)",
                |c| notes(c.attacker_token(json!({ "kid": c.rs, "jwk": c.atk_jwk }))),
                invalid("unsupported_header", 0),
            ),
            case(
                "embedded_jwk_attacker_key_under_its_own_kid",
                "CVE-2018-0114 (node-jose embedded jwk)",
                |c| notes(c.attacker_token(json!({ "kid": "attacker-key", "jwk": c.atk_jwk }))),
                invalid("unsupported_header", 0),
            ),
            case(
                "embedded_jwk_without_kid",
                "CVE-2018-0114 (node-jose embedded jwk)",
                |c| notes(c.attacker_token(json!({ "jwk": c.atk_jwk }))),
                invalid("unsupported_header", 0),
            ),
            case(
                "jku_to_attacker_jwks",
                "RFC 8725 §3.10 (jku SSRF); RFC 7515 §4.1.2",
                |c| {
                    notes(c.attacker_token(
                        json!({ "kid": "attacker-key", "jku": c.trap("/jwks.json") }),
                    ))
                },
                invalid("unsupported_header", 0),
            ),
            case(
                "jku_with_the_victims_kid",
                "RFC 8725 §3.10 (jku SSRF)",
                |c| notes(c.attacker_token(json!({ "kid": c.rs, "jku": c.trap("/jwks.json") }))),
                invalid("unsupported_header", 0),
            ),
            case(
                "jku_without_kid",
                "RFC 8725 §3.10 (jku SSRF)",
                |c| notes(c.attacker_token(json!({ "jku": c.trap("/jwks.json") }))),
                invalid("unsupported_header", 0),
            ),
            case(
                "jku_after_warm_up",
                "RFC 8725 §3.10 (jku SSRF)",
                |c| {
                    notes(c.attacker_token(
                        json!({ "kid": "attacker-key", "jku": c.trap("/jwks.json") }),
                    ))
                },
                invalid("unsupported_header", 0),
            )
            .warm(),
            case(
                "x5u_to_attacker",
                "RFC 8725 §3.10 (x5u SSRF); RFC 7515 §4.1.5",
                |c| {
                    notes(c.attacker_token(
                        json!({ "kid": "attacker-key", "x5u": c.trap("/cert.pem") }),
                    ))
                },
                invalid("unsupported_header", 0),
            ),
            case(
                "x5c_attacker_chain",
                "RFC 7515 §4.1.6; RFC 8725 §3.10",
                |c| {
                    notes(c.attacker_token(
                        json!({ "kid": "attacker-key", "x5c": [STANDARD.encode(der(0x30, &[]))] }),
                    ))
                },
                invalid("unsupported_header", 0),
            ),
            case(
                "x5c_with_the_victims_kid",
                "RFC 7515 §4.1.6; RFC 8725 §3.10",
                |c| {
                    notes(c.attacker_token(
                        json!({ "kid": c.rs, "x5c": [STANDARD.encode(der(0x30, &[]))] }),
                    ))
                },
                invalid("unsupported_header", 0),
            ),
        ],
    )
    .await;
}

// ---------------------------------------------------------------------------
// kid tricks (RFC 8725 §3.10)
// ---------------------------------------------------------------------------

/// `kid` is only ever a map key: no file, query or shell sees it. Unknown
/// kids cost one shared fetch on a cold cache (the flood bound is proven in
/// tests/it/keys.rs), kids longer than any stored one cost nothing.
#[tokio::test]
async fn kid_tricks() {
    run(
        "kid tricks",
        vec![
            case(
                "kid_path_traversal",
                "RFC 8725 §3.10",
                |c| notes(c.tok().header_kid("../../../../../../dev/null").sign()),
                invalid("unknown_kid", COLD),
            ),
            case(
                "kid_sql_injection",
                "RFC 8725 §3.10",
                |c| {
                    notes(
                        c.tok()
                            .header_kid("x' UNION SELECT 'secret' AS k --")
                            .sign(),
                    )
                },
                invalid("unknown_kid", COLD),
            ),
            case(
                "kid_shell_metacharacters",
                "RFC 8725 §3.10",
                |c| notes(c.tok().header_kid("$(curl 127.0.0.1:1)|`id`;").sign()),
                invalid("unknown_kid", COLD),
            ),
            case(
                "kid_empty",
                "RFC 7515 §4.1.4",
                |c| notes(c.tok().header_kid("").sign()),
                invalid("unknown_kid", COLD),
            ),
            case(
                "kid_absent",
                "RFC 7515 §4.1.4 (the key is chosen by kid only)",
                |c| notes(c.tok().no_kid().sign()),
                invalid("missing_kid", 0),
            ),
            case(
                "kid_null",
                "RFC 7515 §4.1.4",
                |c| {
                    notes(c.raw(
                        &json!({ "alg": "RS256", "typ": "at+jwt", "kid": null }).to_string(),
                        c.claims().to_string(),
                    ))
                },
                invalid("missing_kid", 0),
            ),
            case(
                "kid_number",
                "RFC 7515 §4.1.4 (kid is a string)",
                |c| {
                    notes(c.raw(
                        &json!({ "alg": "RS256", "typ": "at+jwt", "kid": 1 }).to_string(),
                        c.claims().to_string(),
                    ))
                },
                invalid("malformed_token", 0),
            ),
            case(
                "kid_array",
                "RFC 7515 §4.1.4 (kid is a string)",
                |c| {
                    notes(c.raw(
                        &json!({ "alg": "RS256", "typ": "at+jwt", "kid": [c.rs] }).to_string(),
                        c.claims().to_string(),
                    ))
                },
                invalid("malformed_token", 0),
            ),
            case(
                "kid_object",
                "RFC 7515 §4.1.4 (kid is a string)",
                |c| {
                    notes(
                        c.raw(
                            &json!({ "alg": "RS256", "typ": "at+jwt", "kid": { "$ne": "" } })
                                .to_string(),
                            c.claims().to_string(),
                        ),
                    )
                },
                invalid("malformed_token", 0),
            ),
            case(
                "kid_of_an_es256_key_on_an_rs256_token",
                "RFC 8725 §3.1 (the key's algorithm, never the token's)",
                |c| notes(c.raw(&c.hdr("RS256", &c.es256), c.claims().to_string())),
                invalid("algorithm_mismatch", COLD),
            ),
            case(
                "kid_of_the_rsa_key_on_an_es256_token",
                "RFC 8725 §3.1",
                |c| notes(c.raw_by(&c.es256, &c.hdr("ES256", &c.rs), c.claims().to_string())),
                invalid("algorithm_mismatch", COLD),
            ),
            case(
                "kid_with_a_nul_suffix",
                "RFC 8725 §3.10 (no C-string truncation)",
                |c| notes(c.tok().header_kid(&format!("{}\u{0}.pem", c.rs)).sign()),
                invalid("unknown_kid", COLD),
            ),
            case(
                "kid_unicode_fullwidth_hyphen",
                "UTS #39 confusables",
                |c| notes(c.tok().header_kid(&c.rs.replace('-', "\u{ff0d}")).sign()),
                invalid("unknown_kid", COLD),
            ),
            case(
                "kid_case_changed",
                "RFC 7515 §4.1.4 (case-sensitive)",
                |c| notes(c.tok().header_kid(&c.rs.to_uppercase()).sign()),
                invalid("unknown_kid", COLD),
            ),
            case(
                "kid_json_escaped_is_the_same_kid",
                "RFC 8259 §7 (escapes are the same string)",
                |c| {
                    notes(c.raw(
                        &c.rs_hdr().replace(&c.rs, &c.rs.replace('-', "\\u002d")),
                        c.claims().to_string(),
                    ))
                },
                ok(COLD),
            ),
            case(
                "kid_256_bytes_after_warm_up",
                "RFC 8725 §3.10 (bounded lookups)",
                |c| notes(c.tok().header_kid(&"k".repeat(256)).sign()),
                invalid("unknown_kid", 1),
            )
            .warm(),
            case(
                "kid_257_bytes_after_warm_up",
                "RFC 8725 §3.10 (bounded lookups)",
                |c| notes(c.tok().header_kid(&"k".repeat(257)).sign()),
                invalid("unknown_kid", 0),
            )
            .warm(),
            case(
                "kid_10_kib_after_warm_up",
                "RFC 8725 §3.10 (bounded lookups)",
                |c| notes(c.tok().header_kid(&"k".repeat(10 * 1024)).sign()),
                invalid("unknown_kid", 0),
            )
            .warm(),
            // A kid longer than any stored one can never match, whatever the
            // cache holds: the token is at fault, not the issuer.
            case(
                "kid_10_kib_on_a_cold_cache",
                "RFC 8725 §3.10 (bounded lookups); RFC 6750 §3.1",
                |c| notes(c.tok().header_kid(&"k".repeat(10 * 1024)).sign()),
                invalid("unknown_kid", 0),
            ),
        ],
    )
    .await;
}

// ---------------------------------------------------------------------------
// ECDSA and EdDSA signature forgery
// ---------------------------------------------------------------------------

/// An ES256 token by issuer `a`'s P-256 key, and its raw R||S signature.
fn es256_token(c: &Ctx) -> (String, Vec<u8>) {
    let token = c.raw_by(&c.es256, &c.hdr("ES256", &c.es256), c.claims().to_string());
    let signature = unb64(&parts(&token).2);
    assert_eq!(signature.len(), 64);
    (token, signature)
}

fn es384_token(c: &Ctx) -> String {
    c.raw_by(&c.es384, &c.hdr("ES384", &c.es384), c.claims().to_string())
}

fn eddsa_token(c: &Ctx) -> (String, Vec<u8>) {
    let token = c.raw_by(&c.ed, &c.hdr("EdDSA", &c.ed), c.claims().to_string());
    let signature = unb64(&parts(&token).2);
    assert_eq!(signature.len(), 64);
    (token, signature)
}

/// Psychic signatures, encodings a lenient verifier might take, and
/// malleability.
#[tokio::test]
async fn ecdsa_and_eddsa_signatures() {
    run(
        "ECDSA and EdDSA signatures",
        vec![
            case(
                "es256_r_and_s_zero",
                "CVE-2022-21449 (Java psychic signatures)",
                |c| notes(resign(&es256_token(c).0, &[0; 64])),
                invalid("invalid_signature", COLD),
            ),
            case(
                "es384_r_and_s_zero",
                "CVE-2022-21449 (Java psychic signatures)",
                |c| notes(resign(&es384_token(c), &[0; 96])),
                invalid("invalid_signature", COLD),
            ),
            case(
                "es256_r_and_s_equal_to_n",
                "CVE-2022-21449 (r = s = n ≡ 0 mod n)",
                |c| notes(resign(&es256_token(c).0, &[P256_N, P256_N].concat())),
                invalid("invalid_signature", COLD),
            ),
            case(
                "es256_r_zero_genuine_s",
                "CVE-2022-21449 (one half zero)",
                |c| {
                    let (token, sig) = es256_token(c);
                    notes(resign(&token, &[&[0u8; 32][..], &sig[32..]].concat()))
                },
                invalid("invalid_signature", COLD),
            ),
            case(
                "es256_signature_63_bytes",
                "RFC 7518 §3.4 (exactly 64 octets)",
                |c| {
                    let (token, sig) = es256_token(c);
                    notes(resign(&token, &sig[..63]))
                },
                invalid("invalid_signature", COLD),
            ),
            case(
                "es256_signature_65_bytes",
                "RFC 7518 §3.4 (exactly 64 octets)",
                |c| {
                    let (token, sig) = es256_token(c);
                    notes(resign(&token, &[&sig[..], &[0u8][..]].concat()))
                },
                invalid("invalid_signature", COLD),
            ),
            case(
                "es256_der_encoded_signature",
                "RFC 7518 §3.4 (R||S, not ASN.1 DER)",
                |c| {
                    let (token, sig) = es256_token(c);
                    notes(resign(
                        &token,
                        &der(0x30, &[der_uint(&sig[..32]), der_uint(&sig[32..])].concat()),
                    ))
                },
                invalid("invalid_signature", COLD),
            ),
            case(
                "es384_der_encoded_signature",
                "RFC 7518 §3.4 (R||S, not ASN.1 DER)",
                |c| {
                    let token = es384_token(c);
                    let sig = unb64(&parts(&token).2);
                    notes(resign(
                        &token,
                        &der(0x30, &[der_uint(&sig[..48]), der_uint(&sig[48..])].concat()),
                    ))
                },
                invalid("invalid_signature", COLD),
            ),
            // (r, n - s) is the other valid ECDSA signature of the same message.
            // JWS does not require low-S (RFC 7518 §3.4), and the malleated token
            // carries exactly the claims the issuer signed, so accepting it grants
            // nothing new; it only means the signature is not a unique token id
            // (use `jti` for replay detection, never the token string).
            case(
                "es256_high_s_malleated_signature_verifies",
                "ECDSA malleability (SEC 1 §4.1.4; RFC 7518 §3.4 has no low-S rule)",
                |c| {
                    let (token, sig) = es256_token(c);
                    notes(resign(
                        &token,
                        &[&sig[..32], &sub_be(&P256_N, &sig[32..])[..]].concat(),
                    ))
                },
                ok(COLD),
            ),
            case(
                "es256_signature_with_base64_padding",
                "RFC 7515 §2 (base64url without padding)",
                // Refused by its alphabet before any key lookup.
                |c| notes(format!("{}==", es256_token(c).0)),
                invalid("malformed_token", 0),
            ),
            case(
                "eddsa_zero_signature",
                "RFC 8032 §5.1.7",
                |c| notes(resign(&eddsa_token(c).0, &[0; 64])),
                invalid("invalid_signature", COLD),
            ),
            case(
                "eddsa_s_plus_l_malleated_signature",
                "RFC 8032 §5.1.7 (reject S >= L)",
                |c| {
                    let (token, sig) = eddsa_token(c);
                    notes(resign(
                        &token,
                        &[&sig[..32], &add_le(&sig[32..], &ED25519_L)[..]].concat(),
                    ))
                },
                invalid("invalid_signature", COLD),
            ),
        ],
    )
    .await;
}

// ---------------------------------------------------------------------------
// Signature stripping, cut-and-paste, encodings, segments
// ---------------------------------------------------------------------------

/// A JWS JSON serialization whose first member name is a genuine compact
/// token, and whose `payload` is forged: a parser that reads one form and
/// verifies the other accepts the forgery.
fn polyglot(c: &Ctx) -> String {
    let (h, p, s) = parts(&c.tok().sign());
    json!({
        (format!("{h}.{p}.")): "",
        "protected": h,
        "payload": b64(c.with("sub", json!("admin"))),
        "signature": s,
    })
    .to_string()
}

/// The signature must cover exactly the bytes sent, in the one canonical
/// encoding; everything structural is refused before any key lookup.
#[tokio::test]
async fn signature_and_encoding() {
    run(
        "signature and encoding",
        vec![
            case(
                "signature_stripped_keeping_the_dot",
                "CVE-2020-28042 (ServiceStack empty signature)",
                |c| {
                    let (h, p, _) = parts(&c.tok().sign());
                    notes(format!("{h}.{p}."))
                },
                invalid("malformed_token", 0),
            ),
            case(
                "signature_stripped_two_segments",
                "RFC 7515 §7.1",
                |c| {
                    let (h, p, _) = parts(&c.tok().sign());
                    notes(format!("{h}.{p}"))
                },
                invalid("malformed_token", 0),
            ),
            case(
                "signature_truncated_to_half",
                "RFC 7515 §5.2 step 8",
                |c| {
                    let (h, p, s) = parts(&c.tok().sign());
                    notes(format!("{h}.{p}.{}", &s[..s.len() / 2]))
                },
                invalid("invalid_signature", COLD),
            ),
            case(
                "signature_truncated_by_one_char",
                "RFC 7515 §5.2 step 8",
                |c| {
                    let (h, p, s) = parts(&c.tok().sign());
                    notes(format!("{h}.{p}.{}", &s[..s.len() - 1]))
                },
                invalid("invalid_signature", COLD),
            ),
            case(
                "signature_one_byte_flipped",
                "RFC 7515 §5.2 step 8",
                |c| {
                    let token = c.tok().sign();
                    let mut sig = unb64(&parts(&token).2);
                    sig[100] ^= 1;
                    notes(resign(&token, &sig))
                },
                invalid("invalid_signature", COLD),
            ),
            case(
                "signature_of_another_token",
                "RFC 7515 §5.2 step 8 (cut-and-paste)",
                |c| {
                    let (h, p, _) = parts(
                        &c.tok()
                            .claim("sub", "admin")
                            .roles(&["Notes.ReadWrite.All"])
                            .sign(),
                    );
                    let (_, _, s) = parts(&c.tok().sign());
                    notes(format!("{h}.{p}.{s}"))
                },
                invalid("invalid_signature", COLD),
            ),
            case(
                "signature_one_byte_short",
                "RFC 7515 §5.2 step 8 (RSA signature of the wrong length)",
                |c| {
                    let token = c.tok().sign();
                    let sig = unb64(&parts(&token).2);
                    notes(resign(&token, &sig[..sig.len() - 1]))
                },
                invalid("invalid_signature", COLD),
            ),
            case(
                "signature_by_another_published_key_under_the_kid",
                "RFC 7515 §5.2 step 8 (only the kid's key, never another of the set)",
                |c| {
                    notes(c.exact(
                        &format!("{}.{}", b64(c.rs_hdr()), b64(c.claims().to_string())),
                        &c.ps_key,
                        Algorithm::RS256,
                    ))
                },
                invalid("invalid_signature", COLD),
            ),
            case(
                "payload_claim_edited_under_the_original_signature",
                "RFC 7515 §5.2 step 8 (the signature covers the payload)",
                |c| {
                    let (h, p, s) = parts(&c.tok().sign());
                    let claims = String::from_utf8(unb64(&p)).expect("UTF-8");
                    let edited = claims.replace("\"test-user\"", "\"test-usex\"");
                    assert_ne!(edited, claims);
                    notes(format!("{h}.{}.{s}", b64(edited)))
                },
                invalid("invalid_signature", COLD),
            ),
            case(
                "scope_escalated_under_the_original_signature_on_the_write_route",
                "RFC 7515 §5.2 step 8; RFC 6750 §3.1 (401, neither 200 nor 403)",
                |c| {
                    let (h, p, s) = parts(&c.tok().sign());
                    let claims = String::from_utf8(unb64(&p)).expect("UTF-8");
                    let escalated = claims.replace("\"notes.read\"", "\"notes.read notes.write\"");
                    assert_ne!(escalated, claims);
                    post_notes(format!("{h}.{}.{s}", b64(escalated)))
                },
                invalid("invalid_signature", COLD),
            ),
            case(
                "header_edited_under_the_original_signature",
                "RFC 7515 §5.2 step 8 (the signature covers the header)",
                |c| {
                    let (h, p, s) = parts(&c.tok().sign());
                    let header = String::from_utf8(unb64(&h)).expect("UTF-8");
                    // An edit every check but the signature accepts.
                    let retyped = header.replace("at+jwt", "AT+JWT");
                    assert_ne!(retyped, header);
                    notes(format!("{}.{p}.{s}", b64(retyped)))
                },
                invalid("invalid_signature", COLD),
            ),
            case(
                "payload_base64_padded_over_http",
                "RFC 7515 §2; RFC 6750 §2.1 (b64token: `=` only at the end)",
                |c| notes(c.exact_rs(&format!("{}.{}", b64(c.rs_hdr()), padded_payload(c)))),
                bad_request("malformed_authorization"),
            ),
            case(
                "payload_base64_padded_validated_directly",
                "RFC 7515 §2 (base64url without padding)",
                |c| validate(c.exact_rs(&format!("{}.{}", b64(c.rs_hdr()), padded_payload(c)))),
                invalid("malformed_token", 0),
            ),
            case(
                "payload_non_canonical_trailing_bits",
                "RFC 4648 §3.5 (canonical encoding)",
                |c| {
                    let padded = padded_payload(c);
                    let mut payload = padded.trim_end_matches('=').to_owned();
                    let last = payload.pop().expect("non-empty");
                    let index = ALPHABET.find(last).expect("base64url char");
                    payload.push(ALPHABET.as_bytes()[index | 1] as char);
                    assert_ne!(payload, padded.trim_end_matches('='));
                    notes(c.exact_rs(&format!("{}.{payload}", b64(c.rs_hdr()))))
                },
                invalid("malformed_token", 0),
            ),
            case(
                "payload_standard_alphabet_plus_slash",
                "RFC 7515 §2 (base64url alphabet); RFC 4648 §5",
                |c| {
                    let payload = (0..64)
                        .map(|n| b64(c.with("fill", json!("?>".repeat(n)))))
                        .find(|p| p.contains('-') || p.contains('_'))
                        .expect("some filler encodes to - or _")
                        .replace('-', "+")
                        .replace('_', "/");
                    notes(c.exact_rs(&format!("{}.{payload}", b64(c.rs_hdr()))))
                },
                invalid("malformed_token", 0),
            ),
            case(
                "space_inside_a_segment",
                "RFC 6750 §2.1 (b64token)",
                |c| {
                    let t = c.tok().sign();
                    notes(format!("{} {}", &t[..40], &t[40..]))
                },
                bad_request("malformed_authorization"),
            ),
            case(
                "tab_inside_a_segment",
                "RFC 6750 §2.1 (b64token)",
                |c| {
                    let t = c.tok().sign();
                    notes(format!("{}\t{}", &t[..40], &t[40..]))
                },
                bad_request("malformed_authorization"),
            ),
            case(
                "newline_inside_a_segment",
                "RFC 7515 §7.1 (no whitespace); RFC 4648 §3.3",
                |c| {
                    let t = c.tok().sign();
                    validate(format!("{}\n{}", &t[..40], &t[40..]))
                },
                invalid("malformed_token", 0),
            ),
            case(
                "nul_inside_a_segment",
                "RFC 4648 §3.3 (non-alphabet characters)",
                |c| {
                    let t = c.tok().sign();
                    validate(format!("{}\u{0}{}", &t[..40], &t[40..]))
                },
                invalid("malformed_token", 0),
            ),
            case(
                "one_segment",
                "RFC 7515 §7.1",
                |_| notes("abc"),
                invalid("malformed_token", 0),
            ),
            case(
                "four_segments",
                "RFC 7515 §7.1",
                |c| {
                    let t = c.tok().sign();
                    let (_, _, s) = parts(&t);
                    notes(format!("{t}.{s}"))
                },
                invalid("malformed_token", 0),
            ),
            case(
                "five_segments_jwe_shaped",
                "RFC 7516 §7.1; RFC 8725 §2.8",
                |c| {
                    notes(format!(
                        "{}.ZWs.aXY.Y3Q.dGFn",
                        b64(json!({ "alg": "RSA-OAEP", "enc": "A256GCM", "kid": c.rs }).to_string())
                    ))
                },
                // Refused by its JWE header (`enc`), read before the rest.
                invalid("unsupported_header", 0),
            ),
            case(
                "all_segments_empty",
                "RFC 7515 §7.1",
                |_| notes(".."),
                invalid("malformed_token", 0),
            ),
            case(
                "four_empty_segments",
                "RFC 7515 §7.1",
                |_| notes("..."),
                invalid("malformed_token", 0),
            ),
            case(
                "empty_header_segment",
                "RFC 7515 §7.1",
                |c| {
                    let (_, p, s) = parts(&c.tok().sign());
                    notes(format!(".{p}.{s}"))
                },
                invalid("malformed_token", 0),
            ),
            case(
                "empty_payload_segment",
                "RFC 7515 §7.1",
                |c| {
                    let (h, _, s) = parts(&c.tok().sign());
                    notes(format!("{h}..{s}"))
                },
                invalid("malformed_token", 0),
            ),
            case(
                "json_serialization_polyglot_over_http",
                "CVE-2022-39227 (python-jwt compact/JSON polyglot)",
                |c| notes(polyglot(c)),
                bad_request("malformed_authorization"),
            ),
            case(
                "json_serialization_polyglot_validated_directly",
                "CVE-2022-39227 (python-jwt compact/JSON polyglot)",
                |c| validate(polyglot(c)),
                invalid("malformed_token", 0),
            ),
            case(
                "header_duplicate_alg_none_then_rs256",
                "RFC 7515 §5.2 step 4 (duplicate header names)",
                |c| {
                    notes(c.raw(
                        &format!(
                            r#"{{"alg":"none","alg":"RS256","typ":"at+jwt","kid":"{}"}}"#,
                            c.rs
                        ),
                        c.claims().to_string(),
                    ))
                },
                invalid("malformed_token", 0),
            ),
            case(
                "header_duplicate_alg_with_the_same_value",
                "RFC 7515 §5.2 step 4 (duplicate names refused, even when they agree)",
                |c| {
                    notes(c.raw(
                        &format!(
                            r#"{{"alg":"RS256","alg":"RS256","typ":"at+jwt","kid":"{}"}}"#,
                            c.rs
                        ),
                        c.claims().to_string(),
                    ))
                },
                invalid("malformed_token", 0),
            ),
            case(
                "header_is_a_json_array",
                "RFC 7515 §5.2 step 3",
                |c| notes(c.raw(&json!(["RS256", c.rs]).to_string(), c.claims().to_string())),
                invalid("malformed_token", 0),
            ),
            case(
                "header_with_trailing_garbage",
                "RFC 7515 §5.2 step 3",
                |c| notes(c.raw(&format!("{}xyz", c.rs_hdr()), c.claims().to_string())),
                invalid("malformed_token", 0),
            ),
        ],
    )
    .await;
}

// ---------------------------------------------------------------------------
// Critical and JWE-only headers
// ---------------------------------------------------------------------------

/// This layer understands no `crit` extension and no JWE parameter, and never
/// unwraps a nested token (`cty` `JWT`); all are refused on the header alone.
#[tokio::test]
async fn critical_headers() {
    run(
        "critical headers",
        vec![
            case(
                "crit_naming_a_registered_claim",
                "RFC 7515 §4.1.11; CVE-2025-59420 (Authlib ignored crit)",
                |c| notes(c.header_token(json!({ "crit": ["exp"], "exp": now() + 60 }))),
                invalid("unsupported_header", 0),
            ),
            case(
                "crit_unknown_extension",
                "RFC 7515 §4.1.11; CVE-2025-59420 (Authlib ignored crit)",
                |c| {
                    notes(c.header_token(json!({
                        "crit": ["http://evil.example/skip-checks"],
                        "http://evil.example/skip-checks": true,
                    })))
                },
                invalid("unsupported_header", 0),
            ),
            case(
                "crit_empty_array",
                "RFC 7515 §4.1.11 (MUST NOT be empty)",
                |c| notes(c.header_token(json!({ "crit": [] }))),
                invalid("unsupported_header", 0),
            ),
            case(
                "crit_b64_false",
                "RFC 7797 §6 (unencoded payload)",
                |c| notes(c.header_token(json!({ "crit": ["b64"], "b64": false }))),
                invalid("unsupported_header", 0),
            ),
            case(
                "b64_false_without_crit",
                "RFC 7797 §6",
                |c| notes(c.header_token(json!({ "b64": false }))),
                invalid("unsupported_header", 0),
            ),
            case(
                "b64_true",
                "RFC 7797 §3",
                |c| notes(c.header_token(json!({ "b64": true }))),
                invalid("unsupported_header", 0),
            ),
            case(
                "zip_deflate",
                "RFC 7516 §4.1.3; CVE-2024-28180 (go-jose decompression bomb)",
                |c| notes(c.header_token(json!({ "zip": "DEF" }))),
                invalid("unsupported_header", 0),
            ),
            case(
                "enc_on_a_jws",
                "RFC 7516 §4.1.2; RFC 8725 §2.8",
                |c| notes(c.header_token(json!({ "enc": "A256GCM" }))),
                invalid("unsupported_header", 0),
            ),
            case(
                "cty_jwt_nested_token_is_not_unwrapped",
                "RFC 7519 §5.2, §7.2 step 8",
                |c| {
                    let header =
                        json!({ "alg": "RS256", "typ": "at+jwt", "kid": c.rs, "cty": "JWT" });
                    notes(c.raw(&header.to_string(), json!(c.tok().sign()).to_string()))
                },
                invalid("unsupported_header", 0),
            ),
            case(
                "cty_application_jwt_over_a_valid_claims_set",
                "RFC 7519 §5.2 (cty announces a nested JWT)",
                |c| notes(c.header_token(json!({ "cty": "application/JWT" }))),
                invalid("unsupported_header", 0),
            ),
            case(
                "cty_of_another_kind_is_ignored",
                "RFC 7515 §4.1.10 (cty is for the application)",
                |c| notes(c.header_token(json!({ "cty": "json" }))),
                ok(COLD),
            ),
            case(
                "x5t_thumbprint_is_allowed",
                "RFC 7515 §4.1.7 (Entra ID tokens carry x5t)",
                |c| notes(c.header_token(json!({ "x5t": "bm90LWEtcmVhbC10aHVtYnByaW50" }))),
                ok(COLD),
            ),
            case(
                "jwe_epk_on_a_jws",
                "RFC 7518 §4.6.1.1; RFC 8725 §2.8",
                |c| notes(c.header_token(json!({ "epk": { "kty": "EC", "crv": "P-256" } }))),
                invalid("unsupported_header", 0),
            ),
            case(
                "jwe_apu_apv_on_a_jws",
                "RFC 7518 §4.6.1.2-3",
                |c| notes(c.header_token(json!({ "apu": "YQ", "apv": "Yg" }))),
                invalid("unsupported_header", 0),
            ),
            case(
                "jwe_iv_tag_on_a_jws",
                "RFC 7518 §4.7.1",
                |c| notes(c.header_token(json!({ "iv": "AAAA", "tag": "AAAA" }))),
                invalid("unsupported_header", 0),
            ),
            case(
                "jwe_p2s_p2c_on_a_jws",
                "RFC 7518 §4.8.1 (PBES2 count as a CPU bomb)",
                |c| notes(c.header_token(json!({ "p2s": "AAAA", "p2c": 100_000_000 }))),
                invalid("unsupported_header", 0),
            ),
            case(
                "unknown_non_critical_header_is_ignored",
                "RFC 7515 §4 (unknown parameters MUST be ignored)",
                |c| notes(c.header_token(json!({ "x-debug": { "admin": true } }))),
                ok(COLD),
            ),
        ],
    )
    .await;
}

// ---------------------------------------------------------------------------
// Claim type confusion (RFC 7519 §2, §4.1, §7.2)
// ---------------------------------------------------------------------------

/// Every registered claim has one JSON type; anything else is refused, never
/// coerced or ignored. JSON that does not parse is refused before any key
/// lookup; a well-formed claim of the wrong type after the signature.
#[tokio::test]
async fn claim_type_confusion() {
    run(
        "claim type confusion",
        vec![
            case(
                "exp_string",
                "RFC 7519 §2 (NumericDate is a number)",
                |c| notes(c.claim("exp", json!((now() + 3600).to_string()))),
                invalid("invalid_claim", COLD),
            ),
            case(
                "exp_boolean",
                "RFC 7519 §2",
                |c| notes(c.claim("exp", json!(true))),
                invalid("invalid_claim", COLD),
            ),
            case(
                "exp_1e300",
                "RFC 7519 §2 (out of range)",
                |c| notes(c.claim("exp", json!(1e300))),
                invalid("invalid_claim", COLD),
            ),
            case(
                "exp_2_pow_64",
                "RFC 7519 §2 (beyond i64 and 2^53)",
                |c| {
                    notes(
                        c.raw(
                            &c.rs_hdr(),
                            c.with("exp", json!(0))
                                .replace("\"exp\":0", "\"exp\":18446744073709551616"),
                        ),
                    )
                },
                invalid("invalid_claim", COLD),
            ),
            case(
                "exp_1e400_not_representable",
                "RFC 8259 §6 (number out of range)",
                |c| {
                    notes(
                        c.raw(
                            &c.rs_hdr(),
                            c.with("exp", json!(0))
                                .replace("\"exp\":0", "\"exp\":1e400"),
                        ),
                    )
                },
                invalid("malformed_token", 0),
            ),
            case(
                "exp_nan_string",
                "RFC 7519 §2",
                |c| notes(c.claim("exp", json!("NaN"))),
                invalid("invalid_claim", COLD),
            ),
            case(
                "exp_nan_literal",
                "RFC 8259 §6 (NaN is not JSON)",
                |c| {
                    notes(c.raw(
                        &c.rs_hdr(),
                        c.with("exp", json!(0)).replace("\"exp\":0", "\"exp\":NaN"),
                    ))
                },
                invalid("malformed_token", 0),
            ),
            case(
                "exp_array",
                "RFC 7519 §2",
                |c| notes(c.claim("exp", json!([now() + 3600]))),
                invalid("invalid_claim", COLD),
            ),
            case(
                "exp_negative",
                "RFC 7519 §4.1.4",
                |c| notes(c.claim("exp", json!(-1))),
                invalid("expired", COLD),
            ),
            // A far-future exp is the issuer's signed choice: no lifetime cap is
            // applied (documented in SECURITY.md), and it must not overflow.
            case(
                "exp_i64_max_does_not_overflow",
                "RFC 7519 §4.1.4",
                |c| notes(c.claim("exp", json!(i64::MAX))),
                ok(COLD),
            ),
            case(
                "exp_null",
                "RFC 7519 §2 (present, but no NumericDate)",
                |c| notes(c.claim("exp", Value::Null)),
                invalid("invalid_claim", COLD),
            ),
            case(
                "nbf_string",
                "RFC 7519 §4.1.5",
                |c| notes(c.claim("nbf", json!("0"))),
                invalid("invalid_claim", COLD),
            ),
            case(
                "iat_string",
                "RFC 7519 §4.1.6",
                |c| notes(c.claim("iat", json!(now().to_string()))),
                invalid("invalid_claim", COLD),
            ),
            case(
                "iat_null",
                "RFC 7519 §4.1.6",
                |c| notes(c.claim("iat", Value::Null)),
                invalid("invalid_claim", COLD),
            ),
            case(
                "aud_number",
                "RFC 7519 §4.1.3 (string or array of strings)",
                |c| notes(c.claim("aud", json!(42))),
                invalid("invalid_claim", COLD),
            ),
            case(
                "aud_object",
                "RFC 7519 §4.1.3",
                |c| notes(c.claim("aud", json!({ "aud": AUD }))),
                invalid("invalid_claim", COLD),
            ),
            case(
                "aud_nested_array",
                "RFC 7519 §4.1.3",
                |c| notes(c.claim("aud", json!([[AUD]]))),
                invalid("invalid_claim", COLD),
            ),
            case(
                "aud_null",
                "RFC 7519 §4.1.3",
                |c| notes(c.claim("aud", Value::Null)),
                invalid("invalid_claim", COLD),
            ),
            case(
                "aud_ours_next_to_a_number",
                "CVE-2020-26160 (jwt-go aud type assertion)",
                |c| notes(c.claim("aud", json!([AUD, 1]))),
                invalid("invalid_claim", COLD),
            ),
            case(
                "iss_array",
                "RFC 7519 §4.1.1 (StringOrURI)",
                |c| notes(c.claim("iss", json!([c.a.issuer()]))),
                invalid("invalid_claim", 0),
            ),
            case(
                "iss_number",
                "RFC 7519 §4.1.1",
                |c| notes(c.claim("iss", json!(1))),
                invalid("invalid_claim", 0),
            ),
            case(
                "sub_number",
                "RFC 7519 §4.1.2",
                |c| notes(c.claim("sub", json!(1))),
                invalid("invalid_claim", COLD),
            ),
            case(
                "duplicate_aud",
                "RFC 7519 §4 (unique claim names); RFC 8259 §4",
                |c| {
                    notes(
                        c.raw(
                            &c.rs_hdr(),
                            c.claims()
                                .to_string()
                                .replacen('{', "{\"aud\":\"api://other\",", 1),
                        ),
                    )
                },
                invalid("malformed_token", 0),
            ),
            case(
                "duplicate_iss_trusted_then_foreign",
                "RFC 7519 §4 (unique claim names)",
                |c| {
                    notes(c.raw(
                        &c.rs_hdr(),
                        c.claims().to_string().replacen(
                            '}',
                            ",\"iss\":\"https://evil.example\"}",
                            1,
                        ),
                    ))
                },
                invalid("malformed_token", 0),
            ),
            case(
                "payload_array",
                "RFC 7519 §7.2 step 10",
                |c| notes(c.raw(&c.rs_hdr(), json!([c.claims()]).to_string())),
                invalid("claims_not_object", 0),
            ),
            case(
                "payload_string",
                "RFC 7519 §7.2 step 10",
                |c| notes(c.raw(&c.rs_hdr(), json!(c.claims().to_string()).to_string())),
                invalid("claims_not_object", 0),
            ),
            case(
                "payload_number",
                "RFC 7519 §7.2 step 10",
                |c| notes(c.raw(&c.rs_hdr(), "42")),
                invalid("claims_not_object", 0),
            ),
            case(
                "payload_null",
                "RFC 7519 §7.2 step 10",
                |c| notes(c.raw(&c.rs_hdr(), "null")),
                invalid("claims_not_object", 0),
            ),
            case(
                "payload_true",
                "RFC 7519 §7.2 step 10",
                |c| notes(c.raw(&c.rs_hdr(), "true")),
                invalid("claims_not_object", 0),
            ),
            case(
                "payload_not_json",
                "RFC 7519 §7.2 step 10",
                |c| notes(c.raw(&c.rs_hdr(), "not json")),
                invalid("claims_not_object", 0),
            ),
            case(
                "payload_with_a_utf8_bom",
                "RFC 8259 §8.1 (no BOM)",
                |c| notes(c.raw(&c.rs_hdr(), format!("\u{feff}{}", c.claims()))),
                invalid("claims_not_object", 0),
            ),
            case(
                "payload_with_invalid_utf8",
                "RFC 7519 §7.2 step 9 (UTF-8)",
                |c| {
                    let mut payload = c.with("sub", json!("@@")).into_bytes();
                    let at = payload.iter().position(|&b| b == b'@').expect("marker");
                    payload[at] = 0xff;
                    payload[at + 1] = 0xfe;
                    notes(c.raw(&c.rs_hdr(), payload))
                },
                invalid("malformed_token", 0),
            ),
            case(
                "payload_with_a_lone_surrogate_escape",
                "RFC 8259 §8.2",
                |c| {
                    notes(c.raw(
                        &c.rs_hdr(),
                        c.with("sub", json!("@")).replace('@', "\\ud800"),
                    ))
                },
                invalid("malformed_token", 0),
            ),
            case(
                "payload_nested_5000_deep",
                "CWE-674 (uncontrolled recursion)",
                |c| {
                    notes(c.raw(
                        &c.rs_hdr(),
                        c.with("x", json!(0)).replace(
                            "\"x\":0",
                            &format!("\"x\":{}{}", "[".repeat(5000), "]".repeat(5000)),
                        ),
                    ))
                },
                invalid("malformed_token", 0),
            ),
        ],
    )
    .await;
}

// ---------------------------------------------------------------------------
// Issuer and audience matching (RFC 8725 §3.8, §3.9; RFC 9068 §4)
// ---------------------------------------------------------------------------

/// `iss` and `aud` compare as exact strings. A foreign issuer is refused
/// before any key lookup.
#[tokio::test]
async fn issuer_and_audience_matching() {
    run(
        "issuer and audience matching",
        vec![
            case(
                "iss_with_a_trailing_slash",
                "RFC 8725 §3.8; RFC 9068 §4 (exact match)",
                |c| notes(c.tok().claim("iss", format!("{}/", c.a.issuer())).sign()),
                invalid("issuer_mismatch", 0),
            ),
            case(
                "iss_with_a_leading_space",
                "RFC 8725 §3.8 (exact match, no trimming)",
                |c| notes(c.tok().claim("iss", format!(" {}", c.a.issuer())).sign()),
                invalid("issuer_mismatch", 0),
            ),
            // An unknown kid too: were the issuer checked after the key
            // lookup, these would fetch.
            case(
                "iss_foreign_with_an_unknown_kid",
                "RFC 8725 §3.8; issuer chosen before any key lookup",
                |c| {
                    notes(
                        c.tok()
                            .claim("iss", "https://evil.example")
                            .header_kid("kid-nobody-knows")
                            .sign(),
                    )
                },
                invalid("issuer_mismatch", 0),
            ),
            case(
                "iss_foreign_with_an_unknown_kid_after_warm_up",
                "RFC 8725 §3.8; issuer chosen before any key lookup",
                |c| {
                    notes(
                        c.tok()
                            .claim("iss", "https://evil.example")
                            .header_kid("another-unknown-kid")
                            .sign(),
                    )
                },
                invalid("issuer_mismatch", 0),
            )
            .warm(),
            case(
                "iss_upper_case_scheme",
                "RFC 8725 §3.8 (exact match)",
                |c| {
                    notes(
                        c.tok()
                            .claim("iss", c.a.issuer().replace("http://", "HTTP://"))
                            .sign(),
                    )
                },
                invalid("issuer_mismatch", 0),
            ),
            case(
                "iss_fullwidth_digit",
                "UTS #39 confusables",
                |c| {
                    notes(
                        c.tok()
                            .claim("iss", c.a.issuer().replacen('1', "\u{ff11}", 1))
                            .sign(),
                    )
                },
                invalid("issuer_mismatch", 0),
            ),
            case(
                "iss_ideographic_full_stop",
                "UTS #46 (IDNA maps U+3002 to `.`)",
                |c| {
                    notes(
                        c.tok()
                            .claim("iss", c.a.issuer().replacen('.', "\u{3002}", 1))
                            .sign(),
                    )
                },
                invalid("issuer_mismatch", 0),
            ),
            case(
                "iss_trusted_as_a_prefix",
                "RFC 8725 §3.8 (no prefix match)",
                |c| {
                    notes(
                        c.tok()
                            .claim("iss", format!("{}.evil.example", c.a.issuer()))
                            .sign(),
                    )
                },
                invalid("issuer_mismatch", 0),
            ),
            case(
                "iss_trusted_with_a_path",
                "RFC 8725 §3.8 (no prefix match)",
                |c| {
                    notes(
                        c.tok()
                            .claim("iss", format!("{}/tenant/evil", c.a.issuer()))
                            .sign(),
                    )
                },
                invalid("issuer_mismatch", 0),
            ),
            case(
                "iss_trusted_as_userinfo",
                "RFC 3986 §3.2.1 (userinfo confusion)",
                |c| {
                    notes(
                        c.tok()
                            .claim("iss", format!("{}@evil.example", c.a.issuer()))
                            .sign(),
                    )
                },
                invalid("issuer_mismatch", 0),
            ),
            case(
                "iss_trusted_as_a_suffix",
                "RFC 8725 §3.8 (no suffix match)",
                |c| {
                    notes(
                        c.tok()
                            .claim("iss", format!("https://evil.example/{}", c.a.issuer()))
                            .sign(),
                    )
                },
                invalid("issuer_mismatch", 0),
            ),
            case(
                "iss_prefix_of_the_trusted",
                "RFC 8725 §3.8",
                |c| {
                    notes(
                        c.tok()
                            .claim("iss", c.a.issuer().rsplit_once(':').expect("port").0)
                            .sign(),
                    )
                },
                invalid("issuer_mismatch", 0),
            ),
            case(
                "iss_with_a_nul_suffix",
                "RFC 8725 §3.8 (no C-string truncation)",
                |c| {
                    notes(
                        c.tok()
                            .claim("iss", format!("{}\u{0}", c.a.issuer()))
                            .sign(),
                    )
                },
                invalid("issuer_mismatch", 0),
            ),
            case(
                "iss_missing",
                "RFC 9068 §2.2 (iss required)",
                |c| notes(c.tok().without("iss").sign()),
                invalid("missing_claim", 0),
            ),
            case(
                "aud_prefix_of_ours",
                "RFC 8725 §3.9; RFC 7519 §4.1.3",
                |c| notes(c.tok().audience("api://bearer-guard").sign()),
                invalid("audience_mismatch", COLD),
            ),
            case(
                "aud_ours_with_a_suffix",
                "RFC 8725 §3.9",
                |c| notes(c.tok().audience(&format!("{AUD}-evil")).sign()),
                invalid("audience_mismatch", COLD),
            ),
            case(
                "aud_with_a_trailing_slash",
                "RFC 8725 §3.9 (exact match)",
                |c| notes(c.tok().audience(&format!("{AUD}/")).sign()),
                invalid("audience_mismatch", COLD),
            ),
            case(
                "aud_case_changed",
                "RFC 7519 §4.1.3 (case-sensitive)",
                |c| notes(c.tok().audience(&AUD.to_uppercase()).sign()),
                invalid("audience_mismatch", COLD),
            ),
            case(
                "aud_with_a_trailing_space",
                "RFC 7519 §4.1.3",
                |c| notes(c.tok().audience(&format!("{AUD} ")).sign()),
                invalid("audience_mismatch", COLD),
            ),
            case(
                "aud_200_values_ours_last",
                "RFC 7519 §4.1.3 (any one value)",
                |c| {
                    let mut aud: Vec<String> =
                        (0..199).map(|i| format!("api://other-{i}")).collect();
                    aud.push(AUD.to_owned());
                    notes(c.tok().claim("aud", json!(aud)).sign())
                },
                ok(COLD),
            ),
            case(
                "aud_200_values_none_ours",
                "RFC 8725 §3.9",
                |c| {
                    notes(
                        c.tok()
                            .claim(
                                "aud",
                                json!((0..200).map(|i| format!("{AUD}-{i}")).collect::<Vec<_>>()),
                            )
                            .sign(),
                    )
                },
                invalid("audience_mismatch", COLD),
            ),
            case(
                "aud_empty_array",
                "CVE-2020-26160 (jwt-go empty aud)",
                |c| notes(c.tok().claim("aud", json!([])).sign()),
                invalid("audience_mismatch", COLD),
            ),
            case(
                "aud_empty_string",
                "RFC 8725 §3.9",
                |c| notes(c.tok().audience("").sign()),
                invalid("audience_mismatch", COLD),
            ),
            case(
                "aud_missing",
                "RFC 9068 §4 (aud required)",
                |c| notes(c.tok().without("aud").sign()),
                invalid("missing_claim", COLD),
            ),
        ],
    )
    .await;
}

// ---------------------------------------------------------------------------
// Keys bound to an issuer by their key set
// ---------------------------------------------------------------------------

/// A JWK that names an `issuer` (Microsoft's multi-tenant key set does, as a
/// `{tenantid}` template) verifies only tokens whose `iss` it names: a key the
/// issuer's own set binds to another issuer or cloud never signs for this one,
/// even under a trusted `kid` with a genuine signature.
#[tokio::test]
async fn keys_bound_to_an_issuer() {
    run(
        "keys bound to an issuer",
        vec![
            case(
                "key_bound_to_this_issuer",
                "control",
                |c| notes(c.k.token().signed_by(&c.k_rs).scope("notes.read").sign()),
                ok(COLD),
            )
            .on(App::Bound),
            case(
                "key_bound_to_another_clouds_template",
                "Microsoft.Identity.Web issuer validation of signing keys; RFC 8725 §3.8",
                |c| notes(c.k.token().signed_by(&c.k_es).scope("notes.read").sign()),
                invalid("key_issuer_mismatch", COLD),
            )
            .on(App::Bound),
            case(
                "key_bound_to_another_cloud_after_warm_up",
                "Microsoft.Identity.Web issuer validation of signing keys",
                |c| notes(c.k.token().signed_by(&c.k_es).scope("notes.read").sign()),
                invalid("key_issuer_mismatch", 0),
            )
            .on(App::Bound)
            .warm(),
        ],
    )
    .await;
}

// ---------------------------------------------------------------------------
// Profile conformance (RFC 9068 §2.2)
// ---------------------------------------------------------------------------

/// A token that leaves out a claim its profile makes a MUST is not that
/// profile's access token, however valid its signature: the RFC 9068 preset
/// refuses it after the key lookup (the claims are checked once the signature
/// holds), with the name of the first claim missing.
#[tokio::test]
async fn profile_conformance() {
    fn conformant(c: &Ctx) -> TokenBuilder<'_> {
        c.a.token()
            .signed_by(&c.rs)
            .claim("scope", "notes.read")
            .claim("client_id", "s6BhdRkqt3")
            .claim("jti", "dbe39bf3a3ba4238a513f51d6e1691c4")
    }
    run(
        "profile conformance",
        vec![
            case(
                "rfc9068_conformant_token",
                "control",
                |c| notes(conformant(c).sign()),
                ok(COLD),
            )
            .on(App::Rfc9068),
            case(
                "rfc9068_without_sub",
                "RFC 9068 §2.2 (sub REQUIRED)",
                |c| notes(conformant(c).without("sub").sign()),
                invalid("missing_claim", COLD),
            )
            .on(App::Rfc9068),
            case(
                "rfc9068_without_client_id",
                "RFC 9068 §2.2 (client_id REQUIRED)",
                |c| notes(conformant(c).without("client_id").sign()),
                invalid("missing_claim", COLD),
            )
            .on(App::Rfc9068),
            case(
                "rfc9068_without_iat",
                "RFC 9068 §2.2 (iat REQUIRED)",
                |c| notes(conformant(c).without("iat").sign()),
                invalid("missing_claim", COLD),
            )
            .on(App::Rfc9068),
            case(
                "rfc9068_without_jti",
                "RFC 9068 §2.2 (jti REQUIRED)",
                |c| notes(conformant(c).without("jti").sign()),
                invalid("missing_claim", COLD),
            )
            .on(App::Rfc9068),
            case(
                "rfc9068_client_id_of_the_wrong_type",
                "RFC 9068 §2.2; RFC 8693 §4.3 (client_id is a string)",
                |c| notes(conformant(c).claim("client_id", 7).sign()),
                invalid("invalid_claim", COLD),
            )
            .on(App::Rfc9068),
            case(
                "rfc9068_typ_absent",
                "RFC 9068 §2.1, §4 (typ REQUIRED: at+jwt)",
                |c| notes(conformant(c).typ(None).sign()),
                invalid("wrong_type", 0),
            )
            .on(App::Rfc9068),
            case(
                "plain_issuer_needs_no_profile_claims",
                "control: only iss, aud and exp are required by default",
                |c| notes(c.tok().without("sub").without("iat").sign()),
                ok(COLD),
            ),
        ],
    )
    .await;
}

// ---------------------------------------------------------------------------
// Cross-token confusion (RFC 8725 §2.8, §3.11; RFC 9068 §4)
// ---------------------------------------------------------------------------

/// A token of another kind, for another audience or from another key never
/// passes as this API's access token. The at+jwt layer refuses by `typ`
/// before any key lookup; the Entra-like layer (no typing) by audience or by
/// the absence of any permission.
#[tokio::test]
async fn cross_token_confusion() {
    fn id_token(issuer: &TestIssuer) -> TokenBuilder<'_> {
        issuer
            .token()
            .typ(Some("JWT"))
            .claim("nonce", "n-0S6_WzA2Mj")
            .claim("auth_time", now() - 10)
            .claim("email", "victim@example.com")
    }
    fn logout_token(issuer: &TestIssuer) -> TokenBuilder<'_> {
        issuer
            .token()
            .typ(Some("logout+jwt"))
            .claim("jti", "bWJq")
            .claim("sid", "08a5019c-17e1-4977-8f42-65a12843ea02")
            .claim(
                "events",
                json!({ "http://schemas.openid.net/event/backchannel-logout": {} }),
            )
    }
    fn refresh_shaped(issuer: &TestIssuer) -> TokenBuilder<'_> {
        issuer
            .token()
            .typ(None)
            .audience(issuer.issuer())
            .claim("token_use", "refresh")
            .claim("scope", "offline_access notes.read")
    }
    run(
        "cross-token confusion",
        vec![
            case(
                "id_token_to_the_at_jwt_layer",
                "RFC 8725 §2.8, §3.11; RFC 9068 §4",
                |c| notes(id_token(&c.a).signed_by(&c.rs).sign()),
                invalid("wrong_type", 0),
            ),
            case(
                "id_token_to_the_entra_layer",
                "RFC 8725 §2.8; Entra: access tokens carry scp or roles",
                |c| notes(id_token(&c.e).sign()),
                invalid("no_permissions", COLD),
            )
            .on(App::Entra),
            case(
                "logout_token_to_the_at_jwt_layer",
                "OIDC Back-Channel Logout §2.4 (logout+jwt); RFC 8725 §3.11",
                |c| notes(logout_token(&c.a).signed_by(&c.rs).sign()),
                invalid("wrong_type", 0),
            ),
            case(
                "logout_token_to_the_entra_layer",
                "OIDC Back-Channel Logout §2.4; RFC 8725 §3.11",
                |c| notes(logout_token(&c.e).sign()),
                invalid("wrong_type", 0),
            )
            .on(App::Entra),
            case(
                "refresh_shaped_jwt_to_the_at_jwt_layer",
                "RFC 8725 §3.11 (untyped token)",
                |c| notes(refresh_shaped(&c.a).signed_by(&c.rs).sign()),
                invalid("wrong_type", 0),
            ),
            case(
                "refresh_shaped_jwt_to_the_entra_layer",
                "RFC 8725 §3.9 (audience is the issuer, not the API)",
                |c| notes(refresh_shaped(&c.e).sign()),
                invalid("audience_mismatch", COLD),
            )
            .on(App::Entra),
            case(
                "access_token_for_another_api",
                "RFC 9068 §4; RFC 8725 §3.9",
                |c| notes(c.tok().audience("api://another-api").sign()),
                invalid("audience_mismatch", COLD),
            ),
            case(
                "at_jwt_to_the_entra_layer",
                "RFC 8725 §3.11 (profile fixes the typ)",
                |c| notes(c.e.token().scope("notes.read").sign()),
                invalid("wrong_type", 0),
            )
            .on(App::Entra),
            case(
                "typ_application_at_jwt_accepted",
                "RFC 7515 §4.1.9; RFC 9068 §2.1",
                |c| notes(c.tok().typ(Some("application/AT+JWT")).sign()),
                ok(COLD),
            ),
            case(
                "typ_at_jwt_with_a_suffix",
                "RFC 9068 §2.1",
                |c| notes(c.tok().typ(Some("at+jwt; evil")).sign()),
                invalid("wrong_type", 0),
            ),
            case(
                "typ_number",
                "RFC 7515 §4.1.9 (string)",
                |c| {
                    notes(c.raw(
                        &json!({ "alg": "RS256", "typ": 1, "kid": c.rs }).to_string(),
                        c.claims().to_string(),
                    ))
                },
                invalid("malformed_token", 0),
            ),
            case(
                "trusted_iss_signed_by_a_foreign_key",
                "RFC 8725 §3.8 (iss is only as good as the key)",
                |c| {
                    notes(c.attacker_token(
                        json!({ "alg": "RS256", "typ": "at+jwt", "kid": "attacker-key" }),
                    ))
                },
                invalid("unknown_kid", COLD),
            ),
            case(
                "foreign_iss_signed_by_a_foreign_key",
                "RFC 8725 §3.8",
                |c| {
                    notes(
                        c.attacker
                            .token()
                            .claim("iss", c.attacker.issuer())
                            .signed_by(&c.atk)
                            .scope("notes.read")
                            .sign(),
                    )
                },
                invalid("issuer_mismatch", 0),
            ),
            case(
                "entra_access_token_accepted",
                "control",
                |c| notes(c.e.token().typ(Some("JWT")).scope("notes.read").sign()),
                ok(COLD),
            )
            .on(App::Entra),
            case(
                "entra_app_token_with_the_role_accepted",
                "control",
                |c| notes(c.e.token().typ(None).roles(&["Notes.Read.All"]).sign()),
                ok(COLD),
            )
            .on(App::Entra),
        ],
    )
    .await;
}

// ---------------------------------------------------------------------------
// Time (RFC 7519 §4.1.4, §4.1.5)
// ---------------------------------------------------------------------------

/// `now >= exp + leeway` is expired; `now + leeway < nbf` is not yet valid
/// (leeway 60 s). Margins on the accepted side are 30 s, so no case depends on
/// the second it runs in.
#[tokio::test]
async fn time_claims() {
    run(
        "time",
        vec![
            case(
                "expired_an_hour_ago",
                "RFC 7519 §4.1.4",
                |c| notes(c.tok().expires_in(-3600).sign()),
                invalid("expired", COLD),
            ),
            case(
                "exp_exactly_at_the_leeway_boundary",
                "RFC 7519 §4.1.4 (on or after exp)",
                |c| notes(c.tok().claim("exp", now() - 60).sign()),
                invalid("expired", COLD),
            ),
            case(
                "exp_within_the_leeway",
                "RFC 7519 §4.1.4 (clock skew)",
                |c| notes(c.tok().claim("exp", now() - 30).sign()),
                ok(COLD),
            ),
            case(
                "exp_zero",
                "RFC 7519 §4.1.4",
                |c| notes(c.tok().claim("exp", 0).sign()),
                invalid("expired", COLD),
            ),
            case(
                "exp_missing",
                "RFC 9068 §2.2 (exp required)",
                |c| notes(c.tok().without("exp").sign()),
                invalid("missing_claim", COLD),
            ),
            case(
                "nbf_an_hour_ahead",
                "RFC 7519 §4.1.5",
                |c| notes(c.tok().claim("nbf", now() + 3600).sign()),
                invalid("not_yet_valid", COLD),
            ),
            case(
                "nbf_exactly_at_the_leeway_boundary",
                "RFC 7519 §4.1.5 (not before nbf - leeway)",
                |c| notes(c.tok().claim("nbf", now() + 60).sign()),
                ok(COLD),
            ),
            case(
                "nbf_beyond_the_leeway",
                "RFC 7519 §4.1.5",
                |c| notes(c.tok().claim("nbf", now() + 90).sign()),
                invalid("not_yet_valid", COLD),
            ),
            // iat is informational (RFC 7519 §4.1.6); only its type is checked.
            case(
                "iat_in_the_future_is_informational",
                "RFC 7519 §4.1.6",
                |c| notes(c.tok().claim("iat", now() + 3600).sign()),
                ok(COLD),
            ),
        ],
    )
    .await;
}

// ---------------------------------------------------------------------------
// Authorization header parsing and sizes (RFC 6750 §2, RFC 9110 §11)
// ---------------------------------------------------------------------------

/// The header is parsed strictly and cheaply: one header, scheme `Bearer` in
/// any case, one `b64token`, at most 16 KiB, checked before any decoding.
#[tokio::test]
async fn authorization_header_and_sizes() {
    run(
        "Authorization header and sizes",
        vec![
            case(
                "token_exactly_at_the_cap",
                "RFC 6750 §2.1; size cap (issue 5 point 5)",
                |c| notes(token_of_len(c, CAP)),
                ok(COLD),
            ),
            case(
                "token_one_byte_over_the_cap",
                "size cap, checked before decoding",
                |c| notes(token_of_len(c, CAP + 1)),
                invalid("token_too_large", 0),
            ),
            case(
                "one_megabyte_header_value",
                "size cap, checked before decoding",
                |_| authz(format!("Bearer {}", "a".repeat(1 << 20))),
                invalid("token_too_large", 0),
            ),
            // The cap comes before the charset check: an oversized value that
            // is no b64token is a 401, not a 400.
            case(
                "one_megabyte_of_non_b64token_characters",
                "size cap, checked before the b64token syntax",
                |_| authz(format!("Bearer {}", "!".repeat(1 << 20))),
                invalid("token_too_large", 0),
            ),
            case(
                "bearer_then_one_megabyte_of_spaces",
                "RFC 6750 §2.1",
                |_| authz(format!("Bearer{}", " ".repeat(1 << 20))),
                bad_request("malformed_authorization"),
            ),
            case(
                "non_ascii_bytes_in_the_token",
                "RFC 6750 §2.1 (b64token); RFC 9110 §5.5 (obs-text)",
                |c| authz([&b"Bearer \xff\xfe"[..], c.tok().sign().as_bytes()].concat()),
                bad_request("malformed_authorization"),
            ),
            case(
                "non_ascii_scheme",
                "RFC 9110 §11.1",
                |c| authz([&b"B\xc3\xabarer "[..], c.tok().sign().as_bytes()].concat()),
                bare("not_bearer"),
            ),
            case(
                "tab_between_scheme_and_token",
                "RFC 9110 §11.4 (1*SP)",
                |c| authz(format!("Bearer\t{}", c.tok().sign())),
                bare("not_bearer"),
            ),
            case(
                "tab_after_the_token",
                "RFC 6750 §2.1 (b64token)",
                |c| authz(format!("Bearer {}\t", c.tok().sign())),
                bad_request("malformed_authorization"),
            ),
            case(
                "bearer_twice",
                "RFC 6750 §2.1",
                |c| authz(format!("Bearer Bearer {}", c.tok().sign())),
                bad_request("malformed_authorization"),
            ),
            case(
                "lowercase_scheme",
                "RFC 9110 §11.1 (scheme is case-insensitive)",
                |c| authz(format!("bearer {}", c.tok().sign())),
                ok(COLD),
            ),
            case(
                "mixed_case_scheme_and_three_spaces",
                "RFC 9110 §11.1",
                |c| authz(format!("bEaReR   {}", c.tok().sign())),
                ok(COLD),
            ),
            case(
                "basic_scheme",
                "RFC 6750 §3.1 (no Bearer credentials)",
                |_| authz("Basic dXNlcjpwYXNz"),
                bare("not_bearer"),
            ),
            case(
                "digest_scheme",
                "RFC 6750 §3.1 (no Bearer credentials)",
                |_| authz("Digest username=\"u\""),
                bare("not_bearer"),
            ),
            case(
                "scheme_glued_to_the_token",
                "RFC 9110 §11.4 (1*SP after the scheme)",
                |_| authz("Bearerabc"),
                bare("not_bearer"),
            ),
            case(
                "dpop_scheme_with_a_valid_token",
                "RFC 9449 §7.1 (DPoP not supported: no downgrade)",
                |c| authz(format!("DPoP {}", c.tok().sign())),
                bare("not_bearer"),
            ),
            case(
                "two_headers_with_the_same_valid_token",
                "RFC 6750 §2 (one method, one token)",
                |c| {
                    let t = c.tok().sign();
                    headers("/notes", vec![format!("Bearer {t}").into_bytes(); 2])
                },
                bad_request("multiple_authorization_headers"),
            ),
            case(
                "two_headers_bearer_and_basic",
                "RFC 6750 §2",
                |c| {
                    headers(
                        "/notes",
                        vec![
                            format!("Bearer {}", c.tok().sign()).into_bytes(),
                            b"Basic dXNlcjpwYXNz".to_vec(),
                        ],
                    )
                },
                bad_request("multiple_authorization_headers"),
            ),
            case(
                "bearer_alone",
                "RFC 6750 §2.1 (credentials required after the scheme)",
                |_| authz("Bearer"),
                bad_request("malformed_authorization"),
            ),
            case(
                "bearer_and_one_space",
                "RFC 6750 §2.1",
                |_| authz("Bearer "),
                bad_request("malformed_authorization"),
            ),
            case(
                "bearer_with_trailing_spaces_and_no_token",
                "RFC 6750 §2.1",
                |_| authz("Bearer   "),
                bad_request("malformed_authorization"),
            ),
            // hyper strips trailing whitespace from field values on the wire
            // (RFC 9110 §5.5); a value that still has it is not a b64token.
            case(
                "token_followed_by_a_space",
                "RFC 6750 §2.1 (b64token)",
                |c| authz(format!("Bearer {} ", c.tok().sign())),
                bad_request("malformed_authorization"),
            ),
            case(
                "empty_header_value",
                "RFC 6750 §3.1",
                |_| authz(""),
                bare("not_bearer"),
            ),
            case(
                "no_authorization_header",
                "RFC 6750 §3.1",
                |_| headers("/notes", vec![]),
                bare("missing_token"),
            ),
            case(
                "equals_sign_inside_the_token",
                "RFC 6750 §2.1 (b64token: `=` only at the end)",
                |_| authz("Bearer a=b"),
                bad_request("malformed_authorization"),
            ),
            case(
                "only_padding",
                "RFC 6750 §2.1 (b64token: at least one character before `=`)",
                |_| authz("Bearer ==="),
                bad_request("malformed_authorization"),
            ),
            case(
                "semicolon_in_the_token",
                "RFC 6750 §2.1 (b64token)",
                |_| authz("Bearer a;b"),
                bad_request("malformed_authorization"),
            ),
            case(
                "token_followed_by_a_second_word",
                "RFC 6750 §2.1 (one b64token)",
                |c| authz(format!("Bearer {} extra", c.tok().sign())),
                bad_request("malformed_authorization"),
            ),
            case(
                "token_followed_by_an_exclamation_mark",
                "RFC 6750 §2.1 (b64token)",
                |c| authz(format!("Bearer {}!", c.tok().sign())),
                bad_request("malformed_authorization"),
            ),
            case(
                "token_in_quotes",
                "RFC 6750 §2.1 (b64token, not quoted-string)",
                |c| authz(format!("Bearer \"{}\"", c.tok().sign())),
                bad_request("malformed_authorization"),
            ),
            case(
                "two_credentials_comma_separated",
                "RFC 9110 §11.6.2",
                |c| {
                    authz(format!(
                        "Bearer {},Bearer {}",
                        c.tok().sign(),
                        c.tok().sign()
                    ))
                },
                bad_request("malformed_authorization"),
            ),
            case(
                "token_in_the_query_string",
                "RFC 6750 §2.3 (URI query parameter not supported)",
                |c| headers(&format!("/notes?access_token={}", c.tok().sign()), vec![]),
                bare("missing_token"),
            ),
            case(
                "optional_route_bad_token_fails_closed",
                "RFC 6750 §3.1 (a presented token must be valid)",
                |c| {
                    get(
                        "/public",
                        &c.raw(&c.hdr("none", &c.rs), c.claims().to_string()),
                    )
                },
                invalid("disallowed_algorithm", 0),
            ),
            case(
                "optional_route_other_scheme_is_anonymous",
                "RFC 6750 §3.1 (no Bearer credentials)",
                |_| headers("/public", vec![b"Basic dXNlcjpwYXNz".to_vec()]),
                Expect {
                    status: StatusCode::OK,
                    www_authenticate: None,
                    reason: Some("not_bearer"),
                    jwks_fetches: 0,
                },
            ),
        ],
    )
    .await;
}

// ---------------------------------------------------------------------------
// Scope and role matching (RFC 6750 §3; RFC 6749 §3.3; issue 2 point 4)
// ---------------------------------------------------------------------------

/// `GET /notes` needs the scope `notes.read` or the role `Notes.Read.All`:
/// whole, case-sensitive names, scopes split on single spaces only, scopes and
/// roles never mixed.
#[tokio::test]
async fn scope_and_role_matching() {
    fn scp(c: &Ctx, value: Value) -> Req {
        notes(c.a.token().signed_by(&c.rs).claim("scp", value).sign())
    }
    fn roles(c: &Ctx, value: &[&str]) -> Req {
        notes(c.a.token().signed_by(&c.rs).roles(value).sign())
    }
    run(
        "scope and role matching",
        vec![
            case(
                "scope_exact",
                "control",
                |c| scp(c, json!("notes.read")),
                ok(COLD),
            ),
            case(
                "scope_prefix",
                "RFC 6749 §3.3 (whole scope-token)",
                |c| scp(c, json!("notes.rea")),
                forbidden(NEEDS_READ, COLD),
            ),
            case(
                "scope_with_a_suffix",
                "RFC 6749 §3.3",
                |c| scp(c, json!("notes.read.all")),
                forbidden(NEEDS_READ, COLD),
            ),
            case(
                "scope_with_a_leading_character",
                "RFC 6749 §3.3 (whole scope-token)",
                |c| scp(c, json!("xnotes.read")),
                forbidden(NEEDS_READ, COLD),
            ),
            case(
                "scope_parent_of_the_required_one",
                "RFC 6749 §3.3 (no hierarchy between scope-tokens)",
                |c| scp(c, json!("notes")),
                forbidden(NEEDS_READ, COLD),
            ),
            case(
                "scope_superstring",
                "RFC 6749 §3.3",
                |c| scp(c, json!("notes.readwrite")),
                forbidden(NEEDS_READ, COLD),
            ),
            case(
                "scope_case_changed",
                "RFC 6749 §3.3 (case-sensitive)",
                |c| scp(c, json!("Notes.Read")),
                forbidden(NEEDS_READ, COLD),
            ),
            case(
                "scope_with_surrounding_spaces",
                "RFC 6749 §3.3 (space-delimited)",
                |c| scp(c, json!(" notes.read ")),
                ok(COLD),
            ),
            case(
                "scopes_tab_separated",
                "RFC 6749 §3.3 (SP only)",
                |c| scp(c, json!("notes.write\tnotes.read")),
                forbidden(NEEDS_READ, COLD),
            ),
            case(
                "scopes_newline_separated",
                "RFC 6749 §3.3 (SP only)",
                |c| scp(c, json!("notes.write\nnotes.read")),
                forbidden(NEEDS_READ, COLD),
            ),
            case(
                "scopes_comma_joined",
                "RFC 6749 §3.3 (SP only)",
                |c| scp(c, json!("notes.write,notes.read")),
                forbidden(NEEDS_READ, COLD),
            ),
            case(
                "scp_array_element_holding_two_scopes",
                "RFC 6749 §3.3 (array elements are whole)",
                |c| scp(c, json!(["notes.write notes.read"])),
                forbidden(NEEDS_READ, COLD),
            ),
            case(
                "scp_array_exact",
                "Okta scp array",
                |c| scp(c, json!(["profile", "notes.read"])),
                ok(COLD),
            ),
            case(
                "scope_with_a_nul_suffix",
                "no C-string truncation",
                |c| scp(c, json!("notes.read\u{0}")),
                forbidden(NEEDS_READ, COLD),
            ),
            case(
                "scope_cyrillic_a",
                "UTS #39 confusables",
                |c| scp(c, json!("notes.re\u{430}d")),
                forbidden(NEEDS_READ, COLD),
            ),
            case(
                "scope_one_dot_leader",
                "UTS #39 confusables",
                |c| scp(c, json!("notes\u{2024}read")),
                forbidden(NEEDS_READ, COLD),
            ),
            case(
                "scope_wildcard",
                "RFC 6749 §3.3 (no wildcards)",
                |c| scp(c, json!("* notes.*")),
                forbidden(NEEDS_READ, COLD),
            ),
            case(
                "scp_named_like_the_role",
                "RFC 9068 §2.2.3 (scopes and roles apart)",
                |c| scp(c, json!("Notes.Read.All")),
                forbidden(NEEDS_READ, COLD),
            ),
            case(
                "role_named_like_the_scope",
                "RFC 9068 §2.2.3.1 (roles and scopes apart)",
                |c| roles(c, &["notes.read"]),
                forbidden(NEEDS_READ, COLD),
            ),
            case(
                "role_case_changed",
                "case-sensitive role names",
                |c| roles(c, &["notes.read.all"]),
                forbidden(NEEDS_READ, COLD),
            ),
            case(
                "role_prefix",
                "whole role names",
                |c| roles(c, &["Notes.Read"]),
                forbidden(NEEDS_READ, COLD),
            ),
            case(
                "role_with_a_suffix",
                "whole role names",
                |c| roles(c, &["Notes.Read.All.Extra"]),
                forbidden(NEEDS_READ, COLD),
            ),
            case(
                "role_joined_with_a_space",
                "array elements are whole",
                |c| roles(c, &["Other Notes.Read.All"]),
                forbidden(NEEDS_READ, COLD),
            ),
            case(
                "role_exact",
                "control",
                |c| roles(c, &["Notes.Read.All"]),
                ok(COLD),
            ),
            case(
                "rfc9068_scope_claim",
                "RFC 9068 §2.2.3",
                |c| {
                    notes(
                        c.a.token()
                            .signed_by(&c.rs)
                            .claim("scope", "openid notes.read")
                            .sign(),
                    )
                },
                ok(COLD),
            ),
            case(
                "scp_number",
                "RFC 6749 §3.3 (type confusion)",
                |c| scp(c, json!(1)),
                invalid("invalid_claim", COLD),
            ),
            case(
                "scp_array_holding_a_number",
                "RFC 6749 §3.3 (type confusion inside the array)",
                |c| scp(c, json!(["notes.read", 7])),
                invalid("invalid_claim", COLD),
            ),
            case(
                "roles_holding_a_number",
                "RFC 9068 §2.2.3.1 (roles is an array of strings)",
                |c| {
                    notes(
                        c.a.token()
                            .signed_by(&c.rs)
                            .claim("roles", json!([1]))
                            .sign(),
                    )
                },
                invalid("invalid_claim", COLD),
            ),
            case(
                "scope_claim_as_array",
                "RFC 9068 §2.2.3 (scope is a string)",
                |c| {
                    notes(
                        c.a.token()
                            .signed_by(&c.rs)
                            .claim("scope", json!(["notes.read"]))
                            .sign(),
                    )
                },
                invalid("invalid_claim", COLD),
            ),
            case(
                "roles_as_a_string",
                "RFC 9068 §2.2.3.1 (roles is an array)",
                |c| {
                    notes(
                        c.a.token()
                            .signed_by(&c.rs)
                            .claim("roles", "Notes.Read.All")
                            .sign(),
                    )
                },
                invalid("invalid_claim", COLD),
            ),
            case(
                "read_scope_on_the_write_route",
                "RFC 6750 §3.1 (insufficient_scope names the scope)",
                |c| post_notes(c.tok().sign()),
                forbidden(NEEDS_WRITE, COLD),
            ),
        ],
    )
    .await;
}

// ---------------------------------------------------------------------------
// Load-time key defence (issue 5 point 2)
// ---------------------------------------------------------------------------

/// Issuer and keys for the load-time table: the good JWKS entries to copy
/// material from, and the private keys to sign with.
struct LoadCtx {
    v: TestIssuer,
    rs: String,
    es: String,
    ed: String,
    rsa: Value,
    ec: Value,
    okp: Value,
}

impl LoadCtx {
    async fn start() -> LoadCtx {
        let v = TestIssuer::start().await.expect("issuer");
        let rs = v.current_kid();
        let es = v.add_key(KeyKind::Es256);
        let ed = v.add_key(KeyKind::EdDsa);
        let jwks: Value = serde_json::from_str(&v.jwks_document()).expect("JWKS");
        LoadCtx {
            rsa: jwk_of(&jwks, &rs),
            ec: jwk_of(&jwks, &es),
            okp: jwk_of(&jwks, &ed),
            v,
            rs,
            es,
            ed,
        }
    }

    /// The good RSA key's JWK, as published.
    fn good(&self) -> Value {
        self.rsa.clone()
    }

    /// `base` with these members replaced (or added); `null` removes one.
    fn entry(base: &Value, changes: Value) -> Value {
        let mut entry = base.clone();
        for (k, v) in changes.as_object().expect("object") {
            if v.is_null() {
                entry.as_object_mut().expect("object").remove(k);
            } else {
                entry[k] = v.clone();
            }
        }
        entry
    }

    /// The good RSA key's material under another kid, with these changes.
    fn rsa_entry(&self, changes: Value) -> Value {
        Self::entry(&self.rsa, changes)
    }

    fn doc(entries: Vec<Value>) -> String {
        json!({ "keys": entries }).to_string()
    }

    fn claims(&self) -> String {
        json!({
            "iss": self.v.issuer(), "aud": AUD, "sub": "test-user",
            "exp": now() + 3600, "scp": "notes.read",
        })
        .to_string()
    }

    /// A token genuinely signed by `signing_kid` (issuer `v`'s key), naming
    /// `alg` and `kid` in its header.
    fn token(&self, signing_kid: &str, alg: &str, kid: &str) -> String {
        let header = json!({ "alg": alg, "typ": "at+jwt", "kid": kid }).to_string();
        self.v
            .sign_raw(header.as_bytes(), self.claims().as_bytes(), signing_kid)
            .expect("published kid")
    }

    /// Signed by the good RSA key, naming `kid`.
    fn rsa_token(&self, kid: &str) -> String {
        self.token(&self.rs, "RS256", kid)
    }
    fn ec_token(&self, kid: &str) -> String {
        self.token(&self.es, "ES256", kid)
    }
    fn ed_token(&self, kid: &str) -> String {
        self.token(&self.ed, "EdDSA", kid)
    }
}

struct LoadCase {
    name: &'static str,
    source: &'static str,
    /// The whole JWKS document served.
    document: fn(&LoadCtx) -> String,
    /// A token naming the unsafe entry's kid, signed (where the material
    /// allows) by the very key the entry describes.
    attack: fn(&LoadCtx) -> String,
    max_keys: Option<usize>,
}

fn load(
    name: &'static str,
    source: &'static str,
    document: fn(&LoadCtx) -> String,
    attack: fn(&LoadCtx) -> String,
) -> LoadCase {
    LoadCase {
        name,
        source,
        document,
        attack,
        max_keys: None,
    }
}

/// The modulus of a real 1024-bit RSA key (the one tests/it/keys.rs publishes).
const WEAK_1024_N: &str = concat!(
    "2O3H1Uq89x4I2GgvZyD6PrYMwXtpBtbqs1MXnf_GAr6upsmpXSpAUpH1ThuQtZdUdy65-v0ZtAP54qKEATkCrW",
    "Jb9JbuSRwgpNleXvi4i0kuW-uAQcMKLyzBMoXiL_F_2Ff3OKEdY6s0X6gjKxr5aVI7bdtPuYITBLIuCoJQWxk",
);

/// Each JWKS has one unsafe entry next to the good RSA key (or, for
/// `max_keys`, too many entries after it). Per document, through a fresh layer
/// pointed at it with `jwks_uri`: the good key's token is accepted with
/// exactly one fetch, then a token naming the unsafe entry's kid is refused as
/// `unknown_kid` with no further fetch: the entry was dropped at load, and the
/// rest of the set still works. (A genuinely 1024-bit-signed token is in
/// tests/it/keys.rs, `genuinely_signed_token_from_a_published_1024_bit_key_is_refused`.)
#[tokio::test]
async fn load_time_key_defence() {
    let cases = vec![
        load(
            "symmetric_oct_key",
            "RFC 8725 §3.1; RFC 7518 §6.4 (oct never from a public set)",
            |c| {
                LoadCtx::doc(vec![
                    json!({
                        "kty": "oct", "kid": "oct-1", "alg": "HS256",
                        "k": b64("a shared secret of 32 bytes...."),
                    }),
                    c.good(),
                ])
            },
            |c| c.rsa_token("oct-1"),
        ),
        load(
            "rsa_1024_bits",
            "RFC 7518 §3.3 (2048 bits or larger)",
            |c| {
                LoadCtx::doc(vec![
                    c.rsa_entry(json!({ "kid": "weak-1024", "n": WEAK_1024_N })),
                    c.good(),
                ])
            },
            |c| c.rsa_token("weak-1024"),
        ),
        load(
            "rsa_16384_bits",
            "RFC 7518 §3.3; bounded verification cost",
            |c| {
                let n = b64([&[0xc5u8][..], &[0xffu8; 2047][..]].concat());
                LoadCtx::doc(vec![
                    c.rsa_entry(json!({ "kid": "huge", "n": n })),
                    c.good(),
                ])
            },
            |c| c.rsa_token("huge"),
        ),
        load(
            "rsa_exponent_of_nine_bytes",
            "RFC 7518 §6.3.1.2",
            |c| {
                LoadCtx::doc(vec![
                    c.rsa_entry(json!({ "kid": "big-e", "e": b64([1u8; 9]) })),
                    c.good(),
                ])
            },
            |c| c.rsa_token("big-e"),
        ),
        load(
            "use_enc",
            "RFC 7517 §4.2 (use)",
            |c| {
                LoadCtx::doc(vec![
                    c.rsa_entry(json!({ "kid": "enc-1", "use": "enc" })),
                    c.good(),
                ])
            },
            |c| c.rsa_token("enc-1"),
        ),
        load(
            "key_ops_encrypt",
            "RFC 7517 §4.3 (key_ops)",
            |c| {
                LoadCtx::doc(vec![
                    c.rsa_entry(json!({ "kid": "ops-1", "use": null, "key_ops": ["encrypt"] })),
                    c.good(),
                ])
            },
            |c| c.rsa_token("ops-1"),
        ),
        load(
            "key_ops_sign_only",
            "RFC 7517 §4.3 (verify needed)",
            |c| {
                LoadCtx::doc(vec![
                    c.rsa_entry(json!({ "kid": "ops-2", "use": null, "key_ops": ["sign"] })),
                    c.good(),
                ])
            },
            |c| c.rsa_token("ops-2"),
        ),
        load(
            "alg_hs256_on_an_rsa_key",
            "RFC 7517 §4.4; CVE-2015-9235 (HS/RS confusion at the key)",
            |c| {
                LoadCtx::doc(vec![
                    c.rsa_entry(json!({ "kid": "hs-rsa", "alg": "HS256" })),
                    c.good(),
                ])
            },
            |c| c.rsa_token("hs-rsa"),
        ),
        load(
            "alg_es256_on_an_rsa_key",
            "RFC 7517 §4.4 (alg must fit kty)",
            |c| {
                LoadCtx::doc(vec![
                    c.rsa_entry(json!({ "kid": "es-rsa", "alg": "ES256" })),
                    c.good(),
                ])
            },
            |c| c.rsa_token("es-rsa"),
        ),
        load(
            "alg_none_on_an_rsa_key",
            "RFC 8725 §3.1",
            |c| {
                LoadCtx::doc(vec![
                    c.rsa_entry(json!({ "kid": "none-rsa", "alg": "none" })),
                    c.good(),
                ])
            },
            |c| c.rsa_token("none-rsa"),
        ),
        load(
            "ec_p521",
            "RFC 7518 §6.2.1.1 (curve not supported here)",
            |c| {
                LoadCtx::doc(vec![
                    json!({
                        "kty": "EC", "kid": "p521", "crv": "P-521",
                        "x": b64([1u8; 66]), "y": b64([2u8; 66]),
                    }),
                    c.good(),
                ])
            },
            |c| c.ec_token("p521"),
        ),
        load(
            "ec_unknown_curve",
            "RFC 7518 §6.2.1.1",
            |c| {
                LoadCtx::doc(vec![
                    LoadCtx::entry(&c.ec, json!({ "kid": "k1", "crv": "secp256k1" })),
                    c.good(),
                ])
            },
            |c| c.ec_token("k1"),
        ),
        load(
            "ec_point_of_the_wrong_length",
            "RFC 7518 §6.2.1.2 (x is exactly 32 octets for P-256)",
            |c| {
                let x = unb64(c.ec["x"].as_str().expect("x"));
                LoadCtx::doc(vec![
                    LoadCtx::entry(
                        &c.ec,
                        json!({ "kid": "long-x", "x": b64([&[0u8][..], &x[..]].concat()) }),
                    ),
                    c.good(),
                ])
            },
            |c| c.ec_token("long-x"),
        ),
        load(
            "ec_p256_declaring_es384",
            "RFC 7518 §3.4 (curve fixes the algorithm)",
            |c| {
                LoadCtx::doc(vec![
                    LoadCtx::entry(&c.ec, json!({ "kid": "p256-384", "alg": "ES384" })),
                    c.good(),
                ])
            },
            |c| c.ec_token("p256-384"),
        ),
        load(
            "okp_x25519",
            "RFC 8037 §3.2 (X25519 is for key agreement)",
            |c| {
                LoadCtx::doc(vec![
                    LoadCtx::entry(
                        &c.okp,
                        json!({ "kid": "x25519", "crv": "X25519", "alg": null }),
                    ),
                    c.good(),
                ])
            },
            |c| c.ed_token("x25519"),
        ),
        load(
            "okp_ed25519_of_the_wrong_length",
            "RFC 8037 §2 (32-octet key)",
            |c| {
                let x = unb64(c.okp["x"].as_str().expect("x"));
                LoadCtx::doc(vec![
                    LoadCtx::entry(&c.okp, json!({ "kid": "short-ed", "x": b64(&x[..31]) })),
                    c.good(),
                ])
            },
            |c| c.ed_token("short-ed"),
        ),
        load(
            "duplicate_kid_both_dropped",
            "RFC 7517 §4.5 (kid must tell keys apart)",
            |c| {
                LoadCtx::doc(vec![
                    c.rsa_entry(json!({ "kid": "twin" })),
                    c.rsa_entry(json!({ "kid": "twin" })),
                    c.good(),
                ])
            },
            |c| c.rsa_token("twin"),
        ),
        load(
            "non_object_entries",
            "RFC 7517 §5 (keys is an array of JWKs)",
            |c| {
                LoadCtx::doc(vec![
                    json!("garbage"),
                    json!(42),
                    Value::Null,
                    json!([]),
                    json!(true),
                    c.good(),
                ])
            },
            |c| c.rsa_token("garbage"),
        ),
        load(
            "empty_kid",
            "RFC 7517 §4.5",
            |c| LoadCtx::doc(vec![c.rsa_entry(json!({ "kid": "" })), c.good()]),
            |c| c.rsa_token(""),
        ),
        load(
            "kid_over_256_bytes",
            "RFC 8725 §3.10 (bounded lookups)",
            |c| {
                LoadCtx::doc(vec![
                    c.rsa_entry(json!({ "kid": "k".repeat(300) })),
                    c.good(),
                ])
            },
            |c| c.rsa_token(&"k".repeat(300)),
        ),
        LoadCase {
            max_keys: Some(3),
            ..load(
                "more_keys_than_max_keys",
                "bounded key set (max_keys)",
                |c| {
                    LoadCtx::doc(vec![
                        c.good(),
                        c.rsa_entry(json!({ "kid": "k2" })),
                        c.rsa_entry(json!({ "kid": "k3" })),
                        c.rsa_entry(json!({ "kid": "k4-over-the-limit" })),
                    ])
                },
                |c| c.rsa_token("k4-over-the-limit"),
            )
        },
    ];

    let c = LoadCtx::start().await;
    let mut failures = Vec::new();
    for case in &cases {
        let (base, hits) = counting_server((case.document)(&c)).await;
        let mut builder = BearerAuthLayer::builder()
            .issuer(c.v.issuer())
            .audience(AUD)
            .jwks_uri(format!("{base}/jwks"));
        if let Some(max) = case.max_keys {
            builder = builder.max_keys(max);
        }
        let layer = builder.build().expect("valid configuration");
        let traffic =
            || hits.load(Ordering::SeqCst) + c.v.discovery_requests() + c.v.jwks_requests();
        let good = observe(&layer, notes(c.rsa_token(&c.rs)), &traffic).await;
        let attack = observe(&layer, notes((case.attack)(&c)), &traffic).await;
        let verdicts = [
            mismatch(&ok(1), &good).map(|d| format!("good key: {d}")),
            mismatch(&invalid("unknown_kid", 0), &attack).map(|d| format!("unsafe entry: {d}")),
        ];
        let diff: Vec<String> = verdicts.into_iter().flatten().collect();
        if !diff.is_empty() {
            failures.push(format!(
                "{} ({}): {}",
                case.name,
                case.source,
                diff.join("; ")
            ));
        }
    }
    assert_eq!(
        c.v.discovery_requests() + c.v.jwks_requests(),
        0,
        "the issuer's own endpoints were never used"
    );
    println!("[load-time key defence] {} cases", cases.len());
    assert!(
        failures.is_empty(),
        "[load-time] {} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
