//! Provider presets: [`Issuer`] constructors that know each provider's issuer
//! and key URLs, its token type, where it keeps scopes and roles, and which
//! audience forms it uses. Each can be adjusted afterwards with the `Issuer`
//! setters.
//!
//! Sources, per provider:
//! - Microsoft identity platform access tokens and their claims:
//!   <https://learn.microsoft.com/entra/identity-platform/access-tokens> and
//!   <https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference>;
//!   multi-tenant issuer validation:
//!   <https://learn.microsoft.com/entra/identity-platform/howto-convert-app-to-be-multi-tenant>.
//! - Azure AD B2C tokens (`tfp`/`acr`, issuer, per-policy metadata):
//!   <https://learn.microsoft.com/azure/active-directory-b2c/tokens-overview>.
//! - Auth0 access tokens (`scope`, RBAC `permissions`):
//!   <https://auth0.com/docs/secure/tokens/access-tokens/access-token-profiles>.
//! - Keycloak (`realm_access.roles`, `resource_access.{client}.roles`):
//!   <https://www.keycloak.org/docs/latest/server_admin/#_oidc_token_role_mappings>.
//! - Okta (`scp` as an array): <https://developer.okta.com/docs/guides/validate-access-tokens/>.
//! - RFC 9068 (JWT profile for OAuth 2.0 access tokens).

use super::typ::TypPolicy;
use super::{Issuer, KeysAt};
use crate::token::claim_map::{ClaimMap, Form, Source};

const MICROSOFT_AUTHORITY: &str = "https://login.microsoftonline.com";

/// RFC 9068 §2.2: the claims a conformant JWT access token MUST carry,
/// besides `iss`, `exp` and `aud`, which every issuer requires.
const RFC9068_REQUIRED: &[&str] = &["sub", "client_id", "iat", "jti"];

/// Whether `value` can stand as one URL path segment as it is: not empty,
/// and nothing that would end the segment or the path (`/`, `?`, `#`), be
/// read as credentials (`@`) or decoded into one of those (`%`).
fn is_segment(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'/' | b'?' | b'#' | b'@' | b'%' | b'\\'))
}

/// Whether `value` can stand as a host name (one label or a dotted name).
fn is_host(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.'))
}

impl Issuer {
    /// Remembers the first preset input that cannot stand where the preset
    /// puts it, for `build` to report.
    fn check_input(mut self, what: &'static str, value: &str, fits: fn(&str) -> bool) -> Self {
        if self.invalid_input.is_none() && !fits(value) {
            self.invalid_input = Some((what, value.to_owned()));
        }
        self
    }
}

impl Issuer {
    /// Microsoft Entra ID, one tenant, v2.0 tokens: issuer
    /// `https://login.microsoftonline.com/{tenant_id}/v2.0`, keys from that
    /// issuer's discovery document.
    ///
    /// Accepts `aud` = `client_id` or `api://{client_id}`; `typ` `JWT`; scopes
    /// from `scp` (delegated, a user is present) and app roles from `roles`
    /// (app-only, client credentials); the calling app from `azp` or `appid`.
    /// Tokens granting neither a scope nor a role are refused, as Microsoft
    /// recommends (an ID token carries neither); to authorize app-only callers
    /// by an access-control list instead, call `.require_permissions(false)`
    /// and guard routes with [`Requirement::client`](crate::Requirement::client).
    pub fn entra_id(tenant_id: &str, client_id: &str) -> Issuer {
        let issuer = format!("{MICROSOFT_AUTHORITY}/{tenant_id}/v2.0");
        let discovery = format!("{issuer}/.well-known/openid-configuration");
        entra(issuer, KeysAt::Discovery(discovery), client_id).check_input(
            "tenant id",
            tenant_id,
            is_segment,
        )
    }

    /// Microsoft Entra ID, one tenant, v1.0 tokens: issuer
    /// `https://sts.windows.net/{tenant_id}/`, keys from
    /// `https://login.microsoftonline.com/{tenant_id}/.well-known/openid-configuration`.
    /// Otherwise as [`Issuer::entra_id`]. Trust both to accept v1 and v2 tokens.
    pub fn entra_id_v1(tenant_id: &str, client_id: &str) -> Issuer {
        let issuer = format!("https://sts.windows.net/{tenant_id}/");
        let discovery =
            format!("{MICROSOFT_AUTHORITY}/{tenant_id}/.well-known/openid-configuration");
        entra(issuer, KeysAt::Discovery(discovery), client_id).check_input(
            "tenant id",
            tenant_id,
            is_segment,
        )
    }

