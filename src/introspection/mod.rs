//! Opaque access tokens: OAuth 2.0 token introspection (RFC 7662), as a
//! second way to validate behind the same layer, guards and extractors.
//!
//! A token that is not a compact JWS is sent to the issuer's introspection
//! endpoint; the answer is validated (never trusted blindly: `active` must be
//! `true`, and it must describe an access token for this API), becomes the
//! same [`Authenticated`] a JWT does, and is cached by a hash of the token:
//! positive answers until `exp`, capped by a maximum age; negative answers
//! briefly; concurrent requests with one token share one call. An endpoint
//! that cannot answer gives 503, never acceptance.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::clock::Time;
use crate::digest::sha256;
use crate::error::{ConfigError, Error, log_safe};
use crate::keys::cache::KeyCache;
use crate::keys::fetch::{Fetcher, check_url, discovery_url};
use crate::signing::PemKey;
use crate::token::algorithm::Algorithm;
use crate::token::claims::Authenticated;
use crate::token::claims::{AnswerRules, ClaimRules, Context, Unverified};

/// How long a positive answer is kept at most, by default.
const DEFAULT_MAX_CACHE_AGE: Duration = Duration::from_secs(300);
/// How long a negative answer is kept, by default.
const DEFAULT_NEGATIVE_CACHE_AGE: Duration = Duration::from_secs(10);
/// How many answers are kept at most, by default.
const DEFAULT_MAX_ENTRIES: u64 = 100_000;

/// How the API authenticates to the introspection endpoint (RFC 7662 §2.1).
#[derive(Clone, PartialEq, Eq)]
enum ClientAuth {
    /// HTTP Basic (RFC 6749 §2.3.1), id and secret form-urlencoded first.
    SecretBasic(String),
    /// `client_id` and `client_secret` in the form body.
    SecretPost(String),
    /// A JWT signed with the API's key (RFC 7523 §2.2, `private_key_jwt`).
    PrivateKeyJwt(ClientAssertionKey),
}

/// Where the introspection endpoint is: a URL, or the issuer's discovery
/// document's `introspection_endpoint` (RFC 8414 §2, OpenID Connect
/// Discovery), read when the first opaque token arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IntrospectionEndpoint {
    /// This URL.
    Url(String),
    /// The issuer's discovery document says.
    Discovered,
}

impl From<&str> for IntrospectionEndpoint {
    fn from(url: &str) -> Self {
        IntrospectionEndpoint::Url(url.to_owned())
    }
}

impl From<String> for IntrospectionEndpoint {
    fn from(url: String) -> Self {
        IntrospectionEndpoint::Url(url)
    }
}

impl From<&String> for IntrospectionEndpoint {
    fn from(url: &String) -> Self {
        IntrospectionEndpoint::Url(url.clone())
    }
}

/// The private key the API authenticates to the introspection endpoint
/// with (`private_key_jwt`, RFC 7523 §2.2), for
/// [`Introspection::private_key_jwt`]: its public half is registered with
/// the authorization server (in the client's `jwks` or `jwks_uri`).
#[derive(Clone)]
pub struct ClientAssertionKey {
    key: PemKey,
    /// The PEM it was loaded from, to compare two keys.
    pem: std::sync::Arc<[u8]>,
}

impl PartialEq for ClientAssertionKey {
    fn eq(&self, other: &Self) -> bool {
        self.key.algorithm() == other.key.algorithm()
            && self.key.key_id() == other.key.key_id()
            && self.pem == other.pem
    }
}

impl Eq for ClientAssertionKey {}

impl fmt::Debug for ClientAssertionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ClientAssertionKey")
            .field(&self.key)
            .finish()
    }
}

impl ClientAssertionKey {
    /// The PEM private key `pem`, signing with `algorithm` (PKCS#8 or
    /// PKCS#1 RSA for `RS*`/`PS*`, PKCS#8 EC for `ES256`/`ES384`, PKCS#8
    /// Ed25519 for `EdDSA`).
    pub fn from_pem(algorithm: Algorithm, pem: &[u8]) -> Result<Self, ConfigError> {
        Ok(ClientAssertionKey {
            key: PemKey::from_pem(algorithm, pem)?,
            pem: pem.into(),
        })
    }

