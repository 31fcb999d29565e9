//! The pipeline for one token: parse, choose the issuer, pick the key, verify,
//! check claims.
//!
//! Each step rejects as early and as cheaply as it can; nothing reaches the
//! network before the header and the unverified `iss` have passed.

use std::sync::Arc;

use http::HeaderMap;

use super::signature::{verify_signature, verify_signature_and_hash};
use super::token_cache::TokenCache;
use crate::clock::Time;
use crate::dpop::DpopPolicy;
use crate::dpop::check::{RequestTarget, confirm, needs_proof};
use crate::error::{Error, log_safe};
use crate::introspection::Introspector;
use crate::issuer::name::names;
use crate::issuer::trusted::TrustedIssuer;
use crate::mtls::CertificatePolicy;
use crate::resource::ResourceMetadata;
use crate::token::algorithm::Algorithm;
use crate::token::claims::{Authenticated, CHECKED_CLAIMS, Context, Unverified, payload_text};
use crate::token::extract::Scheme;
use crate::token::json::Names;
use crate::token::{extract, jws};

/// Whether `token` has the shape of a compact JWS (two dots): else it is an
/// opaque token, for introspection.
fn looks_like_jws(token: &[u8]) -> bool {
    token.iter().filter(|&&b| b == b'.').count() == 2
}

/// What ties tokens to their senders, when the API accepts such tokens.
#[derive(Debug, Default)]
pub(crate) struct Binding {
    /// DPoP (RFC 9449).
    pub(crate) dpop: Option<DpopPolicy>,
    /// Certificate-bound tokens (RFC 8705).
    pub(crate) certificates: Option<CertificatePolicy>,
    /// Whether a token bound in a way the API does not check (`cnf.jkt`
    /// without DPoP, `cnf.x5t#S256` without certificate binding) passes as
    /// a bearer token; refused by default.
    pub(crate) accept_unchecked: bool,
}

/// The validator's own settings, beside its issuers.
#[derive(Debug)]
pub(crate) struct Options {
    /// The largest token taken, in bytes.
    pub(crate) max_token_bytes: usize,
    /// The clock skew allowed, in seconds.
    pub(crate) leeway_secs: i64,
    /// Whether challenges carry `error_description`.
    pub(crate) error_descriptions: bool,
}

/// Validates bearer tokens for the trusted issuers. Cheap to clone (one `Arc`);
/// every clone shares the same key caches and verified-token cache.
///
/// The layer uses it for every request; use it directly to validate a token
/// outside a tower stack.
///
/// Key sets are fetched on tasks spawned on the current tokio runtime, so use
/// it inside one: outside a runtime no key set can ever load, and every token
/// is refused with [`Error::KeysUnavailable`] (503), with an error logged.
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
    /// The claims any issuer's checks read: the only values the claims
    /// parser keeps.
    read_claims: Names,
    /// Tokens verified before; `None` when caching is off.
    tokens: Option<TokenCache>,
    /// What the API tells clients about itself (RFC 9728), if configured.
    resource: Option<Arc<ResourceMetadata>>,
    /// Its `resource_metadata` challenge parameter, the clock and the
    /// leeway, shared with every [`Authenticated`] this validator vouches for.
    context: Arc<Context>,
    /// DPoP (RFC 9449), if the API accepts it.
    dpop: Option<DpopPolicy>,
    /// Certificate-bound tokens (RFC 8705), if the API accepts them.
    certificates: Option<CertificatePolicy>,
    /// Whether bound tokens whose binding is not checked pass.
    accept_unchecked_binding: bool,
    /// The one issuer's introspection (RFC 7662), if configured.
    introspector: Option<Arc<Introspector>>,
}

impl Validator {
    pub(crate) fn new(
        issuers: Vec<TrustedIssuer>,
        tokens: Option<TokenCache>,
        time: Time,
        resource: Option<ResourceMetadata>,
        binding: Binding,
        options: Options,
    ) -> Self {
        let Options {
            max_token_bytes,
            leeway_secs,
            error_descriptions,
        } = options;
        let Binding {
            dpop,
            certificates,
            accept_unchecked,
        } = binding;
        let introspector = issuers.iter().find_map(|i| i.introspection.clone());
        let mut algorithms: Vec<Algorithm> = Vec::new();
        for alg in issuers.iter().flat_map(|i| i.algorithms.iter()) {
            if !algorithms.contains(alg) {
                algorithms.push(*alg);
            }
        }
        let read_claims: Names = issuers
            .iter()
            .flat_map(|i| {
                let required = i.rules.required.iter().copied();
                i.rules.map.top_level_names().chain(required)
            })
            .chain(CHECKED_CLAIMS)
            .collect();
        let context = Arc::new(Context {
            resource_challenge: resource.as_ref().map(|r| Arc::from(r.challenge())),
            time,
            leeway_secs,
            dpop: dpop.as_ref().map(DpopPolicy::challenge),
            error_descriptions,
        });
        Validator {
            inner: Arc::new(Inner {
                read_claims,
                issuers,
                algorithms,
                max_token_bytes,
                tokens,
                resource: resource.map(Arc::new),
                context,
                dpop,
                certificates,
                accept_unchecked_binding: accept_unchecked,
                introspector,
            }),
        }
    }

