//! DPoP (RFC 9449) through the layer: every check of §4.3 for a resource
//! server, the no-downgrade rule of §7.2, replay within the window (one
//! store shared by two layers, as replicas share one), a store that cannot
//! answer (503), and the §7.1 challenges byte for byte, with and without
//! RFC 9728 metadata, with DPoP optional and required.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bearer_guard::testing::{DpopKey, KeyKind, TestIssuer};
use bearer_guard::{
    Algorithm, BearerAuthLayer, Dpop, ManualClock, ReplayFuture, ReplayStore, ReplayStoreError,
};
use http::{Request, StatusCode, header};
use serde_json::json;
use tower::ServiceExt;

use crate::support::{app, builder, now_on, start};

/// The API's public base URL (the layer listens nowhere: requests go in
/// with `oneshot`, as a proxy would hand them on).
const BASE: &str = "https://api.example.test";
const ALGS: &str = "algs=\"ES256 EdDSA PS256\"";

/// What a test asserts: status, every challenge, body.
#[derive(Debug, PartialEq, Eq)]
struct Answer {
    status: StatusCode,
    challenges: Vec<String>,
    body: String,
}

fn answer(status: StatusCode, challenges: &[&str], body: &str) -> Answer {
    Answer {
        status,
        challenges: challenges.iter().map(|c| (*c).to_owned()).collect(),
        body: body.to_owned(),
    }
}

fn proof_refused() -> Answer {
    answer(
        StatusCode::UNAUTHORIZED,
        &[&format!("DPoP error=\"invalid_dpop_proof\", {ALGS}")],
        "",
    )
}

fn token_refused() -> Answer {
    answer(
        StatusCode::UNAUTHORIZED,
        &[&format!("DPoP error=\"invalid_token\", {ALGS}")],
        "",
    )
}

