//! Issue 17.2: the HTTP client the fetches go through. A user's own
//! `reqwest::Client` (here: one trusting a private CA) serves every fetch; an
//! issuer whose certificate the machine does not trust is refused, and the
//! reason (rustls's) reaches the error; a redirect the user's client follows
//! is refused all the same.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::routing::get;
use bearer_guard::testing::TestIssuer;
use bearer_guard::{BearerAuthLayer, TypPolicy};
use http::StatusCode;

use crate::support::{serve, serve_tls, start, test_ca};

/// A router serving `issuer`'s key set at `/jwks`, counting the requests.
fn jwks_router(issuer: &Arc<TestIssuer>, served: &Arc<AtomicUsize>) -> Router {
    let (issuer, served) = (Arc::clone(issuer), Arc::clone(served));
    Router::new().route(
        "/jwks",
        get(move || {
            served.fetch_add(1, Ordering::SeqCst);
            let body = issuer.jwks_document();
            async move { ([(http::header::CONTENT_TYPE, "application/json")], body) }
        }),
    )
}

fn builder(issuer: &TestIssuer, jwks_uri: &str) -> bearer_guard::Builder {
    BearerAuthLayer::builder()
        .issuer(issuer.issuer())
        .audience(TestIssuer::AUDIENCE)
        .typ(TypPolicy::AccessTokenOrJwt)
        .jwks_uri(jwks_uri)
}

#[tokio::test]
async fn the_users_client_fetches_the_keys_and_ours_refuses_an_untrusted_certificate() {
    let issuer = Arc::new(start().await);
    let served = Arc::new(AtomicUsize::new(0));
    let base = serve_tls(jwks_router(&issuer, &served)).await;
    let jwks_uri = format!("{base}/jwks");
    let token = issuer.token().scope("notes.read").sign();

    // Our own client trusts the platform's roots, not the test CA: the
    // handshake fails, no key set loads, and the token gets 503.
    let ours = builder(&issuer, &jwks_uri)
        .build_validator()
        .expect("configuration");
    assert!(
        !ours.warm_up().await,
        "an untrusted certificate loads no keys"
    );
    let refused = ours.validate(&token).await.expect_err("no keys");
    assert_eq!(refused.code(), "keys_unavailable");
    assert_eq!(
        served.load(Ordering::SeqCst),
        0,
        "no request got through TLS"
    );

    // The user's client, trusting the test CA, fetches them.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .tls_certs_only([test_ca()])
        .build()
        .expect("client");
    let theirs = builder(&issuer, &jwks_uri)
        .http_client(client)
        .build_validator()
        .expect("configuration");
    assert!(
        theirs.warm_up().await,
        "the user's client loads the key set"
    );
    assert_eq!(served.load(Ordering::SeqCst), 1);
    let claims = theirs
        .validate(&token)
        .await
        .expect("the token is accepted");
    assert_eq!(claims.scopes().iter().collect::<Vec<_>>(), ["notes.read"]);
}

#[tokio::test]
async fn a_redirect_the_users_client_follows_is_refused() {
    let issuer = Arc::new(start().await);
    let served = Arc::new(AtomicUsize::new(0));
    let real = serve(jwks_router(&issuer, &served)).await;
    let target = format!("{real}/jwks");
    let redirecting = serve(Router::new().route(
        "/jwks",
        get(move || {
            let target = target.clone();
            async move { (StatusCode::FOUND, [(http::header::LOCATION, target)]) }
        }),
    ))
    .await;
    // reqwest's default policy follows up to 10 redirects.
    let validator = builder(&issuer, &format!("{redirecting}/jwks"))
        .http_client(reqwest::Client::new())
        .build_validator()
        .expect("configuration");
    assert!(
        !validator.warm_up().await,
        "a redirected key set is not loaded"
    );
    assert_eq!(
        served.load(Ordering::SeqCst),
        1,
        "the user's client did follow the redirect: the answer is refused all the same"
    );
    let token = issuer.token().scope("notes.read").sign();
    assert_eq!(
        validator
            .validate(&token)
            .await
            .expect_err("no keys")
            .code(),
        "keys_unavailable"
    );
}

/// The user's client is the one every fetch goes through, its proxy
/// included: key fetches for a host that does not exist reach the proxy
/// (a loopback server answering absolute-form requests), which serves them.
#[tokio::test]
async fn fetches_go_through_the_users_client_and_its_proxy() {
    let issuer = Arc::new(start().await);
    let served = Arc::new(AtomicUsize::new(0));
    let proxy = serve(jwks_router(&issuer, &served)).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .proxy(reqwest::Proxy::http(&proxy).expect("proxy URL"))
        .build()
        .expect("client");
    // `.invalid` never resolves (RFC 6761): only the proxy can answer.
    let validator = builder(&issuer, "http://keys.bearer-guard.invalid/jwks")
        .dangerously_allow_insecure_http()
        .http_client(client)
        .build_validator()
        .expect("configuration");
    let token = issuer.token().scope("notes.read").sign();
    assert!(
        validator.validate(&token).await.is_ok(),
        "keys came through the proxy"
    );
    assert_eq!(served.load(Ordering::SeqCst), 1);
}
