//! [`IssuerName`]: matching a token's unverified `iss` (and `tid`) to a
//! configured issuer, exactly, before any key lookup.

use super::TENANT_PLACEHOLDER;

/// How a token's unverified `iss` (and `tid`) is matched to a configured issuer.
#[derive(Debug, Clone)]
pub(crate) enum IssuerName {
    Exact(String),
    Tenant { prefix: String, suffix: String },
}

impl IssuerName {
    pub(crate) fn new(issuer: &str) -> Self {
        match issuer.split_once(TENANT_PLACEHOLDER) {
            Some((prefix, suffix)) => IssuerName::Tenant {
                prefix: prefix.to_owned(),
                suffix: suffix.to_owned(),
            },
            None => IssuerName::Exact(issuer.to_owned()),
        }
    }

    /// The issuer's identifier, unless it is a template.
    pub(crate) fn exact(&self) -> Option<&str> {
        match self {
            IssuerName::Exact(name) => Some(name),
            IssuerName::Tenant { .. } => None,
        }
    }

    /// Whether `iss` names this issuer: exactly, or for a template, exactly the
    /// template with the placeholder replaced by this token's `tid`.
    pub(crate) fn matches(&self, iss: &str, tid: Option<&str>) -> bool {
        match self {
            IssuerName::Exact(name) => iss == name,
            IssuerName::Tenant { prefix, suffix } => tenant_matches(prefix, suffix, iss, tid),
        }
    }
}

/// Whether `iss` is named by `issuer`, an exact issuer or a `{tenantid}`
/// template, as [`IssuerName::matches`] decides, without building one: for
/// the `issuer` a key set publishes on each key (Microsoft's multi-tenant
/// key set does).
pub(crate) fn names(issuer: &str, iss: &str, tid: Option<&str>) -> bool {
    match issuer.split_once(TENANT_PLACEHOLDER) {
        Some((prefix, suffix)) => tenant_matches(prefix, suffix, iss, tid),
        None => iss == issuer,
    }
}

fn tenant_matches(prefix: &str, suffix: &str, iss: &str, tid: Option<&str>) -> bool {
    tid.is_some_and(|tid| {
        is_tenant_id(tid)
            && iss
                .strip_prefix(prefix)
                .and_then(|rest| rest.strip_suffix(suffix))
                == Some(tid)
    })
}

/// A tenant id as it may stand in a URL path segment: a GUID or a domain name.
fn is_tenant_id(tid: &str) -> bool {
    !tid.is_empty()
        && tid.len() <= 64
        && tid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    #[test]
    fn template_matches_only_the_tokens_own_tenant_exactly() {
        let name = IssuerName::new("https://login.microsoftonline.com/{tenantid}/v2.0");
        let iss = format!("https://login.microsoftonline.com/{TID}/v2.0");
        assert!(name.matches(&iss, Some(TID)));
        // Another tenant's tid, a missing tid, or an iss that only shares a prefix.
        assert!(!name.matches(&iss, Some("00000000-0000-0000-0000-000000000000")));
        assert!(!name.matches(&iss, None));
        assert!(!name.matches(&format!("{iss}/"), Some(TID)));
        assert!(!name.matches(&format!("{iss}.evil.example"), Some(TID)));
        assert!(!name.matches(
            &format!("https://login.microsoftonline.com/{TID}/v2.0"),
            Some(&format!("{TID}/v2.0"))
        ));
        assert!(!name.matches(
            "https://login.microsoftonline.com/evil.example/x/v2.0",
            Some("evil.example/x")
        ));
        assert!(!name.matches("https://login.microsoftonline.com//v2.0", Some("")));
        assert!(!name.matches(
            "https://login.microsoftonline.com.evil/abc/v2.0",
            Some("abc")
        ));
    }

    #[test]
    fn a_keys_issuer_names_the_tokens_issuer_exactly() {
        let template = "https://login.microsoftonline.com/{tenantid}/v2.0";
        let iss = format!("https://login.microsoftonline.com/{TID}/v2.0");
        assert!(names(template, &iss, Some(TID)));
        assert!(!names(template, &iss, Some("other")));
        assert!(!names(template, &iss, None));
        let other_cloud = "https://login.microsoftonline.us/{tenantid}/v2.0";
        assert!(!names(other_cloud, &iss, Some(TID)));
        assert!(names(&iss, &iss, None), "an exact issuer");
        assert!(!names(&iss, &format!("{iss}/"), None));
    }

    #[test]
    fn exact_names_compare_as_whole_strings() {
        let name = IssuerName::new("https://idp.example.com/");
        assert!(name.matches("https://idp.example.com/", None));
        assert!(!name.matches("https://idp.example.com", None));
        assert!(!name.matches("https://IDP.example.com/", None));
        assert!(!name.matches("https://idp.example.com/x", None));
    }
}
