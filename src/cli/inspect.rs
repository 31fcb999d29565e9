//! `inspect`: a token's header and claims, UNVERIFIED, with human times and
//! what the library's offline checks (those that need no key) say of it.
//! No key is read and no request is made.

use serde_json::Value;

use super::decode::{Decoded, Part, TIME_CLAIMS, When, decode, describe_time, now_secs};
use super::{INVALID, Report, VALID, line};
use crate::token::algorithm::DEFAULT_ALGORITHMS;
use crate::token::claims::{Unverified, payload_text};
use crate::token::jws;

/// The first line of every `inspect` report.
pub(crate) const BANNER: &str = "UNVERIFIED: decoded only. Neither the signature nor the \
                                 issuer, audience or times are checked: use `bearer-guard verify`.";

/// The report for `token`: [`VALID`] when its header and claims decode as
/// JSON, [`INVALID`] when they do not.
pub(crate) fn run(token: &str, max_token_bytes: usize) -> Report {
    let mut out = String::new();
    line!(out, "{BANNER}");
    if token.len() > max_token_bytes {
        line!(
            out,
            "not decoded: the token is {} bytes, more than the {max_token_bytes}-byte cap",
            token.len()
        );
        return Report {
            out,
            status: INVALID,
        };
    }
    let decoded = match decode(token) {
        Ok(decoded) => decoded,
        Err(why) => {
            line!(out, "not decoded: {why}");
            return Report {
                out,
                status: INVALID,
            };
        }
    };
    line!(out);
    part(&mut out, "header (unverified)", &decoded.header);
    line!(out);
    part(&mut out, "claims (unverified)", &decoded.claims);
    times(&mut out, &decoded);
    line!(out);
    line!(
        out,
        "signature: {} base64url characters, not checked",
        decoded.signature_chars
    );
    line!(out, "offline checks (no key): {}", offline_checks(token));
    let status = match (&decoded.header, &decoded.claims) {
        (Part::Json(_), Part::Json(_)) => VALID,
        _ => INVALID,
    };
    Report { out, status }
}

fn part(out: &mut String, title: &str, part: &Part) {
    match part {
        Part::Json(value) => {
            let pretty = serde_json::to_string_pretty(value).unwrap_or_default();
            line!(out, "{title}:");
            line!(out, "{pretty}");
        }
        Part::NotJson(text) => line!(out, "{title}: not JSON: {text}"),
        Part::NotBase64 => line!(out, "{title}: not base64url"),
    }
}

fn times(out: &mut String, decoded: &Decoded) {
    let now = now_secs();
    let present: Vec<(&str, &Value)> = TIME_CLAIMS
        .iter()
        .filter_map(|&name| decoded.claims.get(name).map(|value| (name, value)))
        .collect();
    if present.is_empty() {
        return;
    }
    line!(out);
    line!(out, "times (now {}):", super::decode::rfc3339(now));
    for (name, value) in present {
        let what = if name == "exp" {
            When::Expiry
        } else {
            When::Other
        };
        line!(out, "  {name:<10} {}", describe_time(value, now, what));
    }
}

/// What the library's checks that need no key say: the compact JWS and its
/// header (any algorithm it supports), and the claims' JSON.
fn offline_checks(token: &str) -> String {
    let checked = jws::parse(token, &DEFAULT_ALGORITHMS).and_then(|jws| {
        let payload = payload_text(jws.payload)?;
        Unverified::parse(&payload, None).map(|_| jws.alg)
    });
    match checked {
        Ok(alg) => format!(
            "the format, the header (alg {}) and the claims' JSON pass",
            alg.name()
        ),
        Err(error) => format!("refused before any key is looked up: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_that_is_not_a_jws_is_not_decoded() {
        let report = run("opaque-token", 16_384);
        assert_eq!(report.status, INVALID);
        assert!(report.out.starts_with(BANNER), "{}", report.out);
        assert!(
            report.out.contains("not decoded: no dots"),
            "{}",
            report.out
        );
        let report = run(&"a".repeat(20), 10);
        assert_eq!(report.status, INVALID);
        assert!(report.out.contains("20 bytes, more than the 10-byte cap"));
    }

    #[test]
    fn refused_headers_are_shown_with_the_librarys_reason() {
        // {"alg":"none"} . {"sub":"x"} . sig
        let report = run("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2ln", 16_384);
        assert_eq!(report.status, VALID, "{}", report.out);
        assert!(report.out.contains("\"alg\": \"none\""), "{}", report.out);
        assert!(
            report.out.ends_with(
                "offline checks (no key): refused before any key is looked up: \
                 algorithm none is not allowed\n"
            ),
            "{}",
            report.out
        );
    }
}