    /// The `kid` header naming the key among the client's registered keys.
    pub fn key_id(mut self, kid: impl Into<String>) -> Self {
        self.key.set_key_id(kid.into());
        self
    }
}

/// Token introspection (RFC 7662) for an [`Issuer`](crate::Issuer), with
/// [`Issuer::introspection`](crate::Issuer::introspection).
///
/// ```
/// use std::time::Duration;
/// use bearer_guard::{BearerAuthLayer, Introspection, Issuer};
///
/// # fn main() -> Result<(), bearer_guard::ConfigError> {
/// let auth = BearerAuthLayer::builder()
///     .trust(
///         Issuer::new("https://login.example.com")
///             .audience("https://api.example.com")
///             .introspection(
///                 Introspection::client_secret_basic(
///                     "https://login.example.com/oauth2/introspect",
///                     "notes-api",
///                     "s3cret",
///                 )
///                 .max_cache_age(Duration::from_secs(60)),
///             ),
///     )
///     .build()?;
/// # let _ = auth;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Introspection {
    endpoint: IntrospectionEndpoint,
    client_id: String,
    auth: ClientAuth,
    introspect_jwts: bool,
    trust_bare_active: bool,
    require_audience: bool,
    signed_responses: bool,
    max_cache_age: Duration,
    negative_cache_age: Duration,
    max_entries: u64,
    #[cfg(feature = "redis")]
    shared: Option<SharedCache>,
}

impl fmt::Debug for Introspection {
    /// Never shows the client secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let auth = match self.auth {
            ClientAuth::SecretBasic(_) => "client_secret_basic",
            ClientAuth::SecretPost(_) => "client_secret_post",
            ClientAuth::PrivateKeyJwt(_) => "private_key_jwt",
        };
        f.debug_struct("Introspection")
            .field("endpoint", &self.endpoint)
            .field("client_id", &self.client_id)
            .field("auth", &auth)
            .field("introspect_jwts", &self.introspect_jwts)
            .field("trust_bare_active", &self.trust_bare_active)
            .field("require_audience", &self.require_audience)
            .field("signed_responses", &self.signed_responses)
            .field("max_cache_age", &self.max_cache_age)
            .field("negative_cache_age", &self.negative_cache_age)
            .field("max_entries", &self.max_entries)
            .finish()
    }
}

impl Introspection {
    /// The endpoint's URL when it is configured (not discovered).
    pub(crate) fn endpoint_url(&self) -> Option<&str> {
        match &self.endpoint {
            IntrospectionEndpoint::Url(url) => Some(url),
            IntrospectionEndpoint::Discovered => None,
        }
    }

    fn new(
        endpoint: impl Into<IntrospectionEndpoint>,
        client_id: impl Into<String>,
        auth: ClientAuth,
    ) -> Self {
        Introspection {
            endpoint: endpoint.into(),
            client_id: client_id.into(),
            auth,
            introspect_jwts: false,
            trust_bare_active: false,
            require_audience: false,
            signed_responses: false,
            max_cache_age: DEFAULT_MAX_CACHE_AGE,
            negative_cache_age: DEFAULT_NEGATIVE_CACHE_AGE,
            max_entries: DEFAULT_MAX_ENTRIES,
            #[cfg(feature = "redis")]
            shared: None,
        }
    }

    /// The endpoint at `endpoint` (a URL, or
    /// [`IntrospectionEndpoint::Discovered`]), the API authenticating as
    /// `client_id` with HTTP Basic (`client_secret_basic`).
    pub fn client_secret_basic(
        endpoint: impl Into<IntrospectionEndpoint>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        Self::new(
            endpoint,
            client_id,
            ClientAuth::SecretBasic(client_secret.into()),
        )
    }

    /// The endpoint at `endpoint`, the API sending `client_id` and
    /// `client_secret` in the form (`client_secret_post`).
    pub fn client_secret_post(
        endpoint: impl Into<IntrospectionEndpoint>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        Self::new(
            endpoint,
            client_id,
            ClientAuth::SecretPost(client_secret.into()),
        )
    }

