//! Claims, scopes and roles, and the registered-claim checks
//! (`token::claims`, `token::claim_map`).

use std::borrow::Cow;

use crate::token::claim_map::{ClaimMap, Form, Source};
use crate::token::claims::{ClaimRules, Unverified, payload_text};
use crate::token::json::Object;

/// Any bytes as a claims set, checked with a claim map that reads
/// nested roles too. Whatever passes satisfies every rule it was checked
/// against, and its scope set round-trips through the `scope` string form.
/// # Panics
/// When an invariant breaks: that is the finding.
#[allow(clippy::panic)]
pub fn claims(data: &[u8]) {
    const NOW: i64 = 1_700_000_000;
    let mut map = ClaimMap::default();
    map.roles
        .push(Source::new(["realm_access", "roles"], Form::Array));
    let rules = ClaimRules {
        audiences: vec!["api://a".into()],
        leeway_secs: 60,
        map,
        require_permissions: true,
        required: &[],
    };
    let Ok(text) = payload_text(data.to_vec()) else {
        return;
    };
    let Ok(unverified) = Unverified::parse(&text, None) else {
        return;
    };
    let iss = unverified.issuer().map(Cow::into_owned);
    let Ok(checked) = unverified.validate(&rules, NOW) else {
        return;
    };
    let token = checked.with_payload(text.clone(), std::sync::Arc::default());
    let registered = token.registered();
    assert_eq!(
        Ok(&registered.iss),
        iss.as_ref(),
        "iss changed between the checks"
    );
    assert!(
        registered.aud.iter().any(|a| rules.audiences.contains(a)),
        "foreign audience accepted"
    );
    assert!(
        registered.exp.saturating_add(rules.leeway_secs) > NOW,
        "expired token accepted"
    );
    assert!(
        registered
            .nbf
            .is_none_or(|nbf| nbf <= NOW + rules.leeway_secs),
        "future token accepted"
    );
    assert!(
        !token.scopes().is_empty() || !token.roles().is_empty(),
        "token granting nothing accepted"
    );
    for name in token.scopes().iter().chain(token.roles().iter()) {
        assert!(!name.is_empty(), "empty permission name");
    }
    // Round trip: the scopes, written as one `scope` string, read back the same.
    let joined: Vec<&str> = token.scopes().iter().collect();
    if joined.iter().all(|s| !s.contains(' ')) {
        let again = serde_json::json!({ "scope": joined.join(" ") }).to_string();
        let again = Object::parse(&again).unwrap_or_else(|e| panic!("{e:?}"));
        let reread = ClaimMap::default().read(&again).map(|g| g.scopes);
        assert_eq!(
            reread.as_ref(),
            Ok(token.scopes()),
            "scope set does not round-trip"
        );
    }
    let value: serde_json::Value =
        serde_json::from_str(token.claims_json()).unwrap_or(serde_json::Value::Null);
    assert!(value.is_object(), "claims JSON is not an object");
}
