//! The builder: every setting, its default, and the checks that make the unsafe
//! choice impossible to make by accident. It sits above every stage: it
//! compiles the issuers, builds the validator and wraps it in the layer;
//! nothing in the request path imports it.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, Time};
use crate::dpop::Dpop;
use crate::error::ConfigError;
use crate::introspection::Introspection;
use crate::issuer::Issuer;
use crate::issuer::trusted::{CacheSettings, compile};
use crate::issuer::typ::TypPolicy;
use crate::keys::fetch::{ClientChoice, Fetcher};
use crate::mtls::CertificateBinding;
use crate::resource::{MetadataSigner, ResourceSettings};
use crate::token::algorithm::Algorithm;
use crate::tower::layer::BearerAuthLayer;
use crate::tower::require::Requirement;
use crate::validate::token_cache::TokenCache;
use crate::validate::validator::{Binding, Options, Validator};

impl BearerAuthLayer {
    /// Starts configuring a layer.
    pub fn builder() -> Builder {
        Builder::default()
    }
}

/// Configures a [`BearerAuthLayer`]. Start with [`BearerAuthLayer::builder`].
///
/// One issuer: [`issuer`](Builder::issuer) and [`audience`](Builder::audience)
/// (with [`jwks_uri`](Builder::jwks_uri), [`typ`](Builder::typ) and
/// [`algorithms`](Builder::algorithms) for it), a shorthand for
/// `trust(Issuer::new(..).audience(..))`. Several, or a provider preset:
/// [`trust`](Builder::trust) an [`Issuer`] each, and set those four on the
/// `Issuer`: set on the builder without [`issuer`](Builder::issuer), they
/// would apply to nothing, and [`build`](Builder::build) refuses them
/// ([`ConfigError::WithoutIssuer`]). Every other setting applies to all
/// issuers and has a secure default, documented on its setter. Setters never
/// panic: `build` reports the first mistake.
#[derive(Debug, Clone)]
#[must_use]
pub struct Builder {
    // The limits and timeouts the command-line tool reads from
    // `Builder::default()` are `pub(crate)`, so its defaults are these.
    issuer: Option<String>,
    audiences: Vec<String>,
    jwks_uri: Option<String>,
    algorithms: Option<Vec<Algorithm>>,
    pub(crate) leeway: Duration,
    typ: Option<TypPolicy>,
    pub(crate) max_token_bytes: usize,
    refresh_cooldown: Duration,
    key_set_max_age: Duration,
    key_set_max_staleness: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) timeout: Duration,
    pub(crate) max_jwks_bytes: usize,
    pub(crate) max_keys: usize,
    allow_insecure_http: bool,
    token_cache_bytes: u64,
    token_cache_max_age: Duration,
    trusted: Vec<Issuer>,
    clock: Option<Arc<dyn Clock>>,
    resource: ResourceSettings,
    dpop: Option<Dpop>,
    introspection: Option<Introspection>,
    certificates: Option<CertificateBinding>,
    http_client: Option<reqwest::Client>,
    error_descriptions: bool,
    accept_unchecked_binding: bool,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            issuer: None,
            audiences: Vec::new(),
            jwks_uri: None,
            algorithms: None,
            leeway: Duration::from_secs(60),
            typ: None,
            max_token_bytes: 16 * 1024,
            refresh_cooldown: Duration::from_secs(30),
            key_set_max_age: Duration::from_secs(300),
            key_set_max_staleness: Duration::from_secs(12 * 3600),
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
            max_jwks_bytes: 256 * 1024,
            max_keys: 64,
            allow_insecure_http: false,
            token_cache_bytes: 16 * 1024 * 1024,
            token_cache_max_age: Duration::from_secs(300),
            trusted: Vec::new(),
            clock: None,
            resource: ResourceSettings::default(),
            dpop: None,
            introspection: None,
            certificates: None,
            http_client: None,
            error_descriptions: false,
            accept_unchecked_binding: false,
        }
    }
}

impl Builder {
    /// The largest [`leeway`](Builder::leeway) `build` accepts.
    pub const MAX_LEEWAY: Duration = Duration::from_secs(300);

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

    /// Validates opaque tokens by introspection (RFC 7662) at the issuer set
    /// with [`issuer`](Builder::issuer): see [`Issuer::introspection`].
    pub fn introspection(mut self, introspection: Introspection) -> Self {
        self.introspection = Some(introspection);
        self
    }

