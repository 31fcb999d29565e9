//! [`Settings`]: the layer's configuration as data (feature `config`), so that
//! a deployment changes issuers, audiences and limits without a rebuild.
//!
//! Beside the flow, above `config`: this module's one job is the schema
//! (serde, `deny_unknown_fields` everywhere) and its conversion into a
//! [`Builder`]; `load` reads it from files and the environment, `entra`
//! reads Microsoft.Identity.Web's `AzureAd` section, `values` holds the
//! value types serde cannot read as they are. Nothing imports this module
//! but `lib.rs`.
//!
//! Every key is named after the [`Builder`] or [`Issuer`] setter it calls,
//! and a key left out keeps that setter's default.

mod entra;
mod load;
mod values;

use std::time::Duration;

use serde::Deserialize;

use crate::config::Builder;
use crate::dpop::Dpop;
use crate::error::ConfigError;
use crate::issuer::Issuer;
use crate::issuer::typ::TypPolicy;
use entra::EntraSettings;
pub use load::SettingsLoader;
use values::{AlgorithmName, HumanDuration, OneOrMany};

/// The layer's configuration, read from TOML or JSON files and environment
/// variables (feature `config`): trusted issuers, an Entra ID section that
/// takes Microsoft.Identity.Web's `AzureAd` keys, and the layer's limits.
/// [`into_builder`](Settings::into_builder) turns it into a [`Builder`],
/// where code adds what files cannot say (a clock, a replay store, custom
/// rejections).
///
/// Load it with [`Settings::from_file`], [`Settings::from_env`], or
/// [`Settings::loader`] for several sources layered (a file, then the
/// environment over it). It also implements serde's `Deserialize`, to sit
/// inside an application's own configuration.
///
/// # The schema
///
/// Keys are the setters' names; every one is optional unless said, and
/// unknown keys are refused. Durations are written for people (`"30s"`,
/// `"5m"`, `"12h"`).
///
/// ```toml
/// # One issuer, the Builder's shorthand:
/// issuer = "https://idp.example.com"        # Builder::issuer
/// audiences = ["api://notes"]               # Builder::audience, each (or one string)
/// jwks_uri = "https://idp.example.com/keys" # Builder::jwks_uri (default: discovery)
/// typ = "access_token"                      # "access_token" (at+jwt), "jwt", "access_token_or_jwt"
/// algorithms = ["RS256", "ES256"]           # Builder::algorithms
///
/// # Every other setting of the Builder, with its default:
/// leeway = "60s"                 # at most 5 minutes
/// max_token_bytes = 16384
/// refresh_cooldown = "30s"
/// key_set_max_age = "5m"
/// key_set_max_staleness = "12h"
/// connect_timeout = "5s"
/// fetch_timeout = "10s"
/// max_jwks_bytes = 262144
/// max_keys = 64
/// token_cache_bytes = 16777216   # 0 turns the verified-token cache off
/// token_cache_max_age = "5m"
/// dangerously_allow_insecure_http = false
/// error_descriptions = false     # development only
/// dangerously_accept_bound_tokens_as_bearer = false
/// resource = "https://api.example.com/notes"  # RFC 9728 metadata (default: none)
/// resource_scopes = ["notes.read"]
/// resource_name = "Notes"
/// resource_documentation = "https://docs.example.com/notes"
///
/// [dpop]                          # Builder::dpop (default: no DPoP)
/// public_base_url = "https://api.example.com"  # required
/// algorithms = ["ES256", "EdDSA"]
/// max_age = "60s"
/// required = false
/// nonces = "5m"                   # server nonces, with this lifetime (default: none)
/// max_proof_bytes = 8192
/// replay_capacity = 100000
///
/// # More issuers, each a Builder::trust(Issuer):
/// [[issuers]]
/// issuer = "https://example.eu.auth0.com/"   # required
/// preset = "auth0"      # "auth0", "keycloak", "okta", "rfc9068" (default: Issuer::new)
/// audiences = ["https://notes.example.com"]  # required (the first is the preset's audience)
/// # client_id = "notes"   (keycloak only, required there: its roles are read)
/// # discovery_url = "…" or jwks_uri = "…"
/// # typ, algorithms: as above
/// # scopes_claims = [["permissions"]]          Issuer::scopes_claim, each
/// # roles_claims = [["realm_access", "roles"]] Issuer::roles_claim, each
/// # client_id_claims = ["azp", "client_id"]
/// # require_permissions = true
/// # allowed_tenants = ["…"], dangerously_accept_any_tenant = false  ({tenantid} templates)
///
/// # Microsoft Entra ID or Azure AD B2C: the AzureAd section of appsettings.json.
/// [entra]
/// Instance = "https://login.microsoftonline.com/"
/// TenantId = "72f988bf-86f1-41af-91ab-2d7cd011db47"
/// ClientId = "6e74172b-be56-4843-9ff4-e66a39bb12e3"
/// ```
///
/// # The `entra` section
///
/// It takes the keys of Microsoft.Identity.Web's `AzureAd` section, spelled
/// as in `appsettings.json` (compared ignoring case when read from a file or
/// the environment), so that a team can paste its section, or read it from
/// its `appsettings.json` ([`SettingsLoader::appsettings`]):
///
/// - `Instance` (`https://login.microsoftonline.com/`, a national cloud, a
///   B2C `https://{tenant}.b2clogin.com/`) and `TenantId`, or `Authority`
///   (`{Instance}{TenantId}/v2.0`) instead of both. Required, as in
///   Microsoft.Identity.Web. `TenantId` is the tenant's id (a GUID), which
///   Entra puts in every token's issuer: a domain name cannot be matched,
///   and is refused. `common` or `organizations` trusts every tenant's
///   tokens through the `{tenantid}` issuer template: say which tenants
///   with `AllowedTenants` (a list), or set `DangerouslyAcceptAnyTenant =
///   true` for an API open to every organisation (see
///   [`Issuer::dangerously_accept_any_tenant`]); one is required.
/// - `ClientId` (required). The accepted audiences are `Audience` and
///   `Audiences` when either is given, else `ClientId` and
///   `api://{ClientId}`, as Microsoft.Identity.Web does.
/// - `AllowWebApiToBeAuthorizedByACL`: `true` accepts tokens with neither a
///   scope nor a role ([`Issuer::require_permissions`]`(false)`).
/// - Azure AD B2C, when `SignUpSignInPolicyId` is set: `Domain`
///   (`{tenant}.onmicrosoft.com`) and `TenantId` (the GUID B2C puts in its
///   issuer, which Microsoft.Identity.Web reads from the discovery
///   document); `SignUpSignInPolicyId`, `EditProfilePolicyId` and
///   `ResetPasswordPolicyId` are the accepted policies
///   ([`Issuer::azure_ad_b2c`]).
/// - `AccessTokenVersions` (bearer-guard's own): which token versions are
///   accepted, `["1.0", "2.0"]` by default as in Microsoft.Identity.Web
///   (the app registration's `accessTokenAcceptedVersion` decides which one
///   the API gets); B2C has only `2.0`.
///
/// Keys only a web app or a client uses (`CallbackPath`,
/// `SignedOutCallbackPath`, `ClientSecret`, `ClientCertificates`,
/// `ClientCredentials`, `Scopes`, …) are accepted and ignored with a
/// `tracing` note naming the key, never its value; any other key is refused.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    issuer: Option<String>,
    audiences: Option<OneOrMany>,
    jwks_uri: Option<String>,
    typ: Option<Typ>,
    algorithms: Option<Vec<AlgorithmName>>,
    leeway: Option<HumanDuration>,
    max_token_bytes: Option<usize>,
    refresh_cooldown: Option<HumanDuration>,
    key_set_max_age: Option<HumanDuration>,
    key_set_max_staleness: Option<HumanDuration>,
    connect_timeout: Option<HumanDuration>,
    fetch_timeout: Option<HumanDuration>,
    max_jwks_bytes: Option<usize>,
    max_keys: Option<usize>,
    token_cache_bytes: Option<u64>,
    token_cache_max_age: Option<HumanDuration>,
    #[serde(default)]
    dangerously_allow_insecure_http: bool,
    #[serde(default)]
    error_descriptions: bool,
    #[serde(default)]
    dangerously_accept_bound_tokens_as_bearer: bool,
    resource: Option<String>,
    resource_scopes: Option<OneOrMany>,
    resource_name: Option<String>,
    resource_documentation: Option<String>,
    dpop: Option<DpopSettings>,
    #[serde(default)]
    issuers: Vec<IssuerSettings>,
    entra: Option<EntraSettings>,
}

