//! Token validation end to end (issue 2, point 2), through the axum app of
//! `tests/common` and the local test issuer: the `Authorization` header rules
//! (RFC 6750 §2.1), the registered claims (`exp`, `nbf`, `aud`, `iss`), the
//! `typ` policy, the algorithm rules (no `none`, no HMAC, the key's algorithm
//! and never the token's), signature integrity, the shape of header and
//! claims, and custom rejection responses.
//!
//! Every rejection asserts the exact status, the exact `WWW-Authenticate`
//! value and the (empty) body; every acceptance asserts the handler's body.

use crate::support::der::{pem, rsa_public_der};

use crate::support::{
    INVALID_REQUEST, INVALID_TOKEN, Outcome, app, b64, bare, get_with, invalid_request,
    invalid_token, layer, now, send, send_request, start,
};
use axum::Router;
use axum::body::Body;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bearer_guard::rejection_parts;
use bearer_guard::testing::{KeyKind, TestIssuer, TokenBuilder};
use bearer_guard::{Algorithm, BearerAuthLayer, Builder, Error, TypPolicy};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, header};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// A builder trusting `issuer` with every other setting at its default
/// (notably `TypPolicy::AccessToken`).
fn builder(issuer: &TestIssuer) -> Builder {
    BearerAuthLayer::builder()
        .issuer(issuer.issuer())
        .audience(TestIssuer::AUDIENCE)
}

/// A token that `GET /notes` accepts unless the test breaks something.
fn read_token(issuer: &TestIssuer) -> TokenBuilder<'_> {
    issuer.token().scope("notes.read")
}

/// `GET /notes` reached its handler.
fn notes() -> Outcome {
    Outcome {
        status: StatusCode::OK,
        www_authenticate: None,
        body: "notes".to_owned(),
    }
}

/// Asserts that `GET /notes` with `token` is refused with 401 `invalid_token`
/// (empty body), and that the precise reason, which only the log sees, is
/// `code` (asked of the layer's own validator, which shares its key cache).
async fn assert_refused(app: &Router, auth: &BearerAuthLayer, token: &str, code: &str) {
    assert_eq!(
        get_with(app, "/notes", token).await,
        invalid_token(),
        "expected reason {code}"
    );
    let reason = auth.validator().validate(token).await.err();
    assert_eq!(reason.as_ref().map(Error::code), Some(code), "{reason:?}");
}

/// The precise reason the layer's validator gives for these `Authorization`
/// header values.
async fn header_reason(auth: &BearerAuthLayer, values: &[&str]) -> Option<&'static str> {
    let mut headers = HeaderMap::new();
    for value in values {
        headers.append(
            header::AUTHORIZATION,
            HeaderValue::from_str(value).expect("header value"),
        );
    }
    auth.validator()
        .authenticate(&headers)
        .await
        .err()
        .map(|e| e.code())
}

/// The three segments of a compact JWS.
fn segments(token: &str) -> [String; 3] {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "compact JWS: {token}");
    [
        parts[0].to_owned(),
        parts[1].to_owned(),
        parts[2].to_owned(),
    ]
}

/// A complete, valid claims set for `issuer` as JSON text.
fn valid_claims(issuer: &TestIssuer) -> Value {
    json!({
        "iss": issuer.issuer(),
        "aud": TestIssuer::AUDIENCE,
        "sub": "test-user",
        "exp": now() + 3600,
        "scp": "notes.read",
    })
}

// ---------------------------------------------------------------------------
// Accepted tokens and the claims handed over
// ---------------------------------------------------------------------------

#[tokio::test]
async fn valid_delegated_token_reaches_the_handler() {
    let issuer = start().await;
    let app = app(layer(&issuer));
    let token = read_token(&issuer).sign();
    assert_eq!(get_with(&app, "/notes", &token).await, notes());
}

#[tokio::test]
async fn me_returns_exactly_the_claims_the_token_carries() {
    let issuer = start().await;
    let app = app(layer(&issuer));
    let token = issuer
        .token()
        .scope("notes.read profile")
        .claim("name", "Ada Lovelace")
        .claim("tid", "tenant-1")
        .sign();

    let outcome = get_with(&app, "/me", &token).await;
    assert_eq!(outcome.status, StatusCode::OK);
    assert_eq!(outcome.www_authenticate, None);
    let body: Value = serde_json::from_str(&outcome.body).expect("JSON body");
    assert_eq!(body["iss"], json!(issuer.issuer()));
    assert_eq!(body["aud"], json!(TestIssuer::AUDIENCE));
    assert_eq!(body["sub"], json!("test-user"));
    assert_eq!(body["scp"], json!("notes.read profile"));
    assert_eq!(body["name"], json!("Ada Lovelace"));
    assert_eq!(body["tid"], json!("tenant-1"));
    assert!(body["exp"].as_i64().expect("exp is a number") > now());
    // Nothing added, nothing dropped: the whole claims set, as signed.
    let payload = URL_SAFE_NO_PAD
        .decode(&segments(&token)[1])
        .expect("base64url payload");
    let signed: Value = serde_json::from_slice(&payload).expect("JSON payload");
    assert_eq!(body, signed);
}

