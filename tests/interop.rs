//! Interop with issuers bearer-guard did not write (issue 7): tokens from a real
//! OpenID provider over HTTP on loopback, and tokens signed by a second JOSE
//! implementation, each checked by the layer as an API would check them.
//!
//! - `oidc-provider` (node, `tests/interop/provider.mjs`): RFC 9068 `at+jwt`
//!   access tokens through RFC 8707 resource indicators, one resource per
//!   signing algorithm (RS256, PS256, ES256, ES384, EdDSA). Grants: client
//!   credentials; authorization code with PKCE (S256), log-in and consent
//!   driven over plain HTTP with a cookie jar (no browser), then the refresh
//!   token grant. Cases: valid → 200 with the right claims; another resource's
//!   token (wrong `aud`) → 401; a scope not granted → 403; the ID token as an
//!   access token → 401; a refreshed access token → 200; key rotation: new
//!   tokens → 200, old ones still 200 while their key is published, 401 once it
//!   is removed; step-up (RFC 9470): the sign-in's `acr` and `auth_time`, put
//!   in the access token by the provider, → 200 on a route that needs them,
//!   401 `insufficient_user_authentication` for a password sign-in or, on the
//!   layer's clock, one too old.
//! - DPoP (RFC 9449), with `oauth4webapi` as the client
//!   (`tests/interop/dpop-client.mjs`): it gets tokens bound to its ES256,
//!   EdDSA and PS256 keys from oidc-provider (`cnf.jkt`, proofs at the token
//!   endpoint) and makes the proofs of the API requests. Cases, per key: the
//!   token with its proof → 200, the handler seeing the token's `cnf.jkt`;
//!   the same proof again, a wrong `htu`, a wrong `htm`, an `iat` 600 s before
//!   the token's own, the `ath` of another token → 401 `invalid_dpop_proof`;
//!   a proof by another key, a bearer token with the `DPoP` scheme → 401
//!   `DPoP` `invalid_token`; the bound token as a bearer token → 401 `Bearer`
//!   `invalid_token`; an Ed25519 proof with the `alg` oauth4webapi gives it,
//!   `Ed25519` (RFC 9864), → 200 (the other requests rename it `EdDSA`).
//! - Certificate-bound tokens (RFC 8705 §3): oidc-provider's client
//!   `interop-mtls` authenticates with `self_signed_tls_client_auth` and gets
//!   tokens bound to its certificate (`cnf.x5t#S256`, the thumbprint
//!   bearer-guard computes); the certificate reaches the provider in a header
//!   that stands in for a TLS terminator. The provider refuses another
//!   certificate, or none, at its token endpoint (401 `invalid_client`). The
//!   layer, the certificate from the TLS acceptor: the bound token with it →
//!   200; without a certificate → 401 `invalid_token`
//!   (`certificate_required`); with another → 401 `invalid_token`
//!   (`certificate_mismatch`); behind a trusted proxy (URL-encoded PEM
//!   header) the same; an unbound token needs no certificate.
//! - Opaque tokens (RFC 7662 introspection, RFC 7009 revocation):
//!   oidc-provider, asked for the API scopes without a resource indicator,
//!   defaults the request to an API whose tokens are opaque; the layer
//!   introspects them at the discovered endpoint as the API's client
//!   `notes-api` (`client_secret_basic`), the answer's `aud` naming that API.
//!   The provider counts introspection requests. Cases: the token → 200 with
//!   the answer's `sub` and `client_id`, asked once and then cached;
//!   oidc-provider's own default without any resource, a UserInfo token with
//!   no `aud` and `token_type` Bearer, → 200 by the `token_type` route, 403
//!   where an API scope is needed; a token revoked before the API saw it →
//!   401 `token_inactive`; the refresh token → 401 `not_an_access_token`
//!   (200 with `dangerously_trust_bare_active`); the cached token revoked →
//!   200 until the layer's maximum cache age passes on its clock, then 401
//!   `token_inactive`.
//! - The `mcp_server` example, run as a real process against oidc-provider,
//!   driven the way an MCP client is told to drive it (MCP authorization,
//!   2025-06-18 and 2025-11-25): the 401 naming the RFC 9728 metadata, the
//!   metadata, the authorization server's metadata (RFC 8414, then OpenID
//!   discovery), authorization code with PKCE for the metadata's `resource`,
//!   then JSON-RPC with the token → 200; another resource's token → 401, a
//!   token without the scope → 403, each naming the metadata.
//! - `jose` (`tests/interop/jose-tokens.mjs`): one token per algorithm the crate
//!   accepts (RS256/384/512, PS256/384/512, ES256, ES384, EdDSA) → 200; each
//!   with one signature byte flipped → 401; wrong `aud` → 401; a key that is
//!   not published → 401.
//!
//! Every refusal asserts the exact status, `WWW-Authenticate` value and empty
//! body, and the validator's internal reason code (for the example, from its
//! log).
//!
//! Runs under `cargo test` with its own `main` (`harness = false`): it installs
//! `tests/interop/node_modules` with `npm ci` when missing or stale (a failed
//! install fails the run), and prints one `interop: SKIPPED` line and passes
//! when `node` is not on PATH. Accepts a name filter, `--exact`, `--skip` and
//! `--list` like libtest.
//!
//! A test binary of its own, not a module of `tests/it`: with its own `main`
//! (`harness = false` in Cargo.toml) its skip line is printed, not captured.
//! The shared helpers come from `tests/it/support` by `#[path]`.

// The helpers `tests/it` shares; this binary uses a part of them.
#[path = "it/support/mod.rs"]
#[allow(dead_code)]
mod support;
// The runner it shares with `tests/redis.rs`.
#[path = "runner/mod.rs"]
mod runner;

use std::hash::{BuildHasher, Hasher};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, UNIX_EPOCH};

use axum::Router;
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bearer_guard::{
    Algorithm, Authenticated, BearerAuthLayer, CertificateBinding, Claims, ClientCertificate, Dpop,
    Introspection, Issuer, ManualClock, ProxyHeader, Requirement, StepUp, require,
};
use http::StatusCode;
use runner::Case;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use support::{Outcome, code, eventually, get_with, insufficient, invalid_token, send};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tower::ServiceExt as _;

/// Printed, alone, when the tests cannot run here.
const SKIPPED: &str = "interop: SKIPPED — node not found on PATH; install Node.js >= 20 to run the oidc-provider interop tests";

/// How long a node script may take to print its first line.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one HTTP exchange with the provider may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one case may take, all included.
const CASE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long an example run with `cargo run` may take to print its
/// `listening on` line: long enough for a cold build of it (`cargo test
/// --test interop` does not build the examples). Only there so that a broken
/// build cannot hang the run; not a performance assertion.
const EXAMPLE_START_TIMEOUT: Duration = Duration::from_secs(300);

/// The resource (audience) prefix the provider script serves.
const RESOURCE: &str = "urn:bearer-guard:interop:";
/// The redirect URI registered for the authorization-code client.
const REDIRECT_URI: &str = "http://127.0.0.1/callback";
/// The API whose tokens the provider makes opaque: the resource a request
/// for the API scopes without a resource indicator defaults to.
const OPAQUE_RESOURCE: &str = "urn:bearer-guard:interop:opaque";
/// The API's own client at the provider (id, secret): it may introspect
/// every token.
const INTROSPECTOR: (&str, &str) = ("notes-api", "notes-api-secret");
/// Where the provider serves RFC 7662 introspection and RFC 7009
/// revocation (oidc-provider's default routes).
const INTROSPECTION_PATH: &str = "/token/introspection";
const REVOCATION_PATH: &str = "/token/revocation";

/// Each case: its name, how long it may take, what it runs.
const CASES: &[Case] = &[
    (
        "oidc_provider_client_credentials_every_algorithm",
        CASE_TIMEOUT,
        || Box::pin(client_credentials_every_algorithm()),
    ),
    (
        "oidc_provider_authorization_code_pkce_and_refresh",
        CASE_TIMEOUT,
        || Box::pin(authorization_code_pkce_and_refresh()),
    ),
    ("oidc_provider_key_rotation", CASE_TIMEOUT, || {
        Box::pin(key_rotation())
    }),
    (
        "oidc_provider_step_up_acr_and_auth_time",
        CASE_TIMEOUT,
        || Box::pin(step_up_acr_and_auth_time()),
    ),
    ("oidc_provider_dpop_bound_tokens", CASE_TIMEOUT, || {
        Box::pin(dpop_bound_tokens())
    }),
    (
        "oidc_provider_certificate_bound_tokens",
        CASE_TIMEOUT,
        || Box::pin(certificate_bound_tokens()),
    ),
    (
        "oidc_provider_opaque_tokens_introspection",
        CASE_TIMEOUT,
        || Box::pin(opaque_tokens_introspection()),
    ),
    (
        "mcp_example_end_to_end",
        // The example may be built first.
        CASE_TIMEOUT.saturating_add(EXAMPLE_START_TIMEOUT),
        || Box::pin(mcp_example_end_to_end()),
    ),
    ("jose_every_accepted_algorithm", CASE_TIMEOUT, || {
        Box::pin(jose_every_accepted_algorithm())
    }),
];

// ---------------------------------------------------------------------------
// The runner
// ---------------------------------------------------------------------------

fn main() -> ExitCode {
    let selected = match runner::selected(CASES) {
        Ok(selected) => selected,
        Err(exit) => return exit,
    };
    let node = match std::process::Command::new("node").arg("--version").output() {
        Err(e) if e.kind() == ErrorKind::NotFound => {
            println!("{SKIPPED}");
            return ExitCode::SUCCESS;
        }
        Err(e) => panic!("interop: `node --version` could not run: {e}"),
        Ok(out) if !out.status.success() => panic!(
            "interop: `node --version` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Ok(out) => String::from_utf8_lossy(&out.stdout).trim().to_owned(),
    };
    let major = node
        .strip_prefix('v')
        .and_then(|v| v.split('.').next())
        .and_then(|m| m.parse::<u32>().ok());
    assert!(
        major.is_some_and(|m| m >= 20),
        "interop: node {node} is on PATH, but the interop tests need Node.js >= 20"
    );
    install_node_modules();

    let running = format!(
        "{} tests (node {node}, oidc-provider {}, jose {}, oauth4webapi {})",
        selected.len(),
        package_version("oidc-provider"),
        package_version("jose"),
        package_version("oauth4webapi"),
    );
    runner::run(selected, CASES.len(), &running)
}

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop")
}

/// Runs `npm ci` unless `node_modules` was installed from this very
/// `package.json` and lockfile (a stamp file holds both). Fails the run, with
/// npm's output, if the install fails.
fn install_node_modules() {
    let dir = interop_dir();
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name))
            .unwrap_or_else(|e| panic!("interop: cannot read tests/interop/{name}: {e}"))
    };
    let wanted = format!(
        "{}\n--- package-lock.json ---\n{}",
        read("package.json"),
        read("package-lock.json")
    );
    let stamp = dir.join("node_modules/.bearer-guard-stamp");
    let installed = dir.join("node_modules/.package-lock.json").is_file()
        && std::fs::read_to_string(&stamp).is_ok_and(|s| s == wanted);
    if installed {
        return;
    }
    println!("interop: npm ci in tests/interop (first run, or the lockfile changed)");
    let started = Instant::now();
    let out = std::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("interop: node is on PATH but `npm` could not run: {e}"));
    assert!(
        out.status.success(),
        "interop: `npm ci` failed ({}) in tests/interop:\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&stamp, wanted).expect("write the install stamp");
    println!(
        "interop: npm ci done in {:.1}s",
        started.elapsed().as_secs_f64()
    );
}

