//! The one place where a rejection becomes an HTTP response (RFC 6750 §3) and a
//! `tracing` event.
//!
//! The response carries only the RFC 6750 class of the error; the precise reason
//! goes to the log. Users who want their own response body implement
//! [`OnRejection`], or pass a closure to `on_rejection`.

use http::header::{HeaderName, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, Response, StatusCode};

use std::sync::Arc;

use crate::error::{Challenge, Error};
use crate::token::claims::Context;
use crate::token::extract::Scheme;

/// The response header carrying a server-provided DPoP nonce (RFC 9449 §8.1).
const DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");

/// Turns a rejection into a response. Implemented by [`DefaultRejection`] and by
/// any `Fn(&Error) -> Response<B> + Clone`.
///
/// Whatever the implementation returns, the layer has already logged the precise
/// reason. Start from [`rejection_parts`] to keep the RFC 6750 status and
/// challenge header.
pub trait OnRejection<B>: Clone {
    /// Builds the response for `error`.
    fn on_rejection(&self, error: &Error) -> Response<B>;
}

/// The default: RFC 6750 status and `WWW-Authenticate` header, empty body.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultRejection;

impl<B: Default> OnRejection<B> for DefaultRejection {
    fn on_rejection(&self, error: &Error) -> Response<B> {
        let (status, headers) = rejection_parts(error);
        let mut response = Response::new(B::default());
        *response.status_mut() = status;
        response.headers_mut().extend(headers);
        response
    }
}

impl<B, F> OnRejection<B> for F
where
    F: Fn(&Error) -> Response<B> + Clone,
{
    fn on_rejection(&self, error: &Error) -> Response<B> {
        self(error)
    }
}

/// The status and headers RFC 6750 prescribes for `error`.
///
/// | class | status | `WWW-Authenticate` |
/// |---|---|---|
/// | no token | 401 | `Bearer` |
/// | malformed request | 400 | `Bearer error="invalid_request"` |
/// | bad token | 401 | `Bearer error="invalid_token"` |
/// | lacking permission | 403 | `Bearer error="insufficient_scope", scope="…"` |
/// | authentication not enough (RFC 9470) | 401 | `Bearer error="insufficient_user_authentication", acr_values="…", max_age="…"` |
/// | Entra authentication context missing | 401 | `Bearer error="insufficient_claims", claims="…"` (base64 of the claims request) |
/// | DPoP proof refused (RFC 9449) | 401 | `DPoP error="invalid_dpop_proof"` |
/// | DPoP nonce needed (RFC 9449 §9) | 401 | `DPoP error="use_dpop_nonce"`, and `DPoP-Nonce` |
/// | keys (or the DPoP replay store) unavailable | 503 | none; `Retry-After`: seconds until the next fetch attempt |
pub fn rejection_parts(error: &Error) -> (StatusCode, http::HeaderMap) {
    let mut headers = http::HeaderMap::new();
    let status = match error.challenge() {
        Challenge::Bare => {
            headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            StatusCode::UNAUTHORIZED
        }
        Challenge::InvalidRequest => {
            headers.insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_request\""),
            );
            StatusCode::BAD_REQUEST
        }
        Challenge::InvalidToken => {
            headers.insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
            StatusCode::UNAUTHORIZED
        }
        Challenge::InsufficientScope => {
            headers.insert(WWW_AUTHENTICATE, insufficient_scope_challenge(error));
            StatusCode::FORBIDDEN
        }
        Challenge::InsufficientUserAuthentication => {
            headers.insert(WWW_AUTHENTICATE, step_up_challenge(error));
            StatusCode::UNAUTHORIZED
        }
        Challenge::InsufficientClaims => {
            headers.insert(WWW_AUTHENTICATE, claims_challenge(error));
            StatusCode::UNAUTHORIZED
        }
        Challenge::InvalidDpopProof => {
            headers.insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("DPoP error=\"invalid_dpop_proof\""),
            );
            StatusCode::UNAUTHORIZED
        }
        Challenge::UseDpopNonce => {
            headers.insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("DPoP error=\"use_dpop_nonce\""),
            );
            // Our own nonces are digits, a dot and base64url: always a
            // valid header value; anything else is left out.
            if let Error::UseDpopNonce { nonce } = error
                && let Ok(value) = HeaderValue::from_str(nonce)
            {
                headers.insert(DPOP_NONCE, value);
            }
            StatusCode::UNAUTHORIZED
        }
        Challenge::Unavailable => {
            // RFC 9110 §10.2.3: the seconds until the key cache tries again.
            let secs = match error {
                Error::KeysUnavailable { retry_after_secs } => *retry_after_secs,
                _ => 1,
            };
            headers.insert(RETRY_AFTER, HeaderValue::from(secs));
            StatusCode::SERVICE_UNAVAILABLE
        }
    };
    (status, headers)
}

