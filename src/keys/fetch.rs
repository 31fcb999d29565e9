//! Fetching discovery documents and key sets over HTTP, within bounds.
//!
//! - connect and total timeouts on every request;
//! - the body is read chunk by chunk and cut off at a byte cap (reqwest does not
//!   decompress here: no compression feature is enabled, so the cap counts the
//!   bytes actually held);
//! - redirects are not followed at all: a key set is served where discovery
//!   says it is, and a redirect could lead anywhere;
//! - only `https`, except to loopback hosts or with the explicit opt-in;
//! - one HTTP client per connect timeout for the whole process, shared by
//!   every validator ([`shared_client`]), unless the user gives their own
//!   ([`Builder::http_client`](crate::Builder::http_client)); introspection,
//!   which calls per request, gets a pooled client ([`Fetcher::for_calls`]);
//! - every error prints its whole cause chain (the TLS, DNS or connection
//!   reason), in its `Display` and so in every log line.

use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use reqwest::Url;
use serde::Deserialize;

use crate::error::{ConfigError, HttpClientError, causes, log_safe};

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum FetchError {
    /// Connection, TLS, timeout or protocol failure, with its whole cause
    /// chain (reqwest's own message says only "error sending request").
    #[error("request to {url} failed: {}", causes(error))]
    Transport {
        /// The URL fetched.
        url: String,
        /// The underlying error, its URL left out (the message names it).
        error: reqwest::Error,
    },
    /// The answer came from another URL: the user's HTTP client followed a
    /// redirect. A key set is served where discovery says it is.
    #[error("{url} redirected to another URL; redirects are not followed")]
    Redirected {
        /// The URL fetched.
        url: String,
    },
    /// A status other than 200.
    #[error("{url} answered HTTP {status}")]
    Status {
        /// The URL fetched.
        url: String,
        /// The status received.
        status: u16,
    },
    /// The body is larger than the cap.
    #[error("{url} sent more than {max} bytes")]
    TooLarge {
        /// The URL fetched.
        url: String,
        /// The cap.
        max: usize,
    },
    /// The discovery document is not JSON with the expected fields.
    #[error("discovery document at {url} is invalid")]
    InvalidDiscovery {
        /// The URL fetched.
        url: String,
    },
    /// The discovery document names another issuer (OpenID Connect Discovery §4.3).
    #[error("discovery document names issuer {found}, expected {expected:?}")]
    IssuerMismatch {
        /// The configured issuer.
        expected: String,
        /// The issuer the document names (truncated).
        found: String,
    },
    /// A URL (from discovery) is not acceptable.
    #[error("URL {url} from discovery is not acceptable")]
    InsecureUrl {
        /// The URL refused (truncated).
        url: String,
    },
    /// The key set could not be used.
    #[error("key set at {url} refused: {reason}")]
    KeySet {
        /// The URL fetched.
        url: String,
        /// Why.
        reason: super::jwk::SetRejected,
    },
}

/// Which HTTP client fetches go through.
#[derive(Debug, Clone)]
pub(crate) enum ClientChoice {
    /// The process's shared client for the connect timeout. `needs_https`:
    /// some configured URL is `https`, so a client without root
    /// certificates is no fallback when the certificate store cannot be read.
    Shared {
        /// Whether some configured URL is `https`.
        needs_https: bool,
    },
    /// The user's own client, used as it is.
    User(reqwest::Client),
}

/// Limits and client for key fetches.
#[derive(Debug, Clone)]
pub(crate) struct Fetcher {
    client: reqwest::Client,
    /// The roots `client` trusts when it is one of ours; `None`: the user's
    /// client, which serves every call (ours make way for a pooled one for
    /// introspection).
    roots: Option<Roots>,
    connect_timeout: Duration,
    /// The whole request, connecting to the last byte of the body.
    timeout: Duration,
    max_body_bytes: usize,
    allow_insecure_http: bool,
}