/// `typ`, the [`TypPolicy`] variants in snake case.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Typ {
    AccessToken,
    Jwt,
    AccessTokenOrJwt,
}

impl From<Typ> for TypPolicy {
    fn from(typ: Typ) -> TypPolicy {
        match typ {
            Typ::AccessToken => TypPolicy::AccessToken,
            Typ::Jwt => TypPolicy::Jwt,
            Typ::AccessTokenOrJwt => TypPolicy::AccessTokenOrJwt,
        }
    }
}

/// `preset`: which [`Issuer`] constructor an `[[issuers]]` entry starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Preset {
    Auth0,
    Keycloak,
    Okta,
    Rfc9068,
}

/// One `[[issuers]]` entry: an [`Issuer`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct IssuerSettings {
    issuer: String,
    preset: Option<Preset>,
    audiences: Option<OneOrMany>,
    client_id: Option<String>,
    discovery_url: Option<String>,
    jwks_uri: Option<String>,
    typ: Option<Typ>,
    algorithms: Option<Vec<AlgorithmName>>,
    #[serde(default)]
    scopes_claims: Vec<Vec<String>>,
    #[serde(default)]
    roles_claims: Vec<Vec<String>>,
    client_id_claims: Option<Vec<String>>,
    require_permissions: Option<bool>,
    allowed_tenants: Option<OneOrMany>,
    #[serde(default)]
    dangerously_accept_any_tenant: bool,
}