fn package_version(name: &str) -> String {
    let path = interop_dir().join(format!("node_modules/{name}/package.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let package: Value = serde_json::from_str(&text).expect("package.json is JSON");
    package["version"].as_str().expect("version").to_owned()
}

// ---------------------------------------------------------------------------
// Node processes
// ---------------------------------------------------------------------------

/// A node script started by a test: killed when dropped; what it prints
/// (besides its JSON line) is kept, and shown if the test panics.
struct NodeScript {
    name: &'static str,
    /// Holds the child's stdin open (the provider exits when it closes).
    _child: Child,
    output: Arc<Mutex<String>>,
}

impl NodeScript {
    /// Starts `node <script> <args>` in tests/interop and returns it with the
    /// first line it prints that is a JSON object. Both output pipes are read
    /// to the end, so the script never writes into a closed pipe.
    async fn start(name: &'static str, args: &[&str]) -> (NodeScript, Value) {
        let mut child = Command::new("node")
            .arg(name)
            .args(args)
            .current_dir(interop_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn node {name}: {e}"));
        let output = Arc::new(Mutex::new(String::new()));
        let append = |log: &Mutex<String>, line: &str| {
            let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
            log.push_str(line);
            log.push('\n');
        };

        let mut stderr = BufReader::new(child.stderr.take().expect("stderr is piped")).lines();
        let log = Arc::clone(&output);
        tokio::spawn(async move {
            while let Ok(Some(line)) = stderr.next_line().await {
                append(&log, &line);
            }
        });
        let (first_tx, first_rx) = tokio::sync::oneshot::channel();
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped")).lines();
        let log = Arc::clone(&output);
        tokio::spawn(async move {
            let mut first_tx = Some(first_tx);
            while let Ok(Some(line)) = stdout.next_line().await {
                if first_tx.is_some()
                    && let Ok(value @ Value::Object(_)) = serde_json::from_str::<Value>(&line)
                    && let Some(tx) = first_tx.take()
                {
                    let _ = tx.send(value);
                } else {
                    append(&log, &line);
                }
            }
        });

        let script = NodeScript {
            name,
            _child: child,
            output,
        };
        let first = match tokio::time::timeout(START_TIMEOUT, first_rx).await {
            Ok(Ok(first)) => first,
            Ok(Err(_)) => panic!("node {name} exited without printing its JSON line"),
            Err(_) => panic!("node {name} printed no JSON line within {START_TIMEOUT:?}"),
        };
        (script, first)
    }
}

impl Drop for NodeScript {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.output.lock().unwrap_or_else(|p| p.into_inner());
            eprintln!("--- output of node {} ---\n{log}--- end ---", self.name);
        }
    }
}

/// The oidc-provider script, and an HTTP client with a cookie jar that plays
/// the user agent and the clients.
struct Provider {
    _node: NodeScript,
    issuer: String,
    http: reqwest::Client,
}

/// A token endpoint response.
struct Tokens {
    access_token: String,
    refresh_token: Option<String>,
    id_token: Option<String>,
    scope: Option<String>,
}

impl Provider {
    async fn start() -> Provider {
        let (node, first) = NodeScript::start("provider.mjs", &[]).await;
        let issuer = first["issuer"].as_str().expect("issuer").to_owned();
        assert!(issuer.starts_with("http://127.0.0.1:"), "{issuer}");
        Provider {
            _node: node,
            issuer,
            http: browser(),
        }
    }

    /// Forgets the user's session (a new cookie jar): the next
    /// authorization-code flow signs in again.
    fn sign_out(&mut self) {
        self.http = browser();
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    /// The client-credentials grant for `resource`.
    async fn client_credentials(&self, resource: &str, scope: &str) -> Tokens {
        let response = self
            .http
            .post(self.url("/token"))
            .basic_auth("interop-service", Some("interop-service-secret"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", scope),
                ("resource", resource),
            ])
            .send()
            .await
            .expect("POST /token");
        tokens(response).await
    }

    /// The authorization-code grant with PKCE for `resource`: the user `alice`
    /// logs in and consents to `granted` of the `requested` scopes.
    async fn authorization_code(&self, resource: &str, requested: &str, granted: &str) -> Tokens {
        self.authorization_code_as(resource, requested, granted, None)
            .await
    }

    /// [`authorization_code`](Self::authorization_code), the user signing in
    /// with the authentication context class `acr` when given.
    async fn authorization_code_as(
        &self,
        resource: &str,
        requested: &str,
        granted: &str,
        acr: Option<&str>,
    ) -> Tokens {
        self.authorization_code_flow(Some(resource), requested, granted, acr)
            .await
    }

    /// [`authorization_code`](Self::authorization_code) with no resource
    /// indicator, in the authorization request or the token request: the
    /// provider defaults a request for API scopes to [`OPAQUE_RESOURCE`],
    /// and issues one for OpenID scopes only for its UserInfo endpoint.
    async fn authorization_code_without_resource(&self, requested: &str, granted: &str) -> Tokens {
        self.authorization_code_flow(None, requested, granted, None)
            .await
    }

    async fn authorization_code_flow(
        &self,
        resource: Option<&str>,
        requested: &str,
        granted: &str,
        acr: Option<&str>,
    ) -> Tokens {
        let verifier = random_urlsafe();
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let state = random_urlsafe();
        let mut params = vec![
            ("client_id", "interop-app"),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT_URI),
            ("scope", requested),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("state", &state),
            ("prompt", "consent"),
        ];
        params.extend(resource.map(|r| ("resource", r)));
        let authorize =
            reqwest::Url::parse_with_params(&self.url("/auth"), params).expect("authorization URL");

        // No session: to the log-in interaction.
        let login = self.redirect(self.http.get(authorize)).await;
        let details = self.interaction(&login).await;
        assert_eq!(details["prompt"], "login", "{details}");
        assert_eq!(details["client_id"], "interop-app", "{details}");
        let resume = self
            .redirect(
                self.http
                    .post(format!("{login}/login"))
                    .form(&[("account", "alice"), ("acr", acr.unwrap_or_default())]),
            )
            .await;
        assert!(resume.path().starts_with("/auth/"), "{resume}");

        // Logged in: to the consent interaction, which lists what is asked:
        // every requested scope but the OpenID ones, for the resource (the
        // one the provider defaults to when none is given; none at all when
        // only OpenID scopes are asked).
        let consent = self.redirect(self.http.get(resume)).await;
        let details = self.interaction(&consent).await;
        assert_eq!(details["prompt"], "consent", "{details}");
        let asked: Vec<&str> = requested
            .split(' ')
            .filter(|s| !matches!(*s, "openid" | "offline_access"))
            .collect();
        let expected = match (resource, asked.is_empty()) {
            (None, true) => Value::Null,
            (resource, _) => json!({ resource.unwrap_or(OPAQUE_RESOURCE): asked }),
        };
        assert_eq!(
            details["details"]["missingResourceScopes"], expected,
            "{details}"
        );
        let resume = self
            .redirect(
                self.http
                    .post(format!("{consent}/consent"))
                    .form(&[("scope", granted)]),
            )
            .await;

        // Consented: back to the client with a code, the state and the issuer.
        let callback = self.redirect(self.http.get(resume)).await;
        assert_eq!(
            format!(
                "{}://{}{}",
                callback.scheme(),
                callback.host_str().unwrap_or_default(),
                callback.path()
            ),
            REDIRECT_URI,
            "{callback}"
        );
        let query = |name: &str| {
            callback
                .query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        assert_eq!(query("error"), None, "{callback}");
        assert_eq!(
            query("state").as_deref(),
            Some(state.as_str()),
            "{callback}"
        );
        assert_eq!(query("iss").as_deref(), Some(self.issuer.as_str()));
        let code = query("code").expect("an authorization code");

        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("client_id", "interop-app"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &verifier),
        ];
        form.extend(resource.map(|r| ("resource", r)));
        let response = self
            .http
            .post(self.url("/token"))
            .form(&form)
            .send()
            .await
            .expect("POST /token");
        tokens(response).await
    }

    /// The client-credentials grant of `interop-mtls` (RFC 8705
    /// `self_signed_tls_client_auth`) for `resource`, scope `notes.read`,
    /// with `certificate` (PEM) forwarded as provider.mjs reads it in place
    /// of a TLS handshake: URL-encoded in `x-test-client-cert`. The
    /// response as it came.
    async fn mtls_client_credentials(
        &self,
        certificate: Option<&str>,
        resource: &str,
    ) -> reqwest::Response {
        let mut request = self.http.post(self.url("/token")).form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "interop-mtls"),
            ("scope", "notes.read"),
            ("resource", resource),
        ]);
        if let Some(pem) = certificate {
            request = request.header(PROVIDER_CERT_HEADER, escaped_pem(pem));
        }
        request.send().await.expect("POST /token")
    }

    /// The provider's OpenID discovery document.
    async fn discovery(&self) -> Value {
        let response = self
            .http
            .get(self.url("/.well-known/openid-configuration"))
            .send()
            .await
            .expect("GET discovery");
        let status = response.status();
        let body = response.text().await.expect("body");
        assert_eq!(status, StatusCode::OK, "{body}");
        serde_json::from_str(&body).expect("discovery JSON")
    }

    /// The refresh-token grant.
    async fn refresh(&self, refresh_token: &str, resource: &str) -> Tokens {
        let response = self
            .http
            .post(self.url("/token"))
            .form(&[
                ("grant_type", "refresh_token"),
                ("client_id", "interop-app"),
                ("refresh_token", refresh_token),
                ("resource", resource),
            ])
            .send()
            .await
            .expect("POST /token");
        tokens(response).await
    }

    /// Sends `request`, which must answer with a redirect, and returns where to.
    async fn redirect(&self, request: reqwest::RequestBuilder) -> reqwest::Url {
        let response = request.send().await.expect("request to the provider");
        let status = response.status();
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .map(|v| v.to_str().expect("ascii Location").to_owned());
        let Some(location) = location.filter(|_| status.is_redirection()) else {
            let body = response.text().await.unwrap_or_default();
            panic!("expected a redirect from the provider, got {status}: {body}");
        };
        reqwest::Url::parse(&self.issuer)
            .and_then(|base| base.join(&location))
            .expect("Location is a URL")
    }

    /// The interaction's details, from the script's JSON interaction page.
    async fn interaction(&self, url: &reqwest::Url) -> Value {
        assert!(url.path().starts_with("/interaction/"), "{url}");
        let response = self.http.get(url.clone()).send().await.expect("GET");
        let status = response.status();
        let body = response.text().await.expect("body");
        assert_eq!(status, StatusCode::OK, "{body}");
        serde_json::from_str(&body).expect("interaction JSON")
    }

    /// What the introspection endpoint answers `notes-api` about `token`,
    /// asked as bearer-guard asks (HTTP Basic, hint `access_token`): 200
    /// and a JSON object. Counted by the script like any other request.
    async fn introspect(&self, token: &str) -> Value {
        let (id, secret) = INTROSPECTOR;
        let response = self
            .http
            .post(self.url(INTROSPECTION_PATH))
            .basic_auth(id, Some(secret))
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .send()
            .await
            .expect("POST introspection");
        let status = response.status();
        let body = response.text().await.expect("body");
        assert_eq!(status, StatusCode::OK, "introspection: {body}");
        serde_json::from_str(&body).expect("introspection JSON")
    }

    /// `interop-app` (a public client: its id in the form) revokes one of
    /// its access tokens (RFC 7009): 200, empty body.
    async fn revoke(&self, token: &str) {
        let response = self
            .http
            .post(self.url(REVOCATION_PATH))
            .form(&[
                ("token", token),
                ("token_type_hint", "access_token"),
                ("client_id", "interop-app"),
            ])
            .send()
            .await
            .expect("POST revocation");
        let status = response.status();
        let body = response.text().await.expect("body");
        assert_eq!((status, body.as_str()), (StatusCode::OK, ""), "revocation");
    }

    /// How many requests the introspection endpoint has had so far (the
    /// script's test-only counter).
    async fn introspections(&self) -> u64 {
        let response = self
            .http
            .get(self.url("/__test/introspections"))
            .send()
            .await
            .expect("GET");
        let status = response.status();
        let body = response.text().await.expect("body");
        assert_eq!(status, StatusCode::OK, "{body}");
        serde_json::from_str::<Value>(&body).expect("JSON")["introspections"]
            .as_u64()
            .expect("a count")
    }

    /// Calls one of the script's test-only admin routes; returns the key ids
    /// published afterwards.
    async fn admin(&self, path: &str) -> Value {
        let response = self.http.post(self.url(path)).send().await.expect("POST");
        let status = response.status();
        let body = response.text().await.expect("body");
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        serde_json::from_str::<Value>(&body).expect("JSON")["kids"].take()
    }
}

