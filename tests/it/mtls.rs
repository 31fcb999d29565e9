//! Certificate-bound access tokens (RFC 8705 §3) through the layer: the
//! client certificate from the TLS acceptor (a request extension), or from a
//! trusted proxy's header when configured; a bound token without its
//! certificate, or with another, is 401 `invalid_token`, cold and cached.

use axum::Router;
use axum::body::Body;
use bearer_guard::testing::TestIssuer;
use bearer_guard::{CertificateBinding, ClientCertificate, ProxyHeader};
use http::{Request, StatusCode, header};
use serde_json::json;

use crate::support::{INVALID_TOKEN, Outcome, app, builder, ok, send_request, start};

const CERT: &str = include_str!("../data/client-cert.pem");
const OTHER_CERT: &str = include_str!("../data/client-cert-2.pem");

fn der(pem: &str) -> Vec<u8> {
    pem::parse(pem).expect("PEM").into_contents()
}

fn refused() -> Outcome {
    Outcome {
        status: StatusCode::UNAUTHORIZED,
        www_authenticate: Some(INVALID_TOKEN.to_owned()),
        body: String::new(),
    }
}

fn get(token: &str, certificate: Option<&str>, headers: &[(&str, String)]) -> Request<Body> {
    let mut request =
        Request::get("/notes").header(header::AUTHORIZATION, format!("Bearer {token}"));
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let mut request = request.body(Body::empty()).expect("request");
    if let Some(pem) = certificate {
        request
            .extensions_mut()
            .insert(ClientCertificate::from_der(der(pem)));
    }
    request
}

fn bound_token(issuer: &TestIssuer, pem: &str) -> String {
    let thumbprint = ClientCertificate::from_der(der(pem)).thumbprint();
    issuer
        .token()
        .scope("notes.read")
        .claim("cnf", json!({ "x5t#S256": thumbprint }))
        .sign()
}

fn mtls_app(issuer: &TestIssuer, binding: CertificateBinding) -> Router {
    app(builder(issuer)
        .certificate_bound_tokens(binding)
        .build()
        .expect("valid configuration"))
}

#[tokio::test]
async fn a_bound_token_passes_only_with_its_certificate_cold_and_cached() {
    let issuer = start().await;
    let app = mtls_app(&issuer, CertificateBinding::new());
    let token = bound_token(&issuer, CERT);
    for round in 0..2 {
        assert_eq!(
            send_request(&app, get(&token, Some(CERT), &[])).await,
            ok("notes"),
            "round {round}"
        );
        assert_eq!(
            send_request(&app, get(&token, None, &[])).await,
            refused(),
            "round {round}"
        );
        assert_eq!(
            send_request(&app, get(&token, Some(OTHER_CERT), &[])).await,
            refused(),
            "round {round}"
        );
    }
    // A token bound to no certificate needs none, and ignores one.
    let plain = issuer.token().scope("notes.read").sign();
    assert_eq!(
        send_request(&app, get(&plain, None, &[])).await,
        ok("notes")
    );
    assert_eq!(
        send_request(&app, get(&plain, Some(OTHER_CERT), &[])).await,
        ok("notes")
    );
    // The precise reasons, through the validator of a layer built alike.
    let layer = builder(&issuer)
        .certificate_bound_tokens(CertificateBinding::new())
        .build()
        .expect("valid configuration");
    let code = |request: Request<Body>| {
        let validator = layer.validator().clone();
        async move {
            validator
                .authenticate_request(&request)
                .await
                .err()
                .map(|e| e.code())
        }
    };
    assert_eq!(code(get(&token, Some(CERT), &[])).await, None);
    assert_eq!(
        code(get(&token, None, &[])).await,
        Some("certificate_required")
    );
    assert_eq!(
        code(get(&token, Some(OTHER_CERT), &[])).await,
        Some("certificate_mismatch")
    );
    // RFC 9728 §2: the metadata says so.
    let with_metadata = builder(&issuer)
        .resource("https://api.example.test")
        .certificate_bound_tokens(CertificateBinding::new())
        .build()
        .expect("valid configuration");
    let document: serde_json::Value = serde_json::from_str(
        with_metadata
            .validator()
            .resource_metadata()
            .expect("configured")
            .document(),
    )
    .expect("JSON");
    assert_eq!(
        document["tls_client_certificate_bound_access_tokens"],
        json!(true)
    );
    // A cnf.x5t#S256 that is not a string refuses the token.
    let odd = issuer
        .token()
        .scope("notes.read")
        .claim("cnf", json!({"x5t#S256": 1}))
        .sign();
    assert_eq!(
        send_request(&app, get(&odd, Some(CERT), &[])).await,
        refused()
    );
}