    /// The endpoint at `endpoint`, the API authenticating as `client_id`
    /// with a JWT it signs with `key` for each call (`private_key_jwt`, RFC
    /// 7523 §2.2): `iss` and `sub` the client id, `aud` the issuer and the
    /// endpoint, a random `jti`, valid for a minute.
    pub fn private_key_jwt(
        endpoint: impl Into<IntrospectionEndpoint>,
        client_id: impl Into<String>,
        key: ClientAssertionKey,
    ) -> Self {
        Self::new(endpoint, client_id, ClientAuth::PrivateKeyJwt(key))
    }

    /// How long a positive answer is kept at most (default 5 min; never
    /// past the token's `exp`). A token revoked meanwhile is still accepted
    /// until then: the price of not asking on every request. Zero asks on
    /// every request.
    pub fn max_cache_age(mut self, age: Duration) -> Self {
        self.max_cache_age = age;
        self
    }

    /// How long a negative answer (`active: false`, or one the checks
    /// refuse) is kept (default 10 s). Zero asks again every time.
    pub fn negative_cache_age(mut self, age: Duration) -> Self {
        self.negative_cache_age = age;
        self
    }

    /// How many answers are kept at most (default 100,000).
    pub fn max_entries(mut self, entries: u64) -> Self {
        self.max_entries = entries;
        self
    }

    /// Also introspect JWTs that passed local validation, to see revocation
    /// (the answer is cached as for opaque tokens).
    pub fn introspect_jwts(mut self) -> Self {
        self.introspect_jwts = true;
        self
    }

    /// Accept only answers whose `aud` names this API: an access-token
    /// `token_type` alone is not enough. For a server that also gives
    /// active answers with `token_type: Bearer` and no `aud` for tokens not
    /// meant for any API (oidc-provider's UserInfo-only tokens, say).
    pub fn require_audience(mut self) -> Self {
        self.require_audience = true;
        self
    }

    /// Share answers with the other replicas of the API through Redis
    /// (feature `redis`), on the connection (and timeout) of `store`: a
    /// token introspected by one replica is not introspected again by the
    /// others while its answer is kept. Keys are
    /// `bearer-guard:introspection:` and a SHA-256 of the issuer and the
    /// token (never the token); each expires with its answer. Every replica
    /// checks a shared answer as it checks one from the endpoint, and a
    /// Redis that cannot answer is passed by: the endpoint is asked.
    ///
    /// Redis is trusted with the answers: whoever can write keys under the
    /// prefix can make a token look active. Keep other clients away from
    /// them (a Redis of its own, or ACLs).
    #[cfg(feature = "redis")]
    pub fn shared_cache(mut self, store: &crate::dpop::RedisReplayStore) -> Self {
        self.shared = Some(SharedCache {
            store: store.clone(),
        });
        self
    }

    /// Ask for signed answers (RFC 9701: `Accept:
    /// application/token-introspection+jwt`) and accept only those: a JWT
    /// typed `token-introspection+jwt`, signed by one of the issuer's
    /// published keys, whose `iss` is the issuer and whose `aud` names this
    /// client, carrying the answer in `token_introspection`. An unsigned or
    /// badly signed answer is no usable answer (503). For an issuer with one
    /// key set (not per sign-in policy).
    pub fn signed_responses(mut self) -> Self {
        self.signed_responses = true;
        self
    }

    /// Accept an answer that says `active: true` and nothing about the
    /// token being an access token for this API (no `aud`, no access-token
    /// `token_type`). Some servers answer so for a refresh token sent under
    /// the hint `access_token`: turn this on only for an endpoint known to
    /// introspect nothing but this API's access tokens.
    pub fn dangerously_trust_bare_active(mut self) -> Self {
        self.trust_bare_active = true;
        self
    }

