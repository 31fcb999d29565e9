//! The pipeline for one token: parse, choose the issuer, pick the key, verify,
//! check claims.
//!
//! Each step rejects as early and as cheaply as it can; nothing reaches the
//! network before the header and the unverified `iss` have passed.

use std::sync::Arc;

use http::HeaderMap;
use jsonwebtoken::Algorithm;

use crate::claims::{
    Authenticated, CHECKED_CLAIMS, ClaimRules, Unverified, now_secs, payload_text,
};
use crate::config::TypPolicy;
use crate::error::{Error, truncated};
use crate::issuer::IssuerName;
use crate::keys::cache::KeyCache;
use crate::keys::jwk::VerifyingKey;
use crate::token_cache::{Digest, TokenCache};
use crate::{extract, jws};

/// Validates bearer tokens for the trusted issuers. Cheap to clone (one `Arc`);
/// every clone shares the same key caches and verified-token cache.
///
/// The layer uses it for every request; use it directly to validate a token
/// outside a tower stack.
#[derive(Debug, Clone)]
pub struct Validator {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    issuers: Vec<TrustedIssuer>,
    /// Every algorithm some issuer accepts: the header check before the issuer
    /// is known.
    algorithms: Vec<Algorithm>,
    max_token_bytes: usize,
    /// The claims any issuer's checks read (sorted): the only values the
    /// claims parser keeps.
    read_claims: Vec<String>,
    /// Tokens verified before; `None` when caching is off.
    tokens: Option<TokenCache>,
}

/// One trusted issuer, compiled from an [`Issuer`](crate::Issuer) at build time.
#[derive(Debug)]
pub(crate) struct TrustedIssuer {
    pub name: IssuerName,
    pub rules: ClaimRules,
    pub typ: TypPolicy,
    pub algorithms: Vec<Algorithm>,
    pub allowed_tenants: Option<Vec<String>>,
    pub keys: IssuerKeys,
}

/// An issuer's key caches: one, or one per sign-in policy.
#[derive(Debug)]
pub(crate) enum IssuerKeys {
    Single(Arc<KeyCache>),
    PerPolicy(Vec<(String, Arc<KeyCache>)>),
}

impl IssuerKeys {
    fn caches(&self) -> Vec<&Arc<KeyCache>> {
        match self {
            IssuerKeys::Single(cache) => vec![cache],
            IssuerKeys::PerPolicy(list) => list.iter().map(|(_, c)| c).collect(),
        }
    }
}

impl TrustedIssuer {
    fn tenant_allowed(&self, tid: Option<&str>) -> bool {
        match &self.allowed_tenants {
            None => true,
            Some(allowed) => {
                tid.is_some_and(|tid| allowed.iter().any(|a| a.eq_ignore_ascii_case(tid)))
            }
        }
    }

    /// The key cache for this token: the issuer's, or its policy's.
    fn key_cache(&self, claims: &Unverified) -> Result<&Arc<KeyCache>, Error> {
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

impl Validator {
    pub(crate) fn new(
        issuers: Vec<TrustedIssuer>,
        max_token_bytes: usize,
        tokens: Option<TokenCache>,
    ) -> Self {
        let mut algorithms: Vec<Algorithm> = Vec::new();
        for alg in issuers.iter().flat_map(|i| i.algorithms.iter()) {
            if !algorithms.contains(alg) {
                algorithms.push(*alg);
            }
        }
        let mut read_claims: Vec<String> = issuers
            .iter()
            .flat_map(|i| i.rules.map.top_level_names())
            .chain(CHECKED_CLAIMS)
            .map(str::to_owned)
            .collect();
        read_claims.sort_unstable();
        read_claims.dedup();
        Validator {
            inner: Arc::new(Inner {
                read_claims,
                issuers,
                algorithms,
                max_token_bytes,
                tokens,
            }),
        }
    }

    /// Takes the bearer token from `headers` and validates it.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Authenticated, Error> {
        let token = extract::bearer_credentials(headers, self.inner.max_token_bytes)?;
        let lookup = match self.cached(token) {
            Lookup::Hit(verdict) => return verdict,
            lookup => lookup,
        };
        self.validate_uncached(extract::b64token(token)?, lookup)
            .await
    }

    /// Validates one compact JWS access token.
    pub async fn validate(&self, token: &str) -> Result<Authenticated, Error> {
        let inner = &*self.inner;
        if token.len() > inner.max_token_bytes {
            return Err(Error::TokenTooLarge {
                len: token.len(),
                max: inner.max_token_bytes,
            });
        }
        let lookup = match self.cached(token.as_bytes()) {
            Lookup::Hit(verdict) => return verdict,
            lookup => lookup,
        };
        self.validate_uncached(token, lookup).await
    }

    /// The verdict for a token verified before, if the cache holds it.
    fn cached(&self, token: &[u8]) -> Lookup<'_> {
        match &self.inner.tokens {
            None => Lookup::Off,
            Some(tokens) => {
                let digest = TokenCache::digest(token);
                match tokens.get(&digest, now_secs()) {
                    Some(verdict) => Lookup::Hit(verdict),
                    None => Lookup::Miss(tokens, digest),
                }
            }
        }
    }

