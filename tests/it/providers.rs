//! Provider presets and several issuers behind one layer (issue 3, "Done
//! means"), with claim sets shaped like each provider's documented tokens,
//! every token minted by the local test issuer and every preset pointed at it
//! (`.authority(base)`, `serve_discovery`, `.jwks_uri`).
//!
//! What it proves:
//! - Entra ID v2, one tenant: delegated (`scp`) and app-only (`roles`) tokens
//!   both pass one "scope OR app role" route; `aud` may be the client id or
//!   `api://{client id}`; an ID-token-shaped token (no `scp`, no `roles`) is
//!   refused with `no_permissions`, unless the user opts in to ACL-only
//!   authorization, where a calling-app requirement decides (403 / 200).
//! - Entra ID v1 (`https://sts.windows.net/{tid}/`, `appid`): passes, the
//!   calling app is the `appid`; v1 and v2 trusted together both pass, each
//!   with its own discovery document.
//! - Entra ID multi-tenant: the `{tenantid}` template is matched against the
//!   token's own `tid`, exactly: an allowed tenant passes; a tenant outside the
//!   allow-list, an `iss` that only shares a prefix with the template, an `iss`
//!   of another tenant than `tid`, and a token without `tid` are all 401
//!   `issuer_mismatch` with zero key or discovery fetches; without an
//!   allow-list any tenant passes.
//! - Azure AD B2C: `tfp` or `acr`, case-insensitive, chooses the policy's own
//!   discovery document (each fetched once, when its tokens are first seen);
//!   the policy reaches handlers; a route requiring one policy answers 403 to a
//!   token from another; a policy not configured is 401 `policy_not_accepted`
//!   with zero fetches.
//! - Auth0 (`scope` + `permissions`), Keycloak (realm and this client's roles,
//!   never another client's), Okta (`scp` array, `cid`; a string `scp` is
//!   refused), RFC 9068 (`at+jwt` only).
//! - Several issuers behind one layer: each provider's token passes with its
//!   own shape and audience; an unknown issuer is 401 `issuer_mismatch` with
//!   zero fetches anywhere; each issuer has its own key cache and cooldown, so
//!   a flood of unknown `kid`s at one issuer makes no other issuer fetch.
//! - Calling-app allow-list combined with an app role (`azp` and `appid`).
//! - A multi-tenant template without a key source is a configuration error.
//!
//! Every rejection asserts the exact status, the exact `WWW-Authenticate`
//! value and the (empty) body; where the internal reason matters, also its
//! code; fetch counts are exact.

use crate::support::{Outcome, code, get_with, insufficient, invalid_token, now, start};
use axum::Router;
use axum::routing::get;
use bearer_guard::testing::{TestIssuer, TokenBuilder};
use bearer_guard::{Authenticated, BearerAuthLayer, ConfigError, Issuer, Requirement, require};
use http::StatusCode;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------
// Identifiers (made-up GUIDs in the providers' formats)
// ---------------------------------------------------------------------------

/// The Entra tenant of the single-tenant API.
const TENANT_ID: &str = "b5f0c3a9-2d4e-4f6a-8b1c-9e7d3a5f2c10";
/// The API's application (client) id: the `aud` of tokens for it.
const API_CLIENT_ID: &str = "6e74172b-be56-4843-9ff4-e66a39bb12e3";
/// A single-page app calling the API on behalf of a user (`azp`).
const WEB_APP_ID: &str = "e8a1b2c3-4d5e-4f60-a718-293a4b5c6d7e";
/// The signed-in user's object id.
const USER_OID: &str = "690222be-ff1a-4d56-abd1-7e4f7d38e474";
/// Daemon applications calling with client credentials.
const APP_A: &str = "2d8f4b6e-0a1c-4e3b-9d5f-7a9c1e3b5d7f";
const APP_B: &str = "5c7e9a1b-3d5f-4b7d-8f1a-3c5e7a9b1d3f";
const APP_C: &str = "8e0a2c4d-6f8b-4d0f-a2c4-6e8a0c2e4a6c";
/// Customer tenants of the multi-tenant API.
const TENANT_A: &str = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
const TENANT_B: &str = "f47ac10b-58cc-4372-a567-0e02b2c3d479";
const TENANT_C: &str = "9b2e4c6a-8d0f-4e1a-b3c5-d7e9f1a3b5c7";

/// Azure AD B2C.
const B2C_TENANT: &str = "contosob2c";
const B2C_TENANT_ID: &str = "775527ff-9a37-4307-8b3d-cc311f58d925";
const B2C_CLIENT_ID: &str = "d2c6e8f0-4a3b-4c5d-9e6f-1a2b3c4d5e6f";
const SUSI: &str = "B2C_1_signupsignin";
const PROFILE_EDIT: &str = "B2C_1_profileedit";

/// Auth0: the API identifier (audience) and the calling application.
const AUTH0_API: &str = "https://notes.example.com/api";
const AUTH0_CLIENT: &str = "Dnh4lS9bNQ2Qw5pR7tVx0zA3cE6gJ8kM";

/// Okta: the default custom authorization server's audience and a client id.
const OKTA_AUDIENCE: &str = "api://default";
const OKTA_CLIENT: &str = "0oaoesxtxmPf08QHk0h7";

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn build(builder: bearer_guard::Builder) -> BearerAuthLayer {
    builder.build().expect("valid configuration")
}

/// What a handler sees of the validated token, as JSON.
async fn describe(token: Authenticated) -> String {
    json!({
        "sub": token.registered().sub,
        "client": token.client_id(),
        "tenant": token.tenant_id(),
        "policy": token.policy(),
        "scopes": token.scopes().iter().collect::<Vec<_>>(),
        "roles": token.roles().iter().collect::<Vec<_>>(),
    })
    .to_string()
}

/// An app answering `describe` on each `(path, requirement)` route.
fn guarded(layer: BearerAuthLayer, routes: Vec<(&str, Requirement)>) -> Router {
    let mut router = Router::new();
    for (path, requirement) in routes {
        router = router.route(path, get(describe).route_layer(require(requirement)));
    }
    router.layer(layer)
}

/// An app with one route, `/r`, guarded by `requirement`.
fn one_route(layer: BearerAuthLayer, requirement: Requirement) -> Router {
    guarded(layer, vec![("/r", requirement)])
}

/// Asserts 200, no challenge, and the handler's view of the token.
fn assert_ok(out: &Outcome, expected: &Value) {
    assert_passes(out);
    let body: Value = serde_json::from_str(&out.body).expect("JSON body");
    assert_eq!(&body, expected);
}

/// Asserts 200 and no challenge (the body is the handler's view, checked
/// elsewhere for this shape).
fn assert_passes(out: &Outcome) {
    assert_eq!(
        (out.status, out.www_authenticate.as_deref()),
        (StatusCode::OK, None),
        "{out:?}"
    );
}

/// The handler's view, for `assert_ok`.
fn view(
    sub: &str,
    client: Option<&str>,
    tenant: Option<&str>,
    policy: Option<&str>,
    scopes: &[&str],
    roles: &[&str],
) -> Value {
    json!({
        "sub": sub, "client": client, "tenant": tenant, "policy": policy,
        "scopes": scopes, "roles": roles,
    })
}

/// 403 `insufficient_scope` without a `scope` attribute: the requirement names
/// neither a scope nor a role (a client or policy requirement).
fn insufficient_bare() -> Outcome {
    Outcome {
        status: StatusCode::FORBIDDEN,
        www_authenticate: Some("Bearer error=\"insufficient_scope\"".to_owned()),
        body: String::new(),
    }
}

// ---------------------------------------------------------------------------
// Microsoft identity platform token shapes
// (learn.microsoft.com/entra/identity-platform/access-token-claims-reference)
// ---------------------------------------------------------------------------

/// What every Entra access token carries, for issuer `iss` and tenant `tid`;
/// `typ` `JWT`, `aud` the API's client id.
fn entra_common<'a>(ti: &'a TestIssuer, iss: &str, tid: &str, ver: &str) -> TokenBuilder<'a> {
    ti.token()
        .typ(Some("JWT"))
        .claim("iss", iss)
        .audience(API_CLIENT_ID)
        .claim("nbf", now())
        .claim(
            "aio",
            "AWQAm/8TAAAAkrJ1Qwqy0E8b2ZP5B6hZxVaYq0fVtW2S3Ek+RrKw3zq",
        )
        .claim(
            "rh",
            "0.AXkAv4j5cvGGr0GRqy180BHbR2kXdG5Wvgds3l35kmpkuzh5AAA.",
        )
        .claim("tid", tid)
        .claim("uti", "fqiBqXLPj0eQa82S-IYFAA")
        .claim("ver", ver)
}