async fn call(app: &Router, request: Request<Body>) -> Answer {
    let response = app.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let challenges = response
        .headers()
        .get_all(header::WWW_AUTHENTICATE)
        .iter()
        .map(|v| v.to_str().expect("ascii").to_owned())
        .collect();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    Answer {
        status,
        challenges,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// `method path` with `Authorization: <authorization>` and each of `proofs`
/// as a `DPoP` header.
fn request(
    method: &str,
    path: &str,
    authorization: Option<&str>,
    proofs: &[&str],
) -> Request<Body> {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    for proof in proofs {
        request = request.header("DPoP", *proof);
    }
    request.body(Body::empty()).expect("request")
}

/// The notes app behind a layer accepting DPoP at [`BASE`] with `dpop`'s
/// other settings, on `clock`.
fn dpop_app(issuer: &TestIssuer, clock: &ManualClock, dpop: Dpop) -> Router {
    app(layer(issuer, clock, dpop))
}

fn layer(issuer: &TestIssuer, clock: &ManualClock, dpop: Dpop) -> BearerAuthLayer {
    builder(issuer)
        .clock(clock.clone())
        .dpop(dpop)
        .build()
        .expect("valid configuration")
}

fn settings() -> Dpop {
    Dpop::new(BASE).algorithms([Algorithm::ES256, Algorithm::EdDSA, Algorithm::PS256])
}

struct Setup {
    issuer: TestIssuer,
    clock: ManualClock,
    key: DpopKey,
    /// A token bound to `key`, granting `notes.read`.
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

    fn now(&self) -> i64 {
        now_on(&self.clock)
    }

    /// A valid proof for `GET /notes` with the token, issued now.
    fn proof(&self) -> bearer_guard::testing::DpopProof<'_> {
        self.key
            .proof("GET", &format!("{BASE}/notes"))
            .access_token(&self.token)
            .iat(self.now())
    }

    fn get(&self, proofs: &[&str]) -> Request<Body> {
        request(
            "GET",
            "/notes",
            Some(&format!("DPoP {}", self.token)),
            proofs,
        )
    }
}

#[tokio::test]
async fn a_bound_token_with_its_proof_passes_cold_and_cached() {
    let s = Setup::new().await;
    let app = dpop_app(&s.issuer, &s.clock, settings());
    for round in 0..3 {
        let proof = s.proof().sign();
        assert_eq!(
            call(&app, s.get(&[&proof])).await,
            answer(StatusCode::OK, &[], "notes"),
            "round {round}"
        );
    }
    // Each algorithm, each with its own key and token.
    for (kind, which) in [(KeyKind::EdDsa, 0), (KeyKind::Ps256, 0)] {
        let key = DpopKey::new(kind, which);
        let token = s
            .issuer
            .token()
            .scope("notes.read")
            .claim("cnf", key.cnf())
            .sign();
        let proof = key
            .proof("GET", &format!("{BASE}/notes"))
            .access_token(&token)
            .iat(s.now())
            .sign();
        let authorization = format!("DPoP {token}");
        assert_eq!(
            call(
                &app,
                request("GET", "/notes", Some(&authorization), &[&proof])
            )
            .await,
            answer(StatusCode::OK, &[], "notes"),
            "{kind:?}"
        );
    }
    // The scheme is case-insensitive; the handler sees the token's claims.
    let proof = s
        .key
        .proof("GET", &format!("{BASE}/me"))
        .access_token(&s.token)
        .iat(s.now())
        .sign();
    let me = call(
        &app,
        request("GET", "/me", Some(&format!("dpop {}", s.token)), &[&proof]),
    )
    .await;
    assert_eq!(me.status, StatusCode::OK, "{me:?}");
    assert!(me.body.contains(s.key.thumbprint()), "{me:?}");
}

/// RFC 9449 §4.3, check by check: each proof is refused with
/// `invalid_dpop_proof`, after the token itself was accepted.
#[tokio::test]
async fn every_proof_check_refuses_with_invalid_dpop_proof() {
    let s = Setup::new().await;
    let layer = layer(
        &s.issuer,
        &s.clock,
        settings().max_age(Duration::from_secs(30)),
    );
    let app = app(layer.clone());
    let now = s.now();
    let htu = format!("{BASE}/notes");
    let other_key = DpopKey::new(KeyKind::Es256, 1);
    let mut private_jwk: serde_json::Value = serde_json::from_str(s.key.jwk()).expect("JSON");
    private_jwk["d"] = json!("AAAA");
    let valid = s.proof().sign();
    let (signed, signature) = valid.rsplit_once('.').expect("JWS");
    let flipped = {
        let mut chars: Vec<char> = signature.chars().collect();
        chars[10] = if chars[10] == 'A' { 'B' } else { 'A' };
        format!("{signed}.{}", chars.into_iter().collect::<String>())
    };
    let cases: Vec<(&str, Vec<String>)> = vec![
        ("no DPoP header", vec![]),
        ("two DPoP headers", vec![s.proof().sign(), s.proof().sign()]),
        ("not a JWS", vec!["not-a-jws".into()]),
        ("typ missing", vec![s.proof().without("typ").sign()]),
        (
            "typ jwt",
            vec![s.proof().header("typ", json!("JWT")).sign()],
        ),
        (
            "alg not accepted",
            vec![s.proof().header("alg", json!("ES384")).sign()],
        ),
        (
            "alg none",
            vec![s.proof().header("alg", json!("none")).sign()],
        ),
        (
            "alg HS256",
            vec![s.proof().header("alg", json!("HS256")).sign()],
        ),
        (
            "alg does not fit the key",
            vec![s.proof().header("alg", json!("EdDSA")).sign()],
        ),
        ("no jwk", vec![s.proof().without("jwk").sign()]),
        (
            "private jwk",
            vec![s.proof().header("jwk", private_jwk).sign()],
        ),
        (
            "symmetric jwk",
            vec![
                s.proof()
                    .header("jwk", json!({"kty":"oct","k":"c2VjcmV0"}))
                    .sign(),
            ],
        ),
        (
            "jwk of another key",
            vec![
                s.proof()
                    .header(
                        "jwk",
                        serde_json::from_str::<serde_json::Value>(other_key.jwk()).expect("JSON"),
                    )
                    .sign(),
            ],
        ),
        ("signature flipped", vec![flipped]),
        (
            "crit",
            vec![
                s.proof()
                    .header("crit", json!(["x"]))
                    .header("x", json!(1))
                    .sign(),
            ],
        ),
        ("no jti", vec![s.proof().without("jti").sign()]),
        ("empty jti", vec![s.proof().jti("").sign()]),
        ("huge jti", vec![s.proof().jti(&"j".repeat(257)).sign()]),
        ("no htm", vec![s.proof().without("htm").sign()]),
        (
            "htm POST",
            vec![s.proof().claim("htm", json!("POST")).sign()],
        ),
        (
            "htm lower case",
            vec![s.proof().claim("htm", json!("get")).sign()],
        ),
        ("no htu", vec![s.proof().without("htu").sign()]),
        (
            "htu other path",
            vec![s.proof().claim("htu", json!(format!("{BASE}/me"))).sign()],
        ),
        (
            "htu with query",
            vec![s.proof().claim("htu", json!(format!("{htu}?a=1"))).sign()],
        ),
        (
            "htu other host",
            vec![
                s.proof()
                    .claim("htu", json!("https://evil.example.test/notes"))
                    .sign(),
            ],
        ),
        (
            "htu http",
            vec![
                s.proof()
                    .claim("htu", json!("http://api.example.test/notes"))
                    .sign(),
            ],
        ),
        ("no iat", vec![s.proof().without("iat").sign()]),
        (
            "iat a string",
            vec![s.proof().claim("iat", json!(now.to_string())).sign()],
        ),
        // 30 s of max_age and the layer's 60 s of leeway either side.
        ("iat too old", vec![s.proof().iat(now - 91).sign()]),
        ("iat in the future", vec![s.proof().iat(now + 61).sign()]),
        ("no ath", vec![s.proof().without("ath").sign()]),
        (
            "ath of another token",
            vec![s.proof().access_token("another").sign()],
        ),
        (
            "too large",
            vec![s.proof().claim("pad", json!("x".repeat(9000))).sign()],
        ),
    ];
    let validator = layer.validator();
    for (what, proofs) in &cases {
        let proofs: Vec<&str> = proofs.iter().map(String::as_str).collect();
        assert_eq!(call(&app, s.get(&proofs)).await, proof_refused(), "{what}");
        // The precise reason, from the same layer's validator.
        let error = validator
            .authenticate_request(&s.get(&proofs))
            .await
            .expect_err(what);
        let expected = reason(what);
        assert_eq!(
            error.to_string(),
            format!("DPoP proof refused: {expected}"),
            "{what}"
        );
        assert_eq!(error.code(), "invalid_dpop_proof", "{what}");
    }
    // The edges of the window pass, and the proof refused above for its
    // signature, intact, still passes: none of them burnt its jti.
    for iat in [now - 90, now + 60] {
        let proof = s.proof().iat(iat).sign();
        assert_eq!(
            call(&app, s.get(&[&proof])).await,
            answer(StatusCode::OK, &[], "notes"),
            "iat {}",
            iat - now
        );
    }
    assert_eq!(
        call(&app, s.get(&[&valid])).await,
        answer(StatusCode::OK, &[], "notes")
    );
    // The htu is compared after RFC 3986 normalisation.
    let normalised = s
        .proof()
        .claim("htu", json!("HTTPS://API.example.test:443/a/../%6Eotes"))
        .sign();
    assert_eq!(
        call(&app, s.get(&[&normalised])).await,
        answer(StatusCode::OK, &[], "notes")
    );
}

/// The reason the validator gives for each case of
/// `every_proof_check_refuses_with_invalid_dpop_proof`.
fn reason(case: &str) -> &'static str {
    match case {
        "no DPoP header" => "no DPoP header",
        "two DPoP headers" => "more than one DPoP header",
        "not a JWS" => "not a compact JWS",
        "typ missing" => "typ is not dpop+jwt",
        "typ jwt" => "typ is not dpop+jwt",
        "alg not accepted" => "alg not accepted",
        "alg none" => "alg not accepted",
        "alg HS256" => "alg not accepted",
        "alg does not fit the key" => "jwk does not fit alg",
        "no jwk" => "no jwk header",
        "private jwk" => "jwk holds a private key",
        "symmetric jwk" => "jwk holds a private key",
        "jwk of another key" => "signature does not verify",
        "signature flipped" => "signature does not verify",
        "crit" => "crit header",
        "no jti" => "no jti",
        "empty jti" => "jti empty or too long",
        "huge jti" => "jti empty or too long",
        "no htm" => "no htm",
        "htm POST" => "htm is not the request's method",
        "htm lower case" => "htm is not the request's method",
        "no htu" => "no htu",
        "htu other path" => "htu is not the request's URI",
        "htu with query" => "htu is not the request's URI",
        "htu other host" => "htu is not the request's URI",
        "htu http" => "htu is not the request's URI",
        "no iat" => "no iat",
        "iat a string" => "claims malformed",
        "iat too old" => "iat is too old",
        "iat in the future" => "iat is in the future",
        "no ath" => "no ath",
        "ath of another token" => "ath is not the token's hash",
        "too large" => "proof larger than the cap",
        other => panic!("no reason for {other}"),
    }
}

