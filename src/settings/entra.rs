//! The `entra` section: Microsoft.Identity.Web's `AzureAd` section, read as
//! that library reads it, compiled into the Entra ID or Azure AD B2C
//! presets.
//!
//! Sources: `MicrosoftIdentityOptions` and `MicrosoftEntraApplicationOptions`
//! (the keys), `AddMicrosoftIdentityWebApi` (required keys, the authority
//! `{Instance}/{TenantId}/v2.0`, B2C when `SignUpSignInPolicyId` is set, the
//! default audiences `ClientId` and `api://{ClientId}`, effective audiences
//! `Audience` ∪ `Audiences`): <https://github.com/AzureAD/microsoft-identity-web>.

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::Invalid;
use super::values::{OneOrMany, TokenVersion};
use crate::issuer::Issuer;

/// Every key of the section, as `appsettings.json` spells it: those used,
/// bearer-guard's own, then those accepted and ignored. Keys read from a file
/// or the environment are matched against these ignoring case.
pub(crate) const KEYS: &[&str] = &[
    "Instance",
    "TenantId",
    "ClientId",
    "Authority",
    "Domain",
    "Audience",
    "Audiences",
    "SignUpSignInPolicyId",
    "EditProfilePolicyId",
    "ResetPasswordPolicyId",
    "AllowWebApiToBeAuthorizedByACL",
    "AllowedTenants",
    "DangerouslyAcceptAnyTenant",
    "AccessTokenVersions",
    "CallbackPath",
    "SignedOutCallbackPath",
    "SignedOutRedirectUri",
    "RemoteSignOutPath",
    "ClientSecret",
    "ClientCertificates",
    "ClientCredentials",
    "TokenDecryptionCertificates",
    "TokenDecryptionCredentials",
    "SendX5C",
    "WithSpaAuthCode",
    "LegacyCacheCompatibilityEnabled",
    "UserAssignedManagedIdentityClientId",
    "ClientCredentialsUsingManagedIdentity",
    "ResetPasswordPath",
    "ErrorPath",
    "ExtraQueryParameters",
    "EnablePiiLogging",
    "AzureRegion",
    "ClientCapabilities",
    "AppHomeTenantId",
    "Name",
    "Scopes",
    "ResponseType",
    "SaveTokens",
];

/// The canonical spelling of a key of the section, found ignoring ASCII case.
pub(crate) fn canonical_key(key: &str) -> Option<&'static str> {
    KEYS.iter().copied().find(|k| k.eq_ignore_ascii_case(key))
}