/// A v2.0 delegated token: a user signed in to `WEB_APP_ID`, scope `access_as_user`.
fn entra_delegated<'a>(ti: &'a TestIssuer, iss: &str, tid: &str) -> TokenBuilder<'a> {
    entra_common(ti, iss, tid, "2.0")
        .claim("azp", WEB_APP_ID)
        .claim("azpacr", "0")
        .claim("name", "Abe Lincoln")
        .claim("oid", USER_OID)
        .claim("preferred_username", "abe@contoso.com")
        .claim("scp", "access_as_user")
        .claim("sub", "HKZpfaHyWadeOouYlitjrI-KffTm222X5rrV3xDqfKQ")
}

/// A v2.0 app-only (client credentials) token from `app` with app `roles`: no
/// `scp`, `idtyp` `app`, `oid` = `sub` (the app's service principal).
fn entra_app<'a>(
    ti: &'a TestIssuer,
    iss: &str,
    tid: &str,
    app: &str,
    roles: &[&str],
) -> TokenBuilder<'a> {
    let sp = "3a5c7e9b-1d3f-4a6c-8e0b-2d4f6a8c0e1b";
    entra_common(ti, iss, tid, "2.0")
        .claim("azp", app)
        .claim("azpacr", "1")
        .claim("idtyp", "app")
        .claim("oid", sp)
        .claim("sub", sp)
        .roles(roles)
}

/// A v2.0 ID token presented as an access token: `aud` the client id, a
/// `nonce`, no `scp`, no `roles`, no `azp`.
fn entra_id_token<'a>(ti: &'a TestIssuer, iss: &str, tid: &str) -> TokenBuilder<'a> {
    entra_common(ti, iss, tid, "2.0")
        .claim("name", "Abe Lincoln")
        .claim("nonce", "d2f9c6b1-4e8a-4f3b-9c7d-0a1e2b3c4d5e")
        .claim("oid", USER_OID)
        .claim("preferred_username", "abe@contoso.com")
        .claim("sub", "HKZpfaHyWadeOouYlitjrI-KffTm222X5rrV3xDqfKQ")
}

/// A v1.0 delegated token: `appid` instead of `azp`, `upn`, `aud` `api://…`.
fn entra_v1_delegated<'a>(ti: &'a TestIssuer, tid: &str) -> TokenBuilder<'a> {
    entra_common(ti, &format!("https://sts.windows.net/{tid}/"), tid, "1.0")
        .audience(&format!("api://{API_CLIENT_ID}"))
        .claim("acr", "1")
        .claim("amr", json!(["pwd", "mfa"]))
        .claim("appid", WEB_APP_ID)
        .claim("appidacr", "0")
        .claim("family_name", "Lincoln")
        .claim("given_name", "Abe")
        .claim("ipaddr", "203.0.113.7")
        .claim("name", "Abe Lincoln")
        .claim("oid", USER_OID)
        .claim("scp", "access_as_user")
        .claim("sub", "l3_roISQU222bULS9yi2k0XpqpOiMz5H3ZACo1GeXA")
        .claim("unique_name", "abe@contoso.com")
        .claim("upn", "abe@contoso.com")
}

fn v2_issuer(base: &str, tid: &str) -> String {
    format!("{base}/{tid}/v2.0")
}

/// Serves the v2.0 discovery document of tenant `tid` and returns its path.
fn serve_v2(ti: &TestIssuer, tid: &str) -> String {
    let path = format!("/{tid}/v2.0");
    ti.serve_discovery(&path, &v2_issuer(ti.issuer(), tid));
    path
}

/// Serves the v1.0 discovery document of tenant `tid` (naming the
/// `sts.windows.net` issuer) and returns its path.
fn serve_v1(ti: &TestIssuer, tid: &str) -> String {
    let path = format!("/{tid}");
    ti.serve_discovery(&path, &format!("https://sts.windows.net/{tid}/"));
    path
}

/// Microsoft.Identity.Web's RequiredScopeOrAppPermission.
fn scope_or_app_role() -> Requirement {
    Requirement::scope("access_as_user").or(Requirement::role("Notes.Read.All"))
}

// ---------------------------------------------------------------------------
// 1. Entra ID v2, single tenant
// ---------------------------------------------------------------------------

#[tokio::test]
async fn entra_v2_delegated_and_app_only_tokens_both_pass_the_scope_or_app_role_route() {
    let ti = start().await;
    let base = ti.issuer().to_owned();
    let path = serve_v2(&ti, TENANT_ID);
    let iss = v2_issuer(&base, TENANT_ID);
    let layer = build(
        BearerAuthLayer::builder()
            .trust(Issuer::entra_id(TENANT_ID, API_CLIENT_ID).authority(&base)),
    );
    let app = one_route(layer, scope_or_app_role());

    let delegated = entra_delegated(&ti, &iss, TENANT_ID).sign();
    assert_ok(
        &get_with(&app, "/r", &delegated).await,
        &view(
            "HKZpfaHyWadeOouYlitjrI-KffTm222X5rrV3xDqfKQ",
            Some(WEB_APP_ID),
            Some(TENANT_ID),
            None,
            &["access_as_user"],
            &[],
        ),
    );
    let app_only = entra_app(&ti, &iss, TENANT_ID, APP_A, &["Notes.Read.All"]).sign();
    assert_ok(
        &get_with(&app, "/r", &app_only).await,
        &view(
            "3a5c7e9b-1d3f-4a6c-8e0b-2d4f6a8c0e1b",
            Some(APP_A),
            Some(TENANT_ID),
            None,
            &[],
            &["Notes.Read.All"],
        ),
    );
    // One discovery and one key-set fetch for both.
    assert_eq!(ti.discovery_requests_at(&path), 1);
    assert_eq!(ti.jwks_requests(), 1);
}

#[tokio::test]
async fn entra_v2_accepts_the_api_uri_audience_and_refuses_another() {
    let ti = start().await;
    let base = ti.issuer().to_owned();
    serve_v2(&ti, TENANT_ID);
    let iss = v2_issuer(&base, TENANT_ID);
    let layer = build(
        BearerAuthLayer::builder()
            .trust(Issuer::entra_id(TENANT_ID, API_CLIENT_ID).authority(&base)),
    );
    let app = one_route(layer.clone(), scope_or_app_role());

    let api_uri = entra_delegated(&ti, &iss, TENANT_ID)
        .audience(&format!("api://{API_CLIENT_ID}"))
        .sign();
    assert_passes(&get_with(&app, "/r", &api_uri).await);

    // Microsoft Graph's audience: a token for another API.
    let graph = entra_delegated(&ti, &iss, TENANT_ID)
        .audience("00000003-0000-0000-c000-000000000000")
        .sign();
    assert_eq!(get_with(&app, "/r", &graph).await, invalid_token());
    assert_eq!(code(&layer, &graph).await, "audience_mismatch");
}

#[tokio::test]
async fn entra_v2_refuses_an_id_token_shaped_token_with_no_permissions() {
    let ti = start().await;
    let base = ti.issuer().to_owned();
    serve_v2(&ti, TENANT_ID);
    let iss = v2_issuer(&base, TENANT_ID);
    let layer = build(
        BearerAuthLayer::builder()
            .trust(Issuer::entra_id(TENANT_ID, API_CLIENT_ID).authority(&base)),
    );
    let app = one_route(layer.clone(), Requirement::Authenticated);

    let id_token = entra_id_token(&ti, &iss, TENANT_ID).sign();
    assert_eq!(get_with(&app, "/r", &id_token).await, invalid_token());
    assert_eq!(code(&layer, &id_token).await, "no_permissions");

    // An app-only token without any app role assigned is refused the same way.
    let no_roles = entra_app(&ti, &iss, TENANT_ID, APP_A, &[]).sign();
    assert_eq!(get_with(&app, "/r", &no_roles).await, invalid_token());
    assert_eq!(code(&layer, &no_roles).await, "no_permissions");
}

