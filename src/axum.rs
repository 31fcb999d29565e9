//! axum 0.8 extractors: [`Authenticated`] and [`Claims<T>`], each also as
//! `Option<…>` for routes where a token is optional.
//!
//! They read what [`BearerAuthLayer`](crate::BearerAuthLayer) stored in the
//! request extensions; nothing parses the token again.

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use serde::de::DeserializeOwned;

use crate::claims::Authenticated;
use crate::error::Error;
use crate::response::{DefaultRejection, OnRejection, log_rejection};

/// The validated token, with the caller's own claims type `T` deserialized from
/// its claims set.
///
/// ```
/// use axum::{Router, routing::get};
/// use bearer_guard::Claims;
/// use serde::Deserialize;
///
/// #[derive(Deserialize)]
/// struct MyClaims {
///     name: Option<String>,
///     tid: Option<String>,
/// }
///
/// async fn me(claims: Claims<MyClaims>) -> String {
///     format!("{:?} from tenant {:?} with scopes {:?}",
///         claims.name, claims.tid, claims.token().scopes().iter().collect::<Vec<_>>())
/// }
///
/// let app: Router = Router::new().route("/me", get(me));
/// # let _ = app;
/// ```
#[derive(Debug, Clone)]
pub struct Claims<T> {
    /// The caller's own claims.
    pub custom: T,
    token: Authenticated,
}

impl<T> Claims<T> {
    /// The validated token: registered claims, scopes and roles.
    pub fn token(&self) -> &Authenticated {
        &self.token
    }

    /// The caller's own claims, by value.
    pub fn into_inner(self) -> T {
        self.custom
    }
}

impl<T> std::ops::Deref for Claims<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.custom
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

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Claims<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let token =
            <Authenticated as FromRequestParts<S>>::from_request_parts(parts, state).await?;
        let custom = token.claims()?;
        Ok(Claims { custom, token })
    }
}

impl<S: Send + Sync, T: DeserializeOwned> OptionalFromRequestParts<S> for Claims<T> {
    type Rejection = Error;

    /// `None` without a token; a token whose claims do not fit `T` is still
    /// rejected (401 `invalid_token`), never silently treated as anonymous.
    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        match parts.extensions.get::<Authenticated>() {
            None => Ok(None),
            Some(token) => Ok(Some(Claims {
                custom: token.claims()?,
                token: token.clone(),
            })),
        }
    }
}
