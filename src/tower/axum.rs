//! axum 0.8 extractors: [`Authenticated`] and [`Claims<T>`], each also as
//! `Option<…>` for routes where a token is optional, and `IntoResponse` for
//! [`Error`].
//!
//! They read what [`BearerAuthLayer`](crate::BearerAuthLayer) stored in the
//! request extensions; nothing parses the token again.

use std::sync::Arc;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use serde::de::DeserializeOwned;

use super::response::{DefaultRejection, OnRejection, log_rejection};
use crate::error::Error;
use crate::token::claims::Authenticated;

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

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Authenticated>()
            .cloned()
            .ok_or(Error::Unauthenticated)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Authenticated {
    type Rejection = Error;

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
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Authenticated>() {
            Some(token) => Ok(Claims(token.shared_claims()?)),
            None => Err(Error::Unauthenticated),
        }
    }
}

impl<S, T> OptionalFromRequestParts<S> for Claims<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send + Sync + 'static,
{
    type Rejection = Error;

    /// `None` without a token; a token whose claims do not fit `T` is still
    /// rejected (401 `invalid_token`), never silently treated as anonymous.
    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        match parts.extensions.get::<Authenticated>() {
            None => Ok(None),
            Some(token) => Ok(Some(Claims(token.shared_claims()?))),
        }
    }
}