#[tokio::test]
async fn entra_v2_acl_only_opt_in_lets_the_calling_app_requirement_decide() {
    let ti = start().await;
    let base = ti.issuer().to_owned();
    serve_v2(&ti, TENANT_ID);
    let iss = v2_issuer(&base, TENANT_ID);
    let layer = build(
        BearerAuthLayer::builder().trust(
            Issuer::entra_id(TENANT_ID, API_CLIENT_ID)
                .authority(&base)
                .require_permissions(false),
        ),
    );

    // The ID-token shape now passes validation: authorization is the route's job.
    let id_token = entra_id_token(&ti, &iss, TENANT_ID).sign();
    let authenticated = layer
        .validator()
        .validate(&id_token)
        .await
        .expect("passes validation with require_permissions(false)");
    assert!(authenticated.scopes().is_empty());
    assert!(authenticated.roles().is_empty());
    assert_eq!(authenticated.client_id(), None);

    let app = one_route(layer, Requirement::client(APP_A));
    // Client-credentials tokens with no app role: the ACL is all there is.
    let allowed = entra_app(&ti, &iss, TENANT_ID, APP_A, &[]).sign();
    assert_ok(
        &get_with(&app, "/r", &allowed).await,
        &view(
            "3a5c7e9b-1d3f-4a6c-8e0b-2d4f6a8c0e1b",
            Some(APP_A),
            Some(TENANT_ID),
            None,
            &[],
            &[],
        ),
    );
    let other = entra_app(&ti, &iss, TENANT_ID, APP_C, &[]).sign();
    assert_eq!(get_with(&app, "/r", &other).await, insufficient_bare());
    // The ID token names no calling app at all.
    assert_eq!(get_with(&app, "/r", &id_token).await, insufficient_bare());
}

// ---------------------------------------------------------------------------
// 2. Entra ID v1, and v1 with v2
// ---------------------------------------------------------------------------

#[tokio::test]
async fn entra_v1_token_passes_and_its_calling_app_is_the_appid() {
    let ti = start().await;
    let base = ti.issuer().to_owned();
    let path = serve_v1(&ti, TENANT_ID);
    let layer = build(
        BearerAuthLayer::builder()
            .trust(Issuer::entra_id_v1(TENANT_ID, API_CLIENT_ID).authority(&base)),
    );
    let app = one_route(layer.clone(), scope_or_app_role());

    let v1 = entra_v1_delegated(&ti, TENANT_ID).sign();
    assert_ok(
        &get_with(&app, "/r", &v1).await,
        &view(
            "l3_roISQU222bULS9yi2k0XpqpOiMz5H3ZACo1GeXA",
            Some(WEB_APP_ID),
            Some(TENANT_ID),
            None,
            &["access_as_user"],
            &[],
        ),
    );
    let authenticated = layer.validator().validate(&v1).await.expect("valid");
    assert_eq!(authenticated.client_id(), Some(WEB_APP_ID));
    assert_eq!(
        authenticated.registered().iss,
        format!("https://sts.windows.net/{TENANT_ID}/")
    );
    assert_eq!(ti.discovery_requests_at(&path), 1);
    assert_eq!(ti.jwks_requests(), 1);

    // A v2 token is not a v1 token: only v1 is trusted here.
    let v2 = entra_delegated(&ti, &v2_issuer(&base, TENANT_ID), TENANT_ID).sign();
    assert_eq!(get_with(&app, "/r", &v2).await, invalid_token());
    assert_eq!(code(&layer, &v2).await, "issuer_mismatch");
}

#[tokio::test]
async fn entra_v1_and_v2_trusted_together_both_pass_each_with_its_own_discovery() {
    let ti = start().await;
    let base = ti.issuer().to_owned();
    let v1_path = serve_v1(&ti, TENANT_ID);
    let v2_path = serve_v2(&ti, TENANT_ID);
    let layer = build(
        BearerAuthLayer::builder()
            .trust(Issuer::entra_id(TENANT_ID, API_CLIENT_ID).authority(&base))
            .trust(Issuer::entra_id_v1(TENANT_ID, API_CLIENT_ID).authority(&base)),
    );
    let app = one_route(layer, scope_or_app_role());

    let v2 = entra_delegated(&ti, &v2_issuer(&base, TENANT_ID), TENANT_ID).sign();
    assert_passes(&get_with(&app, "/r", &v2).await);
    assert_eq!(ti.discovery_requests_at(&v2_path), 1);
    assert_eq!(ti.discovery_requests_at(&v1_path), 0);
    assert_eq!(ti.jwks_requests(), 1);

    let v1 = entra_v1_delegated(&ti, TENANT_ID).sign();
    assert_passes(&get_with(&app, "/r", &v1).await);
    assert_eq!(ti.discovery_requests_at(&v2_path), 1);
    assert_eq!(ti.discovery_requests_at(&v1_path), 1);
    assert_eq!(ti.jwks_requests(), 2);

    // Both again: no more traffic.
    assert_passes(&get_with(&app, "/r", &v1).await);
    assert_passes(&get_with(&app, "/r", &v2).await);
    assert_eq!(ti.jwks_requests(), 2);
}

// ---------------------------------------------------------------------------
// 3. Entra ID multi-tenant
// ---------------------------------------------------------------------------

const COMMON: &str = "/common/v2.0";

/// Serves the `common` v2.0 discovery document, whose issuer is the template.
fn serve_common(ti: &TestIssuer) {
    ti.serve_discovery(COMMON, &format!("{}/{{tenantid}}/v2.0", ti.issuer()));
}

/// The multi-tenant preset with these tenants allowed; `None`: any tenant,
/// by the explicit opt-in.
fn multi_tenant_layer(base: &str, allowed: Option<&[&str]>) -> BearerAuthLayer {
    let issuer = Issuer::entra_id_multi_tenant(API_CLIENT_ID).authority(base);
    let issuer = match allowed {
        Some(tenants) => issuer.allowed_tenants(tenants.iter().copied()),
        None => issuer.dangerously_accept_any_tenant(),
    };
    build(BearerAuthLayer::builder().trust(issuer))
}

/// Issue 12.1: "any tenant" is never a default. Without an allow-list or
/// the opt-in, the multi-tenant presets (and any `{tenantid}` template) do
/// not build, and the error says what to choose.
#[test]
fn multi_tenant_without_allow_list_or_opt_in_is_a_config_error() {
    for issuer in [
        Issuer::entra_id_multi_tenant(API_CLIENT_ID),
        Issuer::entra_id_v1_multi_tenant(API_CLIENT_ID),
        Issuer::new("https://login.microsoftonline.com/{tenantid}/v2.0")
            .audience("x")
            .jwks_uri("https://login.microsoftonline.com/common/discovery/v2.0/keys"),
    ] {
        let template = issuer.issuer().to_owned();
        match BearerAuthLayer::builder().trust(issuer).build() {
            Err(error @ ConfigError::TenantsUnrestricted(_)) => {
                assert_eq!(
                    format!("{error:?}"),
                    format!("TenantsUnrestricted({template:?})")
                );
                let text = error.to_string();
                assert!(
                    text.contains("allowed_tenants")
                        && text.contains("dangerously_accept_any_tenant"),
                    "{text}"
                );
            }
            other => panic!("{template}: expected TenantsUnrestricted, got {other:?}"),
        }
    }
}

/// Issue 12.2: Microsoft's multi-tenant key set names an `issuer` on each
/// key. A key verifies only tokens whose `iss` that issuer names (the
/// template resolved with the token's own `tid`): a key of another cloud, or
/// bound to one tenant, never verifies another's token, even under the
/// template and the allow-list.
#[tokio::test]
async fn a_key_bound_to_an_issuer_verifies_only_that_issuers_tokens() {
    let ti = start().await;
    let base = ti.issuer().to_owned();
    serve_common(&ti);
    let kid = ti.current_kid();
    let layer = multi_tenant_layer(&base, None);
    let app = one_route(layer.clone(), scope_or_app_role());
    let from = |tenant: &str| entra_delegated(&ti, &v2_issuer(&base, tenant), tenant).sign();

    // Bound to the template, as Microsoft publishes it: every tenant's token.
    assert!(ti.bind_key_to_issuer(&kid, &format!("{base}/{{tenantid}}/v2.0")));
    for tenant in [TENANT_A, TENANT_B] {
        assert_eq!(
            get_with(&app, "/r", &from(tenant)).await.status,
            StatusCode::OK
        );
    }

    // Bound to one tenant: only that tenant's token (a fresh layer, so the
    // key set is read again).
    assert!(ti.bind_key_to_issuer(&kid, &v2_issuer(&base, TENANT_A)));
    let layer = multi_tenant_layer(&base, None);
    let app = one_route(layer.clone(), scope_or_app_role());
    assert_eq!(
        get_with(&app, "/r", &from(TENANT_A)).await.status,
        StatusCode::OK
    );
    let from_b = from(TENANT_B);
    assert_eq!(get_with(&app, "/r", &from_b).await, invalid_token());
    assert_eq!(code(&layer, &from_b).await, "key_issuer_mismatch");

    // Bound to another cloud's template: no token of this issuer.
    assert!(ti.bind_key_to_issuer(&kid, "https://login.microsoftonline.us/{tenantid}/v2.0"));
    let layer = multi_tenant_layer(&base, None);
    let from_a = from(TENANT_A);
    assert_eq!(code(&layer, &from_a).await, "key_issuer_mismatch");
    let app = one_route(layer, scope_or_app_role());
    assert_eq!(get_with(&app, "/r", &from_a).await, invalid_token());
}