// ---------------------------------------------------------------------------
// The Authorization header (RFC 6750 §2.1)
// ---------------------------------------------------------------------------

#[tokio::test]
async fn no_authorization_header_gets_a_bare_bearer_challenge() {
    let issuer = start().await;
    let auth = layer(&issuer);
    let app = app(auth.clone());
    assert_eq!(send(&app, "GET", "/notes", None).await, bare());
    assert_eq!(send(&app, "GET", "/me", None).await, bare());
    assert_eq!(header_reason(&auth, &[]).await, Some("missing_token"));
    assert_eq!(issuer.jwks_requests(), 0);
}

#[tokio::test]
async fn another_scheme_gets_a_bare_bearer_challenge() {
    let issuer = start().await;
    let auth = layer(&issuer);
    let app = app(auth.clone());
    for value in ["Basic dXNlcjpwYXNz", "Digest username=\"u\"", "Bearerabc"] {
        assert_eq!(
            send(&app, "GET", "/notes", Some(value)).await,
            bare(),
            "{value}"
        );
        assert_eq!(header_reason(&auth, &[value]).await, Some("not_bearer"));
    }
}

#[tokio::test]
async fn bearer_scheme_is_case_insensitive() {
    let issuer = start().await;
    let app = app(layer(&issuer));
    let token = read_token(&issuer).sign();
    for scheme in ["bearer", "BEARER", "bEaReR"] {
        let value = format!("{scheme} {token}");
        assert_eq!(
            send(&app, "GET", "/notes", Some(&value)).await,
            notes(),
            "{scheme}"
        );
    }
}

#[tokio::test]
async fn two_authorization_headers_are_an_invalid_request() {
    let issuer = start().await;
    let auth = layer(&issuer);
    let app = app(auth.clone());
    let value = format!("Bearer {}", read_token(&issuer).sign());
    // Even when both carry the same valid token (RFC 6750 §2: one method, one token).
    for second in [value.as_str(), "Basic dXNlcjpwYXNz"] {
        let request = Request::get("/notes")
            .header(header::AUTHORIZATION, &value)
            .header(header::AUTHORIZATION, second)
            .body(Body::empty())
            .expect("request");
        assert_eq!(send_request(&app, request).await, invalid_request());
        assert_eq!(
            header_reason(&auth, &[&value, second]).await,
            Some("multiple_authorization_headers")
        );
    }
    assert_eq!(issuer.jwks_requests(), 0);
}

#[tokio::test]
async fn bearer_without_a_token_is_an_invalid_request() {
    let issuer = start().await;
    let auth = layer(&issuer);
    let app = app(auth.clone());
    for value in ["Bearer", "Bearer ", "Bearer    "] {
        assert_eq!(
            send(&app, "GET", "/notes", Some(value)).await,
            invalid_request(),
            "{value:?}"
        );
        assert_eq!(
            header_reason(&auth, &[value]).await,
            Some("malformed_authorization")
        );
    }
}

#[tokio::test]
async fn bearer_token_with_characters_outside_b64token_is_an_invalid_request() {
    let issuer = start().await;
    let auth = layer(&issuer);
    let app = app(auth.clone());
    let token = read_token(&issuer).sign();
    let values = [
        "Bearer a b".to_owned(),
        "Bearer a\"b".to_owned(),
        "Bearer a,b".to_owned(),
        "Bearer a=b".to_owned(),
        "Bearer ===".to_owned(),
        "Bearer a;b".to_owned(),
        "Bearer a\tb".to_owned(),
        // A valid token followed by anything that is not a b64token.
        format!("Bearer {token} extra"),
        format!("Bearer {token}!"),
    ];
    for value in values {
        assert_eq!(
            send(&app, "GET", "/notes", Some(&value)).await,
            invalid_request(),
            "{value:?}"
        );
        assert_eq!(
            header_reason(&auth, &[&value]).await,
            Some("malformed_authorization")
        );
    }
    assert_eq!(issuer.jwks_requests(), 0);
}