/// The section. Fields of type `Option<IgnoredAny>` are keys a web app or a
/// client uses: accepted so that a pasted section loads, their values never
/// kept.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EntraSettings {
    #[serde(rename = "Instance")]
    instance: Option<String>,
    #[serde(rename = "TenantId")]
    tenant_id: Option<String>,
    #[serde(rename = "ClientId")]
    client_id: Option<String>,
    #[serde(rename = "Authority")]
    authority: Option<String>,
    #[serde(rename = "Domain")]
    domain: Option<String>,
    #[serde(rename = "Audience")]
    audience: Option<String>,
    #[serde(rename = "Audiences")]
    audiences: Option<OneOrMany>,
    #[serde(rename = "SignUpSignInPolicyId")]
    sign_up_sign_in_policy_id: Option<String>,
    #[serde(rename = "EditProfilePolicyId")]
    edit_profile_policy_id: Option<String>,
    #[serde(rename = "ResetPasswordPolicyId")]
    reset_password_policy_id: Option<String>,
    #[serde(rename = "AllowWebApiToBeAuthorizedByACL")]
    allow_web_api_to_be_authorized_by_acl: Option<bool>,
    #[serde(rename = "AllowedTenants")]
    allowed_tenants: Option<OneOrMany>,
    #[serde(rename = "DangerouslyAcceptAnyTenant")]
    dangerously_accept_any_tenant: Option<bool>,
    #[serde(rename = "AccessTokenVersions")]
    access_token_versions: Option<Vec<TokenVersion>>,
    #[serde(rename = "CallbackPath")]
    callback_path: Option<IgnoredAny>,
    #[serde(rename = "SignedOutCallbackPath")]
    signed_out_callback_path: Option<IgnoredAny>,
    #[serde(rename = "SignedOutRedirectUri")]
    signed_out_redirect_uri: Option<IgnoredAny>,
    #[serde(rename = "RemoteSignOutPath")]
    remote_sign_out_path: Option<IgnoredAny>,
    #[serde(rename = "ClientSecret")]
    client_secret: Option<IgnoredAny>,
    #[serde(rename = "ClientCertificates")]
    client_certificates: Option<IgnoredAny>,
    #[serde(rename = "ClientCredentials")]
    client_credentials: Option<IgnoredAny>,
    #[serde(rename = "TokenDecryptionCertificates")]
    token_decryption_certificates: Option<IgnoredAny>,
    #[serde(rename = "TokenDecryptionCredentials")]
    token_decryption_credentials: Option<IgnoredAny>,
    #[serde(rename = "SendX5C")]
    send_x5c: Option<IgnoredAny>,
    #[serde(rename = "WithSpaAuthCode")]
    with_spa_auth_code: Option<IgnoredAny>,
    #[serde(rename = "LegacyCacheCompatibilityEnabled")]
    legacy_cache_compatibility_enabled: Option<IgnoredAny>,
    #[serde(rename = "UserAssignedManagedIdentityClientId")]
    user_assigned_managed_identity_client_id: Option<IgnoredAny>,
    #[serde(rename = "ClientCredentialsUsingManagedIdentity")]
    client_credentials_using_managed_identity: Option<IgnoredAny>,
    #[serde(rename = "ResetPasswordPath")]
    reset_password_path: Option<IgnoredAny>,
    #[serde(rename = "ErrorPath")]
    error_path: Option<IgnoredAny>,
    #[serde(rename = "ExtraQueryParameters")]
    extra_query_parameters: Option<IgnoredAny>,
    #[serde(rename = "EnablePiiLogging")]
    enable_pii_logging: Option<IgnoredAny>,
    #[serde(rename = "AzureRegion")]
    azure_region: Option<IgnoredAny>,
    #[serde(rename = "ClientCapabilities")]
    client_capabilities: Option<IgnoredAny>,
    #[serde(rename = "AppHomeTenantId")]
    app_home_tenant_id: Option<IgnoredAny>,
    #[serde(rename = "Name")]
    name: Option<IgnoredAny>,
    #[serde(rename = "Scopes")]
    scopes: Option<IgnoredAny>,
    #[serde(rename = "ResponseType")]
    response_type: Option<IgnoredAny>,
    #[serde(rename = "SaveTokens")]
    save_tokens: Option<IgnoredAny>,
}

fn key(name: &str) -> String {
    format!("entra.{name}")
}

/// A string setting that must be there and not be blank.
fn required<'a>(value: &'a Option<String>, name: &str, why: &str) -> Result<&'a str, Invalid> {
    match value.as_deref().map(str::trim) {
        Some(v) if !v.is_empty() => Ok(v),
        Some(_) => Err(Invalid::new(key(name), "must not be empty")),
        None => Err(Invalid::new(
            key(name),
            format!("required key is missing: {why}"),
        )),
    }
}

/// Whether `value` is a GUID in its usual form (8-4-4-4-12 hex digits).
fn is_guid(value: &str) -> bool {
    let groups: Vec<&str> = value.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, len)| g.len() == len && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// An authority URL without its trailing `/`, checked: `http(s)`, a host,
