//! [`Issuer`]: one issuer the layer trusts: how its tokens are recognised, where
//! its keys are, and where its tokens keep scopes and roles.
//!
//! Stage 2½ of a request: which issuer a token claims to come from. This
//! module is the configuration an application writes ([`Issuer`], with
//! provider presets in `presets`, its [`TypPolicy`] in `typ`);
//! `trusted` compiles it once, at `build()`, into what the validator uses
//! (its name matcher from `name`, its key caches, its claim rules).
//!
//! Imports from `crate::keys` and `crate::token` only.

pub(crate) mod name;
mod presets;
pub(crate) mod trusted;
pub(crate) mod typ;

use crate::introspection::Introspection;
use crate::token::algorithm::{Algorithm, DEFAULT_ALGORITHMS};
use crate::token::claim_map::{ClaimMap, Form, Source};
use typ::TypPolicy;

/// The placeholder of a multi-tenant issuer template, as Microsoft writes it.
pub const TENANT_PLACEHOLDER: &str = "{tenantid}";

/// Where an issuer's keys are found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeysAt {
    /// The discovery document at this URL (its `issuer` must equal the issuer).
    Discovery(String),
    /// This JWKS URL.
    Jwks(String),
}

/// One trusted issuer. Start from [`Issuer::new`] or a provider preset such as
/// [`Issuer::entra_id`]; add it with [`Builder::trust`](crate::Builder::trust).
///
/// ```
/// use bearer_guard::{BearerAuthLayer, Issuer};
///
/// # fn main() -> Result<(), bearer_guard::ConfigError> {
/// let auth = BearerAuthLayer::builder()
///     .trust(Issuer::new("https://idp.example.com").audience("api://notes"))
///     .trust(Issuer::auth0("https://example.eu.auth0.com/", "https://notes.example.com"))
///     .build()?;
/// # let _ = auth;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Issuer {
    pub(crate) issuer: String,
    pub(crate) keys: Option<KeysAt>,
    pub(crate) policies: Vec<(String, KeysAt)>,
    pub(crate) audiences: Vec<String>,
    pub(crate) typ: TypPolicy,
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) claims: ClaimMap,
    pub(crate) require_permissions: bool,
    /// Claims a token must carry besides `iss`, `aud` and `exp`.
    pub(crate) required_claims: &'static [&'static str],
    /// A preset input that cannot stand where the preset puts it (a `/` in a
    /// tenant id, say): reported by `build`, never turned into another URL.
    pub(crate) invalid_input: Option<(&'static str, String)>,
    pub(crate) allowed_tenants: Option<Vec<String>>,
    /// Set by [`Issuer::dangerously_accept_any_tenant`].
    pub(crate) any_tenant: bool,
    /// The authority the URLs above were derived from, for [`Issuer::authority`].
    pub(crate) authority: Option<String>,
    /// Token introspection (RFC 7662), for opaque tokens.
    pub(crate) introspection: Option<Introspection>,
}

impl Issuer {
    /// An issuer whose tokens carry exactly this `iss`, with keys found by
    /// OpenID discovery at `{issuer}/.well-known/openid-configuration`.
    ///
    /// An issuer containing `{tenantid}` is a multi-tenant template
    /// (`https://login.microsoftonline.com/{tenantid}/v2.0`): a token matches
    /// when its `iss` equals the template with `{tenantid}` replaced by the
    /// token's own `tid` claim, never by prefix. A template needs
    /// [`discovery_url`](Self::discovery_url) or [`jwks_uri`](Self::jwks_uri).
    ///
    /// Defaults: no audience (one is required), `typ` must be `at+jwt`, the
    /// default asymmetric algorithms, scopes from `scp` and `scope`, roles
    /// from `roles`, the calling app from `azp`, `appid` or `client_id`,
    /// permissions not required; for a template, no tenant until
    /// [`allowed_tenants`](Self::allowed_tenants) or
    /// [`dangerously_accept_any_tenant`](Self::dangerously_accept_any_tenant)
    /// says which (`build` refuses a template with neither).
    pub fn new(issuer: impl Into<String>) -> Self {
        Issuer {
            issuer: issuer.into(),
            keys: None,
            policies: Vec::new(),
            audiences: Vec::new(),
            typ: TypPolicy::default(),
            algorithms: DEFAULT_ALGORITHMS.to_vec(),
            claims: ClaimMap::default(),
            require_permissions: false,
            required_claims: &[],
            invalid_input: None,
            allowed_tenants: None,
            any_tenant: false,
            authority: None,
            introspection: None,
        }
    }