#[tokio::test]
async fn token_over_the_size_cap_is_rejected_before_decoding_and_without_traffic() {
    let issuer = start().await;
    let token = read_token(&issuer).sign();

    let capped = builder(&issuer)
        .max_token_bytes(token.len() - 1)
        .build()
        .expect("valid configuration");
    let capped_app = app(capped.clone());
    assert_refused(&capped_app, &capped, &token, "token_too_large").await;
    // The cap comes before the charset check: an oversized non-b64token is
    // still a 401 invalid_token, not a 400.
    let junk = format!("Bearer {}", "!".repeat(token.len()));
    assert_eq!(
        send(&capped_app, "GET", "/notes", Some(&junk)).await,
        invalid_token()
    );
    assert_eq!(
        header_reason(&capped, &[&junk]).await,
        Some("token_too_large")
    );
    assert_eq!(issuer.discovery_requests(), 0);
    assert_eq!(issuer.jwks_requests(), 0);

    // A token exactly at the cap passes.
    let exact = app(builder(&issuer)
        .max_token_bytes(token.len())
        .build()
        .expect("valid configuration"));
    assert_eq!(get_with(&exact, "/notes", &token).await, notes());
}

// ---------------------------------------------------------------------------
// exp / nbf and the leeway (default 60 s)
// ---------------------------------------------------------------------------

#[tokio::test]
async fn expired_token_beyond_the_leeway_is_rejected() {
    let issuer = start().await;
    let auth = layer(&issuer);
    let app = app(auth.clone());
    let token = read_token(&issuer).expires_in(-120).sign();
    assert_refused(&app, &auth, &token, "expired").await;
}

#[tokio::test]
async fn token_expired_within_the_leeway_is_accepted() {
    let issuer = start().await;
    let app = app(layer(&issuer));
    let token = read_token(&issuer).expires_in(-20).sign();
    assert_eq!(get_with(&app, "/notes", &token).await, notes());
}

#[tokio::test]
async fn zero_leeway_rejects_a_token_expired_seconds_ago() {
    let issuer = start().await;
    let auth = builder(&issuer)
        .leeway(std::time::Duration::ZERO)
        .build()
        .expect("valid configuration");
    let app = app(auth.clone());
    let token = read_token(&issuer).expires_in(-20).sign();
    assert_refused(&app, &auth, &token, "expired").await;
}

#[tokio::test]
async fn nbf_in_the_future_beyond_the_leeway_is_rejected() {
    let issuer = start().await;
    let auth = layer(&issuer);
    let app = app(auth.clone());
    let token = read_token(&issuer).claim("nbf", now() + 300).sign();
    assert_refused(&app, &auth, &token, "not_yet_valid").await;
}

#[tokio::test]
async fn nbf_in_the_future_within_the_leeway_is_accepted() {
    let issuer = start().await;
    let app = app(layer(&issuer));
    let token = read_token(&issuer).claim("nbf", now() + 20).sign();
    assert_eq!(get_with(&app, "/notes", &token).await, notes());
}

#[tokio::test]
async fn missing_exp_is_rejected() {
    let issuer = start().await;
    let auth = layer(&issuer);
    let app = app(auth.clone());
    let token = read_token(&issuer).without("exp").sign();
    assert_refused(&app, &auth, &token, "missing_claim").await;
    // `null` is present but no date: refused as a claim of the wrong type.
    let token = read_token(&issuer).claim("exp", json!(null)).sign();
    assert_refused(&app, &auth, &token, "invalid_claim").await;
}

#[tokio::test]
async fn exp_or_nbf_of_the_wrong_json_type_is_rejected() {
    let issuer = start().await;
    let auth = layer(&issuer);
    let app = app(auth.clone());
    let later = now() + 3600;
    let tokens = [
        read_token(&issuer).claim("exp", later.to_string()).sign(),
        read_token(&issuer).claim("exp", json!(true)).sign(),
        read_token(&issuer).claim("exp", json!([later])).sign(),
        read_token(&issuer).claim("exp", json!(1e300)).sign(),
        read_token(&issuer)
            .claim("nbf", (now() - 10).to_string())
            .sign(),
    ];
    for token in tokens {
        assert_refused(&app, &auth, &token, "invalid_claim").await;
    }
}

// ---------------------------------------------------------------------------
// aud
// ---------------------------------------------------------------------------

#[tokio::test]
async fn wrong_audience_is_rejected() {
    let issuer = start().await;
    let auth = layer(&issuer);
    let app = app(auth.clone());
    for aud in [
        json!("api://other"),
        json!("api://bearer-guard-test/"),
        json!("API://BEARER-GUARD-TEST"),
        json!(""),
        json!(["api://a", "api://b"]),
        json!([]),
    ] {
        let token = read_token(&issuer).claim("aud", aud).sign();
        assert_refused(&app, &auth, &token, "audience_mismatch").await;
    }
}