    /// Microsoft Entra ID, several tenants (the `common` and `organizations`
    /// endpoints), v2.0 tokens: the issuer template
    /// `https://login.microsoftonline.com/{tenantid}/v2.0` is matched against
    /// each token's own `tid`, exactly. Keys come from the `common` discovery
    /// document, whose `issuer` is that template.
    ///
    /// Say which tenants may call: [`allowed_tenants`](Issuer::allowed_tenants),
    /// or, for an API open to every organisation,
    /// [`dangerously_accept_any_tenant`](Issuer::dangerously_accept_any_tenant);
    /// `build` refuses the preset with neither, since any Entra tenant (an
    /// attacker's own included) can obtain a token for your API.
    pub fn entra_id_multi_tenant(client_id: &str) -> Issuer {
        let issuer = format!("{MICROSOFT_AUTHORITY}/{{tenantid}}/v2.0");
        let discovery =
            format!("{MICROSOFT_AUTHORITY}/common/v2.0/.well-known/openid-configuration");
        entra(issuer, KeysAt::Discovery(discovery), client_id)
    }

    /// Microsoft Entra ID, any tenant, v1.0 tokens: issuer template
    /// `https://sts.windows.net/{tenantid}/`, keys from the v1 `common`
    /// discovery document. Otherwise as [`Issuer::entra_id_multi_tenant`].
    pub fn entra_id_v1_multi_tenant(client_id: &str) -> Issuer {
        let discovery = format!("{MICROSOFT_AUTHORITY}/common/.well-known/openid-configuration");
        entra(
            "https://sts.windows.net/{tenantid}/".to_owned(),
            KeysAt::Discovery(discovery),
            client_id,
        )
    }

