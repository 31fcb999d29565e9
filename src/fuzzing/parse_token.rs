//! The token parser: `Authorization` value → JWS parts → checked claims.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::claims;
use crate::token::algorithm::DEFAULT_ALGORITHMS;
use crate::token::extract::parse_credentials;
use crate::token::jws;

const MAX_TOKEN: usize = 16 * 1024;

/// The token parser, from an `Authorization` header value to checked claims:
/// `extract` → `jws::parse` → `claims` (everything before the key lookup, and
/// the claim checks after the signature).
///
/// # Panics
/// When an invariant breaks: that is the finding.
#[allow(
    clippy::panic,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used
)]
pub fn parse_token(data: &[u8]) {
    // 1. Header value -> token: a suffix of the value, bounded, b64token charset.
    if let Ok(token) = parse_credentials(data, MAX_TOKEN) {
        assert!(token.len() <= MAX_TOKEN, "token over the cap");
        assert!(
            data.ends_with(token.as_bytes()),
            "token is not the end of the header value"
        );
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b)),
            "token outside the b64token charset"
        );
    }

    // 2. Token -> JWS parts: parts reassemble to the token, segments are
    //    canonical base64url, the algorithm is one we allow.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(parsed) = jws::parse(text, &DEFAULT_ALGORITHMS) else {
        return;
    };
    assert_eq!(
        format!("{}.{}", parsed.signing_input, parsed.signature),
        text
    );
    assert_eq!(
        text.matches('.').count(),
        2,
        "accepted a token without exactly three segments"
    );
    let payload_b64 = parsed
        .signing_input
        .split('.')
        .nth(1)
        .expect("two segments");
    assert_eq!(
        URL_SAFE_NO_PAD.encode(&parsed.payload),
        payload_b64,
        "non-canonical base64url accepted"
    );
    assert!(DEFAULT_ALGORITHMS.contains(&parsed.alg));

    // 3. Payload -> claims: the claims harness and its invariants.
    claims(&parsed.payload);
}
