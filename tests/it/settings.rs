//! Configuration from files and the environment (issue 17, point 1;
//! feature `config`): `Settings` read from TOML and JSON files and from
//! environment variables with a prefix, layered, turned into a layer that
//! accepts the local test issuer's tokens; a pasted `appsettings.json`
//! `AzureAd` section (comments, web-app keys and all) trusting an Entra
//! tenant whose `Instance` is the local issuer; and each class of mistake a
//! `ConfigError` naming the key, where it was read, and the problem.
//!
//! Environment variables are process-wide, and setting one needs `unsafe`
//! (edition 2024), which the crate forbids: the environment cases run this
//! test binary again as a child process given its own variables
//! (`env_child`, ignored unless called so), and read its verdict line.

use std::path::PathBuf;

use bearer_guard::testing::TestIssuer;
use bearer_guard::{ConfigError, Settings};

use crate::support::start;

/// A file in the system's temporary directory, named for this process and
/// test, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, text: &str) -> TempFile {
        let path = std::env::temp_dir().join(format!(
            "bearer-guard-settings-{}-{name}",
            std::process::id()
        ));
        std::fs::write(&path, text).expect("write the temporary file");
        TempFile(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("a UTF-8 temporary path")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The error's `Display`: what an operator reads.
fn message(result: Result<Settings, ConfigError>) -> String {
    match result {
        Ok(_) => "loaded".to_owned(),
        Err(e) => e.to_string(),
    }
}

/// The verdict of the layer `settings` make on `token`: `ok`, or the
/// rejection's code.
async fn verdict(settings: Settings, token: &str) -> String {
    let validator = settings
        .into_builder()
        .expect("usable settings")
        .build_validator()
        .expect("a valid configuration");
    match validator.validate(token).await {
        Ok(_) => "ok".to_owned(),
        Err(e) => e.code().to_owned(),
    }
}

// ---------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_toml_file_configures_a_layer_that_accepts_the_issuers_tokens() {
    let ti = start().await;
    let file = TempFile::new(
        "layer.toml",
        &format!(
            r#"
            issuer = "{issuer}"
            audiences = ["api://other", "{audience}"]
            typ = "access_token"
            algorithms = ["RS256", "ES256"]
            leeway = "30s"
            refresh_cooldown = "1m"
            key_set_max_age = "10m"
            key_set_max_staleness = "6h"
            fetch_timeout = "5s"
            max_keys = 16
            token_cache_max_age = "2m"
            "#,
            issuer = ti.issuer(),
            audience = TestIssuer::AUDIENCE,
        ),
    );
    let settings = Settings::from_file(file.path()).expect("the file loads");
    let good = ti.token().sign();
    assert_eq!(verdict(settings.clone(), &good).await, "ok");
    let id_token = ti.token().typ(Some("JWT")).sign();
    assert_eq!(verdict(settings.clone(), &id_token).await, "wrong_type");
    let stranger = ti.token().audience("api://stranger").sign();
    assert_eq!(verdict(settings, &stranger).await, "audience_mismatch");
}

#[tokio::test]
async fn a_json_file_with_comments_and_issuers_entries_configures_the_same_layer() {
    let ti = start().await;
    let file = TempFile::new(
        "layer.json",
        &format!(
            r#"{{
              // bearer-guard, as JSON: comments and trailing commas as .NET allows
              "leeway": "45s",
              "issuers": [
                {{
                  "issuer": "{issuer}",
                  "audiences": "{audience}",
                  "jwks_uri": "{jwks}",
                  "typ": "access_token_or_jwt",
                  "scopes_claims": [["permissions"]],
                }},
              ],
            }}"#,
            issuer = ti.issuer(),
            audience = TestIssuer::AUDIENCE,
            jwks = ti.jwks_uri(),
        ),
    );
    let settings = Settings::from_file(file.path()).expect("the file loads");
    let token = ti.token().typ(Some("JWT")).sign();
    assert_eq!(verdict(settings, &token).await, "ok");
    // jwks_uri, not discovery.
    assert_eq!(ti.discovery_requests(), 0);
    assert_eq!(ti.jwks_requests(), 1);
}