    /// The whole pipeline, for a token not in the cache; remembers it there
    /// when it passes.
    async fn validate_uncached(
        &self,
        token: &str,
        lookup: Lookup<'_>,
    ) -> Result<Authenticated, Error> {
        let inner = &*self.inner;
        let jws = jws::parse(token, &inner.algorithms)?;
        let payload = payload_text(jws.payload)?;
        let claims = Unverified::parse(&payload, Some(&inner.read_claims))?;
        // Choose the issuer from the unverified iss (and tid) before any key
        // lookup, so a token from an untrusted issuer causes no traffic. The
        // signature checked below covers both values.
        let iss = claims.issuer()?;
        let tid = claims.tenant_id();
        let tid = tid.as_deref();
        let issuer = inner
            .issuers
            .iter()
            .find(|i| i.name.matches(&iss, tid) && i.tenant_allowed(tid))
            .ok_or(Error::IssuerMismatch)?;
        if !issuer.algorithms.contains(&jws.alg) {
            return Err(Error::DisallowedAlgorithm(format!("{:?}", jws.alg).into()));
        }
        if !issuer.typ.accepts(jws.typ.as_deref()) {
            return Err(Error::WrongType(describe_typ(jws.typ.as_deref())));
        }
        let keys = issuer.key_cache(&claims)?;
        let kid = jws.kid.as_deref().ok_or(Error::MissingKeyId)?;
        let key = keys.key(kid).await?;
        verify_signature(&key, jws.alg, jws.signing_input, jws.signature)?;
        // The key lookup may have waited for a fetch: read the clock again.
        let now = now_secs();
        let authenticated = claims.validate(&issuer.rules, now)?.with_payload(payload);
        if let Lookup::Miss(tokens, digest) = lookup {
            tokens.insert(digest, &authenticated, key, keys, issuer.rules.leeway_secs);
        }
        Ok(authenticated)
    }

    /// Fetches every key set now (discovery included), so the first request
    /// does not pay for it. Returns whether all key sets are loaded.
    pub async fn warm_up(&self) -> bool {
        let mut all = true;
        for cache in self.inner.issuers.iter().flat_map(|i| i.keys.caches()) {
            all &= cache.refresh().await;
        }
        all
    }

    /// Whether every key set has been loaded: a readiness signal for health checks.
    pub fn is_ready(&self) -> bool {
        self.inner
            .issuers
            .iter()
            .flat_map(|i| i.keys.caches())
            .all(|cache| cache.is_loaded())
    }
}

/// What the verified-token cache said about a token.
enum Lookup<'a> {
    /// The cache is off.
    Off,
    /// Not cached: remember it under this digest if it passes.
    Miss(&'a TokenCache, Digest),
    /// Verified before: the verdict, time checks done.
    Hit(Result<Authenticated, Error>),
}

/// RFC 8725 §3.1: the algorithm is the key's, never the token's choice. The
/// signature is checked with the key parsed at load time: by aws-lc-rs itself
/// on that backend (jsonwebtoken 11 would rebuild the key, Montgomery context
/// included, for every signature), by jsonwebtoken on the RustCrypto one.
fn verify_signature(
    key: &VerifyingKey,
    alg: Algorithm,
    signing_input: &str,
    signature: &str,
) -> Result<(), Error> {
    if alg != key.alg {
        return Err(Error::AlgorithmMismatch {
            token: alg,
            key: key.alg,
        });
    }
    check_signature(key, signing_input.as_bytes(), signature)
        .then_some(())
        .ok_or(Error::InvalidSignature)
}

/// aws-lc-rs backend: the key aws-lc parsed when the set loaded, with the
/// signature decoded as jsonwebtoken decodes it (base64url, no padding).
#[cfg(feature = "aws-lc-rs")]
fn check_signature(key: &VerifyingKey, message: &[u8], signature: &str) -> bool {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(signature)
        .is_ok_and(|signature| key.parsed.verify_sig(message, &signature).is_ok())
}

/// RustCrypto backend: jsonwebtoken's own verification.
#[cfg(not(feature = "aws-lc-rs"))]
fn check_signature(key: &VerifyingKey, message: &[u8], signature: &str) -> bool {
    jsonwebtoken::crypto::verify(signature, message, &key.key, key.alg).unwrap_or(false)
}

fn describe_typ(typ: Option<&str>) -> std::borrow::Cow<'static, str> {
    match typ {
        None => "absent".into(),
        Some(t) => format!("{:?}", truncated(t, 32)).into(),
    }
}