impl Fetcher {
    /// A fetcher on the shared client, for configurations with `https`
    /// URLs (a certificate store is needed).
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn new(
        connect_timeout: Duration,
        timeout: Duration,
        max_body_bytes: usize,
        allow_insecure_http: bool,
    ) -> Result<Self, HttpClientError> {
        Self::with_client(
            connect_timeout,
            timeout,
            max_body_bytes,
            allow_insecure_http,
            ClientChoice::Shared { needs_https: true },
        )
    }

    /// A fetcher with these limits on the client `choice` names.
    pub(crate) fn with_client(
        connect_timeout: Duration,
        timeout: Duration,
        max_body_bytes: usize,
        allow_insecure_http: bool,
        choice: ClientChoice,
    ) -> Result<Self, HttpClientError> {
        let (client, roots) = match choice {
            ClientChoice::User(client) => (client, None),
            ClientChoice::Shared { needs_https } => {
                let (client, roots) = shared_client(connect_timeout, needs_https)?;
                (client, Some(roots))
            }
        };
        Ok(Fetcher {
            client,
            roots,
            connect_timeout,
            timeout,
            max_body_bytes,
            allow_insecure_http,
        })
    }

    /// The fetcher for calls made per request (token introspection): the
    /// same limits, on a client that keeps idle connections, so that calls
    /// do not each open a TCP and TLS connection. The user's own client is
    /// used as it is. A client of its own (not the shared one): pooled
    /// connections belong to the tokio runtime that opened them, and a
    /// validator serves one runtime.
    pub(crate) fn for_calls(&self) -> Result<Fetcher, HttpClientError> {
        let Some(roots) = self.roots else {
            return Ok(self.clone());
        };
        Ok(Fetcher {
            client: build_client(self.connect_timeout, true, roots)
                .map_err(HttpClientError::new)?,
            ..self.clone()
        })
    }

    /// OpenID Connect Discovery 1.0 §4: fetches the metadata at `url` and returns
    /// its `jwks_uri`, after checking that the document names `issuer` (for a
    /// multi-tenant template, the template itself, as Microsoft publishes it),
    /// with how long the server says the document stays fresh. `now` is the
    /// wall-clock time freshness is computed against.
    pub(crate) async fn discover(
        &self,
        url: &Url,
        issuer: &str,
        now: SystemTime,
    ) -> Result<(Url, Option<Duration>), FetchError> {
        #[derive(Deserialize)]
        struct Metadata {
            issuer: String,
            jwks_uri: String,
        }
        let (metadata, fresh_for) = self
            .metadata::<Metadata>(url, issuer, now, |m| &m.issuer)
            .await?;
        Ok((self.acceptable(&metadata.jwks_uri)?, fresh_for))
    }

    /// The discovery document at `url` as `T`, after checking (OpenID
    /// Connect Discovery §4.3, RFC 8414 §3.3) that the issuer it names
    /// (`issuer_of`) is `issuer`; with its freshness.
    async fn metadata<T: serde::de::DeserializeOwned>(
        &self,
        url: &Url,
        issuer: &str,
        now: SystemTime,
        issuer_of: impl Fn(&T) -> &str,
    ) -> Result<(T, Option<Duration>), FetchError> {
        let Fetched { body, fresh_for } = self.get(url, now).await?;
        let metadata: T =
            serde_json::from_slice(&body).map_err(|_| FetchError::InvalidDiscovery {
                url: url.to_string(),
            })?;
        // The issuer value returned MUST be identical to the one used.
        if issuer_of(&metadata) != issuer {
            return Err(FetchError::IssuerMismatch {
                expected: issuer.to_owned(),
                found: log_safe(issuer_of(&metadata), 200),
            });
        }
        Ok((metadata, fresh_for))
    }

    /// A URL a discovery document names, if acceptable.
    fn acceptable(&self, text: &str) -> Result<Url, FetchError> {
        Url::parse(text)
            .ok()
            .filter(|u| url_is_acceptable(u, self.allow_insecure_http))
            .ok_or_else(|| FetchError::InsecureUrl {
                url: log_safe(text, 200),
            })
    }