/// `[dpop]`: a [`Dpop`], less what is not plain data (the nonce secret, a
/// shared replay store: code adds those with [`Builder::dpop`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct DpopSettings {
    public_base_url: String,
    algorithms: Option<Vec<AlgorithmName>>,
    max_age: Option<HumanDuration>,
    #[serde(default)]
    required: bool,
    nonces: Option<HumanDuration>,
    max_proof_bytes: Option<usize>,
    replay_capacity: Option<usize>,
}

/// A setting that cannot be used: its key path and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Invalid {
    pub(crate) key: String,
    pub(crate) problem: String,
}

impl Invalid {
    fn new(key: impl Into<String>, problem: impl Into<String>) -> Self {
        Invalid {
            key: key.into(),
            problem: problem.into(),
        }
    }

    fn into_error(self, origin: String) -> ConfigError {
        ConfigError::Setting {
            key: self.key,
            origin,
            problem: self.problem,
        }
    }
}

/// Checks that `value`, the setting at `key`, is an absolute `http(s)` URL
/// with a host. The value is not quoted: a URL may carry credentials.
fn check_url(key: &str, value: &str) -> Result<(), Invalid> {
    match url::Url::parse(value) {
        Ok(url) if matches!(url.scheme(), "https" | "http") && url.host_str().is_some() => Ok(()),
        Ok(_) => Err(Invalid::new(key, "not an https URL with a host")),
        Err(e) => Err(Invalid::new(key, format!("not a URL ({e})"))),
    }
}

/// Checks that no string of the list at `key` is empty.
fn check_nonempty(key: &str, values: &[String]) -> Result<(), Invalid> {
    match values.iter().position(|v| v.trim().is_empty()) {
        Some(i) => Err(Invalid::new(format!("{key}.{i}"), "must not be empty")),
        None => Ok(()),
    }
}

fn algorithms(key: &str, names: &[AlgorithmName]) -> Result<Vec<crate::Algorithm>, Invalid> {
    if names.is_empty() {
        return Err(Invalid::new(key, "the list is empty: no token could pass"));
    }
    Ok(names.iter().map(|a| a.0).collect())
}

fn duration(value: Option<HumanDuration>) -> Option<Duration> {
    value.map(|d| d.0)
}

impl Settings {
    /// Turns the settings into a [`Builder`], to which code may add what
    /// files cannot say ([`Builder::clock`], [`Builder::trust`] of an issuer
    /// with introspection, …) before [`Builder::build`].
    ///
    /// Settings that cannot be used are a [`ConfigError::Setting`] naming the
    /// key; what only the whole configuration shows (two issuers with one
    /// name, a leeway over the maximum, …) is reported by `build`, in the
    /// setters' names, which are the keys'. Keys accepted only so that a
    /// pasted `AzureAd` section loads are logged (`tracing`, info), each
    /// once per call, without their values.
    ///
    /// ```
    /// use bearer_guard::Settings;
    ///
    /// # fn main() -> Result<(), bearer_guard::ConfigError> {
    /// let settings = Settings::loader()
    ///     .toml(r#"
    ///         issuer = "https://idp.example.com"
    ///         audiences = "api://notes"
    ///         leeway = "30s"
    ///     "#)
    ///     .load()?;
    /// let layer = settings.into_builder()?.build()?;
    /// # let _ = layer;
    /// # Ok(())
    /// # }
    /// ```
    pub fn into_builder(self) -> Result<Builder, ConfigError> {
        self.compile(true).map_err(|e| e.into_error(String::new()))
    }