/// Fuzz harness: any bytes as a token, validated offline against a fixed key
/// set (RS256 and EdDSA). A token the pipeline accepts must also verify through
/// an independent path (jsonwebtoken's own `decode` with its own `Validation`),
/// with the same claims; every rejection maps to an RFC 6750 response.
#[cfg(feature = "fuzzing")]
#[allow(clippy::panic, clippy::expect_used)]
pub(crate) fn fuzz_pipeline(data: &[u8]) -> bool {
    use std::sync::OnceLock;

    use crate::claim_map::{ClaimMap, Form, Source};

    const JWKS: &str = "{\"keys\": [{\"kty\": \"RSA\", \"kid\": \"rsa-1\", \"use\": \"sig\", \"n\": \"iska-x9CtOZhB6qB7ZSrgmkfHsAfegjuwD2uR5hZOdfSOUa0MzL667SeuAv-jL9H0eTMO8kE0PA2J0I4UNmwwb46qpOc6CCSb0tq770p2QAU8G44iRK3wksqp4C4DH9TET7BTonm2ikdK7v7sYxRHsgisJ-_GuLIWkOuTCdV3WR4M4xY29vyWLLmb7nUkLIZzS_CuFxVisaoLrYBVRZhB34RFJklEamEVYHAD74bhYJaLI4-U0u0cT-aRWCS2oAFvrc8LcbUXqDCkM-fF6dvFMChn6xq_dj5sayqKy5yjj9esK8fL-Uj16PUHW08TA58FpnNlDAJFaTSHS1366YRww\", \"e\": \"AQAB\"}, {\"kty\": \"OKP\", \"crv\": \"Ed25519\", \"kid\": \"ed-1\", \"x\": \"Ixuwir326vAbT6jfD70lwCDvgRWT-5HUS4WHPTtm3Jw\"}]}";
    struct Fixture {
        runtime: tokio::runtime::Runtime,
        validator: Validator,
        keys: Vec<(String, Algorithm, jsonwebtoken::DecodingKey)>,
    }
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    let fixture = FIXTURE.get_or_init(|| {
        let algorithms = jws::DEFAULT_ALGORITHMS.to_vec();
        let keys =
            crate::keys::jwk::parse_set(JWKS.as_bytes(), &algorithms, 16).expect("fixed key set");
        let copies = keys
            .iter()
            .map(|k| (k.kid.clone(), k.alg, k.key.clone()))
            .collect();
        let cache = KeyCache::preloaded(keys, algorithms.clone()).expect("preloaded cache");
        let mut map = ClaimMap::default();
        map.roles
            .push(Source::new(["realm_access", "roles"], Form::Array));
        let issuer = TrustedIssuer {
            name: IssuerName::new("https://issuer.example"),
            rules: ClaimRules {
                audiences: vec!["api://a".into()],
                leeway_secs: 60,
                map,
                require_permissions: true,
            },
            typ: TypPolicy::AccessToken,
            algorithms,
            allowed_tenants: None,
            keys: IssuerKeys::Single(cache),
        };
        Fixture {
            runtime: tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("runtime"),
            validator: Validator::new(vec![issuer], 16 * 1024, None),
            keys: copies,
        }
    });
    let Ok(token) = std::str::from_utf8(data) else {
        return false;
    };
    match fixture.runtime.block_on(fixture.validator.validate(token)) {
        Err(error) => {
            let (status, _) = crate::response::rejection_parts(&error);
            assert!(
                matches!(status.as_u16(), 400 | 401 | 403 | 503),
                "status {status}"
            );
            assert_ne!(
                error,
                Error::KeysUnavailable,
                "the fixed key set is always loaded"
            );
            false
        }
        Ok(accepted) => {
            let kid = jsonwebtoken::decode_header(token)
                .ok()
                .and_then(|h| h.kid)
                .expect("an accepted token names its kid");
            let (_, alg, key) = fixture
                .keys
                .iter()
                .find(|(k, _, _)| *k == kid)
                .expect("an accepted token names a known kid");
            let mut check = jsonwebtoken::Validation::new(*alg);
            check.set_issuer(&["https://issuer.example"]);
            check.set_audience(&["api://a"]);
            check.set_required_spec_claims(&["exp", "iss", "aud"]);
            check.validate_nbf = true;
            let decoded = jsonwebtoken::decode::<serde_json::Value>(token, key, &check)
                .unwrap_or_else(|e| panic!("accepted token does not re-verify: {e}"));
            let ours: serde_json::Value =
                serde_json::from_str(accepted.claims_json()).expect("claims are JSON");
            assert_eq!(decoded.claims, ours, "claims differ between the two paths");
            true
        }
    }
}

#[cfg(all(test, feature = "fuzzing"))]
mod fuzz_seed_tests {
    /// The checked-in pipeline seeds are accepted (so the harness's
    /// re-verification path runs), and a one-byte change to any is refused.
    #[test]
    fn pipeline_seeds_are_accepted_and_a_changed_byte_is_not() {
        for seed in [
            include_str!("../fuzz/corpus/pipeline/seed-rsa-scp"),
            include_str!("../fuzz/corpus/pipeline/seed-ed-roles"),
            include_str!("../fuzz/corpus/pipeline/seed-rsa-nested"),
        ] {
            assert!(
                super::fuzz_pipeline(seed.as_bytes()),
                "seed refused: {seed}"
            );
            let mut changed = seed.as_bytes().to_vec();
            if let Some(b) = changed.get_mut(seed.len() / 2) {
                *b = if *b == b'A' { b'B' } else { b'A' };
            }
            assert!(!super::fuzz_pipeline(&changed));
        }
    }
}