    /// The `introspection_endpoint` of the discovery document at `url`
    /// (RFC 8414 §2), after checking that it names `issuer`.
    pub(crate) async fn discover_introspection(
        &self,
        url: &Url,
        issuer: &str,
        now: SystemTime,
    ) -> Result<Url, FetchError> {
        #[derive(Deserialize)]
        struct Metadata {
            issuer: String,
            introspection_endpoint: String,
        }
        let (metadata, _) = self
            .metadata::<Metadata>(url, issuer, now, |m| &m.issuer)
            .await?;
        self.acceptable(&metadata.introspection_endpoint)
    }

    /// GETs `url` and returns its body, at most `max_body_bytes` long, with
    /// how long the server says it stays fresh (from `now`, when it sends an
    /// `Expires` without a `Date`).
    pub(crate) async fn get(&self, url: &Url, now: SystemTime) -> Result<Fetched, FetchError> {
        let transport = |error: reqwest::Error| FetchError::Transport {
            url: url.to_string(),
            error: error.without_url(),
        };
        let mut response = self
            .client
            .get(url.clone())
            .timeout(self.timeout)
            .header(http::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(transport)?;
        self.not_redirected(url, &response)?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(FetchError::Status {
                url: url.to_string(),
                status: response.status().as_u16(),
            });
        }
        let fresh_for = freshness(response.headers(), now);
        let body = self.read_capped(url, &mut response).await?;
        Ok(Fetched { body, fresh_for })
    }

    /// POSTs the form `body` (already `application/x-www-form-urlencoded`)
    /// to `url`, with HTTP Basic credentials when given, and returns the
    /// body of a 200 answer, at most `max_body_bytes` long. Redirects are
    /// not followed (a 3xx is a status like any other): a request carrying
    /// a token must not be re-sent elsewhere.
    pub(crate) async fn post_form(
        &self,
        url: &Url,
        body: String,
        basic: Option<(&str, &str)>,
        accept: &'static str,
    ) -> Result<Vec<u8>, FetchError> {
        let transport = |error: reqwest::Error| FetchError::Transport {
            url: url.to_string(),
            error: error.without_url(),
        };
        let mut request = self
            .client
            .post(url.clone())
            .timeout(self.timeout)
            .header(http::header::ACCEPT, accept)
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body);
        if let Some((user, password)) = basic {
            request = request.basic_auth(user, Some(password));
        }
        let mut response = request.send().await.map_err(transport)?;
        self.not_redirected(url, &response)?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(FetchError::Status {
                url: url.to_string(),
                status: response.status().as_u16(),
            });
        }
        self.read_capped(url, &mut response).await
    }

    /// The body of `response`, refused past `max_body_bytes` (by its
    /// `Content-Length` before reading, else while reading).
    async fn read_capped(
        &self,
        url: &Url,
        response: &mut reqwest::Response,
    ) -> Result<Vec<u8>, FetchError> {
        let too_large = || FetchError::TooLarge {
            url: url.to_string(),
            max: self.max_body_bytes,
        };
        if response
            .content_length()
            .is_some_and(|len| len > self.max_body_bytes as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|error| FetchError::Transport {
                url: url.to_string(),
                error: error.without_url(),
            })?
        {
            if body.len() + chunk.len() > self.max_body_bytes {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// Refuses an answer from another URL than `url`: only a user's client
    /// can follow redirects (ours never does), and a key set or an
    /// introspection answer counts only from where it was asked for.
    fn not_redirected(&self, url: &Url, response: &reqwest::Response) -> Result<(), FetchError> {
        if response.url() == url {
            Ok(())
        } else {
            Err(FetchError::Redirected {
                url: url.to_string(),
            })
        }
    }

    /// Whether plain `http` URLs (beyond loopback) are allowed.
    pub(crate) fn allows_insecure_http(&self) -> bool {
        self.allow_insecure_http
    }
}

/// A fetched document.
#[derive(Debug)]
pub(crate) struct Fetched {
    pub body: Vec<u8>,
    /// From `Cache-Control: max-age` (RFC 9111 §5.2.2.1; `no-store` and
    /// `no-cache` count as zero), else `Expires` minus `Date` (§5.3).
    pub fresh_for: Option<Duration>,
}

fn freshness(headers: &http::HeaderMap, now: SystemTime) -> Option<Duration> {
    let cache_control = headers
        .get_all(http::header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim);
    let mut max_age = None;
    for directive in cache_control {
        let (name, value) = directive.split_once('=').unwrap_or((directive, ""));
        if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
            return Some(Duration::ZERO);
        }
        if name.eq_ignore_ascii_case("max-age") {
            max_age = value
                .trim_matches('"')
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs);
        }
    }
    if max_age.is_some() {
        return max_age;
    }
    let date = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok())
    };
    headers.get(http::header::EXPIRES)?;
    // §5.3: an invalid Expires (such as "0") means already expired.
    let Some(expires) = date(http::header::EXPIRES) else {
        return Some(Duration::ZERO);
    };
    let now = date(http::header::DATE).unwrap_or(now);
    Some(expires.duration_since(now).unwrap_or(Duration::ZERO))
}