    /// The accepted algorithms, for the issuer set with
    /// [`issuer`](Builder::issuer). Default: every [`Algorithm`]
    /// (RS256/384/512, PS256/384/512, ES256/384 and EdDSA); symmetric
    /// algorithms have no variant, since a key published in a JWKS is public.
    /// Each key still verifies only the one algorithm it is bound to.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = Some(algorithms.into_iter().collect());
        self
    }

    /// Clock-skew allowance for `exp` and `nbf`. Default: 60 seconds; at most
    /// [`MAX_LEEWAY`](Builder::MAX_LEEWAY) (5 minutes, the most any common
    /// peer allows by default): `build` refuses more, since a leeway that
    /// large is a way of switching the expiry check off.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Which `typ` header values pass, for the issuer set with
    /// [`issuer`](Builder::issuer). Default: [`TypPolicy::AccessToken`]
    /// (RFC 9068 `at+jwt`).
    pub fn typ(mut self, policy: TypPolicy) -> Self {
        self.typ = Some(policy);
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

    /// How long after its last successful load a key set keeps serving while
    /// every refresh fails (last known good). Past it, the issuer may have
    /// withdrawn any of those keys: a request waits for a refresh (one the
    /// backoff allows, or the one under way), and while refreshes fail, the
    /// issuer's tokens get 503 (with `Retry-After`), an error is logged and
    /// the gauge `bearer_guard_key_set_too_stale` is 1. Default: 12 hours, longer than
    /// common access-token lifetimes (Entra ID: 60 to 90 minutes), so an
    /// outage of the key server alone does not turn valid tokens away. At
    /// least [`key_set_max_age`](Builder::key_set_max_age).
    pub fn key_set_max_staleness(mut self, staleness: Duration) -> Self {
        self.key_set_max_staleness = staleness;
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

    /// Fetches (discovery documents, key sets, introspection calls) go through
    /// this client instead of one of bearer-guard's own: for a corporate
    /// proxy, extra root certificates, a client certificate towards the
    /// identity provider, or a custom resolver.
    ///
    /// The client is used as it is, so build it as bearer-guard builds its
    /// own: **without following redirects**
    /// (`.redirect(reqwest::redirect::Policy::none())`). An answer that came
    /// through a redirect is refused all the same, but by then an
    /// introspection request (which carries the token) may have been re-sent
    /// to the redirect's target. Every other bound still holds: the
    /// [`fetch_timeout`](Builder::fetch_timeout) of each request, the
    /// [`max_jwks_bytes`](Builder::max_jwks_bytes) cap on each answer, `https`
    /// only (except loopback or
    /// [`dangerously_allow_insecure_http`](Builder::dangerously_allow_insecure_http)).
    /// [`connect_timeout`](Builder::connect_timeout) is then the client's own.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = reqwest::Client::builder()
    ///     .redirect(reqwest::redirect::Policy::none())
    ///     .proxy(reqwest::Proxy::https("http://proxy.corp.example:3128")?)
    ///     .build()?;
    /// let auth = bearer_guard::BearerAuthLayer::builder()
    ///     .issuer("https://login.example.com")
    ///     .audience("api://notes")
    ///     .http_client(client)
    ///     .build()?;
    /// # let _ = auth;
    /// # Ok(())
    /// # }
    /// ```
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// Accepts sender-constrained tokens as bearer tokens when this API does
    /// not check their binding: a token bound to a DPoP key (`cnf.jkt`,
    /// RFC 9449) without [`dpop`](Builder::dpop), one bound to a client
    /// certificate (`cnf.x5t#S256`, RFC 8705) without
    /// [`certificate_bound_tokens`](Builder::certificate_bound_tokens).
    ///
    /// By default such a token is refused (401 `invalid_token`): its issuer
    /// meant only the holder of the key or certificate to use it, so a thief
    /// could use it here and nowhere that checks. This is what a resource
    /// server unaware of those RFCs does; turn it on only while migrating an
    /// API whose clients already receive bound tokens. **Dangerous**; default:
    /// off.
    pub fn dangerously_accept_bound_tokens_as_bearer(mut self) -> Self {
        self.accept_unchecked_binding = true;
        self
    }

    /// Adds a short `error_description` to every challenge that has an
    /// `error` code (RFC 6750 §3): `Bearer error="invalid_token",
    /// error_description="token expired"`, so that a developer sees why a
    /// token was refused without the server's logs. The text comes from a
    /// fixed vocabulary, one per reason ([`Error::description`](crate::Error::description)):
    /// never token content, key material or a configured value. It still
    /// tells a caller more than RFC 6750's code alone (that the audience is
    /// wrong, that the key is unknown): meant for development and test
    /// environments. Default: off.
    pub fn error_descriptions(mut self, on: bool) -> Self {
        self.error_descriptions = on;
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

    /// Trusts one more issuer, with its own audiences, token type, algorithms,
    /// claim mapping and key cache (see [`Issuer`] and its provider presets);
    /// the refresh cooldown, timeouts and limits set on this builder apply to
    /// every issuer's key cache alike. A token's unverified `iss` (and `tid`) chooses the issuer
    /// before any key lookup; issuers are tried in the order they were added,
    /// the one set with [`issuer`](Builder::issuer) first.
    pub fn trust(mut self, issuer: Issuer) -> Self {
        self.trusted.push(issuer);
        self
    }

    /// The clock every time-dependent check reads (`exp`, `nbf`, the
    /// verified-token cache, key-set cooldowns, backoff and ages). Default:
    /// [`SystemClock`](crate::SystemClock); tests pass a
    /// [`ManualClock`](crate::ManualClock) and move it instead of sleeping.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// This API's resource identifier (RFC 9728, an `https` URL; plain `http`
    /// only to loopback or with
    /// [`dangerously_allow_insecure_http`](Builder::dangerously_allow_insecure_http);
    /// no query, no fragment). It turns on protected-resource metadata:
    /// - every challenge the layer and its guards send carries
    ///   `resource_metadata="…"` (§5.1) naming where the document is served,
    ///   so a client that gets a 401 or 403 can find out how to get a token;
    /// - the layer serves the document at that place
    ///   ([`BearerAuthLayer::resource_metadata_router`], or
    ///   [`Validator::resource_metadata`] for any other server), with the
    ///   identifier as `resource`, the trusted issuers as
    ///   `authorization_servers` (those naming one issuer; a multi-tenant
    ///   template names none a client could discover), `bearer_methods_supported`
    ///   `["header"]`, and what the other `resource_*` settings add.
    ///
    /// The document's place follows §3.1: `https://api.example.com/notes` has
    /// it at `https://api.example.com/.well-known/oauth-protected-resource/notes`.
    /// Default: none (no document, no parameter).
    ///
    /// ```
    /// use bearer_guard::{BearerAuthLayer, Requirement};
    ///
    /// # fn main() -> Result<(), bearer_guard::ConfigError> {
    /// let read = Requirement::scope("notes.read");
    /// let auth = BearerAuthLayer::builder()
    ///     .issuer("https://login.example.com")
    ///     .audience("https://api.example.com/notes")
    ///     .resource("https://api.example.com/notes")
    ///     .resource_scopes_of(&read)
    ///     .resource_scopes(["notes.write"])
    ///     .build()?;
    /// let metadata = auth.validator().resource_metadata().expect("configured");
    /// assert_eq!(
    ///     metadata.url(),
    ///     "https://api.example.com/.well-known/oauth-protected-resource/notes"
    /// );
    /// # Ok(())
    /// # }
    /// ```
    pub fn resource(mut self, identifier: impl Into<String>) -> Self {
        self.resource.resource = Some(identifier.into());
        self
    }

    /// Scopes to list in the metadata's `scopes_supported`, after those
    /// already added (duplicates are listed once). Needs
    /// [`resource`](Builder::resource).
    pub fn resource_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.resource
            .scopes
            .extend(scopes.into_iter().map(Into::into));
        self
    }

    /// Every scope `requirement` names, for `scopes_supported`: pass the
    /// requirements the routes enforce, and the document lists what they
    /// ask for. Needs [`resource`](Builder::resource).
    pub fn resource_scopes_of(mut self, requirement: &Requirement) -> Self {
        requirement.scopes(&mut self.resource.scopes);
        self
    }

    /// The metadata's `resource_name`, for people. Needs
    /// [`resource`](Builder::resource).
    pub fn resource_name(mut self, name: impl Into<String>) -> Self {
        self.resource.name = Some(name.into());
        self
    }

    /// The metadata's `resource_documentation`: a URL of documentation for
    /// developers. Needs [`resource`](Builder::resource).
    pub fn resource_documentation(mut self, url: impl Into<String>) -> Self {
        self.resource.documentation = Some(url.into());
        self
    }

    /// Accepts DPoP-bound access tokens (RFC 9449) as [`Dpop`] says: the
    /// `DPoP` scheme with a proof per request, no bound token as a bearer
    /// token, and, with [`Dpop::required`], no bearer tokens at all. With a
    /// [`resource`](Builder::resource), the metadata lists the proof
    /// algorithms (`dpop_signing_alg_values_supported`).
    pub fn dpop(mut self, dpop: Dpop) -> Self {
        self.dpop = Some(dpop);
        self
    }

    /// Accepts certificate-bound access tokens (RFC 8705 §3) as
    /// [`CertificateBinding`] says: a token with `cnf.x5t#S256` passes only
    /// on a request made with that client certificate
    /// ([`ClientCertificate`](crate::ClientCertificate) in the request
    /// extensions, or a trusted proxy's header). Without this setting,
    /// `cnf.x5t#S256` is not read.
    pub fn certificate_bound_tokens(mut self, binding: CertificateBinding) -> Self {
        self.certificates = Some(binding);
        self
    }

    /// Signs the metadata (RFC 9728 §2.2): the document gains
    /// `signed_metadata`, a JWT of its members and the signer's `iss`, signed
    /// with the signer's key when the layer is built. Needs
    /// [`resource`](Builder::resource). See [`MetadataSigner`].
    pub fn resource_signed_metadata(mut self, signer: MetadataSigner) -> Self {
        self.resource.signer = Some(signer);
        self
    }

    /// Checks the configuration and builds the layer. No network traffic happens
    /// here; keys are fetched on first use, or by
    /// [`Validator::warm_up`](crate::Validator::warm_up). Keys are fetched on
    /// tasks of the tokio runtime the layer runs in.
    pub fn build(self) -> Result<BearerAuthLayer, ConfigError> {
        Ok(BearerAuthLayer::new(self.build_validator()?))
    }

    /// Checks the configuration and builds a [`Validator`] alone, for use
    /// outside a tower stack.
    pub fn build_validator(self) -> Result<Validator, ConfigError> {
        let mut issuers = Vec::new();
        match self.issuer {
            Some(name) => {
                let mut primary = Issuer::new(name);
                primary.audiences = self.audiences;
                if let Some(policy) = self.typ {
                    primary = primary.typ(policy);
                }
                if let Some(algorithms) = self.algorithms {
                    primary = primary.algorithms(algorithms);
                }
                if let Some(uri) = self.jwks_uri {
                    primary = primary.jwks_uri(uri);
                }
                if let Some(introspection) = self.introspection {
                    primary = primary.introspection(introspection);
                }
                issuers.push(primary);
            }
            None => {
                // Settings of the shorthand issuer, with no shorthand issuer:
                // they would silently apply to nothing.
                for (setting, set) in [
                    ("audience", !self.audiences.is_empty()),
                    ("jwks_uri", self.jwks_uri.is_some()),
                    ("typ", self.typ.is_some()),
                    ("algorithms", self.algorithms.is_some()),
                    ("introspection", self.introspection.is_some()),
                ] {
                    if set {
                        return Err(ConfigError::WithoutIssuer(setting));
                    }
                }
            }
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
        if self.key_set_max_staleness < self.key_set_max_age {
            return Err(ConfigError::StalenessBelowMaxAge {
                staleness: self.key_set_max_staleness,
                max_age: self.key_set_max_age,
            });
        }
        if self.leeway > Self::MAX_LEEWAY {
            return Err(ConfigError::LeewayTooLarge {
                leeway: self.leeway,
                max: Self::MAX_LEEWAY,
            });
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
        let client = match self.http_client {
            Some(client) => ClientChoice::User(client),
            None => ClientChoice::Shared {
                needs_https: issuers.iter().any(Issuer::fetches_https),
            },
        };
        let fetcher = Fetcher::with_client(
            self.connect_timeout,
            self.timeout,
            self.max_jwks_bytes,
            self.allow_insecure_http,
            client,
        )
        .map_err(ConfigError::HttpClient)?;
        let time = self.clock.map(Time::new).unwrap_or_default();
        let settings = CacheSettings {
            fetcher,
            max_keys: self.max_keys,
            refresh_cooldown: self.refresh_cooldown,
            max_age: self.key_set_max_age,
            max_staleness: self.key_set_max_staleness,
            allow_insecure_http: self.allow_insecure_http,
            leeway_secs: i64::try_from(self.leeway.as_secs()).unwrap_or(i64::MAX),
            time: time.clone(),
        };
        let trusted = issuers
            .into_iter()
            .map(|issuer| compile(issuer, &settings))
            .collect::<Result<Vec<_>, _>>()?;
        // An opaque token names no issuer: exactly one may receive it.
        if trusted.iter().filter(|t| t.introspection.is_some()).count() > 1 {
            return Err(ConfigError::Introspection(
                "only one trusted issuer may introspect: an opaque token must never reach another",
            ));
        }
        let servers: Vec<&str> = trusted.iter().filter_map(|t| t.name.exact()).collect();
        let leeway_secs = i64::try_from(self.leeway.as_secs()).unwrap_or(i64::MAX);
        let dpop = self
            .dpop
            .map(|d| d.compile(leeway_secs, time.clone()))
            .transpose()?;
        let certificates = self
            .certificates
            .map(CertificateBinding::compile)
            .transpose()?;
        let dpop_algs = dpop
            .as_ref()
            .map(|d| d.algorithm_names())
            .unwrap_or_default();
        let resource = self.resource.compile(
            &servers,
            &dpop_algs,
            dpop.as_ref().is_some_and(|d| d.required),
            certificates.is_some(),
            self.allow_insecure_http,
        )?;
        let tokens = TokenCache::new(self.token_cache_bytes, self.token_cache_max_age);
        Ok(Validator::new(
            trusted,
            tokens,
            time,
            resource,
            Binding {
                dpop,
                certificates,
                accept_unchecked: self.accept_unchecked_binding,
            },
            Options {
                max_token_bytes: self.max_token_bytes,
                leeway_secs,
                error_descriptions: self.error_descriptions,
            },
        ))
    }
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
        assert_eq!(err(Builder::default()), "MissingIssuer");
        assert_eq!(
            err(Builder::default().audience("a")),
            "WithoutIssuer(\"audience\")"
        );
        let preset = || Builder::default().trust(Issuer::new("https://i.example").audience("a"));
        assert_eq!(err(preset()), "ok");
        assert_eq!(err(preset().typ(TypPolicy::Jwt)), "WithoutIssuer(\"typ\")");
        assert_eq!(
            err(preset().algorithms([Algorithm::RS256])),
            "WithoutIssuer(\"algorithms\")"
        );
        assert_eq!(
            err(preset().jwks_uri("https://i.example/keys")),
            "WithoutIssuer(\"jwks_uri\")"
        );
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
            err(base().resource_scopes(["a"])),
            "WithoutResource(\"resource_scopes\")"
        );
        assert_eq!(
            err(base().resource_name("n")),
            "WithoutResource(\"resource_name\")"
        );
        assert!(err(base().resource("http://api.example")).starts_with("InsecureUrl"));
        assert!(err(base().resource("https://api.example/#f")).starts_with("InvalidUrl"));
        assert_eq!(err(base().resource("https://api.example/notes")), "ok");
        let multi = || Issuer::entra_id_multi_tenant("cid");
        assert_eq!(
            err(Builder::default().trust(multi())),
            "TenantsUnrestricted(\"https://login.microsoftonline.com/{tenantid}/v2.0\")"
        );
        assert_eq!(
            err(Builder::default().trust(multi().allowed_tenants(["t1"]))),
            "ok"
        );
        assert_eq!(
            err(Builder::default().trust(multi().dangerously_accept_any_tenant())),
            "ok"
        );
        assert_eq!(
            err(Builder::default().trust(
                multi()
                    .allowed_tenants(["t1"])
                    .dangerously_accept_any_tenant()
            )),
            "AnyTenantIgnored(\"https://login.microsoftonline.com/{tenantid}/v2.0\")"
        );
        assert_eq!(
            err(Builder::default()
                .trust(Issuer::entra_id("tid", "cid").dangerously_accept_any_tenant())),
            "AnyTenantIgnored(\"https://login.microsoftonline.com/tid/v2.0\")"
        );
        assert_eq!(
            err(Builder::default().trust(Issuer::entra_id("evil.example/x", "cid"))),
            "InvalidPresetInput { what: \"tenant id\", value: \"evil.example/x\" }"
        );
        assert_eq!(
            err(base().key_set_max_staleness(Duration::from_secs(60))),
            "StalenessBelowMaxAge { staleness: 60s, max_age: 300s }"
        );
        assert_eq!(err(base().leeway(Builder::MAX_LEEWAY)), "ok");
        assert_eq!(
            err(base().leeway(Builder::MAX_LEEWAY + Duration::from_secs(1))),
            "LeewayTooLarge { leeway: 301s, max: 300s }"
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
}
