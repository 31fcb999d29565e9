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
use crate::token::claim_map::lookup;
use crate::token::claims::Authenticated;
use crate::token::json::{self, Kind, Object};

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
    /// The claim at a path equals a value, or, for an array claim, holds it
    /// ([`Requirement::claim`]).
    Claim(ClaimRequirement),
    /// A predicate of the user's, with a name for logs and challenges
    /// ([`Requirement::custom`]).
    Custom(Predicate),
}

/// A claim's required value: a string, a boolean or an integer
/// ([`Requirement::claim`]). Made with `From`: `"tenant"`, `true`, `42`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClaimValue {
    /// A JSON string, compared exactly (case-sensitive).
    String(String),
    /// `true` or `false`.
    Bool(bool),
    /// A JSON number with this integer value (`1` and `1.0` alike).
    Integer(i64),
}

impl From<&str> for ClaimValue {
    fn from(value: &str) -> Self {
        ClaimValue::String(value.to_owned())
    }
}

impl From<String> for ClaimValue {
    fn from(value: String) -> Self {
        ClaimValue::String(value)
    }
}

impl From<bool> for ClaimValue {
    fn from(value: bool) -> Self {
        ClaimValue::Bool(value)
    }
}

impl From<i64> for ClaimValue {
    fn from(value: i64) -> Self {
        ClaimValue::Integer(value)
    }
}

impl From<i32> for ClaimValue {
    fn from(value: i32) -> Self {
        ClaimValue::Integer(value.into())
    }
}

impl From<u32> for ClaimValue {
    fn from(value: u32) -> Self {
        ClaimValue::Integer(value.into())
    }
}

impl std::fmt::Display for ClaimValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClaimValue::String(s) => write!(f, "{s:?}"),
            ClaimValue::Bool(b) => write!(f, "{b}"),
            ClaimValue::Integer(n) => write!(f, "{n}"),
        }
    }
}

impl ClaimValue {
    /// Whether the JSON value `raw` is this value.
    fn matches(&self, raw: &serde_json::value::RawValue) -> bool {
        match (self, json::kind(raw)) {
            (ClaimValue::String(want), Kind::String) => {
                json::string(raw).is_some_and(|got| got == want.as_str())
            }
            (ClaimValue::Bool(want), Kind::Literal) => {
                raw.get() == if *want { "true" } else { "false" }
            }
            (ClaimValue::Integer(want), Kind::Number) => json::number(raw).is_some_and(|n| {
                n.as_i64() == Some(*want)
                    || n.as_f64().is_some_and(|f| {
                        f.fract() == 0.0 && f == *want as f64 && want.unsigned_abs() < (1 << 53)
                    })
            }),
            _ => false,
        }
    }
}

/// Where a claim is, for [`Requirement::claim`]: a top-level name (`"tid"`,
/// or a namespaced one such as `"https://example.com/tenant"`: dots and
/// slashes are part of a name), or a path of names into nested objects
/// (`["realm_access", "roles"]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimPath(Vec<String>);

impl From<&str> for ClaimPath {
    fn from(name: &str) -> Self {
        ClaimPath(vec![name.to_owned()])
    }
}

impl From<String> for ClaimPath {
    fn from(name: String) -> Self {
        ClaimPath(vec![name])
    }
}

impl<const N: usize> From<[&str; N]> for ClaimPath {
    fn from(path: [&str; N]) -> Self {
        ClaimPath(path.iter().map(|s| (*s).to_owned()).collect())
    }
}

impl From<Vec<String>> for ClaimPath {
    fn from(path: Vec<String>) -> Self {
        ClaimPath(path)
    }
}

impl std::fmt::Display for ClaimPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, name) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            f.write_str(name)?;
        }
        Ok(())
    }
}

/// [`Requirement::Claim`]: the claim at `path` must be `value`, or an array
/// holding it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRequirement {
    path: ClaimPath,
    value: ClaimValue,
}

impl ClaimRequirement {
    /// Where the claim is.
    pub fn path(&self) -> &ClaimPath {
        &self.path
    }

    /// The value required.
    pub fn value(&self) -> &ClaimValue {
        &self.value
    }

    fn is_satisfied_by(&self, token: &Authenticated) -> bool {
        // The claims were checked as JSON with unique names when the token
        // was validated; parsed again here, only for routes that ask.
        let Ok(claims) = Object::parse(token.claims_json()) else {
            return false;
        };
        let Some(raw) = lookup(&claims, &self.path.0) else {
            return false;
        };
        if json::kind(raw) == Kind::Array {
            serde_json::from_str::<Vec<&serde_json::value::RawValue>>(raw.get())
                .is_ok_and(|items| items.iter().any(|item| self.value.matches(item)))
        } else {
            self.value.matches(raw)
        }
    }
}

