//! Per-route authorization: a [`Requirement`] over scopes and roles, and the
//! guard layer that enforces it ([`require`]).
//!
//! The guard reads the [`Authenticated`] the [`BearerAuthLayer`](crate::BearerAuthLayer)
//! stored; it never touches the token. With axum, apply it with
//! [`route_layer`](https://docs.rs/axum/0.8/axum/routing/struct.Router.html#method.route_layer)
//! so that a request to an unknown path stays a 404 instead of becoming a 401 or 403.

use std::task::{Context, Poll};

use futures_util::future::{Either, Ready, ready};
use http::{Request, Response};
use tower::{Layer, Service};

use crate::claims::Authenticated;
use crate::error::Error;
use crate::response::{DefaultRejection, OnRejection, reject};

/// What a route needs from a validated token.
///
/// Matching is exact, case-sensitive and whole-token: `read` never matches
/// `read.all`, `reader` or `Read`.
///
/// ```
/// use bearer_guard::Requirement;
///
/// // Microsoft.Identity.Web's RequiredScopeOrAppPermission: a user with the
/// // delegated scope, or an app with the app role.
/// let read = Requirement::scope("notes.read").or(Requirement::role("Notes.Read.All"));
/// let both = Requirement::all([Requirement::scope("a"), Requirement::scope("b")]);
/// # let _ = (read, both);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Requirement {
    /// Any validated token.
    Authenticated,
    /// A delegated scope (`scp` or `scope`).
    Scope(String),
    /// An app role (`roles`).
    Role(String),
    /// The calling application (`azp`, `appid` or `client_id`) is this one:
    /// an access-control list for client-credentials callers.
    Client(String),
    /// The token was issued by this sign-in policy (Azure AD B2C user flow),
    /// compared ignoring ASCII case as B2C does.
    Policy(String),
    /// Every requirement holds.
    All(Vec<Requirement>),
    /// At least one requirement holds. An empty list never holds.
    Any(Vec<Requirement>),
}

impl Requirement {
    /// The token must carry the delegated scope `name`.
    pub fn scope(name: impl Into<String>) -> Self {
        Requirement::Scope(name.into())
    }

    /// The token must carry the app role `name`.
    pub fn role(name: impl Into<String>) -> Self {
        Requirement::Role(name.into())
    }

    /// The calling application must be `client_id` (from `azp`, `appid` or
    /// `client_id`). Combine several with [`Requirement::any`] for an allow-list.
    pub fn client(client_id: impl Into<String>) -> Self {
        Requirement::Client(client_id.into())
    }