/// What the layer leaves in a request it lets through without a token (an
/// optional route), for the guards' and extractors' challenges: its
/// validator's context (the `resource_metadata` parameter, the DPoP
/// settings).
#[derive(Debug, Clone)]
pub(crate) struct ChallengeContext(pub(crate) Arc<Context>);

/// Completes every challenge of `response` for this API: `used` is the
/// scheme the request's credentials came with (`None`: no credentials).
///
/// - Without DPoP, a `Bearer` challenge stays `Bearer`.
/// - With DPoP (RFC 9449 §7.1, §7.2): a challenge about a request that used
///   the `DPoP` scheme, or any challenge when DPoP is required, is a `DPoP`
///   challenge; a bare challenge (no credentials) offers both schemes unless
///   DPoP is required; every `DPoP` challenge names the accepted `algs`.
/// - Every challenge with an `error` code gains `error_description="…"`,
///   from `error`'s fixed vocabulary ([`Error::description`]), when
///   configured.
/// - Every challenge gains `resource_metadata="…"` (RFC 9728 §5.1) when
///   configured.
///
/// A response without a challenge (503, or a handler's own) is left as it is.
pub(crate) fn complete_challenges<B>(
    response: &mut Response<B>,
    context: &Context,
    used: Option<Scheme>,
    error: &Error,
) {
    if context.resource_challenge.is_none() && context.dpop.is_none() && !context.error_descriptions
    {
        return;
    }
    // RFC 6750 §3: only beside an `error` code (never on a bare challenge).
    let description = context
        .error_descriptions
        .then(|| format!("error_description=\"{}\"", describe(error)));
    let headers = response.headers_mut();
    let values: Vec<HeaderValue> = headers.get_all(WWW_AUTHENTICATE).iter().cloned().collect();
    if values.is_empty() {
        return;
    }
    headers.remove(WWW_AUTHENTICATE);
    for value in values {
        let Some((scheme, params)) = value.to_str().ok().and_then(split_challenge) else {
            headers.append(WWW_AUTHENTICATE, value);
            continue;
        };
        let mut out: Vec<(&str, &str)> = Vec::with_capacity(2);
        match (&context.dpop, scheme) {
            (Some(dpop), Challenged::Bearer) => {
                if dpop.required || (used == Some(Scheme::Dpop) && !params.is_empty()) {
                    out.push(("DPoP", params));
                } else if params.is_empty() {
                    out.push(("Bearer", params));
                    out.push(("DPoP", params));
                } else {
                    out.push(("Bearer", params));
                }
            }
            (_, Challenged::Bearer) => out.push(("Bearer", params)),
            (_, Challenged::Dpop) => out.push(("DPoP", params)),
        }
        for (name, params) in out {
            let mut text = String::from(name);
            let mut add = |param: &str| {
                if !param.is_empty() {
                    text.push_str(if text.len() == name.len() { " " } else { ", " });
                    text.push_str(param);
                }
            };
            add(params);
            if let Some(description) = &description
                && has_error_code(params)
                && !params.contains("error_description=")
            {
                add(description);
            }
            if name == "DPoP"
                && let Some(dpop) = &context.dpop
            {
                add(&dpop.algs);
            }
            if let Some(resource) = &context.resource_challenge {
                add(resource);
            }
            match HeaderValue::from_str(&text) {
                Ok(v) => headers.append(WWW_AUTHENTICATE, v),
                Err(_) => headers.append(WWW_AUTHENTICATE, value.clone()),
            };
        }
    }
}

