//! Providers: every provider preset, each pointed at one local test issuer and
//! fed tokens shaped as that provider documents them, through real HTTP
//! requests to a small axum app.
//!
//! ```text
//! cargo run --example providers
//! RUST_LOG=bearer_guard=debug cargo run --example providers   # more detail
//! ```
//!
//! The presets name real provider URLs (`https://login.microsoftonline.com/…`),
//! so each one is redirected to the local issuer: Microsoft presets with
//! `.authority(base)` plus a discovery document served under the path the
//! preset derives, the others by issuer URL or `.jwks_uri(...)`. The tokens'
//! claims follow each provider's public token reference, cited at each helper.
//!
//! One line per case: provider, case, status, and either what the layer read
//! (scopes, roles, calling app, tenant, policy) or why it refused. Every outcome
//! is checked: the example exits with status 1 if any differs from what is
//! expected, so it doubles as a smoke test.

use std::fmt::Write as _;
use std::io::IsTerminal;

use axum::Router;
use axum::routing::get;
use bearer_guard::testing::TestIssuer;
use bearer_guard::{
    Authenticated, BearerAuthLayer, ConfigError, Issuer, Permissions, Requirement, Validator,
    require,
};
use reqwest::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use serde_json::json;
use tracing_subscriber::EnvFilter;

/// Our API's app registration (client id) in Microsoft Entra ID.
const API: &str = "00001111-aaaa-2222-bbbb-3333cccc4444";
/// The tenant our API lives in.
const TENANT: &str = "aaaabbbb-0000-cccc-1111-dddd2222eeee";
/// A daemon app calling with client credentials (app-only).
const DAEMON: &str = "11112222-bbbb-3333-cccc-4444dddd5555";
/// The daemon's service principal (its `oid` and `sub` in app-only tokens).
const DAEMON_SP: &str = "22223333-cccc-4444-dddd-5555eeee6666";
/// A single-page app calling on behalf of a signed-in user (delegated).
const SPA: &str = "33334444-dddd-5555-eeee-6666ffff7777";
/// A customer tenant allowed to call our multi-tenant API, and one that is not.
const CUSTOMER: &str = "bbbbcccc-1111-dddd-2222-eeee3333ffff";
const STRANGER: &str = "ccccdddd-2222-eeee-3333-ffff4444aaaa";

/// The Azure AD B2C tenant, its id, and our API's app registration in it.
const B2C_TENANT: &str = "contoso";
const B2C_TENANT_ID: &str = "ddddeeee-3333-ffff-4444-aaaa5555bbbb";
const B2C_API: &str = "44445555-eeee-6666-ffff-7777aaaa8888";
const B2C_WEB: &str = "55556666-ffff-7777-aaaa-8888bbbb9999";

/// Renders what the layer read from a validated token.
fn read(token: &Authenticated) -> String {
    fn list(permissions: &Permissions) -> String {
        permissions.iter().collect::<Vec<_>>().join(" ")
    }
    let mut out = format!(
        "scopes=[{}] roles=[{}]",
        list(token.scopes()),
        list(token.roles())
    );
    for (name, value) in [
        ("client", token.client_id()),
        ("tenant", token.tenant_id()),
        ("policy", token.policy()),
    ] {
        if let Some(value) = value {
            let _ = write!(out, " {name}={value}");
        }
    }
    out
}

/// Every protected route answers with what the layer read.
async fn show(token: Authenticated) -> String {
    read(&token)
}

/// One provider: its routes behind its own layer, and the cases to send.
struct Provider {
    name: &'static str,
    /// Where its routes are nested in the app.
    mount: &'static str,
    routes: Router,
    /// The layer's validator, to name the reason of a 401 and what a 403 token carried.
    validator: Validator,
    cases: Vec<Case>,
}

impl Provider {
    fn new(name: &'static str, mount: &'static str, auth: BearerAuthLayer, routes: Router) -> Self {
        Provider {
            name,
            mount,
            validator: auth.validator().clone(),
            // route_layer: only matched routes are guarded, so unknown paths stay 404.
            routes: routes.route_layer(auth),
            cases: Vec::new(),
        }
    }

