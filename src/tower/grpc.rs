//! Rejections for gRPC services (tonic, or any gRPC server on tower):
//! [`GrpcRejection`].
//!
//! A gRPC client reads the outcome of a call from `grpc-status`, not from the
//! HTTP status: an HTTP 401 reaches a tonic client as `UNAUTHENTICATED`
//! without its challenge, a 400 as `INTERNAL`. So a gRPC rejection is a
//! "Trailers-Only" response (gRPC over HTTP/2, "Responses": `:status 200`,
//! `content-type`, then the trailers, all in one HEADERS frame ending the
//! stream): the status code, a fixed message, and the RFC 6750 headers
//! [`rejection_parts`] gives, which the client sees as the status's metadata.
//!
//! Only headers: nothing here depends on tonic.

use http::header::{CONTENT_TYPE, HeaderName};
use http::{HeaderMap, HeaderValue, Response, StatusCode};

use super::response::{OnRejection, complete_challenges, log_rejection, rejection_parts};
use crate::error::{Challenge, Error};
use crate::token::claims::Authenticated;

/// `grpc-status`: the call's status code.
const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
/// `grpc-message`: its description (percent-encoded; ours need none).
const GRPC_MESSAGE: HeaderName = HeaderName::from_static("grpc-message");

/// Answers rejections as a gRPC server must: HTTP 200, `content-type:
/// application/grpc`, and the call's status in the headers of an otherwise
/// empty response (gRPC's "Trailers-Only" form).
///
/// | rejection (HTTP status) | `grpc-status` |
/// |---|---|
/// | no token, bad token, step-up, DPoP (401) | 16 `UNAUTHENTICATED` |
/// | lacking permission (403) | 7 `PERMISSION_DENIED` |
/// | malformed request (400) | 3 `INVALID_ARGUMENT` |
/// | keys or replay store unavailable (503) | 14 `UNAVAILABLE` |
///
/// The response keeps every header the HTTP rejection has
/// ([`rejection_parts`]): `www-authenticate` with the same challenge,
/// completed by the layer and the guards as for HTTP (`resource_metadata`,
/// DPoP), `dpop-nonce`, `retry-after`. A client reads them as the status's
/// metadata (tonic: `status.metadata().get("www-authenticate")`). The
/// `grpc-message` is a fixed text per RFC 6750 class, never the precise
/// reason (that is logged) and never anything from the token.
///
/// The body is `B::default()`, which must be empty (it is for tonic's, axum's
/// and http-body-util's bodies).
///
/// ```no_run
/// use bearer_guard::{BearerAuthLayer, GrpcRejection, Requirement, require};
///
/// # fn demo() -> Result<(), bearer_guard::ConfigError> {
/// let auth = BearerAuthLayer::builder()
///     .issuer("https://issuer.example")
///     .audience("api://notes")
///     .build()?
///     .on_rejection(GrpcRejection);
/// // A guard for one method, on its path `/notes.v1.Notes/Delete`.
/// let delete = require(Requirement::scope("notes.write")).on_rejection(GrpcRejection);
/// // tonic::transport::Server::builder().layer(auth) ...
/// # let _ = (auth, delete);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct GrpcRejection;

impl GrpcRejection {
    /// The Trailers-Only headers for a rejection a service method decides
    /// itself (claims that do not fit its type, a [`Requirement`] it checks
    /// inline): the same headers the layer would send, the challenge
    /// completed for `token`'s API (`resource_metadata`, DPoP) as the layer
    /// completes its own. Logs the rejection, as the layer does.
    ///
    /// With tonic, `tonic::Status::from_header_map(&headers)` turns them into
    /// the method's `Err` (it is always `Some`: `grpc-status` is always
    /// there). `token`: the [`Authenticated`] from the request's extensions;
    /// `None` leaves the challenge as [`rejection_parts`] gives it.
    ///
    /// [`Requirement`]: crate::Requirement
    pub fn headers(&self, error: &Error, token: Option<&Authenticated>) -> HeaderMap {
        log_rejection(error);
        let mut response = grpc_response::<()>(error);
        if let Some(token) = token {
            complete_challenges(&mut response, token.context(), Some(token.scheme()), error);
        }
        std::mem::take(response.headers_mut())
    }
}

impl<B: Default> OnRejection<B> for GrpcRejection {
    fn on_rejection(&self, error: &Error) -> Response<B> {
        grpc_response(error)
    }
}

/// The Trailers-Only response for `error`, its challenge not yet completed.
fn grpc_response<B: Default>(error: &Error) -> Response<B> {
    let (status, headers) = rejection_parts(error);
    let mut response = Response::new(B::default());
    // The HTTP status is 200 whatever the outcome: gRPC's own status says it.
    let out = response.headers_mut();
    out.extend(headers);
    out.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    out.insert(GRPC_STATUS, HeaderValue::from_static(grpc_code(status)));
    out.insert(
        GRPC_MESSAGE,
        HeaderValue::from_static(message(error.challenge())),
    );
    response
}