/// no query or fragment.
fn authority_url(name: &str, value: &str) -> Result<url::Url, Invalid> {
    let url = url::Url::parse(value.trim())
        .map_err(|e| Invalid::new(key(name), format!("not a URL ({e})")))?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err(Invalid::new(key(name), "not an https URL with a host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Invalid::new(
            key(name),
            "must have no query and no fragment",
        ));
    }
    Ok(url)
}

fn without_slash(url: &url::Url) -> String {
    url.as_str().trim_end_matches('/').to_owned()
}

impl EntraSettings {
    /// The keys accepted only so that a pasted section loads, and why each is
    /// not used.
    fn ignored(&self) -> Vec<(&'static str, &'static str)> {
        const WEB_APP: &str = "it configures signing users in to a web app, not an API";
        const CLIENT: &str = "it configures calling other APIs; this layer only validates tokens";
        let keys = [
            ("CallbackPath", self.callback_path.is_some(), WEB_APP),
            (
                "SignedOutCallbackPath",
                self.signed_out_callback_path.is_some(),
                WEB_APP,
            ),
            (
                "SignedOutRedirectUri",
                self.signed_out_redirect_uri.is_some(),
                WEB_APP,
            ),
            (
                "RemoteSignOutPath",
                self.remote_sign_out_path.is_some(),
                WEB_APP,
            ),
            (
                "ResetPasswordPath",
                self.reset_password_path.is_some(),
                WEB_APP,
            ),
            ("ErrorPath", self.error_path.is_some(), WEB_APP),
            ("ResponseType", self.response_type.is_some(), WEB_APP),
            ("SaveTokens", self.save_tokens.is_some(), WEB_APP),
            (
                "WithSpaAuthCode",
                self.with_spa_auth_code.is_some(),
                WEB_APP,
            ),
            (
                "ExtraQueryParameters",
                self.extra_query_parameters.is_some(),
                WEB_APP,
            ),
            ("ClientSecret", self.client_secret.is_some(), CLIENT),
            (
                "ClientCertificates",
                self.client_certificates.is_some(),
                CLIENT,
            ),
            (
                "ClientCredentials",
                self.client_credentials.is_some(),
                CLIENT,
            ),
            ("SendX5C", self.send_x5c.is_some(), CLIENT),
            (
                "LegacyCacheCompatibilityEnabled",
                self.legacy_cache_compatibility_enabled.is_some(),
                CLIENT,
            ),
            (
                "UserAssignedManagedIdentityClientId",
                self.user_assigned_managed_identity_client_id.is_some(),
                CLIENT,
            ),
            (
                "ClientCredentialsUsingManagedIdentity",
                self.client_credentials_using_managed_identity.is_some(),
                CLIENT,
            ),
            ("AzureRegion", self.azure_region.is_some(), CLIENT),
            (
                "ClientCapabilities",
                self.client_capabilities.is_some(),
                CLIENT,
            ),
            ("AppHomeTenantId", self.app_home_tenant_id.is_some(), CLIENT),
            (
                "EnablePiiLogging",
                self.enable_pii_logging.is_some(),
                "this layer never logs tokens or personal data",
            ),
            (
                "Name",
                self.name.is_some(),
                "it names an options instance in .NET",
            ),
            (
                "TokenDecryptionCertificates",
                self.token_decryption_certificates.is_some(),
                "encrypted tokens (JWE) are refused",
            ),
            (
                "TokenDecryptionCredentials",
                self.token_decryption_credentials.is_some(),
                "encrypted tokens (JWE) are refused",
            ),
            (
                "Scopes",
                self.scopes.is_some(),
                "routes state the scopes they need in code (Requirement::scope)",
            ),
        ];
        keys.into_iter()
            .filter(|(_, set, _)| *set)
            .map(|(name, _, why)| (name, why))
            .collect()
    }