#[tokio::test]
async fn a_trusted_proxys_header_carries_the_certificate_only_when_configured() {
    let issuer = start().await;
    let token = bound_token(&issuer, CERT);
    let escaped = |pem: &str| {
        percent_encoding::utf8_percent_encode(pem, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let hash: String = {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(ClientCertificate::from_der(der(CERT)).thumbprint())
            .expect("base64url")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };

    let nginx = mtls_app(
        &issuer,
        CertificateBinding::new().from_proxy_header(ProxyHeader::EscapedPem("x-ssl-cert")),
    );
    let with = |value: String| [("x-ssl-cert", value)];
    assert_eq!(
        send_request(&nginx, get(&token, None, &with(escaped(CERT)))).await,
        ok("notes")
    );
    assert_eq!(
        send_request(&nginx, get(&token, None, &with(escaped(OTHER_CERT)))).await,
        refused()
    );
    assert_eq!(
        send_request(&nginx, get(&token, None, &with("garbage".into()))).await,
        refused()
    );
    // The TLS acceptor's certificate comes first.
    assert_eq!(
        send_request(&nginx, get(&token, Some(OTHER_CERT), &with(escaped(CERT)))).await,
        refused()
    );

    let envoy = mtls_app(
        &issuer,
        CertificateBinding::new().from_proxy_header(ProxyHeader::EnvoyXfcc),
    );
    let xfcc = |value: String| [("x-forwarded-client-cert", value)];
    assert_eq!(
        send_request(
            &envoy,
            get(
                &token,
                None,
                &xfcc(format!("By=spiffe://api;Hash={hash};Subject=\"CN=x\""))
            )
        )
        .await,
        ok("notes")
    );
    assert_eq!(
        send_request(
            &envoy,
            get(&token, None, &xfcc(format!("Cert=\"{}\"", escaped(CERT))))
        )
        .await,
        ok("notes")
    );
    // Two elements (a chain of proxies) are ambiguous: refused.
    assert_eq!(
        send_request(
            &envoy,
            get(&token, None, &xfcc(format!("Hash={hash},Hash={hash}")))
        )
        .await,
        refused()
    );

    // Without the proxy setting, the header is the client's and is ignored.
    let direct = mtls_app(&issuer, CertificateBinding::new());
    assert_eq!(
        send_request(&direct, get(&token, None, &with(escaped(CERT)))).await,
        refused()
    );
    assert!(
        builder(&issuer)
            .certificate_bound_tokens(
                CertificateBinding::new().from_proxy_header(ProxyHeader::EscapedPem("bad header"))
            )
            .build()
            .is_err()
    );
}

/// Without the setting, a certificate-bound token is refused (fail closed:
/// nothing here can check the binding), cold and cached; the opt-out
/// accepts it as a bearer token, as a resource server unaware of RFC 8705
/// would.
#[tokio::test]
async fn without_the_setting_a_bound_token_is_refused_unless_accepted_as_bearer() {
    let issuer = start().await;
    let token = bound_token(&issuer, CERT);
    let strict = builder(&issuer).build().expect("valid configuration");
    let app_strict = app(strict.clone());
    for _ in 0..2 {
        assert_eq!(
            send_request(&app_strict, get(&token, None, &[])).await,
            refused()
        );
    }
    let request: Request<Body> = get(&token, None, &[]);
    assert_eq!(
        strict
            .validator()
            .authenticate_request(&request)
            .await
            .expect_err("refused")
            .code(),
        "binding_not_checked"
    );
    let lenient = app(builder(&issuer)
        .dangerously_accept_bound_tokens_as_bearer()
        .build()
        .expect("valid configuration"));
    assert_eq!(
        send_request(&lenient, get(&token, None, &[])).await,
        ok("notes")
    );
}

/// `examples/mtls_server.rs` as a real process over TLS: rustls verifies the
/// client's certificate against the test CA, the example puts it in the
/// request extensions, and the layer checks the token's binding.
#[tokio::test]
async fn the_mtls_example_binds_tokens_to_the_connections_certificate() {
    use std::process::Stdio;
    use tokio::io::{AsyncBufReadExt, BufReader};

    let issuer = start().await;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/mtls");
    let file = |name: &str| format!("{dir}/{name}");
    let mut child = tokio::process::Command::new(env!("CARGO"))
        .args(["run", "--quiet", "--example", "mtls_server", "--"])
        .args([
            "--issuer",
            issuer.issuer(),
            "--audience",
            TestIssuer::AUDIENCE,
        ])
        .args([
            "--cert",
            &file("server.pem"),
            "--key",
            &file("server-key.pem"),
        ])
        .args(["--client-ca", &file("ca.pem"), "--listen", "127.0.0.1:0"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("cargo run");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    // Long enough for a cold build; not a performance assertion.
    let first = tokio::time::timeout(std::time::Duration::from_secs(300), lines.next_line())
        .await
        .expect("the example starts")
        .expect("stdout")
        .expect("a first line");
    let addr = first
        .strip_prefix("listening on ")
        .expect("listening on ADDR")
        .to_owned();
    let read = |name: &str| std::fs::read(file(name)).expect("test certificate");
    let client = |identity: Option<&str>| {
        let mut builder = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&read("ca.pem")).expect("CA")]);
        if let Some(who) = identity {
            let mut pem = read(&format!("{who}.pem"));
            pem.extend(read(&format!("{who}-key.pem")));
            builder = builder.identity(reqwest::Identity::from_pem(&pem).expect("identity"));
        }
        builder.build().expect("client")
    };
    let bound = bound_token(
        &issuer,
        &String::from_utf8(read("client.pem")).expect("PEM"),
    );
    let plain = issuer.token().scope("notes.read").sign();
    let call = |who: Option<&'static str>, token: String| {
        let (client, url) = (
            client(who),
            format!(
                "https://127.0.0.1:{}/notes",
                addr.rsplit(':').next().unwrap_or_default()
            ),
        );
        async move {
            let response = client
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .expect("request");
            let challenge = response
                .headers()
                .get(header::WWW_AUTHENTICATE)
                .map(|v| v.to_str().expect("ascii").to_owned());
            (
                response.status(),
                challenge,
                response.text().await.expect("body"),
            )
        }
    };
    let ok = (StatusCode::OK, None, "notes".to_owned());
    let refused = (
        StatusCode::UNAUTHORIZED,
        Some(INVALID_TOKEN.to_owned()),
        String::new(),
    );
    assert_eq!(call(Some("client"), bound.clone()).await, ok);
    assert_eq!(call(Some("client2"), bound.clone()).await, refused);
    assert_eq!(call(None, bound).await, refused);
    assert_eq!(call(None, plain.clone()).await, ok);
    assert_eq!(call(Some("client2"), plain).await, ok);
    let _ = child.start_kill();
}
