//! Claims: parsing the payload once, checking the registered claims, and the
//! shared value handed to handlers ([`Authenticated`]).

use std::sync::Arc;

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Number;

use super::claim_map::{ClaimMap, Grants};
use super::json::{self, Names, Object};
use super::permissions::{Permissions, heap_block};
use super::typed::{OnKept, Typed};
use crate::error::Error;

/// The registered claims of a validated token (RFC 7519 §4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredClaims {
    /// `iss`: the issuer, equal to the configured one.
    pub iss: String,
    /// `sub`: the subject (a user, or for app-only tokens, the calling app).
    pub sub: Option<String>,
    /// `aud`: every audience the token names (at least one is accepted).
    pub aud: Vec<String>,
    /// `exp`, seconds since the epoch.
    pub exp: i64,
    /// `nbf`, seconds since the epoch.
    pub nbf: Option<i64>,
    /// `iat`, seconds since the epoch.
    pub iat: Option<i64>,
    /// `jti`: the token's identifier.
    pub jti: Option<String>,
}

/// A validated token: its registered claims, delegated scopes, app roles and the
/// full claims set for the caller's own types.
///
/// Cheap to clone (one `Arc`). The layer stores it in the request extensions
/// once; the guards and extractors borrow it, and nothing parses the token again.
#[derive(Debug, Clone)]
pub struct Authenticated(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    registered: RegisteredClaims,
    grants: Grants,
    tenant_id: Option<String>,
    payload: String,
    typed: Typed,
    /// `acr` and `auth_time`, when the token carries them as a string and a
    /// NumericDate: what step-up requirements check (RFC 9470).
    acr: Option<String>,
    auth_time: Option<i64>,
    /// `acrs`: the Microsoft Entra authentication contexts the sign-in
    /// satisfied, when the token carries them as an array of strings.
    acrs: Vec<String>,
    /// `cnf` (RFC 7800): the key or certificate the token is bound to.
    confirmation: Confirmation,
    /// What the validator that vouched for the token adds, shared by all
    /// its tokens.
    context: Arc<Context>,
}

/// The token's `cnf` claim (RFC 7800 §3.1): what it is bound to.
#[derive(Debug, Default, Deserialize)]
struct Confirmation {
    /// RFC 9449 §6.1: the SHA-256 thumbprint of the DPoP key.
    #[serde(default)]
    jkt: Option<String>,
    /// RFC 8705 §3.1: the SHA-256 thumbprint of the client certificate.
    #[serde(default, rename = "x5t#S256")]
    x5t_s256: Option<String>,
    /// Not a claim: for a DPoP-bound token, the `ath` its proofs must carry
    /// (RFC 9449 §4.2: base64url of the SHA-256 of the token's own bytes),
    /// computed once, when those bytes were verified. The verified-token
    /// cache hands the same value to every request presenting them.
    #[serde(skip)]
    ath: Option<String>,
}

/// What a validator hands every token it vouches for: the guards need it
/// and have no validator of their own.
#[derive(Debug, Default)]
pub(crate) struct Context {
    /// The `resource_metadata="…"` challenge parameter (RFC 9728 §5.1).
    pub resource_challenge: Option<Arc<str>>,
    /// The validator's clock, for step-up's authentication age.
    pub time: crate::clock::Time,
    /// The validator's leeway, for the same.
    pub leeway_secs: i64,
    /// How challenges offer DPoP, when the API accepts it.
    pub dpop: Option<DpopChallenge>,
    /// Whether challenges carry `error_description`
    /// ([`Builder::error_descriptions`](crate::Builder::error_descriptions)).
    pub error_descriptions: bool,
}

/// What challenges say of DPoP (RFC 9449 §7.1), fixed when the layer is built.
#[derive(Debug)]
pub(crate) struct DpopChallenge {
    /// The `algs="…"` parameter: the proof algorithms accepted.
    pub algs: Box<str>,
    /// Whether only DPoP-bound tokens are accepted: challenges then name
    /// only the `DPoP` scheme.
    pub required: bool,
}