    /// Checks the settings, for the issuer `issuer` (an exact name) and its
    /// claim `rules`.
    pub(crate) fn compile(
        self,
        issuer: &str,
        rules: ClaimRules,
        keys: Option<Arc<KeyCache>>,
        fetcher: Fetcher,
        time: Time,
    ) -> Result<Introspector, ConfigError> {
        let signed = match (self.signed_responses, keys) {
            (false, _) => None,
            (true, Some(keys)) => Some(Signed {
                keys,
                algorithms: Vec::new(),
            }),
            (true, None) => {
                return Err(ConfigError::Introspection(
                    "signed responses need an issuer with one key set, not one per policy",
                ));
            }
        };
        let insecure = fetcher.allows_insecure_http();
        let endpoint = match &self.endpoint {
            IntrospectionEndpoint::Url(url) => {
                Endpoint::Fixed(check_url("introspection endpoint", url, insecure)?)
            }
            IntrospectionEndpoint::Discovered => {
                check_url("issuer", issuer, insecure)?;
                let discovery = discovery_url(issuer).ok_or(ConfigError::InvalidUrl {
                    what: "issuer",
                    url: issuer.to_owned(),
                })?;
                Endpoint::Discovered {
                    discovery,
                    found: tokio::sync::Mutex::new(Found::default()),
                }
            }
        };
        if let ClientAuth::PrivateKeyJwt(key) = &self.auth {
            // A key that does not fit its algorithm is found now, not at the
            // first opaque token.
            key.key.sign(None, &serde_json::json!({ "check": true }))?;
        }
        if self.client_id.is_empty() {
            return Err(ConfigError::Empty("introspection client_id"));
        }
        if self.max_entries == 0 {
            return Err(ConfigError::ZeroLimit("introspection max_entries"));
        }
        let secs = |d: Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        let keep = self.max_cache_age.max(self.negative_cache_age);
        let cache = (!keep.is_zero()).then(|| {
            moka::future::Cache::builder()
                .max_capacity(self.max_entries)
                .time_to_live(keep)
                .build()
        });
        Ok(Introspector {
            endpoint,
            client_id: self.client_id,
            auth: self.auth,
            introspect_jwts: self.introspect_jwts,
            answer_rules: AnswerRules {
                trust_bare_active: self.trust_bare_active,
                require_audience: self.require_audience,
            },
            signed,
            #[cfg(feature = "redis")]
            shared: self.shared,
            max_cache_secs: secs(self.max_cache_age),
            negative_cache_secs: secs(self.negative_cache_age),
            issuer: issuer.to_owned(),
            rules,
            fetcher,
            cache,
            time,
        })
    }
}

/// One answer, as kept: the verdict, and until when (on the layer's clock).
#[derive(Debug)]
struct Answer {
    verdict: Result<Authenticated, Error>,
    until: i64,
}

/// Where the calls go.
enum Endpoint {
    Fixed(Url),
    /// Read from the discovery document when first needed, and again
    /// after a failure (at most once per [`DISCOVERY_RETRY_SECS`]).
    Discovered {
        discovery: Url,
        found: tokio::sync::Mutex<Found>,
    },
}

/// What discovery found, or when it last failed.
#[derive(Default)]
struct Found {
    url: Option<Url>,
    failed_at: Option<i64>,
}

/// What signed answers (RFC 9701) are verified with.
struct Signed {
    keys: Arc<KeyCache>,
    /// The issuer's accepted algorithms (set by [`Introspector::accept_algorithms`]).
    algorithms: Vec<Algorithm>,
}

/// The media type of a signed answer (RFC 9701 §5).
const SIGNED_TYPE: &str = "token-introspection+jwt";

/// The least time between two discovery attempts after a failure.
const DISCOVERY_RETRY_SECS: i64 = 10;

/// [`Introspection`], checked: what the validator asks.
pub(crate) struct Introspector {
    endpoint: Endpoint,
    client_id: String,
    auth: ClientAuth,
    introspect_jwts: bool,
    answer_rules: AnswerRules,
    /// RFC 9701: the issuer's keys the answers are verified with.
    signed: Option<Signed>,
    /// Answers shared with the other replicas, in Redis.
    #[cfg(feature = "redis")]
    shared: Option<SharedCache>,
    max_cache_secs: i64,
    negative_cache_secs: i64,
    issuer: String,
    rules: ClaimRules,
    fetcher: Fetcher,
    /// By SHA-256 of the token; `None` when nothing is kept.
    cache: Option<moka::future::Cache<[u8; 32], Arc<Answer>>>,
    time: Time,
}

