//! An [`Issuer`] compiled once, at `build()`: its name matcher, its key
//! caches (one, or one per sign-in policy) and its claim rules. This is what
//! the validator consults on every request.

use std::sync::Arc;
use std::time::Duration;

use super::name::IssuerName;
use super::typ::TypPolicy;
use super::{Issuer, KeysAt};
use crate::clock::Time;
use crate::error::{ConfigError, Error};
use crate::introspection::Introspector;
use crate::keys::cache::{KeyCache, KeyCacheConfig, KeySource};
use crate::keys::fetch::{Fetcher, check_url, discovery_url};
use crate::token::algorithm::Algorithm;
use crate::token::claims::{ClaimRules, Unverified};

/// One trusted issuer, compiled from an [`Issuer`] at build time.
#[derive(Debug)]
pub(crate) struct TrustedIssuer {
    pub name: IssuerName,
    pub rules: ClaimRules,
    pub typ: TypPolicy,
    pub algorithms: Vec<Algorithm>,
    pub allowed_tenants: Option<Vec<String>>,
    pub keys: IssuerKeys,
    /// Token introspection (RFC 7662), if configured.
    pub introspection: Option<Arc<Introspector>>,
}

/// An issuer's key caches: one, or one per sign-in policy.
#[derive(Debug)]
pub(crate) enum IssuerKeys {
    Single(Arc<KeyCache>),
    PerPolicy(Vec<(String, Arc<KeyCache>)>),
}

impl IssuerKeys {
    pub(crate) fn caches(&self) -> Vec<&Arc<KeyCache>> {
        match self {
            IssuerKeys::Single(cache) => vec![cache],
            IssuerKeys::PerPolicy(list) => list.iter().map(|(_, c)| c).collect(),
        }
    }
}

impl TrustedIssuer {
    pub(crate) fn tenant_allowed(&self, tid: Option<&str>) -> bool {
        match &self.allowed_tenants {
            None => true,
            Some(allowed) => {
                tid.is_some_and(|tid| allowed.iter().any(|a| a.eq_ignore_ascii_case(tid)))
            }
        }
    }

    /// The key cache for this token: the issuer's, or its policy's.
    pub(crate) fn key_cache(&self, claims: &Unverified) -> Result<&Arc<KeyCache>, Error> {
        match &self.keys {
            IssuerKeys::Single(cache) => Ok(cache),
            IssuerKeys::PerPolicy(list) => {
                let policy = claims
                    .first_string(&self.rules.map.policy)
                    .ok_or(Error::PolicyNotAccepted)?;
                list.iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case(&policy))
                    .map(|(_, cache)| cache)
                    .ok_or(Error::PolicyNotAccepted)
            }
        }
    }
}

/// What every issuer's key caches and rules share.
pub(crate) struct CacheSettings {
    pub fetcher: Fetcher,
    pub max_keys: usize,
    pub refresh_cooldown: Duration,
    pub max_age: Duration,
    pub max_staleness: Duration,
    pub allow_insecure_http: bool,
    pub leeway_secs: i64,
    pub time: Time,
}