impl Authenticated {
    /// The registered claims (`iss`, `sub`, `aud`, `exp`, …).
    pub fn registered(&self) -> &RegisteredClaims {
        &self.0.registered
    }

    /// Delegated scopes: by default from `scp` (a space-separated string or an
    /// array) and `scope` (a space-separated string); an issuer may name
    /// others ([`Issuer::scopes_claim`](crate::Issuer::scopes_claim)). Empty
    /// for app-only tokens.
    pub fn scopes(&self) -> &Permissions {
        &self.0.grants.scopes
    }

    /// App roles: by default from `roles` (an array).
    pub fn roles(&self) -> &Permissions {
        &self.0.grants.roles
    }

    /// The calling application: by default from `azp`, `appid` or `client_id`.
    pub fn client_id(&self) -> Option<&str> {
        self.0.grants.client_id.as_deref()
    }

    /// The sign-in policy (user flow) that issued the token, for issuers that
    /// name a policy claim ([`Issuer::policy_claims`](crate::Issuer::policy_claims);
    /// Azure AD B2C: `tfp` or `acr`).
    pub fn policy(&self) -> Option<&str> {
        self.0.grants.policy.as_deref()
    }

    /// The tenant (`tid`), when the token has one (Microsoft Entra ID).
    pub fn tenant_id(&self) -> Option<&str> {
        self.0.tenant_id.as_deref()
    }

    /// The bytes this value holds on the heap: the claims text, every string
    /// copied out of it (issuer, subject, audiences, `jti`, scopes, roles,
    /// calling app, policy, tenant) and the shared allocation itself, each
    /// block as the allocator rounds it. What the verified-token cache weighs
    /// an entry by.
    pub(crate) fn heap_bytes(&self) -> usize {
        let text = |s: &String| heap_block(s.capacity());
        let opt = |s: &Option<String>| s.as_ref().map_or(0, text);
        let inner = &*self.0;
        let r = &inner.registered;
        let aud: usize = r.aud.iter().map(text).sum::<usize>()
            + heap_block(r.aud.capacity() * std::mem::size_of::<String>());
        // The shared allocation: two reference counts and the value.
        heap_block(2 * std::mem::size_of::<usize>() + std::mem::size_of::<Inner>())
            + text(&inner.payload)
            + text(&r.iss)
            + opt(&r.sub)
            + opt(&r.jti)
            + aud
            + inner.grants.scopes.heap_bytes()
            + inner.grants.roles.heap_bytes()
            + opt(&inner.grants.client_id)
            + opt(&inner.grants.policy)
            + opt(&inner.tenant_id)
            + opt(&inner.acr)
            + opt(&inner.confirmation.jkt)
            + opt(&inner.confirmation.x5t_s256)
            + opt(&inner.confirmation.ath)
            + inner.acrs.iter().map(text).sum::<usize>()
            + heap_block(inner.acrs.capacity() * std::mem::size_of::<String>())
    }

    /// The claims set as JSON text, exactly as the token carried it.
    pub fn claims_json(&self) -> &str {
        &self.0.payload
    }

    /// Deserializes the claims set into the caller's own type, afresh on
    /// every call. [`shared_claims`](Self::shared_claims) does it once.
    pub fn claims<T: DeserializeOwned>(&self) -> Result<T, Error> {
        super::typed::deserialize(&self.0.payload)
    }

