//! Decoding a token without verifying anything, for people to read: the
//! header and claims as JSON values, and NumericDates as human times.
//!
//! Nothing here decides whether a token is valid; `inspect` shows what this
//! decodes under an UNVERIFIED banner, and `verify` uses it only to explain
//! the validator's verdict.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use crate::error::log_safe;
use crate::token::claims::number_to_secs;

/// The most characters of one value a line shows.
const SHOWN_CHARS: usize = 200;

/// One decoded segment of a compact JWS.
#[derive(Debug)]
pub(crate) enum Part {
    /// Base64url of JSON.
    Json(Value),
    /// Base64url, but not JSON: the text, escaped and bounded.
    NotJson(String),
    /// Not base64url at all.
    NotBase64,
}

impl Part {
    fn decode(segment: &str) -> Part {
        let Ok(bytes) = URL_SAFE_NO_PAD.decode(segment) else {
            return Part::NotBase64;
        };
        match serde_json::from_slice(&bytes) {
            Ok(value) => Part::Json(value),
            Err(_) => Part::NotJson(log_safe(&String::from_utf8_lossy(&bytes), 2_000)),
        }
    }

    /// The member `name`, when this is a JSON object that has it.
    pub(crate) fn get(&self, name: &str) -> Option<&Value> {
        match self {
            Part::Json(value) => value.get(name),
            _ => None,
        }
    }
}

/// A compact JWS taken apart, nothing checked.
#[derive(Debug)]
pub(crate) struct Decoded {
    pub(crate) header: Part,
    pub(crate) claims: Part,
    /// The signature segment's length, in base64url characters.
    pub(crate) signature_chars: usize,
}

/// Splits `token` into its three segments and decodes the first two, or
/// says why it is not a compact JWS.
pub(crate) fn decode(token: &str) -> Result<Decoded, String> {
    let segments: Vec<&str> = token.split('.').collect();
    match segments.as_slice() {
        [header, claims, signature] => Ok(Decoded {
            header: Part::decode(header),
            claims: Part::decode(claims),
            signature_chars: signature.len(),
        }),
        [_] => Err(
            "no dots: not a JWT but an opaque token, which only its issuer can read \
                    (by introspection)"
                .into(),
        ),
        [_, _, _, _, _] => Err("five segments: an encrypted token (JWE), which only its \
                                recipient can read"
            .into()),
        other => Err(format!(
            "{} segments: not a compact JWS (a JWT has three)",
            other.len()
        )),
    }
}

/// `value` for one line of output: a string escaped and quoted (a claim's
/// control characters can neither forge a line nor drive the terminal),
/// anything else as JSON text, both cut at [`SHOWN_CHARS`].
pub(crate) fn show(value: &Value) -> String {
    match value {
        Value::String(text) => log_safe(text, SHOWN_CHARS),
        // JSON text escapes control characters inside strings.
        other => {
            let text = other.to_string();
            let kept: String = text.chars().take(SHOWN_CHARS).collect();
            if kept.len() < text.len() {
                format!("{kept}…")
            } else {
                kept
            }
        }
    }
}

/// Seconds since the epoch, now.
pub(crate) fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A NumericDate claim (RFC 7519 §2) as seconds since the epoch, read as the
/// validator reads it; `None` when it is not one.
pub(crate) fn numeric_date(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => number_to_secs(n),
        _ => None,
    }
}

/// The latest second RFC 3339 can write (9999-12-31T23:59:59Z).
const LAST_RFC3339_SECOND: i64 = 253_402_300_799;

/// `secs` since the epoch in RFC 3339, UTC, to the second.
pub(crate) fn rfc3339(secs: i64) -> String {
    match u64::try_from(secs) {
        Ok(positive) if secs <= LAST_RFC3339_SECOND => {
            let at = UNIX_EPOCH + Duration::from_secs(positive);
            humantime::format_rfc3339_seconds(at).to_string()
        }
        _ => format!("{secs} (outside 1970..=9999)"),
    }
}

