//! Per-route authorization and the handing over of claims (issue 2, points 4
//! and 5), through axum routers and the local test issuer: "scope OR app
//! role" on one route, all-of requirements, whole-token matching of
//! space-separated scopes, the `scp`/`scope`/`roles` shapes, `route_layer`
//! keeping a 404 a 404, optional authentication, typed `Claims<T>` (also as
//! `Option`), and the guard on its own without the authentication layer.
//!
//! Scopes and roles that only resemble the required one, and permission
//! claims of the wrong JSON type, are rows of
//! `attacks::scope_and_role_matching`, not repeated here.
//!
//! Every rejection asserts the exact status, the exact `WWW-Authenticate`
//! value and the (empty) body.

use crate::support::{
    Outcome, app, bare, get_with, insufficient, invalid_request, invalid_token, layer, ok, send,
    start,
};
use axum::Router;
use axum::routing::get;
use bearer_guard::testing::{TestIssuer, TokenBuilder};
use bearer_guard::{Authenticated, Claims, Requirement, require};
use http::StatusCode;
use serde::Deserialize;
use serde_json::json;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn not_found() -> Outcome {
    Outcome {
        status: StatusCode::NOT_FOUND,
        www_authenticate: None,
        body: String::new(),
    }
}

/// An app-only (client-credentials) token: roles, no `scp`.
fn app_token<'a>(issuer: &'a TestIssuer, roles: &[&str]) -> TokenBuilder<'a> {
    issuer.token().roles(roles).claim("azp", "client-app")
}

// ---------------------------------------------------------------------------
// Scope OR app role (Microsoft.Identity.Web RequiredScopeOrAppPermission)
// ---------------------------------------------------------------------------

#[tokio::test]
async fn delegated_token_with_the_scope_passes() {
    let issuer = start().await;
    let app = app(layer(&issuer));
    let token = issuer.token().scope("notes.read").sign();
    assert_eq!(get_with(&app, "/notes", &token).await, ok("notes"));
}

#[tokio::test]
async fn app_only_token_with_the_role_and_no_scp_passes() {
    let issuer = start().await;
    let app = app(layer(&issuer));
    let token = app_token(&issuer, &["Notes.Read.All"]).sign();
    assert_eq!(get_with(&app, "/notes", &token).await, ok("notes"));
}

#[tokio::test]
async fn token_with_neither_scope_nor_role_is_forbidden_naming_the_scope() {
    let issuer = start().await;
    let app = app(layer(&issuer));
    let tokens = [
        issuer.token().sign(),
        issuer.token().scope("profile openid").sign(),
        app_token(&issuer, &["Other.Role"]).sign(),
        issuer.token().scope("").claim("roles", json!([])).sign(),
    ];
    for token in tokens {
        assert_eq!(
            get_with(&app, "/notes", &token).await,
            insufficient("notes.read")
        );
    }
}

#[tokio::test]
async fn write_route_refuses_a_read_only_token_naming_the_write_scope() {
    let issuer = start().await;
    let app = app(layer(&issuer));
    let token = issuer.token().scope("notes.read").sign();
    assert_eq!(
        send(&app, "POST", "/notes", Some(&format!("Bearer {token}"))).await,
        insufficient("notes.write")
    );
    let token = app_token(&issuer, &["Notes.Read.All"]).sign();
    assert_eq!(
        send(&app, "POST", "/notes", Some(&format!("Bearer {token}"))).await,
        insufficient("notes.write")
    );
    // And each of the write permissions passes.
    for token in [
        issuer.token().scope("notes.write").sign(),
        app_token(&issuer, &["Notes.ReadWrite.All"]).sign(),
    ] {
        assert_eq!(
            send(&app, "POST", "/notes", Some(&format!("Bearer {token}"))).await,
            ok("created")
        );
    }
}

// ---------------------------------------------------------------------------
// Exact, case-sensitive, whole-token matching
// ---------------------------------------------------------------------------