#[tokio::test]
async fn a_later_source_overrides_an_earlier_one_key_by_key() {
    let ti = start().await;
    let file = TempFile::new(
        "base.toml",
        &format!(
            "issuer = \"{}\"\naudiences = \"api://staging\"\nleeway = \"10s\"\n",
            ti.issuer()
        ),
    );
    let token = ti.token().sign();
    let base = Settings::from_file(file.path()).expect("loads");
    assert_eq!(verdict(base, &token).await, "audience_mismatch");
    let layered = Settings::loader()
        .file(file.path())
        .toml(&format!("audiences = \"{}\"", TestIssuer::AUDIENCE))
        .load()
        .expect("loads");
    assert_eq!(verdict(layered, &token).await, "ok");
}

// ---------------------------------------------------------------------------
// Microsoft Entra ID: a pasted appsettings.json
// ---------------------------------------------------------------------------

const TENANT_ID: &str = "b5f0c3a9-2d4e-4f6a-8b1c-9e7d3a5f2c10";
const CLIENT_ID: &str = "6e74172b-be56-4843-9ff4-e66a39bb12e3";

/// An `appsettings.json` as `dotnet new webapi --auth SingleOrg` writes it
/// and a team fills it in, with the local issuer as its `Instance`.
fn appsettings(instance: &str) -> String {
    format!(
        r#"{{
/*
The following identity settings need to be configured
before the project can be successfully executed.
For more info see https://aka.ms/dotnet-template-ms-identity-platform
*/
  "AzureAd": {{
    "Instance": "{instance}/",
    "Domain": "contoso.onmicrosoft.com",
    "TenantId": "{TENANT_ID}",
    "ClientId": "{CLIENT_ID}",
    "Scopes": "access_as_user",
    "CallbackPath": "/signin-oidc",
    "ClientSecret": "not-a-real-secret-but-never-logged",
    "ClientCredentials": [ {{ "SourceType": "ClientSecret", "ClientSecret": "x" }} ],
  }},
  "Logging": {{
    "LogLevel": {{ "Default": "Information", "Microsoft.AspNetCore": "Warning" }}
  }},
  "AllowedHosts": "*"
}}"#
    )
}

/// An Entra v2.0 delegated access token of `TENANT_ID` for `aud`.
fn entra_token(ti: &TestIssuer, iss: &str, aud: &str, ver: &str) -> String {
    ti.token()
        .typ(Some("JWT"))
        .claim("iss", iss)
        .audience(aud)
        .claim("tid", TENANT_ID)
        .claim("ver", ver)
        .claim("azp", "e8a1b2c3-4d5e-4f60-a718-293a4b5c6d7e")
        .claim("scp", "access_as_user")
        .sign()
}

#[tokio::test]
async fn a_pasted_appsettings_azuread_section_trusts_that_tenant_as_microsoft_identity_web_does() {
    let ti = start().await;
    let base = ti.issuer().to_owned();
    let v2 = format!("{base}/{TENANT_ID}/v2.0");
    ti.serve_discovery(&format!("/{TENANT_ID}/v2.0"), &v2);
    let v1 = format!("https://sts.windows.net/{TENANT_ID}/");
    ti.serve_discovery(&format!("/{TENANT_ID}"), &v1);
    let file = TempFile::new("appsettings.json", &appsettings(&base));
    let settings = Settings::loader()
        .appsettings(file.path(), "AzureAd")
        .load()
        .expect("the section loads, web-app keys and all");

    // The default audiences: ClientId and api://{ClientId}.
    for aud in [CLIENT_ID.to_owned(), format!("api://{CLIENT_ID}")] {
        let token = entra_token(&ti, &v2, &aud, "2.0");
        assert_eq!(verdict(settings.clone(), &token).await, "ok", "aud {aud}");
    }
    // v1.0 tokens too, as Microsoft.Identity.Web accepts them.
    let token = entra_token(&ti, &v1, &format!("api://{CLIENT_ID}"), "1.0");
    assert_eq!(verdict(settings.clone(), &token).await, "ok");
    // Another audience, another tenant, no scope and no role.
    let token = entra_token(&ti, &v2, "api://graph", "2.0");
    assert_eq!(verdict(settings.clone(), &token).await, "audience_mismatch");
    let other = format!("{base}/f47ac10b-58cc-4372-a567-0e02b2c3d479/v2.0");
    let token = entra_token(&ti, &other, CLIENT_ID, "2.0");
    assert_eq!(verdict(settings.clone(), &token).await, "issuer_mismatch");
    let id_token = ti
        .token()
        .typ(Some("JWT"))
        .claim("iss", &v2)
        .audience(CLIENT_ID)
        .claim("tid", TENANT_ID)
        .sign();
    assert_eq!(verdict(settings, &id_token).await, "no_permissions");
}