    /// The claims set as the caller's own type, deserialized on the first
    /// call for `T` and shared afterwards: every clone of this value, and
    /// every request that presents the same token while the verified-token
    /// cache holds it, gets the same `Arc<T>`. What the
    /// [`Claims<T>`](crate::Claims) extractor hands out.
    ///
    /// A token keeps the values of up to four types (a program usually has
    /// one claims type); further types are deserialized on every call. A
    /// kept value counts towards the cache's byte budget
    /// ([`Builder::token_cache_bytes`](crate::Builder::token_cache_bytes)),
    /// estimated from the claims text. Claims that do not fit `T` are
    /// [`Error::ClaimsShape`], on every call.
    ///
    /// ```
    /// # async fn demo(token: bearer_guard::Authenticated) -> Result<(), bearer_guard::Error> {
    /// #[derive(serde::Deserialize)]
    /// struct MyClaims {
    ///     oid: String,
    /// }
    /// let claims = token.shared_claims::<MyClaims>()?;
    /// let again = token.shared_claims::<MyClaims>()?;
    /// assert!(std::sync::Arc::ptr_eq(&claims, &again));
    /// # Ok(()) }
    /// ```
    pub fn shared_claims<T>(&self) -> Result<Arc<T>, Error>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        self.0.typed.get(&self.0.payload)
    }

    /// The scheme this token was presented with: `DPoP` when it is
    /// DPoP-bound (the layer accepts it with no other), else `Bearer`.
    pub(crate) fn scheme(&self) -> super::extract::Scheme {
        match self.dpop_jkt() {
            Some(_) => super::extract::Scheme::Dpop,
            None => super::extract::Scheme::Bearer,
        }
    }

    /// The validator's context, shared.
    pub(crate) fn context_shared(&self) -> Arc<Context> {
        Arc::clone(&self.0.context)
    }

    /// The validator's context: its clock and leeway, for step-up checks.
    pub(crate) fn context(&self) -> &Context {
        &self.0.context
    }

    /// `cnf.jkt` (RFC 9449 §6.1): the SHA-256 thumbprint of the key a DPoP
    /// proof must be signed with, when the token is DPoP-bound.
    pub fn dpop_jkt(&self) -> Option<&str> {
        self.0.confirmation.jkt.as_deref()
    }

    /// The `ath` (RFC 9449 §4.2) of the token this value was verified
    /// from, when it is DPoP-bound and was verified by a validator that
    /// accepts DPoP.
    pub(crate) fn dpop_ath(&self) -> Option<&str> {
        self.0.confirmation.ath.as_deref()
    }

    /// `cnf.x5t#S256` (RFC 8705 §3.1): the SHA-256 thumbprint of the client
    /// certificate the token is bound to, when it is.
    pub fn certificate_thumbprint(&self) -> Option<&str> {
        self.0.confirmation.x5t_s256.as_deref()
    }

    /// `acr`, the authentication context class the user signed in with
    /// (OpenID Connect Core §2), when the token carries it as a string.
    pub fn acr(&self) -> Option<&str> {
        self.0.acr.as_deref()
    }

    /// `auth_time`, when the user last actively signed in (seconds since
    /// the epoch), when the token carries it as a NumericDate.
    pub fn auth_time(&self) -> Option<i64> {
        self.0.auth_time
    }

    /// `acrs`: the Microsoft Entra Conditional Access authentication
    /// contexts (`c1` … `c99`) the sign-in satisfied; empty when the token
    /// carries none (or not as an array of strings).
    pub fn auth_contexts(&self) -> &[String] {
        &self.0.acrs
    }

    /// Reports the bytes of every typed value kept from now on to `on_kept`
    /// (the verified-token cache re-weighs its entry by them).
    pub(crate) fn on_typed_kept(&self, on_kept: OnKept) {
        self.0.typed.on_kept(on_kept);
    }
}

/// The claims set, parsed once before the signature is checked (only `iss`,
/// `tid` and the policy claim are read before it) and kept for the checks
/// after. It borrows the payload text; values are read only when checked.
#[derive(Debug)]
pub(crate) struct Unverified<'a> {
    claims: Object<'a>,
}

/// What [`Unverified::validate`] found, to become an [`Authenticated`] with
/// the payload text.
#[derive(Debug)]
pub(crate) struct Checked {
    registered: RegisteredClaims,
    grants: Grants,
    tenant_id: Option<String>,
    acr: Option<String>,
    auth_time: Option<i64>,
    acrs: Vec<String>,
    confirmation: Confirmation,
}