    /// The builder these settings make, or the first setting that cannot be
    /// used. `notes`: log the keys accepted and ignored.
    pub(crate) fn compile(&self, notes: bool) -> Result<Builder, Invalid> {
        let mut b = Builder::default();
        match &self.issuer {
            Some(issuer) => {
                check_url("issuer", issuer)?;
                b = b.issuer(issuer.clone());
                if let Some(OneOrMany(audiences)) = &self.audiences {
                    check_nonempty("audiences", audiences)?;
                    for audience in audiences {
                        b = b.audience(audience.clone());
                    }
                }
                if let Some(uri) = &self.jwks_uri {
                    check_url("jwks_uri", uri)?;
                    b = b.jwks_uri(uri.clone());
                }
                if let Some(typ) = self.typ {
                    b = b.typ(typ.into());
                }
                if let Some(names) = &self.algorithms {
                    b = b.algorithms(algorithms("algorithms", names)?);
                }
            }
            None => {
                for (key, set) in [
                    ("audiences", self.audiences.is_some()),
                    ("jwks_uri", self.jwks_uri.is_some()),
                    ("typ", self.typ.is_some()),
                    ("algorithms", self.algorithms.is_some()),
                ] {
                    if set {
                        return Err(Invalid::new(
                            key,
                            "set without `issuer`, it would apply to no issuer: \
                             set it in an [[issuers]] entry instead",
                        ));
                    }
                }
            }
        }
        for (i, issuer) in self.issuers.iter().enumerate() {
            b = b.trust(issuer.compile(&format!("issuers.{i}"))?);
        }
        if let Some(entra) = &self.entra {
            for issuer in entra.compile(notes)? {
                b = b.trust(issuer);
            }
        }
        if let Some(leeway) = duration(self.leeway) {
            b = b.leeway(leeway);
        }
        if let Some(bytes) = self.max_token_bytes {
            b = b.max_token_bytes(bytes);
        }
        if let Some(cooldown) = duration(self.refresh_cooldown) {
            b = b.refresh_cooldown(cooldown);
        }
        if let Some(age) = duration(self.key_set_max_age) {
            b = b.key_set_max_age(age);
        }
        if let Some(staleness) = duration(self.key_set_max_staleness) {
            b = b.key_set_max_staleness(staleness);
        }
        if let Some(timeout) = duration(self.connect_timeout) {
            b = b.connect_timeout(timeout);
        }
        if let Some(timeout) = duration(self.fetch_timeout) {
            b = b.fetch_timeout(timeout);
        }
        if let Some(bytes) = self.max_jwks_bytes {
            b = b.max_jwks_bytes(bytes);
        }
        if let Some(keys) = self.max_keys {
            b = b.max_keys(keys);
        }
        if let Some(bytes) = self.token_cache_bytes {
            b = b.token_cache_bytes(bytes);
        }
        if let Some(age) = duration(self.token_cache_max_age) {
            b = b.token_cache_max_age(age);
        }
        if self.dangerously_allow_insecure_http {
            b = b.dangerously_allow_insecure_http();
        }
        b = b.error_descriptions(self.error_descriptions);
        if self.dangerously_accept_bound_tokens_as_bearer {
            b = b.dangerously_accept_bound_tokens_as_bearer();
        }
        if let Some(resource) = &self.resource {
            check_url("resource", resource)?;
            b = b.resource(resource.clone());
        }
        if let Some(OneOrMany(scopes)) = &self.resource_scopes {
            check_nonempty("resource_scopes", scopes)?;
            b = b.resource_scopes(scopes.iter().cloned());
        }
        if let Some(name) = &self.resource_name {
            b = b.resource_name(name.clone());
        }
        if let Some(url) = &self.resource_documentation {
            check_url("resource_documentation", url)?;
            b = b.resource_documentation(url.clone());
        }
        if let Some(dpop) = &self.dpop {
            b = b.dpop(dpop.compile()?);
        }
        Ok(b)
    }
}