    /// The issuers this section trusts. `notes`: log the keys ignored.
    pub(crate) fn compile(&self, notes: bool) -> Result<Vec<Issuer>, Invalid> {
        if notes {
            for (name, why) in self.ignored() {
                // The key only: its value may be a secret.
                tracing::info!(key = %key(name), "configuration key accepted and ignored: {why}");
            }
        }
        let client_id = required(
            &self.client_id,
            "ClientId",
            "the API's application (client) id",
        )?;
        let audiences = self.audiences()?;
        let b2c = self
            .sign_up_sign_in_policy_id
            .as_deref()
            .is_some_and(|p| !p.trim().is_empty());
        let mut issuers = if b2c {
            self.b2c(client_id)?
        } else {
            self.entra_id(client_id, notes)?
        };
        for issuer in &mut issuers {
            if let Some(audiences) = &audiences {
                issuer.audiences = audiences.clone();
            }
            if self.allow_web_api_to_be_authorized_by_acl == Some(true) {
                *issuer = issuer.clone().require_permissions(false);
            }
        }
        Ok(issuers)
    }

    /// `Audience` ∪ `Audiences`, when either is given.
    fn audiences(&self) -> Result<Option<Vec<String>>, Invalid> {
        let mut all = Vec::new();
        if let Some(audience) = &self.audience {
            if audience.trim().is_empty() {
                return Err(Invalid::new(key("Audience"), "must not be empty"));
            }
            all.push(audience.clone());
        }
        if let Some(OneOrMany(audiences)) = &self.audiences {
            super::check_nonempty(&key("Audiences"), audiences)?;
            all.extend(
                audiences
                    .iter()
                    .filter(|a| !all.contains(a))
                    .cloned()
                    .collect::<Vec<_>>(),
            );
        }
        Ok((self.audience.is_some() || self.audiences.is_some()).then_some(all))
    }

    fn versions(&self) -> Result<(bool, bool), Invalid> {
        match &self.access_token_versions {
            None => Ok((true, true)),
            Some(list) if list.is_empty() => Err(Invalid::new(
                key("AccessTokenVersions"),
                "the list is empty: no token could pass",
            )),
            Some(list) => Ok((
                list.contains(&TokenVersion::V1),
                list.contains(&TokenVersion::V2),
            )),
        }
    }

    /// The instance (without its trailing `/`) and the tenant, from
    /// `Instance` and `TenantId` or from `Authority`.
    fn instance_and_tenant(&self) -> Result<(String, String), Invalid> {
        let Some(authority) = &self.authority else {
            let instance = required(
                &self.instance,
                "Instance",
                "the identity platform's address, such as https://login.microsoftonline.com/",
            )?;
            let tenant = required(
                &self.tenant_id,
                "TenantId",
                "the tenant's id (a GUID), or common or organizations for several tenants",
            )?;
            return Ok((
                without_slash(&authority_url("Instance", instance)?),
                tenant.to_owned(),
            ));
        };
        if self.instance.is_some() || self.tenant_id.is_some() {
            return Err(Invalid::new(
                key("Authority"),
                "give Authority, or Instance and TenantId, not both",
            ));
        }
        // `{Instance}/{TenantId}` or `{Instance}/{TenantId}/v2.0`.
        let url = authority_url("Authority", authority)?;
        let path = url.path().trim_end_matches('/');
        let path = path.strip_suffix("/v2.0").unwrap_or(path);
        let Some((prefix, tenant)) = path.rsplit_once('/').filter(|(_, t)| !t.is_empty()) else {
            return Err(Invalid::new(
                key("Authority"),
                "names no tenant: expected {Instance}/{TenantId}/v2.0",
            ));
        };
        let mut instance = url.clone();
        instance.set_path(prefix);
        Ok((without_slash(&instance), tenant.to_owned()))
    }

