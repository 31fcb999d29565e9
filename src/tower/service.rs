//! [`BearerAuth`]: the service the layer wraps around yours, and its future.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower::Service;

use super::response::{OnRejection, reject};
use crate::error::Error;
use crate::token::claims::Authenticated;
use crate::validate::validator::Validator;

/// The middleware made by [`BearerAuthLayer`](crate::BearerAuthLayer).
#[derive(Debug, Clone)]
pub struct BearerAuth<S, R> {
    inner: S,
    validator: Validator,
    optional: bool,
    on_rejection: R,
}

impl<S, R> BearerAuth<S, R> {
    pub(crate) fn new(inner: S, validator: Validator, optional: bool, on_rejection: R) -> Self {
        BearerAuth {
            inner,
            validator,
            optional,
            on_rejection,
        }
    }
}

/// The response future of [`BearerAuth`].
pub struct ResponseFuture<T, E> {
    inner: Pin<Box<dyn Future<Output = Result<T, E>> + Send>>,
}

impl<T, E> Future for ResponseFuture<T, E> {
    type Output = Result<T, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl<T, E> std::fmt::Debug for ResponseFuture<T, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
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
    type Future = ResponseFuture<Response<ResBody>, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        // The service that was driven to readiness is the one that must be called.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let validator = self.validator.clone();
        let optional = self.optional;
        let on_rejection = self.on_rejection.clone();
        ResponseFuture {
            inner: Box::pin(async move {
                // Only this layer may vouch for a request.
                request.extensions_mut().remove::<Authenticated>();
                match validator.authenticate(request.headers()).await {
                    Ok(authenticated) => {
                        crate::metrics::accepted();
                        request.extensions_mut().insert(authenticated);
                        inner.call(request).await
                    }
                    Err(Error::MissingToken | Error::NotBearer) if optional => {
                        inner.call(request).await
                    }
                    Err(error) => Ok(reject(&on_rejection, &error)),
                }
            }),
        }
    }
}
