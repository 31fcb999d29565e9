//! The builder: every setting, its default, and the checks that make the unsafe
//! choice impossible to make by accident.

use std::time::Duration;

use jsonwebtoken::Algorithm;
use reqwest::Url;

use crate::claims::ClaimRules;
use crate::error::ConfigError;
use crate::issuer::{Issuer, IssuerName, KeysAt};
use crate::jws::DEFAULT_ALGORITHMS;
use crate::keys::cache::{KeyCache, KeyCacheConfig, KeySource};
use crate::keys::fetch::{Fetcher, discovery_url, url_is_acceptable};
use crate::layer::BearerAuthLayer;
use crate::token_cache::TokenCache;
use crate::validator::{IssuerKeys, TrustedIssuer, Validator};

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

fn media_type_eq(value: &str, short: &str) -> bool {
    let bare = match value.get(..12) {
        Some(prefix) if prefix.eq_ignore_ascii_case("application/") => {
            value.get(12..).unwrap_or_default()
        }
        _ => value,
    };
    bare.eq_ignore_ascii_case(short)
}

/// Configures a [`BearerAuthLayer`]. Start with [`BearerAuthLayer::builder`].
///
/// One issuer: [`issuer`](Builder::issuer) and [`audience`](Builder::audience)
/// (with [`jwks_uri`](Builder::jwks_uri), [`typ`](Builder::typ) and
/// [`algorithms`](Builder::algorithms) for it). Several, or a provider preset:
/// [`trust`](Builder::trust) an [`Issuer`] each. Every other setting applies to
/// all issuers and has a secure default, documented on its setter. Setters
/// never panic: [`build`](Builder::build) reports the first mistake.
#[derive(Debug, Clone)]
#[must_use]
pub struct Builder {
    issuer: Option<String>,
    audiences: Vec<String>,
    jwks_uri: Option<String>,
    algorithms: Vec<Algorithm>,
    leeway: Duration,
    typ: TypPolicy,
    max_token_bytes: usize,
    refresh_cooldown: Duration,
    key_set_max_age: Duration,
    connect_timeout: Duration,
    timeout: Duration,
    max_jwks_bytes: usize,
    max_keys: usize,
    allow_insecure_http: bool,
    token_cache_bytes: u64,
    token_cache_max_age: Duration,
    trusted: Vec<Issuer>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            issuer: None,
            audiences: Vec::new(),
            jwks_uri: None,
            algorithms: DEFAULT_ALGORITHMS.to_vec(),
            leeway: Duration::from_secs(60),
            typ: TypPolicy::default(),
            max_token_bytes: 16 * 1024,
            refresh_cooldown: Duration::from_secs(30),
            key_set_max_age: Duration::from_secs(300),
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
            max_jwks_bytes: 256 * 1024,
            max_keys: 64,
            allow_insecure_http: false,
            token_cache_bytes: 16 * 1024 * 1024,
            token_cache_max_age: Duration::from_secs(300),
            trusted: Vec::new(),
        }
    }
}

impl Builder {
    /// The issuer: `iss` must equal it exactly, and unless
    /// [`jwks_uri`](Builder::jwks_uri) is set, keys are found through
    /// `{issuer}/.well-known/openid-configuration`, whose `issuer` must equal it
    /// too. Required.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Adds an accepted audience: a token passes when any of its `aud` values is
    /// one of these. At least one is required.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Fetches keys for the issuer set with [`issuer`](Builder::issuer) from
    /// this URL instead of discovering it. Default: discovery.
    pub fn jwks_uri(mut self, uri: impl Into<String>) -> Self {
        self.jwks_uri = Some(uri.into());
        self
    }

    /// The accepted algorithms, for the issuer set with
    /// [`issuer`](Builder::issuer). Default: RS256/384/512, PS256/384/512, ES256/384
    /// and EdDSA. Symmetric (HS*) algorithms are refused by `build`: a key
    /// published in a JWKS is public. Each key still verifies only the one
    /// algorithm it is bound to.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// Clock-skew allowance for `exp` and `nbf`. Default: 60 seconds.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Which `typ` header values pass, for the issuer set with
    /// [`issuer`](Builder::issuer). Default: [`TypPolicy::AccessToken`]
    /// (RFC 9068 `at+jwt`).
    pub fn typ(mut self, policy: TypPolicy) -> Self {
        self.typ = policy;
        self
    }

    /// The longest token accepted, in bytes, checked before any decoding.
    /// Default: 16 KiB.
    pub fn max_token_bytes(mut self, bytes: usize) -> Self {
        self.max_token_bytes = bytes;
        self
    }