    fn entra_id(&self, client_id: &str, notes: bool) -> Result<Vec<Issuer>, Invalid> {
        let (instance, tenant) = self.instance_and_tenant()?;
        let (v1, v2) = self.versions()?;
        let multi =
            tenant.eq_ignore_ascii_case("common") || tenant.eq_ignore_ascii_case("organizations");
        let any = self.dangerously_accept_any_tenant == Some(true);
        let tenant_key = if self.authority.is_some() {
            "Authority"
        } else {
            "TenantId"
        };
        if tenant.eq_ignore_ascii_case("consumers") {
            return Err(Invalid::new(
                key(tenant_key),
                "consumers (personal Microsoft accounts) is not supported: its tokens are meant \
                 for Microsoft's own APIs",
            ));
        }
        if notes && self.domain.is_some() {
            tracing::info!(key = %key("Domain"), "configuration key accepted and ignored: outside B2C, the tenant is named by TenantId");
        }
        let mut issuers = Vec::new();
        if multi {
            match (&self.allowed_tenants, any) {
                (None, false) => {
                    return Err(Invalid::new(
                        key(tenant_key),
                        format!(
                            "{tenant} trusts tokens from every Entra tenant, an attacker's own \
                             included: list the tenants you serve in AllowedTenants, or set \
                             DangerouslyAcceptAnyTenant = true if every organisation may call this API"
                        ),
                    ));
                }
                (Some(_), true) => {
                    return Err(Invalid::new(
                        key("DangerouslyAcceptAnyTenant"),
                        "set beside AllowedTenants, it would be ignored: give one of them",
                    ));
                }
                _ => {}
            }
            let restrict = |issuer: Issuer| -> Result<Issuer, Invalid> {
                Ok(match &self.allowed_tenants {
                    Some(OneOrMany(tenants)) => {
                        if tenants.is_empty() {
                            return Err(Invalid::new(
                                key("AllowedTenants"),
                                "the list is empty: no token could pass",
                            ));
                        }
                        super::check_nonempty(&key("AllowedTenants"), tenants)?;
                        issuer.allowed_tenants(tenants.iter().map(String::as_str))
                    }
                    None => issuer.dangerously_accept_any_tenant(),
                })
            };
            if v2 {
                issuers.push(restrict(Issuer::entra_id_multi_tenant(client_id))?);
            }
            if v1 {
                issuers.push(restrict(Issuer::entra_id_v1_multi_tenant(client_id))?);
            }
        } else {
            for (name, set) in [
                ("AllowedTenants", self.allowed_tenants.is_some()),
                (
                    "DangerouslyAcceptAnyTenant",
                    self.dangerously_accept_any_tenant.is_some(),
                ),
            ] {
                if set {
                    return Err(Invalid::new(
                        key(name),
                        "only for a multi-tenant TenantId (common or organizations)",
                    ));
                }
            }
            if !is_guid(&tenant) {
                return Err(Invalid::new(
                    key(tenant_key),
                    "must be the tenant's id, a GUID (Entra names the tenant by its id in every \
                     token's issuer, never by a domain name), or common or organizations",
                ));
            }
            if v2 {
                issuers.push(Issuer::entra_id(&tenant, client_id));
            }
            if v1 {
                issuers.push(Issuer::entra_id_v1(&tenant, client_id));
            }
        }
        Ok(issuers
            .into_iter()
            .map(|issuer| issuer.authority(instance.clone()))
            .collect())
    }