/// How far `secs` is from `now`, for people: `in 59m 58s`, `3h 2m ago`;
/// with `expired` for an `exp` in the past.
pub(crate) fn relative(secs: i64, now: i64, what: When) -> String {
    let span = |d: i64| humantime::format_duration(Duration::from_secs(d.unsigned_abs()));
    match secs.saturating_sub(now).signum() {
        0 => "now".into(),
        1 => format!("in {}", span(secs.saturating_sub(now))),
        _ => match what {
            When::Expiry => format!("expired {} ago", span(now.saturating_sub(secs))),
            When::Other => format!("{} ago", span(now.saturating_sub(secs))),
        },
    }
}

/// Which kind of time [`relative`] describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum When {
    /// `exp`: a past one is "expired … ago".
    Expiry,
    /// Any other.
    Other,
}

/// A time claim for people: `2026-01-01T00:00:00Z (in 59m 58s)`, or why it
/// cannot be read as one.
pub(crate) fn describe_time(value: &Value, now: i64, what: When) -> String {
    match numeric_date(value) {
        Some(secs) => format!("{} ({})", rfc3339(secs), relative(secs, now, what)),
        None => format!("{} is not a NumericDate (seconds since 1970)", show(value)),
    }
}

/// The time claims `inspect` and `verify` show, in this order.
pub(crate) const TIME_CLAIMS: [&str; 4] = ["exp", "nbf", "iat", "auth_time"];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn times_read_as_rfc3339_and_relative_to_now() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_767_225_600), "2026-01-01T00:00:00Z");
        assert_eq!(rfc3339(-1), "-1 (outside 1970..=9999)");
        assert_eq!(
            rfc3339(LAST_RFC3339_SECOND + 1),
            "253402300800 (outside 1970..=9999)"
        );
        let now = 1_000_000;
        assert_eq!(relative(now + 3_599, now, When::Expiry), "in 59m 59s");
        assert_eq!(
            relative(now - 3 * 3600, now, When::Expiry),
            "expired 3h ago"
        );
        assert_eq!(relative(now - 90, now, When::Other), "1m 30s ago");
        assert_eq!(relative(now, now, When::Other), "now");
        assert_eq!(
            describe_time(&json!(1_000_060.7), now, When::Other),
            "1970-01-12T13:47:40Z (in 1m)"
        );
        assert_eq!(
            describe_time(&json!("tomorrow"), now, When::Expiry),
            "\"tomorrow\" is not a NumericDate (seconds since 1970)"
        );
        assert_eq!(
            describe_time(&json!(i64::MAX), now, When::Other)
                .split(' ')
                .next(),
            Some("9223372036854775807")
        );
    }

    #[test]
    fn segments_decide_what_kind_of_token_it_is() {
        let decoded = decode("eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2ln").expect("three segments");
        assert_eq!(decoded.header.get("alg"), Some(&json!("RS256")));
        assert!(matches!(&decoded.claims, Part::NotJson(text) if text == "\"not json\""));
        assert_eq!(decoded.signature_chars, 4);
        assert!(matches!(
            decode("a.!!.c").map(|d| d.claims),
            Ok(Part::NotBase64)
        ));
        assert!(decode("opaque").is_err_and(|e| e.starts_with("no dots")));
        assert!(decode("a.b.c.d.e").is_err_and(|e| e.contains("JWE")));
        assert!(decode("a.b").is_err_and(|e| e.starts_with("2 segments")));
    }

    #[test]
    fn shown_values_are_escaped_and_bounded() {
        assert_eq!(show(&json!("a\u{1b}[31m\nb")), "\"a\\u{1b}[31m\\nb\"");
        assert_eq!(show(&json!(["x"])), "[\"x\"]");
        let long = show(&json!(vec![1; 500]));
        assert!(long.ends_with('…') && long.chars().count() == SHOWN_CHARS + 1);
    }
}