/// `ath` names the token the proof comes with, on the cold path and on a
/// verified-token cache hit alike (the hash is kept with the verified
/// token): two tokens bound to one key, each cached, never swap proofs.
#[tokio::test]
async fn a_proof_for_another_token_of_the_same_key_is_refused_cold_and_cached() {
    let s = Setup::new().await;
    let app = dpop_app(&s.issuer, &s.clock, settings());
    let other = s
        .issuer
        .token()
        .scope("notes.read")
        .claim("cnf", s.key.cnf())
        .claim("jti", "another")
        .sign();
    assert_ne!(other, s.token);
    let other_proof = || {
        s.key
            .proof("GET", &format!("{BASE}/notes"))
            .access_token(&other)
            .iat(s.now())
            .sign()
    };
    let other_get =
        |proof: &str| request("GET", "/notes", Some(&format!("DPoP {other}")), &[proof]);
    // First while neither token is cached (a refused proof still leaves its
    // verified token in the cache), then with both cached.
    for round in ["cold", "cached"] {
        assert_eq!(
            call(&app, other_get(&s.proof().sign())).await,
            proof_refused(),
            "{round}: the first token's proof with the other token"
        );
        assert_eq!(
            call(&app, s.get(&[&other_proof()])).await,
            proof_refused(),
            "{round}: the other token's proof with the first token"
        );
        assert_eq!(
            call(&app, other_get(&other_proof())).await,
            answer(StatusCode::OK, &[], "notes"),
            "{round}"
        );
        assert_eq!(
            call(&app, s.get(&[&s.proof().sign()])).await,
            answer(StatusCode::OK, &[], "notes"),
            "{round}"
        );
    }
    let error = app_validator_reason(&s, other_get(&s.proof().sign())).await;
    assert_eq!(error, "DPoP proof refused: ath is not the token's hash");
}