    /// Azure AD B2C: issuer `https://{tenant}.b2clogin.com/{tenant_id}/v2.0/`,
    /// one discovery document (and key set) per user flow or custom policy at
    /// `https://{tenant}.b2clogin.com/{tenant}.onmicrosoft.com/{policy}/v2.0/.well-known/openid-configuration`.
    ///
    /// The token's policy (`tfp`, or `acr` in tenants configured for it,
    /// compared ignoring ASCII case) chooses the key set; a policy not listed is
    /// refused with 401. `aud` is `client_id`, `typ` `JWT`, scopes from `scp`.
    /// Handlers read the policy with [`Authenticated::policy`](crate::Authenticated::policy);
    /// routes can require one with [`Requirement::policy`](crate::Requirement::policy).
    pub fn azure_ad_b2c<'a>(
        tenant: &str,
        tenant_id: &str,
        client_id: &str,
        policies: impl IntoIterator<Item = &'a str>,
    ) -> Issuer {
        let authority = format!("https://{tenant}.b2clogin.com");
        let mut issuer = Issuer::new(format!("{authority}/{tenant_id}/v2.0/"))
            .audience(client_id)
            .typ(TypPolicy::Jwt)
            .require_permissions(true)
            .policy_claims(["tfp", "acr"])
            .check_input("B2C tenant name", tenant, is_host)
            .check_input("tenant id", tenant_id, is_segment);
        for policy in policies {
            issuer = issuer.check_input("policy name", policy, is_segment);
            let discovery = format!(
                "{authority}/{tenant}.onmicrosoft.com/{policy}/v2.0/.well-known/openid-configuration"
            );
            issuer = issuer.policy(policy, discovery);
        }
        issuer.authority = Some(authority);
        issuer
    }

    /// Auth0: issuer `https://{domain}/` (Auth0 issuers end with `/`; one is
    /// added if missing), keys by discovery; scopes from `scope` and, with RBAC
    /// enabled, `permissions` (an array); `typ` `JWT` (Auth0 profile) or
    /// `at+jwt` (RFC 9068 profile); the calling app from `azp` or `client_id`.
    pub fn auth0(domain: &str, audience: &str) -> Issuer {
        let host = domain
            .strip_prefix("https://")
            .or_else(|| domain.strip_prefix("http://"))
            .unwrap_or(domain);
        let host = host.strip_suffix('/').unwrap_or(host);
        let mut issuer = if domain.starts_with("https://") || domain.starts_with("http://") {
            domain.to_owned()
        } else {
            format!("https://{domain}")
        };
        if !issuer.ends_with('/') {
            issuer.push('/');
        }
        let mut issuer = Issuer::new(issuer)
            .audience(audience)
            .typ(TypPolicy::AccessTokenOrJwt)
            .client_id_claims(["azp", "client_id"])
            // A host, with a port when given (a local issuer in tests).
            .check_input("Auth0 domain", host, |h| {
                let (name, port) = h.split_once(':').unwrap_or((h, "0"));
                is_host(name) && !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())
            });
        issuer.claims = ClaimMap {
            scopes: vec![
                Source::new(["scope"], Form::SpaceSeparated),
                Source::new(["permissions"], Form::Array),
            ],
            roles: Vec::new(),
            ..issuer.claims
        };
        issuer
    }

    /// Keycloak: issuer `https://{host}/realms/{realm}` (pass it whole), keys by
    /// discovery; `aud` = `client_id` (add an audience mapper in Keycloak);
    /// scopes from `scope`; roles from `realm_access.roles` and
    /// `resource_access.{client_id}.roles`; `typ` `JWT`.
    pub fn keycloak(realm_url: &str, client_id: &str) -> Issuer {
        let mut issuer = Issuer::new(realm_url.trim_end_matches('/'))
            .audience(client_id)
            .typ(TypPolicy::AccessTokenOrJwt);
        issuer.claims = ClaimMap {
            scopes: vec![Source::new(["scope"], Form::SpaceSeparated)],
            roles: vec![
                Source::new(["realm_access", "roles"], Form::Array),
                Source::new(["resource_access", client_id, "roles"], Form::Array),
            ],
            ..issuer.claims
        };
        issuer
    }

    /// Okta (a custom authorization server such as
    /// `https://{org}.okta.com/oauth2/default`): keys by discovery; scopes from
    /// `scp`, an array; the calling app from `cid`; `typ` `JWT` or absent.
    /// Okta puts no roles in access tokens by default: map a groups claim with
    /// [`roles_claim`](Issuer::roles_claim).
    pub fn okta(issuer: &str, audience: &str) -> Issuer {
        let mut issuer = Issuer::new(issuer.trim_end_matches('/'))
            .audience(audience)
            .typ(TypPolicy::AccessTokenOrJwt)
            .client_id_claims(["cid", "client_id"]);
        issuer.claims.scopes = vec![Source::new(["scp"], Form::Array)];
        issuer.claims.roles = Vec::new();
        issuer
    }

    /// Any issuer of RFC 9068 access tokens: `typ` must be `at+jwt` (absent
    /// is refused); every claim RFC 9068 §2.2 says a conformant token MUST
    /// carry is required (`iss`, `exp`, `aud`, `sub`, `client_id`, `iat`,
    /// `jti`: 401 `missing_claim` without one); scopes from `scope` (a
    /// space-separated string, §2.2.3); roles from `roles` (§7.2.1.1); the
    /// calling app from `client_id`.
    pub fn rfc9068(issuer: &str, audience: &str) -> Issuer {
        let mut issuer = Issuer::new(issuer)
            .audience(audience)
            .typ(TypPolicy::AccessToken)
            .client_id_claims(["client_id"]);
        issuer.required_claims = RFC9068_REQUIRED;
        issuer.claims.scopes = vec![Source::new(["scope"], Form::SpaceSeparated)];
        issuer
    }
}

