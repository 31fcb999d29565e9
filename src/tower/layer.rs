//! [`BearerAuthLayer`]: the tower layer that authenticates every request.

use tower::Layer;

use super::response::DefaultRejection;
use super::service::BearerAuth;
use crate::token::sources::TokenSources;
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
    sources: TokenSources,
    on_rejection: R,
}

impl BearerAuthLayer {
    /// A layer around an existing validator (sharing its key cache).
    pub fn new(validator: Validator) -> Self {
        BearerAuthLayer {
            validator,
            optional: false,
            sources: TokenSources::default(),
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

    /// Also takes the token from the `access_token` query parameter
    /// (RFC 6750 §2.3), for the routes this layer wraps: browsers cannot set
    /// an `Authorization` header on a WebSocket or EventSource request.
    /// Default: off.
    ///
    /// A URI is logged and kept where a header is not (proxy and access
    /// logs, browser history, `Referer`), so RFC 6750 advises against it:
    /// turn it on only for the routes that need it, as a second layer from
    /// the same validator (below), and prefer short-lived tokens there.
    /// bearer-guard itself never logs the token, and removes the parameter
    /// from the request URI before the inner service (and any logging layer
    /// inside this one) sees it; a layer *outside* this one still sees the
    /// original URI. Responses to such requests get
    /// `Cache-Control: private` unless the handler sets it (RFC 6750 §2.3).
    ///
    /// A request that carries a token by more than one method (the header,
    /// the query, the [cookie](Self::token_from_cookie)) gets 400
    /// `invalid_request` (RFC 6750 §2).
    ///
    /// ```
    /// use axum::{Router, routing::get};
    /// use bearer_guard::BearerAuthLayer;
    ///
    /// # fn main() -> Result<(), bearer_guard::ConfigError> {
    /// let auth = BearerAuthLayer::builder()
    ///     .issuer("https://idp.example.com")
    ///     .audience("api://notes")
    ///     .build()?;
    /// let app: Router = Router::new()
    ///     .route("/notes", get(|| async { "header only" }).route_layer(auth.clone()))
    ///     .route(
    ///         "/events",
    ///         get(|| async { "header or ?access_token=" }).route_layer(auth.token_from_query()),
    ///     );
    /// # let _ = app;
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn token_from_query(mut self) -> Self {
        self.sources.query = true;
        self
    }

    /// Also takes the token from the cookie `name`, for the routes this layer
    /// wraps. Default: off.
    ///
    /// A browser sends cookies with every request to the site, including
    /// requests another site makes it send: a cookie-authenticated route is
    /// open to cross-site request forgery. Use it for safe (read-only)
    /// routes or WebSocket handshakes that check `Origin`, set the cookie
    /// `SameSite=Strict` (or `Lax`), `Secure` and `HttpOnly`, and keep
    /// header-only routes for anything that changes state.
    ///
    /// A request carrying the cookie and an `Authorization` header (or the
    /// query parameter) gets 400 `invalid_request` (RFC 6750 §2), as does one
    /// with the cookie twice.
    #[must_use]
    pub fn token_from_cookie(mut self, name: impl Into<String>) -> Self {
        self.sources.cookie = Some(name.into().into());
        self
    }

    /// Builds rejection responses with `handler` instead of the default empty
    /// RFC 6750 response. The precise reason is logged either way.
    pub fn on_rejection<R2>(self, handler: R2) -> BearerAuthLayer<R2> {
        BearerAuthLayer {
            validator: self.validator,
            optional: self.optional,
            sources: self.sources,
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
            self.sources.clone(),
            self.on_rejection.clone(),
        )
    }
}