async fn tokens(response: reqwest::Response) -> Tokens {
    let status = response.status();
    let body = response.text().await.expect("token response body");
    assert_eq!(status, StatusCode::OK, "token endpoint: {body}");
    let value: Value = serde_json::from_str(&body).expect("token response JSON");
    assert_eq!(value["token_type"], "Bearer", "{value}");
    let text = |name: &str| value[name].as_str().map(str::to_owned);
    Tokens {
        access_token: text("access_token").expect("access_token"),
        refresh_token: text("refresh_token"),
        id_token: text("id_token"),
        scope: text("scope"),
    }
}

/// 32 random bytes, base64url: a PKCE verifier or a `state`.
fn random_urlsafe() -> String {
    let bytes: Vec<u8> = (0..4u64)
        .flat_map(|i| {
            let mut h = std::hash::RandomState::new().build_hasher();
            h.write_u64(i);
            h.finish().to_le_bytes()
        })
        .collect();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The client's user agent: keeps the provider's cookies, follows no
/// redirect by itself.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(HTTP_TIMEOUT)
        .connect_timeout(HTTP_TIMEOUT)
        .build()
        .expect("HTTP client")
}

// ---------------------------------------------------------------------------
// The protected API
// ---------------------------------------------------------------------------

/// `GET /notes` needs `notes.read`, `POST /notes` needs `notes.write`, `GET
/// /me` answers what the layer read from the token, as JSON.
fn api(layer: BearerAuthLayer) -> Router {
    Router::new()
        .route(
            "/notes",
            get(|| async { "notes" }).route_layer(require(Requirement::scope("notes.read"))),
        )
        .route(
            "/notes",
            post(|| async { "created" }).route_layer(require(Requirement::scope("notes.write"))),
        )
        .route("/me", get(me))
        .layer(layer)
}

async fn me(Claims(claims): Claims<Value>, token: Authenticated) -> String {
    json!({
        "sub": token.registered().sub,
        "aud": token.registered().aud,
        "iss": token.registered().iss,
        "client_id": token.client_id(),
        "scopes": token.scopes().iter().collect::<Vec<_>>(),
        "dpop_jkt": token.dpop_jkt(),
        "certificate_thumbprint": token.certificate_thumbprint(),
        "claims": *claims,
    })
    .to_string()
}

/// `GET /me` with `token`: must be 200; returns what the handler saw.
async fn me_ok(app: &Router, token: &str) -> Value {
    let outcome = get_with(app, "/me", token).await;
    assert_eq!(
        (outcome.status, outcome.www_authenticate.as_deref()),
        (StatusCode::OK, None),
        "GET /me: {outcome:?}"
    );
    serde_json::from_str(&outcome.body).expect("/me answers JSON")
}

/// The token's JOSE header.
fn header(token: &str) -> Value {
    let part = token.split('.').next().expect("a JWS");
    let bytes = URL_SAFE_NO_PAD.decode(part).expect("base64url header");
    serde_json::from_slice(&bytes).expect("JSON header")
}

/// The token's claims, read without verification (what the issuer put in).
fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).expect("a JWS");
    let bytes = URL_SAFE_NO_PAD.decode(part).expect("base64url payload");
    serde_json::from_slice(&bytes).expect("JSON payload")
}

/// `token` with one byte in the middle of its signature flipped.
fn flip_signature_byte(token: &str) -> String {
    let (signed, signature) = token.rsplit_once('.').expect("a JWS");
    let mut bytes = URL_SAFE_NO_PAD.decode(signature).expect("base64url");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(bytes))
}

fn layer(builder: bearer_guard::Builder) -> BearerAuthLayer {
    builder.build().expect("valid configuration")
}

// ---------------------------------------------------------------------------
// oidc-provider
// ---------------------------------------------------------------------------

/// The provider's resources: name, signing algorithm.
const PROVIDER_ALGORITHMS: [(&str, Algorithm); 5] = [
    ("rs256", Algorithm::RS256),
    ("ps256", Algorithm::PS256),
    ("es256", Algorithm::ES256),
    ("es384", Algorithm::ES384),
    ("eddsa", Algorithm::EdDSA),
];

/// Client credentials, for each resource: an API that accepts exactly that
/// audience and that one algorithm (RFC 9068 preset: `at+jwt`, `scope`,
/// `client_id`) reads the right claims; the scope not requested is 403; a
/// token for another API is 401.
async fn client_credentials_every_algorithm() {
    let provider = Provider::start().await;
    let issuer = provider.issuer.clone();
    for (name, alg) in PROVIDER_ALGORITHMS {
        let audience = format!("{RESOURCE}{name}");
        let api_layer = layer(
            BearerAuthLayer::builder().trust(Issuer::rfc9068(&issuer, &audience).algorithms([alg])),
        );
        let app = api(api_layer.clone());
        let tokens = provider.client_credentials(&audience, "notes.read").await;
        assert_eq!(tokens.scope.as_deref(), Some("notes.read"));
        let token = &tokens.access_token;
        assert_eq!(
            header(token),
            json!({"alg": format!("{alg:?}"), "typ": "at+jwt", "kid": format!("{name}-1")}),
            "{name}"
        );

        let seen = me_ok(&app, token).await;
        assert_eq!(seen["sub"], "interop-service", "{seen}");
        assert_eq!(seen["client_id"], "interop-service", "{seen}");
        assert_eq!(seen["iss"], json!(issuer), "{seen}");
        assert_eq!(seen["aud"], json!([audience]), "{seen}");
        assert_eq!(seen["scopes"], json!(["notes.read"]), "{seen}");
        assert_eq!(seen["claims"]["scope"], "notes.read", "{seen}");
        assert_eq!(get_with(&app, "/notes", token).await, support::ok("notes"));
        assert_eq!(
            send(&app, "POST", "/notes", Some(&format!("Bearer {token}"))).await,
            insufficient("notes.write"),
            "{name}: a scope the client did not get"
        );

        // The same client's token for another API.
        let other = provider
            .client_credentials(&format!("{RESOURCE}other"), "notes.read notes.write")
            .await;
        assert_eq!(
            payload(&other.access_token)["aud"],
            format!("{RESOURCE}other")
        );
        if alg == Algorithm::RS256 {
            assert_eq!(
                get_with(&app, "/me", &other.access_token).await,
                invalid_token()
            );
            assert_eq!(
                code(&api_layer, &other.access_token).await,
                "audience_mismatch"
            );
        } else {
            // Signed with RS256, which this API does not accept.
            assert_eq!(
                get_with(&app, "/me", &other.access_token).await,
                invalid_token()
            );
            assert_eq!(
                code(&api_layer, &other.access_token).await,
                "disallowed_algorithm"
            );
        }
    }

    // One API accepting every algorithm: the other API's token is refused for
    // its audience alone.
    let mut every = Issuer::rfc9068(&issuer, &format!("{RESOURCE}rs256"));
    for (name, _) in &PROVIDER_ALGORITHMS[1..] {
        every = every.audience(format!("{RESOURCE}{name}"));
    }
    let app_layer = layer(BearerAuthLayer::builder().trust(every));
    let app = api(app_layer.clone());
    let other = provider
        .client_credentials(&format!("{RESOURCE}other"), "notes.read notes.write")
        .await;
    assert_eq!(other.scope.as_deref(), Some("notes.read notes.write"));
    assert_eq!(
        get_with(&app, "/me", &other.access_token).await,
        invalid_token()
    );
    assert_eq!(
        code(&app_layer, &other.access_token).await,
        "audience_mismatch"
    );
    for (name, _) in PROVIDER_ALGORITHMS {
        let token = provider
            .client_credentials(&format!("{RESOURCE}{name}"), "notes.read notes.write")
            .await
            .access_token;
        assert_eq!(
            send(&app, "POST", "/notes", Some(&format!("Bearer {token}"))).await,
            support::ok("created"),
            "{name}"
        );
    }
}

/// Authorization code with PKCE, log-in and consent over HTTP: the user grants
/// `notes.read` of `notes.read notes.write`; the access token reads, cannot
/// write (403), names the user and the app; the ID token is not an access
/// token (401); the refreshed access token passes the same way.
async fn authorization_code_pkce_and_refresh() {
    let provider = Provider::start().await;
    let audience = format!("{RESOURCE}es256");
    let api_layer =
        layer(BearerAuthLayer::builder().trust(Issuer::rfc9068(&provider.issuer, &audience)));
    let app = api(api_layer.clone());

    let tokens = provider
        .authorization_code(
            &audience,
            "openid offline_access notes.read notes.write",
            "notes.read",
        )
        .await;
    let access = &tokens.access_token;
    assert_eq!(header(access)["typ"], "at+jwt");
    assert_eq!(header(access)["alg"], "ES256");
    let seen = me_ok(&app, access).await;
    assert_eq!(seen["sub"], "alice", "{seen}");
    assert_eq!(seen["client_id"], "interop-app", "{seen}");
    assert_eq!(seen["aud"], json!([audience]), "{seen}");
    assert_eq!(seen["scopes"], json!(["notes.read"]), "{seen}");
    assert_eq!(get_with(&app, "/notes", access).await, support::ok("notes"));
    assert_eq!(
        send(&app, "POST", "/notes", Some(&format!("Bearer {access}"))).await,
        insufficient("notes.write"),
        "the user did not grant notes.write"
    );

    // The ID token is for the client, not for the API.
    let id_token = tokens.id_token.as_deref().expect("an ID token (openid)");
    assert_eq!(payload(id_token)["aud"], "interop-app");
    assert_eq!(get_with(&app, "/me", id_token).await, invalid_token());
    assert_eq!(code(&api_layer, id_token).await, "wrong_type");

    // Refresh: a new access token, same user, same grant.
    let refresh_token = tokens
        .refresh_token
        .as_deref()
        .expect("a refresh token (offline_access)");
    let refreshed = provider.refresh(refresh_token, &audience).await;
    let new_access = &refreshed.access_token;
    assert_ne!(new_access, access);
    assert_ne!(payload(new_access)["jti"], payload(access)["jti"]);
    let seen = me_ok(&app, new_access).await;
    assert_eq!(seen["sub"], "alice", "{seen}");
    assert_eq!(seen["client_id"], "interop-app", "{seen}");
    assert_eq!(seen["scopes"], json!(["notes.read"]), "{seen}");
    assert_eq!(
        send(
            &app,
            "POST",
            "/notes",
            Some(&format!("Bearer {new_access}"))
        )
        .await,
        insufficient("notes.write")
    );
}

