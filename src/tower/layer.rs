//! [`BearerAuthLayer`]: the tower layer that authenticates every request.

use tower::Layer;

use super::response::DefaultRejection;
use super::service::BearerAuth;
use crate::validate::validator::Validator;

/// A tower [`Layer`] that validates the bearer token of every request and puts
/// the result, an [`Authenticated`](crate::Authenticated), into the request
/// extensions for guards ([`require`](crate::require())) and extractors.
///
/// Requests without a valid token are answered by the layer (RFC 6750) and never
/// reach the inner service. Cheap to clone. Start with
/// [`BearerAuthLayer::builder`].
///
/// With axum, apply it with `route_layer` rather than `layer`: a router's
/// `layer` also wraps its fallback, so a request without a valid token to a
/// path that does not exist gets 401 instead of 404.
///
/// ```
/// use bearer_guard::BearerAuthLayer;
///
/// # fn main() -> Result<(), bearer_guard::ConfigError> {
/// let auth = BearerAuthLayer::builder()
///     .issuer("https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/v2.0")
///     .audience("api://notes")
///     .build()?;
/// # let _ = auth;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct BearerAuthLayer<R = DefaultRejection> {
    validator: Validator,
    optional: bool,
    on_rejection: R,
}

impl BearerAuthLayer {
    /// A layer around an existing validator (sharing its key cache).
    pub fn new(validator: Validator) -> Self {
        BearerAuthLayer {
            validator,
            optional: false,
            on_rejection: DefaultRejection,
        }
    }
}

impl<R> BearerAuthLayer<R> {
    /// The validator this layer uses (shared, not copied).
    pub fn validator(&self) -> &Validator {
        &self.validator
    }

    /// Lets requests that carry no bearer token through, without an
    /// [`Authenticated`](crate::Authenticated) in their extensions, for routes
    /// where a token is optional (extract `Option<Claims<T>>`): no
    /// `Authorization` header, or one with another scheme (`Basic …`), which
    /// RFC 6750 §3.1 treats as no bearer credentials. A request that does carry
    /// a `Bearer` token must carry a valid one. Default: off.
    #[must_use]
    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }

    /// Builds rejection responses with `handler` instead of the default empty
    /// RFC 6750 response. The precise reason is logged either way.
    pub fn on_rejection<R2>(self, handler: R2) -> BearerAuthLayer<R2> {
        BearerAuthLayer {
            validator: self.validator,
            optional: self.optional,
            on_rejection: handler,
        }
    }
}

impl<S, R: Clone> Layer<S> for BearerAuthLayer<R> {
    type Service = BearerAuth<S, R>;

    fn layer(&self, inner: S) -> Self::Service {
        BearerAuth::new(
            inner,
            self.validator.clone(),
            self.optional,
            self.on_rejection.clone(),
        )
    }
}