    /// What the API tells clients about itself (RFC 9728), when the builder
    /// was given a [`resource`](crate::Builder::resource) identifier.
    pub fn resource_metadata(&self) -> Option<&ResourceMetadata> {
        self.inner.resource.as_deref()
    }

    /// The metadata, shared, for a route that serves it.
    #[cfg(feature = "axum")]
    pub(crate) fn resource_metadata_shared(&self) -> Option<Arc<ResourceMetadata>> {
        self.inner.resource.clone()
    }

    /// Takes the access token from `headers` and validates it.
    ///
    /// With [DPoP](crate::Builder::dpop), a DPoP-bound token's proof names
    /// the request's method and URI, which `headers` do not carry: use
    /// [`authenticate_request`](Self::authenticate_request) (here such a
    /// request is refused with [`Error::InvalidDpopProof`]).
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Authenticated, Error> {
        match self.start(headers) {
            Start::Done(verdict) => verdict,
            Start::Cold => self.finish(None, headers).await,
        }
    }

    /// Takes the access token from `request` and validates it, with its
    /// DPoP proof when the token is DPoP-bound (RFC 9449): what the layer
    /// does, for a server outside a tower stack.
    pub async fn authenticate_request<B>(
        &self,
        request: &http::Request<B>,
    ) -> Result<Authenticated, Error> {
        let target = RequestTarget {
            method: request.method(),
            uri: request.uri(),
        };
        let token = match self.start(request.headers()) {
            Start::Done(verdict) => verdict,
            Start::Cold => self.finish(Some(target), request.headers()).await,
        }?;
        self.check_certificate(&token, request.extensions(), request.headers())?;
        Ok(token)
    }

    /// RFC 8705 §3: a certificate-bound token only with its certificate
    /// (a no-op unless the API accepts such tokens and this one is bound).
    pub(crate) fn check_certificate(
        &self,
        token: &Authenticated,
        extensions: &http::Extensions,
        headers: &HeaderMap,
    ) -> Result<(), Error> {
        match &self.inner.certificates {
            Some(policy) => policy.check(token, extensions, headers),
            // As for DPoP: a binding nothing here checks is refused.
            None if token.certificate_thumbprint().is_some()
                && !self.inner.accept_unchecked_binding =>
            {
                Err(Error::BindingNotChecked("cnf.x5t#S256"))
            }
            None => Ok(()),
        }
    }

    /// Whether JWTs are introspected too (for revocation).
    fn introspects_jwts(&self) -> bool {
        self.inner
            .introspector
            .as_ref()
            .is_some_and(|i| i.introspects_jwts())
    }

    /// The DPoP settings, if any, for the metadata and the layer.
    pub(crate) fn dpop(&self) -> Option<&DpopPolicy> {
        self.inner.dpop.as_ref()
    }

    /// The largest token taken, in bytes.
    pub(crate) fn max_token_bytes(&self) -> usize {
        self.inner.max_token_bytes
    }

    /// The context this validator shares with its tokens and challenges.
    pub(crate) fn context(&self) -> &Arc<Context> {
        &self.inner.context
    }