/// `{issuer}/.well-known/openid-configuration`, any trailing `/` of the issuer removed
/// first (OpenID Connect Discovery 1.0 §4).
pub(crate) fn discovery_url(issuer: &str) -> Option<Url> {
    Url::parse(&format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    ))
    .ok()
}

/// The root certificates a client of ours trusts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Roots {
    /// The platform's store (rustls-platform-verifier).
    #[cfg(not(feature = "webpki-roots"))]
    Platform,
    /// Mozilla's roots, bundled (feature `webpki-roots`): no store needed.
    #[cfg(feature = "webpki-roots")]
    Bundled,
    /// None: every `https` connection fails. Only when the platform's store
    /// cannot be read and no configured URL is `https`.
    #[cfg(not(feature = "webpki-roots"))]
    Nothing,
}

impl Roots {
    #[cfg(not(feature = "webpki-roots"))]
    const DEFAULT: Roots = Roots::Platform;
    #[cfg(feature = "webpki-roots")]
    const DEFAULT: Roots = Roots::Bundled;
}

/// The process's HTTP client for `connect_timeout`: built once and shared by
/// every validator (every layer) with that setting, at most
/// [`MAX_SHARED_CLIENTS`] of them; past that, a client of its own. With the
/// roots it trusts.
///
/// reqwest builds its TLS set-up with each client: the platform verifier
/// reads and parses every root certificate of the system store, about
/// 200 kB of heap and milliseconds per client (`benches/rss.sh` measured
/// 416 kB for two). One per process is enough.
///
/// When the platform's store cannot be read (a slim container without
/// `ca-certificates`) and no configured URL is `https` (`needs_https`), the
/// client trusts no root instead of failing the build: every URL it will be
/// asked for is plain `http`, and one named by discovery that is not fails
/// with the TLS reason in the log.
///
/// Its connection pool is off: a client outlives the tokio runtime it was
/// first used on (tests make one runtime each, and so may applications), and
/// a pooled connection belongs to the runtime that opened it. hyper-util
/// drops one whose runtime is gone when it sees it closed, but a request
/// racing that would fail; and fetches are minutes or hours apart, past any
/// idle connection's life, so the pool saves at most one handshake when a
/// discovery document and its key set are fetched back to back.
fn shared_client(
    connect_timeout: Duration,
    needs_https: bool,
) -> Result<(reqwest::Client, Roots), HttpClientError> {
    let mut clients = CLIENTS.lock().unwrap_or_else(PoisonError::into_inner);
    // A client without roots serves only configurations without https.
    if let Some((_, roots, client)) = clients
        .iter()
        .find(|(t, roots, _)| *t == connect_timeout && (*roots == Roots::DEFAULT || !needs_https))
    {
        return Ok((client.clone(), *roots));
    }
    let (client, roots) = match build_client(connect_timeout, false, Roots::DEFAULT) {
        Ok(client) => (client, Roots::DEFAULT),
        Err(error) => fallback(connect_timeout, needs_https, error)?,
    };
    if clients.len() < MAX_SHARED_CLIENTS {
        clients.push((connect_timeout, roots, client.clone()));
    }
    Ok((client, roots))
}

