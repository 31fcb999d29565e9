//! The one error type for every rejection, and its classification on the wire.
//!
//! Each variant is one precise reason. The reason is logged (see
//! `tower::response`); what reaches the client is only the RFC 6750 class the
//! variant belongs to ([`Error::challenge`]), so a client never learns *why* its
//! token failed beyond `invalid_token`.
//!
//! The bottom of the import graph: every stage imports from here, and this
//! module imports only the algorithm type.

use std::borrow::Cow;
use std::fmt;

use crate::token::algorithm::Algorithm;

/// Why a request was rejected.
///
/// The `Display` text is the precise internal reason, meant for logs. It never
/// contains the token and never contains unbounded attacker-controlled text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request carries no `Authorization` header.
    #[error("no Authorization header")]
    MissingToken,
    /// The `Authorization` header uses another scheme than `Bearer`.
    #[error("Authorization header does not use the Bearer scheme")]
    NotBearer,
    /// More than one `Authorization` header (RFC 6750 §2: one method, one token).
    #[error("more than one Authorization header")]
    MultipleAuthorizationHeaders,
    /// The request carries a token by more than one method (the
    /// `Authorization` header, the `access_token` query parameter, a
    /// cookie): RFC 6750 §2 allows one.
    #[error("token sent by more than one method")]
    MultipleTokenMethods,
    /// The `Authorization: Bearer` value is not a `b64token` (RFC 6750 §2.1).
    #[error("malformed Bearer credentials: {0}")]
    MalformedAuthorization(&'static str),
    /// The token is longer than the configured cap (checked before any decoding).
    #[error("token is {len} bytes, more than the {max}-byte cap")]
    TokenTooLarge {
        /// The token's length in bytes.
        len: usize,
        /// The configured cap.
        max: usize,
    },
    /// The token is not a well-formed compact JWS (segments, base64url or JSON).
    #[error("malformed token: {0}")]
    MalformedToken(&'static str),
    /// The header's `alg` is unknown, `none`, symmetric, or not in the allow-list.
    #[error("algorithm {0} is not allowed")]
    DisallowedAlgorithm(Cow<'static, str>),
    /// The header carries a parameter this layer refuses (`crit`, `zip`, `b64`, `enc`).
    #[error("unsupported header parameter `{0}`")]
    UnsupportedHeader(&'static str),
    /// The header's `typ` does not match the configured [`TypPolicy`](crate::TypPolicy).
    #[error("token type (typ) not accepted: {0}")]
    WrongType(Cow<'static, str>),
    /// The header has no `kid`, so no key can be chosen.
    #[error("token header has no kid")]
    MissingKeyId,
    /// No key in the issuer's key set has the token's `kid`, even after a refresh
    /// (or the refresh cooldown forbade one).
    #[error("no key with the token's kid in the issuer's key set")]
    UnknownKeyId,
    /// The token's `alg` differs from the algorithm its key is bound to.
    #[error("token alg {token:?} does not match its key's algorithm {key:?}")]
    AlgorithmMismatch {
        /// The algorithm named by the token.
        token: Algorithm,
        /// The algorithm the key is bound to.
        key: Algorithm,
    },
    /// The signature does not verify with the key.
    #[error("signature does not verify")]
    InvalidSignature,
    /// The key set binds the token's key to another issuer (its `issuer`
    /// member, resolved with the token's `tid`, does not name the token's `iss`).
    #[error("the token's key is bound to another issuer")]
    KeyIssuerMismatch,
    /// The claims are not a JSON object (RFC 7519 §7.2 step 10).
    #[error("claims are not a JSON object")]
    ClaimsNotObject,
    /// A registered or permission claim is missing.
    #[error("required claim `{0}` is missing")]
    MissingClaim(&'static str),
    /// A claim has the wrong JSON type or an unusable value.
    #[error("claim `{0}` has an invalid type or value")]
    InvalidClaim(&'static str),
    /// A permission claim (scopes, roles, calling app, policy) has the wrong JSON type.
    #[error("permission claim `{0}` has an invalid type")]
    InvalidPermissionClaim(String),
    /// The token grants neither a scope nor a role, and its issuer requires one
    /// (an ID token presented as an access token).
    #[error("token grants no scope and no role")]
    NoPermissions,
    /// `iss` is not a trusted issuer (or, for a tenant template, not this
    /// token's tenant, or a tenant outside the allow-list).
    #[error("issuer is not trusted")]
    IssuerMismatch,
    /// The token's sign-in policy (Azure AD B2C user flow) is not one the
    /// issuer is configured for.
    #[error("sign-in policy not accepted")]
    PolicyNotAccepted,
    /// No `aud` value is one of the configured audiences.
    #[error("audience is not accepted")]
    AudienceMismatch,
    /// `exp` is in the past (beyond the leeway).
    #[error("token expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("token not yet valid (nbf)")]
    NotYetValid,
    /// The handler asked for claims of a shape this token does not have (the
    /// deserializer's message, escaped and bounded: it may quote claim text).
    #[error("claims do not deserialize into the handler's type: {0}")]
    ClaimsShape(String),
    /// No key set has ever been loaded for the issuer (it is unreachable or
    /// returned nothing usable); the token is not at fault.
    #[error("the issuer's keys are unavailable; next fetch attempt in {retry_after_secs} s")]
    KeysUnavailable {
        /// Seconds until the key cache will try to fetch again (at least 1):
        /// the `Retry-After` the client is given.
        retry_after_secs: u64,
    },
    /// A route guard ran, but no token was validated for this request: the route
    /// needs authentication.
    #[error("route requires authentication, and the request has no validated token")]
    Unauthenticated,
    /// A valid token that lacks the permission a route requires.
    #[error("token lacks the required permission: route needs {requirement}")]
    InsufficientScope {
        /// What is missing (space-separated scopes, else roles), for the
        /// `scope` attribute; may be empty.
        required: String,
        /// The route's whole requirement, readable, for the log (claim
        /// values included).
        requirement: String,
        /// The requirement as a challenge's `error_description` may name it
        /// (when [descriptions](crate::Builder::error_descriptions) are on):
        /// scopes, roles, clients, policies, claim paths and custom names,
        /// never a claim value.
        needs: String,
    },
    /// A valid token with the permission a route requires, but signed in
    /// with another authentication context (`acr`) or too long ago
    /// (`auth_time`) for it: the client should have the user sign in again
    /// as RFC 9470 says.
    #[error("token's authentication is not enough for the route: {reason}")]
    InsufficientUserAuthentication {
        /// The acceptable `acr` values, space-separated (may be empty), for
        /// the challenge's `acr_values`.
        acr_values: String,
        /// The maximum authentication age in seconds, for `max_age`.
        max_age: Option<u64>,
        /// What was found, for the log.
        reason: String,
    },
    /// A valid token with the permission a route requires, but without the
    /// Microsoft Entra authentication context (`acrs`) the route needs: the
    /// client should ask for it with the claims challenge (`claims`).
    #[error("token lacks the authentication context {context:?} the route needs")]
    InsufficientClaims {
        /// The authentication context id (`c1` … `c99`).
        context: String,
    },
    /// The request's DPoP proof (RFC 9449 §4.3) is missing, malformed, or
    /// fails one of its checks (type, algorithm, key, signature, `htm`,
    /// `htu`, `iat`, `ath`): which one, for the log.
    #[error("DPoP proof refused: {0}")]
    InvalidDpopProof(&'static str),
    /// The DPoP proof's `jti` was seen before within the acceptance window
    /// (RFC 9449 §11.1): a replayed proof.
    #[error("DPoP proof replayed (its jti was seen before)")]
    DpopProofReplayed,
    /// The DPoP proof is signed by another key than the one the token is
    /// bound to (`cnf.jkt`, RFC 9449 §6.1).
    #[error("DPoP proof key does not match the token's cnf.jkt")]
    DpopKeyMismatch,
    /// A token bound to a key (`cnf.jkt`) presented with the `Bearer`
    /// scheme: refused, never downgraded to a bearer token (RFC 9449 §7.2).
    #[error("a DPoP-bound token was presented as a bearer token")]
    BoundTokenAsBearer,
    /// A token without `cnf.jkt` presented with the `DPoP` scheme.
    #[error("token presented with the DPoP scheme is not DPoP-bound")]
    TokenNotDpopBound,
    /// A sender-constrained token (bound to a DPoP key by `cnf.jkt`, or to a
    /// client certificate by `cnf.x5t#S256`) reached an API that does not
    /// check that binding ([`Builder::dpop`](crate::Builder::dpop),
    /// [`Builder::certificate_bound_tokens`](crate::Builder::certificate_bound_tokens)):
    /// refused, unless the builder
    /// [accepts such tokens as bearer tokens](crate::Builder::dangerously_accept_bound_tokens_as_bearer).
    #[error("token is sender-constrained ({0}) and this API does not check that binding")]
    BindingNotChecked(&'static str),
    /// The API accepts only DPoP-bound tokens, and the request used another
    /// scheme.
    #[error("this API requires the DPoP scheme")]
    DpopRequired,
    /// A token bound to a client certificate (`cnf.x5t#S256`, RFC 8705 §3)
    /// on a request that came without one.
    #[error("certificate-bound token without a client certificate")]
    CertificateRequired,
    /// A token bound to another client certificate than the request's.
    #[error("the client certificate is not the one the token is bound to")]
    CertificateMismatch,
    /// The trusted proxy's forwarded-certificate header cannot be read as
    /// one certificate.
    #[error("forwarded client certificate refused: {0}")]
    ForwardedCertificate(&'static str),
    /// The authorization server's introspection endpoint says the token is
    /// not active (RFC 7662 §2.2: expired, revoked, or never issued).
    #[error("introspection: token is not active")]
    TokenInactive,
    /// The introspection response does not describe an access token for
    /// this API (a refresh token, or a bare `active: true`).
    #[error("introspection: not an access token for this API: {0}")]
    NotAnAccessToken(&'static str),
    /// The introspection endpoint could not be asked or gave no usable
    /// answer (down, an error status, a redirect, a timeout, an oversized or
    /// malformed body); the token may be fine, and is not accepted unchecked.
    #[error("introspection unavailable: {reason}")]
    IntrospectionUnavailable {
        /// Why, for the log.
        reason: String,
    },
    /// The API requires server-provided DPoP nonces (RFC 9449 §9) and the
    /// proof has none, or one that is not ours or has expired: the client
    /// is given `nonce` (in `DPoP-Nonce`) to sign a new proof with.
    #[error("DPoP proof lacks a valid server nonce")]
    UseDpopNonce {
        /// A fresh nonce, for the `DPoP-Nonce` response header.
        nonce: String,
    },
    /// The DPoP replay store (Redis, say) could not be asked whether the
    /// proof is new; the proof is not at fault, and is not accepted unchecked.
    #[error("the DPoP replay store is unavailable: {reason}")]
    ReplayStoreUnavailable {
        /// Why, for the log.
        reason: String,
    },
}

/// Text that came from a token or a key server, as it may appear in an error
/// and so in a log line: at most `max_chars` characters of it, quoted and
/// escaped as Rust's debug form escapes a string (`\n`, `\u{1b}`, `\"`), with
/// `…` after the quote when it was cut. A newline, a carriage return or an
/// ANSI sequence in a signed claim can then neither forge a log line nor
/// corrupt a terminal, and a huge value cannot flood the log.
pub(crate) fn log_safe(text: &str, max_chars: usize) -> String {
    let kept: String = text.chars().take(max_chars).collect();
    let cut = kept.len() < text.len();
    format!("{kept:?}{}", if cut { "…" } else { "" })
}

/// `error` and its whole `source()` chain on one line, `: `-separated, as
/// logs and `Display` show a cause: "error sending request: client error
/// (Connect): invalid peer certificate: UnknownIssuer". A cause whose text
/// its parent's message already ends with is not repeated.
pub(crate) fn causes<'a>(error: &'a (dyn std::error::Error + 'static)) -> Causes<'a> {
    Causes(error)
}

/// See [`causes`].
pub(crate) struct Causes<'a>(&'a (dyn std::error::Error + 'static));

impl fmt::Display for Causes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut last = self.0.to_string();
        f.write_str(&last)?;
        // Bounded: a cyclic or absurdly deep chain cannot loop forever.
        let mut next = self.0.source();
        for _ in 0..16 {
            let Some(cause) = next else { break };
            let text = cause.to_string();
            if !text.is_empty() && !last.ends_with(&text) {
                write!(f, ": {text}")?;
            }
            last = text;
            next = cause.source();
        }
        Ok(())
    }
}

/// The RFC 6750 class of a rejection: what the client is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Challenge {
    /// 401 with a bare `WWW-Authenticate: Bearer` (RFC 6750 §3.1: the request
    /// carried no authentication information).
    Bare,
    /// 400 `invalid_request`.
    InvalidRequest,
    /// 401 `invalid_token`.
    InvalidToken,
    /// 403 `insufficient_scope`.
    InsufficientScope,
    /// 401 `insufficient_user_authentication` (RFC 9470 §3), with the
    /// `acr_values` and `max_age` the route needs.
    InsufficientUserAuthentication,
    /// 401 `insufficient_claims` with a `claims` challenge: the form
    /// Microsoft's clients (MSAL) understand for an authentication context.
    InsufficientClaims,
    /// 503, with `Retry-After`: the keys to check the token (or the DPoP
    /// replay store) cannot be had.
    Unavailable,
    /// 401 `DPoP error="invalid_dpop_proof"` (RFC 9449 §7.1).
    InvalidDpopProof,
    /// 401 `DPoP error="use_dpop_nonce"` with a `DPoP-Nonce` header
    /// (RFC 9449 §9).
    UseDpopNonce,
}

impl Error {
    /// The RFC 6750 class this error belongs to.
    pub fn challenge(&self) -> Challenge {
        match self {
            Error::MissingToken
            | Error::NotBearer
            | Error::Unauthenticated
            | Error::DpopRequired => Challenge::Bare,
            Error::InvalidDpopProof(_) | Error::DpopProofReplayed => Challenge::InvalidDpopProof,
            Error::UseDpopNonce { .. } => Challenge::UseDpopNonce,
            Error::ReplayStoreUnavailable { .. } | Error::IntrospectionUnavailable { .. } => {
                Challenge::Unavailable
            }
            Error::MultipleAuthorizationHeaders
            | Error::MultipleTokenMethods
            | Error::MalformedAuthorization(_) => Challenge::InvalidRequest,
            Error::InsufficientScope { .. } => Challenge::InsufficientScope,
            Error::InsufficientUserAuthentication { .. } => {
                Challenge::InsufficientUserAuthentication
            }
            Error::InsufficientClaims { .. } => Challenge::InsufficientClaims,
            Error::KeysUnavailable { .. } => Challenge::Unavailable,
            Error::TokenTooLarge { .. }
            | Error::MalformedToken(_)
            | Error::DisallowedAlgorithm(_)
            | Error::UnsupportedHeader(_)
            | Error::WrongType(_)
            | Error::MissingKeyId
            | Error::UnknownKeyId
            | Error::AlgorithmMismatch { .. }
            | Error::InvalidSignature
            | Error::KeyIssuerMismatch
            | Error::ClaimsNotObject
            | Error::MissingClaim(_)
            | Error::InvalidClaim(_)
            | Error::InvalidPermissionClaim(_)
            | Error::NoPermissions
            | Error::PolicyNotAccepted
            | Error::IssuerMismatch
            | Error::AudienceMismatch
            | Error::Expired
            | Error::NotYetValid
            | Error::ClaimsShape(_)
            | Error::DpopKeyMismatch
            | Error::BoundTokenAsBearer
            | Error::TokenNotDpopBound
            | Error::BindingNotChecked(_)
            | Error::CertificateRequired
            | Error::CertificateMismatch
            | Error::ForwardedCertificate(_)
            | Error::TokenInactive
            | Error::NotAnAccessToken(_) => Challenge::InvalidToken,
        }
    }

    /// A short description of this reason from a fixed vocabulary, for the
    /// `error_description` challenge parameter (RFC 6750 §3) when
    /// [`Builder::error_descriptions`](crate::Builder::error_descriptions) is
    /// on: "token expired", "audience not accepted", … Never token content,
    /// key material or a configured value: a constant per reason, made of
    /// the characters RFC 6750 allows there.
    pub fn description(&self) -> &'static str {
        match self {
            Error::MissingToken | Error::NotBearer | Error::Unauthenticated => "no access token",
            Error::DpopRequired => "the DPoP scheme is required",
            Error::MultipleAuthorizationHeaders => "more than one Authorization header",
            Error::MultipleTokenMethods => "token sent by more than one method",
            Error::MalformedAuthorization(_) => "malformed Authorization header",
            Error::TokenTooLarge { .. } => "token too large",
            Error::MalformedToken(_) => "malformed token",
            Error::DisallowedAlgorithm(_) => "signing algorithm not accepted",
            Error::UnsupportedHeader(_) => "unsupported token header parameter",
            Error::WrongType(_) => "token type not accepted",
            Error::MissingKeyId => "token names no signing key",
            Error::UnknownKeyId => "signing key not found",
            Error::AlgorithmMismatch { .. } => "algorithm does not match the signing key",
            Error::InvalidSignature => "signature invalid",
            Error::KeyIssuerMismatch => "signing key belongs to another issuer",
            Error::ClaimsNotObject => "claims are not a JSON object",
            Error::MissingClaim(_) => "a required claim is missing",
            Error::InvalidClaim(_) => "a claim has an invalid value",
            Error::InvalidPermissionClaim(_) => "a permission claim has an invalid type",
            Error::NoPermissions => "token grants no scope and no role",
            Error::IssuerMismatch => "issuer not accepted",
            Error::PolicyNotAccepted => "sign-in policy not accepted",
            Error::AudienceMismatch => "audience not accepted",
            Error::Expired => "token expired",
            Error::NotYetValid => "token not yet valid",
            Error::ClaimsShape(_) => "claims do not fit this API",
            Error::KeysUnavailable { .. } => "signing keys unavailable",
            Error::InsufficientScope { .. } => "insufficient permission",
            Error::InsufficientUserAuthentication { .. } => {
                "stronger or more recent authentication required"
            }
            Error::InsufficientClaims { .. } => "authentication context required",
            Error::InvalidDpopProof(_) => "invalid DPoP proof",
            Error::DpopProofReplayed => "DPoP proof replayed",
            Error::DpopKeyMismatch => "DPoP proof key does not match the token",
            Error::BoundTokenAsBearer => "DPoP-bound token sent as a bearer token",
            Error::TokenNotDpopBound => "token is not DPoP-bound",
            Error::BindingNotChecked(_) => "sender-constrained token not accepted here",
            Error::CertificateRequired => "client certificate required",
            Error::CertificateMismatch => "client certificate does not match the token",
            Error::ForwardedCertificate(_) => "client certificate not usable",
            Error::TokenInactive => "token not active",
            Error::NotAnAccessToken(_) => "not an access token for this API",
            Error::IntrospectionUnavailable { .. } => "token introspection unavailable",
            Error::UseDpopNonce { .. } => "DPoP nonce required",
            Error::ReplayStoreUnavailable { .. } => "DPoP replay store unavailable",
        }
    }

    /// A short, stable name for this reason, for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Error::MissingToken => "missing_token",
            Error::NotBearer => "not_bearer",
            Error::MultipleAuthorizationHeaders => "multiple_authorization_headers",
            Error::MultipleTokenMethods => "multiple_token_methods",
            Error::MalformedAuthorization(_) => "malformed_authorization",
            Error::TokenTooLarge { .. } => "token_too_large",
            Error::MalformedToken(_) => "malformed_token",
            Error::DisallowedAlgorithm(_) => "disallowed_algorithm",
            Error::UnsupportedHeader(_) => "unsupported_header",
            Error::WrongType(_) => "wrong_type",
            Error::MissingKeyId => "missing_kid",
            Error::UnknownKeyId => "unknown_kid",
            Error::AlgorithmMismatch { .. } => "algorithm_mismatch",
            Error::InvalidSignature => "invalid_signature",
            Error::KeyIssuerMismatch => "key_issuer_mismatch",
            Error::ClaimsNotObject => "claims_not_object",
            Error::MissingClaim(_) => "missing_claim",
            Error::InvalidClaim(_) | Error::InvalidPermissionClaim(_) => "invalid_claim",
            Error::NoPermissions => "no_permissions",
            Error::PolicyNotAccepted => "policy_not_accepted",
            Error::IssuerMismatch => "issuer_mismatch",
            Error::AudienceMismatch => "audience_mismatch",
            Error::Expired => "expired",
            Error::NotYetValid => "not_yet_valid",
            Error::ClaimsShape(_) => "claims_shape",
            Error::KeysUnavailable { .. } => "keys_unavailable",
            Error::Unauthenticated => "unauthenticated",
            Error::InsufficientScope { .. } => "insufficient_scope",
            Error::InsufficientUserAuthentication { .. } => "insufficient_user_authentication",
            Error::InsufficientClaims { .. } => "insufficient_claims",
            Error::InvalidDpopProof(_) => "invalid_dpop_proof",
            Error::DpopProofReplayed => "dpop_proof_replayed",
            Error::DpopKeyMismatch => "dpop_key_mismatch",
            Error::BoundTokenAsBearer => "bound_token_as_bearer",
            Error::TokenNotDpopBound => "token_not_dpop_bound",
            Error::BindingNotChecked(_) => "binding_not_checked",
            Error::DpopRequired => "dpop_required",
            Error::ReplayStoreUnavailable { .. } => "replay_store_unavailable",
            Error::UseDpopNonce { .. } => "use_dpop_nonce",
            Error::CertificateRequired => "certificate_required",
            Error::CertificateMismatch => "certificate_mismatch",
            Error::ForwardedCertificate(_) => "forwarded_certificate",
            Error::TokenInactive => "token_inactive",
            Error::NotAnAccessToken(_) => "not_an_access_token",
            Error::IntrospectionUnavailable { .. } => "introspection_unavailable",
        }
    }
}

/// A configuration mistake found by [`Builder::build`](crate::Builder::build).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No issuer was set.
    #[error("an issuer is required: call issuer(..) or trust(..)")]
    MissingIssuer,
    /// A setting of the [`issuer`](crate::Builder::issuer) shorthand
    /// (`audience`, `jwks_uri`, `typ`, `algorithms`) was made without
    /// `issuer(..)`: it would apply to nothing.
    #[error(
        "{0} was set on the builder without issuer(..), so it would apply to no issuer; \
         set it on the Issuer passed to trust(..) instead"
    )]
    WithoutIssuer(&'static str),
    /// No audience was set; accepting any audience is never the default.
    #[error("at least one audience is required")]
    MissingAudience,
    /// An audience or issuer value is empty.
    #[error("{0} must not be empty")]
    Empty(&'static str),
    /// A URL does not parse or lacks a host.
    #[error("{what} is not a valid URL: {url}")]
    InvalidUrl {
        /// Which setting.
        what: &'static str,
        /// The value given.
        url: String,
    },
    /// A URL is plain `http://` to a host that is not loopback.
    #[error(
        "{what} uses plain http on a non-loopback host ({url}); use https, \
         or call dangerously_allow_insecure_http() if you really mean it"
    )]
    InsecureUrl {
        /// Which setting.
        what: &'static str,
        /// The value given.
        url: String,
    },
    /// A `resource_*` setting (RFC 9728 metadata) was made without
    /// [`resource`](crate::Builder::resource): there would be no document to
    /// put it in.
    #[error("{0} was set without resource(..): there is no metadata document to put it in")]
    WithoutResource(&'static str),
    /// Token introspection is configured in a way that cannot work.
    #[error("introspection: {0}")]
    Introspection(&'static str),
    /// A header name that is not one (RFC 9110 §5.1).
    #[error("{0:?} is not a valid header name")]
    InvalidHeaderName(&'static str),
    /// A DPoP nonce secret was given without [`Dpop::nonces`](crate::Dpop::nonces).
    #[error("nonce_secret was set without nonces(..): no nonce would be made with it")]
    WithoutDpopNonces,
    /// The key given to sign the metadata
    /// ([`MetadataSigner`](crate::MetadataSigner)) does not load, or does not
    /// sign with its algorithm.
    #[error("metadata signing key: {0}")]
    InvalidSigningKey(String),
    /// A multi-tenant issuer template has no discovery URL or JWKS URL to take
    /// keys from.
    #[error("issuer template {0:?} needs a discovery_url or a jwks_uri")]
    TemplateNeedsKeys(String),
    /// A provider preset was given a value that cannot stand where the
    /// preset puts it in a URL (a `/`, `#`, `?`, `@` or `%` in a tenant id or
    /// policy name, anything but a host name where a host belongs): refused,
    /// never turned into another URL.
    #[error("{what} {value:?} cannot stand where the preset puts it in a URL")]
    InvalidPresetInput {
        /// Which input.
        what: &'static str,
        /// The value given.
        value: String,
    },
    /// A multi-tenant issuer template has neither a tenant allow-list nor the
    /// explicit opt-in to any tenant.
    #[error(
        "issuer template {0:?} would accept tokens from any tenant, an attacker's own \
         included: call allowed_tenants([..]) with the tenants you serve, or \
         dangerously_accept_any_tenant() if every tenant may call your API"
    )]
    TenantsUnrestricted(String),
    /// `dangerously_accept_any_tenant()` was called on an issuer that is not
    /// a `{tenantid}` template, or beside `allowed_tenants`: it would be
    /// ignored.
    #[error(
        "dangerously_accept_any_tenant() on {0:?} would be ignored: it applies only to a \
         {{tenantid}} template without allowed_tenants"
    )]
    AnyTenantIgnored(String),
    /// Two trusted issuers have the same name: only the first could ever match.
    /// Give one issuer several audiences instead.
    #[error("issuer {0:?} is trusted twice; give one Issuer several audiences instead")]
    DuplicateIssuer(String),
    /// The algorithm allow-list is empty.
    #[error("the algorithm allow-list is empty")]
    NoAlgorithms,
    /// The leeway is larger than [`Builder::MAX_LEEWAY`](crate::Builder::MAX_LEEWAY).
    #[error(
        "leeway of {leeway:?} is more than the {max:?} allowed: it would all but switch off the expiry check"
    )]
    LeewayTooLarge {
        /// The leeway asked for.
        leeway: std::time::Duration,
        /// The largest allowed.
        max: std::time::Duration,
    },
    /// `key_set_max_staleness` is shorter than `key_set_max_age`: keys would
    /// go unusable between two scheduled refreshes.
    #[error(
        "key_set_max_staleness ({staleness:?}) is shorter than key_set_max_age ({max_age:?}): \
         keys would be refused between two scheduled refreshes"
    )]
    StalenessBelowMaxAge {
        /// The maximum staleness asked for.
        staleness: std::time::Duration,
        /// The key set's maximum age.
        max_age: std::time::Duration,
    },
    /// A size or count limit was set to zero.
    #[error("{0} must be greater than zero")]
    ZeroLimit(&'static str),
    /// The HTTP client could not be built (for example: no certificate
    /// store on the machine while an `https` URL is configured). The message
    /// carries the whole cause chain.
    #[error("HTTP client: {0}")]
    HttpClient(HttpClientError),
    /// A setting read from a file or the environment (`Settings`, feature
    /// `config`) is unknown, of the wrong type, or cannot be used. The
    /// message names the key, where it was read, and what is wrong; never
    /// a value that could be a secret.
    #[error("setting `{key}`{}: {problem}", in_origin(.origin))]
    Setting {
        /// The key's path, tables and list positions joined by `.`:
        /// `leeway`, `issuers.1.jwks_uri`, `entra.TenantId`.
        key: String,
        /// Where it was read: `file /etc/notes/auth.toml`, `environment
        /// variable BEARER_GUARD_LEEWAY`, `inline TOML`; empty when not known.
        origin: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A configuration source (`Settings`, feature `config`) cannot be read
    /// as a whole: a file that is missing, too large, or not valid TOML or
    /// JSON (its line and column, never its text).
    #[error("{origin} {problem}")]
    SettingsSource {
        /// Which source: `file /etc/notes/auth.toml`, `inline JSON`.
        origin: String,
        /// What is wrong with it.
        problem: String,
    },
}

/// ` (in {origin})`, or nothing when the origin is not known.
fn in_origin(origin: &str) -> String {
    if origin.is_empty() {
        String::new()
    } else {
        format!(" (in {origin})")
    }
}

/// Why the HTTP client for key fetches could not be built. Opaque: the HTTP
/// library's error is not part of this crate's API. `Display` shows its
/// whole cause chain ("builder error: No CA certificates were loaded from
/// the system"), so `source()` adds nothing.
#[derive(Debug)]
pub struct HttpClientError(String);

impl HttpClientError {
    pub(crate) fn new(error: impl std::error::Error + 'static) -> Self {
        HttpClientError(causes(&error).to_string())
    }
}

impl fmt::Display for HttpClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HttpClientError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_safe_text_is_one_quoted_escaped_bounded_line() {
        assert_eq!(log_safe("plain", 10), "\"plain\"");
        assert_eq!(
            log_safe("a\nINFO forged\r\u{1b}[31mred\u{7f}\"q\\", 64),
            "\"a\\nINFO forged\\r\\u{1b}[31mred\\u{7f}\\\"q\\\\\""
        );
        assert_eq!(log_safe("abcdef", 3), "\"abc\"…");
        assert_eq!(log_safe("ééé", 2), "\"éé\"…");
        let line = log_safe(&"\n".repeat(10_000), 100);
        assert!(!line.contains('\n') && line.len() < 260, "{line}");
    }
}