    /// The scheme and token of `headers`.
    fn credentials<'h>(&self, headers: &'h HeaderMap) -> Result<(Scheme, &'h [u8]), Error> {
        let dpop = self.inner.dpop.as_ref();
        let (scheme, token) =
            extract::credentials(headers, self.inner.max_token_bytes, dpop.is_some())?;
        if scheme == Scheme::Bearer && dpop.is_some_and(|d| d.required) {
            return Err(Error::DpopRequired);
        }
        Ok((scheme, token))
    }

    /// What can be decided without waiting: the header's shape and the
    /// verified-token cache. The layer serves a cached bearer token from here
    /// without allocating a future; anything else (a DPoP proof among it)
    /// goes to [`finish`](Self::finish).
    pub(crate) fn start(&self, headers: &HeaderMap) -> Start {
        let (scheme, token) = match self.credentials(headers) {
            Ok(found) => found,
            Err(error) => return Start::Done(Err(error)),
        };
        // A DPoP proof, or a JWT introspected for revocation, is checked on
        // the async path whatever the cache says.
        if scheme == Scheme::Dpop || self.introspects_jwts() {
            return Start::Cold;
        }
        match self.cached(token) {
            Lookup::Hit(Ok(token)) => match &self.inner.dpop {
                Some(policy) => Start::Done(needs_proof(policy, scheme, &token).map(|_| token)),
                None => Start::Done(self.binding_unchecked(&token).map(|()| token)),
            },
            Lookup::Hit(verdict) => Start::Done(verdict),
            Lookup::Off | Lookup::Miss(_) => Start::Cold,
        }
    }

    /// The rest of the pipeline for the same `headers` that [`start`](Self::start)
    /// found no verdict for: the token, then its DPoP proof, if bound.
    /// `target`: the request's method and URI, for the proof.
    pub(crate) async fn finish(
        &self,
        target: Option<RequestTarget<'_>>,
        headers: &HeaderMap,
    ) -> Result<Authenticated, Error> {
        // The same bytes `start` read: extraction is a scan of the header,
        // not worth carrying a borrow across the await for.
        let (scheme, token) = self.credentials(headers)?;
        // `start` looked a bearer token up already; a DPoP one, not.
        let lookup = match (&self.inner.tokens, scheme) {
            (_, Scheme::Dpop) => self.cached(token),
            (Some(tokens), Scheme::Bearer) => Lookup::Miss(tokens),
            (None, Scheme::Bearer) => Lookup::Off,
        };
        self.finish_with(target, headers, scheme, token, lookup)
            .await
    }

    /// The pipeline for a token from a source beside the `Authorization`
    /// header (the query, a cookie: `token::sources`), which the layer found
    /// (within the size cap) and owns: a bearer token in every respect,
    /// cache and DPoP binding included (a DPoP-bound token is refused).
    pub(crate) async fn finish_found(
        &self,
        target: Option<RequestTarget<'_>>,
        headers: &HeaderMap,
        token: &[u8],
    ) -> Result<Authenticated, Error> {
        if self.inner.dpop.as_ref().is_some_and(|d| d.required) {
            return Err(Error::DpopRequired);
        }
        let lookup = self.cached(token);
        self.finish_with(target, headers, Scheme::Bearer, token, lookup)
            .await
    }

    /// [`finish`](Self::finish) from the credentials on: `lookup` is what
    /// the verified-token cache said of `token`.
    async fn finish_with(
        &self,
        target: Option<RequestTarget<'_>>,
        headers: &HeaderMap,
        scheme: Scheme,
        token: &[u8],
        lookup: Lookup<'_>,
    ) -> Result<Authenticated, Error> {
        let authenticated = match lookup {
            Lookup::Hit(verdict) => verdict?,
            lookup => self.finish_token(token, lookup).await?,
        };
        if let Some(introspector) = &self.inner.introspector
            && introspector.introspects_jwts()
            && looks_like_jws(token)
        {
            // Revocation: the issuer must still call the JWT active.
            let text =
                std::str::from_utf8(token).map_err(|_| Error::MalformedToken("not UTF-8"))?;
            introspector.authenticate(text, &self.inner.context).await?;
        }
        match &self.inner.dpop {
            Some(policy) => {
                if needs_proof(policy, scheme, &authenticated)? {
                    confirm(policy, target, headers, token, &authenticated).await?;
                }
            }
            None => self.binding_unchecked(&authenticated)?,
        }
        Ok(authenticated)
    }

    /// Without DPoP: a token bound to a DPoP key (`cnf.jkt`) is refused,
    /// unless the builder accepts such tokens as bearer tokens. Its issuer
    /// meant only the key's holder to use it, and nothing here can check
    /// that: fail closed.
    fn binding_unchecked(&self, token: &Authenticated) -> Result<(), Error> {
        if token.dpop_jkt().is_some() && !self.inner.accept_unchecked_binding {
            return Err(Error::BindingNotChecked("cnf.jkt"));
        }
        Ok(())
    }

    /// The pipeline for a token the cache does not hold.
    async fn finish_token(&self, token: &[u8], lookup: Lookup<'_>) -> Result<Authenticated, Error> {
        // RFC 6750 §2.1's b64token syntax is checked only for a token that
        // is refused: one the pipeline accepts is base64url segments joined
        // by dots, a b64token already. A refused token that is not one is a
        // malformed request (400), whatever else was wrong with it, exactly
        // as if the syntax had been checked first.
        let verdict = match std::str::from_utf8(token) {
            Ok(text) => self.validate_uncached(text, lookup).await,
            Err(_) => Err(Error::MalformedToken("not UTF-8")),
        };
        verdict.map_err(|error| extract::b64token(token).err().unwrap_or(error))
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
            Some(tokens) => match tokens.get(token, &self.inner.context.time) {
                Some(verdict) => Lookup::Hit(verdict),
                None => Lookup::Miss(tokens),
            },
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
        // Not a compact JWS: an opaque token, for the issuer that
        // introspects (RFC 7662), if one does.
        if let Some(introspector) = &inner.introspector
            && !looks_like_jws(token.as_bytes())
        {
            extract::b64token(token.as_bytes())?;
            return introspector.authenticate(token, &inner.context).await;
        }
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
            return Err(Error::DisallowedAlgorithm(jws.alg.name().into()));
        }
        if !issuer.typ.accepts(jws.typ.as_deref()) {
            return Err(Error::WrongType(describe_typ(jws.typ.as_deref())));
        }
        let keys = issuer.key_cache(&claims)?;
        let kid = jws.kid.as_deref().ok_or(Error::MissingKeyId)?;
        let key = keys.key(kid).await?;
        // Defence in depth: a key the key set binds to an issuer (Microsoft
        // publishes one per key, as a tenant template) never verifies a
        // token of another issuer, tenant or cloud.
        if let Some(bound) = &key.issuer
            && !names(bound, &iss, tid)
        {
            return Err(Error::KeyIssuerMismatch);
        }
        // A token bound to a DPoP key needs its hash for `ath`: taken in the
        // same pass over the token as its signature's, when it can be.
        let token_hash = if inner.dpop.is_some() && claims.has_confirmation() {
            Some(verify_signature_and_hash(
                &key,
                jws.alg,
                jws.signing_input,
                jws.signature,
            )?)
        } else {
            verify_signature(&key, jws.alg, jws.signing_input, jws.signature)?;
            None
        };
        // The key lookup may have waited for a fetch: read the clock again.
        let now = inner.context.time.now_secs();
        let context = Arc::clone(&inner.context);
        let mut checked = claims.validate(&issuer.rules, now)?;
        if let Some(token_hash) = &token_hash {
            // A bound token's hash, once: each of its proofs names it.
            checked = checked.with_dpop_ath(token_hash);
        }
        let authenticated = checked.with_payload(payload, context);
        if let Lookup::Miss(tokens) = lookup {
            let leeway = issuer.rules.leeway_secs;
            let token = token.as_bytes();
            tokens.insert(
                token,
                &authenticated,
                key,
                keys,
                leeway,
                &inner.context.time,
            );
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

/// What [`Validator::start`] decided.
pub(crate) enum Start {
    /// The verdict: a malformed or missing header, or a cached token.
    Done(Result<Authenticated, Error>),
    /// The pipeline must run ([`Validator::finish`]).
    Cold,
}

/// What the verified-token cache said about a token.
enum Lookup<'a> {
    /// The cache is off.
    Off,
    /// Not cached: remember it if it passes.
    Miss(&'a TokenCache),
    /// Verified before: the verdict, time checks done.
    Hit(Result<Authenticated, Error>),
}

fn describe_typ(typ: Option<&str>) -> std::borrow::Cow<'static, str> {
    match typ {
        None => "absent".into(),
        Some(t) => log_safe(t, 32).into(),
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use crate::{BearerAuthLayer, Error};

    /// Outside a tokio runtime no key set can be fetched: a token is refused
    /// as 503 `KeysUnavailable`, at once and without a panic.
    #[test]
    fn outside_a_tokio_runtime_tokens_get_keys_unavailable_not_a_panic() {
        let validator = BearerAuthLayer::builder()
            .issuer("http://127.0.0.1:9")
            .audience("api://a")
            .build_validator()
            .expect("valid configuration");
        // A well-formed token from the trusted issuer, so the key lookup runs.
        let header = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsiLCJ0eXAiOiJhdCtqd3QifQ"; // {"alg":"RS256","kid":"k","typ":"at+jwt"}
        let payload = "eyJpc3MiOiJodHRwOi8vMTI3LjAuMC4xOjkifQ"; // {"iss":"http://127.0.0.1:9"}
        let token = format!("{header}.{payload}.c2ln");
        let mut future = pin!(validator.validate(&token));
        let mut cx = Context::from_waker(Waker::noop());
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(verdict) => assert_eq!(
                verdict.err(),
                Some(Error::KeysUnavailable {
                    retry_after_secs: 30
                })
            ),
            Poll::Pending => panic!("the lookup waited for a fetch that cannot run"),
        }
        assert!(!validator.is_ready());
    }
}
