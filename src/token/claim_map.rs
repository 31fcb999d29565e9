//! Where a provider puts scopes, roles, the calling app and the policy in its
//! tokens, and reading them from a claims set.
//!
//! Paths are lists of object keys, not dotted strings, because claim names may
//! contain dots themselves (Auth0's namespaced claims are URLs).

use serde_json::value::RawValue;

use super::json::{self, Kind, Object};
use super::permissions::Permissions;
use crate::error::Error;

/// The JSON forms a permission claim may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    /// A space-separated string (RFC 6749 §3.3 `scope`).
    SpaceSeparated,
    /// An array of strings (Entra `roles`, Auth0 `permissions`, Keycloak roles).
    Array,
    /// Either of the above (`scp`: a string at Microsoft, an array at Okta).
    Either,
}

/// One claim that carries permissions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Source {
    pub path: Vec<String>,
    pub form: Form,
}

impl Source {
    pub(crate) fn new<'a>(path: impl IntoIterator<Item = &'a str>, form: Form) -> Self {
        Source {
            path: path.into_iter().map(str::to_owned).collect(),
            form,
        }
    }

    fn name(&self) -> String {
        self.path.join(".")
    }
}

/// Where scopes, roles, the calling app and the sign-in policy live.
///
/// The default reads scopes from `scp` (string or array) and `scope` (string),
/// roles from `roles` (array), the calling app from `azp`, `appid` or
/// `client_id` (the first present), and no policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimMap {
    pub(crate) scopes: Vec<Source>,
    pub(crate) roles: Vec<Source>,
    pub(crate) client_id: Vec<String>,
    pub(crate) policy: Vec<String>,
}

impl Default for ClaimMap {
    fn default() -> Self {
        ClaimMap {
            scopes: vec![
                Source::new(["scp"], Form::Either),
                Source::new(["scope"], Form::SpaceSeparated),
            ],
            roles: vec![Source::new(["roles"], Form::Array)],
            client_id: vec!["azp".into(), "appid".into(), "client_id".into()],
            policy: Vec::new(),
        }
    }
}

/// What a claims set grants, read through a [`ClaimMap`].
#[derive(Debug, Default)]
pub(crate) struct Grants {
    pub scopes: Permissions,
    pub roles: Permissions,
    pub client_id: Option<String>,
    pub policy: Option<String>,
}

impl ClaimMap {
    /// The top-level claims this map reads (the first step of each path).
    pub(crate) fn top_level_names(&self) -> impl Iterator<Item = &str> {
        let paths = self.scopes.iter().chain(&self.roles);
        paths
            .filter_map(|source| source.path.first())
            .chain(&self.client_id)
            .chain(&self.policy)
            .map(String::as_str)
    }

    /// Reads the grants from `claims`. A configured claim of the wrong JSON type
    /// is an error (type confusion), never silently ignored.
    pub(crate) fn read(&self, claims: &Object<'_>) -> Result<Grants, Error> {
        Ok(Grants {
            scopes: collect(&self.scopes, claims)?,
            roles: collect(&self.roles, claims)?,
            client_id: first_string(&self.client_id, claims)?,
            policy: first_string(&self.policy, claims)?,
        })
    }
}

fn collect(sources: &[Source], claims: &Object<'_>) -> Result<Permissions, Error> {
    let mut names: Vec<String> = Vec::new();
    for source in sources {
        let invalid = || Error::InvalidPermissionClaim(source.name());
        let Some(raw) = lookup(claims, &source.path) else {
            continue;
        };
        match (json::kind(raw), source.form) {
            (Kind::String, Form::SpaceSeparated | Form::Either) => {
                let text = json::string(raw).ok_or_else(invalid)?;
                names.extend(text.split(' ').map(str::to_owned));
            }
            (Kind::Array, Form::Array | Form::Either) => {
                let items = json::strings(raw).ok_or_else(invalid)?;
                names.extend(items.into_iter().map(std::borrow::Cow::into_owned));
            }
            _ => return Err(invalid()),
        }
    }
    Ok(Permissions::collect(names))
}

fn first_string(names: &[String], claims: &Object<'_>) -> Result<Option<String>, Error> {
    for name in names {
        if let Some(raw) = claims.get(name) {
            return json::string(raw)
                .map(|s| Some(s.into_owned()))
                .ok_or_else(|| Error::InvalidPermissionClaim(name.clone()));
        }
    }
    Ok(None)
}

/// The value at `path`, descending through nested objects. A step through
/// anything but an object with unique names finds nothing (so grants nothing).
pub(crate) fn lookup<'a>(claims: &Object<'a>, path: &[String]) -> Option<&'a RawValue> {
    let (first, rest) = path.split_first()?;
    let mut value = claims.get(first)?;
    for key in rest {
        value = Object::parse(value.get()).ok()?.get(key)?;
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// Reads `claims` with `m`.
    fn read(m: &ClaimMap, claims: &Value) -> Result<Grants, Error> {
        let text = claims.to_string();
        m.read(&Object::parse(&text).expect("an object"))
    }

    #[test]
    fn reads_nested_paths_and_each_form() {
        let mut m = ClaimMap::default();
        m.roles
            .push(Source::new(["realm_access", "roles"], Form::Array));
        m.scopes.push(Source::new(["permissions"], Form::Array));
        let g = read(
            &m,
            &json!({
                "scp": ["a", "b"], "scope": "c a", "roles": ["R"],
                "realm_access": {"roles": ["admin"]}, "permissions": ["read:notes"],
                "appid": "app-1"
            }),
        )
        .expect("valid");
        assert_eq!(
            g.scopes.iter().collect::<Vec<_>>(),
            ["a", "b", "c", "read:notes"]
        );
        assert_eq!(g.roles.iter().collect::<Vec<_>>(), ["R", "admin"]);
        assert_eq!(g.client_id.as_deref(), Some("app-1"));
    }

    #[test]
    fn wrong_types_are_refused_not_ignored() {
        let m = ClaimMap::default();
        for bad in [
            json!({"roles": "Admin"}),
            json!({"roles": [1]}),
            json!({"scope": ["a"]}),
            json!({"scp": {"a": 1}}),
            json!({"azp": 7}),
        ] {
            assert!(
                matches!(read(&m, &bad), Err(Error::InvalidPermissionClaim(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_path_through_a_non_object_finds_nothing() {
        let text = json!({"realm_access": ["roles"], "dup": {"a": [], "a": []}}).to_string();
        let text = text.replace(r#"{"a":[]}"#, r#"{"a":[],"a":["x"]}"#);
        let claims = Object::parse(&text).expect("an object");
        let path = |p: &[&str]| p.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(lookup(&claims, &path(&["realm_access", "roles"])).is_none());
        assert!(
            lookup(&claims, &path(&["dup", "a"])).is_none(),
            "duplicate names"
        );
        assert!(lookup(&claims, &path(&["dup"])).is_some());
        assert!(lookup(&claims, &[]).is_none());
    }
}