#[tokio::test]
async fn multi_tenant_allowed_tenant_passes_and_an_outside_tenant_is_refused_without_fetching() {
    let ti = start().await;
    let base = ti.issuer().to_owned();
    serve_common(&ti);
    let layer = multi_tenant_layer(&base, Some(&[TENANT_A, TENANT_B]));
    let app = one_route(layer.clone(), scope_or_app_role());

    // Tenant C first, on a fresh layer: refused before any traffic.
    let from_c = entra_delegated(&ti, &v2_issuer(&base, TENANT_C), TENANT_C).sign();
    assert_eq!(get_with(&app, "/r", &from_c).await, invalid_token());
    assert_eq!(code(&layer, &from_c).await, "issuer_mismatch");
    assert_eq!(ti.discovery_requests_at(COMMON), 0);
    assert_eq!(ti.jwks_requests(), 0);

    let from_a = entra_delegated(&ti, &v2_issuer(&base, TENANT_A), TENANT_A).sign();
    assert_ok(
        &get_with(&app, "/r", &from_a).await,
        &view(
            "HKZpfaHyWadeOouYlitjrI-KffTm222X5rrV3xDqfKQ",
            Some(WEB_APP_ID),
            Some(TENANT_A),
            None,
            &["access_as_user"],
            &[],
        ),
    );
    assert_eq!(ti.discovery_requests_at(COMMON), 1);
    assert_eq!(ti.jwks_requests(), 1);

    // Tenant B shares the common key set; tenant C still causes nothing.
    let from_b = entra_app(
        &ti,
        &v2_issuer(&base, TENANT_B),
        TENANT_B,
        APP_B,
        &["Notes.Read.All"],
    )
    .sign();
    assert_passes(&get_with(&app, "/r", &from_b).await);
    assert_eq!(get_with(&app, "/r", &from_c).await, invalid_token());
    assert_eq!(code(&layer, &from_c).await, "issuer_mismatch");
    assert_eq!(ti.discovery_requests_at(COMMON), 1);
    assert_eq!(ti.jwks_requests(), 1);
}

/// `(iss, tid)` pairs that must never match the template for a properly signed
/// token, whatever the allow-list: prefix-only matches, another tenant's
/// issuer, a `tid` smuggling path segments, a look-alike host, no `tid`.
fn not_the_template(base: &str) -> Vec<(String, Option<Value>)> {
    let a = TENANT_A;
    vec![
        (format!("{base}/{a}/v2.0/extra"), Some(json!(a))),
        (format!("{base}/{a}/v2.0x"), Some(json!(a))),
        (format!("{base}/{a}/v2.0/"), Some(json!(a))),
        (format!("{base}/{a}/v2"), Some(json!(a))),
        (format!("{base}/{a}x/v2.0"), Some(json!(a))),
        (format!("{base}/{TENANT_B}/v2.0"), Some(json!(a))),
        (format!("{base}/{a}/v2.0"), Some(json!(TENANT_B))),
        (
            format!("{base}/{a}/v2.0/evil/v2.0"),
            Some(json!(format!("{a}/v2.0/evil"))),
        ),
        (format!("{base}.evil.example/{a}/v2.0"), Some(json!(a))),
        (
            format!("https://login.microsoftonline.com/{a}/v2.0"),
            Some(json!(a)),
        ),
        (format!("{base}/{a}/v2.0"), None),
        (format!("{base}/{a}/v2.0"), Some(json!(12345))),
        (format!("{base}//v2.0"), Some(json!(""))),
    ]
}

#[tokio::test]
async fn multi_tenant_refuses_issuers_that_only_resemble_the_template_without_fetching() {
    for allowed in [Some(&[TENANT_A, TENANT_B][..]), None] {
        // A fresh issuer per layer, so the counts below are this layer's.
        let ti = start().await;
        let base = ti.issuer().to_owned();
        serve_common(&ti);
        let layer = multi_tenant_layer(&base, allowed);
        let app = one_route(layer.clone(), scope_or_app_role());
        for (iss, tid) in not_the_template(&base) {
            let mut token = entra_delegated(&ti, &iss, TENANT_A).without("tid");
            if let Some(tid) = &tid {
                token = token.claim("tid", tid.clone());
            }
            let token = token.sign();
            assert_eq!(
                get_with(&app, "/r", &token).await,
                invalid_token(),
                "iss {iss}, tid {tid:?}, allowed {allowed:?}"
            );
            assert_eq!(
                code(&layer, &token).await,
                "issuer_mismatch",
                "iss {iss}, tid {tid:?}, allowed {allowed:?}"
            );
        }
        // None of them caused any traffic.
        assert_eq!(ti.discovery_requests_at(COMMON), 0);
        assert_eq!(ti.jwks_requests(), 0);

        // The genuine shape passes on the same layer.
        let genuine = entra_delegated(&ti, &v2_issuer(&base, TENANT_A), TENANT_A).sign();
        assert_passes(&get_with(&app, "/r", &genuine).await);
        assert_eq!(ti.discovery_requests_at(COMMON), 1);
        assert_eq!(ti.jwks_requests(), 1);
    }
}

#[tokio::test]
async fn multi_tenant_with_the_any_tenant_opt_in_accepts_any_tenant() {
    let ti = start().await;
    let base = ti.issuer().to_owned();
    serve_common(&ti);
    let layer = multi_tenant_layer(&base, None);
    let app = one_route(layer, scope_or_app_role());
    for tenant in [TENANT_A, TENANT_B, TENANT_C] {
        let token = entra_delegated(&ti, &v2_issuer(&base, tenant), tenant).sign();
        assert_ok(
            &get_with(&app, "/r", &token).await,
            &view(
                "HKZpfaHyWadeOouYlitjrI-KffTm222X5rrV3xDqfKQ",
                Some(WEB_APP_ID),
                Some(tenant),
                None,
                &["access_as_user"],
                &[],
            ),
        );
    }
    assert_eq!(ti.discovery_requests_at(COMMON), 1);
    assert_eq!(ti.jwks_requests(), 1);
}

// ---------------------------------------------------------------------------
// 4. Azure AD B2C
// (learn.microsoft.com/azure/active-directory-b2c/tokens-overview)
// ---------------------------------------------------------------------------

/// The path of a B2C policy's discovery document under the authority.
fn b2c_path(policy: &str) -> String {
    format!("/{B2C_TENANT}.onmicrosoft.com/{policy}/v2.0")
}

fn b2c_issuer(base: &str) -> String {
    format!("{base}/{B2C_TENANT_ID}/v2.0/")
}

/// Serves one discovery document per policy, each naming the B2C issuer.
fn serve_b2c(ti: &TestIssuer, policies: &[&str]) {
    for policy in policies {
        ti.serve_discovery(&b2c_path(policy), &b2c_issuer(ti.issuer()));
    }
}

fn b2c_layer(base: &str) -> BearerAuthLayer {
    build(
        BearerAuthLayer::builder().trust(
            Issuer::azure_ad_b2c(
                B2C_TENANT,
                B2C_TENANT_ID,
                B2C_CLIENT_ID,
                [SUSI, PROFILE_EDIT],
            )
            .authority(base),
        ),
    )
}

const B2C_USER: &str = "5b3a5f2e-7c1d-4e9a-b8f6-0d2c4e6a8b1f";