#[tokio::test]
async fn audience_array_with_one_matching_value_is_accepted() {
    let issuer = start().await;
    let app = app(layer(&issuer));
    let token = read_token(&issuer)
        .claim("aud", json!(["api://other", TestIssuer::AUDIENCE]))
        .sign();
    assert_eq!(get_with(&app, "/notes", &token).await, notes());
}

#[tokio::test]
async fn missing_audience_is_rejected() {
    let issuer = start().await;
    let auth = layer(&issuer);
    let app = app(auth.clone());
    let token = read_token(&issuer).without("aud").sign();
    assert_refused(&app, &auth, &token, "missing_claim").await;
}

#[tokio::test]
async fn audience_of_the_wrong_json_type_is_rejected() {
    let issuer = start().await;
    let auth = layer(&issuer);
    let app = app(auth.clone());
    for aud in [
        json!(1),
        json!([TestIssuer::AUDIENCE, 1]),
        json!({ "aud": TestIssuer::AUDIENCE }),
    ] {
        let token = read_token(&issuer).claim("aud", aud).sign();
        assert_refused(&app, &auth, &token, "invalid_claim").await;
    }
}

#[tokio::test]
async fn builder_with_two_audiences_accepts_either_and_nothing_else() {
    let issuer = start().await;
    let auth = BearerAuthLayer::builder()
        .issuer(issuer.issuer())
        .audience("api://first")
        .audience("api://second")
        .build()
        .expect("valid configuration");
    let app = app(auth.clone());
    for aud in ["api://first", "api://second"] {
        let token = read_token(&issuer).audience(aud).sign();
        assert_eq!(get_with(&app, "/notes", &token).await, notes(), "{aud}");
    }
    let token = read_token(&issuer).audience(TestIssuer::AUDIENCE).sign();
    assert_refused(&app, &auth, &token, "audience_mismatch").await;
}

// ---------------------------------------------------------------------------
// iss
// ---------------------------------------------------------------------------

#[tokio::test]
async fn foreign_issuer_is_rejected_without_any_key_traffic() {
    let issuer = start().await;
    let auth = layer(&issuer);
    let app = app(auth.clone());
    let foreign = [
        format!("{}/", issuer.issuer()),
        "https://evil.example".to_owned(),
        issuer.issuer().to_uppercase(),
        format!(" {}", issuer.issuer()),
    ];
    for iss in &foreign {
        let token = read_token(&issuer).claim("iss", iss.as_str()).sign();
        assert_refused(&app, &auth, &token, "issuer_mismatch").await;
        // An unknown kid too: were the issuer checked late, this would fetch.
        let token = read_token(&issuer)
            .claim("iss", iss.as_str())
            .header_kid("kid-nobody-knows")
            .sign();
        assert_refused(&app, &auth, &token, "issuer_mismatch").await;
    }
    let token = read_token(&issuer)
        .claim("iss", json!([issuer.issuer()]))
        .sign();
    assert_refused(&app, &auth, &token, "invalid_claim").await;
    let token = read_token(&issuer).without("iss").sign();
    assert_refused(&app, &auth, &token, "missing_claim").await;
    // The layer never looked for a key: no discovery, no JWKS.
    assert_eq!(issuer.discovery_requests(), 0);
    assert_eq!(issuer.jwks_requests(), 0);

    // Once the keys are loaded, a foreign issuer still causes nothing more.
    assert_eq!(
        get_with(&app, "/notes", &read_token(&issuer).sign()).await,
        notes()
    );
    assert_eq!(issuer.jwks_requests(), 1);
    for iss in &foreign {
        let token = read_token(&issuer)
            .claim("iss", iss.as_str())
            .header_kid("another-unknown-kid")
            .sign();
        assert_refused(&app, &auth, &token, "issuer_mismatch").await;
    }
    assert_eq!(issuer.discovery_requests(), 1);
    assert_eq!(issuer.jwks_requests(), 1);
}

// ---------------------------------------------------------------------------
// typ (RFC 8725 §3.11, RFC 9068 §2.1)
// ---------------------------------------------------------------------------

#[tokio::test]
async fn default_typ_policy_accepts_only_at_jwt() {
    let issuer = start().await;
    let auth = builder(&issuer).build().expect("valid configuration");
    let app = app(auth.clone());
    for typ in [Some("at+jwt"), Some("application/at+jwt"), Some("AT+JWT")] {
        let token = read_token(&issuer).typ(typ).sign();
        assert_eq!(get_with(&app, "/notes", &token).await, notes(), "{typ:?}");
    }
    // An ID token (JWT) or an untyped token never passes as an access token.
    for typ in [
        Some("JWT"),
        None,
        Some("at+jwt2"),
        Some("id_token+jwt"),
        Some(""),
    ] {
        let token = read_token(&issuer).typ(typ).sign();
        assert_refused(&app, &auth, &token, "wrong_type").await;
    }
}

