//! [`TypPolicy`]: which JOSE `typ` header values an issuer's tokens may carry.

use crate::token::jws::media_type_eq;

/// Which JOSE `typ` header values are accepted (RFC 8725 §3.11: explicit typing
/// keeps one kind of JWT from passing as another).
///
/// Values compare case-insensitively, with or without the `application/`
/// prefix (RFC 7515 §4.1.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TypPolicy {
    /// RFC 9068 §2.1: `typ` must be `at+jwt`. An ID token (`JWT`) never passes.
    /// The default.
    #[default]
    AccessToken,
    /// `typ` is `JWT` or absent: for issuers that do not use RFC 9068 typing
    /// (Microsoft Entra ID, Azure AD B2C, Auth0 by default).
    Jwt,
    /// Either of the above: `at+jwt`, `JWT` or absent.
    AccessTokenOrJwt,
}

impl TypPolicy {
    /// Whether a token with this `typ` header passes.
    pub fn accepts(self, typ: Option<&str>) -> bool {
        let is = |name: &str| typ.is_some_and(|t| media_type_eq(t, name));
        match self {
            TypPolicy::AccessToken => is("at+jwt"),
            TypPolicy::Jwt => typ.is_none() || is("jwt"),
            TypPolicy::AccessTokenOrJwt => typ.is_none() || is("jwt") || is("at+jwt"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typ_policies() {
        use TypPolicy::*;
        let cases: [(TypPolicy, Option<&str>, bool); 12] = [
            (AccessToken, Some("at+jwt"), true),
            (AccessToken, Some("application/AT+JWT"), true),
            (AccessToken, Some("JWT"), false),
            (AccessToken, None, false),
            (AccessToken, Some("at+jwt2"), false),
            (Jwt, Some("JWT"), true),
            (Jwt, None, true),
            (Jwt, Some("at+jwt"), false),
            (Jwt, Some("id_token+jwt"), false),
            (AccessTokenOrJwt, Some("at+jwt"), true),
            (AccessTokenOrJwt, Some("application/jwt"), true),
            (AccessTokenOrJwt, Some("logout+jwt"), false),
        ];
        for (policy, typ, want) in cases {
            assert_eq!(policy.accepts(typ), want, "{policy:?} {typ:?}");
        }
    }
}