/// Step-up (RFC 9470) against tokens from the authorization-code flow: the
/// provider puts the sign-in's `acr` and `auth_time` in its access tokens. A
/// route that needs `urn:interop:mfa` takes the token of a sign-in with it,
/// and answers the one of a password sign-in with the step-up challenge; a
/// route that needs a sign-in at most a minute old answers the same token
/// with it once the layer's clock is 121 seconds past the sign-in.
async fn step_up_acr_and_auth_time() {
    let mut provider = Provider::start().await;
    let audience = format!("{RESOURCE}rs256");
    let clock = ManualClock::new();
    let api_layer = layer(
        BearerAuthLayer::builder()
            .trust(Issuer::rfc9068(&provider.issuer, &audience))
            .clock(clock.clone()),
    );
    let guarded = |step_up: StepUp| -> Router {
        Router::new()
            .route(
                "/notes",
                axum::routing::delete(|| async { "deleted" })
                    .route_layer(require(Requirement::scope("notes.write")).step_up(step_up)),
            )
            .layer(api_layer.clone())
    };
    let mfa_only = guarded(StepUp::new().acr_values(["urn:interop:mfa"]));
    let recent = guarded(StepUp::new().max_age(Duration::from_secs(60)));
    let scopes = "openid notes.read notes.write";
    let granted = "notes.read notes.write";
    let mfa = provider
        .authorization_code_as(&audience, scopes, granted, Some("urn:interop:mfa"))
        .await
        .access_token;
    provider.sign_out();
    let password = provider
        .authorization_code_as(&audience, scopes, granted, Some("urn:interop:pwd"))
        .await
        .access_token;
    assert_eq!(payload(&mfa)["acr"], "urn:interop:mfa");
    assert!(payload(&mfa)["auth_time"].is_i64(), "{}", payload(&mfa));
    let delete = |app: &Router, token: &str| {
        let (app, token) = (app.clone(), token.to_owned());
        async move { send(&app, "DELETE", "/notes", Some(&format!("Bearer {token}"))).await }
    };
    assert_eq!(delete(&mfa_only, &mfa).await, support::ok("deleted"));
    let challenge = |params: &str| support::Outcome {
        status: StatusCode::UNAUTHORIZED,
        www_authenticate: Some(format!(
            "Bearer error=\"insufficient_user_authentication\", {params}"
        )),
        body: String::new(),
    };
    assert_eq!(
        delete(&mfa_only, &password).await,
        challenge("acr_values=\"urn:interop:mfa\"")
    );
    assert_eq!(delete(&recent, &mfa).await, support::ok("deleted"));
    // The token lives five minutes; its sign-in is too old 121 seconds after
    // its auth_time (past the minute and the layer's one-minute leeway), and
    // not at 120. The clock started before the sign-in, so it moves to
    // exactly those seconds of the token's own auth_time.
    let auth_time = payload(&mfa)["auth_time"].as_i64().expect("auth_time");
    let move_to = |secs: i64| {
        let ahead = secs - support::now_on(&clock);
        clock.advance(Duration::from_secs(u64::try_from(ahead).expect("ahead")));
    };
    move_to(auth_time + 120);
    assert_eq!(delete(&recent, &mfa).await, support::ok("deleted"));
    move_to(auth_time + 121);
    assert_eq!(delete(&recent, &mfa).await, challenge("max_age=\"60\""));
    assert_eq!(delete(&mfa_only, &mfa).await, support::ok("deleted"));
}

/// The provider rotates its RS256 key: a token signed with the new key passes
/// (one fetch for its unknown `kid`), the old token still passes while its key
/// is published, and is refused once the provider stops publishing it and the key
/// set passes its maximum age (one second of the layer's manual clock).
async fn key_rotation() {
    const COOLDOWN: Duration = Duration::from_millis(250);
    const MAX_AGE: Duration = Duration::from_secs(1);
    let provider = Provider::start().await;
    let audience = format!("{RESOURCE}rs256");
    // The layer's clock is moved by hand (the provider's tokens, minted on the
    // real clock, stay current: they live five minutes).
    let clock = ManualClock::new();
    let api_layer = layer(
        BearerAuthLayer::builder()
            .trust(Issuer::rfc9068(&provider.issuer, &audience))
            .refresh_cooldown(COOLDOWN)
            .key_set_max_age(MAX_AGE)
            .clock(clock.clone()),
    );
    let app = api(api_layer.clone());

    let old = provider
        .client_credentials(&audience, "notes.read")
        .await
        .access_token;
    assert_eq!(header(&old)["kid"], "rs256-1");
    me_ok(&app, &old).await;

    let kids = provider.admin("/__test/rotate").await;
    assert_eq!(kids["rs256"], json!(["rs256-2", "rs256-1"]));
    let new = provider
        .client_credentials(&audience, "notes.read")
        .await
        .access_token;
    assert_eq!(header(&new)["kid"], "rs256-2");
    // The first fetch (for rs256-1) started the unknown-kid cooldown.
    clock.advance(COOLDOWN + Duration::from_millis(50));
    me_ok(&app, &new).await;
    // The set that has just been fetched for rs256-2 still holds rs256-1.
    me_ok(&app, &old).await;

    let kids = provider.admin("/__test/retire-old").await;
    assert_eq!(kids["rs256"], json!(["rs256-2"]));
    // Past the set's maximum age, the next request (the old token, still
    // passing) starts a refresh in the background; once that has landed, the
    // old token is refused.
    clock.advance(MAX_AGE + Duration::from_millis(100));
    // (The polled closure owns what it uses: this case runs on a spawned task,
    // and a future borrowing from an async closure is not provably `Send`.)
    let refused = Arc::new(Mutex::new(None::<Outcome>));
    let (poll_app, poll_old, seen) = (app.clone(), old.clone(), Arc::clone(&refused));
    eventually(
        "the old token refused once its key was removed",
        async move || {
            let outcome = get_with(&poll_app, "/me", &poll_old).await;
            let passed = outcome.status == StatusCode::OK;
            if !passed {
                *seen.lock().expect("not poisoned") = Some(outcome);
            }
            !passed
        },
    )
    .await;
    let refused = refused.lock().expect("not poisoned").take();
    assert_eq!(refused, Some(invalid_token()));
    assert_eq!(code(&api_layer, &old).await, "unknown_kid");
    me_ok(&app, &new).await;
}

// ---------------------------------------------------------------------------
// DPoP
// ---------------------------------------------------------------------------

/// The URL the DPoP case's API is called at: a setting of the layer (the
/// router itself is called with `oneshot`), and what every `htu` the client
/// makes starts with.
const DPOP_API: &str = "https://api.interop.test";
/// The proof algorithms the DPoP case's API accepts, as its challenges say.
const DPOP_ALGS: &str = "algs=\"ES256 EdDSA PS256\"";

/// One answer of the API: status, every `WWW-Authenticate` value, body.
#[derive(Debug, PartialEq, Eq)]
struct Reply {
    status: StatusCode,
    challenges: Vec<String>,
    body: String,
}

fn reply(status: StatusCode, challenges: &[&str], body: &str) -> Reply {
    Reply {
        status,
        challenges: challenges.iter().map(|c| (*c).to_owned()).collect(),
        body: body.to_owned(),
    }
}

/// 401, empty body, one challenge: `DPoP error="<error>", algs="…"`.
fn dpop_refused(error: &str) -> Reply {
    reply(
        StatusCode::UNAUTHORIZED,
        &[&format!("DPoP error=\"{error}\", {DPOP_ALGS}")],
        "",
    )
}

/// One request `dpop-client.mjs` made (`method`, `path`, `authorization`,
/// `dpop`), as the API receives it, without a body (`()`: the validator's
/// future, holding it, is then `Send`).
fn client_request(made: &Value) -> http::Request<()> {
    let text = |name: &str| {
        made[name]
            .as_str()
            .unwrap_or_else(|| panic!("{name} in {made}"))
    };
    let mut request = http::Request::builder()
        .method(text("method"))
        .uri(text("path"))
        .header(http::header::AUTHORIZATION, text("authorization"));
    if let Some(proof) = made["dpop"].as_str() {
        request = request.header("DPoP", proof);
    }
    request.body(()).expect("request")
}