#[tokio::test]
async fn the_entra_section_takes_audience_acl_and_versions_as_given() {
    let ti = start().await;
    let base = ti.issuer().to_owned();
    let v2 = format!("{base}/{TENANT_ID}/v2.0");
    ti.serve_discovery(&format!("/{TENANT_ID}/v2.0"), &v2);
    // Keys in camelCase and lower case: .NET compares them ignoring case.
    let settings = Settings::loader()
        .toml(&format!(
            r#"
            [entra]
            instance = "{base}"
            tenantId = "{TENANT_ID}"
            ClientId = "{CLIENT_ID}"
            Audience = "https://notes.contoso.com"
            AllowWebApiToBeAuthorizedByACL = true
            AccessTokenVersions = ["2.0"]
            "#
        ))
        .load()
        .expect("loads");
    let token = entra_token(&ti, &v2, "https://notes.contoso.com", "2.0");
    assert_eq!(verdict(settings.clone(), &token).await, "ok");
    // Audience given: ClientId is no longer one.
    let token = entra_token(&ti, &v2, CLIENT_ID, "2.0");
    assert_eq!(verdict(settings.clone(), &token).await, "audience_mismatch");
    // ACL: a token with neither scope nor role passes authentication.
    let acl = ti
        .token()
        .typ(Some("JWT"))
        .claim("iss", &v2)
        .audience("https://notes.contoso.com")
        .claim("tid", TENANT_ID)
        .sign();
    assert_eq!(verdict(settings.clone(), &acl).await, "ok");
    // Only 2.0: a v1.0 issuer is not trusted.
    let v1 = entra_token(
        &ti,
        &format!("https://sts.windows.net/{TENANT_ID}/"),
        "https://notes.contoso.com",
        "1.0",
    );
    assert_eq!(verdict(settings, &v1).await, "issuer_mismatch");
}

#[tokio::test]
async fn a_multi_tenant_entra_section_needs_its_tenants_named() {
    let ti = start().await;
    let base = ti.issuer().to_owned();
    let section = |extra: &str| {
        format!(
            "[entra]\nInstance = \"{base}/\"\nTenantId = \"organizations\"\nClientId = \"{CLIENT_ID}\"\n{extra}"
        )
    };
    assert_eq!(
        message(Settings::loader().toml(&section("")).load()),
        "setting `entra.TenantId` (in inline TOML): organizations trusts tokens from every \
         Entra tenant, an attacker's own included: list the tenants you serve in \
         AllowedTenants, or set DangerouslyAcceptAnyTenant = true if every organisation may \
         call this API"
    );
    let settings = Settings::loader()
        .toml(&section(&format!(
            "AllowedTenants = [\"{TENANT_ID}\"]\nAccessTokenVersions = [2]"
        )))
        .load()
        .expect("loads");
    // The common discovery document names the {tenantid} template.
    ti.serve_discovery("/common/v2.0", &format!("{base}/{{tenantid}}/v2.0"));
    let allowed = entra_token(&ti, &format!("{base}/{TENANT_ID}/v2.0"), CLIENT_ID, "2.0");
    assert_eq!(verdict(settings.clone(), &allowed).await, "ok");
    let stranger_tid = "f47ac10b-58cc-4372-a567-0e02b2c3d479";
    let stranger = ti
        .token()
        .typ(Some("JWT"))
        .claim("iss", format!("{base}/{stranger_tid}/v2.0"))
        .audience(CLIENT_ID)
        .claim("tid", stranger_tid)
        .claim("scp", "access_as_user")
        .sign();
    assert_eq!(verdict(settings, &stranger).await, "issuer_mismatch");
}

// ---------------------------------------------------------------------------
// Each class of mistake names its key
// ---------------------------------------------------------------------------