impl fmt::Debug for Introspector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let endpoint = match &self.endpoint {
            Endpoint::Fixed(url) => url.as_str(),
            Endpoint::Discovered { discovery, .. } => discovery.as_str(),
        };
        f.debug_struct("Introspector")
            .field("endpoint", &endpoint)
            .field("client_id", &self.client_id)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl Introspector {
    /// Whether JWTs are introspected too, after local validation.
    pub(crate) fn introspects_jwts(&self) -> bool {
        self.introspect_jwts
    }

    /// The verdict on `token`: from the cache while it holds a fresh
    /// answer, else from one call to the endpoint, shared by every request
    /// asking about the same token meanwhile.
    pub(crate) async fn authenticate(
        &self,
        token: &str,
        context: &Arc<Context>,
    ) -> Result<Authenticated, Error> {
        let Some(cache) = &self.cache else {
            return self.introspect(token, context).await?.verdict.clone();
        };
        let key = sha256(token.as_bytes());
        let now = self.time.now_secs();
        if let Some(answer) = cache.get(&key).await {
            if answer.until > now {
                return answer.verdict.clone();
            }
            cache.invalidate(&key).await;
        }
        let answer = cache
            .entry(key)
            .or_try_insert_with(self.introspect(token, context))
            .await
            .map_err(|error| (*error).clone())?
            .into_value();
        if answer.until <= self.time.now_secs() {
            // Not to be kept (an age of zero): answered, then dropped.
            cache.invalidate(&key).await;
        }
        answer.verdict.clone()
    }

    /// The form (RFC 7662 §2.1) and, for `client_secret_basic`, the Basic
    /// credentials, each form-urlencoded first (RFC 6749 §2.3.1).
    fn request_body(
        &self,
        token: &str,
        endpoint: &Url,
    ) -> Result<(String, Option<(String, String)>), Error> {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("token", token)
            .append_pair("token_type_hint", "access_token");
        let encode =
            |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let basic = match &self.auth {
            ClientAuth::SecretPost(secret) => {
                form.append_pair("client_id", &self.client_id)
                    .append_pair("client_secret", secret);
                None
            }
            ClientAuth::SecretBasic(secret) => Some((encode(&self.client_id), encode(secret))),
            ClientAuth::PrivateKeyJwt(key) => {
                let assertion = self.client_assertion(key, endpoint)?;
                form.append_pair("client_id", &self.client_id)
                    .append_pair(
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    )
                    .append_pair("client_assertion", &assertion);
                None
            }
        };
        Ok((form.finish(), basic))
    }

    /// RFC 7523 §3: `iss` and `sub` the client, `aud` the authorization
    /// server (its issuer identifier, and the endpoint), `exp` a minute
    /// ahead, a random `jti`.
    fn client_assertion(&self, key: &ClientAssertionKey, endpoint: &Url) -> Result<String, Error> {
        use base64::Engine as _;
        let now = self.time.now_secs();
        let jti = crate::dpop::nonce::random_secret()
            .map(|bytes| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
            .ok_or_else(|| Error::IntrospectionUnavailable {
                reason: "no random bytes for a client assertion".into(),
            })?;
        let claims = serde_json::json!({
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": [self.issuer.as_str(), endpoint.as_str()],
            "iat": now,
            "exp": now.saturating_add(60),
            "jti": jti,
        });
        key.key
            .sign(None, &claims)
            .map_err(|e| Error::IntrospectionUnavailable {
                reason: format!("client assertion: {e}"),
            })
    }

    /// RFC 9701 §5: the answer's JWT, verified with the issuer's keys;
    /// returns the `token_introspection` member's JSON text.
    async fn verify_signed(&self, signed: &Signed, jwt: &str) -> Result<String, Error> {
        let unavailable = |reason: &str| Error::IntrospectionUnavailable {
            reason: format!("signed answer: {reason}"),
        };
        let jws = crate::token::jws::parse(jwt.trim(), &signed.algorithms)
            .map_err(|e| unavailable(&e.to_string()))?;
        let typ = jws.typ.as_deref().unwrap_or_default();
        let typ = typ.strip_prefix("application/").unwrap_or(typ);
        if !typ.eq_ignore_ascii_case(SIGNED_TYPE) {
            return Err(unavailable("typ is not token-introspection+jwt"));
        }
        let kid = jws.kid.as_deref().ok_or_else(|| unavailable("no kid"))?;
        let key = signed
            .keys
            .key(kid)
            .await
            .map_err(|e| unavailable(&e.to_string()))?;
        crate::validate::signature::verify_signature(
            &key,
            jws.alg,
            jws.signing_input,
            jws.signature,
        )
        .map_err(|e| unavailable(&e.to_string()))?;
        #[derive(serde::Deserialize)]
        struct Claims<'a> {
            iss: String,
            #[serde(default)]
            aud: Option<serde_json::Value>,
            #[serde(borrow)]
            token_introspection: &'a serde_json::value::RawValue,
        }
        let claims: Claims<'_> =
            serde_json::from_slice(&jws.payload).map_err(|_| unavailable("claims malformed"))?;
        if claims.iss != self.issuer {
            return Err(unavailable("iss is not the issuer"));
        }
        let ours = |v: &serde_json::Value| v.as_str() == Some(self.client_id.as_str());
        let aud_ok = match &claims.aud {
            Some(serde_json::Value::Array(list)) => list.iter().any(ours),
            Some(value) => ours(value),
            None => false,
        };
        if !aud_ok {
            return Err(unavailable("aud does not name this client"));
        }
        Ok(claims.token_introspection.get().to_owned())
    }

    /// Sets the algorithms signed answers may use: the issuer's.
    pub(crate) fn accept_algorithms(&mut self, algorithms: &[Algorithm]) {
        if let Some(signed) = &mut self.signed {
            signed.algorithms = algorithms.to_vec();
        }
    }

    /// The endpoint's URL: fixed, or from the discovery document.
    async fn endpoint(&self) -> Result<Url, Error> {
        let (discovery, found) = match &self.endpoint {
            Endpoint::Fixed(url) => return Ok(url.clone()),
            Endpoint::Discovered { discovery, found } => (discovery, found),
        };
        let mut found = found.lock().await;
        if let Some(url) = &found.url {
            return Ok(url.clone());
        }
        let now = self.time.now_secs();
        if found
            .failed_at
            .is_some_and(|at| now < at.saturating_add(DISCOVERY_RETRY_SECS))
        {
            return Err(Error::IntrospectionUnavailable {
                reason: "discovery failed recently; not asked again yet".into(),
            });
        }
        match self
            .fetcher
            .discover_introspection(discovery, &self.issuer, self.time.now())
            .await
        {
            Ok(url) => {
                found.url = Some(url.clone());
                Ok(url)
            }
            Err(e) => {
                found.failed_at = Some(now);
                Err(Error::IntrospectionUnavailable {
                    reason: e.to_string(),
                })
            }
        }
    }

    /// One call to the endpoint, and its answer checked. `Err` only when
    /// there is no usable answer (503).
    async fn introspect(&self, token: &str, context: &Arc<Context>) -> Result<Arc<Answer>, Error> {
        #[cfg(feature = "redis")]
        if let Some(shared) = &self.shared {
            return self.introspect_shared(shared, token, context).await;
        }
        let text = self.ask(token).await?;
        self.judge(text, context)
    }

    /// [`introspect`](Self::introspect) through the cache the replicas
    /// share: its answer if it has a fresh one, else the endpoint's, which
    /// it then keeps for the others. A cache that cannot answer is passed
    /// by (the endpoint decides), and logged.
    #[cfg(feature = "redis")]
    async fn introspect_shared(
        &self,
        shared: &SharedCache,
        token: &str,
        context: &Arc<Context>,
    ) -> Result<Arc<Answer>, Error> {
        #[derive(serde::Serialize, serde::Deserialize)]
        struct Entry {
            until: i64,
            body: String,
        }
        let key = shared.key(&self.issuer, token);
        match shared.store.get_text(&key).await {
            Ok(Some(text)) => match serde_json::from_str::<Entry>(&text) {
                Ok(entry) if entry.until > self.time.now_secs() => {
                    let answer = self.judge(entry.body, context)?;
                    let until = answer.until.min(entry.until);
                    return Ok(Arc::new(Answer {
                        verdict: answer.verdict.clone(),
                        until,
                    }));
                }
                Ok(_) => {}
                Err(_) => tracing::warn!(
                    "bearer-guard: a shared introspection cache entry is not ours; asking the endpoint"
                ),
            },
            Ok(None) => {}
            Err(e) => tracing::warn!(
                reason = %e,
                "bearer-guard: the shared introspection cache cannot answer; asking the endpoint"
            ),
        }
        let body = self.ask(token).await?;
        let answer = self.judge(body.clone(), context)?;
        let now = self.time.now_secs();
        if answer.until > now {
            let ttl = Duration::from_secs(u64::try_from(answer.until - now).unwrap_or(0));
            let entry = serde_json::to_string(&Entry {
                until: answer.until,
                body,
            });
            if let Ok(entry) = entry
                && let Err(e) = shared.store.set_text(&key, &entry, ttl).await
            {
                tracing::warn!(reason = %e, "bearer-guard: an introspection answer was not shared");
            }
        }
        Ok(answer)
    }

    /// One call to the endpoint: the answer's JSON text (for a signed
    /// answer, its verified `token_introspection`). `Err` when there is no
    /// usable answer (503).
    async fn ask(&self, token: &str) -> Result<String, Error> {
        let endpoint = self.endpoint().await?;
        let (body, basic) = self.request_body(token, &endpoint)?;
        tracing::debug!(endpoint = %endpoint, "bearer-guard: introspecting a token");
        let unavailable = |reason: String| Error::IntrospectionUnavailable { reason };
        let accept = match self.signed {
            Some(_) => "application/token-introspection+jwt",
            None => "application/json",
        };
        let body = self
            .fetcher
            .post_form(
                &endpoint,
                body,
                basic
                    .as_ref()
                    .map(|(id, secret)| (id.as_str(), secret.as_str())),
                accept,
            )
            .await;
        crate::metrics::introspection(body.is_ok());
        let body = body.map_err(|e| unavailable(e.to_string()))?;
        let text =
            String::from_utf8(body).map_err(|_| unavailable("response is not UTF-8".into()))?;
        match &self.signed {
            Some(signed) => self.verify_signed(signed, &text).await,
            None => Ok(text),
        }
    }

    /// The verdict on an answer's JSON text, and until when it is kept.
    fn judge(&self, text: String, context: &Arc<Context>) -> Result<Arc<Answer>, Error> {
        let claims =
            Unverified::parse(&text, None).map_err(|e| Error::IntrospectionUnavailable {
                reason: format!(
                    "response is not a JSON object: {}",
                    log_safe(&e.to_string(), 100)
                ),
            })?;
        let now = self.time.now_secs();
        let verdict = claims
            .validate_introspected(&self.rules, &self.issuer, self.answer_rules, now)
            .map(|checked| checked.with_payload(text.clone(), Arc::clone(context)));
        let until = match &verdict {
            Ok(token) => token
                .registered()
                .exp
                .min(now.saturating_add(self.max_cache_secs)),
            Err(_) => now.saturating_add(self.negative_cache_secs),
        };
        Ok(Arc::new(Answer { verdict, until }))
    }
}