/// A B2C access token as Microsoft documents it: `typ` `JWT`, `iss` with a
/// trailing slash, `aud` the API's client id, `scp` `read`, the policy in
/// `policy_claim`, `emails` an array.
fn b2c_token<'a>(ti: &'a TestIssuer, policy_claim: &str, policy: &str) -> TokenBuilder<'a> {
    ti.token()
        .typ(Some("JWT"))
        .claim("iss", b2c_issuer(ti.issuer()))
        .audience(B2C_CLIENT_ID)
        .claim("nbf", now())
        .claim("auth_time", now())
        .claim("ver", "1.0")
        .claim("oid", B2C_USER)
        .claim("sub", B2C_USER)
        .claim("name", "Ana Costa")
        .claim("given_name", "Ana")
        .claim("emails", json!(["ana.costa@example.com"]))
        .claim("idp", "LocalAccount")
        .claim("azp", "b1e2c3d4-5f6a-4b7c-8d9e-0f1a2b3c4d5e")
        .claim("scp", "read")
        .claim(policy_claim, policy)
}

fn b2c_view(policy: &str) -> Value {
    view(
        B2C_USER,
        Some("b1e2c3d4-5f6a-4b7c-8d9e-0f1a2b3c4d5e"),
        None,
        Some(policy),
        &["read"],
        &[],
    )
}

#[tokio::test]
async fn b2c_token_with_tfp_passes_and_its_policy_reaches_the_handler() {
    let ti = start().await;
    let base = ti.issuer().to_owned();
    serve_b2c(&ti, &[SUSI, PROFILE_EDIT]);
    let app = one_route(b2c_layer(&base), Requirement::scope("read"));

    let token = b2c_token(&ti, "tfp", SUSI).sign();
    assert_ok(&get_with(&app, "/r", &token).await, &b2c_view(SUSI));
}

#[tokio::test]
async fn b2c_token_with_acr_instead_of_tfp_passes() {
    let ti = start().await;
    let base = ti.issuer().to_owned();
    serve_b2c(&ti, &[SUSI, PROFILE_EDIT]);
    let app = one_route(b2c_layer(&base), Requirement::scope("read"));

    let token = b2c_token(&ti, "acr", "b2c_1_signupsignin").sign();
    assert_ok(
        &get_with(&app, "/r", &token).await,
        &b2c_view("b2c_1_signupsignin"),
    );
}

#[tokio::test]
async fn b2c_policy_claim_is_compared_ignoring_case() {
    let ti = start().await;
    let base = ti.issuer().to_owned();
    serve_b2c(&ti, &[SUSI, PROFILE_EDIT]);
    let app = guarded(
        b2c_layer(&base),
        vec![
            ("/r", Requirement::scope("read")),
            ("/susi-only", Requirement::policy(SUSI)),
        ],
    );

    let token = b2c_token(&ti, "tfp", "b2c_1_SignUpSignIn").sign();
    assert_ok(
        &get_with(&app, "/r", &token).await,
        &b2c_view("b2c_1_SignUpSignIn"),
    );
    // The policy requirement ignores case too.
    assert_ok(
        &get_with(&app, "/susi-only", &token).await,
        &b2c_view("b2c_1_SignUpSignIn"),
    );
    // It chose the sign-up/sign-in policy's keys.
    assert_eq!(ti.discovery_requests_at(&b2c_path(SUSI)), 1);
    assert_eq!(ti.discovery_requests_at(&b2c_path(PROFILE_EDIT)), 0);
}

#[tokio::test]
async fn b2c_route_requiring_one_policy_answers_403_to_a_token_from_another() {
    let ti = start().await;
    let base = ti.issuer().to_owned();
    serve_b2c(&ti, &[SUSI, PROFILE_EDIT]);
    let app = guarded(
        b2c_layer(&base),
        vec![
            ("/r", Requirement::scope("read")),
            ("/susi-only", Requirement::policy(SUSI)),
        ],
    );

    let profile_edit = b2c_token(&ti, "tfp", PROFILE_EDIT).sign();
    // A valid token (the other route takes it), but not from this policy.
    assert_ok(
        &get_with(&app, "/r", &profile_edit).await,
        &b2c_view(PROFILE_EDIT),
    );
    assert_eq!(
        get_with(&app, "/susi-only", &profile_edit).await,
        insufficient_bare()
    );

    let susi = b2c_token(&ti, "tfp", SUSI).sign();
    assert_ok(&get_with(&app, "/susi-only", &susi).await, &b2c_view(SUSI));
}

#[tokio::test]
async fn b2c_token_from_a_policy_not_configured_is_refused_without_fetching() {
    let ti = start().await;
    let base = ti.issuer().to_owned();
    serve_b2c(&ti, &[SUSI, PROFILE_EDIT, "B2C_1_other"]);
    let layer = b2c_layer(&base);
    let app = one_route(layer.clone(), Requirement::scope("read"));

    let other = b2c_token(&ti, "tfp", "B2C_1_other").sign();
    assert_eq!(get_with(&app, "/r", &other).await, invalid_token());
    assert_eq!(code(&layer, &other).await, "policy_not_accepted");
    // A policy name that only shares a prefix with a configured one.
    let prefixed = b2c_token(&ti, "tfp", "B2C_1_signupsignin_v2").sign();
    assert_eq!(get_with(&app, "/r", &prefixed).await, invalid_token());
    assert_eq!(code(&layer, &prefixed).await, "policy_not_accepted");
    // No policy claim at all.
    let none = b2c_token(&ti, "tfp", SUSI).without("tfp").sign();
    assert_eq!(get_with(&app, "/r", &none).await, invalid_token());
    assert_eq!(code(&layer, &none).await, "policy_not_accepted");

    for policy in [SUSI, PROFILE_EDIT, "B2C_1_other"] {
        assert_eq!(ti.discovery_requests_at(&b2c_path(policy)), 0, "{policy}");
    }
    assert_eq!(ti.discovery_requests(), 0);
    assert_eq!(ti.jwks_requests(), 0);
}

#[tokio::test]
async fn b2c_each_policy_discovery_document_is_fetched_once_when_its_tokens_are_first_seen() {
    let ti = start().await;
    let base = ti.issuer().to_owned();
    serve_b2c(&ti, &[SUSI, PROFILE_EDIT]);
    let app = one_route(b2c_layer(&base), Requirement::scope("read"));
    let susi_path = b2c_path(SUSI);
    let edit_path = b2c_path(PROFILE_EDIT);

    let susi = b2c_token(&ti, "tfp", SUSI).sign();
    assert_ok(&get_with(&app, "/r", &susi).await, &b2c_view(SUSI));
    assert_eq!(ti.discovery_requests_at(&susi_path), 1);
    assert_eq!(ti.discovery_requests_at(&edit_path), 0);
    assert_eq!(ti.jwks_requests(), 1);

    assert_ok(&get_with(&app, "/r", &susi).await, &b2c_view(SUSI));
    assert_eq!(ti.discovery_requests_at(&susi_path), 1);
    assert_eq!(ti.jwks_requests(), 1);

    let edit = b2c_token(&ti, "acr", PROFILE_EDIT).sign();
    assert_ok(&get_with(&app, "/r", &edit).await, &b2c_view(PROFILE_EDIT));
    assert_eq!(ti.discovery_requests_at(&susi_path), 1);
    assert_eq!(ti.discovery_requests_at(&edit_path), 1);
    assert_eq!(ti.jwks_requests(), 2);

    assert_ok(&get_with(&app, "/r", &edit).await, &b2c_view(PROFILE_EDIT));
    assert_ok(&get_with(&app, "/r", &susi).await, &b2c_view(SUSI));
    assert_eq!(ti.discovery_requests_at(&susi_path), 1);
    assert_eq!(ti.discovery_requests_at(&edit_path), 1);
    assert_eq!(ti.jwks_requests(), 2);
    // The issuer's own root discovery document is never used.
    assert_eq!(ti.discovery_requests(), 0);
}

// ---------------------------------------------------------------------------
// 5. Auth0
// (auth0.com/docs/secure/tokens/access-tokens/access-token-profiles)
// ---------------------------------------------------------------------------

const AUTH0_USER: &str = "auth0|5f7c8ec7c33c6c004bbafe82";

/// The Auth0 issuer for a test issuer at `base`: `{base}/`, with the slash.
fn auth0_issuer(ti: &TestIssuer) -> Issuer {
    Issuer::auth0(ti.issuer(), AUTH0_API).jwks_uri(ti.jwks_uri())
}

