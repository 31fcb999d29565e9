//! axum 0.8 extractors: [`Authenticated`] and [`Claims<T>`], each also as
//! `Option<…>` for routes where a token is optional, `IntoResponse` for
//! [`Error`], and the route serving the RFC 9728 metadata document.
//!
//! They read what [`BearerAuthLayer`] stored in the
//! request extensions; nothing parses the token again.

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use serde::de::DeserializeOwned;

use super::layer::BearerAuthLayer;
use super::response::{
    ChallengeContext, DefaultRejection, OnRejection, complete_challenges, log_rejection,
};
use crate::error::Error;
use crate::token::claims::Authenticated;
use crate::token::claims::Context;
use crate::token::extract::Scheme;

/// The validated token's claims, deserialized into the caller's own type `T`.
///
/// A tuple struct, as axum's own extractors are: destructure it in the
/// handler's signature (`Claims(claims): Claims<MyClaims>`), or use it through
/// `Deref` (`claims.name`). The value is an `Arc<T>`, so handing it on (to a
/// spawned task, say) is a reference-count increment, never a copy.
///
/// The claims are deserialized into `T` once per token, not once per request:
/// while the verified-token cache holds a token, every request presenting it
/// shares the same `Arc<T>` ([`Authenticated::shared_claims`]). So `T` is
/// `Send + Sync + 'static`; read claims of other types with
/// [`Authenticated::claims`]. For the registered claims, scopes and roles,
/// extract [`Authenticated`] beside it.
///
/// A token whose claims do not deserialize into `T` is refused with 401
/// `invalid_token` ([`Error::ClaimsShape`]).
///
/// ```
/// use axum::{Router, routing::get};
/// use bearer_guard::{Authenticated, Claims};
/// use serde::Deserialize;
///
/// #[derive(Deserialize)]
/// struct MyClaims {
///     name: Option<String>,
///     tid: Option<String>,
/// }
///
/// async fn me(Claims(claims): Claims<MyClaims>, token: Authenticated) -> String {
///     format!("{:?} from tenant {:?} with scopes {:?}",
///         claims.name, claims.tid, token.scopes().iter().collect::<Vec<_>>())
/// }
///
/// let app: Router = Router::new().route("/me", get(me));
/// # let _ = app;
/// ```
#[derive(Debug)]
pub struct Claims<T>(pub Arc<T>);

impl<T> Clone for Claims<T> {
    fn clone(&self) -> Self {
        Claims(Arc::clone(&self.0))
    }
}

impl<T> std::ops::Deref for Claims<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl IntoResponse for Error {
    /// The RFC 6750 response for this error, with an empty body.
    fn into_response(self) -> Response {
        log_rejection(&self);
        DefaultRejection.on_rejection(&self)
    }
}

/// Why [`Authenticated`] or [`Claims<T>`] refused a request: the [`Error`],
/// answered as the layer answers it (RFC 6750, empty body), with the
/// `resource_metadata="…"` parameter (RFC 9728 §5.1) when the layer has a
/// [resource identifier](crate::Builder::resource).
///
/// ```
/// use axum::response::IntoResponse;
/// use bearer_guard::{Claims, Error, ExtractRejection};
///
/// // A handler that answers a token whose claims do not fit with its own body.
/// async fn me(claims: Result<Claims<serde_json::Value>, ExtractRejection>) -> axum::response::Response {
///     match claims {
///         Ok(Claims(claims)) => claims.to_string().into_response(),
///         Err(rejection) if matches!(rejection.error(), Error::ClaimsShape(_)) => {
///             (http::StatusCode::UNAUTHORIZED, "unexpected claims").into_response()
///         }
///         Err(rejection) => rejection.into_response(),
///     }
/// }
/// # let _ = me;
/// ```
#[derive(Debug)]
pub struct ExtractRejection {
    error: Error,
    context: Option<Arc<Context>>,
    used: Option<Scheme>,
}