#[tokio::test]
async fn jwt_typ_policy_rejects_at_jwt() {
    let issuer = start().await;
    let auth = builder(&issuer)
        .typ(TypPolicy::Jwt)
        .build()
        .expect("valid configuration");
    let app = app(auth.clone());
    for typ in [Some("JWT"), Some("jwt"), None] {
        let token = read_token(&issuer).typ(typ).sign();
        assert_eq!(get_with(&app, "/notes", &token).await, notes(), "{typ:?}");
    }
    for typ in [Some("at+jwt"), Some("logout+jwt")] {
        let token = read_token(&issuer).typ(typ).sign();
        assert_refused(&app, &auth, &token, "wrong_type").await;
    }
}

// ---------------------------------------------------------------------------
// Algorithms (RFC 8725 §3.1)
// ---------------------------------------------------------------------------

#[tokio::test]
async fn alg_none_is_rejected_with_or_without_a_signature() {
    let issuer = start().await;
    let auth = layer(&issuer);
    let app = app(auth.clone());
    let kid = issuer.current_kid();
    let claims = valid_claims(&issuer).to_string();
    let payload = b64(&claims);
    for alg in ["none", "None", "NONE"] {
        let header_json = json!({ "alg": alg, "typ": "at+jwt", "kid": kid }).to_string();
        let header = b64(&header_json);
        // Unsecured JWS: empty signature (RFC 7519 §6.1); the empty segment
        // alone condemns it.
        let unsecured = format!("{header}.{payload}.");
        assert_refused(&app, &auth, &unsecured, "malformed_token").await;
        // The same with some signature bytes attached.
        let with_sig = format!("{header}.{payload}.c2lnbmF0dXJl");
        assert_refused(&app, &auth, &with_sig, "disallowed_algorithm").await;
        // And with a real RS256 signature over the `none` header.
        let signed = issuer
            .sign_raw(header_json.as_bytes(), claims.as_bytes(), &kid)
            .expect("key exists");
        assert_refused(&app, &auth, &signed, "disallowed_algorithm").await;
    }
    assert_eq!(issuer.jwks_requests(), 0);
}

#[tokio::test]
async fn hs256_signed_with_the_public_rsa_key_as_secret_is_rejected() {
    let issuer = start().await;
    let auth = layer(&issuer);
    let app = app(auth.clone());
    let kid = issuer.current_kid();

    // The attacker's view: the published JWKS.
    let jwks_text = reqwest::Client::new()
        .get(issuer.jwks_uri())
        .send()
        .await
        .expect("JWKS reachable on loopback")
        .text()
        .await
        .expect("JWKS body");
    assert_eq!(issuer.jwks_requests(), 1);
    let jwks: Value = serde_json::from_str(&jwks_text).expect("JWKS JSON");
    let jwk = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == json!(kid))
        .expect("the signing key is published")
        .clone();
    let n = URL_SAFE_NO_PAD
        .decode(jwk["n"].as_str().expect("RSA n"))
        .expect("n is base64url");
    let e = URL_SAFE_NO_PAD
        .decode(jwk["e"].as_str().expect("RSA e"))
        .expect("e is base64url");

    // Every usual serialization of the public key, as an HMAC secret.
    let (pkcs1, spki) = rsa_public_der(&n, &e);
    let secrets: Vec<Vec<u8>> = vec![
        pem("PUBLIC KEY", &spki).into_bytes(),
        pem("RSA PUBLIC KEY", &pkcs1).into_bytes(),
        spki,
        pkcs1,
        n,
        jwk.to_string().into_bytes(),
    ];

    for secret in secrets {
        use jsonwebtoken::Algorithm::{HS256, HS384, HS512};
        for alg in [HS256, HS384, HS512] {
            let mut header = jsonwebtoken::Header::new(alg);
            header.kid = Some(kid.clone());
            header.typ = Some("at+jwt".to_owned());
            let token = jsonwebtoken::encode(
                &header,
                &valid_claims(&issuer),
                &jsonwebtoken::EncodingKey::from_secret(&secret),
            )
            .expect("HMAC signing");
            assert_refused(&app, &auth, &token, "disallowed_algorithm").await;
        }
    }
    // Refused on the header alone: the layer never even fetched the keys.
    assert_eq!(issuer.discovery_requests(), 0);
    assert_eq!(issuer.jwks_requests(), 1);
}