/// The `error_description` of `error`: its fixed description; for a missing
/// permission, also what the route needs as the requirement names it
/// (scopes, roles, clients, policies, claim paths, custom names: no claim
/// value), kept to RFC 6750's characters and 200 of them.
fn describe(error: &Error) -> String {
    let mut text = error.description().to_owned();
    if let Error::InsufficientScope { needs, .. } = error
        && !needs.is_empty()
    {
        text.push_str(": needs ");
        text.extend(
            needs
                .chars()
                .filter(|c| matches!(*c as u32, 0x20 | 0x21 | 0x23..=0x5B | 0x5D..=0x7E))
                .take(200),
        );
    }
    text
}

/// Whether challenge parameters carry an `error` code (not only a
/// parameter whose name ends in `error`).
fn has_error_code(params: &str) -> bool {
    params.starts_with("error=") || params.contains(" error=") || params.contains(",error=")
}

/// The schemes a challenge of ours can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Challenged {
    Bearer,
    Dpop,
}

/// A challenge's scheme (`Bearer` or `DPoP`, any case) and its parameters;
/// `None` for another scheme (a handler's own).
fn split_challenge(text: &str) -> Option<(Challenged, &str)> {
    let (scheme, rest) = text.split_once(' ').unwrap_or((text, ""));
    let scheme = if scheme.eq_ignore_ascii_case("bearer") {
        Challenged::Bearer
    } else if scheme.eq_ignore_ascii_case("dpop") {
        Challenged::Dpop
    } else {
        return None;
    };
    Some((scheme, rest.trim()))
}

fn insufficient_scope_challenge(error: &Error) -> HeaderValue {
    const BARE: &str = "Bearer error=\"insufficient_scope\"";
    let required = match error {
        Error::InsufficientScope { required, .. } => required.as_str(),
        _ => "",
    };
    // RFC 6750 §3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), space-separated.
    // Anything else is dropped, so the header is always valid and never quotes
    // a value that could break out of the string.
    let scopes: Vec<&str> = required
        .split(' ')
        .filter(|s| !s.is_empty() && s.bytes().all(is_scope_char))
        .collect();
    if scopes.is_empty() {
        return HeaderValue::from_static(BARE);
    }
    let value = format!("{BARE}, scope=\"{}\"", scopes.join(" "));
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(BARE))
}

/// RFC 9470 §3: `insufficient_user_authentication`, with `acr_values` (the
/// acceptable values, space-separated) and `max_age` (seconds) when the route
/// sets them. Values outside the scope-token characters are dropped, as for
/// `scope`, so nothing configured can break out of the quoted string.
fn step_up_challenge(error: &Error) -> HeaderValue {
    const BARE: &str = "Bearer error=\"insufficient_user_authentication\"";
    let Error::InsufficientUserAuthentication {
        acr_values,
        max_age,
        ..
    } = error
    else {
        return HeaderValue::from_static(BARE);
    };
    let mut value = BARE.to_owned();
    let values: Vec<&str> = acr_values
        .split(' ')
        .filter(|s| !s.is_empty() && s.bytes().all(is_scope_char))
        .collect();
    if !values.is_empty() {
        value.push_str(&format!(", acr_values=\"{}\"", values.join(" ")));
    }
    if let Some(secs) = max_age {
        value.push_str(&format!(", max_age=\"{secs}\""));
    }
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(BARE))
}

/// Microsoft's claims challenge for a Conditional Access authentication
/// context: `insufficient_claims` with `claims`, the standard base64 of the
/// claims request `{"access_token":{"acrs":{"essential":true,"value":"c1"}}}`,
/// which MSAL reads from the header and sends back to Entra ID. The context
/// id is configured, and kept only if it is of the scope-token characters.
fn claims_challenge(error: &Error) -> HeaderValue {
    use base64::Engine as _;
    const BARE: &str = "Bearer error=\"insufficient_claims\"";
    let context = match error {
        Error::InsufficientClaims { context } => context.as_str(),
        _ => "",
    };
    if context.is_empty() || !context.bytes().all(is_scope_char) {
        return HeaderValue::from_static(BARE);
    }
    let request = serde_json::json!({
        "access_token": { "acrs": { "essential": true, "value": context } }
    });
    let claims = base64::engine::general_purpose::STANDARD.encode(request.to_string());
    HeaderValue::from_str(&format!("{BARE}, claims=\"{claims}\""))
        .unwrap_or_else(|_| HeaderValue::from_static(BARE))
}

