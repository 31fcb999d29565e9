//! The bearer token from the `Authorization` header (RFC 6750 §2.1).
//!
//! Pure functions over the request headers: no allocation, no decoding.

use http::HeaderMap;
use http::header::AUTHORIZATION;

use crate::error::Error;

/// Returns the token of the request's one `Authorization: Bearer` header.
///
/// The layer does this itself; this is for code that handles requests
/// outside a tower stack and then calls
/// [`Validator::validate`](crate::Validator::validate).
///
/// - no header: [`Error::MissingToken`]; another scheme: [`Error::NotBearer`];
/// - two or more headers: [`Error::MultipleAuthorizationHeaders`];
/// - a token longer than `max_len` bytes: [`Error::TokenTooLarge`] (checked first);
/// - credentials that are not one `b64token`: [`Error::MalformedAuthorization`].
///
/// The scheme is case-insensitive (RFC 7235 §2.1); one or more spaces separate
/// it from the token.
pub fn bearer_token(headers: &HeaderMap, max_len: usize) -> Result<&str, Error> {
    bearer_credentials(headers, max_len).and_then(b64token)
}

/// [`bearer_token`] without the final charset check: the token's bytes, for a
/// lookup in the verified-token cache and the pipeline, with [`b64token`]
/// run only on a token they refuse. Both accept only tokens that are
/// base64url segments and dots, all within the `b64token` charset (the cache
/// holds only tokens the pipeline accepted, and compares bytes exactly). So
/// a token accepted need not be checked, and a token refused that is not a
/// `b64token` gets the same error as if it had been checked first.
pub(crate) fn bearer_credentials(headers: &HeaderMap, max_len: usize) -> Result<&[u8], Error> {
    credentials(headers, max_len, false).map(|(_, token)| token)
}

/// The scheme an access token came with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    /// `Authorization: Bearer` (RFC 6750).
    Bearer,
    /// `Authorization: DPoP` (RFC 9449 §7.1).
    Dpop,
}

/// The scheme of the request's first `Authorization` header, if it is one
/// of ours (`DPoP` only when `dpop` is on): what a challenge answers.
pub(crate) fn scheme_of(headers: &HeaderMap, dpop: bool) -> Option<Scheme> {
    let value = headers.get(AUTHORIZATION)?.as_bytes();
    let scheme = value.split(|&b| b == b' ').next()?;
    if scheme.eq_ignore_ascii_case(b"bearer") {
        Some(Scheme::Bearer)
    } else if dpop && scheme.eq_ignore_ascii_case(b"dpop") {
        Some(Scheme::Dpop)
    } else {
        None
    }
}

/// [`bearer_credentials`], also taking the `DPoP` scheme when `dpop` is on
/// (else it is [`Error::NotBearer`], as any other scheme): the scheme and
/// the token's bytes.
pub(crate) fn credentials(
    headers: &HeaderMap,
    max_len: usize,
    dpop: bool,
) -> Result<(Scheme, &[u8]), Error> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let value = values.next().ok_or(Error::MissingToken)?;
    if values.next().is_some() {
        return Err(Error::MultipleAuthorizationHeaders);
    }
    split_scheme(value.as_bytes(), max_len, dpop)
}

/// Parses one `Authorization` header value as `Bearer <b64token>`, with the
/// same rules and errors as [`bearer_token`]: for a header value that did not
/// arrive in a [`HeaderMap`] (a WebSocket subprotocol, a message queue).
pub fn parse_credentials(value: &[u8], max_len: usize) -> Result<&str, Error> {
    split_scheme(value, max_len, false).and_then(|(_, token)| b64token(token))
}

/// The scheme, the spaces, and the token's presence and length; the token's
/// bytes are left unchecked.
fn split_scheme(value: &[u8], max_len: usize, dpop: bool) -> Result<(Scheme, &[u8]), Error> {
    let (scheme, rest) = match value.iter().position(|&b| b == b' ') {
        Some(at) => value.split_at(at),
        None => (value, &[][..]),
    };
    let scheme = if scheme.eq_ignore_ascii_case(b"bearer") {
        Scheme::Bearer
    } else if dpop && scheme.eq_ignore_ascii_case(b"dpop") {
        Scheme::Dpop
    } else {
        return Err(Error::NotBearer);
    };
    let token = trim_leading_spaces(rest);
    if token.is_empty() {
        return Err(Error::MalformedAuthorization(match scheme {
            Scheme::Bearer => "no token after the Bearer scheme",
            Scheme::Dpop => "no token after the DPoP scheme",
        }));
    }
    if token.len() > max_len {
        return Err(Error::TokenTooLarge {
            len: token.len(),
            max: max_len,
        });
    }
    Ok((scheme, token))
}