/// An Auth0 access token (Auth0 profile, RBAC with "Add Permissions in the
/// Access Token"): `iss` with a trailing slash, `aud` the API and `/userinfo`.
fn auth0_token<'a>(ti: &'a TestIssuer) -> TokenBuilder<'a> {
    let base = ti.issuer();
    ti.token()
        .typ(Some("JWT"))
        .claim("iss", format!("{base}/"))
        .claim("sub", AUTH0_USER)
        .claim("aud", json!([AUTH0_API, format!("{base}/userinfo")]))
        .claim("azp", AUTH0_CLIENT)
        .claim("scope", "openid read:notes")
        .claim("permissions", json!(["read:notes", "write:notes"]))
}

#[tokio::test]
async fn auth0_scopes_come_from_scope_and_permissions() {
    let ti = start().await;
    let layer = build(BearerAuthLayer::builder().trust(auth0_issuer(&ti)));
    let app = guarded(
        layer,
        vec![
            ("/r", Requirement::Authenticated),
            ("/write", Requirement::scope("write:notes")),
            ("/delete", Requirement::scope("delete:notes")),
        ],
    );
    let expected = view(
        AUTH0_USER,
        Some(AUTH0_CLIENT),
        None,
        None,
        &["openid", "read:notes", "write:notes"],
        &[],
    );

    let token = auth0_token(&ti).sign();
    assert_ok(&get_with(&app, "/r", &token).await, &expected);
    // write:notes is only in `permissions`.
    assert_ok(&get_with(&app, "/write", &token).await, &expected);
    assert_eq!(
        get_with(&app, "/delete", &token).await,
        insufficient("delete:notes")
    );

    // The RFC 9068 token profile (`at+jwt`) passes too.
    let rfc9068_profile = auth0_token(&ti).typ(Some("at+jwt")).sign();
    assert_ok(&get_with(&app, "/write", &rfc9068_profile).await, &expected);
    assert_eq!(ti.jwks_requests(), 1);
    assert_eq!(ti.discovery_requests(), 0);
}

#[tokio::test]
async fn auth0_permissions_as_a_string_is_refused() {
    let ti = start().await;
    let layer = build(BearerAuthLayer::builder().trust(auth0_issuer(&ti)));
    let app = one_route(layer.clone(), Requirement::Authenticated);

    let token = auth0_token(&ti)
        .claim("permissions", "read:notes write:notes")
        .sign();
    assert_eq!(get_with(&app, "/r", &token).await, invalid_token());
    assert_eq!(code(&layer, &token).await, "invalid_claim");
}

#[tokio::test]
async fn auth0_issuer_without_the_trailing_slash_is_another_issuer() {
    let ti = start().await;
    let layer = build(BearerAuthLayer::builder().trust(auth0_issuer(&ti)));
    let app = one_route(layer.clone(), Requirement::Authenticated);

    let token = auth0_token(&ti).claim("iss", ti.issuer()).sign();
    assert_eq!(get_with(&app, "/r", &token).await, invalid_token());
    assert_eq!(code(&layer, &token).await, "issuer_mismatch");
    assert_eq!(ti.jwks_requests(), 0);
}

// ---------------------------------------------------------------------------
// 6. Keycloak
// (keycloak.org/docs/latest/server_admin/#_oidc_token_role_mappings)
// ---------------------------------------------------------------------------

const KC_USER: &str = "f1b2c3d4-e5f6-4789-a0b1-c2d3e4f5a6b7";

fn keycloak_realm(ti: &TestIssuer) -> String {
    format!("{}/realms/demo", ti.issuer())
}

/// A Keycloak issuer for realm `demo`, keys by the realm's discovery document.
fn keycloak_issuer(ti: &TestIssuer) -> Issuer {
    ti.serve_discovery("/realms/demo", &keycloak_realm(ti));
    Issuer::keycloak(&keycloak_realm(ti), "notes-api")
}

/// A Keycloak access token for `notes-api`, requested by `web-app`, with an
/// audience mapper: realm roles, this client's and another client's roles.
fn keycloak_token<'a>(ti: &'a TestIssuer) -> TokenBuilder<'a> {
    ti.token()
        .typ(Some("JWT"))
        .claim("iss", keycloak_realm(ti))
        .claim("aud", json!(["notes-api", "account"]))
        .claim("sub", KC_USER)
        .claim("typ", "Bearer")
        .claim("azp", "web-app")
        .claim("jti", "6c1f0b4e-3a8d-4f2c-9b7e-5d1a0c3e8f24")
        .claim("auth_time", now())
        .claim("session_state", "0b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e")
        .claim("sid", "0b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e")
        .claim("acr", "1")
        .claim("allowed-origins", json!(["https://notes.example.com"]))
        .claim(
            "realm_access",
            json!({"roles": ["offline_access", "notes-admin"]}),
        )
        .claim(
            "resource_access",
            json!({
                "notes-api": {"roles": ["editor"]},
                "account": {"roles": ["manage-account"]},
            }),
        )
        .claim("scope", "openid profile")
        .claim("email_verified", true)
        .claim("name", "Ana Costa")
        .claim("preferred_username", "ana")
}

#[tokio::test]
async fn keycloak_roles_are_realm_and_this_clients_roles_never_another_clients() {
    let ti = start().await;
    let layer = build(BearerAuthLayer::builder().trust(keycloak_issuer(&ti)));
    let app = guarded(
        layer,
        vec![
            ("/r", Requirement::Authenticated),
            ("/edit", Requirement::role("editor")),
            ("/admin", Requirement::role("notes-admin")),
            ("/account", Requirement::role("manage-account")),
        ],
    );
    let expected = view(
        KC_USER,
        Some("web-app"),
        None,
        None,
        &["openid", "profile"],
        &["offline_access", "notes-admin", "editor"],
    );

    let token = keycloak_token(&ti).sign();
    assert_ok(&get_with(&app, "/r", &token).await, &expected);
    assert_ok(&get_with(&app, "/edit", &token).await, &expected);
    assert_ok(&get_with(&app, "/admin", &token).await, &expected);
    assert_eq!(
        get_with(&app, "/account", &token).await,
        insufficient("manage-account")
    );
    assert_eq!(ti.discovery_requests_at("/realms/demo"), 1);
    assert_eq!(ti.jwks_requests(), 1);
}

#[tokio::test]
async fn keycloak_token_for_another_client_is_refused() {
    let ti = start().await;
    let layer = build(BearerAuthLayer::builder().trust(keycloak_issuer(&ti)));
    let app = one_route(layer.clone(), Requirement::Authenticated);

    // No audience mapper: Keycloak's default `aud` is `account` only.
    let token = keycloak_token(&ti).claim("aud", "account").sign();
    assert_eq!(get_with(&app, "/r", &token).await, invalid_token());
    assert_eq!(code(&layer, &token).await, "audience_mismatch");
}

// ---------------------------------------------------------------------------
// 7. Okta
// (developer.okta.com/docs/guides/validate-access-tokens/)
// ---------------------------------------------------------------------------

fn okta_server(ti: &TestIssuer) -> String {
    format!("{}/oauth2/default", ti.issuer())
}

/// An Okta custom authorization server (`/oauth2/default`), keys by discovery.
fn okta_issuer(ti: &TestIssuer) -> Issuer {
    ti.serve_discovery("/oauth2/default", &okta_server(ti));
    Issuer::okta(&okta_server(ti), OKTA_AUDIENCE)
}

/// An Okta access token: no `typ` header, `scp` an array, `cid`, `uid`.
fn okta_token<'a>(ti: &'a TestIssuer) -> TokenBuilder<'a> {
    ti.token()
        .typ(None)
        .claim("ver", 1)
        .claim("jti", "AT.0mP4JKAZX1iACIT4vbEDF7LpvDVjxypPMf0D7uX39RE")
        .claim("iss", okta_server(ti))
        .audience(OKTA_AUDIENCE)
        .claim("cid", OKTA_CLIENT)
        .claim("uid", "00uid4BxXw6I6TV4m0g3")
        .claim("scp", json!(["notes.read", "openid"]))
        .claim("auth_time", now())
        .claim("sub", "ana.costa@example.com")
}