    /// The calling application must be one of `client_ids`.
    pub fn any_client<'a>(client_ids: impl IntoIterator<Item = &'a str>) -> Self {
        Requirement::any(client_ids.into_iter().map(Requirement::client))
    }

    /// The token must come from the sign-in policy `name` (B2C `tfp`/`acr`).
    pub fn policy(name: impl Into<String>) -> Self {
        Requirement::Policy(name.into())
    }

    /// Every one of `requirements` must hold (an empty list always holds).
    pub fn all(requirements: impl IntoIterator<Item = Requirement>) -> Self {
        Requirement::All(requirements.into_iter().collect())
    }

    /// At least one of `requirements` must hold (an empty list never holds).
    pub fn any(requirements: impl IntoIterator<Item = Requirement>) -> Self {
        Requirement::Any(requirements.into_iter().collect())
    }

    /// This and `other`.
    #[must_use]
    pub fn and(self, other: Requirement) -> Self {
        match self {
            Requirement::All(mut list) => {
                list.push(other);
                Requirement::All(list)
            }
            first => Requirement::All(vec![first, other]),
        }
    }

    /// This or `other`.
    #[must_use]
    pub fn or(self, other: Requirement) -> Self {
        match self {
            Requirement::Any(mut list) => {
                list.push(other);
                Requirement::Any(list)
            }
            first => Requirement::Any(vec![first, other]),
        }
    }

    /// Whether `token` satisfies this requirement.
    pub fn is_satisfied_by(&self, token: &Authenticated) -> bool {
        match self {
            Requirement::Authenticated => true,
            Requirement::Scope(name) => token.scopes().contains(name),
            Requirement::Role(name) => token.roles().contains(name),
            Requirement::Client(id) => token.client_id() == Some(id.as_str()),
            Requirement::Policy(name) => {
                token.policy().is_some_and(|p| p.eq_ignore_ascii_case(name))
            }
            Requirement::All(list) => list.iter().all(|r| r.is_satisfied_by(token)),
            Requirement::Any(list) => list.iter().any(|r| r.is_satisfied_by(token)),
        }
    }

    /// Checks `token`, returning [`Error::InsufficientScope`] naming the scopes
    /// this requirement mentions when it does not hold.
    pub fn check(&self, token: &Authenticated) -> Result<(), Error> {
        if self.is_satisfied_by(token) {
            return Ok(());
        }
        let mut names = Vec::new();
        self.collect_scopes(&mut names);
        Err(Error::InsufficientScope {
            required: names.join(" "),
        })
    }

    /// The scope names for RFC 6750's `scope` attribute; a requirement that
    /// names no scope (roles only) names its roles instead, so the client still
    /// learns what is missing.
    fn collect_scopes<'a>(&'a self, out: &mut Vec<&'a str>) {
        self.walk(&mut |r| {
            if let Requirement::Scope(name) = r
                && !out.contains(&name.as_str())
            {
                out.push(name);
            }
        });
        if out.is_empty() {
            self.walk(&mut |r| {
                if let Requirement::Role(name) = r
                    && !out.contains(&name.as_str())
                {
                    out.push(name);
                }
            });
        }
    }

    fn walk<'a>(&'a self, visit: &mut impl FnMut(&'a Requirement)) {
        visit(self);
        if let Requirement::All(list) | Requirement::Any(list) = self {
            for r in list {
                r.walk(visit);
            }
        }
    }
}

/// A guard layer enforcing `requirement` on every request it wraps.
///
/// Requests without an [`Authenticated`] in their extensions (no token, with the
/// auth layer in optional mode) get 401; tokens lacking the permission get 403
/// `insufficient_scope`.
pub fn require(requirement: Requirement) -> RequireLayer {
    RequireLayer {
        requirement,
        on_rejection: DefaultRejection,
    }
}

/// The layer made by [`require`].
#[derive(Debug, Clone)]
pub struct RequireLayer<R = DefaultRejection> {
    requirement: Requirement,
    on_rejection: R,
}

impl<R> RequireLayer<R> {
    /// Builds rejection responses with `handler` instead of the default.
    pub fn on_rejection<R2>(self, handler: R2) -> RequireLayer<R2> {
        RequireLayer {
            requirement: self.requirement,
            on_rejection: handler,
        }
    }
}

impl<S, R: Clone> Layer<S> for RequireLayer<R> {
    type Service = Require<S, R>;

    fn layer(&self, inner: S) -> Self::Service {
        Require {
            inner,
            requirement: self.requirement.clone(),
            on_rejection: self.on_rejection.clone(),
        }
    }
}

/// The guard service made by [`RequireLayer`].
#[derive(Debug, Clone)]
pub struct Require<S, R> {
    inner: S,
    requirement: Requirement,
    on_rejection: R,
}

impl<S, R, ReqBody, ResBody> Service<Request<ReqBody>> for Require<S, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    R: OnRejection<ResBody>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Either<S::Future, Ready<Result<Response<ResBody>, S::Error>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let verdict = match request.extensions().get::<Authenticated>() {
            None => Err(Error::Unauthenticated),
            Some(token) => self.requirement.check(token),
        };
        match verdict {
            Ok(()) => Either::Left(self.inner.call(request)),
            Err(error) => Either::Right(ready(Ok(reject(&self.on_rejection, &error)))),
        }
    }
}
