//! Per-route authorization: a [`Requirement`] over scopes and roles, and the
//! guard layer that enforces it ([`require`]).
//!
//! The guard reads the [`Authenticated`] the [`BearerAuthLayer`](crate::BearerAuthLayer)
//! stored; it never touches the token. With axum, apply it with
//! [`route_layer`](https://docs.rs/axum/0.8/axum/routing/struct.Router.html#method.route_layer)
//! so that a request to an unknown path stays a 404 instead of becoming a 401 or 403.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use super::response::{
    ChallengeContext, DefaultRejection, OnRejection, complete_challenges, ready_once, reject,
};
use super::step_up::StepUp;
use crate::error::Error;
use crate::token::claims::Authenticated;

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

    /// Appends every scope this requirement names, in order, to `out`.
    pub(crate) fn scopes(&self, out: &mut Vec<String>) {
        match self {
            Requirement::Scope(name) => out.push(name.clone()),
            Requirement::All(list) | Requirement::Any(list) => {
                for requirement in list {
                    requirement.scopes(out);
                }
            }
            Requirement::Authenticated
            | Requirement::Role(_)
            | Requirement::Client(_)
            | Requirement::Policy(_) => {}
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

    /// Checks `token`, returning [`Error::InsufficientScope`] when it does not
    /// hold.
    ///
    /// Its `scope` attribute names the scopes this requirement mentions (else
    /// its roles): RFC 6750 §3 asks for the scope *required* to access the
    /// resource, which is what a client must ask for in its next token, not
    /// only the part this token lacks. A requirement naming neither (calling
    /// app, policy) gives a bare `insufficient_scope`. The log gets the whole
    /// requirement.
    pub fn check(&self, token: &Authenticated) -> Result<(), Error> {
        if self.is_satisfied_by(token) {
            return Ok(());
        }
        let mut scopes = Vec::new();
        let mut roles = Vec::new();
        self.collect_names(&mut scopes, &mut roles);
        let names = if scopes.is_empty() { roles } else { scopes };
        Err(Error::InsufficientScope {
            required: names.join(" "),
            requirement: self.to_string(),
        })
    }

    /// Every scope and role name this requirement mentions, once each.
    fn collect_names<'a>(&'a self, scopes: &mut Vec<&'a str>, roles: &mut Vec<&'a str>) {
        match self {
            Requirement::Scope(name) if !scopes.contains(&name.as_str()) => scopes.push(name),
            Requirement::Role(name) if !roles.contains(&name.as_str()) => roles.push(name),
            Requirement::All(list) | Requirement::Any(list) => {
                for r in list {
                    r.collect_names(scopes, roles);
                }
            }
            _ => {}
        }
    }
}

impl std::fmt::Display for Requirement {
    /// A readable form for logs: `scope(a) and (role(B) or client(c))`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list =
            |f: &mut std::fmt::Formatter<'_>, items: &[Requirement], op: &str, empty: &str| {
                if items.is_empty() {
                    return f.write_str(empty);
                }
                for (i, r) in items.iter().enumerate() {
                    if i > 0 {
                        write!(f, " {op} ")?;
                    }
                    match r {
                        Requirement::All(_) | Requirement::Any(_) => write!(f, "({r})")?,
                        _ => write!(f, "{r}")?,
                    }
                }
                Ok(())
            };
        match self {
            Requirement::Authenticated => f.write_str("authenticated"),
            Requirement::Scope(n) => write!(f, "scope({n})"),
            Requirement::Role(n) => write!(f, "role({n})"),
            Requirement::Client(n) => write!(f, "client({n})"),
            Requirement::Policy(n) => write!(f, "policy({n})"),
            Requirement::All(items) => list(f, items, "and", "nothing"),
            Requirement::Any(items) => list(f, items, "or", "never"),
        }
    }
}

/// A guard layer enforcing `requirement` on every request it wraps.
///
/// Requests without an [`Authenticated`] in their extensions (no token, with the
/// auth layer in optional mode) get 401; tokens lacking the permission get 403
/// `insufficient_scope`; with [`step_up`](RequireLayer::step_up), tokens that
/// have the permission but not the authentication it needs get 401
/// `insufficient_user_authentication`.
pub fn require(requirement: Requirement) -> RequireLayer {
    RequireLayer {
        policy: Arc::new(Policy {
            requirement,
            step_up: None,
        }),
        on_rejection: DefaultRejection,
    }
}

/// What a guard enforces: the permission, then the authentication.
#[derive(Debug)]
struct Policy {
    requirement: Requirement,
    step_up: Option<StepUp>,
}

