//! [`BearerAuth`]: the service the layer wraps around yours, and its future.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::CACHE_CONTROL;
use http::{HeaderValue, Request, Response};
use pin_project_lite::pin_project;
use tower::Service;

use super::response::{ChallengeContext, OnRejection, complete_challenges, ready_once, reject};
use crate::dpop::check::RequestTarget;
use crate::error::Error;
use crate::token::claims::Authenticated;
use crate::token::extract::scheme_of;
use crate::token::sources::{self, Found, TokenSources};
use crate::validate::validator::{Start, Validator};

/// The middleware made by [`BearerAuthLayer`](crate::BearerAuthLayer).
#[derive(Debug, Clone)]
pub struct BearerAuth<S, R> {
    inner: S,
    validator: Validator,
    optional: bool,
    sources: TokenSources,
    on_rejection: R,
}

impl<S, R> BearerAuth<S, R> {
    pub(crate) fn new(
        inner: S,
        validator: Validator,
        optional: bool,
        sources: TokenSources,
        on_rejection: R,
    ) -> Self {
        BearerAuth {
            inner,
            validator,
            optional,
            sources,
            on_rejection,
        }
    }
}

/// What the layer does with a verdict.
enum Verdict {
    /// Hand the request on, with this token in its extensions (`None`: an
    /// optional route and no bearer token).
    Pass(Option<Authenticated>),
    /// Answer it with this rejection.
    Reject(Error),
}

impl<S, R> BearerAuth<S, R> {
    /// The response for `error` to a request with `headers`, logged, its
    /// challenges completed for this API (the scheme the request used, DPoP,
    /// the `resource_metadata` parameter).
    fn reject<B>(&self, error: &Error, headers: &http::HeaderMap) -> Response<B>
    where
        R: OnRejection<B>,
    {
        let mut response = reject(&self.on_rejection, error);
        let used = scheme_of(headers, self.validator.dpop().is_some());
        complete_challenges(&mut response, self.validator.context(), used, error);
        response
    }

    fn verdict(&self, result: Result<Authenticated, Error>) -> Verdict {
        match result {
            Ok(authenticated) => {
                crate::metrics::accepted();
                Verdict::Pass(Some(authenticated))
            }
            Err(Error::MissingToken | Error::NotBearer) if self.optional => Verdict::Pass(None),
            Err(error) => Verdict::Reject(error),
        }
    }
}

/// Puts the layer's verdict in the request's extensions, replacing whatever
/// an [`Authenticated`] was there: only this layer may vouch for a request.
/// (A rejected request is answered here and never reaches the inner service.)
/// Without a token (an optional route), it leaves the validator's
/// challenge context for the guards instead, when it has one to say.
fn vouch<B>(request: &mut Request<B>, token: Option<Authenticated>, validator: &Validator) {
    let extensions = request.extensions_mut();
    match token {
        Some(token) => {
            extensions.insert(token);
        }
        None => {
            extensions.remove::<Authenticated>();
            let context = validator.context();
            if context.resource_challenge.is_some() || context.dpop.is_some() {
                extensions.insert(ChallengeContext(Arc::clone(context)));
            }
        }
    }
}

pin_project! {
    /// The response future of [`BearerAuth`]: the inner service's future
    /// (a token answered from the verified-token cache, or an optional route
    /// without one), a rejection ready at once, or, for a token that must be
    /// verified, a boxed future that validates and then calls the inner
    /// service. Only that last case allocates.
    pub struct ResponseFuture<F, B, E> {
        #[pin]
        state: State<F, B, E>,
    }
}

type Validating<B, E> = Pin<Box<dyn Future<Output = Result<Response<B>, E>> + Send>>;

pin_project! {
    #[project = StateProj]
    enum State<F, B, E> {
        Inner { #[pin] future: F },
        Rejected { response: Option<Response<B>> },
        Validating { future: Validating<B, E> },
    }
}

impl<F, B, E> Future for ResponseFuture<F, B, E>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Inner { future } => future.poll(cx),
            StateProj::Validating { future } => future.as_mut().poll(cx),
            StateProj::Rejected { response } => ready_once(response),
        }
    }
}