impl IssuerSettings {
    fn compile(&self, at: &str) -> Result<Issuer, Invalid> {
        let key = |name: &str| format!("{at}.{name}");
        let audiences = self.audiences.clone().unwrap_or_default().0;
        check_nonempty(&key("audiences"), &audiences)?;
        // An Auth0 domain may be given without a scheme; the preset checks it.
        if self.preset != Some(Preset::Auth0) || self.issuer.contains("://") {
            check_url(&key("issuer"), &self.issuer)?;
        }
        if self.preset != Some(Preset::Keycloak) && self.client_id.is_some() {
            return Err(Invalid::new(
                key("client_id"),
                "only the keycloak preset takes a client_id; give audiences instead",
            ));
        }
        let mut rest = audiences.iter();
        let mut issuer = match (self.preset, &self.client_id) {
            (Some(Preset::Keycloak), Some(client_id)) if !client_id.trim().is_empty() => {
                Issuer::keycloak(&self.issuer, client_id)
            }
            (Some(Preset::Keycloak), _) => {
                return Err(Invalid::new(
                    key("client_id"),
                    "the keycloak preset needs the client id whose roles it reads",
                ));
            }
            (preset, _) => {
                let Some(first) = rest.next() else {
                    return Err(Invalid::new(
                        key("audiences"),
                        "required: at least one audience (accepting any is never the default)",
                    ));
                };
                match preset {
                    Some(Preset::Auth0) => Issuer::auth0(&self.issuer, first),
                    Some(Preset::Okta) => Issuer::okta(&self.issuer, first),
                    Some(Preset::Rfc9068) => Issuer::rfc9068(&self.issuer, first),
                    Some(Preset::Keycloak) | None => {
                        Issuer::new(self.issuer.clone()).audience(first)
                    }
                }
            }
        };
        for audience in rest {
            issuer = issuer.audience(audience.clone());
        }
        match (&self.discovery_url, &self.jwks_uri) {
            (Some(_), Some(_)) => {
                return Err(Invalid::new(
                    key("jwks_uri"),
                    "give discovery_url or jwks_uri, not both",
                ));
            }
            (Some(url), None) => {
                check_url(&key("discovery_url"), url)?;
                issuer = issuer.discovery_url(url.clone());
            }
            (None, Some(url)) => {
                check_url(&key("jwks_uri"), url)?;
                issuer = issuer.jwks_uri(url.clone());
            }
            (None, None) => {}
        }
        if let Some(typ) = self.typ {
            issuer = issuer.typ(typ.into());
        }
        if let Some(names) = &self.algorithms {
            issuer = issuer.algorithms(algorithms(&key("algorithms"), names)?);
        }
        for (what, paths) in [
            ("scopes_claims", &self.scopes_claims),
            ("roles_claims", &self.roles_claims),
        ] {
            for (i, path) in paths.iter().enumerate() {
                if path.is_empty() || path.iter().any(|k| k.is_empty()) {
                    return Err(Invalid::new(
                        format!("{at}.{what}.{i}"),
                        "a claim path is a non-empty list of non-empty object keys",
                    ));
                }
                let path = path.iter().map(String::as_str);
                issuer = if what == "scopes_claims" {
                    issuer.scopes_claim(path)
                } else {
                    issuer.roles_claim(path)
                };
            }
        }
        if let Some(names) = &self.client_id_claims {
            check_nonempty(&key("client_id_claims"), names)?;
            issuer = issuer.client_id_claims(names.iter().map(String::as_str));
        }
        if let Some(required) = self.require_permissions {
            issuer = issuer.require_permissions(required);
        }
        if let Some(OneOrMany(tenants)) = &self.allowed_tenants {
            check_nonempty(&key("allowed_tenants"), tenants)?;
            issuer = issuer.allowed_tenants(tenants.iter().map(String::as_str));
        }
        if self.dangerously_accept_any_tenant {
            issuer = issuer.dangerously_accept_any_tenant();
        }
        Ok(issuer)
    }
}

impl DpopSettings {
    fn compile(&self) -> Result<Dpop, Invalid> {
        check_url("dpop.public_base_url", &self.public_base_url)?;
        let mut dpop = Dpop::new(self.public_base_url.clone());
        if let Some(names) = &self.algorithms {
            dpop = dpop.algorithms(algorithms("dpop.algorithms", names)?);
        }
        if let Some(age) = duration(self.max_age) {
            dpop = dpop.max_age(age);
        }
        if self.required {
            dpop = dpop.required();
        }
        if let Some(lifetime) = duration(self.nonces) {
            dpop = dpop.nonces(lifetime);
        }
        if let Some(bytes) = self.max_proof_bytes {
            dpop = dpop.max_proof_bytes(bytes);
        }
        if let Some(proofs) = self.replay_capacity {
            dpop = dpop.replay_capacity(proofs);
        }
        Ok(dpop)
    }
}