/// The token as text, if it is one `b64token` (RFC 6750 §2.1).
pub(crate) fn b64token(token: &[u8]) -> Result<&str, Error> {
    const NOT_B64TOKEN: Error =
        Error::MalformedAuthorization("token is not a b64token (RFC 6750 §2.1)");
    if !is_b64token(token) {
        return Err(NOT_B64TOKEN);
    }
    // b64token is ASCII, so this cannot fail; fail closed all the same.
    std::str::from_utf8(token).map_err(|_| NOT_B64TOKEN)
}

fn trim_leading_spaces(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != b' ').unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

/// RFC 6750 §2.1: `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
pub(crate) fn is_b64token(token: &[u8]) -> bool {
    let body_end = token
        .iter()
        .rposition(|&b| b != b'=')
        .map_or(0, |last| last + 1);
    let (body, padding) = token.split_at(body_end);
    // Every byte is classified without an early exit or a table lookup, so the
    // compiler can check 16 or 32 bytes per instruction: this runs on every
    // request, before any cache.
    let outside = body
        .iter()
        .fold(false, |outside, &b| outside | !in_b64token_body(b));
    !body.is_empty() && !outside && padding.iter().all(|&b| b == b'=')
}

/// Whether `b` may appear before the padding of a `b64token`.
#[inline(always)]
fn in_b64token_body(b: u8) -> bool {
    let letter = (b | 0x20).wrapping_sub(b'a') < 26;
    let digit = b.wrapping_sub(b'0') < 10;
    letter
        | digit
        | (b == b'-')
        | (b == b'.')
        | (b == b'_')
        | (b == b'~')
        | (b == b'+')
        | (b == b'/')
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn one(value: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_static(value));
        h
    }

    /// The branch-free classifier agrees with the grammar on every byte.
    #[test]
    fn b64token_body_class_matches_rfc_6750_for_every_byte() {
        for b in 0..=u8::MAX {
            let grammar =
                b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/');
            assert_eq!(in_b64token_body(b), grammar, "byte {b:#04x}");
        }
    }

    #[test]
    fn accepts_any_case_of_the_scheme_and_several_spaces() {
        assert_eq!(
            bearer_token(&one("Bearer abc.def.ghi"), 100),
            Ok("abc.def.ghi")
        );
        assert_eq!(bearer_token(&one("bEaReR   abc"), 100), Ok("abc"));
        assert_eq!(
            bearer_token(&one("BEARER a-b_c~d+e/f=="), 100),
            Ok("a-b_c~d+e/f==")
        );
    }

    #[test]
    fn rejects_each_malformed_shape_with_its_reason() {
        assert_eq!(
            bearer_token(&HeaderMap::new(), 100),
            Err(Error::MissingToken)
        );
        assert_eq!(
            bearer_token(&one("Basic dXNlcjpwYXNz"), 100),
            Err(Error::NotBearer)
        );
        assert_eq!(bearer_token(&one("Bearerabc"), 100), Err(Error::NotBearer));
        assert!(matches!(
            bearer_token(&one("Bearer"), 100),
            Err(Error::MalformedAuthorization(_))
        ));
        assert!(matches!(
            bearer_token(&one("Bearer   "), 100),
            Err(Error::MalformedAuthorization(_))
        ));
        assert!(matches!(
            bearer_token(&one("Bearer a b"), 100),
            Err(Error::MalformedAuthorization(_))
        ));
        assert!(matches!(
            bearer_token(&one("Bearer a=b"), 100),
            Err(Error::MalformedAuthorization(_))
        ));
        assert!(matches!(
            bearer_token(&one("Bearer ==="), 100),
            Err(Error::MalformedAuthorization(_))
        ));
        assert!(matches!(
            bearer_token(&one("Bearer a\"b"), 100),
            Err(Error::MalformedAuthorization(_))
        ));
        assert_eq!(
            bearer_token(&one("Bearer abcdef"), 5),
            Err(Error::TokenTooLarge { len: 6, max: 5 })
        );
    }

    #[test]
    fn rejects_two_headers() {
        let mut h = one("Bearer abc");
        h.append(AUTHORIZATION, HeaderValue::from_static("Bearer def"));
        assert_eq!(
            bearer_token(&h, 100),
            Err(Error::MultipleAuthorizationHeaders)
        );
    }

    #[test]
    fn non_ascii_bytes_are_malformed_not_a_panic() {
        let value =
            HeaderValue::from_bytes(b"Bearer ab\xffcd").unwrap_or(HeaderValue::from_static("x"));
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, value);
        assert!(matches!(
            bearer_token(&h, 100),
            Err(Error::MalformedAuthorization(_))
        ));
    }
}
