//! The `Authorization` header parser (`token::extract`).

use crate::token::extract::{is_b64token, parse_credentials};

/// Any bytes as an `Authorization` value. An accepted token is
/// a suffix of the value, within the cap, in the `b64token` charset, and the
/// same value is accepted with the scheme in another case.
/// # Panics
/// When an invariant breaks: that is the finding.
#[allow(clippy::panic)]
pub fn authorization(data: &[u8]) {
    const MAX: usize = 4096;
    let Ok(token) = parse_credentials(data, MAX) else {
        return;
    };
    assert!(token.len() <= MAX, "token over the cap");
    assert!(
        data.ends_with(token.as_bytes()),
        "token is not the end of the value"
    );
    assert!(
        is_b64token(token.as_bytes()),
        "token outside the b64token charset"
    );
    let mut upper = data.to_vec();
    upper
        .iter_mut()
        .take(6)
        .for_each(|b| *b = b.to_ascii_uppercase());
    assert_eq!(
        parse_credentials(&upper, MAX),
        Ok(token),
        "scheme case changed the verdict"
    );
}
