//! The `notes_api` example's published interface, driven as a real process the
//! way outside scripts drive it (`cargo run --example notes_api -- …`): the
//! flags, the `listening on ADDR` line with the actually bound port, exit
//! status 2 for bad arguments, and each route against the local test issuer —
//! `/health` public, `/notes` guarded by scope or role, `POST /notes` storing a
//! note with its author's `sub`, `/me` returning the validated claims, `at+jwt`
//! and `JWT` typ both accepted, unknown paths staying 404 — plus the exact key
//! traffic that discovery and `--jwks-uri` cause, and with `--resource` the
//! RFC 9728 metadata document and its parameter on every challenge.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bearer_guard::testing::TestIssuer;

use crate::support::start;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

/// Long enough for a cold build of the example; only there so a broken build
/// cannot hang the test forever. Not a performance assertion.
const STARTUP_DEADLINE: Duration = Duration::from_secs(300);

/// `cargo run --quiet --example notes_api -- <args>` in this crate.
fn notes_api(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO"));
    command
        .args(["run", "--quiet", "--example", "notes_api", "--"])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("RUST_LOG", "info");
    command
}

/// A running `notes_api`; killed when dropped, also when a test panics.
struct Server {
    child: Child,
    base: String,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    async fn start(args: &[&str]) -> Server {
        Server::spawn(notes_api(args)).await
    }