fn entra(issuer: String, keys: KeysAt, client_id: &str) -> Issuer {
    let mut issuer = Issuer::new(issuer)
        .check_input("client id", client_id, is_segment)
        .audience(client_id)
        .audience(format!("api://{client_id}"))
        .typ(TypPolicy::Jwt)
        .require_permissions(true)
        .client_id_claims(["azp", "appid"]);
    issuer.claims.scopes = vec![Source::new(["scp"], Form::SpaceSeparated)];
    issuer.keys = Some(keys);
    issuer.authority = Some(MICROSOFT_AUTHORITY.to_owned());
    issuer
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Inputs that would change the URL a preset builds (another host, path,
    /// query or fragment) are kept aside for `build` to refuse, never used.
    #[test]
    fn preset_inputs_that_would_change_the_url_are_reported() {
        let bad = |issuer: Issuer| issuer.invalid_input.map(|(what, _)| what);
        assert_eq!(bad(Issuer::entra_id("tid", "cid")), None);
        assert_eq!(
            bad(Issuer::entra_id("evil.example/x", "cid")),
            Some("tenant id")
        );
        assert_eq!(bad(Issuer::entra_id("t#", "cid")), Some("tenant id"));
        assert_eq!(bad(Issuer::entra_id_v1("t?x=1", "cid")), Some("tenant id"));
        assert_eq!(bad(Issuer::entra_id("", "cid")), Some("tenant id"));
        assert_eq!(bad(Issuer::entra_id("tid", "c/../d")), Some("client id"));
        assert_eq!(
            bad(Issuer::entra_id_multi_tenant("c id")),
            Some("client id")
        );
        let b2c =
            |tenant: &str, policy: &str| bad(Issuer::azure_ad_b2c(tenant, "tid", "cid", [policy]));
        assert_eq!(b2c("contoso", "B2C_1_susi"), None);
        assert_eq!(
            b2c("evil.example@contoso", "B2C_1_susi"),
            Some("B2C tenant name")
        );
        assert_eq!(b2c("contoso/x", "B2C_1_susi"), Some("B2C tenant name"));
        assert_eq!(b2c("contoso", "B2C_1_susi/../../x"), Some("policy name"));
        assert_eq!(b2c("contoso", "p%2F"), Some("policy name"));
        assert_eq!(bad(Issuer::auth0("example.eu.auth0.com", "a")), None);
        assert_eq!(
            bad(Issuer::auth0("https://example.eu.auth0.com/", "a")),
            None
        );
        assert_eq!(bad(Issuer::auth0("http://127.0.0.1:8080", "a")), None);
        assert_eq!(
            bad(Issuer::auth0("evil.example#.auth0.com", "a")),
            Some("Auth0 domain")
        );
        assert_eq!(
            bad(Issuer::auth0("user@evil.example", "a")),
            Some("Auth0 domain")
        );
        assert_eq!(
            bad(Issuer::auth0("example.com/path", "a")),
            Some("Auth0 domain")
        );
    }

    #[test]
    fn the_rfc9068_preset_requires_every_claim_rfc9068_makes_a_must() {
        let issuer = Issuer::rfc9068("https://idp.example", "api");
        assert_eq!(issuer.required_claims, ["sub", "client_id", "iat", "jti"]);
        assert_eq!(issuer.typ, TypPolicy::AccessToken);
        assert!(!issuer.typ.accepts(None), "typ absent is refused");
    }

    #[test]
    fn presets_derive_the_documented_urls() {
        let v2 = Issuer::entra_id("tid", "cid");
        assert_eq!(v2.issuer(), "https://login.microsoftonline.com/tid/v2.0");
        assert_eq!(v2.audiences, ["cid", "api://cid"]);
        let v1 = Issuer::entra_id_v1("tid", "cid");
        assert_eq!(v1.issuer(), "https://sts.windows.net/tid/");
        assert_eq!(
            v1.keys,
            Some(KeysAt::Discovery(
                "https://login.microsoftonline.com/tid/.well-known/openid-configuration".into()
            ))
        );
        let multi = Issuer::entra_id_multi_tenant("cid");
        assert_eq!(
            multi.issuer(),
            "https://login.microsoftonline.com/{tenantid}/v2.0"
        );
        assert!(multi.is_template());
        let b2c = Issuer::azure_ad_b2c("contoso", "tid", "cid", ["B2C_1_susi"]);
        assert_eq!(b2c.issuer(), "https://contoso.b2clogin.com/tid/v2.0/");
        assert_eq!(
            b2c.policies,
            [(
                "B2C_1_susi".to_owned(),
                KeysAt::Discovery(
                    "https://contoso.b2clogin.com/contoso.onmicrosoft.com/B2C_1_susi/v2.0/.well-known/openid-configuration"
                        .into()
                )
            )]
        );
        assert_eq!(
            Issuer::auth0("example.auth0.com", "a").issuer(),
            "https://example.auth0.com/"
        );
        assert_eq!(
            Issuer::keycloak("https://kc.example/realms/r/", "api").issuer(),
            "https://kc.example/realms/r"
        );
    }
}