#[tokio::test]
async fn header_alg_other_than_the_keys_algorithm_is_rejected() {
    let issuer = start().await;
    let rs = issuer.current_kid();
    let ps = issuer.add_key(KeyKind::Ps256);
    let es = issuer.add_key(KeyKind::Es256);
    let auth = layer(&issuer);
    let app = app(auth.clone());
    let cases = [
        (rs.as_str(), Algorithm::PS256),
        (rs.as_str(), Algorithm::RS384),
        (ps.as_str(), Algorithm::RS256),
        (es.as_str(), Algorithm::ES384),
    ];
    for (kid, alg) in cases {
        let token = read_token(&issuer).signed_by(kid).header_alg(alg).sign();
        assert_refused(&app, &auth, &token, "algorithm_mismatch").await;
    }
    // The keys themselves are fine.
    for kid in [&rs, &ps, &es] {
        let token = read_token(&issuer).signed_by(kid).sign();
        assert_eq!(get_with(&app, "/notes", &token).await, notes(), "{kid}");
    }
}

#[tokio::test]
async fn each_supported_key_type_verifies_its_own_tokens() {
    let issuer = start().await;
    let rs = issuer.current_kid();
    // All keys published before the layer's first (and only) fetch.
    let kids = [
        rs,
        issuer.add_key(KeyKind::Ps256),
        issuer.add_key(KeyKind::Es256),
        issuer.add_key(KeyKind::Es384),
        issuer.add_key(KeyKind::EdDsa),
    ];
    let app = app(layer(&issuer));
    for kid in &kids {
        let token = read_token(&issuer).signed_by(kid).sign();
        assert_eq!(get_with(&app, "/notes", &token).await, notes(), "{kid}");
    }
    assert_eq!(issuer.jwks_requests(), 1);
}

#[tokio::test]
async fn algorithm_allow_list_rejects_other_algorithms() {
    let issuer = start().await;
    let rs = issuer.current_kid();
    let es = issuer.add_key(KeyKind::Es256);
    let auth = builder(&issuer)
        .algorithms([Algorithm::RS256])
        .build()
        .expect("valid configuration");
    let app = app(auth.clone());
    let token = read_token(&issuer).signed_by(&es).sign();
    assert_refused(&app, &auth, &token, "disallowed_algorithm").await;
    let token = read_token(&issuer).signed_by(&rs).sign();
    assert_eq!(get_with(&app, "/notes", &token).await, notes());
}

// ---------------------------------------------------------------------------
// Signature integrity and kid
// ---------------------------------------------------------------------------

#[tokio::test]
async fn tampered_payload_is_rejected() {
    let issuer = start().await;
    let auth = layer(&issuer);
    let app = app(auth.clone());
    let token = read_token(&issuer).sign();
    assert_eq!(get_with(&app, "/notes", &token).await, notes());
    let [header, payload, signature] = segments(&token);

    // One character of the payload segment changed, wherever it lands (the
    // reason then depends on which claim the bits fall in; always a 401).
    let mut bytes = payload.clone().into_bytes();
    let middle = bytes.len() / 2;
    bytes[middle] = if bytes[middle] == b'A' { b'B' } else { b'A' };
    let flipped = format!(
        "{header}.{}.{signature}",
        String::from_utf8(bytes).expect("ASCII")
    );
    assert_eq!(get_with(&app, "/notes", &flipped).await, invalid_token());

    // One character of a claim value changed, re-encoded cleanly.
    let claims =
        String::from_utf8(URL_SAFE_NO_PAD.decode(&payload).expect("payload")).expect("UTF-8");
    let edited = claims.replace("\"test-user\"", "\"test-usex\"");
    assert_ne!(edited, claims);
    let forged = format!("{header}.{}.{signature}", b64(&edited));
    assert_refused(&app, &auth, &forged, "invalid_signature").await;

    // Scope escalation on a copied signature: 401, neither 200 nor 403.
    let escalated = claims.replace("\"notes.read\"", "\"notes.read notes.write\"");
    assert_ne!(escalated, claims);
    let forged = format!("{header}.{}.{signature}", b64(&escalated));
    assert_eq!(
        send(&app, "POST", "/notes", Some(&format!("Bearer {forged}"))).await,
        invalid_token()
    );
    assert_refused(&app, &auth, &forged, "invalid_signature").await;
}

#[tokio::test]
async fn tampered_header_or_signature_is_rejected() {
    let issuer = start().await;
    let auth = layer(&issuer);
    let app = app(auth.clone());
    let token = read_token(&issuer).sign();
    let [header, payload, signature] = segments(&token);
    // A header edit that every check but the signature accepts.
    let header_json =
        String::from_utf8(URL_SAFE_NO_PAD.decode(&header).expect("header")).expect("UTF-8");
    let retyped = header_json.replace("at+jwt", "AT+JWT");
    assert_ne!(retyped, header_json);
    let forged = format!("{}.{payload}.{signature}", b64(&retyped));
    assert_refused(&app, &auth, &forged, "invalid_signature").await;

    let mut sig = URL_SAFE_NO_PAD.decode(&signature).expect("signature");
    sig[0] ^= 0x01;
    let forged = format!("{header}.{payload}.{}", b64(&sig));
    assert_refused(&app, &auth, &forged, "invalid_signature").await;

    let truncated = format!("{header}.{payload}.{}", b64(&sig[..sig.len() - 1]));
    assert_refused(&app, &auth, &truncated, "invalid_signature").await;
}