#[tokio::test]
async fn space_separated_scp_matches_each_whole_token() {
    let issuer = start().await;
    let app = app(layer(&issuer));
    for scp in [
        "profile notes.read",
        "notes.read profile",
        "openid  notes.read  email",
    ] {
        let token = issuer.token().scope(scp).sign();
        assert_eq!(
            get_with(&app, "/notes", &token).await,
            ok("notes"),
            "scp {scp:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// Where permissions are read from
// ---------------------------------------------------------------------------

#[tokio::test]
async fn scp_as_json_array_okta_shape_is_read() {
    let issuer = start().await;
    let app = app(layer(&issuer));
    let token = issuer
        .token()
        .claim("scp", json!(["openid", "notes.read"]))
        .sign();
    assert_eq!(get_with(&app, "/notes", &token).await, ok("notes"));
    // An array item holding two scopes is one (non-matching) scope: the row
    // `scp_array_element_holding_two_scopes` of `attacks::scope_and_role_matching`.
}

#[tokio::test]
async fn rfc9068_scope_string_claim_is_read() {
    let issuer = start().await;
    let app = app(layer(&issuer));
    let token = issuer.token().claim("scope", "openid notes.read").sign();
    assert_eq!(get_with(&app, "/notes", &token).await, ok("notes"));
}

// ---------------------------------------------------------------------------
// All-of requirements
// ---------------------------------------------------------------------------

#[tokio::test]
async fn all_of_requirement_needs_every_scope_and_names_them_all() {
    let issuer = start().await;
    let both = Requirement::scope("a").and(Requirement::scope("b"));
    let app: Router = Router::new()
        .route("/ab", get(|| async { "ab" }).route_layer(require(both)))
        .layer(layer(&issuer));

    for scp in ["a", "b", "a.b", "ab"] {
        let token = issuer.token().scope(scp).sign();
        assert_eq!(
            get_with(&app, "/ab", &token).await,
            insufficient("a b"),
            "scp {scp:?}"
        );
    }
    for scp in ["a b", "b a", "x b y a"] {
        let token = issuer.token().scope(scp).sign();
        assert_eq!(get_with(&app, "/ab", &token).await, ok("ab"), "scp {scp:?}");
    }
}

#[tokio::test]
async fn all_of_mixing_scope_and_role_needs_both() {
    let issuer = start().await;
    let need = Requirement::all([
        Requirement::scope("notes.read"),
        Requirement::role("Auditor"),
    ]);
    let app: Router = Router::new()
        .route(
            "/audit",
            get(|| async { "audit" }).route_layer(require(need)),
        )
        .layer(layer(&issuer));

    let scope_only = issuer.token().scope("notes.read").sign();
    assert_eq!(
        get_with(&app, "/audit", &scope_only).await,
        insufficient("notes.read")
    );
    let role_only = issuer.token().roles(&["Auditor"]).sign();
    assert_eq!(
        get_with(&app, "/audit", &role_only).await,
        insufficient("notes.read")
    );
    let both = issuer
        .token()
        .scope("notes.read")
        .roles(&["Auditor"])
        .sign();
    assert_eq!(get_with(&app, "/audit", &both).await, ok("audit"));
}

#[tokio::test]
async fn role_only_requirement_names_the_role_in_the_challenge() {
    let issuer = start().await;
    let app: Router = Router::new()
        .route(
            "/admin",
            get(|| async { "admin" }).route_layer(require(Requirement::role("Admin"))),
        )
        .layer(layer(&issuer));
    let token = issuer.token().scope("Admin").sign();
    assert_eq!(
        get_with(&app, "/admin", &token).await,
        insufficient("Admin")
    );
    let token = issuer.token().roles(&["Admin"]).sign();
    assert_eq!(get_with(&app, "/admin", &token).await, ok("admin"));
}

// ---------------------------------------------------------------------------
// 404 stays 404
// ---------------------------------------------------------------------------

#[tokio::test]
async fn unknown_path_under_the_common_app_layering() {
    // What the code does, documented: `support::app` applies the layer with
    // `Router::layer`, which in axum 0.8 wraps the routes *and the fallback*.
    // It then merges the protected router into the `/public` one; when both
    // have the default fallback, axum keeps the second one's, i.e. the fallback
    // wrapped by the *optional* layer. So on an unknown path: no token passes
    // anonymously to the 404; a bad token is still refused (401 invalid_token,
    // the optional layer fails closed); a valid token gets the 404. The guards
    // (`route_layer`) never turn a 404 into a 403.
    let issuer = start().await;
    let app = app(layer(&issuer));
    assert_eq!(send(&app, "GET", "/no-such-path", None).await, not_found());
    assert_eq!(
        get_with(&app, "/no-such-path", "not.a.token").await,
        invalid_token()
    );
    let token = issuer.token().sign();
    assert_eq!(get_with(&app, "/no-such-path", &token).await, not_found());
    assert_eq!(get_with(&app, "/notes/1", &token).await, not_found());
}

#[tokio::test]
async fn auth_applied_with_router_layer_also_guards_the_fallback() {
    // Why the guard belongs in `route_layer`: a layer added with
    // `Router::layer` runs for the fallback too, so a required (non-optional)
    // authentication layer answers 401 even for a path that does not exist.
    let issuer = start().await;
    let app: Router = Router::new()
        .route("/notes", get(|| async { "notes" }))
        .layer(layer(&issuer));
    assert_eq!(send(&app, "GET", "/unknown", None).await, bare());
    let token = issuer.token().sign();
    assert_eq!(get_with(&app, "/unknown", &token).await, not_found());
}

#[tokio::test]
async fn auth_applied_with_route_layer_keeps_unknown_paths_404() {
    let issuer = start().await;
    let read = Requirement::scope("notes.read").or(Requirement::role("Notes.Read.All"));
    let app: Router = Router::new()
        .route("/notes", get(|| async { "notes" }))
        .route_layer(require(read))
        .route_layer(layer(&issuer));

    // Unknown paths: 404 whatever the request carries.
    assert_eq!(send(&app, "GET", "/unknown", None).await, not_found());
    assert_eq!(
        send(&app, "GET", "/unknown", Some("Bearer not.a.token")).await,
        not_found()
    );
    let no_scope = issuer.token().sign();
    assert_eq!(get_with(&app, "/unknown", &no_scope).await, not_found());
    // The layer never ran for them: no key traffic.
    assert_eq!(issuer.jwks_requests(), 0);

    // Known route: authentication, then the guard.
    assert_eq!(send(&app, "GET", "/notes", None).await, bare());
    assert_eq!(
        send(&app, "GET", "/notes", Some("Bearer not.a.token")).await,
        invalid_token()
    );
    assert_eq!(
        get_with(&app, "/notes", &no_scope).await,
        insufficient("notes.read")
    );
    let token = issuer.token().scope("notes.read").sign();
    assert_eq!(get_with(&app, "/notes", &token).await, ok("notes"));
}

#[tokio::test]
async fn guard_applied_with_route_layer_keeps_unknown_paths_404_in_optional_mode() {
    // With the layer optional (applied to everything) and the guard on the
    // route only, an anonymous request to an unknown path is a 404, and to the
    // guarded route a 401.
    let issuer = start().await;
    let app: Router = Router::new()
        .route("/notes", get(|| async { "notes" }))
        .route_layer(require(Requirement::scope("notes.read")))
        .layer(layer(&issuer).optional());
    assert_eq!(send(&app, "GET", "/unknown", None).await, not_found());
    assert_eq!(send(&app, "GET", "/notes", None).await, bare());
}

// ---------------------------------------------------------------------------
// Optional authentication (/public)
// ---------------------------------------------------------------------------

#[tokio::test]
async fn optional_route_without_a_token_is_anonymous() {
    let issuer = start().await;
    let app = app(layer(&issuer));
    assert_eq!(
        send(&app, "GET", "/public", None).await,
        ok("hello anonymous")
    );
}

#[tokio::test]
async fn optional_route_with_a_valid_token_sees_the_subject() {
    let issuer = start().await;
    let app = app(layer(&issuer));
    let token = issuer.token().sign();
    assert_eq!(
        get_with(&app, "/public", &token).await,
        ok("hello test-user")
    );
}

#[tokio::test]
async fn optional_route_with_an_invalid_token_fails_closed() {
    let issuer = start().await;
    let app = app(layer(&issuer));
    let tokens = [
        issuer.token().expires_in(-3600).sign(),
        issuer.token().audience("api://other").sign(),
        "not.a.token".to_owned(),
    ];
    for token in tokens {
        assert_eq!(get_with(&app, "/public", &token).await, invalid_token());
    }
    // A malformed Bearer header is still a malformed request, not anonymous.
    assert_eq!(
        send(&app, "GET", "/public", Some("Bearer a b")).await,
        invalid_request()
    );
}

#[tokio::test]
async fn optional_route_treats_another_auth_scheme_as_anonymous() {
    // What the code does: in optional mode a non-Bearer `Authorization`
    // (e.g. Basic) is not this layer's business and the request goes on
    // without claims, exactly like a request with no header.
    let issuer = start().await;
    let app = app(layer(&issuer));
    assert_eq!(
        send(&app, "GET", "/public", Some("Basic dXNlcjpwYXNz")).await,
        ok("hello anonymous")
    );
}

// ---------------------------------------------------------------------------
// Typed claims
// ---------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
struct Profile {
    tid: String,
    name: String,
    #[serde(default)]
    groups: Vec<String>,
}

fn typed_app(issuer: &TestIssuer) -> Router {
    let protected = Router::new()
        .route(
            "/profile",
            get(
                |Claims(c): Claims<Profile>, token: Authenticated| async move {
                    format!(
                        "{} ({}) in {} groups={:?} sub={} scopes={:?}",
                        c.name,
                        c.tid,
                        token.registered().iss,
                        c.groups,
                        token.registered().sub.clone().unwrap_or_default(),
                        token.scopes().iter().collect::<Vec<_>>(),
                    )
                },
            ),
        )
        .layer(layer(issuer));
    let optional = Router::new()
        .route(
            "/maybe",
            get(|c: Option<Claims<Profile>>| async move {
                match c {
                    Some(c) => format!("hello {} from {}", c.name, c.tid),
                    None => "hello anonymous".to_owned(),
                }
            }),
        )
        .layer(layer(issuer).optional());
    protected.merge(optional)
}

#[tokio::test]
async fn typed_claims_are_deserialized_into_the_users_type() {
    let issuer = start().await;
    let app = typed_app(&issuer);
    let token = issuer
        .token()
        .scope("notes.read profile")
        .claim("tid", "tenant-1")
        .claim("name", "Ada")
        .claim("groups", json!(["g1", "g2"]))
        .sign();
    let expected = format!(
        "Ada (tenant-1) in {} groups=[\"g1\", \"g2\"] sub=test-user scopes=[\"notes.read\", \"profile\"]",
        issuer.issuer()
    );
    assert_eq!(get_with(&app, "/profile", &token).await, ok(&expected));
}

#[tokio::test]
async fn token_missing_a_field_of_the_users_type_is_an_invalid_token() {
    let issuer = start().await;
    let app = typed_app(&issuer);
    let tokens = [
        issuer.token().claim("tid", "tenant-1").sign(),
        issuer.token().claim("name", "Ada").sign(),
        // Present but of the wrong type.
        issuer
            .token()
            .claim("tid", "tenant-1")
            .claim("name", json!(42))
            .sign(),
    ];
    for token in tokens {
        assert_eq!(get_with(&app, "/profile", &token).await, invalid_token());
    }
}

#[tokio::test]
async fn optional_typed_claims_are_none_without_a_token() {
    let issuer = start().await;
    let app = typed_app(&issuer);
    assert_eq!(
        send(&app, "GET", "/maybe", None).await,
        ok("hello anonymous")
    );
}

#[tokio::test]
async fn optional_typed_claims_are_some_with_a_valid_token() {
    let issuer = start().await;
    let app = typed_app(&issuer);
    let token = issuer
        .token()
        .claim("tid", "tenant-1")
        .claim("name", "Ada")
        .sign();
    assert_eq!(
        get_with(&app, "/maybe", &token).await,
        ok("hello Ada from tenant-1")
    );
}

#[tokio::test]
async fn optional_typed_claims_of_the_wrong_shape_are_rejected_not_anonymous() {
    let issuer = start().await;
    let app = typed_app(&issuer);
    let token = issuer.token().claim("tid", "tenant-1").sign();
    assert_eq!(get_with(&app, "/maybe", &token).await, invalid_token());
}

#[tokio::test]
async fn authenticated_extractor_exposes_scopes_roles_and_client() {
    let issuer = start().await;
    let app: Router = Router::new()
        .route(
            "/whoami",
            get(|t: Authenticated| async move {
                format!(
                    "client={:?} roles={:?} aud={:?}",
                    t.client_id(),
                    t.roles().iter().collect::<Vec<_>>(),
                    t.registered().aud,
                )
            }),
        )
        .layer(layer(&issuer));
    let token = app_token(&issuer, &["Notes.Read.All", "Notes.ReadWrite.All"]).sign();
    assert_eq!(
        get_with(&app, "/whoami", &token).await,
        ok(&format!(
            "client=Some(\"client-app\") roles=[\"Notes.Read.All\", \"Notes.ReadWrite.All\"] aud=[\"{}\"]",
            TestIssuer::AUDIENCE
        ))
    );
}

// ---------------------------------------------------------------------------
// The guard without the authentication layer
// ---------------------------------------------------------------------------

#[tokio::test]
async fn guard_without_the_auth_layer_answers_401_and_never_trusts_the_header() {
    let issuer = start().await;
    let app: Router = Router::new()
        .route(
            "/notes",
            get(|| async { "notes" }).route_layer(require(Requirement::scope("notes.read"))),
        )
        .route(
            "/any",
            get(|| async { "any" }).route_layer(require(Requirement::Authenticated)),
        );
    // Even a perfectly valid token: nothing validated it, so nothing vouches.
    let token = issuer.token().scope("notes.read").sign();
    for path in ["/notes", "/any"] {
        assert_eq!(send(&app, "GET", path, None).await, bare(), "{path}");
        assert_eq!(get_with(&app, path, &token).await, bare(), "{path}");
    }
    assert_eq!(issuer.jwks_requests(), 0);
}

#[tokio::test]
async fn extractors_without_the_auth_layer_answer_401() {
    let issuer = start().await;
    let app: Router = Router::new()
        .route(
            "/claims",
            get(|c: Claims<Profile>| async move { c.name.clone() }),
        )
        .route(
            "/maybe",
            get(|c: Option<Authenticated>| async move { format!("{}", c.is_some()) }),
        );
    let token = issuer.token().claim("tid", "t").claim("name", "Ada").sign();
    assert_eq!(get_with(&app, "/claims", &token).await, bare());
    assert_eq!(get_with(&app, "/maybe", &token).await, ok("false"));
}

/// Only the layer vouches for a request: an `Authenticated` already in the
/// request's extensions when it arrives (put there by a layer outside it,
/// here a genuine one for another token) is replaced by the request's own
/// token, removed on an optional route without a token, and never reaches
/// the handler of a refused request.
#[tokio::test]
async fn an_authenticated_already_in_the_extensions_never_reaches_the_handler() {
    let issuer = start().await;
    let smuggled = crate::support::layer(&issuer)
        .validator()
        .validate(&issuer.token().claim("sub", "smuggled").sign())
        .await
        .expect("valid");
    let whoami = || {
        get(|token: Option<Authenticated>| async move {
            format!("{:?}", token.map(|t| t.registered().sub.clone()))
        })
    };
    let smuggle = tower::util::MapRequestLayer::new(move |mut request: http::Request<_>| {
        request.extensions_mut().insert(smuggled.clone());
        request
    });
    let app = |layer: bearer_guard::BearerAuthLayer| {
        Router::new()
            .route("/whoami", whoami())
            .route_layer(layer)
            .layer(smuggle.clone())
    };
    let required = app(layer(&issuer));
    let optional = app(layer(&issuer).optional());
    let mine = issuer.token().claim("sub", "mine").sign();
    for round in 0..2 {
        // The second round is answered from the verified-token cache.
        assert_eq!(
            get_with(&required, "/whoami", &mine).await,
            ok("Some(Some(\"mine\"))"),
            "round {round}"
        );
        assert_eq!(
            get_with(&optional, "/whoami", &mine).await,
            ok("Some(Some(\"mine\"))"),
            "round {round}"
        );
    }
    assert_eq!(send(&optional, "GET", "/whoami", None).await, ok("None"));
    assert_eq!(send(&required, "GET", "/whoami", None).await, bare());
    assert_eq!(
        get_with(&required, "/whoami", "not.a.token").await,
        invalid_token()
    );
}