#[tokio::test]
async fn okta_scp_array_grants_scopes_and_the_calling_app_is_cid() {
    let ti = start().await;
    let layer = build(BearerAuthLayer::builder().trust(okta_issuer(&ti)));
    let app = guarded(
        layer.clone(),
        vec![
            ("/notes", Requirement::scope("notes.read")),
            ("/write", Requirement::scope("notes.write")),
        ],
    );

    let token = okta_token(&ti).sign();
    assert_ok(
        &get_with(&app, "/notes", &token).await,
        &view(
            "ana.costa@example.com",
            Some(OKTA_CLIENT),
            None,
            None,
            &["notes.read", "openid"],
            &[],
        ),
    );
    assert_eq!(
        get_with(&app, "/write", &token).await,
        insufficient("notes.write")
    );
    let authenticated = layer.validator().validate(&token).await.expect("valid");
    assert_eq!(authenticated.client_id(), Some(OKTA_CLIENT));

    // `typ` `JWT` is accepted too.
    let jwt = okta_token(&ti).typ(Some("JWT")).sign();
    assert_passes(&get_with(&app, "/notes", &jwt).await);
}

#[tokio::test]
async fn okta_scp_as_a_string_is_refused_as_the_wrong_type() {
    let ti = start().await;
    let layer = build(BearerAuthLayer::builder().trust(okta_issuer(&ti)));
    let app = one_route(layer.clone(), Requirement::scope("notes.read"));

    // The Okta preset reads `scp` as an array only (Okta documents an array).
    let token = okta_token(&ti).claim("scp", "notes.read openid").sign();
    assert_eq!(get_with(&app, "/r", &token).await, invalid_token());
    assert_eq!(code(&layer, &token).await, "invalid_claim");
}

// ---------------------------------------------------------------------------
// 8. Generic RFC 9068
// ---------------------------------------------------------------------------

const RS_AUDIENCE: &str = "https://rs.example.com/";

/// The RFC 9068 §2.2 example token's claims.
fn rfc9068_token<'a>(ti: &'a TestIssuer) -> TokenBuilder<'a> {
    ti.token()
        .audience(RS_AUDIENCE)
        .claim("sub", "5ba552d67")
        .claim("client_id", "s6BhdRkqt3")
        .claim("jti", "dbe39bf3a3ba4238a513f51d6e1691c4")
        .claim("auth_time", now())
        .claim("scope", "openid profile reademail")
}

#[tokio::test]
async fn rfc9068_at_jwt_with_scope_passes_and_other_types_are_refused() {
    let ti = start().await;
    let layer = build(BearerAuthLayer::builder().trust(Issuer::rfc9068(ti.issuer(), RS_AUDIENCE)));
    let app = one_route(layer.clone(), Requirement::scope("reademail"));

    let token = rfc9068_token(&ti).sign();
    assert_ok(
        &get_with(&app, "/r", &token).await,
        &view(
            "5ba552d67",
            Some("s6BhdRkqt3"),
            None,
            None,
            &["openid", "profile", "reademail"],
            &[],
        ),
    );

    for typ in [Some("JWT"), None] {
        let token = rfc9068_token(&ti).typ(typ).sign();
        assert_eq!(
            get_with(&app, "/r", &token).await,
            invalid_token(),
            "{typ:?}"
        );
        assert_eq!(code(&layer, &token).await, "wrong_type", "{typ:?}");
    }
    assert_eq!(ti.discovery_requests(), 1);
    assert_eq!(ti.jwks_requests(), 1);
}

/// Issue 12.8: the RFC 9068 preset enforces RFC 9068 §2.2: a token without
/// any one of the claims a conformant access token MUST carry is refused
/// (401 `missing_claim`), after the signature, whatever else it grants.
#[tokio::test]
async fn rfc9068_token_missing_a_claim_rfc9068_requires_is_refused() {
    let ti = start().await;
    let layer = build(BearerAuthLayer::builder().trust(Issuer::rfc9068(ti.issuer(), RS_AUDIENCE)));
    let app = one_route(layer.clone(), Requirement::scope("reademail"));
    for claim in ["sub", "client_id", "iat", "jti", "exp", "aud", "iss"] {
        let token = rfc9068_token(&ti).without(claim).sign();
        assert_eq!(
            get_with(&app, "/r", &token).await,
            invalid_token(),
            "{claim}"
        );
        assert_eq!(code(&layer, &token).await, "missing_claim", "{claim}");
    }
    // The same token shapes pass a plain issuer, which requires none of them
    // beyond iss, aud and exp.
    let plain =
        build(BearerAuthLayer::builder().trust(Issuer::new(ti.issuer()).audience(RS_AUDIENCE)));
    for claim in ["sub", "client_id", "iat", "jti"] {
        let token = rfc9068_token(&ti).without(claim).sign();
        let verdict = plain.validator().validate(&token).await;
        assert_eq!(
            verdict.map(|a| a.scopes().contains("reademail")),
            Ok(true),
            "{claim}"
        );
    }
}

// ---------------------------------------------------------------------------
// 9. Several issuers behind one layer
// ---------------------------------------------------------------------------

/// Three providers, each its own local issuer (own key set, own counters):
/// Entra ID v2 (discovery), Auth0 (`jwks_uri`), Keycloak (discovery).
struct Providers {
    entra: TestIssuer,
    auth0: TestIssuer,
    keycloak: TestIssuer,
}

impl Providers {
    async fn start() -> Self {
        Providers {
            entra: start().await,
            auth0: start().await,
            keycloak: start().await,
        }
    }

    /// A fresh layer trusting all three.
    fn layer(&self) -> BearerAuthLayer {
        serve_v2(&self.entra, TENANT_ID);
        build(
            BearerAuthLayer::builder()
                .trust(Issuer::entra_id(TENANT_ID, API_CLIENT_ID).authority(self.entra.issuer()))
                .trust(auth0_issuer(&self.auth0))
                .trust(keycloak_issuer(&self.keycloak)),
        )
    }

    fn entra_token(&self) -> String {
        entra_delegated(
            &self.entra,
            &v2_issuer(self.entra.issuer(), TENANT_ID),
            TENANT_ID,
        )
        .sign()
    }

    /// `(jwks, discovery)` requests each issuer served, Entra, Auth0, Keycloak.
    fn traffic(&self) -> [(usize, usize); 3] {
        let entra_path = format!("/{TENANT_ID}/v2.0");
        [
            (
                self.entra.jwks_requests(),
                self.entra.discovery_requests() + self.entra.discovery_requests_at(&entra_path),
            ),
            (self.auth0.jwks_requests(), self.auth0.discovery_requests()),
            (
                self.keycloak.jwks_requests(),
                self.keycloak.discovery_requests()
                    + self.keycloak.discovery_requests_at("/realms/demo"),
            ),
        ]
    }
}

#[tokio::test]
async fn several_issuers_each_token_passes_with_its_own_shape() {
    let p = Providers::start().await;
    let layer = p.layer();
    let app = one_route(layer.clone(), Requirement::Authenticated);

    assert_ok(
        &get_with(&app, "/r", &p.entra_token()).await,
        &view(
            "HKZpfaHyWadeOouYlitjrI-KffTm222X5rrV3xDqfKQ",
            Some(WEB_APP_ID),
            Some(TENANT_ID),
            None,
            &["access_as_user"],
            &[],
        ),
    );
    assert_ok(
        &get_with(&app, "/r", &auth0_token(&p.auth0).sign()).await,
        &view(
            AUTH0_USER,
            Some(AUTH0_CLIENT),
            None,
            None,
            &["openid", "read:notes", "write:notes"],
            &[],
        ),
    );
    assert_ok(
        &get_with(&app, "/r", &keycloak_token(&p.keycloak).sign()).await,
        &view(
            KC_USER,
            Some("web-app"),
            None,
            None,
            &["openid", "profile"],
            &["offline_access", "notes-admin", "editor"],
        ),
    );
    assert_eq!(p.traffic(), [(1, 1), (1, 0), (1, 1)]);

    // Audiences and claim shapes are per issuer: an Entra token for the Auth0
    // API's audience, or an Entra token without `scp`/`roles` is refused even
    // though another trusted issuer would accept such a shape.
    let wrong_aud = entra_delegated(&p.entra, &v2_issuer(p.entra.issuer(), TENANT_ID), TENANT_ID)
        .audience(AUTH0_API)
        .sign();
    assert_eq!(get_with(&app, "/r", &wrong_aud).await, invalid_token());
    assert_eq!(code(&layer, &wrong_aud).await, "audience_mismatch");
    let keycloak_shape_at_entra =
        entra_delegated(&p.entra, &v2_issuer(p.entra.issuer(), TENANT_ID), TENANT_ID)
            .without("scp")
            .claim("realm_access", json!({"roles": ["notes-admin"]}))
            .sign();
    assert_eq!(
        get_with(&app, "/r", &keycloak_shape_at_entra).await,
        invalid_token()
    );
    assert_eq!(
        code(&layer, &keycloak_shape_at_entra).await,
        "no_permissions"
    );
}

