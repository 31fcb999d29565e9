//! The pipeline for one token: parse, pick the key, verify, check claims.
//!
//! Each step rejects as early and as cheaply as it can; nothing reaches the
//! network before the header and the unverified `iss` have passed.

use std::sync::Arc;

use http::HeaderMap;
use jsonwebtoken::Algorithm;

use crate::claims::{Authenticated, ClaimRules, Unverified, now_secs};
use crate::config::TypPolicy;
use crate::error::Error;
use crate::keys::cache::KeyCache;
use crate::keys::jwk::VerifyingKey;
use crate::{extract, jws};

/// Validates bearer tokens for one issuer. Cheap to clone (one `Arc`); every
/// clone shares the same key cache.
///
/// The layer uses it for every request; use it directly to validate a token
/// outside a tower stack.
#[derive(Debug, Clone)]
pub struct Validator {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    rules: ClaimRules,
    typ: TypPolicy,
    algorithms: Vec<Algorithm>,
    max_token_bytes: usize,
    keys: Arc<KeyCache>,
}

impl Validator {
    pub(crate) fn new(
        rules: ClaimRules,
        typ: TypPolicy,
        algorithms: Vec<Algorithm>,
        max_token_bytes: usize,
        keys: Arc<KeyCache>,
    ) -> Self {
        Validator {
            inner: Arc::new(Inner {
                rules,
                typ,
                algorithms,
                max_token_bytes,
                keys,
            }),
        }
    }

    /// Takes the bearer token from `headers` and validates it.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Authenticated, Error> {
        let token = extract::bearer_token(headers, self.inner.max_token_bytes)?;
        self.validate(token).await
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
        let jws = jws::parse(token, &inner.algorithms)?;
        if !inner.typ.accepts(jws.typ.as_deref()) {
            return Err(Error::WrongType(describe_typ(jws.typ.as_deref())));
        }
        let claims = Unverified::parse(jws.payload)?;
        // Reject a foreign issuer before any key lookup can cause traffic.
        if claims.issuer()? != inner.rules.issuer {
            return Err(Error::IssuerMismatch);
        }
        let kid = jws.kid.as_deref().ok_or(Error::MissingKeyId)?;
        let key = inner.keys.key(kid).await?;
        verify_signature(&key, jws.alg, jws.signing_input, jws.signature)?;
        claims.validate(&inner.rules, now_secs())
    }

    /// Fetches the key set now (discovery included), so the first request does
    /// not pay for it. Returns whether a key set is loaded.
    pub async fn warm_up(&self) -> bool {
        self.inner.keys.refresh().await
    }

    /// Whether a key set has been loaded: a readiness signal for health checks.
    pub fn is_ready(&self) -> bool {
        self.inner.keys.is_loaded()
    }
}

/// RFC 8725 §3.1: the algorithm is the key's, never the token's choice; the
/// signature is checked by jsonwebtoken with the key parsed at load time.
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
    match jsonwebtoken::crypto::verify(signature, signing_input.as_bytes(), &key.key, key.alg) {
        Ok(true) => Ok(()),
        Ok(false) | Err(_) => Err(Error::InvalidSignature),
    }
}

fn describe_typ(typ: Option<&str>) -> std::borrow::Cow<'static, str> {
    match typ {
        None => "absent".into(),
        Some(t) => format!("{:?}", t.chars().take(32).collect::<String>()).into(),
    }
}