    /// Validates tokens that are not compact JWS (opaque tokens) by asking
    /// this issuer's introspection endpoint (RFC 7662), as [`Introspection`]
    /// says; JWTs are still validated locally (and also introspected with
    /// [`Introspection::introspect_jwts`]). One issuer at most may have it
    /// (an opaque token names no issuer, and is never sent to another), and
    /// not a multi-tenant template.
    pub fn introspection(mut self, introspection: Introspection) -> Self {
        self.introspection = Some(introspection);
        self
    }

    /// Adds an accepted audience (any-of).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Finds keys through the discovery document at `url` instead of the one
    /// derived from the issuer; its `issuer` must still equal this issuer.
    pub fn discovery_url(mut self, url: impl Into<String>) -> Self {
        self.keys = Some(KeysAt::Discovery(url.into()));
        self
    }

    /// Fetches keys from this JWKS URL; no discovery.
    pub fn jwks_uri(mut self, url: impl Into<String>) -> Self {
        self.keys = Some(KeysAt::Jwks(url.into()));
        self
    }

    /// Which `typ` header values pass. Default: [`TypPolicy::AccessToken`].
    pub fn typ(mut self, policy: TypPolicy) -> Self {
        self.typ = policy;
        self
    }

    /// The accepted algorithms. Default: the asymmetric set of
    /// [`DEFAULT_ALGORITHMS`].
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// Also reads scopes from the claim at `path` (object keys from the top:
    /// `["permissions"]`, `["https://example.com/scopes"]`), a space-separated
    /// string or an array of strings.
    pub fn scopes_claim<'a>(mut self, path: impl IntoIterator<Item = &'a str>) -> Self {
        self.claims.scopes.push(Source::new(path, Form::Either));
        self
    }

    /// Also reads roles from the claim at `path` (object keys from the top:
    /// `["realm_access", "roles"]`), an array of strings or a space-separated string.
    pub fn roles_claim<'a>(mut self, path: impl IntoIterator<Item = &'a str>) -> Self {
        self.claims.roles.push(Source::new(path, Form::Either));
        self
    }

    /// Replaces where the calling application is read from (the first present
    /// of these top-level claims). Default: `azp`, `appid`, `client_id`.
    pub fn client_id_claims<'a>(mut self, names: impl IntoIterator<Item = &'a str>) -> Self {
        self.claims.client_id = names.into_iter().map(str::to_owned).collect();
        self
    }

    /// Refuses tokens that grant neither a scope nor a role (401
    /// `invalid_token`): an ID token presented as an access token carries
    /// neither. Default: off (on in the Microsoft presets).
    pub fn require_permissions(mut self, required: bool) -> Self {
        self.require_permissions = required;
        self
    }

    /// Accepts tokens only from these tenants (`tid`, compared ignoring ASCII
    /// case). A token from another tenant gets 401 and causes no key fetch.
    /// A multi-tenant template needs this or
    /// [`dangerously_accept_any_tenant`](Self::dangerously_accept_any_tenant).
    pub fn allowed_tenants<'a>(mut self, tenants: impl IntoIterator<Item = &'a str>) -> Self {
        self.allowed_tenants = Some(tenants.into_iter().map(str::to_owned).collect());
        self
    }

    /// Accepts tokens from every tenant a multi-tenant template matches.
    ///
    /// **Dangerous**: anyone can create an Entra tenant, consent to your API
    /// there and grant their own app the API's app roles, so every role and
    /// scope check then admits strangers. Use it only for an API meant for
    /// every organisation, whose routes check the tenant (or data ownership)
    /// themselves. Without it, or [`allowed_tenants`](Self::allowed_tenants),
    /// `build` refuses a multi-tenant template
    /// ([`ConfigError::TenantsUnrestricted`](crate::ConfigError::TenantsUnrestricted)).
    /// On an issuer that is not a template, or beside an allow-list, it would
    /// change nothing, and `build` refuses it too
    /// ([`ConfigError::AnyTenantIgnored`](crate::ConfigError::AnyTenantIgnored)).
    pub fn dangerously_accept_any_tenant(mut self) -> Self {
        self.any_tenant = true;
        self
    }

    /// Replaces the authority a preset derived its URLs from
    /// (`https://login.microsoftonline.com` for Entra ID,
    /// `https://{tenant}.b2clogin.com` for B2C) in the issuer, discovery and key
    /// URLs: for national clouds, custom domains, or a local issuer in tests.
    /// Has no effect on an issuer not made by a preset.
    pub fn authority(mut self, authority: impl Into<String>) -> Self {
        let new = authority.into();
        let new = new.trim_end_matches('/').to_owned();
        if let Some(old) = self.authority.take() {
            let swap = |url: &mut String| {
                if let Some(rest) = url.strip_prefix(old.as_str()) {
                    *url = format!("{new}{rest}");
                }
            };
            swap(&mut self.issuer);
            if let Some(KeysAt::Discovery(u) | KeysAt::Jwks(u)) = &mut self.keys {
                swap(u);
            }
            for (_, KeysAt::Discovery(u) | KeysAt::Jwks(u)) in &mut self.policies {
                swap(u);
            }
            self.authority = Some(new);
        }
        self
    }

    /// Adds a sign-in policy (an Azure AD B2C user flow) whose keys are found
    /// through the discovery document at `discovery_url`. With policies, a
    /// token's policy claim chooses the keys, and a token from a policy not
    /// listed gets 401 without any fetch.
    pub fn policy(mut self, name: impl Into<String>, discovery_url: impl Into<String>) -> Self {
        self.policies
            .push((name.into(), KeysAt::Discovery(discovery_url.into())));
        self
    }

    /// Reads the sign-in policy from the first present of these claims.
    pub fn policy_claims<'a>(mut self, names: impl IntoIterator<Item = &'a str>) -> Self {
        self.claims.policy = names.into_iter().map(str::to_owned).collect();
        self
    }

    /// The issuer (or template) this value describes.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub(crate) fn is_template(&self) -> bool {
        self.issuer.contains(TENANT_PLACEHOLDER)
    }

    /// Whether anything this issuer is configured to fetch from is an
    /// `https` URL: its discovery document or key set (the issuer's own
    /// discovery when neither is named), each policy's, its introspection
    /// endpoint.
    pub(crate) fn fetches_https(&self) -> bool {
        let https = |url: &str| {
            url.get(..6)
                .is_some_and(|s| s.eq_ignore_ascii_case("https:"))
        };
        let keys = |at: &KeysAt| match at {
            KeysAt::Discovery(url) | KeysAt::Jwks(url) => https(url),
        };
        let own_discovery = self.keys.is_none() && self.policies.is_empty();
        (own_discovery && https(&self.issuer))
            || self.keys.as_ref().is_some_and(keys)
            || self.policies.iter().any(|(_, at)| keys(at))
            || self
                .introspection
                .as_ref()
                .is_some_and(|i| https(i.endpoint_url().unwrap_or(&self.issuer)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    #[test]
    fn authority_swaps_the_derived_urls_only_for_presets() {
        let issuer = Issuer::entra_id(TID, "client").authority("http://127.0.0.1:9/");
        assert_eq!(issuer.issuer(), format!("http://127.0.0.1:9/{TID}/v2.0"));
        assert_eq!(
            issuer.keys,
            Some(KeysAt::Discovery(format!(
                "http://127.0.0.1:9/{TID}/v2.0/.well-known/openid-configuration"
            )))
        );
        let plain = Issuer::new("https://idp.example.com").authority("http://127.0.0.1:9");
        assert_eq!(plain.issuer(), "https://idp.example.com");
    }
}