/// A cache of introspection answers in Redis, shared by the replicas of an
/// API (feature `redis`): on the connection of a [`RedisReplayStore`](crate::RedisReplayStore).
#[cfg(feature = "redis")]
#[derive(Clone)]
struct SharedCache {
    store: crate::dpop::RedisReplayStore,
}

#[cfg(feature = "redis")]
impl SharedCache {
    /// `bearer-guard:introspection:` and the SHA-256 (base64url) of the
    /// issuer and the token: never the token itself.
    fn key(&self, issuer: &str, token: &str) -> String {
        use base64::Engine as _;
        let mut input = Vec::with_capacity(issuer.len() + 1 + token.len());
        input.extend_from_slice(issuer.as_bytes());
        input.push(0);
        input.extend_from_slice(token.as_bytes());
        format!(
            "{SHARED_KEY_PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha256(&input))
        )
    }
}

#[cfg(feature = "redis")]
impl PartialEq for SharedCache {
    fn eq(&self, other: &Self) -> bool {
        self.store.identity() == other.store.identity()
    }
}

#[cfg(feature = "redis")]
impl Eq for SharedCache {}

/// What every shared cache key starts with.
#[cfg(feature = "redis")]
const SHARED_KEY_PREFIX: &str = "bearer-guard:introspection:";
