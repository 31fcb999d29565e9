//! Certificate-bound access tokens (RFC 8705) end to end: a notes API
//! served over TLS that asks each client for a certificate, hands the one it
//! verified to bearer-guard in the request extensions, and so accepts a token
//! bound to a certificate (`cnf.x5t#S256`) only on a connection made with it.
//!
//! ```text
//! mtls_server --issuer URL --audience AUD --cert PEM --key PEM --client-ca PEM
//!             [--jwks-uri URL] [--listen ADDR]
//! ```
//!
//! `--cert`/`--key`: the server's certificate chain and PKCS#8 key; clients
//! presenting a certificate must chain to `--client-ca`. A client certificate
//! is asked for, not required: tokens bound to none still work without one.
//! Prints `listening on ADDR` once ready. `GET /notes` needs `notes.read`;
//! `GET /me` answers the token's subject and the certificate it is bound to.
//! (The certificates under `tests/data/mtls/` are for tests only.)

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use bearer_guard::{
    Authenticated, BearerAuthLayer, CertificateBinding, ClientCertificate, Requirement, TypPolicy,
    require,
};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{RootCertStore, ServerConfig};
use tower::ServiceExt;

const USAGE: &str = "usage: mtls_server --issuer URL --audience AUD --cert PEM --key PEM --client-ca PEM [--jwks-uri URL] [--listen ADDR]";

struct Args {
    issuer: String,
    audience: String,
    cert: String,
    key: String,
    client_ca: String,
    jwks_uri: Option<String>,
    listen: String,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut slots: [Option<String>; 7] = Default::default();
    const FLAGS: [&str; 7] = [
        "--issuer",
        "--audience",
        "--cert",
        "--key",
        "--client-ca",
        "--jwks-uri",
        "--listen",
    ];
    while let Some(flag) = args.next() {
        let at = FLAGS
            .iter()
            .position(|f| *f == flag)
            .ok_or(format!("unknown argument `{flag}`"))?;
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        if slots[at].replace(value).is_some() {
            return Err(format!("{flag} given twice"));
        }
    }
    let [issuer, audience, cert, key, client_ca, jwks_uri, listen] = slots;
    Ok(Args {
        issuer: issuer.ok_or("--issuer is required")?,
        audience: audience.ok_or("--audience is required")?,
        cert: cert.ok_or("--cert is required")?,
        key: key.ok_or("--key is required")?,
        client_ca: client_ca.ok_or("--client-ca is required")?,
        jwks_uri,
        listen: listen.unwrap_or_else(|| "127.0.0.1:8443".to_owned()),
    })
}

/// TLS that asks for (but does not require) a client certificate chaining
/// to the client CA.
fn tls_config(args: &Args) -> Result<ServerConfig, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&args.cert)
        .and_then(|certs| certs.collect())
        .map_err(|e| format!("--cert: {e}"))?;
    let key = PrivateKeyDer::from_pem_file(&args.key).map_err(|e| format!("--key: {e}"))?;
    let mut roots = RootCertStore::empty();
    for ca in
        CertificateDer::pem_file_iter(&args.client_ca).map_err(|e| format!("--client-ca: {e}"))?
    {
        roots
            .add(ca.map_err(|e| format!("--client-ca: {e}"))?)
            .map_err(|e| format!("--client-ca: {e}"))?;
    }
    let verifier = WebPkiClientVerifier::builder(Arc::new(roots))
        .allow_unauthenticated()
        .build()
        .map_err(|e| format!("client verifier: {e}"))?;
    ServerConfig::builder()
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| format!("TLS: {e}"))
}

async fn me(token: Authenticated) -> String {
    serde_json::json!({
        "sub": token.registered().sub,
        "x5t#S256": token.certificate_thumbprint(),
    })
    .to_string()
}

#[tokio::main]
async fn main() {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(problem) => {
            eprintln!("mtls_server: {problem}\n{USAGE}");
            std::process::exit(2);
        }
    };
    let tls = match tls_config(&args) {
        Ok(tls) => TlsAcceptor::from(Arc::new(tls)),
        Err(problem) => {
            eprintln!("mtls_server: {problem}");
            std::process::exit(2);
        }
    };
    let mut builder = BearerAuthLayer::builder()
        .issuer(&args.issuer)
        .audience(&args.audience)
        .typ(TypPolicy::AccessTokenOrJwt)
        .certificate_bound_tokens(CertificateBinding::new());
    if let Some(uri) = &args.jwks_uri {
        builder = builder.jwks_uri(uri);
    }
    let auth = match builder.build() {
        Ok(auth) => auth,
        Err(error) => {
            eprintln!("mtls_server: invalid configuration: {error}");
            std::process::exit(2);
        }
    };
    let app: Router = Router::new()
        .route(
            "/notes",
            get(|| async { "notes" }).route_layer(require(Requirement::scope("notes.read"))),
        )
        .route("/me", get(me))
        .layer(auth);

    let listener = match tokio::net::TcpListener::bind(&args.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("mtls_server: cannot listen on {}: {error}", args.listen);
            std::process::exit(2);
        }
    };
    let addr = listener
        .local_addr()
        .map_or(args.listen.clone(), |a| a.to_string());
    println!("listening on {addr}");
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let (tls, app) = (tls.clone(), app.clone());
        tokio::spawn(async move {
            let Ok(stream) = tls.accept(tcp).await else {
                return;
            };
            // The certificate rustls verified for this connection, if the
            // client sent one: every request on it carries it.
            let certificate = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|chain| chain.first())
                .map(|leaf| ClientCertificate::from_der(leaf.as_ref().to_vec()));
            let service =
                app.map_request(move |mut request: http::Request<hyper::body::Incoming>| {
                    if let Some(certificate) = &certificate {
                        request.extensions_mut().insert(certificate.clone());
                    }
                    request
                });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
                .await;
        });
    }
}