impl Checked {
    /// For a DPoP-bound token, remembers its `ath`, from `token_hash`: the
    /// SHA-256 of the compact token these claims were verified from, taken
    /// with its signature. Its proofs are compared with it, on this request
    /// and on every later one the verified-token cache answers, without
    /// hashing the token again.
    pub(crate) fn with_dpop_ath(mut self, token_hash: &[u8; 32]) -> Self {
        if self.confirmation.jkt.is_some() {
            self.confirmation.ath = Some(crate::digest::base64url(token_hash));
        }
        self
    }

    /// The shared value handed to handlers, holding `payload` as its claims
    /// text, and the `context` of the validator that vouches for it.
    pub(crate) fn with_payload(self, payload: String, context: Arc<Context>) -> Authenticated {
        Authenticated(Arc::new(Inner {
            registered: self.registered,
            grants: self.grants,
            tenant_id: self.tenant_id,
            payload,
            typed: Typed::default(),
            acr: self.acr,
            auth_time: self.auth_time,
            acrs: self.acrs,
            confirmation: self.confirmation,
            context,
        }))
    }
}

/// What an introspection answer must say besides the claims' rules.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AnswerRules {
    /// Accept a bare `active: true` (no `aud`, no access-token type).
    pub trust_bare_active: bool,
    /// Require an `aud` naming this API, whatever the `token_type`.
    pub require_audience: bool,
}

/// The checks on claims for one issuer, fixed when the layer is built. The
/// issuer itself was matched before the key lookup.
#[derive(Debug, Clone)]
pub(crate) struct ClaimRules {
    pub audiences: Vec<String>,
    pub leeway_secs: i64,
    pub map: ClaimMap,
    /// Refuse tokens that grant neither a scope nor a role (an ID token, or an
    /// app token without roles), as Microsoft Entra ID recommends.
    pub require_permissions: bool,
    /// Claims a token must carry besides `iss`, `aud` and `exp` (a profile's
    /// MUSTs, such as RFC 9068 §2.2). Each is also read by the parser.
    pub required: &'static [&'static str],
}

/// The decoded payload as text: JSON is UTF-8 (RFC 8259 §8.1).
pub(crate) fn payload_text(payload: Vec<u8>) -> Result<String, Error> {
    String::from_utf8(payload).map_err(|_| INVALID_JSON)
}

const INVALID_JSON: Error = Error::MalformedToken("claims are not valid JSON with unique names");

/// The claims the checks themselves read, besides an issuer's [`ClaimMap`].
pub(crate) const CHECKED_CLAIMS: [&str; 12] = [
    "acr",
    "acrs",
    "aud",
    "auth_time",
    "cnf",
    "exp",
    "iat",
    "iss",
    "jti",
    "nbf",
    "sub",
    "tid",
];

impl<'a> Unverified<'a> {
    /// Parses the payload text. RFC 7519 §7.2 step 10: it must be a JSON
    /// object, with unique claim names (RFC 7519 §4). Every value is checked;
    /// only those of the claims named in `read` (`None`: all) are kept for
    /// the checks: the rest are for the handler, through the claims text.
    pub(crate) fn parse(payload: &'a str, read: Option<&Names>) -> Result<Self, Error> {
        if !super::jws::is_json_object(payload.as_bytes()) {
            return Err(Error::ClaimsNotObject);
        }
        let claims = Object::parse_keeping(payload, read).map_err(|_| INVALID_JSON)?;
        Ok(Unverified { claims })
    }