/// The reason the validator of a layer like `dpop_app`'s gives for `request`.
async fn app_validator_reason(s: &Setup, request: Request<Body>) -> String {
    layer(&s.issuer, &s.clock, settings())
        .validator()
        .authenticate_request(&request)
        .await
        .expect_err("refused")
        .to_string()
}

/// A cold bound token's signature and the hash its proofs name (`ath`) come
/// from one SHA-256 pass over the token for RS256, PS256 and ES256 (EdDSA
/// hashes twice): for each issuer key algorithm, a token bound to the
/// client's key passes, cold and cached; a proof naming another token is
/// refused, cold and cached; and a token whose header, payload or signature
/// was changed, or signed by another key of the issuer under this key's
/// `kid`, is refused for its signature, though its proof names it.
#[tokio::test]
async fn each_token_algorithm_verifies_once_with_its_ath_and_tampering_is_refused() {
    let s = Setup::new().await;
    let htu = format!("{BASE}/notes");
    let proof = |token: &str| {
        s.key
            .proof("GET", &htu)
            .access_token(token)
            .iat(s.now())
            .sign()
    };
    let get = |token: &str, proof: &str| {
        request("GET", "/notes", Some(&format!("DPoP {token}")), &[proof])
    };
    for kind in [
        KeyKind::Rs256,
        KeyKind::Ps256,
        KeyKind::Es256,
        KeyKind::EdDsa,
    ] {
        let other_kid = s.issuer.add_key(kind);
        let kid = s.issuer.add_key(kind);
        let bound = || {
            s.issuer
                .token()
                .scope("notes.read")
                .claim("cnf", s.key.cnf())
                .signed_by(&kid)
        };
        let token = bound().sign();
        let another_token = bound().claim("jti", "another").sign();
        assert_eq!(token.split('.').count(), 3, "{kind:?}");

        // Valid: cold (a new layer, nothing cached), then cached.
        let app = dpop_app(&s.issuer, &s.clock, settings());
        for round in ["cold", "cached"] {
            assert_eq!(
                call(&app, get(&token, &proof(&token))).await,
                answer(StatusCode::OK, &[], "notes"),
                "{kind:?} {round}"
            );
        }
        // A proof naming another token: refused cold (a new layer), then
        // with the token cached.
        let fresh = dpop_app(&s.issuer, &s.clock, settings());
        for (round, app) in [("cold", &fresh), ("cached", &app)] {
            assert_eq!(
                call(app, get(&token, &proof(&another_token))).await,
                proof_refused(),
                "{kind:?} {round}"
            );
        }
        assert_eq!(
            app_validator_reason(&s, get(&token, &proof(&another_token))).await,
            "DPoP proof refused: ath is not the token's hash",
            "{kind:?}"
        );

        // Tampered tokens, each with a proof naming it.
        let (header, rest) = token.split_once('.').expect("JWS");
        let (payload, signature) = rest.split_once('.').expect("JWS");
        let decode = |segment: &str| {
            let bytes = URL_SAFE_NO_PAD.decode(segment).expect("base64url");
            String::from_utf8(bytes).expect("UTF-8")
        };
        // The same header, one space more: other bytes, same meaning.
        let header_json = decode(header);
        let spaced = URL_SAFE_NO_PAD.encode(header_json.replacen('{', "{ ", 1));
        // A write scope granted.
        let mut claims: serde_json::Value = serde_json::from_str(&decode(payload)).expect("JSON");
        claims["scp"] = json!("notes.read notes.write");
        let widened = URL_SAFE_NO_PAD.encode(claims.to_string());
        let mut flipped: Vec<char> = signature.chars().collect();
        flipped[10] = if flipped[10] == 'A' { 'B' } else { 'A' };
        let flipped: String = flipped.into_iter().collect();
        let cases = [
            ("header tampered", format!("{spaced}.{payload}.{signature}")),
            (
                "payload tampered",
                format!("{header}.{widened}.{signature}"),
            ),
            (
                "signature tampered",
                format!("{header}.{payload}.{flipped}"),
            ),
            (
                "signed by another key",
                bound().signed_by(&other_kid).header_kid(&kid).sign(),
            ),
        ];
        for (what, tampered) in &cases {
            assert_ne!(tampered, &token, "{kind:?} {what}");
            assert_eq!(
                call(&app, get(tampered, &proof(tampered))).await,
                token_refused(),
                "{kind:?} {what}"
            );
            assert_eq!(
                app_validator_reason(&s, get(tampered, &proof(tampered))).await,
                "signature does not verify",
                "{kind:?} {what}"
            );
        }
        // The valid token still passes beside them.
        assert_eq!(
            call(&app, get(&token, &proof(&token))).await,
            answer(StatusCode::OK, &[], "notes"),
            "{kind:?}"
        );
    }
}