    /// Expect 200, and that the layer read `read` from the token.
    fn ok(mut self, what: &'static str, path: &'static str, token: String, read: String) -> Self {
        self.cases.push(Case {
            what,
            path,
            token,
            status: 200,
            challenge: None,
            detail: read,
        });
        self
    }

    /// Expect 401 `invalid_token`, for the reason `code` ([`bearer_guard::Error::code`]).
    fn invalid(
        mut self,
        what: &'static str,
        path: &'static str,
        token: String,
        code: &str,
    ) -> Self {
        self.cases.push(Case {
            what,
            path,
            token,
            status: 401,
            challenge: Some(r#"Bearer error="invalid_token""#),
            detail: code.to_owned(),
        });
        self
    }

    /// Expect 403 with `challenge`: a valid token (the layer read `read`) that
    /// the route's guard refuses.
    fn forbidden(
        mut self,
        what: &'static str,
        path: &'static str,
        token: String,
        challenge: &'static str,
        read: String,
    ) -> Self {
        self.cases.push(Case {
            what,
            path,
            token,
            status: 403,
            challenge: Some(challenge),
            detail: read,
        });
        self
    }
}

/// One request and the response it must get.
struct Case {
    what: &'static str,
    path: &'static str,
    token: String,
    status: u16,
    challenge: Option<&'static str>,
    /// For 200 and 403: what the layer read. For 401: the logged reason code.
    detail: String,
}

/// Microsoft Entra ID, one tenant, v2.0 and v1.0 tokens behind one layer.
///
/// Token shapes: Microsoft identity platform access token claims reference
/// (<https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference>):
/// `scp` (space-separated, delegated) or `roles` (app-only), `azp` (v2) or
/// `appid` (v1), `tid`, `ver`, `idtyp`; header `typ` `JWT`. ID token shape:
/// <https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference>.
fn entra_id(ti: &TestIssuer) -> Result<Provider, ConfigError> {
    let base = ti.issuer();
    let v2 = format!("{base}/{TENANT}/v2.0");
    let v1 = format!("https://sts.windows.net/{TENANT}/");
    // The discovery documents the presets read, now under the local authority:
    // v2 `{authority}/{tid}/v2.0/…` names the v2 issuer; v1 `{authority}/{tid}/…`
    // names `https://sts.windows.net/{tid}/` (the v1 issuer is not a URL we fetch).
    ti.serve_discovery(&format!("/{TENANT}/v2.0"), &v2);
    ti.serve_discovery(&format!("/{TENANT}"), &v1);
    let auth = BearerAuthLayer::builder()
        .trust(Issuer::entra_id(TENANT, API).authority(base))
        .trust(Issuer::entra_id_v1(TENANT, API).authority(base))
        .build()?;
    // Microsoft.Identity.Web's RequiredScopeOrAppPermission: a user with the
    // delegated scope, or an app with the app role.
    let read_data = Requirement::scope("access_as_user").or(Requirement::role("Read.All"));
    let routes = Router::new().route("/data", get(show).route_layer(require(read_data)));

    // Client credentials: roles, no scp; azp is the daemon, sub/oid its service principal.
    let app_only = ti
        .token()
        .typ(Some("JWT"))
        .claim("iss", v2.as_str())
        .audience(API)
        .claim("azp", DAEMON)
        .claim("azpacr", "1")
        .claim("oid", DAEMON_SP)
        .claim("sub", DAEMON_SP)
        .claim("tid", TENANT)
        .claim("idtyp", "app")
        .claim("ver", "2.0")
        .roles(&["Read.All"])
        .sign();
    // A user signed in to the SPA: scp, no roles.
    let delegated = ti
        .token()
        .typ(Some("JWT"))
        .claim("iss", v2.as_str())
        .audience(API)
        .claim("azp", SPA)
        .claim("azpacr", "0")
        .claim("name", "Alice")
        .claim("preferred_username", "alice@contoso.com")
        .claim("oid", "66667777-aaaa-8888-bbbb-9999cccc0000")
        .claim("tid", TENANT)
        .claim("ver", "2.0")
        .scope("access_as_user")
        .sign();
    // The same call with a v1.0 token: sts.windows.net issuer, appid, aud the App ID URI.
    let delegated_v1 = ti
        .token()
        .typ(Some("JWT"))
        .claim("iss", v1.as_str())
        .audience(&format!("api://{API}"))
        .claim("appid", SPA)
        .claim("appidacr", "0")
        .claim("upn", "alice@contoso.com")
        .claim("tid", TENANT)
        .claim("ver", "1.0")
        .scope("access_as_user")
        .sign();
    // An ID token sent as if it were an access token: same issuer, aud our
    // client id, but it grants neither scp nor roles.
    let id_token = ti
        .token()
        .typ(Some("JWT"))
        .claim("iss", v2.as_str())
        .audience(API)
        .claim("nonce", "n-0S6_WzA2Mj")
        .claim("name", "Alice")
        .claim("preferred_username", "alice@contoso.com")
        .claim("oid", "66667777-aaaa-8888-bbbb-9999cccc0000")
        .claim("tid", TENANT)
        .claim("ver", "2.0")
        .sign();

    Ok(Provider::new("Entra ID", "/entra", auth, routes)
        .ok(
            "app-only: roles [Read.All], azp, no scp",
            "/data",
            app_only,
            format!("scopes=[] roles=[Read.All] client={DAEMON} tenant={TENANT}"),
        )
        .ok(
            "delegated: scp access_as_user",
            "/data",
            delegated,
            format!("scopes=[access_as_user] roles=[] client={SPA} tenant={TENANT}"),
        )
        .ok(
            "delegated v1.0: sts.windows.net, appid",
            "/data",
            delegated_v1,
            format!("scopes=[access_as_user] roles=[] client={SPA} tenant={TENANT}"),
        )
        .invalid(
            "ID token: no scp, no roles",
            "/data",
            id_token,
            "no_permissions",
        ))
}

/// Microsoft Entra ID, multi-tenant (the `common` endpoint) with a tenant
/// allow-list: `iss` must be the template with the token's own `tid`, and the
/// `tid` must be allowed (multi-tenant apps: validate the issuer per tenant,
/// <https://learn.microsoft.com/entra/identity-platform/howto-convert-app-to-be-multi-tenant>).
fn entra_id_multi_tenant(ti: &TestIssuer) -> Result<Provider, ConfigError> {
    let base = ti.issuer();
    // The `common` document names the template, as Microsoft's does.
    ti.serve_discovery("/common/v2.0", &format!("{base}/{{tenantid}}/v2.0"));
    let auth = BearerAuthLayer::builder()
        .trust(
            Issuer::entra_id_multi_tenant(API)
                .authority(base)
                .allowed_tenants([CUSTOMER]),
        )
        .build()?;
    let read_data = Requirement::scope("access_as_user").or(Requirement::role("Read.All"));
    let routes = Router::new().route("/data", get(show).route_layer(require(read_data)));
    let user_of = |tenant: &str| {
        ti.token()
            .typ(Some("JWT"))
            .claim("iss", format!("{base}/{tenant}/v2.0"))
            .audience(API)
            .claim("azp", SPA)
            .claim("tid", tenant)
            .claim("ver", "2.0")
            .scope("access_as_user")
            .sign()
    };

    Ok(Provider::new("Entra ID", "/entra-multi", auth, routes)
        .ok(
            "multi-tenant: allowed tenant",
            "/data",
            user_of(CUSTOMER),
            format!("scopes=[access_as_user] roles=[] client={SPA} tenant={CUSTOMER}"),
        )
        .invalid(
            "multi-tenant: tenant not on the allow-list",
            "/data",
            user_of(STRANGER),
            "issuer_mismatch",
        ))
}

/// Azure AD B2C with two user flows, each with its own discovery document.
///
/// Token shape: Azure AD B2C tokens overview
/// (<https://learn.microsoft.com/azure/active-directory-b2c/tokens-overview>):
/// issuer `https://{tenant}.b2clogin.com/{tenant-id}/v2.0/`, `scp`, `azp`,
/// the user flow in `tfp` (or `acr` where the tenant's token compatibility
/// setting says so), `ver` `1.0`; header `typ` `JWT`.
fn azure_ad_b2c(ti: &TestIssuer) -> Result<Provider, ConfigError> {
    let base = ti.issuer();
    let issuer = format!("{base}/{B2C_TENANT_ID}/v2.0/");
    let flows = ["B2C_1_signupsignin", "B2C_1_profileediting"];
    for flow in flows {
        // `{authority}/{tenant}.onmicrosoft.com/{policy}/v2.0/.well-known/…`
        ti.serve_discovery(
            &format!("/{B2C_TENANT}.onmicrosoft.com/{flow}/v2.0"),
            &issuer,
        );
    }
    let auth = BearerAuthLayer::builder()
        .trust(Issuer::azure_ad_b2c(B2C_TENANT, B2C_TENANT_ID, B2C_API, flows).authority(base))
        .build()?;
    let routes = Router::new()
        .route(
            "/read",
            get(show).route_layer(require(Requirement::scope("read"))),
        )
        // Only tokens from the sign-up/sign-in flow.
        .route(
            "/signup-only",
            get(show).route_layer(require(Requirement::policy("B2C_1_signupsignin"))),
        );
    let from_flow = |claim: &str, flow: &str| {
        ti.token()
            .typ(Some("JWT"))
            .claim("iss", issuer.as_str())
            .audience(B2C_API)
            .claim("sub", "77778888-bbbb-9999-cccc-0000dddd1111")
            .claim("azp", B2C_WEB)
            .claim("ver", "1.0")
            .claim("auth_time", json!(1_700_000_000))
            .claim(claim, flow)
            .scope("read")
            .sign()
    };
    let read_by = |policy: &str| format!("scopes=[read] roles=[] client={B2C_WEB} policy={policy}");

    Ok(Provider::new("B2C", "/b2c", auth, routes)
        .ok(
            "scp read, tfp B2C_1_signupsignin",
            "/read",
            from_flow("tfp", "B2C_1_signupsignin"),
            read_by("B2C_1_signupsignin"),
        )
        .ok(
            "policy route, acr b2c_1_signupsignin",
            "/signup-only",
            from_flow("acr", "b2c_1_signupsignin"),
            read_by("b2c_1_signupsignin"),
        )
        .forbidden(
            "policy route, tfp B2C_1_profileediting",
            "/signup-only",
            from_flow("tfp", "B2C_1_profileediting"),
            r#"Bearer error="insufficient_scope""#,
            read_by("B2C_1_profileediting"),
        )
        .invalid(
            "tfp B2C_1_passwordreset (not configured)",
            "/read",
            from_flow("tfp", "B2C_1_passwordreset"),
            "policy_not_accepted",
        ))
}

/// Auth0, with RBAC's "Add Permissions in the Access Token" on.
///
/// Token shape: Auth0 access token profiles
/// (<https://auth0.com/docs/secure/tokens/access-tokens/access-token-profiles>):
/// issuer `https://{domain}/` (trailing slash), `aud` an array with the API
/// identifier and the userinfo URL, `azp`, `scope` (a string) and
/// `permissions` (an array); header `typ` `JWT` in the Auth0 profile.
fn auth0(ti: &TestIssuer) -> Result<Provider, ConfigError> {
    let base = ti.issuer();
    let audience = "https://notes.example.com";
    // `Issuer::auth0` appends the slash Auth0 issuers end with; the test issuer's
    // own discovery names the issuer without it, so point at its JWKS directly.
    let auth = BearerAuthLayer::builder()
        .trust(Issuer::auth0(base, audience).jwks_uri(ti.jwks_uri()))
        .build()?;
    let routes = Router::new().route(
        "/messages",
        get(show).route_layer(require(Requirement::scope("read:messages"))),
    );
    let user = |permissions: &[&str]| {
        ti.token()
            .typ(Some("JWT"))
            .claim("iss", format!("{base}/"))
            .claim("sub", "auth0|64f1c2a9e1b2c3d4e5f60718")
            .claim("aud", json!([audience, format!("{base}/userinfo")]))
            .claim("azp", "my_spa_client_id")
            .claim("scope", "openid profile")
            .claim("permissions", json!(permissions))
            .sign()
    };

    Ok(Provider::new("Auth0", "/auth0", auth, routes)
        .ok(
            "scope openid profile, permissions [read:messages]",
            "/messages",
            user(&["read:messages"]),
            "scopes=[openid profile read:messages] roles=[] client=my_spa_client_id".to_owned(),
        )
        .forbidden(
            "scope openid profile, permissions []",
            "/messages",
            user(&[]),
            r#"Bearer error="insufficient_scope", scope="read:messages""#,
            "scopes=[openid profile] roles=[] client=my_spa_client_id".to_owned(),
        ))
}

/// Keycloak, realm `demo`, our API the client `notes-api`.
///
/// Token shape: Keycloak server administration guide, OIDC token role mappings
/// (<https://www.keycloak.org/docs/latest/server_admin/#_oidc_token_role_mappings>):
/// realm roles in `realm_access.roles`, client roles in
/// `resource_access.{client}.roles`, `scope` a string, `azp` the requesting
/// client, `aud` from an audience mapper; header `typ` `JWT`.
fn keycloak(ti: &TestIssuer) -> Result<Provider, ConfigError> {
    let base = ti.issuer();
    let realm = format!("{base}/realms/demo");
    ti.serve_discovery("/realms/demo", &realm);
    let auth = BearerAuthLayer::builder()
        .trust(Issuer::keycloak(&realm, "notes-api"))
        .build()?;
    let routes = Router::new().route(
        "/notes",
        get(show).route_layer(require(Requirement::role("editor"))),
    );
    let user = |resource_access: serde_json::Value| {
        ti.token()
            .typ(Some("JWT"))
            .claim("iss", realm.as_str())
            .claim("aud", json!(["notes-api", "account"]))
            .claim("sub", "f1e2d3c4-b5a6-4789-8123-456789abcdef")
            .claim("typ", "Bearer")
            .claim("azp", "notes-web")
            .claim("preferred_username", "alice")
            .claim("scope", "openid profile email")
            .claim(
                "realm_access",
                json!({"roles": ["default-roles-demo", "offline_access", "uma_authorization"]}),
            )
            .claim("resource_access", resource_access)
            .sign()
    };
    let realm_roles = "default-roles-demo offline_access uma_authorization";

    Ok(Provider::new("Keycloak", "/keycloak", auth, routes)
        .ok(
            "realm roles + resource_access.notes-api.roles",
            "/notes",
            user(json!({
                "notes-api": {"roles": ["editor"]},
                "account": {"roles": ["manage-account", "view-profile"]}
            })),
            format!("scopes=[openid profile email] roles=[{realm_roles} editor] client=notes-web"),
        )
        // `editor` of another client is not a role in this API.
        .forbidden(
            "editor only under resource_access.admin-app",
            "/notes",
            user(json!({"admin-app": {"roles": ["editor"]}})),
            r#"Bearer error="insufficient_scope", scope="editor""#,
            format!("scopes=[openid profile email] roles=[{realm_roles}] client=notes-web"),
        ))
}

/// Okta, custom authorization server `default`.
///
/// Token shape: Okta access token claims
/// (<https://developer.okta.com/docs/guides/validate-access-tokens/> and the
/// OpenID Connect & OAuth 2.0 API reference): `scp` an array, `cid` the client,
/// `uid` the user, `ver` 1, `jti` `AT.…`. The preset accepts a `typ` of `JWT`
/// or none; this token has none.
fn okta(ti: &TestIssuer) -> Result<Provider, ConfigError> {
    let base = ti.issuer();
    let issuer = format!("{base}/oauth2/default");
    ti.serve_discovery("/oauth2/default", &issuer);
    let auth = BearerAuthLayer::builder()
        .trust(Issuer::okta(&issuer, "api://default"))
        .build()?;
    let routes = Router::new().route(
        "/notes",
        get(show).route_layer(require(Requirement::scope("notes.read"))),
    );
    let token = ti
        .token()
        .typ(None)
        .claim("ver", 1)
        .claim("jti", "AT.0mP4JKAZX1iACIT4vbEDF7LpvDVjxypPMf0D7uX39RE")
        .claim("iss", issuer.as_str())
        .audience("api://default")
        .claim("sub", "alice@example.com")
        .claim("cid", "0oa1b2c3d4e5f6g7h8i9")
        .claim("uid", "00u1a2b3c4d5e6f7g8h9")
        .claim("scp", json!(["openid", "email", "notes.read"]))
        .sign();

    Ok(Provider::new("Okta", "/okta", auth, routes).ok(
        "scp [openid email notes.read], cid",
        "/notes",
        token,
        "scopes=[openid email notes.read] roles=[] client=0oa1b2c3d4e5f6g7h8i9".to_owned(),
    ))
}

/// Any RFC 9068 issuer: the test issuer itself, discovery and all.
///
/// Token shape: RFC 9068 §2.1 (header `typ` `at+jwt`) and §2.2 (`iss`, `exp`,
/// `aud`, `sub`, `client_id`, `iat`, `jti`, `scope`).
fn rfc9068(ti: &TestIssuer) -> Result<Provider, ConfigError> {
    let auth = BearerAuthLayer::builder()
        .trust(Issuer::rfc9068(ti.issuer(), TestIssuer::AUDIENCE))
        .build()?;
    let routes = Router::new().route(
        "/notes",
        get(show).route_layer(require(Requirement::scope("notes.read"))),
    );
    let token = |typ: &str| {
        ti.token()
            .typ(Some(typ))
            .claim("sub", "5ba552d67")
            .claim("client_id", "s6BhdRkqt3")
            .claim("jti", "dbe39bf3a3ba4238a513f51d6e1691c4")
            .claim("scope", "openid notes.read")
            .sign()
    };

    Ok(Provider::new("RFC 9068", "/rfc9068", auth, routes)
        .ok(
            "typ at+jwt, scope openid notes.read",
            "/notes",
            token("at+jwt"),
            "scopes=[openid notes.read] roles=[] client=s6BhdRkqt3".to_owned(),
        )
        .invalid(
            "typ JWT (not an RFC 9068 access token)",
            "/notes",
            token("JWT"),
            "wrong_type",
        ))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The layer logs the precise reason for every rejection (never the token).
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("bearer_guard=info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    // 1. One local issuer: every provider below takes its keys from it.
    let ti = TestIssuer::start().await?;

    // 2. A layer per provider preset, each guarding its own routes.
    let providers = [
        entra_id(&ti)?,
        entra_id_multi_tenant(&ti)?,
        azure_ad_b2c(&ti)?,
        auth0(&ti)?,
        keycloak(&ti)?,
        okta(&ti)?,
        rfc9068(&ti)?,
    ];
    let mut app = Router::new();
    let mut runs = Vec::new();
    for provider in providers {
        app = app.nest(provider.mount, provider.routes);
        runs.push((
            provider.name,
            provider.mount,
            provider.validator,
            provider.cases,
        ));
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let server = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    println!("issuer {}, API {server}\n", ti.issuer());

    // 3. Every case, as a real request.
    let client = reqwest::Client::new();
    let mut failures = Vec::new();
    let mut count = 0;
    for (name, mount, validator, cases) in &runs {
        for case in cases {
            count += 1;
            let response = client
                .get(format!("{server}{mount}{}", case.path))
                .header(AUTHORIZATION, format!("Bearer {}", case.token))
                .send()
                .await?;
            let status = response.status().as_u16();
            let challenge = match response.headers().get(WWW_AUTHENTICATE) {
                Some(value) => Some(value.to_str()?.to_owned()),
                None => None,
            };
            let body = response.text().await?;
            // A 200 body is what the handler read; otherwise ask the validator
            // what it reads (403) or why it refuses (401, the logged reason).
            let detail = if status == 200 {
                body
            } else {
                match validator.validate(&case.token).await {
                    Ok(token) => read(&token),
                    Err(error) => error.code().to_owned(),
                }
            };
            let shown = match (&challenge, status) {
                (None, _) => format!("read: {detail}"),
                (Some(c), 401) => format!("{c} (reason: {detail})"),
                (Some(c), _) => format!("{c}  read: {detail}"),
            };
            println!("{name:<9} {:<50} -> {status}  {shown}", case.what);
            if status != case.status
                || challenge.as_deref() != case.challenge
                || detail != case.detail
            {
                failures.push(format!(
                    "{name} {mount}{} ({}): expected {} {:?} {:?}, got {status} {challenge:?} {detail:?}",
                    case.path, case.what, case.status, case.challenge, case.detail
                ));
            }
        }
    }

    if !failures.is_empty() {
        eprintln!("\nunexpected responses:");
        for failure in &failures {
            eprintln!("  {failure}");
        }
        std::process::exit(1);
    }
    println!("\nall {count} outcomes as expected");
    Ok(())
}