    async fn spawn(mut command: Command) -> Server {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn cargo run");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().expect("stderr");
        let sink = Arc::clone(&stderr);
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = pipe.read(&mut buf).await {
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let first = tokio::time::timeout(STARTUP_DEADLINE, lines.next_line()).await;
        let mut server = Server {
            child,
            base: String::new(),
            stderr,
        };
        let addr = match first {
            Ok(Ok(Some(line))) => match line.strip_prefix("listening on ") {
                Some(addr) => addr.to_owned(),
                None => panic!(
                    "first stdout line is {line:?}\nstderr:\n{}",
                    server.stderr()
                ),
            },
            other => panic!(
                "no `listening on` line: {other:?}\nstderr:\n{}",
                server.stderr()
            ),
        };
        let port: u16 = addr
            .rsplit_once(':')
            .and_then(|(_, port)| port.parse().ok())
            .expect("ADDR ends with :PORT");
        assert_ne!(
            port, 0,
            "the actually bound port is printed, not the requested one"
        );
        server.base = format!("http://{addr}");
        // Keep reading stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        server
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// Status, `WWW-Authenticate` and body of one response.
async fn outcome(request: reqwest::RequestBuilder) -> (StatusCode, Option<String>, String) {
    let response = request.send().await.expect("request");
    let status = response.status();
    let challenge = response
        .headers()
        .get(WWW_AUTHENTICATE)
        .map(|v| v.to_str().expect("ascii").to_owned());
    (status, challenge, response.text().await.expect("body"))
}

/// The flags every test passes: the local issuer, its audience, any port.
fn against(issuer: &TestIssuer) -> [&str; 6] {
    [
        "--issuer",
        issuer.issuer(),
        "--audience",
        TestIssuer::AUDIENCE,
        "--listen",
        "127.0.0.1:0",
    ]
}

/// A response with `status`, the challenge `challenge` and an empty body.
fn answer(status: StatusCode, challenge: Option<&str>) -> (StatusCode, Option<String>, String) {
    (status, challenge.map(str::to_owned), String::new())
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body:?}"))
}

#[tokio::test]
async fn serves_each_route_against_a_discovered_issuer() {
    let issuer = start().await;
    let server = Server::start(&against(&issuer)).await;
    let client = reqwest::Client::new();
    let bearer = |token: String| format!("Bearer {token}");

    let health = outcome(client.get(server.url("/health"))).await;
    assert_eq!(health, (StatusCode::OK, None, "ok".to_owned()));

    let anonymous = outcome(client.get(server.url("/notes"))).await;
    assert_eq!(
        anonymous,
        (
            StatusCode::UNAUTHORIZED,
            Some("Bearer".to_owned()),
            String::new()
        )
    );

    let unknown = outcome(client.get(server.url("/nope"))).await;
    assert_eq!((unknown.0, unknown.1), (StatusCode::NOT_FOUND, None));

    let reader = bearer(
        issuer
            .token()
            .claim("sub", "alice")
            .scope("notes.read")
            .sign(),
    );
    let empty = outcome(
        client
            .get(server.url("/notes"))
            .header(AUTHORIZATION, &reader),
    )
    .await;
    assert_eq!((empty.0, empty.1), (StatusCode::OK, None));
    assert_eq!(json(&empty.2), serde_json::json!([]));

    let denied = outcome(
        client
            .post(server.url("/notes"))
            .header(AUTHORIZATION, &reader)
            .header(CONTENT_TYPE, "application/json")
            .body(r#"{"text":"not allowed"}"#),
    )
    .await;
    assert_eq!(
        denied,
        (
            StatusCode::FORBIDDEN,
            Some(r#"Bearer error="insufficient_scope", scope="notes.write""#.to_owned()),
            String::new()
        )
    );

    let writer = bearer(
        issuer
            .token()
            .claim("sub", "bob")
            .scope("notes.write")
            .sign(),
    );
    let created = outcome(
        client
            .post(server.url("/notes"))
            .header(AUTHORIZATION, &writer)
            .header(CONTENT_TYPE, "application/json")
            .body(r#"{"text":"buy milk"}"#),
    )
    .await;
    assert_eq!((created.0, created.1), (StatusCode::CREATED, None));
    let note = serde_json::json!({"id": 1, "text": "buy milk", "author": "bob"});
    assert_eq!(json(&created.2), note);

    // An app-only token (role, no scope), typed `JWT` rather than `at+jwt`.
    let app = bearer(
        issuer
            .token()
            .claim("sub", "sync-app")
            .roles(&["Notes.Read.All"])
            .typ(Some("JWT"))
            .sign(),
    );
    let listed = outcome(client.get(server.url("/notes")).header(AUTHORIZATION, &app)).await;
    assert_eq!((listed.0, listed.1), (StatusCode::OK, None));
    assert_eq!(json(&listed.2), serde_json::json!([note]));

    let me = outcome(client.get(server.url("/me")).header(AUTHORIZATION, &reader)).await;
    assert_eq!((me.0, me.1), (StatusCode::OK, None));
    let claims = json(&me.2);
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["scp"], "notes.read");
    assert_eq!(claims["iss"], issuer.issuer());
    assert_eq!(claims["aud"], TestIssuer::AUDIENCE);

    let expired = bearer(issuer.token().scope("notes.read").expires_in(-3600).sign());
    let rejected = outcome(
        client
            .get(server.url("/me"))
            .header(AUTHORIZATION, &expired),
    )
    .await;
    assert_eq!(
        rejected,
        (
            StatusCode::UNAUTHORIZED,
            Some(r#"Bearer error="invalid_token""#.to_owned()),
            String::new()
        )
    );

    // Warm-up and every request above shared one discovery and one key-set fetch.
    assert_eq!(
        (issuer.discovery_requests(), issuer.jwks_requests()),
        (1, 1)
    );
    drop(server);
}

#[tokio::test]
async fn jwks_uri_flag_skips_discovery() {
    let issuer = start().await;
    let jwks_uri = issuer.jwks_uri();
    let server = Server::start(&[
        "--issuer",
        issuer.issuer(),
        "--audience",
        TestIssuer::AUDIENCE,
        "--jwks-uri",
        &jwks_uri,
        "--listen",
        "127.0.0.1:0",
    ])
    .await;
    let token = issuer.token().scope("notes.read").sign();
    let response = outcome(
        reqwest::Client::new()
            .get(server.url("/notes"))
            .header(AUTHORIZATION, format!("Bearer {token}")),
    )
    .await;
    assert_eq!(response, (StatusCode::OK, None, "[]".to_owned()));
    assert_eq!(
        (issuer.discovery_requests(), issuer.jwks_requests()),
        (0, 1)
    );
}

#[tokio::test]
async fn bad_arguments_exit_with_status_2_and_the_usage() {
    let cases: [(&[&str], &str); 6] = [
        (&["--audience", "api://notes"], "--issuer is required"),
        (
            &["--issuer", "https://issuer.example"],
            "--audience is required",
        ),
        (
            &[
                "--issuer",
                "https://issuer.example",
                "--audience",
                "a",
                "--port",
                "1",
            ],
            "unknown argument `--port`",
        ),
        (
            &["--issuer", "https://issuer.example", "--audience"],
            "--audience needs a value",
        ),
        (
            &[
                "--issuer",
                "https://issuer.example",
                "--audience",
                "a",
                "--require-dpop",
            ],
            "--require-dpop needs --resource",
        ),
        (
            &[
                "--issuer",
                "https://issuer.example",
                "--audience",
                "a",
                "--client-id",
                "x",
            ],
            "--introspection-url, --client-id and --client-secret go together",
        ),
    ];
    for (args, problem) in cases {
        let output = tokio::time::timeout(
            STARTUP_DEADLINE,
            notes_api(args).kill_on_drop(true).output(),
        )
        .await
        .expect("exits")
        .expect("runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}\nstderr:\n{stderr}");
        assert!(stderr.contains(problem), "{args:?}: {stderr}");
        assert!(
            stderr.contains("usage: notes_api --issuer URL --audience AUD"),
            "{args:?}: {stderr}"
        );
        assert_eq!(String::from_utf8_lossy(&output.stdout), "", "{args:?}");
    }
}

/// `--resource URL`: the RFC 9728 document at the §3.1 place (with URL's
/// path after the well-known suffix), public, and `resource_metadata="…"`
/// on every 401 and 403 challenge; without the flag, neither.
#[tokio::test]
async fn resource_flag_serves_the_metadata_and_names_it_in_every_challenge() {
    let issuer = start().await;
    let client = reqwest::Client::new();
    let reader = issuer.token().scope("notes.read").sign();
    for (resource, at) in [
        (
            "http://127.0.0.1:9",
            "http://127.0.0.1:9/.well-known/oauth-protected-resource",
        ),
        (
            "http://127.0.0.1:9/notes",
            "http://127.0.0.1:9/.well-known/oauth-protected-resource/notes",
        ),
    ] {
        let server =
            Server::start(&[&against(&issuer)[..], &["--resource", resource]].concat()).await;
        let path = at.trim_start_matches("http://127.0.0.1:9");
        let response = client.get(server.url(path)).send().await.expect("request");
        assert_eq!(response.status(), StatusCode::OK, "{resource}");
        assert_eq!(
            response.headers().get(CONTENT_TYPE).map(|v| v.as_bytes()),
            Some(&b"application/json"[..])
        );
        let document = json(&response.text().await.expect("body"));
        assert_eq!(document["resource"], resource);
        assert_eq!(
            document["authorization_servers"],
            serde_json::json!([issuer.issuer()])
        );
        assert_eq!(
            document["bearer_methods_supported"],
            serde_json::json!(["header"])
        );
        let scopes = document["scopes_supported"].as_array().expect("a list");
        for scope in ["notes.read", "notes.write"] {
            assert!(scopes.contains(&scope.into()), "{scope} in {scopes:?}");
        }
        let param = format!("resource_metadata=\"{at}\"");
        assert_eq!(
            outcome(client.get(server.url("/notes"))).await,
            answer(StatusCode::UNAUTHORIZED, Some(&format!("Bearer {param}")))
        );
        assert_eq!(
            outcome(
                client
                    .get(server.url("/notes"))
                    .header(AUTHORIZATION, "Bearer x.y.z")
            )
            .await,
            answer(
                StatusCode::UNAUTHORIZED,
                Some(&format!("Bearer error=\"invalid_token\", {param}"))
            )
        );
        assert_eq!(
            outcome(
                client
                    .post(server.url("/notes"))
                    .header(AUTHORIZATION, format!("Bearer {reader}"))
                    .header(CONTENT_TYPE, "application/json")
                    .body(r#"{"text":"x"}"#)
            )
            .await,
            answer(
                StatusCode::FORBIDDEN,
                Some(&format!(
                    "Bearer error=\"insufficient_scope\", scope=\"notes.write\", {param}"
                ))
            )
        );
    }

    let plain = Server::start(&against(&issuer)).await;
    let response = client
        .get(plain.url("/.well-known/oauth-protected-resource"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        outcome(client.get(plain.url("/notes"))).await,
        answer(StatusCode::UNAUTHORIZED, Some("Bearer"))
    );
}

/// `DELETE /notes` needs the write permission, and with `--step-up-acr` and
/// `--step-up-max-age` the sign-in they name (RFC 9470); without the flags,
/// the permission only.
#[tokio::test]
async fn step_up_flags_guard_deleting_every_note() {
    let issuer = start().await;
    let client = reqwest::Client::new();
    let now = crate::support::now();
    let token = |scope: &str, acr: &str, auth_time: i64| {
        issuer
            .token()
            .scope(scope)
            .claim("acr", acr)
            .claim("auth_time", auth_time)
            .sign()
    };
    let delete = |server: &Server, token: &str| {
        client
            .delete(server.url("/notes"))
            .header(AUTHORIZATION, format!("Bearer {token}"))
    };
    let base = against(&issuer);

    let plain = Server::start(&base).await;
    let weak = token("notes.write", "pwd", now - 86_400);
    assert_eq!(
        outcome(delete(&plain, &weak)).await,
        answer(StatusCode::NO_CONTENT, None)
    );

    let mut args = base.to_vec();
    args.extend([
        "--step-up-acr",
        "urn:example:mfa",
        "--step-up-max-age",
        "300",
    ]);
    let guarded = Server::start(&args).await;
    let challenge = "Bearer error=\"insufficient_user_authentication\", \
                     acr_values=\"urn:example:mfa\", max_age=\"300\"";
    let writer = token("notes.write", "urn:example:mfa", now);
    let write = client
        .post(guarded.url("/notes"))
        .header(AUTHORIZATION, format!("Bearer {writer}"))
        .header(CONTENT_TYPE, "application/json")
        .body(r#"{"text":"x"}"#);
    assert_eq!(outcome(write).await.0, StatusCode::CREATED);
    for (refused, what) in [
        (token("notes.write", "pwd", now), "another acr"),
        (
            token("notes.write", "urn:example:mfa", now - 3600),
            "an old sign-in",
        ),
    ] {
        assert_eq!(
            outcome(delete(&guarded, &refused)).await,
            answer(StatusCode::UNAUTHORIZED, Some(challenge)),
            "{what}"
        );
    }
    assert_eq!(
        outcome(delete(
            &guarded,
            &token("notes.read", "urn:example:mfa", now)
        ))
        .await,
        answer(
            StatusCode::FORBIDDEN,
            Some("Bearer error=\"insufficient_scope\", scope=\"notes.write\"")
        ),
        "the permission first"
    );
    assert_eq!(
        outcome(delete(&guarded, &writer)).await,
        answer(StatusCode::NO_CONTENT, None)
    );
    let reader = token("notes.read", "pwd", now);
    let list = client
        .get(guarded.url("/notes"))
        .header(AUTHORIZATION, format!("Bearer {reader}"));
    assert_eq!(outcome(list).await, (StatusCode::OK, None, "[]".into()));

    let output = tokio::time::timeout(
        STARTUP_DEADLINE,
        notes_api(&[&base[..4], &["--step-up-max-age", "5m"][..]].concat())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("exits")
    .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("--step-up-max-age needs whole seconds")
    );
}

/// Every `WWW-Authenticate` value of a response, with its status.
async fn challenges(request: reqwest::RequestBuilder) -> (StatusCode, Vec<String>) {
    let response = request.send().await.expect("request");
    let values = response
        .headers()
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .map(|v| v.to_str().expect("ascii").to_owned())
        .collect();
    (response.status(), values)
}

/// `--resource URL` also accepts DPoP (RFC 9449) with URL as the public base
/// URL of the proofs' `htu` (the server listens elsewhere, as behind a
/// proxy); the challenges name the scheme used and the accepted `algs`, a
/// request without credentials is offered both schemes, and the metadata
/// lists the proof algorithms. `--require-dpop` refuses bearer tokens and
/// offers only DPoP. Without `--resource`, `DPoP` is an unknown scheme.
#[tokio::test]
async fn resource_flag_accepts_dpop_and_require_dpop_refuses_bearer_tokens() {
    use bearer_guard::testing::{DpopKey, KeyKind};
    const BASE: &str = "https://notes.example.test";
    const ALGS: &str = "algs=\"RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 EdDSA\"";
    let at =
        "resource_metadata=\"https://notes.example.test/.well-known/oauth-protected-resource\"";
    let issuer = start().await;
    let client = reqwest::Client::new();
    let key = DpopKey::new(KeyKind::Es256, 0);
    let bound_reader = issuer
        .token()
        .scope("notes.read")
        .claim("cnf", key.cnf())
        .sign();
    let plain_reader = issuer.token().scope("notes.read").sign();
    let proof = |method: &str, path: &str, token: &str| {
        key.proof(method, &format!("{BASE}{path}"))
            .access_token(token)
            .sign()
    };
    let dpop =
        |server: &Server, method: reqwest::Method, path: &str, token: &str, proof: String| {
            client
                .request(method, server.url(path))
                .header(AUTHORIZATION, format!("DPoP {token}"))
                .header("DPoP", proof)
        };

    let server = Server::start(&[&against(&issuer)[..], &["--resource", BASE]].concat()).await;
    let document = json(
        &client
            .get(server.url("/.well-known/oauth-protected-resource"))
            .send()
            .await
            .expect("request")
            .text()
            .await
            .expect("body"),
    );
    assert_eq!(
        document["dpop_signing_alg_values_supported"],
        serde_json::json!([
            "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"
        ])
    );
    let get = reqwest::Method::GET;
    assert_eq!(
        outcome(dpop(
            &server,
            get.clone(),
            "/notes",
            &bound_reader,
            proof("GET", "/notes", &bound_reader)
        ))
        .await,
        (StatusCode::OK, None, "[]".to_owned())
    );
    assert_eq!(
        challenges(client.get(server.url("/notes"))).await,
        (
            StatusCode::UNAUTHORIZED,
            vec![format!("Bearer {at}"), format!("DPoP {ALGS}, {at}")]
        )
    );
    // A proof for the address the server listens on, not the public one.
    let wrong_htu = key
        .proof("GET", &server.url("/notes"))
        .access_token(&bound_reader)
        .sign();
    assert_eq!(
        challenges(dpop(
            &server,
            get.clone(),
            "/notes",
            &bound_reader,
            wrong_htu
        ))
        .await,
        (
            StatusCode::UNAUTHORIZED,
            vec![format!("DPoP error=\"invalid_dpop_proof\", {ALGS}, {at}")]
        )
    );
    assert_eq!(
        challenges(dpop(
            &server,
            get.clone(),
            "/notes",
            &plain_reader,
            proof("GET", "/notes", &plain_reader)
        ))
        .await,
        (
            StatusCode::UNAUTHORIZED,
            vec![format!("DPoP error=\"invalid_token\", {ALGS}, {at}")]
        )
    );
    let post = dpop(
        &server,
        reqwest::Method::POST,
        "/notes",
        &bound_reader,
        proof("POST", "/notes", &bound_reader),
    )
    .header(CONTENT_TYPE, "application/json")
    .body(r#"{"text":"x"}"#);
    assert_eq!(
        challenges(post).await,
        (
            StatusCode::FORBIDDEN,
            vec![format!(
                "DPoP error=\"insufficient_scope\", scope=\"notes.write\", {ALGS}, {at}"
            )]
        )
    );
    assert_eq!(
        challenges(
            client
                .get(server.url("/notes"))
                .header(AUTHORIZATION, format!("Bearer {bound_reader}"))
        )
        .await,
        (
            StatusCode::UNAUTHORIZED,
            vec![format!("Bearer error=\"invalid_token\", {at}")]
        )
    );
    assert_eq!(
        outcome(
            client
                .get(server.url("/notes"))
                .header(AUTHORIZATION, format!("Bearer {plain_reader}"))
        )
        .await,
        (StatusCode::OK, None, "[]".to_owned())
    );
    drop(server);

    let required = Server::start(
        &[
            &against(&issuer)[..],
            &["--resource", BASE, "--require-dpop"],
        ]
        .concat(),
    )
    .await;
    let only_dpop = (StatusCode::UNAUTHORIZED, vec![format!("DPoP {ALGS}, {at}")]);
    assert_eq!(
        challenges(client.get(required.url("/notes"))).await,
        only_dpop
    );
    assert_eq!(
        challenges(
            client
                .get(required.url("/notes"))
                .header(AUTHORIZATION, format!("Bearer {plain_reader}"))
        )
        .await,
        only_dpop
    );
    assert_eq!(
        outcome(dpop(
            &required,
            get.clone(),
            "/notes",
            &bound_reader,
            proof("GET", "/notes", &bound_reader)
        ))
        .await,
        (StatusCode::OK, None, "[]".to_owned())
    );
    drop(required);

    let plain = Server::start(&against(&issuer)).await;
    assert_eq!(
        challenges(dpop(
            &plain,
            get,
            "/notes",
            &bound_reader,
            proof("GET", "/notes", &bound_reader)
        ))
        .await,
        (StatusCode::UNAUTHORIZED, vec!["Bearer".to_owned()])
    );
}

/// `--introspection-url URL --client-id ID --client-secret SECRET`: opaque
/// tokens go to URL (HTTP Basic), the answer is checked against `--issuer`
/// and `--audience`, its `scope` meets the routes, `GET /me` returns its
/// members, one call per token while it is kept, 503 when the endpoint
/// cannot answer; JWTs are still validated locally.
#[tokio::test]
async fn introspection_flags_validate_opaque_tokens_at_the_endpoint() {
    use crate::introspection::{CLIENT_ID, Reply, SECRET, endpoint};
    use serde_json::json;
    let issuer = start().await;
    let (endpoint, url) = endpoint().await;
    let now = crate::support::now();
    let active = |scope: &str| {
        json!({
            "active": true, "iss": issuer.issuer(), "aud": TestIssuer::AUDIENCE,
            "scope": scope, "sub": "alice", "client_id": "client-1",
            "token_type": "Bearer", "exp": now + 3600,
        })
    };
    endpoint.answer("reader", Reply::Json(active("notes.read")));
    endpoint.answer("inactive", Reply::Json(json!({"active": false})));
    let mut bare = active("notes.read");
    bare.as_object_mut().expect("object").remove("aud");
    bare.as_object_mut().expect("object").remove("token_type");
    endpoint.answer("bare", Reply::Json(bare));
    let mut foreign = active("notes.read");
    foreign["iss"] = json!("https://evil.example");
    endpoint.answer("foreign", Reply::Json(foreign));
    endpoint.answer("broken", Reply::Raw(500, "application/json", "{}".into()));
    let server = Server::start(
        &[
            &against(&issuer)[..],
            &[
                "--introspection-url",
                &url,
                "--client-id",
                CLIENT_ID,
                "--client-secret",
                SECRET,
            ],
        ]
        .concat(),
    )
    .await;
    let client = reqwest::Client::new();
    let get = |path: &str, token: &str| {
        client
            .get(server.url(path))
            .header(AUTHORIZATION, format!("Bearer {token}"))
    };
    for _ in 0..2 {
        assert_eq!(
            outcome(get("/notes", "reader")).await,
            (StatusCode::OK, None, "[]".to_owned())
        );
    }
    assert_eq!(endpoint.calls(), 1, "one call for the same token");
    let (status, _, body) = outcome(get("/me", "reader")).await;
    assert_eq!(status, StatusCode::OK);
    let me = json(&body);
    assert_eq!(
        (&me["sub"], &me["active"], &me["client_id"]),
        (&json!("alice"), &json!(true), &json!("client-1"))
    );
    assert_eq!(
        outcome(
            client
                .post(server.url("/notes"))
                .header(AUTHORIZATION, "Bearer reader")
                .header(CONTENT_TYPE, "application/json")
                .body(r#"{"text":"x"}"#)
        )
        .await,
        answer(
            StatusCode::FORBIDDEN,
            Some("Bearer error=\"insufficient_scope\", scope=\"notes.write\"")
        )
    );
    for token in ["inactive", "bare", "foreign"] {
        assert_eq!(
            outcome(get("/notes", token)).await,
            answer(
                StatusCode::UNAUTHORIZED,
                Some("Bearer error=\"invalid_token\"")
            ),
            "{token}"
        );
    }
    let response = get("/notes", "broken").send().await.expect("request");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .is_some()
    );
    let calls = endpoint.calls();
    let jwt = issuer.token().scope("notes.read").sign();
    assert_eq!(
        outcome(get("/notes", &jwt)).await,
        (StatusCode::OK, None, "[]".to_owned())
    );
    assert_eq!(endpoint.calls(), calls, "a JWT is validated locally");
}

/// Environment that hides the platform's certificate store from
/// rustls-platform-verifier (through rustls-native-certs, which then reads
/// only these paths): a slim container without `ca-certificates`.
const NO_CERTIFICATE_STORE: [(&str, &str); 2] = [
    ("SSL_CERT_FILE", "/nonexistent/bearer-guard-test/cert.pem"),
    ("SSL_CERT_DIR", "/nonexistent/bearer-guard-test/certs"),
];

/// notes_api run as its built binary, not through `cargo run`: cargo
/// replaces `SSL_CERT_FILE` and `SSL_CERT_DIR` that name no file with the
/// system's (openssl-probe), which would undo [`NO_CERTIFICATE_STORE`].
async fn notes_api_binary(args: &[&str]) -> Command {
    let mut build = Command::new(env!("CARGO"));
    build
        .args(["build", "--quiet", "--example", "notes_api"])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    // The example with the roots this test was built with.
    if cfg!(feature = "webpki-roots") {
        build.args(["--features", "webpki-roots"]);
    }
    let built = build.status().await.expect("cargo build");
    assert!(built.success(), "notes_api builds");
    // This test binary is target/…/deps/it-HASH; examples sit beside deps.
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target directory");
    let mut command = Command::new(dir.join("examples").join("notes_api"));
    command.args(args).env("RUST_LOG", "info");
    command
}

/// Issue 17.2: without a certificate store, an API whose every URL is plain
/// `http` (loopback) still starts and serves; one with an `https` issuer
/// does not, and says why (the cause chain, not just "builder error").
#[tokio::test]
async fn without_a_certificate_store_http_only_starts_and_https_says_why() {
    let issuer = start().await;
    let mut command = notes_api_binary(&against(&issuer)).await;
    command.envs(NO_CERTIFICATE_STORE);
    let server = Server::spawn(command).await;
    let token = issuer.token().scope("notes.read").sign();
    let got = outcome(
        reqwest::Client::new()
            .get(server.url("/notes"))
            .header(AUTHORIZATION, format!("Bearer {token}")),
    )
    .await;
    assert_eq!(got.0, StatusCode::OK, "{}", server.stderr());
    if !cfg!(feature = "webpki-roots") {
        // The store was really unreadable: the verifier said so.
        assert!(
            server.stderr().contains("no usable certificate store"),
            "{}",
            server.stderr()
        );
    }

    let mut command = notes_api_binary(&[
        "--issuer",
        "https://login.example.com/tenant/v2.0",
        "--audience",
        "api://notes",
        "--listen",
        "127.0.0.1:0",
    ])
    .await;
    command.envs(NO_CERTIFICATE_STORE);
    if cfg!(feature = "webpki-roots") {
        // Bundled roots: nothing is read from the machine, so it starts.
        let _started = Server::spawn(command).await;
        return;
    }
    command.kill_on_drop(true);
    let output = tokio::time::timeout(STARTUP_DEADLINE, command.output())
        .await
        .expect("notes_api exits instead of serving")
        .expect("run notes_api");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    // rustls's reason, under reqwest's "builder error".
    assert!(
        stderr.contains(
            "notes_api: invalid configuration: HTTP client: builder error: \
             unexpected error: No CA certificates were loaded from the system"
        ),
        "{stderr}"
    );
}

/// Issue 17.2: the environment's proxy settings are honoured as reqwest
/// honours them: with `HTTP_PROXY` naming a loopback server that answers
/// absolute-form requests, notes_api's key fetch for a port nobody listens
/// on is answered by that proxy.
#[tokio::test]
async fn the_environments_proxy_is_honoured() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let issuer = Arc::new(start().await);
    let served = Arc::new(AtomicUsize::new(0));
    let (from, count) = (Arc::clone(&issuer), Arc::clone(&served));
    let proxy = crate::support::serve(axum::Router::new().route(
        "/jwks",
        axum::routing::get(move || {
            count.fetch_add(1, Ordering::SeqCst);
            let body = from.jwks_document();
            async move { body }
        }),
    ))
    .await;
    // A port that was just free: nothing answers there but the proxy.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .local_addr()
        .expect("addr");
    let jwks_uri = format!("http://{closed}/jwks");
    let mut args = against(&issuer).to_vec();
    args.extend(["--jwks-uri", jwks_uri.as_str()]);
    let mut command = notes_api_binary(&args).await;
    command
        .env("HTTP_PROXY", &proxy)
        .env("http_proxy", &proxy)
        .env_remove("NO_PROXY")
        .env_remove("no_proxy");
    let server = Server::spawn(command).await;
    let token = issuer.token().scope("notes.read").sign();
    let got = outcome(
        reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client")
            .get(server.url("/notes"))
            .header(AUTHORIZATION, format!("Bearer {token}")),
    )
    .await;
    assert_eq!(got.0, StatusCode::OK, "{}", server.stderr());
    assert!(served.load(Ordering::SeqCst) >= 1);
}