#[tokio::test]
async fn a_replayed_proof_is_refused_within_its_window() {
    let s = Setup::new().await;
    let app = dpop_app(&s.issuer, &s.clock, settings());
    let proof = s.proof().sign();
    assert_eq!(call(&app, s.get(&[&proof])).await.status, StatusCode::OK);
    assert_eq!(call(&app, s.get(&[&proof])).await, proof_refused());
    // Past the window (60 s + 60 s of leeway) the proof is refused for its
    // age, not let through because its jti was forgotten.
    s.clock.advance(Duration::from_secs(121));
    assert_eq!(call(&app, s.get(&[&proof])).await, proof_refused());
    // The same jti from another key is another proof.
    let other = DpopKey::new(KeyKind::EdDsa, 0);
    let token = s
        .issuer
        .token()
        .scope("notes.read")
        .claim("cnf", other.cnf())
        .sign();
    let jti = "shared-jti";
    for key_and_token in [(&s.key, &s.token), (&other, &token)] {
        let (key, token) = key_and_token;
        let proof = key
            .proof("GET", &format!("{BASE}/notes"))
            .access_token(token)
            .iat(s.now())
            .jti(jti)
            .sign();
        let authorization = format!("DPoP {token}");
        assert_eq!(
            call(
                &app,
                request("GET", "/notes", Some(&authorization), &[&proof])
            )
            .await
            .status,
            StatusCode::OK
        );
    }
}

/// A replay store shared by two layers, as two replicas share one: a proof
/// accepted by one is refused by the other.
#[derive(Debug, Clone, Default)]
struct SharedStore(Arc<Mutex<HashSet<[u8; 32]>>>);

impl ReplayStore for SharedStore {
    fn insert_new(&self, key: [u8; 32], _ttl: Duration) -> ReplayFuture<'_> {
        let new = self.0.lock().expect("lock").insert(key);
        Box::pin(async move { Ok(new) })
    }
}

#[derive(Debug)]
struct DownStore;

impl ReplayStore for DownStore {
    fn insert_new(&self, _key: [u8; 32], _ttl: Duration) -> ReplayFuture<'_> {
        Box::pin(async { Err(ReplayStoreError("connection refused".into())) })
    }
}

#[tokio::test]
async fn replicas_sharing_a_store_refuse_each_others_proofs_and_a_store_down_fails_closed() {
    let s = Setup::new().await;
    let store = SharedStore::default();
    let one = dpop_app(&s.issuer, &s.clock, settings().replay_store(store.clone()));
    let two = dpop_app(&s.issuer, &s.clock, settings().replay_store(store.clone()));
    let proof = s.proof().sign();
    assert_eq!(call(&one, s.get(&[&proof])).await.status, StatusCode::OK);
    assert_eq!(call(&two, s.get(&[&proof])).await, proof_refused());
    assert_eq!(store.0.lock().expect("lock").len(), 1);

    let down = dpop_app(&s.issuer, &s.clock, settings().replay_store(DownStore));
    let response = down
        .clone()
        .oneshot(s.get(&[&s.proof().sign()]))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        response
            .headers()
            .get(header::RETRY_AFTER)
            .map(|v| v.to_str().expect("ascii")),
        Some("1")
    );
    assert_eq!(response.headers().get(header::WWW_AUTHENTICATE), None);
}