/// Checks one issuer and builds its key caches and rules.
pub(crate) fn compile(
    issuer: Issuer,
    settings: &CacheSettings,
) -> Result<TrustedIssuer, ConfigError> {
    let name = issuer.issuer.clone();
    if let Some((what, value)) = issuer.invalid_input {
        return Err(ConfigError::InvalidPresetInput { what, value });
    }
    if name.is_empty() {
        return Err(ConfigError::Empty("issuer"));
    }
    if issuer.audiences.is_empty() {
        return Err(ConfigError::MissingAudience);
    }
    if issuer.audiences.iter().any(String::is_empty) {
        return Err(ConfigError::Empty("audience"));
    }
    if issuer.algorithms.is_empty() {
        return Err(ConfigError::NoAlgorithms);
    }
    if issuer.allowed_tenants.as_ref().is_some_and(Vec::is_empty) {
        return Err(ConfigError::Empty("allowed tenants"));
    }
    let source = |keys: Option<&KeysAt>| -> Result<KeySource, ConfigError> {
        let insecure = settings.allow_insecure_http;
        Ok(match keys {
            Some(KeysAt::Jwks(url)) => KeySource::Jwks(check_url("jwks_uri", url, insecure)?),
            Some(KeysAt::Discovery(url)) => KeySource::Discovery {
                url: check_url("discovery URL", url, insecure)?,
                issuer: name.clone(),
            },
            None if issuer.is_template() => {
                return Err(ConfigError::TemplateNeedsKeys(name.clone()));
            }
            None => {
                check_url("issuer", &name, insecure)?;
                let url = discovery_url(&name).ok_or_else(|| ConfigError::InvalidUrl {
                    what: "issuer",
                    url: name.clone(),
                })?;
                KeySource::Discovery {
                    url,
                    issuer: name.clone(),
                }
            }
        })
    };
    let cache = |source: KeySource| {
        KeyCache::new(
            KeyCacheConfig {
                source,
                algorithms: issuer.algorithms.clone(),
                max_keys: settings.max_keys,
                refresh_cooldown: settings.refresh_cooldown,
                max_age: settings.max_age,
                max_staleness: settings.max_staleness,
            },
            settings.fetcher.clone(),
            settings.time.clone(),
        )
    };
    let keys = if issuer.policies.is_empty() {
        IssuerKeys::Single(cache(source(issuer.keys.as_ref())?))
    } else {
        if issuer.claims.policy.is_empty() {
            return Err(ConfigError::Empty("policy claims"));
        }
        let mut caches = Vec::with_capacity(issuer.policies.len());
        for (policy, keys) in &issuer.policies {
            caches.push((policy.clone(), cache(source(Some(keys))?)));
        }
        IssuerKeys::PerPolicy(caches)
    };
    // A template with neither an allow-list nor the explicit opt-in would
    // accept every tenant in the world, an attacker's own included.
    // The opt-in would be ignored without a template, or beside an
    // allow-list (which wins): one way to say it, or an error.
    if issuer.any_tenant && (!issuer.is_template() || issuer.allowed_tenants.is_some()) {
        return Err(ConfigError::AnyTenantIgnored(name.clone()));
    }
    if issuer.is_template() && issuer.allowed_tenants.is_none() && !issuer.any_tenant {
        return Err(ConfigError::TenantsUnrestricted(name.clone()));
    }
    let template = issuer.is_template();
    let rules = ClaimRules {
        audiences: issuer.audiences,
        leeway_secs: settings.leeway_secs,
        map: issuer.claims,
        require_permissions: issuer.require_permissions,
        required: issuer.required_claims,
    };
    let introspection = match issuer.introspection {
        None => None,
        // Which tenant's endpoint would an opaque token go to?
        Some(_) if template => {
            return Err(ConfigError::Introspection(
                "a multi-tenant issuer template cannot introspect: name one tenant's issuer",
            ));
        }
        Some(introspection) => {
            let single = match &keys {
                IssuerKeys::Single(cache) => Some(Arc::clone(cache)),
                IssuerKeys::PerPolicy(_) => None,
            };
            let fetcher = settings
                .fetcher
                .for_calls()
                .map_err(ConfigError::HttpClient)?;
            let mut introspector = introspection.compile(
                &name,
                rules.clone(),
                single,
                fetcher,
                settings.time.clone(),
            )?;
            introspector.accept_algorithms(&issuer.algorithms);
            Some(Arc::new(introspector))
        }
    };
    Ok(TrustedIssuer {
        name: IssuerName::new(&name),
        rules,
        typ: issuer.typ,
        algorithms: issuer.algorithms,
        allowed_tenants: issuer.allowed_tenants,
        keys,
        introspection,
    })
}
