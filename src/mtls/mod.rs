//! Certificate-bound access tokens (RFC 8705 §3): a token whose
//! `cnf.x5t#S256` names a client certificate is accepted only on a request
//! made with that certificate. The certificate reaches the layer from the
//! server's TLS acceptor ([`ClientCertificate`] in the request extensions),
//! or, when configured, from a trusted proxy's header ([`forwarded`]).

pub(crate) mod forwarded;

use std::sync::Arc;

use http::{Extensions, HeaderMap, HeaderName};

use crate::digest::sha256_base64url;
use crate::error::{ConfigError, Error};
use crate::token::claims::Authenticated;

/// The client certificate of the TLS connection a request came on: the
/// leaf certificate's DER bytes, as the TLS acceptor verified it.
///
/// Put it in each request's extensions where the connection is accepted
/// (with tokio-rustls: `connection.peer_certificates()`, the first one);
/// see `examples/mtls_server.rs`. The layer reads it for tokens bound to a
/// certificate ([`Builder::certificate_bound_tokens`](crate::Builder::certificate_bound_tokens)).
#[derive(Debug, Clone)]
pub struct ClientCertificate(Arc<[u8]>);

impl ClientCertificate {
    /// The certificate, DER-encoded.
    pub fn from_der(der: impl Into<Arc<[u8]>>) -> Self {
        ClientCertificate(der.into())
    }

    /// The DER bytes.
    pub fn der(&self) -> &[u8] {
        &self.0
    }

    /// Its SHA-256 thumbprint, base64url: what `cnf.x5t#S256` names.
    pub fn thumbprint(&self) -> String {
        sha256_base64url(&self.0)
    }
}

/// Where a request's client certificate comes from when a proxy in front
/// terminates TLS, for
/// [`CertificateBinding::from_proxy_header`]. Trust boundary: the proxy must
/// overwrite the header on every request (a client must never be able to
/// set it), and nothing but the proxy may reach the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyHeader {
    /// Envoy's `x-forwarded-client-cert` (XFCC), with
    /// `forward_client_cert_details: SANITIZE_SET` so that it holds exactly
    /// the element Envoy set; its `Hash` (else its `Cert`) is read. A header
    /// with more than one element (a chain of proxies) is refused.
    EnvoyXfcc,
    /// A header holding the URL-encoded PEM certificate, as nginx's
    /// `$ssl_client_escaped_cert` gives it (`proxy_set_header X-SSL-Cert
    /// $ssl_client_escaped_cert;`), named by the `&'static str`.
    EscapedPem(&'static str),
}

/// Certificate-bound tokens (RFC 8705 §3), for
/// [`Builder::certificate_bound_tokens`](crate::Builder::certificate_bound_tokens).
///
/// A token with `cnf.x5t#S256` then passes only when the request's client
/// certificate has that SHA-256 thumbprint; without a certificate, or with
/// another, it gets 401 `invalid_token`. Tokens not bound to a certificate
/// are not affected.
#[derive(Debug, Clone, Default)]
pub struct CertificateBinding {
    proxy: Option<ProxyHeader>,
}

impl CertificateBinding {
    /// The certificate from the request extensions only
    /// ([`ClientCertificate`], inserted by the server's TLS acceptor).
    pub fn new() -> Self {
        CertificateBinding::default()
    }

    /// Also take the certificate from a trusted proxy's header, when the
    /// request has no [`ClientCertificate`]. Only behind a proxy that sets
    /// the header on every request: read [`ProxyHeader`]'s trust boundary.
    pub fn from_proxy_header(mut self, header: ProxyHeader) -> Self {
        self.proxy = Some(header);
        self
    }

    pub(crate) fn compile(self) -> Result<CertificatePolicy, ConfigError> {
        let proxy = match self.proxy {
            None => None,
            Some(ProxyHeader::EnvoyXfcc) => Some((
                HeaderName::from_static("x-forwarded-client-cert"),
                forwarded::Format::Xfcc,
            )),
            Some(ProxyHeader::EscapedPem(name)) => Some((
                HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| ConfigError::InvalidHeaderName(name))?,
                forwarded::Format::EscapedPem,
            )),
        };
        Ok(CertificatePolicy { proxy })
    }
}

/// [`CertificateBinding`], checked.
#[derive(Debug)]
pub(crate) struct CertificatePolicy {
    proxy: Option<(HeaderName, forwarded::Format)>,
}

impl CertificatePolicy {
    /// Checks a certificate-bound `token` against the request's client
    /// certificate; any other token passes.
    pub(crate) fn check(
        &self,
        token: &Authenticated,
        extensions: &Extensions,
        headers: &HeaderMap,
    ) -> Result<(), Error> {
        let Some(bound) = token.certificate_thumbprint() else {
            return Ok(());
        };
        let presented = match extensions.get::<ClientCertificate>() {
            Some(certificate) => Some(certificate.thumbprint()),
            None => match &self.proxy {
                Some((name, format)) => forwarded::thumbprint(headers, name, *format)?,
                None => None,
            },
        };
        match presented {
            None => Err(Error::CertificateRequired),
            Some(presented) if presented == bound => Ok(()),
            Some(_) => Err(Error::CertificateMismatch),
        }
    }
}