/// §7.2 and §6.1: the binding, in both directions, and the key.
#[tokio::test]
async fn no_downgrade_no_unbound_token_under_dpop_and_the_key_must_match() {
    let s = Setup::new().await;
    let app = dpop_app(&s.issuer, &s.clock, settings());
    // The bound token as a bearer token, even with a valid proof beside it.
    let bearer = request(
        "GET",
        "/notes",
        Some(&format!("Bearer {}", s.token)),
        &[&s.proof().sign()],
    );
    assert_eq!(
        call(&app, bearer).await,
        answer(
            StatusCode::UNAUTHORIZED,
            &["Bearer error=\"invalid_token\""],
            ""
        )
    );
    // Twice: the second answer comes from the verified-token cache.
    let bearer = request("GET", "/notes", Some(&format!("Bearer {}", s.token)), &[]);
    assert_eq!(
        call(&app, bearer).await,
        answer(
            StatusCode::UNAUTHORIZED,
            &["Bearer error=\"invalid_token\""],
            ""
        )
    );
    // An unbound token with the DPoP scheme and a proof.
    let plain = s.issuer.token().scope("notes.read").sign();
    let proof = s
        .key
        .proof("GET", &format!("{BASE}/notes"))
        .access_token(&plain)
        .iat(s.now())
        .sign();
    let dpop = request("GET", "/notes", Some(&format!("DPoP {plain}")), &[&proof]);
    assert_eq!(call(&app, dpop).await, token_refused());
    // The unbound token still works as a bearer token (DPoP is optional).
    let bearer = request("GET", "/notes", Some(&format!("Bearer {plain}")), &[]);
    assert_eq!(
        call(&app, bearer).await,
        answer(StatusCode::OK, &[], "notes")
    );
    // A proof by another key than the token's cnf.jkt.
    let other = DpopKey::new(KeyKind::Es256, 1);
    let proof = other
        .proof("GET", &format!("{BASE}/notes"))
        .access_token(&s.token)
        .iat(s.now())
        .sign();
    assert_eq!(call(&app, s.get(&[&proof])).await, token_refused());
    // A cnf this crate cannot read refuses the token.
    let odd = s
        .issuer
        .token()
        .scope("notes.read")
        .claim("cnf", json!({"jkt": 5}))
        .sign();
    let odd = request("GET", "/notes", Some(&format!("Bearer {odd}")), &[]);
    assert_eq!(
        call(&app, odd).await,
        answer(
            StatusCode::UNAUTHORIZED,
            &["Bearer error=\"invalid_token\""],
            ""
        )
    );
}