/// When the default roots cannot be loaded: a client without roots if no
/// configured URL needs one, else the error.
#[cfg(not(feature = "webpki-roots"))]
fn fallback(
    connect_timeout: Duration,
    needs_https: bool,
    error: reqwest::Error,
) -> Result<(reqwest::Client, Roots), HttpClientError> {
    if needs_https {
        return Err(HttpClientError::new(error));
    }
    tracing::info!(
        reason = %causes(&error),
        "bearer-guard: no usable certificate store, and no configured URL is https: \
         fetching without trusted roots (any https URL a discovery document names will fail)"
    );
    build_client(connect_timeout, false, Roots::Nothing)
        .map(|client| (client, Roots::Nothing))
        .map_err(HttpClientError::new)
}

/// With bundled roots, nothing is read from the machine: no fallback.
#[cfg(feature = "webpki-roots")]
fn fallback(
    _connect_timeout: Duration,
    _needs_https: bool,
    error: reqwest::Error,
) -> Result<(reqwest::Client, Roots), HttpClientError> {
    Err(HttpClientError::new(error))
}

/// A client of ours: no redirects, our user agent, the connect timeout,
/// `roots`; its pool off unless `pooled`.
fn build_client(
    connect_timeout: Duration,
    pooled: bool,
    roots: Roots,
) -> Result<reqwest::Client, reqwest::Error> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("bearer-guard/", env!("CARGO_PKG_VERSION")));
    if !pooled {
        builder = builder.pool_max_idle_per_host(0);
    }
    builder = match roots {
        #[cfg(not(feature = "webpki-roots"))]
        Roots::Platform => builder,
        #[cfg(not(feature = "webpki-roots"))]
        Roots::Nothing => builder.tls_certs_only(std::iter::empty()),
        #[cfg(feature = "webpki-roots")]
        Roots::Bundled => builder.tls_certs_only(
            webpki_root_certs::TLS_SERVER_ROOT_CERTS
                .iter()
                .filter_map(|der| reqwest::Certificate::from_der(der).ok()),
        ),
    };
    builder.build()
}

/// The shared clients, by connect timeout, with their roots.
static CLIENTS: Mutex<Vec<(Duration, Roots, reqwest::Client)>> = Mutex::new(Vec::new());

/// How many distinct connect timeouts get a shared client.
const MAX_SHARED_CLIENTS: usize = 8;

/// `value` as a URL a setting may name: it parses, has a host, is `http` or
/// `https`, and plain `http` only as [`url_is_acceptable`] allows; else the
/// configuration error naming `what`.
pub(crate) fn check_url(
    what: &'static str,
    value: &str,
    allow_insecure_http: bool,
) -> Result<Url, ConfigError> {
    let url = Url::parse(value).map_err(|_| ConfigError::InvalidUrl {
        what,
        url: value.to_owned(),
    })?;
    if url.host().is_none() || !matches!(url.scheme(), "http" | "https") {
        return Err(ConfigError::InvalidUrl {
            what,
            url: value.to_owned(),
        });
    }
    if !url_is_acceptable(&url, allow_insecure_http) {
        return Err(ConfigError::InsecureUrl {
            what,
            url: value.to_owned(),
        });
    }
    Ok(url)
}

