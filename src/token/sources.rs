//! Access tokens from outside the `Authorization` header, where a layer
//! allows them: the `access_token` URI query parameter (RFC 6750 §2.3) and a
//! cookie. Browsers cannot set headers on WebSocket or EventSource requests.
//!
//! Pure functions over the request's URI and headers. Each source is bounded
//! by the token size cap before anything is decoded or copied, and a request
//! that carries a token by more than one method (these, and the
//! `Authorization` header) is malformed (RFC 6750 §2: one method per request).

use std::sync::Arc;

use http::header::{AUTHORIZATION, COOKIE};
use http::{HeaderMap, Uri};

use crate::error::Error;

/// The query parameter of RFC 6750 §2.3.
pub(crate) const QUERY_PARAMETER: &str = "access_token";

/// Where else a layer takes a token from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TokenSources {
    /// The `access_token` query parameter (RFC 6750 §2.3).
    pub(crate) query: bool,
    /// The cookie of this name.
    pub(crate) cookie: Option<Arc<str>>,
}

impl TokenSources {
    /// Whether any source beside the `Authorization` header is on.
    pub(crate) fn any(&self) -> bool {
        self.query || self.cookie.is_some()
    }
}

/// A token found in a source beside the header.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Found {
    /// The token's text (not yet checked beyond its length).
    pub(crate) token: String,
    /// `Some(uri)`: the token came from the query, and this is the request's
    /// URI without it, to hand onward.
    pub(crate) stripped: Option<Uri>,
}

/// The token of the request from the sources `sources` allows, if any:
/// `Ok(None)` when none of them carries one (the `Authorization` header is
/// then read as usual). A token by more than one method (two sources, or a
/// source and an `Authorization` header), or two values in one source, is
/// [`Error::MultipleTokenMethods`]; a value longer than `max_len` bytes
/// [`Error::TokenTooLarge`]; an empty one [`Error::MalformedAuthorization`].
pub(crate) fn find(
    sources: &TokenSources,
    uri: &Uri,
    headers: &HeaderMap,
    max_len: usize,
) -> Result<Option<Found>, Error> {
    let from_query = match (sources.query, uri.query()) {
        (true, Some(query)) => query_token(query, max_len)?,
        _ => None,
    };
    let from_cookie = match &sources.cookie {
        Some(name) => cookie_token(headers, name, max_len)?,
        None => None,
    };
    let header = headers.contains_key(AUTHORIZATION);
    let found = match (from_query, from_cookie) {
        (None, None) => return Ok(None),
        (Some(_), Some(_)) => return Err(Error::MultipleTokenMethods),
        (Some((token, rest)), None) => Found {
            token,
            stripped: Some(without_query(uri, &rest)?),
        },
        (None, Some(token)) => Found {
            token,
            stripped: None,
        },
    };
    if header {
        return Err(Error::MultipleTokenMethods);
    }
    Ok(Some(found))
}

/// The `access_token` parameter of `query` (`application/x-www-form-urlencoded`,
/// decoded), and the query without it (the other parameters exactly as sent).
fn query_token(query: &str, max_len: usize) -> Result<Option<(String, String)>, Error> {
    let mut token = None;
    let mut rest: Vec<&str> = Vec::new();
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        // The name may be percent-encoded too; decoded without a copy unless
        // it has escapes.
        let is_ours = url::form_urlencoded::parse(name.as_bytes())
            .next()
            .is_some_and(|(name, _)| name == QUERY_PARAMETER);
        if !is_ours {
            rest.push(pair);
            continue;
        }
        if token.is_some() {
            return Err(Error::MultipleTokenMethods);
        }
        // Percent-encoding at most triples a byte: a longer value cannot
        // decode to a token within the cap, and is not decoded at all.
        if value.len() > max_len.saturating_mul(3) {
            return Err(Error::TokenTooLarge {
                len: value.len(),
                max: max_len,
            });
        }
        // The pair itself, decoded: its value.
        let text: String = url::form_urlencoded::parse(pair.as_bytes())
            .next()
            .map(|(_, value)| value.into_owned())
            .unwrap_or_default();
        token = Some(checked(text, max_len)?);
    }
    Ok(token.map(|token| (token, rest.join("&"))))
}

/// The value of the cookie `name` (RFC 6265 §4.2: `name=value` pairs
/// separated by `;`, the value optionally in double quotes), from every
/// `Cookie` header.
fn cookie_token(headers: &HeaderMap, name: &str, max_len: usize) -> Result<Option<String>, Error> {
    let mut token = None;
    for header in headers.get_all(COOKIE) {
        // A header that is not text carries no cookie we could match.
        let Ok(text) = header.to_str() else { continue };
        for pair in text.split(';') {
            let Some((key, value)) = pair.trim().split_once('=') else {
                continue;
            };
            if key.trim() != name {
                continue;
            }
            if token.is_some() {
                return Err(Error::MultipleTokenMethods);
            }
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            if value.len() > max_len {
                return Err(Error::TokenTooLarge {
                    len: value.len(),
                    max: max_len,
                });
            }
            token = Some(checked(value.to_owned(), max_len)?);
        }
    }
    Ok(token)
}