/// The gRPC status code (gRPC's `statuscodes.md`) for the HTTP status
/// RFC 6750 gives, so the two never disagree. Anything else is
/// `UNKNOWN`: still an error, never `OK`.
fn grpc_code(status: StatusCode) -> &'static str {
    match status {
        StatusCode::UNAUTHORIZED => "16",
        StatusCode::FORBIDDEN => "7",
        StatusCode::BAD_REQUEST => "3",
        StatusCode::SERVICE_UNAVAILABLE => "14",
        _ => "2",
    }
}

/// The fixed `grpc-message` of each class: printable ASCII without `%`, so
/// no percent-encoding is needed.
fn message(challenge: Challenge) -> &'static str {
    match challenge {
        Challenge::Bare => "authentication required",
        Challenge::InvalidRequest => "malformed authorization request",
        Challenge::InvalidToken => "invalid token",
        Challenge::InsufficientScope => "insufficient scope",
        Challenge::InsufficientUserAuthentication => "insufficient user authentication",
        Challenge::InsufficientClaims => "insufficient claims",
        Challenge::Unavailable => "authorization temporarily unavailable",
        Challenge::InvalidDpopProof => "invalid DPoP proof",
        Challenge::UseDpopNonce => "DPoP nonce required",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::{RETRY_AFTER, WWW_AUTHENTICATE};

    fn parts(error: &Error) -> (StatusCode, Vec<(String, String)>) {
        let response: Response<()> = GrpcRejection.on_rejection(error);
        let mut headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    v.to_str().unwrap_or("<non-ascii>").to_owned(),
                )
            })
            .collect();
        headers.sort();
        (response.status(), headers)
    }

    fn expected(pairs: &[(&str, &str)]) -> (StatusCode, Vec<(String, String)>) {
        let mut headers: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        headers.push(("content-type".into(), "application/grpc".into()));
        headers.sort();
        (StatusCode::OK, headers)
    }

    /// Every class, header for header: the gRPC status beside the HTTP
    /// response's own headers, nothing else.
    #[test]
    fn each_class_is_a_trailers_only_response() {
        assert_eq!(
            parts(&Error::MissingToken),
            expected(&[
                ("grpc-status", "16"),
                ("grpc-message", "authentication required"),
                ("www-authenticate", "Bearer"),
            ])
        );
        assert_eq!(
            parts(&Error::Expired),
            expected(&[
                ("grpc-status", "16"),
                ("grpc-message", "invalid token"),
                ("www-authenticate", "Bearer error=\"invalid_token\""),
            ])
        );
        assert_eq!(
            parts(&Error::MultipleAuthorizationHeaders),
            expected(&[
                ("grpc-status", "3"),
                ("grpc-message", "malformed authorization request"),
                ("www-authenticate", "Bearer error=\"invalid_request\""),
            ])
        );
        assert_eq!(
            parts(&Error::InsufficientScope {
                required: "notes.write".into(),
                requirement: "scope(notes.write)".into(),
                needs: "scope(notes.write)".into(),
            }),
            expected(&[
                ("grpc-status", "7"),
                ("grpc-message", "insufficient scope"),
                (
                    "www-authenticate",
                    "Bearer error=\"insufficient_scope\", scope=\"notes.write\""
                ),
            ])
        );
        assert_eq!(
            parts(&Error::UseDpopNonce {
                nonce: "n.1".into()
            }),
            expected(&[
                ("grpc-status", "16"),
                ("grpc-message", "DPoP nonce required"),
                ("www-authenticate", "DPoP error=\"use_dpop_nonce\""),
                ("dpop-nonce", "n.1"),
            ])
        );
        assert_eq!(
            parts(&Error::KeysUnavailable {
                retry_after_secs: 17
            }),
            expected(&[
                ("grpc-status", "14"),
                ("grpc-message", "authorization temporarily unavailable"),
                (RETRY_AFTER.as_str(), "17"),
            ])
        );
    }

    #[test]
    fn unknown_http_statuses_are_never_ok() {
        assert_eq!(grpc_code(StatusCode::OK), "2");
        assert_eq!(grpc_code(StatusCode::IM_A_TEAPOT), "2");
    }

    #[test]
    fn headers_without_a_token_are_the_rejection_s_own() {
        let headers = GrpcRejection.headers(&Error::Unauthenticated, None);
        assert_eq!(
            headers.get(WWW_AUTHENTICATE),
            Some(&HeaderValue::from_static("Bearer"))
        );
        assert_eq!(
            headers.get(GRPC_STATUS),
            Some(&HeaderValue::from_static("16"))
        );
    }
}