    fn b2c(&self, client_id: &str) -> Result<Vec<Issuer>, Invalid> {
        if self.authority.is_some() {
            return Err(Invalid::new(
                key("Authority"),
                "for Azure AD B2C give Instance, Domain and TenantId instead",
            ));
        }
        for (name, set) in [
            ("AllowedTenants", self.allowed_tenants.is_some()),
            (
                "DangerouslyAcceptAnyTenant",
                self.dangerously_accept_any_tenant.is_some(),
            ),
        ] {
            if set {
                return Err(Invalid::new(
                    key(name),
                    "Azure AD B2C has one tenant: remove it",
                ));
            }
        }
        let (v1, _) = self.versions()?;
        if v1 && self.access_token_versions.is_some() {
            return Err(Invalid::new(
                key("AccessTokenVersions"),
                "Azure AD B2C issues 2.0 tokens only",
            ));
        }
        let instance = required(
            &self.instance,
            "Instance",
            "the B2C address, such as https://contoso.b2clogin.com/",
        )?;
        let instance = without_slash(&authority_url("Instance", instance)?);
        let domain = required(
            &self.domain,
            "Domain",
            "the B2C tenant's domain, such as contoso.onmicrosoft.com",
        )?;
        let tenant = domain
            .len()
            .checked_sub(".onmicrosoft.com".len())
            .and_then(|at| {
                domain
                    .get(at..)
                    .filter(|s| s.eq_ignore_ascii_case(".onmicrosoft.com"))
                    .map(|_| at)
            })
            .and_then(|at| domain.get(..at))
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                Invalid::new(
                    key("Domain"),
                    "must be the tenant's {name}.onmicrosoft.com domain",
                )
            })?;
        let tenant_id = required(
            &self.tenant_id,
            "TenantId",
            "Azure AD B2C names its tenant by id in every token's issuer; copy the GUID from the \
             `issuer` of your policy's discovery document",
        )?;
        if !is_guid(tenant_id) {
            return Err(Invalid::new(
                key("TenantId"),
                "must be the tenant's id, a GUID (as in the issuer of your policy's discovery document)",
            ));
        }
        let policies: Vec<&str> = [
            &self.sign_up_sign_in_policy_id,
            &self.edit_profile_policy_id,
            &self.reset_password_policy_id,
        ]
        .into_iter()
        .filter_map(|p| p.as_deref().map(str::trim).filter(|p| !p.is_empty()))
        .collect();
        let issuer = Issuer::azure_ad_b2c(tenant, tenant_id, client_id, policies);
        // The preset's authority is `https://{tenant}.b2clogin.com`; a custom
        // domain (or a local issuer in tests) replaces it.
        Ok(vec![issuer.authority(instance)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::issuer::KeysAt;

    fn section(toml: &str) -> EntraSettings {
        use figment::providers::{Format, Toml};
        figment::Figment::from(Toml::string(toml))
            .extract()
            .expect("a valid section")
    }

    const TID: &str = "775527ff-9a37-4307-8b3d-cc311f58d925";

    /// `KEYS`, by which keys are matched ignoring case, is exactly the list
    /// serde knows (its unknown-key error lists them).
    #[test]
    fn the_keys_matched_ignoring_case_are_the_fields_serde_knows() {
        let error = figment::Figment::from(
            <figment::providers::Toml as figment::providers::Format>::string("Nope = 1"),
        )
        .extract::<EntraSettings>()
        .expect_err("unknown key");
        match error.kind {
            figment::error::Kind::UnknownField(_, expected) => assert_eq!(expected, KEYS),
            other => panic!("{other:?}"),
        }
        assert_eq!(canonical_key("clientid"), Some("ClientId"));
        assert_eq!(
            canonical_key("ALLOWWEBAPITOBEAUTHORIZEDBYACL"),
            Some("AllowWebApiToBeAuthorizedByACL")
        );
        assert_eq!(canonical_key("ClientSecrets"), None);
    }

    #[test]
    fn keys_a_web_app_uses_are_listed_as_ignored_and_nothing_else() {
        let s = section(
            "Instance = \"https://login.microsoftonline.com/\"\nClientId = \"c\"\n\
             CallbackPath = \"/signin-oidc\"\nClientSecret = \"x\"\nScopes = \"access_as_user\"\n\
             ClientCredentials = [{ SourceType = \"ClientSecret\" }]",
        );
        let names: Vec<&str> = s.ignored().into_iter().map(|(name, _)| name).collect();
        assert_eq!(
            names,
            [
                "CallbackPath",
                "ClientSecret",
                "ClientCredentials",
                "Scopes"
            ]
        );
    }

    #[test]
    fn a_b2c_section_compiles_to_the_b2c_preset_with_every_policy_named() {
        let s = section(&format!(
            "Instance = \"https://contoso.b2clogin.com/\"\nClientId = \"cid\"\n\
             Domain = \"contoso.onmicrosoft.com\"\nTenantId = \"{TID}\"\n\
             SignUpSignInPolicyId = \"B2C_1_susi\"\nEditProfilePolicyId = \"B2C_1_edit\"\n\
             ResetPasswordPolicyId = \"B2C_1_reset\""
        ));
        let issuers = s.compile(false).expect("compiles");
        assert_eq!(issuers.len(), 1);
        let b2c = issuers.first().expect("one");
        assert_eq!(
            *b2c,
            Issuer::azure_ad_b2c(
                "contoso",
                TID,
                "cid",
                ["B2C_1_susi", "B2C_1_edit", "B2C_1_reset"]
            )
        );
        assert_eq!(
            b2c.issuer(),
            format!("https://contoso.b2clogin.com/{TID}/v2.0/")
        );
        assert_eq!(b2c.audiences, ["cid"]);
        // A custom domain replaces the b2clogin.com authority.
        let s = section(&format!(
            "Instance = \"https://login.contoso.com\"\nClientId = \"cid\"\n\
             Domain = \"contoso.onmicrosoft.com\"\nTenantId = \"{TID}\"\n\
             SignUpSignInPolicyId = \"B2C_1_susi\""
        ));
        let issuers = s.compile(false).expect("compiles");
        let b2c = issuers.first().expect("one");
        assert_eq!(
            b2c.issuer(),
            format!("https://login.contoso.com/{TID}/v2.0/")
        );
        assert_eq!(
            b2c.policies.first().map(|(_, keys)| keys.clone()),
            Some(KeysAt::Discovery(
                "https://login.contoso.com/contoso.onmicrosoft.com/B2C_1_susi/v2.0/.well-known/openid-configuration".into()
            ))
        );
    }

    /// The README's claim: a pasted single-tenant section is the two
    /// presets, v2.0 and v1.0, exactly.
    #[test]
    fn a_single_tenant_section_is_the_v2_and_v1_presets() {
        let s = section(&format!(
            "Instance = \"https://login.microsoftonline.com/\"\nTenantId = \"{TID}\"\n\
             ClientId = \"cid\"\nDomain = \"contoso.onmicrosoft.com\"\nScopes = \"access_as_user\""
        ));
        assert_eq!(
            s.compile(false).expect("compiles"),
            [
                Issuer::entra_id(TID, "cid"),
                Issuer::entra_id_v1(TID, "cid")
            ]
        );
    }

    #[test]
    fn an_authority_names_the_instance_and_the_tenant() {
        let s = section(&format!(
            "Authority = \"https://login.microsoftonline.us/{TID}/v2.0\"\nClientId = \"cid\"\n\
             AccessTokenVersions = [\"2.0\"]"
        ));
        let issuers = s.compile(false).expect("compiles");
        let names: Vec<&str> = issuers.iter().map(Issuer::issuer).collect();
        assert_eq!(
            names,
            [format!("https://login.microsoftonline.us/{TID}/v2.0")]
        );
        let s = section(
            "Authority = \"https://login.microsoftonline.com/common\"\nClientId = \"cid\"\nDangerouslyAcceptAnyTenant = true",
        );
        let issuers = s.compile(false).expect("compiles");
        let names: Vec<&str> = issuers.iter().map(Issuer::issuer).collect();
        assert_eq!(
            names,
            [
                "https://login.microsoftonline.com/{tenantid}/v2.0",
                "https://sts.windows.net/{tenantid}/"
            ]
        );
        assert!(issuers.iter().all(|i| i.any_tenant));
    }
}
