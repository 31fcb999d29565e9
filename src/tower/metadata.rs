//! Serving the RFC 9728 metadata document from any tower stack:
//! [`ResourceMetadataLayer`] answers its path and passes everything else on.
//! (axum users merge `BearerAuthLayer::resource_metadata_router` instead.)

use std::task::{Context, Poll};

use http::{Method, Request, Response};
use tower::{Layer, Service};

use super::layer::BearerAuthLayer;
use super::require::RequireFuture;
use crate::validate::validator::Validator;

impl<R> BearerAuthLayer<R> {
    /// A tower layer serving this API's protected-resource metadata
    /// (RFC 9728): a `GET` of the path
    /// [`Builder::resource`](crate::Builder::resource) gives it is answered
    /// with the document; every other request goes to the service inside.
    /// Put it outside this layer, so that clients can read the document
    /// before they have a token. Without a resource identifier it passes
    /// everything on.
    ///
    /// ```
    /// use std::convert::Infallible;
    /// use bearer_guard::BearerAuthLayer;
    /// use http_body_util::Full;
    /// use hyper::body::Bytes;
    /// use tower::{ServiceBuilder, service_fn};
    ///
    /// # fn main() -> Result<(), bearer_guard::ConfigError> {
    /// let auth = BearerAuthLayer::builder()
    ///     .issuer("https://login.example.com")
    ///     .audience("https://api.example.com")
    ///     .resource("https://api.example.com")
    ///     .build()?;
    /// let service = ServiceBuilder::new()
    ///     .layer(auth.resource_metadata_layer())
    ///     .layer(auth)
    ///     .service(service_fn(|_: http::Request<()>| async {
    ///         Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from("notes"))))
    ///     }));
    /// # let _ = service;
    /// # Ok(())
    /// # }
    /// ```
    pub fn resource_metadata_layer(&self) -> ResourceMetadataLayer {
        ResourceMetadataLayer {
            validator: self.validator().clone(),
        }
    }
}

/// The layer made by
/// [`BearerAuthLayer::resource_metadata_layer`]: serves the RFC 9728 metadata
/// document at its path.
#[derive(Debug, Clone)]
pub struct ResourceMetadataLayer {
    validator: Validator,
}

impl<S> Layer<S> for ResourceMetadataLayer {
    type Service = ServeResourceMetadata<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ServeResourceMetadata {
            inner,
            validator: self.validator.clone(),
        }
    }
}

/// The service made by [`ResourceMetadataLayer`].
#[derive(Debug, Clone)]
pub struct ServeResourceMetadata<S> {
    inner: S,
    validator: Validator,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for ServeResourceMetadata<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: From<String>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = RequireFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let document = self
            .validator
            .resource_metadata()
            .filter(|m| request.method() == Method::GET && request.uri().path() == m.path());
        match document {
            Some(metadata) => RequireFuture::ready(metadata.response()),
            None => RequireFuture::inner(self.inner.call(request)),
        }
    }
}