impl ExtractRejection {
    /// Reads the challenge context from where the layer left it: in the
    /// token, or, on an optional route without one, in the extensions.
    fn new(error: Error, parts: &Parts, token: Option<&Authenticated>) -> Self {
        let (context, used) = match token {
            Some(token) => (Some(token.context_shared()), Some(token.scheme())),
            None => (
                parts
                    .extensions
                    .get::<ChallengeContext>()
                    .map(|c| Arc::clone(&c.0)),
                None,
            ),
        };
        ExtractRejection {
            error,
            context,
            used,
        }
    }

    /// Why the request was refused.
    pub fn error(&self) -> &Error {
        &self.error
    }

    /// The [`Error`], for a handler that answers it its own way.
    pub fn into_error(self) -> Error {
        self.error
    }
}

impl std::fmt::Display for ExtractRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for ExtractRejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl From<ExtractRejection> for Error {
    fn from(rejection: ExtractRejection) -> Error {
        rejection.error
    }
}

impl IntoResponse for ExtractRejection {
    /// The RFC 6750 response for the error, with an empty body and, when the
    /// layer has a resource identifier, `resource_metadata="…"`.
    fn into_response(self) -> Response {
        log_rejection(&self.error);
        let mut response: Response = DefaultRejection.on_rejection(&self.error);
        if let Some(context) = &self.context {
            complete_challenges(&mut response, context, self.used, &self.error);
        }
        response
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = ExtractRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Authenticated>() {
            Some(token) => Ok(token.clone()),
            None => Err(ExtractRejection::new(Error::Unauthenticated, parts, None)),
        }
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Authenticated {
    type Rejection = ExtractRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<Authenticated>().cloned())
    }
}

impl<S, T> FromRequestParts<S> for Claims<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send + Sync + 'static,
{
    type Rejection = ExtractRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Authenticated>() {
            Some(token) => token
                .shared_claims()
                .map(Claims)
                .map_err(|error| ExtractRejection::new(error, parts, Some(token))),
            None => Err(ExtractRejection::new(Error::Unauthenticated, parts, None)),
        }
    }
}

impl<S, T> OptionalFromRequestParts<S> for Claims<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send + Sync + 'static,
{
    type Rejection = ExtractRejection;

    /// `None` without a token; a token whose claims do not fit `T` is still
    /// rejected (401 `invalid_token`), never silently treated as anonymous.
    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        match parts.extensions.get::<Authenticated>() {
            None => Ok(None),
            Some(token) => token
                .shared_claims()
                .map(|claims| Some(Claims(claims)))
                .map_err(|error| ExtractRejection::new(error, parts, Some(token))),
        }
    }
}

impl<R> BearerAuthLayer<R> {
    /// A router serving this API's protected-resource metadata (RFC 9728):
    /// `GET` at the place [`Builder::resource`](crate::Builder::resource)
    /// puts it (`/.well-known/oauth-protected-resource`, with the
    /// identifier's path after it), answering the document as JSON. Merge it
    /// outside the layer: clients read it before they have a token. Without a
    /// resource identifier it has no routes.
    ///
    /// ```
    /// use axum::{Router, routing::get};
    /// use bearer_guard::BearerAuthLayer;
    ///
    /// # fn main() -> Result<(), bearer_guard::ConfigError> {
    /// let auth = BearerAuthLayer::builder()
    ///     .issuer("https://login.example.com")
    ///     .audience("https://api.example.com")
    ///     .resource("https://api.example.com")
    ///     .resource_scopes(["notes.read"])
    ///     .build()?;
    /// let app: Router = Router::new()
    ///     .route("/notes", get(|| async { "notes" }))
    ///     .route_layer(auth.clone())
    ///     .merge(auth.resource_metadata_router());
    /// # let _ = app;
    /// # Ok(())
    /// # }
    /// ```
    pub fn resource_metadata_router<S>(&self) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        let Some(metadata) = self.validator().resource_metadata_shared() else {
            return Router::new();
        };
        let path = metadata.path().to_owned();
        Router::new().route(
            &path,
            axum::routing::get(move || {
                let metadata = Arc::clone(&metadata);
                async move { metadata.response::<axum::body::Body>() }
            }),
        )
    }
}
