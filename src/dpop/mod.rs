//! Sender-constrained tokens with DPoP (RFC 9449): the settings
//! ([`Dpop`]), one proof ([`proof`]), its target URI ([`htu`]), the replay
//! store ([`replay`]; in Redis, with the feature `redis`, `redis`), and the
//! checks that tie a proof to the request and the token ([`check`]).

pub(crate) mod check;
pub(crate) mod htu;
pub(crate) mod key_cache;
pub(crate) mod nonce;
pub(crate) mod proof;
#[cfg(feature = "redis")]
pub(crate) mod redis;
pub(crate) mod replay;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::Time;
use crate::error::ConfigError;
use crate::token::algorithm::{Algorithm, DEFAULT_ALGORITHMS};
use crate::token::claims::DpopChallenge;

#[cfg(feature = "redis")]
pub use self::redis::{RedisReplayStore, RedisReplayStoreBuilder};
use replay::MemoryReplayStore;
pub use replay::{ReplayFuture, ReplayStore, ReplayStoreError};

/// How long a proof is accepted after its `iat`, by default.
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(60);
/// The largest proof accepted, by default: an RSA-8192 key and signature fit.
const DEFAULT_MAX_PROOF_BYTES: usize = 8 * 1024;
/// How many proofs the in-process replay store keeps, by default.
const DEFAULT_REPLAY_CAPACITY: usize = 100_000;

/// DPoP (RFC 9449) for [`Builder::dpop`](crate::Builder::dpop): the API
/// accepts access tokens bound to a key the client proves it holds.
///
/// A request then says `Authorization: DPoP <token>` and carries one `DPoP`
/// header: a proof, signed by the key the token names in `cnf.jkt`, for this
/// request's method and URI. Every check of RFC 9449 §4.3 is made; a bound
/// token sent as a bearer token is refused (no downgrade, §7.2), and so is
/// an unbound token sent with the `DPoP` scheme.
///
/// `public_base_url` is the URL clients call the API at (`https://api.example.com`,
/// or with a path prefix): each proof's `htu` must be it with the request's
/// path appended. It is a setting because behind a proxy the server cannot
/// see it, and the `Host` header is the client's to choose.
///
/// ```
/// use std::time::Duration;
/// use bearer_guard::{Algorithm, BearerAuthLayer, Dpop};
///
/// # fn main() -> Result<(), bearer_guard::ConfigError> {
/// let auth = BearerAuthLayer::builder()
///     .issuer("https://login.example.com")
///     .audience("https://api.example.com")
///     .dpop(
///         Dpop::new("https://api.example.com")
///             .algorithms([Algorithm::ES256, Algorithm::EdDSA])
///             .max_age(Duration::from_secs(30))
///             .required(),
///     )
///     .build()?;
/// # let _ = auth;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Dpop {
    base_url: String,
    algorithms: Vec<Algorithm>,
    max_age: Duration,
    required: bool,
    max_proof_bytes: usize,
    replay: Option<Arc<dyn ReplayStore>>,
    replay_capacity: usize,
    nonce_lifetime: Option<Duration>,
    nonce_secret: Option<Vec<u8>>,
}

impl fmt::Debug for Dpop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dpop")
            .field("base_url", &self.base_url)
            .field("algorithms", &self.algorithms)
            .field("max_age", &self.max_age)
            .field("required", &self.required)
            .field("max_proof_bytes", &self.max_proof_bytes)
            .field("replay", &self.replay)
            .field("replay_capacity", &self.replay_capacity)
            .field("nonce_lifetime", &self.nonce_lifetime)
            .field("nonce_secret", &self.nonce_secret.as_ref().map(|_| "…"))
            .finish()
    }
}

impl Dpop {
    /// DPoP for the API clients call at `public_base_url`: every algorithm
    /// the crate verifies, proofs accepted for a minute after their `iat`
    /// (plus the layer's leeway either side), 8 KiB at most, replays
    /// tracked in this process (a bounded cache), and bearer tokens
    /// still accepted.
    pub fn new(public_base_url: impl Into<String>) -> Self {
        Dpop {
            base_url: public_base_url.into(),
            algorithms: DEFAULT_ALGORITHMS.to_vec(),
            max_age: DEFAULT_MAX_AGE,
            required: false,
            max_proof_bytes: DEFAULT_MAX_PROOF_BYTES,
            replay: None,
            replay_capacity: DEFAULT_REPLAY_CAPACITY,
            nonce_lifetime: None,
            nonce_secret: None,
        }
    }

    /// Requires server-provided nonces (RFC 9449 §9): a proof without a
    /// nonce of ours, or with one older than `lifetime`, gets 401
    /// `DPoP error="use_dpop_nonce"` with a fresh nonce in the `DPoP-Nonce`
    /// header, and the client signs a new proof with it. A nonce bounds how
    /// long a proof made ahead of time (by a client whose key was briefly in
    /// an attacker's hands) stays usable, whatever its `iat` says.
    ///
    /// Nonces are stateless (the issuing time and its HMAC under a secret):
    /// every replica checks any replica's nonce when they share the secret
    /// ([`nonce_secret`](Self::nonce_secret)); by default each process
    /// draws its own at random.
    pub fn nonces(mut self, lifetime: Duration) -> Self {
        self.nonce_lifetime = Some(lifetime);
        self
    }

    /// The secret nonces are made with (at least 32 random bytes): the same
    /// on every replica, so that a nonce one issued is accepted by all.
    pub fn nonce_secret(mut self, secret: impl Into<Vec<u8>>) -> Self {
        self.nonce_secret = Some(secret.into());
        self
    }