#[tokio::test]
async fn several_issuers_unknown_issuer_is_refused_with_zero_fetches() {
    let p = Providers::start().await;
    let layer = p.layer();
    let app = one_route(layer.clone(), Requirement::Authenticated);

    // Properly signed by a key each trusted issuer publishes, shaped like each
    // provider's token, but from an issuer nobody trusts.
    let evil = [
        entra_delegated(&p.entra, "https://evil.example/", TENANT_ID).sign(),
        auth0_token(&p.auth0)
            .claim("iss", "https://evil.example/")
            .sign(),
        keycloak_token(&p.keycloak)
            .claim("iss", "https://evil.example/")
            .sign(),
        // No iss at all.
        keycloak_token(&p.keycloak).without("iss").sign(),
    ];
    for token in &evil[..3] {
        assert_eq!(get_with(&app, "/r", token).await, invalid_token());
        assert_eq!(code(&layer, token).await, "issuer_mismatch");
    }
    assert_eq!(get_with(&app, "/r", &evil[3]).await, invalid_token());
    assert_eq!(code(&layer, &evil[3]).await, "missing_claim");
    assert_eq!(p.traffic(), [(0, 0), (0, 0), (0, 0)]);
}

#[tokio::test]
async fn several_issuers_each_has_its_own_key_cache() {
    let p = Providers::start().await;
    let app = one_route(p.layer(), Requirement::Authenticated);

    // Warm Entra: only Entra fetches.
    let entra = p.entra_token();
    assert_passes(&get_with(&app, "/r", &entra).await);
    assert_eq!(p.traffic(), [(1, 1), (0, 0), (0, 0)]);
    assert_passes(&get_with(&app, "/r", &entra).await);
    assert_eq!(p.traffic(), [(1, 1), (0, 0), (0, 0)]);

    // The first Keycloak token fetches Keycloak's keys, not Entra's.
    let keycloak = keycloak_token(&p.keycloak).sign();
    assert_passes(&get_with(&app, "/r", &keycloak).await);
    assert_eq!(p.traffic(), [(1, 1), (0, 0), (1, 1)]);

    // And Auth0's first token fetches Auth0's (by jwks_uri, no discovery).
    let auth0 = auth0_token(&p.auth0).sign();
    assert_passes(&get_with(&app, "/r", &auth0).await);
    assert_eq!(p.traffic(), [(1, 1), (1, 0), (1, 1)]);
}

#[tokio::test]
async fn several_issuers_unknown_kid_flood_at_one_issuer_makes_no_other_issuer_fetch() {
    let p = Providers::start().await;
    let layer = p.layer();
    let app = one_route(layer.clone(), Requirement::Authenticated);

    // Twenty Auth0 tokens with random kids on a cold layer: Auth0's key set is
    // fetched once (the cooldown then holds), nobody else's at all.
    for i in 0..20 {
        let token = auth0_token(&p.auth0)
            .header_kid(&format!("random-kid-{i}-7f3a9c"))
            .sign();
        assert_eq!(get_with(&app, "/r", &token).await, invalid_token(), "{i}");
    }
    let token = auth0_token(&p.auth0).header_kid("random-kid-last").sign();
    assert_eq!(code(&layer, &token).await, "unknown_kid");
    assert_eq!(p.traffic(), [(0, 0), (1, 0), (0, 0)]);

    // Auth0's genuine tokens pass from the set already loaded.
    let auth0 = auth0_token(&p.auth0).sign();
    assert_passes(&get_with(&app, "/r", &auth0).await);
    assert_eq!(p.traffic(), [(0, 0), (1, 0), (0, 0)]);

    // Keycloak and Entra are not held back by Auth0's cooldown: their first
    // tokens fetch their own keys.
    let keycloak = keycloak_token(&p.keycloak).sign();
    assert_passes(&get_with(&app, "/r", &keycloak).await);
    let entra = p.entra_token();
    assert_passes(&get_with(&app, "/r", &entra).await);
    assert_eq!(p.traffic(), [(1, 1), (1, 0), (1, 1)]);

    // A flood at Keycloak now (in its cooldown) fetches nothing anywhere.
    for i in 0..20 {
        let token = keycloak_token(&p.keycloak)
            .header_kid(&format!("kc-random-{i}"))
            .sign();
        assert_eq!(get_with(&app, "/r", &token).await, invalid_token(), "{i}");
    }
    assert_eq!(p.traffic(), [(1, 1), (1, 0), (1, 1)]);
}

// ---------------------------------------------------------------------------
// 10. Calling-app allow-list combined with an app role
// ---------------------------------------------------------------------------

#[tokio::test]
async fn calling_app_allow_list_combined_with_an_app_role() {
    let ti = start().await;
    let base = ti.issuer().to_owned();
    serve_v2(&ti, TENANT_ID);
    serve_v1(&ti, TENANT_ID);
    let iss = v2_issuer(&base, TENANT_ID);
    let layer = build(
        BearerAuthLayer::builder()
            .trust(Issuer::entra_id(TENANT_ID, API_CLIENT_ID).authority(&base))
            .trust(Issuer::entra_id_v1(TENANT_ID, API_CLIENT_ID).authority(&base)),
    );
    let requirement =
        Requirement::role("Notes.Read.All").and(Requirement::any_client([APP_A, APP_B]));
    let app = one_route(layer, requirement);
    let sp = "3a5c7e9b-1d3f-4a6c-8e0b-2d4f6a8c0e1b";

    for allowed in [APP_A, APP_B] {
        let token = entra_app(&ti, &iss, TENANT_ID, allowed, &["Notes.Read.All"]).sign();
        assert_ok(
            &get_with(&app, "/r", &token).await,
            &view(
                sp,
                Some(allowed),
                Some(TENANT_ID),
                None,
                &[],
                &["Notes.Read.All"],
            ),
        );
    }
    // The role, but not an allowed app.
    let app_c = entra_app(&ti, &iss, TENANT_ID, APP_C, &["Notes.Read.All"]).sign();
    assert_eq!(
        get_with(&app, "/r", &app_c).await,
        insufficient("Notes.Read.All")
    );
    // An allowed app, but another role.
    let wrong_role = entra_app(&ti, &iss, TENANT_ID, APP_A, &["Notes.Write.All"]).sign();
    assert_eq!(
        get_with(&app, "/r", &wrong_role).await,
        insufficient("Notes.Read.All")
    );
    // A user signed in to an allowed app, with a delegated scope but no role.
    let delegated = entra_delegated(&ti, &iss, TENANT_ID)
        .claim("azp", APP_A)
        .sign();
    assert_eq!(
        get_with(&app, "/r", &delegated).await,
        insufficient("Notes.Read.All")
    );

    // v1 app-only tokens name the app in `appid`.
    let v1_app = |app_id: &str| {
        entra_common(
            &ti,
            &format!("https://sts.windows.net/{TENANT_ID}/"),
            TENANT_ID,
            "1.0",
        )
        .claim("appid", app_id)
        .claim("appidacr", "1")
        .claim("idtyp", "app")
        .claim("oid", sp)
        .claim("sub", sp)
        .roles(&["Notes.Read.All"])
        .sign()
    };
    assert_ok(
        &get_with(&app, "/r", &v1_app(APP_B)).await,
        &view(
            sp,
            Some(APP_B),
            Some(TENANT_ID),
            None,
            &[],
            &["Notes.Read.All"],
        ),
    );
    assert_eq!(
        get_with(&app, "/r", &v1_app(APP_C)).await,
        insufficient("Notes.Read.All")
    );
}

// ---------------------------------------------------------------------------
// 11. Configuration errors
// ---------------------------------------------------------------------------

#[test]
fn a_tenant_template_without_discovery_or_jwks_uri_is_a_config_error() {
    let result = BearerAuthLayer::builder()
        .trust(Issuer::new("https://login.microsoftonline.com/{tenantid}/v2.0").audience("x"))
        .build();
    match result {
        Err(ConfigError::TemplateNeedsKeys(template)) => {
            assert_eq!(
                template,
                "https://login.microsoftonline.com/{tenantid}/v2.0"
            );
        }
        other => panic!("expected TemplateNeedsKeys, got {other:?}"),
    }
}