    /// The unverified `iss`, to choose the issuer before any key lookup.
    pub(crate) fn issuer(&self) -> Result<Cow<'a, str>, Error> {
        self.string("iss")?.ok_or(Error::MissingClaim("iss"))
    }

    /// A string claim, unverified; another JSON type is an error.
    pub(crate) fn string(&self, name: &'static str) -> Result<Option<Cow<'a, str>>, Error> {
        match self.claims.get(name) {
            None => Ok(None),
            Some(raw) => json::string(raw).map(Some).ok_or(Error::InvalidClaim(name)),
        }
    }

    /// Whether the token has a `cnf` claim (RFC 7800), unverified: a token
    /// bound to a DPoP key has one, so its hash may be needed for `ath`.
    pub(crate) fn has_confirmation(&self) -> bool {
        self.claims.get("cnf").is_some()
    }

    /// The unverified `tid`, to match a multi-tenant issuer; `None` unless a string.
    pub(crate) fn tenant_id(&self) -> Option<Cow<'a, str>> {
        self.claims.get("tid").and_then(json::string)
    }

    /// The first string among the claims `names`, unverified (the policy).
    pub(crate) fn first_string(&self, names: &[String]) -> Option<Cow<'a, str>> {
        names
            .iter()
            .find_map(|n| self.claims.get(n))
            .and_then(json::string)
    }

    /// Checks the claims at time `now` (after the signature verified). `iss`
    /// was matched to the issuer already.
    pub(crate) fn validate(&self, rules: &ClaimRules, now: i64) -> Result<Checked, Error> {
        let iss = self.issuer()?.into_owned();

        // RFC 7519 §4.1.3: aud is a string or an array of strings; RFC 9068 §4
        // requires it, and one value must be ours.
        let raw_aud = self.claims.get("aud").ok_or(Error::MissingClaim("aud"))?;
        let aud = audiences(raw_aud)?;
        if !aud
            .iter()
            .any(|a| rules.audiences.iter().any(|ours| ours == a))
        {
            return Err(Error::AudienceMismatch);
        }
        self.validate_rest(rules, iss, aud, now)
    }

    /// Checks an introspection response (RFC 7662 §2.2) for `issuer` as
    /// issue 16 lists: `active` the JSON `true`; `iss`, when present, the
    /// issuer; `aud`, when present, naming this API; `token_type` not a
    /// refresh token; the answer saying it is about an access token for this
    /// API (an `aud` naming it, or an access-token `token_type`) unless
    /// `trust_bare_active`; `exp` (required here) and `nbf` with the leeway;
    /// then everything a JWT's claims go through.
    pub(crate) fn validate_introspected(
        &self,
        rules: &ClaimRules,
        issuer: &str,
        answer: AnswerRules,
        now: i64,
    ) -> Result<Checked, Error> {
        // Exactly the JSON literal: not "true", not 1.
        if self.claims.get("active").map(|raw| raw.get()) != Some("true") {
            return Err(Error::TokenInactive);
        }
        let iss = match self.string("iss")? {
            Some(iss) if iss != issuer => return Err(Error::IssuerMismatch),
            Some(iss) => iss.into_owned(),
            None => issuer.to_owned(),
        };
        let aud = match self.claims.get("aud") {
            Some(raw) => audiences(raw)?,
            None => Vec::new(),
        };
        if !aud.is_empty()
            && !aud
                .iter()
                .any(|a| rules.audiences.iter().any(|ours| ours == a))
        {
            return Err(Error::AudienceMismatch);
        }
        let token_type = self.string("token_type")?;
        if token_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("refresh_token"))
        {
            return Err(Error::NotAnAccessToken("token_type is refresh_token"));
        }
        let access_token_type = token_type.as_deref().is_some_and(|t| {
            [
                "bearer",
                "dpop",
                "access_token",
                "urn:ietf:params:oauth:token-type:access_token",
            ]
            .iter()
            .any(|kind| t.eq_ignore_ascii_case(kind))
        });
        if aud.is_empty() && answer.require_audience {
            return Err(Error::NotAnAccessToken("no aud naming this API"));
        }
        if aud.is_empty() && !access_token_type && !answer.trust_bare_active {
            return Err(Error::NotAnAccessToken(
                "neither an aud naming this API nor an access-token token_type",
            ));
        }
        self.validate_rest(rules, iss, aud, now)
    }

    /// What every kind of token goes through once `iss` and `aud` are known.
    fn validate_rest(
        &self,
        rules: &ClaimRules,
        iss: String,
        aud: Vec<Cow<'a, str>>,
        now: i64,
    ) -> Result<Checked, Error> {
        let exp = self
            .numeric_date("exp")?
            .ok_or(Error::MissingClaim("exp"))?;
        let nbf = self.numeric_date("nbf")?;
        check_time(exp, nbf, rules.leeway_secs, now)?;
        let iat = self.numeric_date("iat")?;
        let sub = self.string("sub")?.map(Cow::into_owned);
        let jti = self.string("jti")?.map(Cow::into_owned);
        let tenant_id = self.tenant_id().map(Cow::into_owned);

        // Checked after the registered claims' types, so that a present
        // claim of the wrong type keeps its own, more precise reason.
        if let Some(name) = rules.required.iter().find(|n| self.claims.get(n).is_none()) {
            return Err(Error::MissingClaim(name));
        }
        let grants = rules.map.read(&self.claims)?;
        if rules.require_permissions && grants.scopes.is_empty() && grants.roles.is_empty() {
            return Err(Error::NoPermissions);
        }

        // Read for step-up requirements only, leniently: a route without
        // one does not care, and one with one refuses a token without them.
        let acr = self
            .claims
            .get("acr")
            .and_then(json::string)
            .map(Cow::into_owned);
        let auth_time = self
            .claims
            .get("auth_time")
            .and_then(json::number)
            .as_ref()
            .and_then(number_to_secs);

        let acrs = self
            .claims
            .get("acrs")
            .and_then(json::strings)
            .map(|all| all.into_iter().map(Cow::into_owned).collect())
            .unwrap_or_default();

        // RFC 7800: an object; a binding this crate cannot read (a `jkt`
        // that is not a string) refuses the token rather than drop it.
        let confirmation = match self.claims.get("cnf") {
            None => Confirmation::default(),
            Some(raw) => serde_json::from_str::<Confirmation>(raw.get())
                .map_err(|_| Error::InvalidClaim("cnf"))?,
        };

        Ok(Checked {
            acr,
            auth_time,
            acrs,
            confirmation,
            registered: RegisteredClaims {
                iss,
                sub,
                aud: aud.into_iter().map(Cow::into_owned).collect(),
                exp,
                nbf,
                iat,
                jti,
            },
            grants,
            tenant_id,
        })
    }

    /// RFC 7519 §2 NumericDate: a JSON number of seconds, possibly fractional.
    /// Strings, booleans and out-of-range values are refused (type confusion).
    fn numeric_date(&self, name: &'static str) -> Result<Option<i64>, Error> {
        match self.claims.get(name) {
            None => Ok(None),
            Some(raw) => json::number(raw)
                .as_ref()
                .and_then(number_to_secs)
                .map(Some)
                .ok_or(Error::InvalidClaim(name)),
        }
    }
}