    /// The algorithms a proof may be signed with (challenges list them in
    /// `algs`, and the RFC 9728 metadata in
    /// `dpop_signing_alg_values_supported`).
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// How long after its `iat` a proof is accepted (RFC 9449 §4.3 check
    /// 11; the layer's leeway is added either side). Its `jti` is
    /// remembered as long.
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// Accept only DPoP-bound tokens: a request with the `Bearer` scheme is
    /// refused with a `DPoP` challenge, and challenges name only `DPoP`.
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// The largest `DPoP` header accepted, in bytes.
    pub fn max_proof_bytes(mut self, max: usize) -> Self {
        self.max_proof_bytes = max;
        self
    }

    /// How many proofs the in-process replay store holds at once (default
    /// 100,000, about 6 MB): at least the DPoP requests of one window
    /// (`max_age` plus twice the leeway). Full, it refuses new proofs with
    /// 503 rather than forget one it holds (a flood must not push out the
    /// proof an attacker wants to replay). Not used with
    /// [`replay_store`](Self::replay_store).
    pub fn replay_capacity(mut self, proofs: usize) -> Self {
        self.replay_capacity = proofs;
        self
    }

    /// Where seen proofs are recorded: share one store (Redis, say) between
    /// the replicas of an API, or a proof replayed to another replica is
    /// accepted there. With the feature `redis`, `RedisReplayStore` is one.
    pub fn replay_store(mut self, store: impl ReplayStore) -> Self {
        self.replay = Some(Arc::new(store));
        self
    }

    /// Checks the settings; `leeway_secs` and `time` are the layer's.
    pub(crate) fn compile(self, leeway_secs: i64, time: Time) -> Result<DpopPolicy, ConfigError> {
        let base = htu::BaseUrl::parse(&self.base_url).ok_or(ConfigError::InvalidUrl {
            what: "dpop public_base_url",
            url: self.base_url.clone(),
        })?;
        if self.algorithms.is_empty() {
            return Err(ConfigError::Empty("dpop algorithms"));
        }
        if self.max_age.is_zero() {
            return Err(ConfigError::ZeroLimit("dpop max_age"));
        }
        if self.replay_capacity == 0 {
            return Err(ConfigError::ZeroLimit("dpop replay_capacity"));
        }
        if self.max_proof_bytes == 0 {
            return Err(ConfigError::ZeroLimit("dpop max_proof_bytes"));
        }
        let max_age_secs = i64::try_from(self.max_age.as_secs()).unwrap_or(i64::MAX);
        // A proof is accepted from iat - leeway to iat + max_age + leeway
        // on the layer's clock; its jti is kept that long.
        let window = Duration::from_secs(
            u64::try_from(max_age_secs.saturating_add(leeway_secs.saturating_mul(2)))
                .unwrap_or(u64::MAX),
        );
        let replay = match self.replay {
            Some(store) => store,
            None => Arc::new(MemoryReplayStore::new(self.replay_capacity, time.clone())),
        };
        let nonces = match (self.nonce_lifetime, self.nonce_secret) {
            (None, None) => None,
            (None, Some(_)) => return Err(ConfigError::WithoutDpopNonces),
            (Some(lifetime), secret) => {
                if lifetime.is_zero() {
                    return Err(ConfigError::ZeroLimit("dpop nonce lifetime"));
                }
                let secret = match secret {
                    Some(secret) => secret,
                    None => nonce::random_secret().ok_or(ConfigError::Empty(
                        "random bytes from the operating system for the dpop nonce secret",
                    ))?,
                };
                let lifetime = i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX);
                Some(nonce::Nonces::new(&secret, lifetime)?)
            }
        };
        let mut algorithms: Vec<Algorithm> = Vec::new();
        for alg in self.algorithms {
            if !algorithms.contains(&alg) {
                algorithms.push(alg);
            }
        }
        let names: Vec<&str> = algorithms.iter().map(|a| a.name()).collect();
        Ok(DpopPolicy {
            base,
            challenge_algs: format!("algs=\"{}\"", names.join(" ")),
            algorithms,
            max_age_secs,
            leeway_secs,
            window,
            required: self.required,
            max_proof_bytes: self.max_proof_bytes,
            replay,
            proof_keys: key_cache::ProofKeyCache::default(),
            nonces,
            time,
        })
    }
}

/// [`Dpop`], checked: what the layer uses per request.
#[derive(Debug)]
pub(crate) struct DpopPolicy {
    pub(crate) base: htu::BaseUrl,
    pub(crate) algorithms: Vec<Algorithm>,
    challenge_algs: String,
    pub(crate) max_age_secs: i64,
    pub(crate) leeway_secs: i64,
    /// How long a proof is acceptable, all leeway included: how long its
    /// `jti` is remembered.
    pub(crate) window: Duration,
    pub(crate) required: bool,
    pub(crate) max_proof_bytes: usize,
    pub(crate) replay: Arc<dyn ReplayStore>,
    /// Proof keys bound before, by their `jwk` text: this policy's own.
    pub(crate) proof_keys: key_cache::ProofKeyCache,
    /// Server-provided nonces, when required.
    pub(crate) nonces: Option<nonce::Nonces>,
    pub(crate) time: Time,
}

impl DpopPolicy {
    /// What challenges say of DPoP.
    pub(crate) fn challenge(&self) -> DpopChallenge {
        DpopChallenge {
            algs: self.challenge_algs.clone().into_boxed_str(),
            required: self.required,
        }
    }

    /// The algorithm names, for the RFC 9728 metadata.
    pub(crate) fn algorithm_names(&self) -> Vec<&'static str> {
        self.algorithms.iter().map(|a| a.name()).collect()
    }
}