/// `https`, or `http` to a loopback host, or `http` anywhere when the user opted in.
pub(crate) fn url_is_acceptable(url: &Url, allow_insecure_http: bool) -> bool {
    match url.scheme() {
        "https" => url.host().is_some(),
        "http" => allow_insecure_http || is_loopback(url),
        _ => false,
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(url: &str, opt_in: bool) -> bool {
        Url::parse(url).is_ok_and(|u| url_is_acceptable(&u, opt_in))
    }

    #[test]
    fn plain_http_only_on_loopback_or_with_the_opt_in() {
        assert!(ok("https://login.example.com/t/v2.0", false));
        assert!(ok("http://127.0.0.1:8080/", false));
        assert!(ok("http://127.8.9.10/", false));
        assert!(ok("http://[::1]:9/", false));
        assert!(ok("http://localhost:9/", false));
        assert!(!ok("http://login.example.com/", false));
        assert!(!ok("http://10.0.0.1/", false));
        assert!(!ok("http://localhost.evil.example/", false));
        assert!(ok("http://login.example.com/", true));
        assert!(!ok("ftp://login.example.com/", true));
        assert!(!ok("file:///etc/passwd", true));
    }

    fn freshness_now(headers: &http::HeaderMap) -> Option<Duration> {
        freshness(headers, SystemTime::now())
    }

    #[test]
    fn expires_without_a_date_counts_from_the_clock_given() {
        let mut h = http::HeaderMap::new();
        h.insert(
            http::header::EXPIRES,
            http::HeaderValue::from_static("Sun, 06 Nov 1994 09:49:37 GMT"),
        );
        let at = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").expect("a date");
        assert_eq!(freshness(&h, at), Some(Duration::from_secs(3600)));
        assert_eq!(freshness(&h, SystemTime::now()), Some(Duration::ZERO));
    }

    #[test]
    fn freshness_from_cache_control_or_expires() {
        use http::header::{CACHE_CONTROL, DATE, EXPIRES};
        let headers = |pairs: &[(http::header::HeaderName, &'static str)]| {
            let mut h = http::HeaderMap::new();
            for (name, value) in pairs {
                h.append(name.clone(), http::HeaderValue::from_static(value));
            }
            h
        };
        assert_eq!(
            freshness_now(&headers(&[(CACHE_CONTROL, "public, max-age=3600")])),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(
            freshness_now(&headers(&[(CACHE_CONTROL, "max-age=60, no-cache")])),
            Some(Duration::ZERO)
        );
        assert_eq!(
            freshness_now(&headers(&[(CACHE_CONTROL, "max-age=abc")])),
            None
        );
        assert_eq!(
            freshness_now(&headers(&[
                (DATE, "Sun, 06 Nov 1994 08:49:37 GMT"),
                (EXPIRES, "Sun, 06 Nov 1994 09:49:37 GMT")
            ])),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(
            freshness_now(&headers(&[
                (DATE, "Sun, 06 Nov 1994 08:49:37 GMT"),
                (EXPIRES, "0")
            ])),
            Some(Duration::ZERO)
        );
        assert_eq!(freshness_now(&headers(&[])), None);
    }

    #[test]
    fn discovery_url_drops_one_trailing_slash() {
        assert_eq!(
            discovery_url("https://t.b2clogin.com/tid/v2.0/").map(|u| u.to_string()),
            Some("https://t.b2clogin.com/tid/v2.0/.well-known/openid-configuration".into())
        );
        assert_eq!(
            discovery_url("https://login.microsoftonline.com/tid/v2.0").map(|u| u.to_string()),
            Some(
                "https://login.microsoftonline.com/tid/v2.0/.well-known/openid-configuration"
                    .into()
            )
        );
    }

    /// Fetchers with the same connect timeout share one client: it is built
    /// once and kept, whatever their other limits.
    #[test]
    fn fetchers_with_one_connect_timeout_share_one_client() {
        let timeout = Duration::from_millis(7_919);
        let kept = || {
            CLIENTS
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
                .filter(|(t, _, _)| *t == timeout)
                .count()
        };
        assert_eq!(kept(), 0);
        for (total, cap) in [(1, 10), (2, 20), (3, 30)] {
            Fetcher::new(timeout, Duration::from_secs(total), cap, false).expect("a client");
        }
        assert_eq!(kept(), 1);
    }
}