fn is_scope_char(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E)
}

/// Records one rejection: the precise reason, never the token.
pub(crate) fn log_rejection(error: &Error) {
    crate::metrics::rejected(error.code());
    match error.challenge() {
        Challenge::Bare => {
            tracing::debug!(reason = %error, code = error.code(), "bearer-guard: request rejected")
        }
        Challenge::Unavailable => {
            tracing::warn!(reason = %error, code = error.code(), "bearer-guard: request rejected")
        }
        _ => tracing::info!(reason = %error, code = error.code(), "bearer-guard: request rejected"),
    }
}

/// A rejection held in a response future: ready on the first poll. Polled
/// again after that, a contract violation by the caller, it stays pending
/// rather than panic.
pub(crate) fn ready_once<B, E>(
    response: &mut Option<Response<B>>,
) -> std::task::Poll<Result<Response<B>, E>> {
    response
        .take()
        .map_or(std::task::Poll::Pending, |r| std::task::Poll::Ready(Ok(r)))
}

/// Logs `error` and builds its response with `handler`.
pub(crate) fn reject<B, R: OnRejection<B>>(handler: &R, error: &Error) -> Response<B> {
    log_rejection(error);
    handler.on_rejection(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(error: &Error) -> (StatusCode, Option<String>) {
        let (status, headers) = rejection_parts(error);
        let www = headers
            .get(WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap_or("<non-ascii>").to_owned());
        (status, www)
    }

    #[test]
    fn each_class_has_its_rfc6750_response() {
        assert_eq!(
            header(&Error::MissingToken),
            (StatusCode::UNAUTHORIZED, Some("Bearer".into()))
        );
        assert_eq!(
            header(&Error::MultipleAuthorizationHeaders),
            (
                StatusCode::BAD_REQUEST,
                Some("Bearer error=\"invalid_request\"".into())
            )
        );
        assert_eq!(
            header(&Error::Expired),
            (
                StatusCode::UNAUTHORIZED,
                Some("Bearer error=\"invalid_token\"".into())
            )
        );
        assert_eq!(
            header(&Error::InsufficientScope {
                required: "notes.read notes.write".into(),
                requirement: String::new(),
                needs: String::new(),
            }),
            (
                StatusCode::FORBIDDEN,
                Some(
                    "Bearer error=\"insufficient_scope\", scope=\"notes.read notes.write\"".into()
                )
            )
        );
        let step_up = |acr: &str, max_age| Error::InsufficientUserAuthentication {
            acr_values: acr.into(),
            max_age,
            reason: String::new(),
        };
        let unauthorized = |challenge: &str| (StatusCode::UNAUTHORIZED, Some(challenge.into()));
        assert_eq!(
            header(&step_up("urn:x:mfa c1", Some(300))),
            unauthorized(
                "Bearer error=\"insufficient_user_authentication\", acr_values=\"urn:x:mfa c1\", max_age=\"300\""
            )
        );
        assert_eq!(
            header(&step_up("", Some(5))),
            unauthorized("Bearer error=\"insufficient_user_authentication\", max_age=\"5\"")
        );
        assert_eq!(
            header(&step_up("mfa bad\"value", None)),
            unauthorized("Bearer error=\"insufficient_user_authentication\", acr_values=\"mfa\""),
            "a value that could break out of the quotes is dropped"
        );
        // Microsoft's documented claims challenge for authentication
        // context c1 (the base64 of its claims request, byte for byte).
        assert_eq!(
            header(&Error::InsufficientClaims {
                context: "c1".into()
            }),
            unauthorized(
                "Bearer error=\"insufficient_claims\", claims=\"eyJhY2Nlc3NfdG9rZW4iOnsiYWNycyI6eyJlc3NlbnRpYWwiOnRydWUsInZhbHVlIjoiYzEifX19\""
            )
        );
        assert_eq!(
            header(&Error::InsufficientClaims {
                context: "c1\"".into()
            }),
            unauthorized("Bearer error=\"insufficient_claims\""),
            "a context id that is not a plain token is never encoded"
        );
        let (status, headers) = rejection_parts(&Error::KeysUnavailable {
            retry_after_secs: 17,
        });
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            headers.get(RETRY_AFTER),
            Some(&HeaderValue::from_static("17"))
        );
    }

    #[test]
    fn scope_attribute_drops_characters_that_could_break_the_header() {
        assert_eq!(
            header(&Error::InsufficientScope {
                required: "ok \"evil\\ bad\u{7f} also.ok".into(),
                requirement: String::new(),
                needs: String::new(),
            })
            .1,
            Some("Bearer error=\"insufficient_scope\", scope=\"ok also.ok\"".into())
        );
        assert_eq!(
            header(&Error::InsufficientScope {
                required: String::new(),
                requirement: String::new(),
                needs: String::new(),
            })
            .1,
            Some("Bearer error=\"insufficient_scope\"".into())
        );
    }

    /// RFC 9728 §5.1's parameter joins a `Bearer` challenge after its scheme
    /// or after its parameters; another scheme's challenge and a response
    /// without one are left as they are.
    #[test]
    fn challenges_gain_resource_metadata_and_dpop_as_configured() {
        use crate::token::claims::DpopChallenge;
        const AT: &str =
            "resource_metadata=\"https://a.example/.well-known/oauth-protected-resource\"";
        let with = |context: &Context, used: Option<Scheme>, values: &[&'static str]| {
            let mut response = Response::new(());
            for value in values {
                response
                    .headers_mut()
                    .append(WWW_AUTHENTICATE, HeaderValue::from_static(value));
            }
            complete_challenges(&mut response, context, used, &Error::Expired);
            let values: Vec<String> = response
                .headers()
                .get_all(WWW_AUTHENTICATE)
                .iter()
                .map(|v| v.to_str().unwrap_or("<non-ascii>").to_owned())
                .collect();
            values
        };
        let resource = Context {
            resource_challenge: Some(AT.into()),
            ..Context::default()
        };
        let bearer = Some(Scheme::Bearer);
        assert_eq!(with(&resource, None, &["Bearer"]), [format!("Bearer {AT}")]);
        assert_eq!(
            with(&resource, bearer, &["Bearer error=\"invalid_token\""]),
            [format!("Bearer error=\"invalid_token\", {AT}")]
        );
        assert_eq!(
            with(&resource, None, &["Basic realm=\"x\"", "bearer"]),
            ["Basic realm=\"x\"".to_owned(), format!("Bearer {AT}")]
        );
        assert!(
            with(&resource, None, &[]).is_empty(),
            "a 503 gets no challenge"
        );
        // Nothing configured: the response is left exactly as it is.
        assert_eq!(with(&Context::default(), None, &["bearer"]), ["bearer"]);

        let dpop = |required| Context {
            dpop: Some(DpopChallenge {
                algs: "algs=\"ES256 EdDSA\"".into(),
                required,
            }),
            ..Context::default()
        };
        let algs = "algs=\"ES256 EdDSA\"";
        let dpop_used = Some(Scheme::Dpop);
        // No credentials: both schemes are offered, unless DPoP is required.
        assert_eq!(
            with(&dpop(false), None, &["Bearer"]),
            ["Bearer".to_owned(), format!("DPoP {algs}")]
        );
        assert_eq!(
            with(&dpop(true), bearer, &["Bearer"]),
            [format!("DPoP {algs}")]
        );
        // An error names the scheme the request used.
        assert_eq!(
            with(&dpop(false), bearer, &["Bearer error=\"invalid_token\""]),
            ["Bearer error=\"invalid_token\""]
        );
        assert_eq!(
            with(&dpop(false), dpop_used, &["Bearer error=\"invalid_token\""]),
            [format!("DPoP error=\"invalid_token\", {algs}")]
        );
        assert_eq!(
            with(
                &dpop(false),
                dpop_used,
                &["Bearer error=\"insufficient_scope\", scope=\"a b\""]
            ),
            [format!(
                "DPoP error=\"insufficient_scope\", scope=\"a b\", {algs}"
            )]
        );
        assert_eq!(
            with(
                &dpop(false),
                dpop_used,
                &["DPoP error=\"invalid_dpop_proof\""]
            ),
            [format!("DPoP error=\"invalid_dpop_proof\", {algs}")]
        );
        let both = Context {
            resource_challenge: Some(AT.into()),
            ..dpop(false)
        };
        assert_eq!(
            with(&both, None, &["Bearer"]),
            [format!("Bearer {AT}"), format!("DPoP {algs}, {AT}")]
        );
    }

    /// Issue 17.3: with descriptions on, a challenge with an `error` code
    /// gains the error's fixed description; a bare one, a custom one that
    /// has its own, and a 503 do not.
    #[test]
    fn error_descriptions_join_challenges_with_an_error_code_when_on() {
        let on = Context {
            error_descriptions: true,
            ..Context::default()
        };
        let answer = |context: &Context, error: &Error| {
            let (status, headers) = rejection_parts(error);
            let mut response = Response::new(());
            *response.status_mut() = status;
            response.headers_mut().extend(headers);
            complete_challenges(&mut response, context, Some(Scheme::Bearer), error);
            let values: Vec<String> = response
                .headers()
                .get_all(WWW_AUTHENTICATE)
                .iter()
                .map(|v| v.to_str().expect("ascii").to_owned())
                .collect();
            values
        };
        assert_eq!(
            answer(&on, &Error::Expired),
            ["Bearer error=\"invalid_token\", error_description=\"token expired\""]
        );
        assert_eq!(
            answer(&on, &Error::AudienceMismatch),
            ["Bearer error=\"invalid_token\", error_description=\"audience not accepted\""]
        );
        assert_eq!(
            answer(
                &on,
                &Error::InsufficientScope {
                    required: "notes.write".into(),
                    requirement: "scope(notes.write) and claim(tid = \"t1\")".into(),
                    needs: "scope(notes.write) and claim(tid) and custom(\"odd\\)".into(),
                }
            ),
            [
                "Bearer error=\"insufficient_scope\", scope=\"notes.write\", \
                 error_description=\"insufficient permission: needs \
                 scope(notes.write) and claim(tid) and custom(odd)\""
            ]
        );
        assert_eq!(
            answer(&on, &Error::MultipleAuthorizationHeaders),
            ["Bearer error=\"invalid_request\", \
              error_description=\"more than one Authorization header\""]
        );
        // No error code, no description (RFC 6750 §3.1).
        assert_eq!(answer(&on, &Error::MissingToken), ["Bearer"]);
        // 503: no challenge to describe.
        assert!(
            answer(
                &on,
                &Error::KeysUnavailable {
                    retry_after_secs: 3
                }
            )
            .is_empty()
        );
        // Off (the default): nothing is added.
        assert_eq!(
            answer(&Context::default(), &Error::Expired),
            ["Bearer error=\"invalid_token\""]
        );
        // A handler's own description is kept, not doubled.
        let mut own = Response::new(());
        own.headers_mut().insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer error=\"invalid_token\", error_description=\"mine\""),
        );
        complete_challenges(&mut own, &on, None, &Error::Expired);
        assert_eq!(
            own.headers()[WWW_AUTHENTICATE],
            "Bearer error=\"invalid_token\", error_description=\"mine\""
        );
    }

    /// Every description is a valid `error_description` (RFC 6750 §3:
    /// %x20-21 / %x23-5B / %x5D-7E), short, and the same for every value a
    /// variant carries: nothing of the token or the configuration.
    #[test]
    fn descriptions_are_fixed_short_and_of_the_allowed_characters() {
        let errors = [
            Error::MalformedToken("a"),
            Error::MalformedToken("b"),
            Error::DisallowedAlgorithm("HS256".into()),
            Error::WrongType("evil\"type".into()),
            Error::InvalidPermissionClaim("x\ny".into()),
            Error::ClaimsShape("\u{1b}[31m".into()),
            Error::InsufficientClaims {
                context: "c1".into(),
            },
            Error::IntrospectionUnavailable {
                reason: "secret=hunter2".into(),
            },
            Error::Expired,
            Error::MultipleTokenMethods,
        ];
        for error in &errors {
            let text = error.description();
            assert!(!text.is_empty() && text.len() <= 60, "{text:?}");
            assert!(
                text.bytes()
                    .all(|b| matches!(b, 0x20 | 0x21 | 0x23..=0x5B | 0x5D..=0x7E)),
                "{text:?}"
            );
            for secret in ["HS256", "evil", "hunter2", "c1", "\u{1b}"] {
                assert!(!text.contains(secret), "{text:?} repeats {secret:?}");
            }
        }
        assert_eq!(errors[0].description(), errors[1].description());
    }
}