/// RFC 7519 §4.1.3: `aud` is a string or an array of strings.
fn audiences(raw: &serde_json::value::RawValue) -> Result<Vec<Cow<'_, str>>, Error> {
    match json::kind(raw) {
        json::Kind::String => json::string(raw).map(|a| vec![a]),
        json::Kind::Array => json::strings(raw),
        _ => None,
    }
    .ok_or(Error::InvalidClaim("aud"))
}

pub(crate) fn number_to_secs(n: &Number) -> Option<i64> {
    if let Some(i) = n.as_i64() {
        return Some(i);
    }
    let f = n.as_f64()?;
    // Beyond ±2^53 a float no longer holds whole seconds; such dates are bogus.
    const LIMIT: f64 = 9_007_199_254_740_992.0;
    if f.is_finite() && f.abs() < LIMIT {
        // Truncation is the point: whole seconds, rounded toward the past.
        #[allow(clippy::cast_possible_truncation)]
        Some(f.floor() as i64)
    } else {
        None
    }
}

/// The time-dependent checks, run on every request, cached token or not.
pub(crate) fn check_time(
    exp: i64,
    nbf: Option<i64>,
    leeway_secs: i64,
    now: i64,
) -> Result<(), Error> {
    // RFC 7519 §4.1.4: reject on or after exp (plus leeway); required here.
    if now >= exp.saturating_add(leeway_secs) {
        return Err(Error::Expired);
    }
    // RFC 7519 §4.1.5: reject before nbf (minus leeway), when present.
    if let Some(nbf) = nbf
        && now.saturating_add(leeway_secs) < nbf
    {
        return Err(Error::NotYetValid);
    }
    Ok(())
}