#[tokio::test]
async fn signature_by_another_key_under_a_trusted_kid_is_rejected() {
    let issuer = start().await;
    let trusted = issuer.current_kid();
    let other = issuer.add_key(KeyKind::Rs256);
    let auth = layer(&issuer);
    let app = app(auth.clone());
    let token = read_token(&issuer)
        .signed_by(&other)
        .header_kid(&trusted)
        .sign();
    assert_refused(&app, &auth, &token, "invalid_signature").await;
    // Both keys are good under their own kid.
    for kid in [&trusted, &other] {
        let token = read_token(&issuer).signed_by(kid).sign();
        assert_eq!(get_with(&app, "/notes", &token).await, notes(), "{kid}");
    }
}

#[tokio::test]
async fn token_without_kid_is_rejected() {
    let issuer = start().await;
    let auth = layer(&issuer);
    let app = app(auth.clone());
    let token = read_token(&issuer).no_kid().sign();
    assert_refused(&app, &auth, &token, "missing_kid").await;
    assert_eq!(issuer.jwks_requests(), 0);
}

#[tokio::test]
async fn malformed_compact_serialization_is_an_invalid_token() {
    let issuer = start().await;
    let auth = layer(&issuer);
    let app = app(auth.clone());
    let token = read_token(&issuer).sign();
    let [header, payload, signature] = segments(&token);
    let cases = [
        "abc".to_owned(),
        format!("{header}.{payload}"),
        format!("{header}.{payload}.{signature}.{signature}"),
        format!("{header}.{payload}.{signature}.x.y"),
        format!("{header}..{signature}"),
        format!(".{payload}.{signature}"),
        format!("{header}.{payload}+.{signature}"),
        format!("{header}.{payload}/.{signature}"),
        "...".to_owned(),
    ];
    for value in cases {
        assert_refused(&app, &auth, &value, "malformed_token").await;
    }
    assert_eq!(issuer.jwks_requests(), 0);
}

// ---------------------------------------------------------------------------
// Header and claims shape
// ---------------------------------------------------------------------------

#[tokio::test]
async fn byte_level_crafted_token_with_object_claims_is_accepted() {
    // Control for the sign_raw cases below: the crafting path itself works.
    let issuer = start().await;
    let app = app(layer(&issuer));
    let kid = issuer.current_kid();
    let header = json!({ "alg": "RS256", "typ": "at+jwt", "kid": kid }).to_string();
    let token = issuer
        .sign_raw(
            header.as_bytes(),
            valid_claims(&issuer).to_string().as_bytes(),
            &kid,
        )
        .expect("key exists");
    assert_eq!(get_with(&app, "/notes", &token).await, notes());
}

#[tokio::test]
async fn claims_that_are_not_a_json_object_are_rejected() {
    let issuer = start().await;
    let auth = layer(&issuer);
    let app = app(auth.clone());
    let kid = issuer.current_kid();
    let header = json!({ "alg": "RS256", "typ": "at+jwt", "kid": kid }).to_string();
    let array = json!([valid_claims(&issuer)]).to_string();
    let payloads = [
        array.as_str(),
        r#"["iss","aud","exp"]"#,
        r#""a string""#,
        "42",
        "null",
        "true",
        "not json",
    ];
    for payload in payloads {
        let token = issuer
            .sign_raw(header.as_bytes(), payload.as_bytes(), &kid)
            .expect("key exists");
        assert_refused(&app, &auth, &token, "claims_not_object").await;
    }
    // An empty payload leaves an empty segment.
    let token = issuer
        .sign_raw(header.as_bytes(), b"", &kid)
        .expect("key exists");
    assert_refused(&app, &auth, &token, "malformed_token").await;
}

#[tokio::test]
async fn duplicate_claim_names_are_rejected() {
    let issuer = start().await;
    let auth = layer(&issuer);
    let app = app(auth.clone());
    let kid = issuer.current_kid();
    let header = json!({ "alg": "RS256", "typ": "at+jwt", "kid": kid }).to_string();
    let claims = valid_claims(&issuer).to_string();
    // A second `aud` besides the good one: parsers disagree on which wins.
    let duplicated = claims.replacen('{', "{\"aud\":\"api://other\",", 1);
    let token = issuer
        .sign_raw(header.as_bytes(), duplicated.as_bytes(), &kid)
        .expect("key exists");
    assert_refused(&app, &auth, &token, "malformed_token").await;
}