impl Policy {
    /// The permission is checked first (RFC 9470 §3), so a token that lacks
    /// it gets 403 whatever its authentication.
    fn check(&self, token: &Authenticated) -> Result<(), Error> {
        self.requirement.check(token)?;
        match &self.step_up {
            Some(step_up) => step_up.check(token),
            None => Ok(()),
        }
    }
}

/// The layer made by [`require`].
#[derive(Debug, Clone)]
pub struct RequireLayer<R = DefaultRejection> {
    /// Shared: routers clone the service for every request.
    policy: Arc<Policy>,
    on_rejection: R,
}

impl<R> RequireLayer<R> {
    /// Builds rejection responses with `handler` instead of the default.
    pub fn on_rejection<R2>(self, handler: R2) -> RequireLayer<R2> {
        RequireLayer {
            policy: self.policy,
            on_rejection: handler,
        }
    }

    /// Also requires the authentication `step_up` names (RFC 9470), checked
    /// after the permission. Replaces any set before.
    #[must_use]
    pub fn step_up(self, step_up: StepUp) -> Self {
        RequireLayer {
            policy: Arc::new(Policy {
                requirement: self.policy.requirement.clone(),
                step_up: Some(step_up),
            }),
            on_rejection: self.on_rejection,
        }
    }
}

impl<S, R: Clone> Layer<S> for RequireLayer<R> {
    type Service = Require<S, R>;

    fn layer(&self, inner: S) -> Self::Service {
        Require {
            inner,
            policy: Arc::clone(&self.policy),
            on_rejection: self.on_rejection.clone(),
        }
    }
}

/// The guard service made by [`RequireLayer`].
#[derive(Debug, Clone)]
pub struct Require<S, R> {
    inner: S,
    /// Shared: routers clone the service for every request.
    policy: Arc<Policy>,
    on_rejection: R,
}

impl<S, R, ReqBody, ResBody> Service<Request<ReqBody>> for Require<S, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    R: OnRejection<ResBody>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = RequireFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let extensions = request.extensions();
        let (verdict, context, used) = match extensions.get::<Authenticated>() {
            // The layer let the request through without a token (an
            // optional route): it left its challenge context, if any.
            None => (
                Err(Error::Unauthenticated),
                extensions.get::<ChallengeContext>().map(|c| &*c.0),
                None,
            ),
            Some(token) => (
                self.policy.check(token),
                Some(token.context()),
                Some(token.scheme()),
            ),
        };
        match verdict {
            Ok(()) => RequireFuture::inner(self.inner.call(request)),
            Err(error) => {
                let mut response = reject(&self.on_rejection, &error);
                if let Some(context) = context {
                    complete_challenges(&mut response, context, used, &error);
                }
                RequireFuture::ready(response)
            }
        }
    }
}

pin_project! {
    /// The response future of [`Require`] (and of
    /// [`ServeResourceMetadata`](crate::ServeResourceMetadata)): the inner
    /// service's, or a response of its own (a rejection, the document),
    /// ready at once.
    pub struct RequireFuture<F, B> {
        #[pin]
        state: State<F, B>,
    }
}

impl<F, B> RequireFuture<F, B> {
    /// The inner service's future.
    pub(crate) fn inner(future: F) -> Self {
        RequireFuture {
            state: State::Inner { future },
        }
    }

    /// `response`, ready at once.
    pub(crate) fn ready(response: Response<B>) -> Self {
        RequireFuture {
            state: State::Rejected {
                response: Some(response),
            },
        }
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, B> {
        Inner { #[pin] future: F },
        Rejected { response: Option<Response<B>> },
    }
}

impl<F, B> std::fmt::Debug for RequireFuture<F, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequireFuture").finish_non_exhaustive()
    }
}

impl<F, B, E> Future for RequireFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Inner { future } => future.poll(cx),
            StateProj::Rejected { response } => ready_once(response),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_reads_as_the_requirement_for_logs() {
        let r = Requirement::scope("notes.read")
            .or(Requirement::role("Notes.Read.All")
                .and(Requirement::any_client(["app-a", "app-b"])));
        assert_eq!(
            r.to_string(),
            "scope(notes.read) or (role(Notes.Read.All) and (client(app-a) or client(app-b)))"
        );
        assert_eq!(Requirement::any([]).to_string(), "never");
        assert_eq!(
            Requirement::policy("B2C_1_susi").to_string(),
            "policy(B2C_1_susi)"
        );
    }
}