/// `token` if it is not empty and within the cap.
fn checked(token: String, max_len: usize) -> Result<String, Error> {
    if token.is_empty() {
        return Err(Error::MalformedAuthorization("empty access token"));
    }
    if token.len() > max_len {
        return Err(Error::TokenTooLarge {
            len: token.len(),
            max: max_len,
        });
    }
    Ok(token)
}

/// `uri` with its query replaced by `rest` (none when empty).
fn without_query(uri: &Uri, rest: &str) -> Result<Uri, Error> {
    let path = uri.path();
    let path_and_query = if rest.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{rest}")
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(
        path_and_query
            .parse()
            .map_err(|_| Error::MalformedAuthorization("request URI"))?,
    );
    Uri::from_parts(parts).map_err(|_| Error::MalformedAuthorization("request URI"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn both() -> TokenSources {
        TokenSources {
            query: true,
            cookie: Some("at".into()),
        }
    }

    fn headers(pairs: &[(http::HeaderName, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(name.clone(), HeaderValue::from_static(value));
        }
        h
    }

    fn uri(text: &'static str) -> Uri {
        Uri::from_static(text)
    }

    #[test]
    fn the_query_parameter_is_taken_and_stripped_the_rest_kept_as_sent() {
        let found = find(
            &both(),
            &uri("/ws?room=a%20b&access_token=abc.def-_~+%2B&x=1"),
            &HeaderMap::new(),
            100,
        )
        .expect("valid")
        .expect("a token");
        // `+` is a space in form encoding: what RFC 6750 §2.3's encoding says.
        assert_eq!(found.token, "abc.def-_~ +");
        assert_eq!(
            found.stripped.expect("stripped").to_string(),
            "/ws?room=a%20b&x=1"
        );
        let alone = find(&both(), &uri("/ws?access_token=t"), &HeaderMap::new(), 100)
            .expect("valid")
            .expect("a token");
        assert_eq!(alone.stripped.expect("stripped").to_string(), "/ws");
        // An encoded parameter name is the same parameter.
        let encoded = find(&both(), &uri("/?access%5Ftoken=t"), &HeaderMap::new(), 100)
            .expect("valid")
            .expect("a token");
        assert_eq!(encoded.token, "t");
    }

    #[test]
    fn sources_that_are_off_are_not_read() {
        let off = TokenSources::default();
        let cookie = headers(&[(COOKIE, "at=abc")]);
        assert_eq!(
            find(&off, &uri("/?access_token=abc"), &cookie, 100),
            Ok(None)
        );
        let query_only = TokenSources {
            query: true,
            cookie: None,
        };
        assert_eq!(find(&query_only, &uri("/"), &cookie, 100), Ok(None));
    }

    #[test]
    fn the_cookie_is_found_among_others_quoted_or_not() {
        for value in ["a=1; at=abc.def; b=2", "at=\"abc.def\"", "a=1;at=abc.def"] {
            let found = find(&both(), &uri("/"), &headers(&[(COOKIE, value)]), 100)
                .expect("valid")
                .expect("a token");
            assert_eq!(found.token, "abc.def", "{value}");
            assert_eq!(found.stripped, None);
        }
        // Another cookie's name that merely ends in ours is not ours.
        assert_eq!(
            find(&both(), &uri("/"), &headers(&[(COOKIE, "xat=abc")]), 100),
            Ok(None)
        );
    }

    #[test]
    fn more_than_one_method_or_value_is_a_malformed_request() {
        let authorization = headers(&[(AUTHORIZATION, "Bearer abc")]);
        let cookie = headers(&[(COOKIE, "at=abc")]);
        let many = Err(Error::MultipleTokenMethods);
        assert_eq!(
            find(&both(), &uri("/?access_token=abc"), &authorization, 100),
            many
        );
        assert_eq!(
            find(
                &both(),
                &uri("/"),
                &{
                    let mut h = cookie.clone();
                    h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
                    h
                },
                100
            ),
            many
        );
        assert_eq!(
            find(&both(), &uri("/?access_token=abc"), &cookie, 100),
            many
        );
        assert_eq!(
            find(
                &both(),
                &uri("/?access_token=a&access_token=b"),
                &HeaderMap::new(),
                100
            ),
            many
        );
        assert_eq!(
            find(
                &both(),
                &uri("/"),
                &headers(&[(COOKIE, "at=a"), (COOKIE, "at=b")]),
                100
            ),
            many
        );
    }

    #[test]
    fn values_are_bounded_before_decoding_and_never_empty() {
        let long = format!("/?access_token={}", "a".repeat(301));
        assert_eq!(
            find(&both(), &long.parse().expect("uri"), &HeaderMap::new(), 100),
            Err(Error::TokenTooLarge { len: 301, max: 100 })
        );
        let decoded_long = format!("/?access_token={}", "a".repeat(101));
        assert_eq!(
            find(
                &both(),
                &decoded_long.parse().expect("uri"),
                &HeaderMap::new(),
                100
            ),
            Err(Error::TokenTooLarge { len: 101, max: 100 })
        );
        assert!(matches!(
            find(&both(), &uri("/?access_token="), &HeaderMap::new(), 100),
            Err(Error::MalformedAuthorization(_))
        ));
        assert!(matches!(
            find(&both(), &uri("/"), &headers(&[(COOKIE, "at=")]), 100),
            Err(Error::MalformedAuthorization(_))
        ));
    }
}