#[test]
fn each_mistake_is_a_config_error_naming_the_key_where_it_was_read_and_the_problem() {
    let toml = |text: &str| message(Settings::loader().toml(text).load());
    let issuer = "issuer = \"https://idp.example\"\naudiences = \"api://notes\"\n";
    let entra = format!(
        "[entra]\nInstance = \"https://login.microsoftonline.com/\"\nClientId = \"{CLIENT_ID}\"\n"
    );
    let cases: Vec<(String, &str)> = vec![
        // Unknown keys: at the top, in an [[issuers]] entry, in the entra section.
        ("isuer = \"https://idp.example\"".into(), "setting `isuer` (in inline TOML): unknown key; the keys here are issuer, audiences, jwks_uri, typ, algorithms, leeway, max_token_bytes, refresh_cooldown, key_set_max_age, key_set_max_staleness, connect_timeout, fetch_timeout, max_jwks_bytes, max_keys, token_cache_bytes, token_cache_max_age, dangerously_allow_insecure_http, error_descriptions, dangerously_accept_bound_tokens_as_bearer, resource, resource_scopes, resource_name, resource_documentation, dpop, issuers, entra"),
        ("[[issuers]]\nissuer = \"https://a.example\"\naudiences = \"x\"\n[[issuers]]\nissuer = \"https://b.example\"\naudience = \"y\"".into(), "setting `issuers.1.audience` (in inline TOML): unknown key; the keys here are issuer, preset, audiences, client_id, discovery_url, jwks_uri, typ, algorithms, scopes_claims, roles_claims, client_id_claims, require_permissions, allowed_tenants, dangerously_accept_any_tenant"),
        (format!("{entra}TenantId = \"{TENANT_ID}\"\nTokenValidationParameters = {{ ValidateIssuer = false }}"), "setting `entra.TokenValidationParameters` (in inline TOML): unknown key; the keys here are Instance, TenantId, ClientId, Authority, Domain, Audience, Audiences, SignUpSignInPolicyId, EditProfilePolicyId, ResetPasswordPolicyId, AllowWebApiToBeAuthorizedByACL, AllowedTenants, DangerouslyAcceptAnyTenant, AccessTokenVersions, CallbackPath, SignedOutCallbackPath, SignedOutRedirectUri, RemoteSignOutPath, ClientSecret, ClientCertificates, ClientCredentials, TokenDecryptionCertificates, TokenDecryptionCredentials, SendX5C, WithSpaAuthCode, LegacyCacheCompatibilityEnabled, UserAssignedManagedIdentityClientId, ClientCredentialsUsingManagedIdentity, ResetPasswordPath, ErrorPath, ExtraQueryParameters, EnablePiiLogging, AzureRegion, ClientCapabilities, AppHomeTenantId, Name, Scopes, ResponseType, SaveTokens"),
        // Wrong types.
        (format!("{issuer}max_keys = \"many\""), "setting `max_keys` (in inline TOML): expected usize, found a string"),
        (format!("{issuer}dangerously_allow_insecure_http = \"yes\""), "setting `dangerously_allow_insecure_http` (in inline TOML): expected a boolean, found a string"),
        (format!("{issuer}[dpop]\npublic_base_url = 443"), "setting `dpop.public_base_url` (in inline TOML): expected a string, found an integer"),
        // Durations, algorithms, enumerations.
        (format!("{issuer}leeway = \"soon\""), "setting `leeway` (in inline TOML): \"soon\" is not a duration such as \"30s\", \"5m\" or \"12h\" (expected number at 0)"),
        (format!("{issuer}token_cache_max_age = 300"), "setting `token_cache_max_age` (in inline TOML): expected a duration such as \"30s\", \"5m\" or \"12h\", found an integer"),
        (format!("{issuer}algorithms = [\"RS256\", \"HS256\"]"), "setting `algorithms.1` (in inline TOML): \"HS256\" is not an algorithm this crate verifies (one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA; symmetric algorithms and `none` are never accepted)"),
        (format!("{issuer}typ = \"at+jwt\""), "setting `typ` (in inline TOML): \"at+jwt\" is not one of access_token, jwt, access_token_or_jwt"),
        // URLs.
        ("issuer = \"idp.example\"\naudiences = \"x\"".into(), "setting `issuer` (in inline TOML): not a URL (relative URL without a base)"),
        ("[[issuers]]\nissuer = \"https://a.example\"\naudiences = \"x\"\njwks_uri = \"ftp://a.example/keys\"".into(), "setting `issuers.0.jwks_uri` (in inline TOML): not an https URL with a host"),
        (format!("[entra]\nInstance = \"login.microsoftonline.com\"\nTenantId = \"{TENANT_ID}\"\nClientId = \"{CLIENT_ID}\""), "setting `entra.Instance` (in inline TOML): not a URL (relative URL without a base)"),
        // Required keys.
        ("[[issuers]]\naudiences = \"x\"".into(), "setting `issuers.0.issuer` (in inline TOML): required key is missing"),
        ("[[issuers]]\nissuer = \"https://a.example\"".into(), "setting `issuers.0.audiences` (in inline TOML): required: at least one audience (accepting any is never the default)"),
        ("[[issuers]]\nissuer = \"https://kc.example/realms/r\"\npreset = \"keycloak\"".into(), "setting `issuers.0.client_id` (in inline TOML): the keycloak preset needs the client id whose roles it reads"),
        (format!("[entra]\nInstance = \"https://login.microsoftonline.com/\"\nTenantId = \"{TENANT_ID}\""), "setting `entra.ClientId` (in inline TOML): required key is missing: the API's application (client) id"),
        (entra.clone(), "setting `entra.TenantId` (in inline TOML): required key is missing: the tenant's id (a GUID), or common or organizations for several tenants"),
        ("[dpop]\nrequired = true".into(), "setting `dpop.public_base_url` (in inline TOML): required key is missing"),
        // What the entra section cannot mean.
        (format!("{entra}TenantId = \"contoso.onmicrosoft.com\""), "setting `entra.TenantId` (in inline TOML): must be the tenant's id, a GUID (Entra names the tenant by its id in every token's issuer, never by a domain name), or common or organizations"),
        (format!("{entra}TenantId = \"{TENANT_ID}\"\nAllowedTenants = [\"{TENANT_ID}\"]"), "setting `entra.AllowedTenants` (in inline TOML): only for a multi-tenant TenantId (common or organizations)"),
        (format!("{entra}TenantId = \"common\"\nAllowedTenants = [\"{TENANT_ID}\"]\nDangerouslyAcceptAnyTenant = true"), "setting `entra.DangerouslyAcceptAnyTenant` (in inline TOML): set beside AllowedTenants, it would be ignored: give one of them"),
        (format!("{entra}TenantId = \"{TENANT_ID}\"\nclientid = \"{CLIENT_ID}\""), "inline TOML has the key entra.ClientId twice (keys are compared ignoring case)"),
        (format!("{entra}TenantId = \"{TENANT_ID}\"\nAccessTokenVersions = [3]"), "setting `entra.AccessTokenVersions.0` (in inline TOML): expected a token version, \"1.0\" or \"2.0\", found another value (an integer)"),
        (format!("[entra]\nInstance = \"https://contoso.b2clogin.com/\"\nClientId = \"{CLIENT_ID}\"\nDomain = \"contoso.onmicrosoft.com\"\nSignUpSignInPolicyId = \"B2C_1_susi\""), "setting `entra.TenantId` (in inline TOML): required key is missing: Azure AD B2C names its tenant by id in every token's issuer; copy the GUID from the `issuer` of your policy's discovery document"),
        // Shorthand settings without the issuer they belong to.
        ("audiences = \"api://notes\"".into(), "setting `audiences` (in inline TOML): set without `issuer`, it would apply to no issuer: set it in an [[issuers]] entry instead"),
        // A value that cannot be used at all.
        ("issuer = \"https://idp.example\"\naudiences = [\"api://notes\", \"\"]".into(), "setting `audiences.1` (in inline TOML): must not be empty"),
    ];
    let mut failed = Vec::new();
    for (text, want) in &cases {
        let got = toml(text);
        if &got != want {
            failed.push(format!("{text}\n  got:  {got:?}\n  want: {want:?}"));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[test]
fn a_source_that_cannot_be_read_is_named_with_its_line_and_never_its_text() {
    // A TOML syntax error on a line holding a secret: line and column only.
    let broken = "[entra]\nClientSecret = \"s3cr3t-value\nClientId = \"x\"\n";
    let got = message(Settings::loader().toml(broken).load());
    assert!(
        got.starts_with("inline TOML is not valid TOML (line 2, column "),
        "{got}"
    );
    assert!(!got.contains("s3cr3t"), "{got}");

    let json = TempFile::new(
        "broken.json",
        "{\n  \"leeway\": \"30s\",\n  \"max_keys\": ,\n}",
    );
    assert_eq!(
        message(Settings::from_file(json.path())),
        format!(
            "file {} is not valid JSON (Unexpected comma) (line 3, column 15)",
            json.path()
        )
    );
    let typed = TempFile::new("typed.json", "{ \"max_keys\": \"many\" }");
    assert_eq!(
        message(Settings::from_file(typed.path())),
        format!(
            "setting `max_keys` (in file {}): expected usize, found a string",
            typed.path()
        )
    );
    let missing = std::env::temp_dir().join("bearer-guard-settings-no-such-file.toml");
    let missing = missing.to_str().expect("UTF-8");
    assert_eq!(
        message(Settings::from_file(missing)),
        format!("file {missing} cannot be read: No such file or directory (os error 2)")
    );
    let yaml = TempFile::new("layer.yaml", "leeway: 30s");
    assert_eq!(
        message(Settings::from_file(yaml.path())),
        format!(
            "file {} is neither .toml nor .json: the format is chosen by the file name",
            yaml.path()
        )
    );
    let no_section = TempFile::new("no-section.json", "{ \"Logging\": {} }");
    assert_eq!(
        message(
            Settings::loader()
                .appsettings(no_section.path(), "AzureAd")
                .load()
        ),
        format!("file {} has no AzureAd section", no_section.path())
    );
}

// ---------------------------------------------------------------------------
// Environment variables, in a child process
// ---------------------------------------------------------------------------

/// Runs `env_child` in a child process of this test binary with `vars` as
/// its extra environment, and returns its verdict line. The file at
/// `BG_CHILD_FILE`, if any, is read before the `BG_CHILD_PREFIX` variables;
/// `BG_CHILD_TOKEN` is validated by the layer made.
async fn child(vars: &[(&str, &str)]) -> String {
    let mut command = tokio::process::Command::new(std::env::current_exe().expect("test binary"));
    command
        .args([
            "settings::env_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .envs(vars.iter().copied())
        .kill_on_drop(true);
    // Waits on a child process while the test issuer keeps serving on this
    // runtime: the child fetches its keys from it.
    let out = command.output().await.expect("the child runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .find_map(|l| l.split_once("verdict: ").map(|(_, v)| v))
        .map(str::to_owned)
        .unwrap_or_else(|| {
            panic!(
                "no verdict from the child: {stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
}

#[tokio::test]
#[ignore = "run by the environment tests, in a child process given its variables"]
async fn env_child() {
    let var = |name: &str| std::env::var(name).ok();
    let mut loader = Settings::loader();
    if let Some(file) = var("BG_CHILD_FILE") {
        loader = loader.file(file);
    }
    let prefix = var("BG_CHILD_PREFIX").expect("BG_CHILD_PREFIX");
    let verdict_line = match loader.env(&prefix).load() {
        Err(e) => format!("error: {e}"),
        Ok(settings) => verdict(settings, &var("BG_CHILD_TOKEN").expect("BG_CHILD_TOKEN")).await,
    };
    println!("verdict: {verdict_line}");
}

#[tokio::test]
async fn environment_variables_with_a_prefix_override_the_file() {
    let ti = start().await;
    let file = TempFile::new(
        "env-base.toml",
        &format!(
            "issuer = \"{}\"\naudiences = \"api://staging\"\n",
            ti.issuer()
        ),
    );
    let token = ti.token().sign();
    let base = [
        ("BG_CHILD_FILE", file.path()),
        ("BG_CHILD_PREFIX", "BGT_"),
        ("BG_CHILD_TOKEN", token.as_str()),
    ];
    assert_eq!(child(&base).await, "audience_mismatch");
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut vars: Vec<(&str, &str)> = base.to_vec();
        vars.extend_from_slice(extra);
        vars
    };
    let audience = TestIssuer::AUDIENCE;
    assert_eq!(
        child(&with(&[("BGT_AUDIENCES", audience), ("BGT_LEEWAY", "30s")])).await,
        "ok"
    );
    // Another prefix is not read.
    assert_eq!(
        child(&with(&[("OTHER_AUDIENCES", audience)])).await,
        "audience_mismatch"
    );
    // A bad value names its variable.
    assert_eq!(
        child(&with(&[("BGT_LEEWAY", "soon")])).await,
        "error: setting `leeway` (in environment variable BGT_LEEWAY): \"soon\" is not a duration such as \"30s\", \"5m\" or \"12h\" (expected number at 0)"
    );
    assert_eq!(
        child(&with(&[("BGT_MAX_KEYS", "many")])).await,
        "error: setting `max_keys` (in environment variable BGT_MAX_KEYS): expected usize, found a string"
    );
    assert_eq!(
        child(&with(&[("BGT_ISUER", "https://idp.example")])).await,
        "error: setting `isuer` (in environment variable BGT_ISUER): unknown key; the keys here are issuer, audiences, jwks_uri, typ, algorithms, leeway, max_token_bytes, refresh_cooldown, key_set_max_age, key_set_max_staleness, connect_timeout, fetch_timeout, max_jwks_bytes, max_keys, token_cache_bytes, token_cache_max_age, dangerously_allow_insecure_http, error_descriptions, dangerously_accept_bound_tokens_as_bearer, resource, resource_scopes, resource_name, resource_documentation, dpop, issuers, entra"
    );
}

#[tokio::test]
async fn environment_variables_reach_the_entra_section_ignoring_case() {
    let ti = start().await;
    let base = ti.issuer().to_owned();
    let v2 = format!("{base}/{TENANT_ID}/v2.0");
    ti.serve_discovery(&format!("/{TENANT_ID}/v2.0"), &v2);
    // The file names another client; the environment corrects it.
    let file = TempFile::new(
        "env-entra.json",
        &format!(
            r#"{{ "entra": {{ "Instance": "{base}/", "TenantId": "{TENANT_ID}", "ClientId": "00000000-0000-0000-0000-000000000000" }} }}"#
        ),
    );
    let token = entra_token(&ti, &v2, CLIENT_ID, "2.0");
    let vars = [
        ("BG_CHILD_FILE", file.path()),
        ("BG_CHILD_PREFIX", "BGE_"),
        ("BG_CHILD_TOKEN", token.as_str()),
    ];
    assert_eq!(child(&vars).await, "audience_mismatch");
    let mut fixed = vars.to_vec();
    fixed.push(("BGE_ENTRA__CLIENTID", CLIENT_ID));
    assert_eq!(child(&fixed).await, "ok");
    let mut bad = vars.to_vec();
    bad.push(("BGE_ENTRA__TENANTID", "contoso.onmicrosoft.com"));
    assert_eq!(
        child(&bad).await,
        "error: setting `entra.TenantId` (in environment variable BGE_ENTRA__TENANTID): must be the tenant's id, a GUID (Entra names the tenant by its id in every token's issuer, never by a domain name), or common or organizations"
    );
}

/// The settings of issue 17.3 and of issue 15's binding default are keys
/// too: `error_descriptions` reaches the challenge, and a DPoP-bound token
/// passes as a bearer token only with the opt-out.
#[tokio::test]
async fn error_descriptions_and_the_binding_opt_out_are_settings() {
    use crate::support::{app, get_with};
    let issuer = start().await;
    let expired = issuer.token().expires_in(-3_600).sign();
    let bound = issuer
        .token()
        .claim(
            "cnf",
            serde_json::json!({"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}),
        )
        .sign();
    let base = format!(
        "issuer = \"{}\"\naudiences = \"{}\"\ntyp = \"access_token_or_jwt\"\n",
        issuer.issuer(),
        TestIssuer::AUDIENCE
    );
    let app = |extra: &str| {
        app(Settings::loader()
            .toml(&format!("{base}{extra}"))
            .load()
            .expect("settings")
            .into_builder()
            .expect("builder")
            .build()
            .expect("layer"))
    };
    let described = get_with(&app("error_descriptions = true\n"), "/me", &expired).await;
    assert_eq!(
        described.www_authenticate.as_deref(),
        Some("Bearer error=\"invalid_token\", error_description=\"token expired\"")
    );
    let plain = get_with(&app(""), "/me", &expired).await;
    assert_eq!(
        plain.www_authenticate.as_deref(),
        Some("Bearer error=\"invalid_token\"")
    );
    let refused = get_with(&app(""), "/me", &bound).await;
    assert_eq!(refused.status, http::StatusCode::UNAUTHORIZED);
    let accepted = get_with(
        &app("dangerously_accept_bound_tokens_as_bearer = true\n"),
        "/me",
        &bound,
    )
    .await;
    assert_eq!(accepted.status, http::StatusCode::OK);
}