/// §7.1: a request without credentials is offered both schemes; a bound
/// token lacking a permission gets a DPoP `insufficient_scope`; with DPoP
/// required, only DPoP is offered and a bearer token is refused; with RFC
/// 9728 metadata, every challenge names it and the document lists the
/// proof algorithms.
#[tokio::test]
async fn challenges_offer_the_schemes_the_api_accepts() {
    let s = Setup::new().await;
    let app = dpop_app(&s.issuer, &s.clock, settings());
    assert_eq!(
        call(&app, request("GET", "/notes", None, &[])).await,
        answer(
            StatusCode::UNAUTHORIZED,
            &["Bearer", &format!("DPoP {ALGS}")],
            ""
        )
    );
    let proof = s
        .key
        .proof("POST", &format!("{BASE}/notes"))
        .access_token(&s.token)
        .iat(s.now())
        .sign();
    let post = request(
        "POST",
        "/notes",
        Some(&format!("DPoP {}", s.token)),
        &[&proof],
    );
    assert_eq!(
        call(&app, post).await,
        answer(
            StatusCode::FORBIDDEN,
            &[&format!(
                "DPoP error=\"insufficient_scope\", scope=\"notes.write\", {ALGS}"
            )],
            ""
        )
    );
    // A malformed DPoP authorization is a malformed request, answered in
    // the scheme it used.
    assert_eq!(
        call(&app, request("GET", "/notes", Some("DPoP"), &[])).await,
        answer(
            StatusCode::BAD_REQUEST,
            &[&format!("DPoP error=\"invalid_request\", {ALGS}")],
            ""
        )
    );

    let required = dpop_app(&s.issuer, &s.clock, settings().required());
    let plain = s.issuer.token().scope("notes.read").sign();
    let only_dpop = answer(StatusCode::UNAUTHORIZED, &[&format!("DPoP {ALGS}")], "");
    assert_eq!(
        call(&required, request("GET", "/notes", None, &[])).await,
        only_dpop
    );
    assert_eq!(
        call(
            &required,
            request("GET", "/notes", Some(&format!("Bearer {plain}")), &[])
        )
        .await,
        only_dpop
    );
    assert_eq!(
        call(
            &required,
            request("GET", "/notes", Some("Bearer not.a.token"), &[])
        )
        .await,
        only_dpop
    );
    assert_eq!(
        call(&required, s.get(&[&s.proof().sign()])).await,
        answer(StatusCode::OK, &[], "notes")
    );

    let resource = "https://api.example.test/notes-api";
    let at = "resource_metadata=\"https://api.example.test/.well-known/oauth-protected-resource/notes-api\"";
    let layer = builder(&s.issuer)
        .clock(s.clock.clone())
        .resource(resource)
        .dpop(settings().required())
        .build()
        .expect("valid configuration");
    let document = layer
        .validator()
        .resource_metadata()
        .expect("configured")
        .document()
        .to_owned();
    let document: serde_json::Value = serde_json::from_str(&document).expect("JSON");
    assert_eq!(
        document["dpop_signing_alg_values_supported"],
        json!(["ES256", "EdDSA", "PS256"])
    );
    assert_eq!(document["dpop_bound_access_tokens_required"], json!(true));
    let with_metadata = crate::support::app(layer);
    assert_eq!(
        call(&with_metadata, request("GET", "/notes", None, &[])).await,
        answer(
            StatusCode::UNAUTHORIZED,
            &[&format!("DPoP {ALGS}, {at}")],
            ""
        )
    );
    assert_eq!(
        call(&with_metadata, s.get(&[])).await,
        answer(
            StatusCode::UNAUTHORIZED,
            &[&format!("DPoP error=\"invalid_dpop_proof\", {ALGS}, {at}")],
            ""
        )
    );
}

/// Without DPoP configured the `DPoP` scheme is a scheme the layer does not
/// take (401 `Bearer`), and a DPoP-bound token sent as a bearer token is
/// refused (nothing here can check its binding: fail closed), cold and
/// cached, unless the builder accepts bound tokens as bearer tokens.
#[tokio::test]
async fn without_dpop_the_scheme_is_unknown_and_bound_tokens_are_refused() {
    let s = Setup::new().await;
    let strict = app(builder(&s.issuer).build().expect("valid configuration"));
    assert_eq!(
        call(&strict, s.get(&[&s.proof().sign()])).await,
        answer(StatusCode::UNAUTHORIZED, &["Bearer"], "")
    );
    let bearer = || request("GET", "/notes", Some(&format!("Bearer {}", s.token)), &[]);
    for _ in 0..2 {
        assert_eq!(
            call(&strict, bearer()).await,
            answer(
                StatusCode::UNAUTHORIZED,
                &["Bearer error=\"invalid_token\""],
                ""
            )
        );
    }
    let lenient = app(builder(&s.issuer)
        .dangerously_accept_bound_tokens_as_bearer()
        .build()
        .expect("valid configuration"));
    assert_eq!(
        call(&lenient, bearer()).await,
        answer(StatusCode::OK, &[], "notes")
    );
    assert!(
        BearerAuthLayer::builder()
            .issuer(s.issuer.issuer())
            .audience(TestIssuer::AUDIENCE)
            .dpop(Dpop::new("not a url"))
            .build()
            .is_err()
    );
}

/// The challenge and `DPoP-Nonce` of a response.
async fn nonce_answer(
    app: &Router,
    request: Request<Body>,
) -> (StatusCode, Vec<String>, Option<String>) {
    let response = app.clone().oneshot(request).await.expect("infallible");
    let nonce = response
        .headers()
        .get("dpop-nonce")
        .map(|v| v.to_str().expect("ascii").to_owned());
    let challenges = response
        .headers()
        .get_all(header::WWW_AUTHENTICATE)
        .iter()
        .map(|v| v.to_str().expect("ascii").to_owned())
        .collect();
    (response.status(), challenges, nonce)
}

