//! The checks that tie a request's DPoP proof to the request and to the
//! token (RFC 9449 §4.3 checks 1, 8-12, §7.2), run after the token itself
//! was validated (or found in the verified-token cache).

use http::{HeaderMap, Method, Uri};

use super::DpopPolicy;
use super::proof::{self, Proof};
use crate::digest::{sha256, sha256_base64url};
use crate::error::Error;
use crate::token::claims::Authenticated;
use crate::token::extract::Scheme;

/// The request header carrying the proof.
const DPOP: &str = "dpop";

/// What a request's token is checked against besides the token itself:
/// its scheme, method and URI and headers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestTarget<'a> {
    pub(crate) method: &'a Method,
    pub(crate) uri: &'a Uri,
}

/// What can be decided without the replay store: the scheme against the
/// token's binding. `Ok(true)`: a DPoP request whose proof must be checked
/// ([`confirm`]); `Ok(false)`: a bearer request that may pass.
pub(crate) fn needs_proof(
    policy: &DpopPolicy,
    scheme: Scheme,
    token: &Authenticated,
) -> Result<bool, Error> {
    match (scheme, token.dpop_jkt()) {
        // §7.2: a bound token is never accepted as a bearer token.
        (Scheme::Bearer, Some(_)) => Err(Error::BoundTokenAsBearer),
        (Scheme::Bearer, None) if policy.required => Err(Error::DpopRequired),
        (Scheme::Bearer, None) => Ok(false),
        (Scheme::Dpop, None) => Err(Error::TokenNotDpopBound),
        (Scheme::Dpop, Some(_)) => Ok(true),
    }
}

/// Checks the request's one `DPoP` proof against the request, the token
/// (`token_text`, as presented, and its `cnf.jkt`), and the replay store.
pub(crate) async fn confirm(
    policy: &DpopPolicy,
    target: Option<RequestTarget<'_>>,
    headers: &HeaderMap,
    token_text: &[u8],
    token: &Authenticated,
) -> Result<(), Error> {
    let jkt = token.dpop_jkt().ok_or(Error::TokenNotDpopBound)?;
    let target = target.ok_or(Error::InvalidDpopProof(
        "the request's method and URI were not given to check the proof against",
    ))?;
    // Check 1 and 2: exactly one proof.
    let mut values = headers.get_all(DPOP).iter();
    let value = values
        .next()
        .ok_or(Error::InvalidDpopProof("no DPoP header"))?;
    if values.next().is_some() {
        return Err(Error::InvalidDpopProof("more than one DPoP header"));
    }
    // Checks 3-7.
    let proof = proof::verify(
        value.as_bytes(),
        &policy.algorithms,
        policy.max_proof_bytes,
        &policy.proof_keys,
    )?;
    check_target(&proof, target, policy)?;
    // Check 12, first half: the token's hash.
    let ath = proof
        .ath
        .as_deref()
        .ok_or(Error::InvalidDpopProof("no ath"))?;
    // The hash was taken when the token's bytes were verified (a cache hit
    // is for exactly those bytes); a token verified without DPoP has none.
    let matches = match token.dpop_ath() {
        Some(expected) => {
            debug_assert_eq!(expected, sha256_base64url(token_text));
            ath == expected
        }
        None => ath == sha256_base64url(token_text),
    };
    if !matches {
        return Err(Error::InvalidDpopProof("ath is not the token's hash"));
    }
    // §9: a nonce of ours, fresh; else a new one for the client to use.
    if let Some(nonces) = &policy.nonces {
        let now = policy.time.now_secs();
        if !proof
            .nonce
            .as_deref()
            .is_some_and(|n| nonces.accepts(n, now, policy.leeway_secs))
        {
            return Err(match nonces.issue(now) {
                Some(nonce) => Error::UseDpopNonce { nonce },
                None => Error::InvalidDpopProof("no nonce could be issued"),
            });
        }
    }
    check_time(&proof, policy)?;
    // Check 12: the key.
    let proof_jkt = proof.key.jkt.as_str();
    if proof_jkt != jkt {
        return Err(Error::DpopKeyMismatch);
    }
    // Last, so that a proof refused for another reason burns no jti: the
    // proof's jti, once per key, within its window (§11.1).
    let mut key = Vec::with_capacity(proof_jkt.len() + 1 + proof.jti.len());
    key.extend_from_slice(proof_jkt.as_bytes());
    key.push(b' ');
    key.extend_from_slice(proof.jti.as_bytes());
    match policy.replay.insert_new(sha256(&key), policy.window).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(Error::DpopProofReplayed),
        Err(e) => Err(Error::ReplayStoreUnavailable { reason: e.0 }),
    }
}

/// Checks 8 and 9: method and target URI.
fn check_target(
    proof: &Proof,
    target: RequestTarget<'_>,
    policy: &DpopPolicy,
) -> Result<(), Error> {
    // Methods are case-sensitive (RFC 9110 §9.1).
    if proof.htm != target.method.as_str() {
        return Err(Error::InvalidDpopProof("htm is not the request's method"));
    }
    if !policy.base.matches(&proof.htu, target.uri.path()) {
        return Err(Error::InvalidDpopProof("htu is not the request's URI"));
    }
    Ok(())
}

/// Check 11: the proof's age, on the layer's clock.
fn check_time(proof: &Proof, policy: &DpopPolicy) -> Result<(), Error> {
    let now = policy.time.now_secs();
    if proof.iat > now.saturating_add(policy.leeway_secs) {
        return Err(Error::InvalidDpopProof("iat is in the future"));
    }
    let oldest = now
        .saturating_sub(policy.max_age_secs)
        .saturating_sub(policy.leeway_secs);
    if proof.iat < oldest {
        return Err(Error::InvalidDpopProof("iat is too old"));
    }
    Ok(())
}