#[cfg(test)]
impl ClaimRules {
    /// Rules for unit tests: audience `api`, `leeway_secs`, the default claim
    /// map, nothing else required.
    pub(crate) fn for_tests(leeway_secs: i64) -> Self {
        ClaimRules {
            audiences: vec!["api".into()],
            leeway_secs,
            map: super::claim_map::ClaimMap::default(),
            require_permissions: false,
            required: &[],
        }
    }
}

/// Parses and checks a claims set alone (no signature): for unit tests.
#[cfg(test)]
pub(crate) fn check_claims(
    payload: &str,
    rules: &ClaimRules,
    now: i64,
) -> Result<Authenticated, Error> {
    check_claims_in(payload, rules, now, Arc::default())
}

/// [`check_claims`], vouched for with `context` (its clock and leeway).
#[cfg(test)]
pub(crate) fn check_claims_in(
    payload: &str,
    rules: &ClaimRules,
    now: i64,
    context: Arc<Context>,
) -> Result<Authenticated, Error> {
    let checked = Unverified::parse(payload, None)?.validate(rules, now)?;
    Ok(checked.with_payload(payload.to_owned(), context))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> ClaimRules {
        ClaimRules {
            audiences: vec!["api://a".into(), "api://b".into()],
            leeway_secs: 60,
            map: ClaimMap::default(),
            require_permissions: false,
            required: &[],
        }
    }

    fn check(json: &str, now: i64) -> Result<Authenticated, Error> {
        check_claims(json, &rules(), now)
    }

    const NOW: i64 = 1_700_000_000;

    #[test]
    fn accepts_a_complete_token_and_collects_scopes_and_roles() {
        let a = check(
            r#"{"iss":"https://issuer.example","aud":["x","api://b"],"exp":1700000100,
               "scp":"read write read","scope":"extra","roles":["Read.All"],"azp":"app-1","sub":"u"}"#,
            NOW,
        )
        .expect("valid");
        assert_eq!(
            a.scopes().iter().collect::<Vec<_>>(),
            ["read", "write", "extra"]
        );
        assert_eq!(a.roles().iter().collect::<Vec<_>>(), ["Read.All"]);
        assert_eq!(a.client_id(), Some("app-1"));
        assert_eq!(a.registered().sub.as_deref(), Some("u"));
        assert_eq!(a.registered().aud, ["x", "api://b"]);
    }

    #[test]
    fn okta_style_scp_array_is_read() {
        let a = check(
            r#"{"iss":"https://issuer.example","aud":"api://a","exp":1700000100,"scp":["a","b"]}"#,
            NOW,
        )
        .expect("valid");
        assert_eq!(a.scopes().iter().collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn time_checks_honour_the_leeway_at_the_edges() {
        let exp =
            |e: i64| format!(r#"{{"iss":"https://issuer.example","aud":"api://a","exp":{e}}}"#);
        assert!(check(&exp(NOW - 59), NOW).is_ok());
        assert_eq!(check(&exp(NOW - 60), NOW).err(), Some(Error::Expired));
        let nbf = |n: i64| {
            format!(
                r#"{{"iss":"https://issuer.example","aud":"api://a","exp":{},"nbf":{n}}}"#,
                NOW + 500
            )
        };
        assert!(check(&nbf(NOW + 60), NOW).is_ok());
        assert_eq!(check(&nbf(NOW + 61), NOW).err(), Some(Error::NotYetValid));
        // Fractional NumericDate is allowed (RFC 7519 §2).
        assert!(
            check(
                &exp(NOW + 10).replace(&(NOW + 10).to_string(), "1700000010.5"),
                NOW
            )
            .is_ok()
        );
    }

    #[test]
    fn each_registered_claim_is_enforced() {
        let cases: [(&str, Error); 10] = [
            (
                r#"{"aud":"api://a","exp":1700000100}"#,
                Error::MissingClaim("iss"),
            ),
            (
                r#"{"iss":["https://issuer.example"],"aud":"api://a","exp":1700000100}"#,
                Error::InvalidClaim("iss"),
            ),
            (
                r#"{"iss":"https://issuer.example","exp":1700000100}"#,
                Error::MissingClaim("aud"),
            ),
            (
                r#"{"iss":"https://issuer.example","aud":"api://c","exp":1700000100}"#,
                Error::AudienceMismatch,
            ),
            (
                r#"{"iss":"https://issuer.example","aud":[],"exp":1700000100}"#,
                Error::AudienceMismatch,
            ),
            (
                r#"{"iss":"https://issuer.example","aud":[1],"exp":1700000100}"#,
                Error::InvalidClaim("aud"),
            ),
            (
                r#"{"iss":"https://issuer.example","aud":"api://a"}"#,
                Error::MissingClaim("exp"),
            ),
            (
                r#"{"iss":"https://issuer.example","aud":"api://a","exp":"1700000100"}"#,
                Error::InvalidClaim("exp"),
            ),
            (
                r#"{"iss":"https://issuer.example","aud":"api://a","exp":1e300}"#,
                Error::InvalidClaim("exp"),
            ),
            (
                r#"{"iss":"https://issuer.example","aud":"api://a","exp":1700000100,"roles":"Admin"}"#,
                Error::InvalidPermissionClaim("roles".into()),
            ),
        ];
        for (json, want) in cases {
            assert_eq!(check(json, NOW).err(), Some(want), "{json}");
        }
    }

    #[test]
    fn payload_must_be_an_object_without_duplicates() {
        assert_eq!(
            check(r#"["https://issuer.example"]"#, NOW).err(),
            Some(Error::ClaimsNotObject)
        );
        assert_eq!(check("\"x\"", NOW).err(), Some(Error::ClaimsNotObject));
        assert!(matches!(
            check(
                r#"{"iss":"https://issuer.example","iss":"https://issuer.example","aud":"api://a","exp":1700000100}"#,
                NOW
            ),
            Err(Error::MalformedToken(_))
        ));
    }

    #[test]
    fn a_profiles_required_claims_must_be_present() {
        let strict = ClaimRules {
            required: &["sub", "jti", "client_id"],
            ..rules()
        };
        let base = r#""iss":"https://issuer.example","aud":"api://a","exp":1700000100"#;
        let with = |extra: &str| check_claims(&format!("{{{base}{extra}}}"), &strict, NOW);
        assert!(with(r#","sub":"u","jti":"j","client_id":"c""#).is_ok());
        assert_eq!(
            with(r#","jti":"j","client_id":"c""#).err(),
            Some(Error::MissingClaim("sub"))
        );
        assert_eq!(
            with(r#","sub":"u","jti":"j""#).err(),
            Some(Error::MissingClaim("client_id"))
        );
        assert_eq!(
            with(r#","sub":7,"jti":"j","client_id":"c""#).err(),
            Some(Error::InvalidClaim("sub")),
            "a present claim of the wrong type keeps its own reason"
        );
    }

    #[test]
    fn tokens_granting_nothing_are_refused_when_permissions_are_required() {
        let strict = ClaimRules {
            require_permissions: true,
            ..rules()
        };
        let check_strict = |json: &str| check_claims(json, &strict, NOW);
        let base = r#""iss":"https://issuer.example","aud":"api://a","exp":1700000100"#;
        assert_eq!(
            check_strict(&format!("{{{base}}}")).err(),
            Some(Error::NoPermissions)
        );
        assert_eq!(
            check_strict(&format!(r#"{{{base},"scp":""}}"#)).err(),
            Some(Error::NoPermissions)
        );
        assert!(check_strict(&format!(r#"{{{base},"scp":"read"}}"#)).is_ok());
        assert!(check_strict(&format!(r#"{{{base},"roles":["Read.All"]}}"#)).is_ok());
        assert!(check(&format!("{{{base}}}"), NOW).is_ok());
    }
}