/// Sends one of the client's requests to `app`.
async fn send_made(app: &Router, made: &Value) -> Reply {
    let response = app
        .clone()
        .oneshot(client_request(made).map(|()| axum::body::Body::empty()))
        .await
        .expect("infallible");
    let status = response.status();
    let challenges = response
        .headers()
        .get_all(http::header::WWW_AUTHENTICATE)
        .iter()
        .map(|v| v.to_str().expect("ASCII challenge").to_owned())
        .collect();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    Reply {
        status,
        challenges,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// Why `layer`'s validator refuses one of the client's requests: its text
/// and its code.
async fn refusal(layer: &BearerAuthLayer, made: &Value) -> (String, &'static str) {
    let error = layer
        .validator()
        .authenticate_request(&client_request(made))
        .await
        .expect_err("the request must be refused");
    (error.to_string(), error.code())
}

/// The `iat` of the request's proof.
fn proof_iat(made: &Value) -> i64 {
    let proof = made["dpop"].as_str().expect("a DPoP proof");
    payload(proof)["iat"].as_i64().expect("iat, whole seconds")
}

/// Sets `clock`'s wall clock to `secs` since the epoch.
fn clock_at(clock: &ManualClock, secs: i64) {
    let secs = u64::try_from(secs).expect("after 1970");
    clock.set_wall_clock(UNIX_EPOCH + Duration::from_secs(secs));
}

/// DPoP (RFC 9449) with a client bearer-guard did not write: oauth4webapi
/// (`dpop-client.mjs`) gets tokens bound to its ES256, EdDSA and PS256 keys
/// from oidc-provider (which checks its proofs at the token endpoint), and
/// makes the proofs of the API requests. Per key: the token with its proof →
/// 200, the handler seeing the token's `cnf.jkt`; the same proof again, a
/// proof for another URI, for another method, one 600 s older than the
/// token, one for the key's other token → 401 `invalid_dpop_proof`; a proof
/// by another key, and a bearer token sent with the `DPoP` scheme → 401
/// `DPoP` `invalid_token`; the bound token sent as a bearer token → 401
/// `Bearer` `invalid_token`. The validator names each reason.
///
/// The proofs carry the client's real time: each request goes in with the
/// layer's clock at its proof's own `iat` (the moment the client made it),
/// the stale one with the clock at the token's `iat`. No outcome depends on
/// how long anything took.
async fn dpop_bound_tokens() {
    let provider = Provider::start().await;
    let (_client, made) = NodeScript::start("dpop-client.mjs", &[&provider.issuer, DPOP_API]).await;
    // The token endpoint's proof algorithms, as the provider's discovery
    // document lists them.
    assert_eq!(
        made["dpop_signing_alg_values_supported"],
        json!(["ES256", "Ed25519", "EdDSA", "PS256"])
    );
    let keys = made["keys"].as_array().expect("keys");
    let names: Vec<&str> = keys
        .iter()
        .map(|k| k["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["ES256", "EdDSA", "PS256"]);

    let clock = ManualClock::new();
    let mut trust = Issuer::rfc9068(&provider.issuer, &format!("{RESOURCE}es256"));
    for name in ["eddsa", "ps256"] {
        trust = trust.audience(format!("{RESOURCE}{name}"));
    }
    let api_layer = layer(
        BearerAuthLayer::builder()
            .trust(trust)
            .clock(clock.clone())
            .dpop(Dpop::new(DPOP_API).algorithms([
                Algorithm::ES256,
                Algorithm::EdDSA,
                Algorithm::PS256,
            ])),
    );
    let app = api(api_layer.clone());

    for key in keys {
        let name = key["name"].as_str().expect("name");
        let lower = name.to_lowercase();
        let resource = format!("{RESOURCE}{lower}");
        let token = key["access_token"].as_str().expect("access_token");
        let jkt = key["jkt"].as_str().expect("jkt");
        let requests = &key["requests"];
        let made = |case: &str| -> &Value {
            let request = &requests[case];
            assert!(request.is_object(), "{name}: no {case} request");
            request
        };

        // The provider bound the token to the client's key: an RFC 9068
        // token (signed for its resource with the resource's key) whose
        // cnf.jkt is the key's thumbprint as oauth4webapi computes it; the
        // token response said DPoP (oauth4webapi reports it in lower case).
        // Without a proof, the same grant still gives a bearer token.
        assert_eq!(key["resource"], json!(resource));
        assert_eq!(key["token_type"], "dpop", "{name}");
        assert_eq!(key["unbound_token_type"], "bearer", "{name}");
        assert_eq!(
            header(token),
            json!({"alg": name, "typ": "at+jwt", "kid": format!("{lower}-1")}),
            "{name}"
        );
        let claims = payload(token);
        assert_eq!(claims["cnf"], json!({"jkt": jkt}), "{name}");
        assert_eq!(claims["aud"], json!(resource), "{name}");
        let token_iat = claims["iat"].as_i64().expect("iat");

        // What oauth4webapi sends for GET /me: `DPoP <token>`, and a
        // dpop+jwt with its public key, for this method, URI and token.
        let me = made("me");
        assert_eq!(me["authorization"], json!(format!("DPoP {token}")));
        let proof = me["dpop"].as_str().expect("a proof");
        let proof_header = header(proof);
        assert_eq!(proof_header["typ"], "dpop+jwt", "{name}");
        assert_eq!(proof_header["alg"], name, "{name}");
        let jwk = &proof_header["jwk"];
        assert!(jwk.is_object(), "{proof_header}");
        assert_eq!(proof_header.as_object().map(|h| h.len()), Some(3));
        let proof_claims = payload(proof);
        assert_eq!(proof_claims["htm"], "GET", "{name}");
        assert_eq!(proof_claims["htu"], format!("{DPOP_API}/me"), "{name}");
        assert_eq!(
            proof_claims["ath"],
            URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes())),
            "{name}"
        );

        // The token with its proofs.
        clock_at(&clock, proof_iat(me));
        let answer = send_made(&app, me).await;
        assert_eq!(
            (answer.status, answer.challenges.as_slice()),
            (StatusCode::OK, &[][..]),
            "{name}: {answer:?}"
        );
        let seen: Value = serde_json::from_str(&answer.body).expect("/me answers JSON");
        assert_eq!(seen["dpop_jkt"], json!(jkt), "{seen}");
        assert_eq!(seen["sub"], "interop-service", "{seen}");
        assert_eq!(seen["client_id"], "interop-service", "{seen}");
        assert_eq!(seen["aud"], json!([resource]), "{seen}");
        assert_eq!(seen["scopes"], json!(["notes.read"]), "{seen}");
        let notes = made("notes");
        clock_at(&clock, proof_iat(notes));
        assert_eq!(
            send_made(&app, notes).await,
            reply(StatusCode::OK, &[], "notes"),
            "{name}"
        );
        let post = made("post_notes");
        clock_at(&clock, proof_iat(post));
        assert_eq!(
            send_made(&app, post).await,
            reply(
                StatusCode::FORBIDDEN,
                &[&format!(
                    "DPoP error=\"insufficient_scope\", scope=\"notes.write\", {DPOP_ALGS}"
                )],
                ""
            ),
            "{name}: the client was not granted notes.write"
        );

        // The same proof again.
        clock_at(&clock, proof_iat(me));
        assert_eq!(
            send_made(&app, me).await,
            dpop_refused("invalid_dpop_proof"),
            "{name}: replayed"
        );
        assert_eq!(
            refusal(&api_layer, me).await,
            (
                "DPoP proof replayed (its jti was seen before)".to_owned(),
                "dpop_proof_replayed"
            ),
            "{name}"
        );

        // Proofs the client made for something else than this request. A
        // refused proof burns no jti, so the validator, asked after the
        // layer, sees the same proof anew.
        let wrong_htu = made("wrong_htu");
        assert_eq!(
            (
                wrong_htu["path"].clone(),
                payload_of(wrong_htu)["htu"].clone()
            ),
            (json!("/me"), json!(format!("{DPOP_API}/notes")))
        );
        let wrong_htm = made("wrong_htm");
        assert_eq!(
            (
                wrong_htm["method"].clone(),
                payload_of(wrong_htm)["htm"].clone()
            ),
            (json!("GET"), json!("POST"))
        );
        let stale = made("stale_iat");
        assert_eq!(proof_iat(stale), token_iat - 600, "{name}");
        let other_ath = made("other_ath");
        assert_eq!(other_ath["authorization"], json!(format!("DPoP {token}")));
        assert_ne!(payload_of(other_ath)["ath"], proof_claims["ath"], "{name}");
        for (case, request, now, why) in [
            (
                "wrong htu",
                wrong_htu,
                proof_iat(wrong_htu),
                "htu is not the request's URI",
            ),
            (
                "wrong htm",
                wrong_htm,
                proof_iat(wrong_htm),
                "htm is not the request's method",
            ),
            // 600 s before the clock: past the minute of max_age and the
            // layer's minute of leeway.
            ("stale iat", stale, token_iat, "iat is too old"),
            (
                "ath of another token",
                other_ath,
                proof_iat(other_ath),
                "ath is not the token's hash",
            ),
        ] {
            clock_at(&clock, now);
            assert_eq!(
                send_made(&app, request).await,
                dpop_refused("invalid_dpop_proof"),
                "{name}: {case}"
            );
            assert_eq!(
                refusal(&api_layer, request).await,
                (format!("DPoP proof refused: {why}"), "invalid_dpop_proof"),
                "{name}: {case}"
            );
        }

        // A proof by another key than the token's cnf.jkt names: the token
        // is refused.
        let other_key = made("other_key");
        assert_ne!(header_of(other_key)["jwk"], *jwk, "{name}");
        clock_at(&clock, proof_iat(other_key));
        assert_eq!(
            send_made(&app, other_key).await,
            dpop_refused("invalid_token"),
            "{name}: another key"
        );
        assert_eq!(
            refusal(&api_layer, other_key).await,
            (
                "DPoP proof key does not match the token's cnf.jkt".to_owned(),
                "dpop_key_mismatch"
            ),
            "{name}"
        );

        // The bound token as oauth4webapi sends it without its DPoP handle:
        // a bearer token, never accepted as one (RFC 9449 §7.2).
        let as_bearer = made("as_bearer");
        assert_eq!(as_bearer["authorization"], json!(format!("Bearer {token}")));
        assert_eq!(as_bearer["dpop"], Value::Null);
        clock_at(&clock, proof_iat(me));
        assert_eq!(
            send_made(&app, as_bearer).await,
            reply(
                StatusCode::UNAUTHORIZED,
                &["Bearer error=\"invalid_token\""],
                ""
            ),
            "{name}: the bound token as a bearer token"
        );
        assert_eq!(
            refusal(&api_layer, as_bearer).await,
            (
                "a DPoP-bound token was presented as a bearer token".to_owned(),
                "bound_token_as_bearer"
            ),
            "{name}"
        );

        // The token of the grant without a proof: a bearer token, refused
        // with the DPoP scheme and a proof, taken as a bearer token.
        let unbound_request = made("unbound_token");
        let unbound = unbound_request["authorization"]
            .as_str()
            .and_then(|a| a.strip_prefix("DPoP "))
            .expect("`DPoP <token>`");
        assert_eq!(payload(unbound).get("cnf"), None, "{name}");
        clock_at(&clock, proof_iat(unbound_request));
        assert_eq!(
            send_made(&app, unbound_request).await,
            dpop_refused("invalid_token"),
            "{name}: a bearer token with the DPoP scheme"
        );
        assert_eq!(
            refusal(&api_layer, unbound_request).await,
            (
                "token presented with the DPoP scheme is not DPoP-bound".to_owned(),
                "token_not_dpop_bound"
            ),
            "{name}"
        );
        let seen = me_ok(&app, unbound).await;
        assert_eq!(seen["dpop_jkt"], Value::Null, "{seen}");

        // oauth4webapi names an Ed25519 proof's alg `Ed25519` (RFC 9864);
        // the layer takes it as `EdDSA` (RFC 8037). (The requests above
        // renamed it, to test the older name.)
        if name == "EdDSA" {
            let as_named = made("as_named");
            let named_header = header_of(as_named);
            assert_eq!(named_header["alg"], "Ed25519");
            assert_eq!(named_header["jwk"], *jwk);
            clock_at(&clock, proof_iat(as_named));
            let outcome = send_made(&app, as_named).await;
            assert_eq!(
                (outcome.status, outcome.challenges.len()),
                (StatusCode::OK, 0),
                "alg Ed25519: {outcome:?}"
            );
        } else {
            assert_eq!(requests.get("as_named"), None, "{name}");
        }
    }
}

/// The JOSE header of the request's proof.
fn header_of(made: &Value) -> Value {
    header(made["dpop"].as_str().expect("a DPoP proof"))
}

/// The claims of the request's proof.
fn payload_of(made: &Value) -> Value {
    payload(made["dpop"].as_str().expect("a DPoP proof"))
}

// ---------------------------------------------------------------------------
// Certificate-bound tokens (RFC 8705)
// ---------------------------------------------------------------------------

/// The certificate provider.mjs registers for `interop-mtls` (its `jwks`).
const MTLS_CERT: &str = include_str!("data/client-cert.pem");
/// A certificate the provider does not know.
const OTHER_CERT: &str = include_str!("data/client-cert-2.pem");
/// The request header provider.mjs takes the client certificate from, in
/// place of a TLS handshake (test-only).
const PROVIDER_CERT_HEADER: &str = "x-test-client-cert";
/// The trusted proxy's header the proxied layer reads (nginx's
/// `$ssl_client_escaped_cert`).
const PROXY_CERT_HEADER: &str = "x-ssl-cert";

/// A PEM certificate's DER bytes.
fn pem_der(pem: &str) -> Vec<u8> {
    pem::parse(pem).expect("PEM").into_contents()
}

/// A PEM certificate URL-encoded, as nginx forwards it.
fn escaped_pem(pem: &str) -> String {
    percent_encoding::utf8_percent_encode(pem, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// How a request to the API carries its client certificate.
#[derive(Debug, Clone, Copy)]
enum Presented {
    /// No certificate.
    Nothing,
    /// From the TLS acceptor: [`ClientCertificate`] in the extensions.
    Tls(&'static str),
    /// From a proxy: URL-encoded PEM in [`PROXY_CERT_HEADER`].
    Proxy(&'static str),
}

/// `GET path` with `Bearer token` and the certificate `presented` (no body:
/// `()`, so that the validator's future holding it is `Send`).
fn certificate_request(path: &str, token: &str, presented: Presented) -> http::Request<()> {
    let mut request =
        http::Request::get(path).header(http::header::AUTHORIZATION, format!("Bearer {token}"));
    if let Presented::Proxy(pem) = presented {
        request = request.header(PROXY_CERT_HEADER, escaped_pem(pem));
    }
    let mut request = request.body(()).expect("request");
    if let Presented::Tls(pem) = presented {
        request
            .extensions_mut()
            .insert(ClientCertificate::from_der(pem_der(pem)));
    }
    request
}

/// Certificate-bound tokens (RFC 8705 §3) issued by oidc-provider: client
/// `interop-mtls` authenticates at the token endpoint with its self-signed
/// certificate (`self_signed_tls_client_auth`, the certificate registered
/// in its `jwks`) and gets ES256 RFC 9068 tokens whose `cnf.x5t#S256` is
/// that certificate's thumbprint, exactly as bearer-guard computes it
/// ([`ClientCertificate::thumbprint`]). The provider refuses the grant with
/// another certificate or none (401 `invalid_client`).
///
/// The layer, with the certificate from the TLS acceptor
/// ([`CertificateBinding::new`]): the bound token with its certificate →
/// 200, the handler seeing the binding; without a certificate → 401
/// `invalid_token` (`certificate_required`); with another → 401
/// `invalid_token` (`certificate_mismatch`); with the certificate only in a
/// proxy's header, which this layer does not trust → 401
/// (`certificate_required`). Behind a trusted proxy
/// ([`ProxyHeader::EscapedPem`]): the URL-encoded PEM of the certificate →
/// 200, of another → 401 (`certificate_mismatch`), none → 401
/// (`certificate_required`). A token of the plain client
/// (`interop-service`, no `cnf`) → 200 on both, without a certificate or
/// with any. Every request twice (validated, then from the token cache).
///
/// The certificates are tests/data's, whose private keys are not kept: the
/// provider gets the certificate in a header (provider.mjs), the layer in
/// the extensions or a header, as a TLS terminator that checked possession
/// in the handshake would hand it on. Nothing here does a handshake.
async fn certificate_bound_tokens() {
    let provider = Provider::start().await;
    let resource = format!("{RESOURCE}es256");
    let thumbprint = ClientCertificate::from_der(pem_der(MTLS_CERT)).thumbprint();
    let other_thumbprint = ClientCertificate::from_der(pem_der(OTHER_CERT)).thumbprint();
    assert_ne!(thumbprint, other_thumbprint);

    // What the provider advertises (RFC 8705 §3.3, §2.2).
    let discovery = provider.discovery().await;
    assert_eq!(
        discovery["tls_client_certificate_bound_access_tokens"],
        json!(true),
        "{discovery}"
    );
    assert!(
        discovery["token_endpoint_auth_methods_supported"]
            .as_array()
            .expect("token_endpoint_auth_methods_supported")
            .contains(&json!("self_signed_tls_client_auth")),
        "{discovery}"
    );

    // The provider checks the client's certificate against its jwks.
    for (what, certificate) in [
        ("another certificate", Some(OTHER_CERT)),
        ("no certificate", None),
    ] {
        let response = provider
            .mtls_client_credentials(certificate, &resource)
            .await;
        let status = response.status();
        let body: Value =
            serde_json::from_str(&response.text().await.expect("body")).expect("token error JSON");
        assert_eq!(
            (status, &body["error"]),
            (StatusCode::UNAUTHORIZED, &json!("invalid_client")),
            "{what}: {body}"
        );
    }

    // The bound token: an RFC 9068 token for the resource, a Bearer token
    // (`tokens` asserts the type), cnf.x5t#S256 = the certificate's
    // thumbprint as bearer-guard computes it.
    let bound = tokens(
        provider
            .mtls_client_credentials(Some(MTLS_CERT), &resource)
            .await,
    )
    .await;
    assert_eq!(bound.scope.as_deref(), Some("notes.read"));
    let bound = bound.access_token;
    assert_eq!(
        header(&bound),
        json!({"alg": "ES256", "typ": "at+jwt", "kid": "es256-1"})
    );
    let claims = payload(&bound);
    assert_eq!(claims["cnf"], json!({"x5t#S256": thumbprint}), "{claims}");
    assert_eq!(claims["client_id"], "interop-mtls", "{claims}");
    assert_eq!(claims["aud"], json!(resource), "{claims}");

    // A token of the plain client, bound to nothing.
    let plain = provider
        .client_credentials(&resource, "notes.read")
        .await
        .access_token;
    let plain_claims = payload(&plain);
    assert_eq!(plain_claims.get("cnf"), None, "{plain_claims}");
    assert_eq!(plain_claims["client_id"], "interop-service");

    let trust = || Issuer::rfc9068(&provider.issuer, &resource).algorithms([Algorithm::ES256]);
    let direct_layer = layer(
        BearerAuthLayer::builder()
            .trust(trust())
            .certificate_bound_tokens(CertificateBinding::new()),
    );
    let proxied_layer = layer(
        BearerAuthLayer::builder()
            .trust(trust())
            .certificate_bound_tokens(
                CertificateBinding::new()
                    .from_proxy_header(ProxyHeader::EscapedPem(PROXY_CERT_HEADER)),
            ),
    );
    let direct = api(direct_layer.clone());
    let proxied = api(proxied_layer.clone());

    // The handler sees the binding.
    let answer = support::send_request(
        &direct,
        certificate_request("/me", &bound, Presented::Tls(MTLS_CERT))
            .map(|()| axum::body::Body::empty()),
    )
    .await;
    assert_eq!(
        (answer.status, answer.www_authenticate.as_deref()),
        (StatusCode::OK, None),
        "{answer:?}"
    );
    let seen: Value = serde_json::from_str(&answer.body).expect("/me answers JSON");
    assert_eq!(seen["certificate_thumbprint"], json!(thumbprint), "{seen}");
    assert_eq!(seen["client_id"], "interop-mtls", "{seen}");
    assert_eq!(seen["sub"], "interop-mtls", "{seen}");

    // Each request twice: the first answer for a token on a layer comes
    // from validating it, the others from the token cache; all must agree.
    let direct = (&direct_layer, &direct);
    let proxied = (&proxied_layer, &proxied);
    let ok = || (support::ok("notes"), None);
    let refused = |code| (invalid_token(), Some(code));
    let cases = [
        (
            "bound, its certificate",
            direct,
            &bound,
            Presented::Tls(MTLS_CERT),
            ok(),
        ),
        (
            "bound, no certificate",
            direct,
            &bound,
            Presented::Nothing,
            refused("certificate_required"),
        ),
        (
            "bound, another certificate",
            direct,
            &bound,
            Presented::Tls(OTHER_CERT),
            refused("certificate_mismatch"),
        ),
        (
            "bound, its certificate in a header not trusted",
            direct,
            &bound,
            Presented::Proxy(MTLS_CERT),
            refused("certificate_required"),
        ),
        (
            "plain, no certificate",
            direct,
            &plain,
            Presented::Nothing,
            ok(),
        ),
        (
            "plain, a certificate",
            direct,
            &plain,
            Presented::Tls(OTHER_CERT),
            ok(),
        ),
        (
            "proxied: bound, its certificate",
            proxied,
            &bound,
            Presented::Proxy(MTLS_CERT),
            ok(),
        ),
        (
            "proxied: bound, another certificate",
            proxied,
            &bound,
            Presented::Proxy(OTHER_CERT),
            refused("certificate_mismatch"),
        ),
        (
            "proxied: bound, no certificate",
            proxied,
            &bound,
            Presented::Nothing,
            refused("certificate_required"),
        ),
        (
            "proxied: bound, from the TLS acceptor",
            proxied,
            &bound,
            Presented::Tls(MTLS_CERT),
            ok(),
        ),
        (
            "proxied: plain, no certificate",
            proxied,
            &plain,
            Presented::Nothing,
            ok(),
        ),
        (
            "proxied: plain, a certificate",
            proxied,
            &plain,
            Presented::Proxy(OTHER_CERT),
            ok(),
        ),
    ];
    for round in ["first", "again"] {
        for (what, (api_layer, app), token, presented, (outcome, code)) in &cases {
            let request = || certificate_request("/notes", token, *presented);
            assert_eq!(
                support::send_request(app, request().map(|()| axum::body::Body::empty())).await,
                *outcome,
                "{what} ({round})"
            );
            let reason = api_layer
                .validator()
                .authenticate_request(&request())
                .await
                .err()
                .map(|e| e.code());
            assert_eq!(reason, *code, "{what} ({round})");
        }
    }
}

// ---------------------------------------------------------------------------
// Opaque tokens: introspection (RFC 7662) and revocation (RFC 7009)
// ---------------------------------------------------------------------------

/// How long the opaque-token API keeps a positive answer.
const INTROSPECTION_MAX_CACHE_AGE: Duration = Duration::from_secs(60);

/// An opaque token as oidc-provider makes them: not a compact JWS (no `.`),
/// base64url characters only.
fn assert_opaque(token: &str) {
    assert!(
        !token.is_empty()
            && token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "not an opaque token: {token}"
    );
}

/// Opaque access tokens from oidc-provider, validated by introspection.
/// `interop-app` sends no resource indicator; asked for the API scopes, the
/// provider defaults it to [`OPAQUE_RESOURCE`] and issues an opaque token,
/// whose introspection answer names that resource in `aud`: the layer
/// (`Issuer::new(issuer).audience(OPAQUE_RESOURCE)`, introspecting as
/// `notes-api` with `client_secret_basic` at the discovered endpoint) takes
/// the `aud` route. The token → 200, `/me` shows the answer's `sub` and
/// `client_id`; again → no new introspection call. oidc-provider's own
/// default without any resource (OpenID scopes only), a UserInfo token
/// whose answer has no `aud` and `token_type` Bearer, passes by the
/// `token_type` route: 200 on `/me`, 403 on `/notes` (it has no API scope).
/// A token revoked before the API ever saw it → 401 `token_inactive`. The
/// refresh token as an access token → 401 `not_an_access_token` (the
/// provider answers `active: true` without `aud` or `token_type`); with
/// `dangerously_trust_bare_active` it would pass. The first token, revoked
/// once cached → still 200 until the layer's maximum cache age passes on its
/// clock (the documented trade-off), then 401 `token_inactive`.
///
/// The provider counts the requests to its introspection endpoint, the
/// test's own included: each step asserts whether the layer asked. The
/// layer's clock starts at the first token's `iat` (from the provider's
/// answer) and moves only relative to it.
async fn opaque_tokens_introspection() {
    let mut provider = Provider::start().await;
    let issuer = provider.issuer.clone();
    let discovery = provider.discovery().await;
    assert_eq!(
        discovery["introspection_endpoint"],
        json!(provider.url(INTROSPECTION_PATH))
    );
    assert_eq!(
        discovery["revocation_endpoint"],
        json!(provider.url(REVOCATION_PATH))
    );
    let endpoint = discovery["introspection_endpoint"]
        .as_str()
        .expect("introspection_endpoint")
        .to_owned();

    // No resource indicator, the API scopes asked, notes.read granted: an
    // opaque access token (and refresh token) for the defaulted resource.
    let first = provider
        .authorization_code_without_resource(
            "openid offline_access notes.read notes.write",
            "notes.read",
        )
        .await;
    assert_eq!(first.scope.as_deref(), Some("notes.read"));
    let token = first.access_token.as_str();
    assert_opaque(token);
    let refresh_token = first.refresh_token.as_deref().expect("offline_access");
    assert_opaque(refresh_token);

    // What oidc-provider answers about it: the resource in `aud`, token_type
    // Bearer, `auth_time` (the script's extraTokenClaims), no `jti` (the
    // opaque value is the token's id).
    let answer = provider.introspect(token).await;
    let iat = answer["iat"].as_i64().expect("iat");
    let auth_time = answer["auth_time"].as_i64().expect("auth_time");
    assert!(auth_time <= iat, "{answer}");
    assert_eq!(
        answer,
        json!({
            "active": true,
            "sub": "alice",
            "auth_time": auth_time,
            "client_id": "interop-app",
            "exp": iat + 300,
            "iat": iat,
            "iss": issuer,
            "aud": OPAQUE_RESOURCE,
            "scope": "notes.read",
            "token_type": "Bearer",
        })
    );
    assert_eq!(provider.introspections().await, 1, "the test's own call");

    // The API, its clock at the token's own iat.
    let clock = ManualClock::starting_at(
        UNIX_EPOCH + Duration::from_secs(u64::try_from(iat).expect("after 1970")),
    );
    let move_to = |secs: i64| {
        let ahead = secs - support::now_on(&clock);
        clock.advance(Duration::from_secs(u64::try_from(ahead).expect("ahead")));
    };
    let (id, secret) = INTROSPECTOR;
    let introspection = Introspection::client_secret_basic(&endpoint, id, secret)
        .max_cache_age(INTROSPECTION_MAX_CACHE_AGE);
    let trust = |introspection: Introspection| {
        layer(
            BearerAuthLayer::builder()
                .trust(
                    Issuer::new(&issuer)
                        .audience(OPAQUE_RESOURCE)
                        .introspection(introspection),
                )
                .clock(clock.clone()),
        )
    };
    let api_layer = trust(introspection.clone());
    let app = api(api_layer.clone());

    assert_eq!(get_with(&app, "/notes", token).await, support::ok("notes"));
    assert_eq!(provider.introspections().await, 2, "the layer asked once");
    let seen = me_ok(&app, token).await;
    assert_eq!(seen["sub"], "alice", "{seen}");
    assert_eq!(seen["client_id"], "interop-app", "{seen}");
    assert_eq!(seen["iss"], json!(issuer), "{seen}");
    assert_eq!(seen["aud"], json!([OPAQUE_RESOURCE]), "{seen}");
    assert_eq!(seen["scopes"], json!(["notes.read"]), "{seen}");
    assert_eq!(seen["claims"], answer, "the handler sees the answer");
    assert_eq!(
        send(&app, "POST", "/notes", Some(&format!("Bearer {token}"))).await,
        insufficient("notes.write"),
        "the user did not grant notes.write"
    );
    assert_eq!(provider.introspections().await, 2, "from the layer's cache");

    // oidc-provider's own default, no resource at all (OpenID scopes only):
    // an opaque access token for its UserInfo endpoint, no `aud`, token_type
    // Bearer. The layer takes the token_type route and accepts it; it has no
    // API scope, so a route that needs one answers 403.
    provider.sign_out();
    let userinfo = provider
        .authorization_code_without_resource("openid", "")
        .await;
    assert_eq!(userinfo.scope.as_deref(), Some("openid"));
    let userinfo = userinfo.access_token;
    assert_opaque(&userinfo);
    let answer = provider.introspect(&userinfo).await;
    let userinfo_iat = answer["iat"].as_i64().expect("iat");
    let userinfo_auth_time = answer["auth_time"].as_i64().expect("auth_time");
    assert_eq!(
        answer,
        json!({
            "active": true,
            "sub": "alice",
            "auth_time": userinfo_auth_time,
            "client_id": "interop-app",
            "exp": userinfo_iat + 300,
            "iat": userinfo_iat,
            "iss": issuer,
            "scope": "openid",
            "token_type": "Bearer",
        })
    );
    assert_eq!(provider.introspections().await, 3, "the test's own call");
    // The layer's clock, at the first token's iat, is within this one's
    // lifetime: issued after it, for 300 s, no nbf.
    assert!(userinfo_iat >= iat, "{answer}");
    let seen = me_ok(&app, &userinfo).await;
    assert_eq!(seen["sub"], "alice", "{seen}");
    assert_eq!(seen["client_id"], "interop-app", "{seen}");
    assert_eq!(seen["aud"], json!([]), "{seen}");
    assert_eq!(seen["scopes"], json!(["openid"]), "{seen}");
    assert_eq!(
        get_with(&app, "/notes", &userinfo).await,
        insufficient("notes.read")
    );
    assert_eq!(provider.introspections().await, 4, "the layer asked once");

    // A token revoked before the API ever saw it (another sign-in, so
    // another grant: revoking an access token revokes every token of its
    // grant): the layer asks, the provider says inactive.
    provider.sign_out();
    let revoked = provider
        .authorization_code_without_resource("openid notes.read", "notes.read")
        .await
        .access_token;
    assert_opaque(&revoked);
    provider.revoke(&revoked).await;
    assert_eq!(get_with(&app, "/notes", &revoked).await, invalid_token());
    assert_eq!(provider.introspections().await, 5, "the layer asked once");
    assert_eq!(code(&api_layer, &revoked).await, "token_inactive");
    assert_eq!(provider.introspections().await, 5, "the refusal is kept");

    // The first token's refresh token as an access token (before the first
    // token is revoked, which revokes it too). Asked under the hint
    // access_token, oidc-provider finds no access token by that value, falls
    // back to its refresh tokens and answers `active: true`, without `aud`
    // and without `token_type` (it never gives one for a refresh token): no
    // sign of an access token for this API, so the layer refuses it as
    // not_an_access_token. (Not token_inactive: the provider calls it
    // active.)
    let answer = provider.introspect(refresh_token).await;
    let refresh_iat = answer["iat"].as_i64().expect("iat");
    assert_eq!(
        answer,
        json!({
            "active": true,
            "sub": "alice",
            "client_id": "interop-app",
            "exp": refresh_iat + 3600,
            "iat": refresh_iat,
            "iss": issuer,
            "scope": "openid offline_access notes.read",
        })
    );
    assert_eq!(provider.introspections().await, 6, "the test's own call");
    assert_eq!(
        get_with(&app, "/notes", refresh_token).await,
        invalid_token()
    );
    assert_eq!(provider.introspections().await, 7, "the layer asked once");
    assert_eq!(code(&api_layer, refresh_token).await, "not_an_access_token");
    assert_eq!(provider.introspections().await, 7, "the refusal is kept");
    // What `dangerously_trust_bare_active` gives up: the refresh token, its
    // scope including notes.read, passes as an access token.
    let bare = api(trust(introspection.dangerously_trust_bare_active()));
    assert_eq!(
        get_with(&bare, "/notes", refresh_token).await,
        support::ok("notes")
    );
    assert_eq!(provider.introspections().await, 8, "the bare layer asked");

    // The first token, revoked once the layer holds its answer: the provider
    // says inactive at once (and its refresh token with it, the same grant),
    // but the layer answers from its cache until the answer is
    // INTROSPECTION_MAX_CACHE_AGE old on its clock (kept at the token's iat,
    // where the clock still stands): the documented price of caching.
    provider.revoke(token).await;
    assert_eq!(provider.introspect(token).await, json!({"active": false}));
    assert_eq!(
        provider.introspect(refresh_token).await,
        json!({"active": false})
    );
    assert_eq!(provider.introspections().await, 10, "the test's own calls");
    assert_eq!(support::now_on(&clock), iat);
    assert_eq!(get_with(&app, "/notes", token).await, support::ok("notes"));
    move_to(iat + 59);
    assert_eq!(get_with(&app, "/notes", token).await, support::ok("notes"));
    assert_eq!(
        provider.introspections().await,
        10,
        "from the layer's cache"
    );
    move_to(iat + 60);
    assert_eq!(get_with(&app, "/notes", token).await, invalid_token());
    assert_eq!(provider.introspections().await, 11, "the layer asked again");
    assert_eq!(code(&api_layer, token).await, "token_inactive");
    assert_eq!(provider.introspections().await, 11, "the refusal is kept");
}

// ---------------------------------------------------------------------------
// The MCP example
// ---------------------------------------------------------------------------

/// One of this crate's examples, run as a real process the way a user runs it
/// (`cargo run --quiet --example NAME -- ARGS`): killed when dropped; its
/// stderr (the build's and its log) is kept, and shown if the case panics.
struct Example {
    name: &'static str,
    /// `http://ADDR`, from its `listening on ADDR` line.
    base: String,
    _child: Child,
    stderr: Arc<Mutex<String>>,
}

impl Example {
    async fn start(name: &'static str, args: &[&str]) -> Example {
        let mut child = Command::new(env!("CARGO"))
            .args(["run", "--quiet", "--example", name, "--"])
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn cargo run --example {name}: {e}"));
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut lines = BufReader::new(child.stderr.take().expect("stderr is piped")).lines();
        let log = Arc::clone(&stderr);
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
                log.push_str(&line);
                log.push('\n');
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped")).lines();
        let first = tokio::time::timeout(EXAMPLE_START_TIMEOUT, stdout.next_line()).await;
        // Built before any check, so that a failed start shows the stderr.
        let mut example = Example {
            name,
            base: String::new(),
            _child: child,
            stderr,
        };
        let line = match first {
            Ok(Ok(Some(line))) => line,
            Ok(Ok(None)) => panic!("{name} exited without printing `listening on ADDR`"),
            Ok(Err(e)) => panic!("{name}: reading its stdout: {e}"),
            Err(_) => panic!("{name} printed no line within {EXAMPLE_START_TIMEOUT:?}"),
        };
        let addr = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("{name}'s first line is {line:?}"));
        assert!(addr.starts_with("127.0.0.1:"), "{addr}");
        assert!(
            !addr.ends_with(":0"),
            "the bound port, not the one asked for"
        );
        example.base = format!("http://{addr}");
        // Keep reading stdout, so that the example never blocks on the pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = stdout.next_line().await {} });
        example
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Waits until the example's log has a line with `text` in it.
    async fn logged(&self, text: &str) {
        let (log, wanted) = (Arc::clone(&self.stderr), text.to_owned());
        eventually(&format!("{} logs {text:?}", self.name), async move || {
            log.lock()
                .unwrap_or_else(|p| p.into_inner())
                .lines()
                .any(|line| line.contains(&wanted))
        })
        .await;
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.stderr.lock().unwrap_or_else(|p| p.into_inner());
            eprintln!("--- stderr of {} ---\n{log}--- end ---", self.name);
        }
    }
}

/// What an MCP client sees of one HTTP exchange.
#[derive(Debug)]
struct Answer {
    outcome: Outcome,
    content_type: Option<String>,
}

impl Answer {
    /// The body, which must be JSON.
    fn json(&self) -> Value {
        serde_json::from_str(&self.outcome.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.outcome.body))
    }
}

async fn exchange(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.expect("HTTP request");
    let header = |name| {
        response
            .headers()
            .get(name)
            .map(|v: &reqwest::header::HeaderValue| v.to_str().expect("ASCII header").to_owned())
    };
    let (www_authenticate, content_type) = (
        header(reqwest::header::WWW_AUTHENTICATE),
        header(reqwest::header::CONTENT_TYPE),
    );
    let status = response.status();
    let body = response.text().await.expect("response body");
    Answer {
        outcome: Outcome {
            status,
            www_authenticate,
            body,
        },
        content_type,
    }
}

/// The MCP protocol version the client below asks for.
const MCP_VERSION: &str = "2025-06-18";

/// The `initialize` request an MCP client opens with.
fn initialize() -> String {
    json!({
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": MCP_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "bearer-guard-interop", "version": "0"},
        },
    })
    .to_string()
}

/// `POST` of one JSON-RPC message to the MCP endpoint, as the Streamable HTTP
/// transport sends it, with `token` as the bearer token if given.
fn rpc(
    client: &reqwest::Client,
    endpoint: &str,
    token: Option<&str>,
    message: String,
) -> reqwest::RequestBuilder {
    let request = client
        .post(endpoint)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(
            reqwest::header::ACCEPT,
            "application/json, text/event-stream",
        )
        .body(message);
    match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    }
}

/// The `mcp_server` example against oidc-provider, driven step by step as the
/// MCP authorization specification tells a client to: the 401 without a
/// token names the RFC 9728 metadata; the metadata names the resource, the
/// authorization server and the scope; the authorization server's metadata
/// comes from RFC 8414's well-known URL first, then OpenID discovery's; the
/// authorization-code flow with PKCE asks for the metadata's `resource`
/// (RFC 8707); the token then opens the MCP session and calls the tool. A
/// token for another resource is 401 and one without the scope 403, both
/// naming the metadata again.
async fn mcp_example_end_to_end() {
    let mut provider = Provider::start().await;
    let server = Example::start("mcp_server", &["--issuer", &provider.issuer]).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(HTTP_TIMEOUT)
        .build()
        .expect("HTTP client");
    // What the user gives the MCP client: the server's URL.
    let endpoint = server.url("/mcp");
    let metadata_url = server.url("/.well-known/oauth-protected-resource/mcp");
    let named = format!("resource_metadata=\"{metadata_url}\"");
    let refused = |status: StatusCode, challenge: String| Outcome {
        status,
        www_authenticate: Some(challenge),
        body: String::new(),
    };

    // a. No token: 401, and the challenge says where the metadata is.
    let first = exchange(rpc(&client, &endpoint, None, initialize())).await;
    assert_eq!(
        first.outcome,
        refused(StatusCode::UNAUTHORIZED, format!("Bearer {named}"))
    );
    let challenge = first
        .outcome
        .www_authenticate
        .as_deref()
        .unwrap_or_default();
    let from_challenge = challenge
        .split_once("resource_metadata=\"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(url, _)| url)
        .expect("resource_metadata in the challenge");

    // b. The protected-resource metadata (RFC 9728), without a token. Its
    // `resource` is the URL the client was given (RFC 9728 §3.3).
    let metadata = exchange(client.get(from_challenge)).await;
    assert_eq!(metadata.outcome.status, StatusCode::OK, "{metadata:?}");
    assert_eq!(metadata.content_type.as_deref(), Some("application/json"));
    let document = metadata.json();
    assert_eq!(
        document,
        json!({
            "resource": endpoint,
            "authorization_servers": [provider.issuer],
            "scopes_supported": ["mcp:tools"],
            "bearer_methods_supported": ["header"],
            "resource_name": "bearer-guard MCP example",
        })
    );
    let resource = document["resource"].as_str().expect("resource");
    let authorization_server = document["authorization_servers"][0]
        .as_str()
        .expect("an authorization server");

    // c. The authorization server's metadata. Its issuer has no path, so
    // the MCP specification has the client try RFC 8414's well-known URL
    // first, then OpenID Connect discovery's. oidc-provider answers both,
    // with the same document.
    let mut discovered = Vec::new();
    for well_known in ["oauth-authorization-server", "openid-configuration"] {
        let url = format!("{authorization_server}/.well-known/{well_known}");
        let answer = exchange(client.get(&url)).await;
        assert_eq!(answer.outcome.status, StatusCode::OK, "{url}: {answer:?}");
        assert_eq!(
            answer.content_type.as_deref(),
            Some("application/json; charset=utf-8"),
            "{url}"
        );
        discovered.push(answer.json());
    }
    assert_eq!(discovered[0], discovered[1], "both well-known URLs");
    let server_metadata = &discovered[0];
    assert_eq!(server_metadata["issuer"], json!(authorization_server));
    // The client's PKCE method must be offered, or it must not proceed.
    let methods = server_metadata["code_challenge_methods_supported"]
        .as_array()
        .expect("code_challenge_methods_supported");
    assert!(methods.contains(&json!("S256")), "{methods:?}");
    // The endpoints the Provider helper drives the flow at.
    assert_eq!(
        server_metadata["authorization_endpoint"],
        json!(provider.url("/auth"))
    );
    assert_eq!(
        server_metadata["token_endpoint"],
        json!(provider.url("/token"))
    );
    // No dynamic client registration: the client is pre-registered
    // (`interop-app`, public, PKCE), one of the ways the specification allows.
    assert_eq!(server_metadata.get("registration_endpoint"), None);

    // d. Authorization code with PKCE, asking for the metadata's `resource`
    // and its `scopes_supported`; alice consents to them.
    let supported: Vec<&str> = document["scopes_supported"]
        .as_array()
        .expect("scopes_supported")
        .iter()
        .map(|s| s.as_str().expect("a scope"))
        .collect();
    let scope = format!("openid {}", supported.join(" "));
    let tokens = provider
        .authorization_code(resource, &scope, &supported.join(" "))
        .await;
    let token = tokens.access_token;
    assert_eq!(header(&token)["typ"], "at+jwt");
    let claims = payload(&token);
    assert_eq!(claims["aud"], json!(resource), "{claims}");
    assert_eq!(claims["iss"], json!(authorization_server), "{claims}");
    assert_eq!(claims["scope"], "mcp:tools", "{claims}");

    // e. The same request with the token: the MCP session opens.
    let opened = exchange(rpc(&client, &endpoint, Some(&token), initialize())).await;
    assert_eq!(
        (
            opened.outcome.status,
            opened.outcome.www_authenticate.as_deref()
        ),
        (StatusCode::OK, None),
        "{opened:?}"
    );
    assert_eq!(opened.content_type.as_deref(), Some("application/json"));
    let reply = opened.json();
    assert_eq!(reply["jsonrpc"], "2.0", "{reply}");
    assert_eq!(reply["id"], 1, "{reply}");
    assert_eq!(reply["result"]["protocolVersion"], MCP_VERSION, "{reply}");
    assert_eq!(
        reply["result"]["capabilities"],
        json!({"tools": {}}),
        "{reply}"
    );
    assert_eq!(
        reply["result"]["serverInfo"]["name"], "bearer-guard-mcp-example",
        "{reply}"
    );
    // Every later request carries the protocol version agreed on.
    let in_session = |message: String| {
        rpc(&client, &endpoint, Some(&token), message).header("MCP-Protocol-Version", MCP_VERSION)
    };
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let noted = exchange(in_session(initialized.to_string())).await;
    assert_eq!(
        noted.outcome,
        Outcome {
            status: StatusCode::ACCEPTED,
            www_authenticate: None,
            body: String::new(),
        }
    );
    let call = |id: u32, method: &str, params: Value| {
        let message = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        exchange(in_session(message.to_string()))
    };
    let listed = call(2, "tools/list", json!({})).await;
    assert_eq!(listed.outcome.status, StatusCode::OK, "{listed:?}");
    let tools = listed.json()["result"]["tools"].clone();
    assert_eq!(tools[0]["name"], "whoami", "{tools}");
    assert_eq!(tools.as_array().map(Vec::len), Some(1), "{tools}");
    let called = call(3, "tools/call", json!({"name": "whoami", "arguments": {}})).await;
    assert_eq!(called.outcome.status, StatusCode::OK, "{called:?}");
    assert_eq!(
        called.json(),
        json!({"jsonrpc": "2.0", "id": 3, "result": {
            "content": [{
                "type": "text",
                "text": "sub: alice\nclient_id: interop-app\nscopes: mcp:tools",
            }],
            "isError": false,
        }})
    );
    let unknown = call(4, "resources/list", json!({})).await;
    assert_eq!(unknown.outcome.status, StatusCode::OK, "{unknown:?}");
    assert_eq!(unknown.json()["id"], 4);
    assert_eq!(unknown.json()["error"]["code"], -32601);
    let no_such_tool = call(5, "tools/call", json!({"name": "rm", "arguments": {}})).await;
    assert_eq!(
        no_such_tool.outcome.status,
        StatusCode::OK,
        "{no_such_tool:?}"
    );
    assert_eq!(no_such_tool.json()["error"]["code"], -32602);
    let garbled = exchange(in_session("{".to_owned())).await;
    assert_eq!(
        garbled.outcome.status,
        StatusCode::BAD_REQUEST,
        "{garbled:?}"
    );
    assert_eq!(garbled.json()["error"]["code"], -32700);
    assert_eq!(garbled.json()["id"], Value::Null);

    // f. Alice's token for the same client from the same authorization
    // server, signed with the same key, but for another resource: only its
    // audience differs.
    provider.sign_out();
    let other_resource = format!("{RESOURCE}rs256");
    let other = provider
        .authorization_code(&other_resource, "openid notes.read", "notes.read")
        .await
        .access_token;
    let claims = payload(&other);
    assert_eq!(claims["aud"], json!(other_resource), "{claims}");
    assert_eq!(claims["sub"], "alice", "{claims}");
    assert_eq!(claims["client_id"], "interop-app", "{claims}");
    assert_eq!(header(&other)["kid"], header(&token)["kid"]);
    assert_eq!(
        exchange(rpc(&client, &endpoint, Some(&other), initialize()))
            .await
            .outcome,
        refused(
            StatusCode::UNAUTHORIZED,
            format!("Bearer error=\"invalid_token\", {named}")
        )
    );
    server.logged("code=\"audience_mismatch\"").await;

    // g. A token for this resource, but alice granted nothing of its scope.
    provider.sign_out();
    let without_scope = provider
        .authorization_code(resource, &scope, "")
        .await
        .access_token;
    let claims = payload(&without_scope);
    assert_eq!(claims["aud"], json!(resource), "{claims}");
    assert_eq!(claims.get("scope"), None, "{claims}");
    assert_eq!(
        exchange(rpc(&client, &endpoint, Some(&without_scope), initialize()))
            .await
            .outcome,
        refused(
            StatusCode::FORBIDDEN,
            format!("Bearer error=\"insufficient_scope\", scope=\"mcp:tools\", {named}")
        )
    );
    server.logged("code=\"insufficient_scope\"").await;
}

// ---------------------------------------------------------------------------
// jose
// ---------------------------------------------------------------------------

/// Every algorithm the crate accepts, each signed by `jose` with its own key:
/// 200 with the claims jose put in; one flipped signature byte → 401; a wrong
/// `aud` → 401; a `kid` of the set with a key that is not → 401. The key set
/// (served here, on loopback) is fetched once.
async fn jose_every_accepted_algorithm() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let audience = format!("{RESOURCE}jose");
    let (_node, minted) = NodeScript::start("jose-tokens.mjs", &[&base, &audience]).await;

    let jwks = minted["jwks"].clone();
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&fetches);
    let keys = Router::new().route(
        "/jwks",
        get(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            let body = jwks.to_string();
            async move { ([(http::header::CONTENT_TYPE, "application/json")], body) }
        }),
    );
    let server = tokio::spawn(async move { axum::serve(listener, keys).await });

    let api_layer = layer(
        BearerAuthLayer::builder()
            .issuer(&base)
            .audience(&audience)
            .jwks_uri(format!("{base}/jwks")),
    );
    let app = api(api_layer.clone());

    let tokens = minted["tokens"].as_array().expect("tokens");
    let algorithms: Vec<&str> = tokens
        .iter()
        .map(|t| t["alg"].as_str().expect("alg"))
        .collect();
    let accepted: Vec<String> = bearer_guard::DEFAULT_ALGORITHMS
        .iter()
        .map(|a| format!("{a:?}"))
        .collect();
    assert_eq!(
        algorithms, accepted,
        "jose signs every algorithm the crate accepts"
    );
    for entry in tokens {
        let alg = entry["alg"].as_str().expect("alg");
        let token = entry["token"].as_str().expect("token");
        assert_eq!(
            header(token),
            json!({"alg": alg, "kid": alg, "typ": "at+jwt"}),
            "{alg}"
        );
        let seen = me_ok(&app, token).await;
        assert_eq!(seen["sub"], format!("jose-{alg}"), "{seen}");
        assert_eq!(seen["iss"], json!(base), "{seen}");
        assert_eq!(seen["aud"], json!([audience]), "{seen}");
        assert_eq!(seen["client_id"], "jose-client", "{seen}");
        assert_eq!(seen["scopes"], json!(["notes.read"]), "{seen}");
        assert_eq!(seen["claims"]["jti"], payload(token)["jti"], "{seen}");
        assert_eq!(get_with(&app, "/notes", token).await, support::ok("notes"));
        assert_eq!(
            send(&app, "POST", "/notes", Some(&format!("Bearer {token}"))).await,
            insufficient("notes.write")
        );

        let tampered = flip_signature_byte(token);
        assert_eq!(
            get_with(&app, "/me", &tampered).await,
            invalid_token(),
            "{alg} with a flipped signature byte"
        );
        assert_eq!(
            code(&api_layer, &tampered).await,
            "invalid_signature",
            "{alg}"
        );
    }

    let wrong_aud = minted["wrong_aud"].as_str().expect("wrong_aud");
    assert_eq!(get_with(&app, "/me", wrong_aud).await, invalid_token());
    assert_eq!(code(&api_layer, wrong_aud).await, "audience_mismatch");
    let unpublished = minted["unpublished_key"].as_str().expect("unpublished_key");
    assert_eq!(get_with(&app, "/me", unpublished).await, invalid_token());
    assert_eq!(code(&api_layer, unpublished).await, "invalid_signature");

    assert_eq!(fetches.load(Ordering::SeqCst), 1, "one key-set fetch");
    server.abort();
}