    /// The least time between two key-set fetches triggered by unknown `kid`s.
    /// Default: 30 seconds.
    pub fn refresh_cooldown(mut self, cooldown: Duration) -> Self {
        self.refresh_cooldown = cooldown;
        self
    }

    /// How old the key set may grow before a request that finds its key starts
    /// a refresh in the background, so that keys the issuer withdrew stop
    /// verifying without a restart. The keys held keep serving while it runs,
    /// and stay if it fails. Default: 5 minutes.
    pub fn key_set_max_age(mut self, age: Duration) -> Self {
        self.key_set_max_age = age;
        self
    }

    /// Connect timeout for discovery and key-set fetches. Default: 5 seconds.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Total timeout for one discovery or key-set fetch. Default: 10 seconds.
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The largest discovery or key-set document read. Default: 256 KiB.
    pub fn max_jwks_bytes(mut self, bytes: usize) -> Self {
        self.max_jwks_bytes = bytes;
        self
    }

    /// The most keys kept from one key set. Default: 64.
    pub fn max_keys(mut self, keys: usize) -> Self {
        self.max_keys = keys;
        self
    }

    /// Allows plain `http://` issuer and key-set URLs on hosts that are not
    /// loopback. Loopback (`127.0.0.0/8`, `::1`, `localhost`) is always allowed.
    ///
    /// **Dangerous**: anyone on the network path can then substitute keys and
    /// mint tokens your API accepts. Default: off.
    pub fn dangerously_allow_insecure_http(mut self) -> Self {
        self.allow_insecure_http = true;
        self
    }

    /// The memory for the verified-token cache, in bytes. A token seen before
    /// then costs a hash and a lookup instead of a signature check; `exp`,
    /// `nbf` and the route's requirements are still checked on every request,
    /// and a token is dropped from the cache once the key that verified it
    /// leaves the issuer's key set. An entry is weighed as its claims text plus
    /// 1 KiB (`BENCHMARKS.md` has the measured cost per entry). `0` turns the cache off. Default: 16 MiB.
    pub fn token_cache_bytes(mut self, bytes: u64) -> Self {
        self.token_cache_bytes = bytes;
        self
    }

    /// The longest a verified token stays cached; never past its `exp`.
    /// [`Duration::ZERO`] turns the cache off. Default: 5 minutes.
    pub fn token_cache_max_age(mut self, age: Duration) -> Self {
        self.token_cache_max_age = age;
        self
    }

    /// Trusts one more issuer, with its own audiences, token type, claim
    /// mapping, key cache and cooldown (see [`Issuer`] and its provider
    /// presets). A token's unverified `iss` (and `tid`) chooses the issuer
    /// before any key lookup; issuers are tried in the order they were added,
    /// the one set with [`issuer`](Builder::issuer) first.
    pub fn trust(mut self, issuer: Issuer) -> Self {
        self.trusted.push(issuer);
        self
    }

    /// Checks the configuration and builds the layer. No network traffic happens
    /// here; keys are fetched on first use, or by
    /// [`Validator::warm_up`](crate::Validator::warm_up).
    pub fn build(self) -> Result<BearerAuthLayer, ConfigError> {
        Ok(BearerAuthLayer::new(self.build_validator()?))
    }

    /// Checks the configuration and builds a [`Validator`] alone, for use
    /// outside a tower stack.
    pub fn build_validator(self) -> Result<Validator, ConfigError> {
        let mut issuers = Vec::new();
        match self.issuer {
            Some(name) => {
                let mut primary = Issuer::new(name)
                    .typ(self.typ)
                    .algorithms(self.algorithms.iter().copied());
                primary.audiences = self.audiences;
                if let Some(uri) = self.jwks_uri {
                    primary = primary.jwks_uri(uri);
                }
                issuers.push(primary);
            }
            None if !self.audiences.is_empty() || self.jwks_uri.is_some() => {
                return Err(ConfigError::MissingIssuer);
            }
            None => {}
        }
        issuers.extend(self.trusted);
        if issuers.is_empty() {
            return Err(ConfigError::MissingIssuer);
        }
        // The first issuer whose name matches a token is the only one tried, so
        // a second one with the same name could never be used.
        for (i, issuer) in issuers.iter().enumerate() {
            if issuers
                .iter()
                .skip(i + 1)
                .any(|other| other.issuer == issuer.issuer)
            {
                return Err(ConfigError::DuplicateIssuer(issuer.issuer.clone()));
            }
        }
        for (what, value) in [
            ("max_token_bytes", self.max_token_bytes),
            ("max_jwks_bytes", self.max_jwks_bytes),
            ("max_keys", self.max_keys),
        ] {
            if value == 0 {
                return Err(ConfigError::ZeroLimit(what));
            }
        }
        let fetcher = Fetcher::new(
            self.connect_timeout,
            self.timeout,
            self.max_jwks_bytes,
            self.allow_insecure_http,
        )
        .map_err(ConfigError::HttpClient)?;
        let settings = CacheSettings {
            fetcher,
            max_keys: self.max_keys,
            refresh_cooldown: self.refresh_cooldown,
            max_age: self.key_set_max_age,
            allow_insecure_http: self.allow_insecure_http,
            leeway_secs: i64::try_from(self.leeway.as_secs()).unwrap_or(i64::MAX),
        };
        let trusted = issuers
            .into_iter()
            .map(|issuer| compile(issuer, &settings))
            .collect::<Result<Vec<_>, _>>()?;
        let tokens = TokenCache::new(self.token_cache_bytes, self.token_cache_max_age);
        Ok(Validator::new(trusted, self.max_token_bytes, tokens))
    }
}