#[tokio::test]
async fn crit_and_other_unsupported_header_parameters_are_rejected() {
    let issuer = start().await;
    let auth = layer(&issuer);
    let app = app(auth.clone());
    let kid = issuer.current_kid();
    let claims = valid_claims(&issuer).to_string();
    let headers = [
        json!({ "alg": "RS256", "typ": "at+jwt", "kid": kid, "crit": ["exp"], "exp": now() + 60 }),
        json!({ "alg": "RS256", "typ": "at+jwt", "kid": kid, "crit": [] }),
        json!({ "alg": "RS256", "typ": "at+jwt", "kid": kid, "b64": false }),
        json!({ "alg": "RS256", "typ": "at+jwt", "kid": kid, "zip": "DEF" }),
        json!({ "alg": "RS256", "typ": "at+jwt", "kid": kid, "enc": "A128GCM" }),
    ];
    for header in headers {
        let token = issuer
            .sign_raw(header.to_string().as_bytes(), claims.as_bytes(), &kid)
            .expect("key exists");
        assert_refused(&app, &auth, &token, "unsupported_header").await;
    }
    assert_eq!(issuer.jwks_requests(), 0);
}

#[tokio::test]
async fn header_that_is_not_a_well_formed_json_object_is_rejected() {
    let issuer = start().await;
    let auth = layer(&issuer);
    let app = app(auth.clone());
    let kid = issuer.current_kid();
    let claims = valid_claims(&issuer).to_string();
    let headers = [
        json!(["alg", "RS256"]).to_string(),
        format!(r#"{{"alg":"RS256","alg":"RS256","typ":"at+jwt","kid":"{kid}"}}"#),
        format!(r#"{{"typ":"at+jwt","kid":"{kid}"}}"#),
        r#"{"alg":"RS256","typ":"at+jwt","kid":7}"#.to_owned(),
    ];
    for header in headers {
        let token = issuer
            .sign_raw(header.as_bytes(), claims.as_bytes(), &kid)
            .expect("key exists");
        assert_refused(&app, &auth, &token, "malformed_token").await;
    }
    assert_eq!(issuer.jwks_requests(), 0);
}

// ---------------------------------------------------------------------------
// Custom rejection responses
// ---------------------------------------------------------------------------

#[tokio::test]
async fn custom_rejection_builds_the_response_but_the_layer_still_rejects() {
    let issuer = start().await;
    let custom = layer(&issuer).on_rejection(|error: &Error| {
        let (status, headers) = rejection_parts(error);
        let mut response = Response::new(Body::from(format!("{{\"error\":\"{}\"}}", error.code())));
        *response.status_mut() = status;
        response.headers_mut().extend(headers);
        response
    });
    let app: Router = Router::new()
        .route("/notes", get(|| async { "notes" }))
        .layer(custom);

    assert_eq!(
        send(&app, "GET", "/notes", None).await,
        Outcome {
            status: StatusCode::UNAUTHORIZED,
            www_authenticate: Some("Bearer".to_owned()),
            body: r#"{"error":"missing_token"}"#.to_owned(),
        }
    );
    let expired = read_token(&issuer).expires_in(-3600).sign();
    assert_eq!(
        get_with(&app, "/notes", &expired).await,
        Outcome {
            status: StatusCode::UNAUTHORIZED,
            www_authenticate: Some(INVALID_TOKEN.to_owned()),
            body: r#"{"error":"expired"}"#.to_owned(),
        }
    );
    assert_eq!(
        send(&app, "GET", "/notes", Some("Bearer a b")).await,
        Outcome {
            status: StatusCode::BAD_REQUEST,
            www_authenticate: Some(INVALID_REQUEST.to_owned()),
            body: r#"{"error":"malformed_authorization"}"#.to_owned(),
        }
    );
    // A valid token still gets through.
    assert_eq!(
        get_with(&app, "/notes", &read_token(&issuer).sign()).await,
        notes()
    );
}

#[tokio::test]
async fn custom_rejection_that_ignores_rfc6750_still_never_reaches_the_handler() {
    let issuer = start().await;
    let custom = layer(&issuer).on_rejection(|_: &Error| {
        let mut response = Response::new(Body::from("go away"));
        *response.status_mut() = StatusCode::IM_A_TEAPOT;
        response
    });
    let app: Router = Router::new()
        .route("/notes", get(|| async { "notes" }))
        .layer(custom);
    let forged = read_token(&issuer).audience("api://other").sign();
    assert_eq!(
        get_with(&app, "/notes", &forged).await,
        Outcome {
            status: StatusCode::IM_A_TEAPOT,
            www_authenticate: None,
            body: "go away".to_owned(),
        }
    );
}