impl<F, B, E> std::fmt::Debug for ResponseFuture<F, B, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<S, R: Clone> BearerAuth<S, R> {
    /// What a validating future needs of the service: all but the inner one.
    fn detached(&self) -> BearerAuth<(), R> {
        BearerAuth {
            inner: (),
            validator: self.validator.clone(),
            optional: self.optional,
            sources: TokenSources::default(),
            on_rejection: self.on_rejection.clone(),
        }
    }

    /// The future for a request whose verdict needs the whole pipeline:
    /// the token of its `Authorization` header, or `found` in the query or
    /// a cookie (`token::sources`: its URI then handed on without the
    /// token, and, for a query token, the response kept out of shared
    /// caches, RFC 6750 §2.3).
    fn validating<ReqBody, ResBody>(
        &mut self,
        mut request: Request<ReqBody>,
        found: Option<Found>,
    ) -> State<S::Future, ResBody, S::Error>
    where
        S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
        S::Future: Send + 'static,
        R: OnRejection<ResBody> + Send + Sync + 'static,
        ReqBody: Send + 'static,
        ResBody: 'static,
    {
        let mut from_query = false;
        let token = found.map(|Found { token, stripped }| {
            if let Some(uri) = stripped {
                *request.uri_mut() = uri;
                from_query = true;
            }
            token
        });
        // The service that was driven to readiness is the one that must be
        // called; a clone stays behind for the next request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let this = self.detached();
        let future = Box::pin(async move {
            let target = Some(RequestTarget {
                method: request.method(),
                uri: request.uri(),
            });
            let headers = request.headers();
            let result = match &token {
                None => this.validator.finish(target, headers).await,
                Some(token) => {
                    (this.validator)
                        .finish_found(target, headers, token.as_bytes())
                        .await
                }
            }
            .and_then(|token| {
                this.validator
                    .check_certificate(&token, request.extensions(), headers)
                    .map(|()| token)
            });
            match this.verdict(result) {
                Verdict::Pass(token) => {
                    vouch(&mut request, token, &this.validator);
                    let mut response = inner.call(request).await?;
                    if from_query {
                        response
                            .headers_mut()
                            .entry(CACHE_CONTROL)
                            .or_insert(HeaderValue::from_static("private"));
                    }
                    Ok(response)
                }
                Verdict::Reject(error) => Ok(this.reject(&error, request.headers())),
            }
        });
        State::Validating { future }
    }
}

impl<S, R, ReqBody, ResBody> Service<Request<ReqBody>> for BearerAuth<S, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    R: OnRejection<ResBody> + Send + Sync + 'static,
    ReqBody: Send + 'static,
    ResBody: 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        if self.sources.any() {
            let max = self.validator.max_token_bytes();
            match sources::find(&self.sources, request.uri(), request.headers(), max) {
                Ok(None) => {}
                Ok(Some(found)) => {
                    return ResponseFuture {
                        state: self.validating(request, Some(found)),
                    };
                }
                Err(error) => {
                    let response = self.reject(&error, request.headers());
                    return ResponseFuture {
                        state: State::Rejected {
                            response: Some(response),
                        },
                    };
                }
            }
        }
        let state = match self.validator.start(request.headers()) {
            // Decided at once (a cached token, or a header that is missing or
            // malformed): no future of ours to allocate.
            Start::Done(result) => match self.verdict(result.and_then(|token| {
                self.validator
                    .check_certificate(&token, request.extensions(), request.headers())
                    .map(|()| token)
            })) {
                Verdict::Pass(token) => {
                    vouch(&mut request, token, &self.validator);
                    State::Inner {
                        future: self.inner.call(request),
                    }
                }
                Verdict::Reject(error) => State::Rejected {
                    response: Some(self.reject(&error, request.headers())),
                },
            },
            Start::Cold => self.validating(request, None),
        };
        ResponseFuture { state }
    }
}