/// What every issuer's key caches and rules share.
struct CacheSettings {
    fetcher: Fetcher,
    max_keys: usize,
    refresh_cooldown: Duration,
    max_age: Duration,
    allow_insecure_http: bool,
    leeway_secs: i64,
}

/// Checks one issuer and builds its key caches and rules.
fn compile(issuer: Issuer, settings: &CacheSettings) -> Result<TrustedIssuer, ConfigError> {
    let name = issuer.issuer.clone();
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
    if let Some(alg) = issuer
        .algorithms
        .iter()
        .find(|a| !DEFAULT_ALGORITHMS.contains(a))
    {
        return Err(ConfigError::SymmetricAlgorithm(*alg));
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
            },
            settings.fetcher.clone(),
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
    Ok(TrustedIssuer {
        name: IssuerName::new(&name),
        rules: ClaimRules {
            audiences: issuer.audiences,
            leeway_secs: settings.leeway_secs,
            map: issuer.claims,
            require_permissions: issuer.require_permissions,
        },
        typ: issuer.typ,
        algorithms: issuer.algorithms,
        allowed_tenants: issuer.allowed_tenants,
        keys,
    })
}

fn check_url(
    what: &'static str,
    value: &str,
    allow_insecure_http: bool,
) -> Result<Url, ConfigError> {
    let url = Url::parse(value).map_err(|_| ConfigError::InvalidUrl {
        what,
        url: value.to_owned(),
    })?;
    if url.host().is_none() || !matches!(url.scheme(), "http" | "https") {
        return Err(ConfigError::InvalidUrl {
            what,
            url: value.to_owned(),
        });
    }
    if !url_is_acceptable(&url, allow_insecure_http) {
        return Err(ConfigError::InsecureUrl {
            what,
            url: value.to_owned(),
        });
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(b: Builder) -> String {
        match b.build_validator() {
            Ok(_) => "ok".into(),
            Err(e) => format!("{e:?}"),
        }
    }

    fn base() -> Builder {
        Builder::default()
            .issuer("https://issuer.example")
            .audience("api://x")
    }

    #[test]
    fn builder_refuses_each_unsafe_or_incomplete_configuration() {
        assert_eq!(err(Builder::default().audience("a")), "MissingIssuer");
        assert_eq!(
            err(Builder::default().issuer("https://i.example")),
            "MissingAudience"
        );
        assert_eq!(err(base().audience("")), "Empty(\"audience\")");
        assert!(
            err(Builder::default().issuer("http://i.example").audience("a"))
                .starts_with("InsecureUrl")
        );
        assert!(
            err(Builder::default().issuer("not a url").audience("a")).starts_with("InvalidUrl")
        );
        assert!(err(base().jwks_uri("http://keys.example/jwks")).starts_with("InsecureUrl"));
        assert_eq!(err(base().algorithms([])), "NoAlgorithms");
        assert_eq!(
            err(base().algorithms([Algorithm::RS256, Algorithm::HS256])),
            "SymmetricAlgorithm(HS256)"
        );
        assert_eq!(
            err(base().max_token_bytes(0)),
            "ZeroLimit(\"max_token_bytes\")"
        );
        assert_eq!(err(base()), "ok");
        assert_eq!(
            err(base().trust(Issuer::new("https://issuer.example").audience("api://y"))),
            "DuplicateIssuer(\"https://issuer.example\")"
        );
        assert_eq!(
            err(Builder::default()
                .issuer("http://127.0.0.1:9/")
                .audience("a")),
            "ok"
        );
        assert_eq!(
            err(Builder::default()
                .issuer("http://i.example")
                .audience("a")
                .dangerously_allow_insecure_http()),
            "ok"
        );
    }

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