/// The function of a [`Requirement::custom`].
type Check = dyn Fn(&Authenticated) -> bool + Send + Sync;

/// [`Requirement::Custom`]: a named predicate. Two are equal when they are
/// clones of one `Requirement::custom` (the same function).
#[derive(Clone)]
pub struct Predicate {
    name: String,
    check: Arc<Check>,
}

impl Predicate {
    /// The name given, for logs and challenges.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl std::fmt::Debug for Predicate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Predicate")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl PartialEq for Predicate {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && Arc::ptr_eq(&self.check, &other.check)
    }
}

impl Eq for Predicate {}

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

    /// The claim at `path` must equal `value` (a string, a boolean or an
    /// integer), or, when the claim is an array, hold it: a tenant
    /// (`claim("tid", "…")`), a group (`claim("groups", "…")`),
    /// `claim("email_verified", true)`, a nested value
    /// (`claim(["realm_access", "roles"], "admin")`). A claim that is
    /// missing or of another type does not hold. Compared exactly; names in
    /// logs and (with [`error_descriptions`](crate::Builder::error_descriptions))
    /// in the 403 as `claim(path)`, its value only in logs.
    ///
    /// ```
    /// use bearer_guard::Requirement;
    ///
    /// let staff = Requirement::claim("email_verified", true)
    ///     .and(Requirement::claim(["realm_access", "roles"], "staff"));
    /// # let _ = staff;
    /// ```
    pub fn claim(path: impl Into<ClaimPath>, value: impl Into<ClaimValue>) -> Self {
        Requirement::Claim(ClaimRequirement {
            path: path.into(),
            value: value.into(),
        })
    }

    /// A predicate of your own over the validated token, named `name` in logs
    /// and (with [`error_descriptions`](crate::Builder::error_descriptions))
    /// in the 403. It runs on every request the guard sees: keep it cheap
    /// and free of I/O. Combines with `and`/`or` like any requirement.
    ///
    /// ```
    /// use bearer_guard::Requirement;
    ///
    /// let company = Requirement::custom("company-account", |token| {
    ///     token
    ///         .registered()
    ///         .sub
    ///         .as_deref()
    ///         .is_some_and(|sub| sub.starts_with("corp-"))
    /// });
    /// let read = Requirement::scope("notes.read").and(company);
    /// # let _ = read;
    /// ```
    pub fn custom(
        name: impl Into<String>,
        check: impl Fn(&Authenticated) -> bool + Send + Sync + 'static,
    ) -> Self {
        Requirement::Custom(Predicate {
            name: name.into(),
            check: Arc::new(check),
        })
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
            | Requirement::Policy(_)
            | Requirement::Claim(_)
            | Requirement::Custom(_) => {}
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
            Requirement::Claim(claim) => claim.is_satisfied_by(token),
            Requirement::Custom(predicate) => (predicate.check)(token),
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
            needs: Named(self).to_string(),
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
    /// A readable form for logs: `scope(a) and (role(B) or client(c))`,
    /// `claim(tid = "t1")`, `custom(name)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write_requirement(self, f, true)
    }
}

/// A requirement as a challenge may name it: claim values left out.
struct Named<'a>(&'a Requirement);

impl std::fmt::Display for Named<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write_requirement(self.0, f, false)
    }
}

/// Writes `requirement`; claim values only when `values`.
fn write_requirement(
    requirement: &Requirement,
    f: &mut std::fmt::Formatter<'_>,
    values: bool,
) -> std::fmt::Result {
    let list = |f: &mut std::fmt::Formatter<'_>, items: &[Requirement], op: &str, empty: &str| {
        if items.is_empty() {
            return f.write_str(empty);
        }
        for (i, r) in items.iter().enumerate() {
            if i > 0 {
                write!(f, " {op} ")?;
            }
            match r {
                Requirement::All(_) | Requirement::Any(_) => {
                    f.write_str("(")?;
                    write_requirement(r, f, values)?;
                    f.write_str(")")?;
                }
                _ => write_requirement(r, f, values)?,
            }
        }
        Ok(())
    };
    match requirement {
        Requirement::Authenticated => f.write_str("authenticated"),
        Requirement::Scope(n) => write!(f, "scope({n})"),
        Requirement::Role(n) => write!(f, "role({n})"),
        Requirement::Client(n) => write!(f, "client({n})"),
        Requirement::Policy(n) => write!(f, "policy({n})"),
        Requirement::Claim(c) if values => write!(f, "claim({} = {})", c.path, c.value),
        Requirement::Claim(c) => write!(f, "claim({})", c.path),
        Requirement::Custom(p) => write!(f, "custom({})", p.name),
        Requirement::All(items) => list(f, items, "and", "nothing"),
        Requirement::Any(items) => list(f, items, "or", "never"),
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