/// RFC 9449 §9: with nonces required, a proof without one (or with one not
/// ours, or expired) gets `use_dpop_nonce` and a fresh nonce; the proof
/// signed with it passes, once. Replicas sharing the secret accept each
/// other's nonces; others do not.
#[tokio::test]
async fn server_nonces_are_handed_out_and_required() {
    let s = Setup::new().await;
    let secret = [7u8; 32];
    let nonced = || {
        settings()
            .nonces(Duration::from_secs(300))
            .nonce_secret(secret)
    };
    let app = dpop_app(&s.issuer, &s.clock, nonced());
    let use_nonce = vec![format!("DPoP error=\"use_dpop_nonce\", {ALGS}")];

    let (status, challenges, nonce) = nonce_answer(&app, s.get(&[&s.proof().sign()])).await;
    assert_eq!(
        (status, &challenges),
        (StatusCode::UNAUTHORIZED, &use_nonce)
    );
    let nonce = nonce.expect("a DPoP-Nonce header");
    let with_nonce = s.proof().claim("nonce", json!(nonce)).sign();
    assert_eq!(
        call(&app, s.get(&[&with_nonce])).await,
        answer(StatusCode::OK, &[], "notes")
    );
    assert_eq!(call(&app, s.get(&[&with_nonce])).await, proof_refused());
    // A replica with the same secret takes the nonce; one without it does not.
    let replica = dpop_app(&s.issuer, &s.clock, nonced());
    let again = s.proof().claim("nonce", json!(nonce)).sign();
    assert_eq!(
        call(&replica, s.get(&[&again])).await,
        answer(StatusCode::OK, &[], "notes")
    );
    let stranger = dpop_app(
        &s.issuer,
        &s.clock,
        settings().nonces(Duration::from_secs(300)),
    );
    let (status, challenges, _) = nonce_answer(
        &stranger,
        s.get(&[&s.proof().claim("nonce", json!(nonce)).sign()]),
    )
    .await;
    assert_eq!(
        (status, &challenges),
        (StatusCode::UNAUTHORIZED, &use_nonce)
    );
    // A forged nonce, and the nonce once its lifetime and the leeway passed.
    let forged = format!("{}.AAAA", s.now());
    let (status, _, _) = nonce_answer(
        &app,
        s.get(&[&s.proof().claim("nonce", json!(forged)).sign()]),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    s.clock.advance(Duration::from_secs(361));
    let (status, challenges, fresh) = nonce_answer(
        &app,
        s.get(&[&s.proof().claim("nonce", json!(nonce)).sign()]),
    )
    .await;
    assert_eq!(
        (status, &challenges),
        (StatusCode::UNAUTHORIZED, &use_nonce)
    );
    let fresh = fresh.expect("a new nonce");
    assert_ne!(fresh, nonce);
    assert_eq!(
        call(
            &app,
            s.get(&[&s.proof().claim("nonce", json!(fresh)).sign()])
        )
        .await,
        answer(StatusCode::OK, &[], "notes")
    );
    // A proof that fails its own checks is refused as such, nonce or not.
    assert_eq!(
        call(&app, s.get(&[&s.proof().without("ath").sign()])).await,
        proof_refused()
    );
    // The reason, and a secret without nonces is a configuration error.
    let error = layer(&s.issuer, &s.clock, nonced())
        .validator()
        .authenticate_request(&s.get(&[&s.proof().sign()]))
        .await
        .expect_err("no nonce");
    assert_eq!(error.code(), "use_dpop_nonce");
    assert!(
        builder(&s.issuer)
            .dpop(settings().nonce_secret(secret))
            .build()
            .is_err()
    );
}

/// A full in-process replay store refuses new proofs (503) and forgets none
/// of those it holds: a flood of fresh proofs never opens the door to a
/// replay. (With 16 places, at most 16 of 40 proofs can be accepted.)
#[tokio::test]
async fn a_full_replay_store_refuses_new_proofs_rather_than_forget_one() {
    let s = Setup::new().await;
    let app = dpop_app(&s.issuer, &s.clock, settings().replay_capacity(16));
    let proofs: Vec<String> = (0..40).map(|_| s.proof().sign()).collect();
    let mut accepted = Vec::new();
    for proof in &proofs {
        let response = tower::ServiceExt::oneshot(app.clone(), s.get(&[proof]))
            .await
            .expect("infallible");
        match response.status() {
            StatusCode::OK => accepted.push(proof.clone()),
            status => {
                assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
                assert!(response.headers().get(header::RETRY_AFTER).is_some());
                assert_eq!(response.headers().get(header::WWW_AUTHENTICATE), None);
            }
        }
    }
    assert!(
        (1..=16).contains(&accepted.len()),
        "{} accepted",
        accepted.len()
    );
    for proof in &accepted {
        assert_eq!(call(&app, s.get(&[proof])).await, proof_refused());
    }
    // Past the window (60 s, and 60 s of leeway on either side), the store
    // has room again.
    s.clock.advance(Duration::from_secs(180));
    assert_eq!(
        call(&app, s.get(&[&s.proof().sign()])).await,
        answer(StatusCode::OK, &[], "notes")
    );
}
