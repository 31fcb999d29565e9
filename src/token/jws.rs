//! Compact JWS parsing and header checks (RFC 7515 §5.2, RFC 8725 §3.1).
//!
//! Decodes the header and the payload, and rejects, before any key lookup or
//! network traffic, every header this layer will not process. The signature is
//! left encoded (only its alphabet is checked here); `validate::signature`
//! decodes and checks it once the key is known.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde::de::IgnoredAny;

use super::algorithm::Algorithm;
use crate::error::{Error, log_safe};

/// A compact JWS split into its parts, header checked and payload decoded.
#[derive(Debug)]
pub(crate) struct Jws<'a> {
    /// The algorithm named by the header (already checked against the allow-list).
    pub(crate) alg: Algorithm,
    /// The header's `kid`.
    pub(crate) kid: Option<String>,
    /// The header's `typ`.
    pub(crate) typ: Option<String>,
    /// `BASE64URL(header) '.' BASE64URL(payload)`: the bytes the signature covers.
    pub(crate) signing_input: &'a str,
    /// The third segment, still base64url.
    pub(crate) signature: &'a str,
    /// The decoded payload (JSON text, not yet parsed).
    pub(crate) payload: Vec<u8>,
}

#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    typ: Option<String>,
    // Parameters whose mere presence is refused; `IgnoredAny` reads any value.
    #[serde(default)]
    crit: Option<IgnoredAny>,
    #[serde(default)]
    b64: Option<IgnoredAny>,
    #[serde(default)]
    zip: Option<IgnoredAny>,
    #[serde(default)]
    enc: Option<IgnoredAny>,
    // Other JWE-only parameters (RFC 7518 §4.6.1, §4.7.1, §4.8.1).
    #[serde(default)]
    epk: Option<IgnoredAny>,
    #[serde(default)]
    apu: Option<IgnoredAny>,
    #[serde(default)]
    apv: Option<IgnoredAny>,
    #[serde(default)]
    iv: Option<IgnoredAny>,
    #[serde(default)]
    tag: Option<IgnoredAny>,
    #[serde(default)]
    p2s: Option<IgnoredAny>,
    #[serde(default)]
    p2c: Option<IgnoredAny>,
    // Keys and key locations carried by the token itself (RFC 7515 §4.1.2-6).
    #[serde(default)]
    jwk: Option<IgnoredAny>,
    #[serde(default)]
    jku: Option<IgnoredAny>,
    #[serde(default)]
    x5u: Option<IgnoredAny>,
    #[serde(default)]
    x5c: Option<IgnoredAny>,
    /// RFC 7519 §5.2: `cty` `JWT` announces a nested token.
    #[serde(default)]
    cty: Option<String>,
}

/// Splits and checks `token` against the `allowed` algorithms.
pub(crate) fn parse<'a>(token: &'a str, allowed: &[Algorithm]) -> Result<Jws<'a>, Error> {
    let (signing_input, signature) = token
        .rsplit_once('.')
        .ok_or(Error::MalformedToken("not three segments"))?;
    let (header_b64, payload_b64) = signing_input
        .split_once('.')
        .ok_or(Error::MalformedToken("not three segments"))?;
    if header_b64.is_empty() || payload_b64.is_empty() || signature.is_empty() {
        return Err(Error::MalformedToken("empty segment"));
    }
    // The signature is decoded once the key is known; its alphabet is checked
    // now, so that a token that cannot be one causes no key lookup. With the
    // header and payload decoded below, a token that passes is base64url
    // segments and dots: an RFC 6750 b64token, which the layer relies on.
    if !is_base64url(signature) {
        return Err(Error::MalformedToken("signature is not base64url"));
    }

    let header_json = URL_SAFE_NO_PAD
        .decode(header_b64)
        .map_err(|_| Error::MalformedToken("header is not base64url"))?;
    let header = parse_header(&header_json)?;
    let alg = check_algorithm(&header.alg, allowed)?;

    // A dot is outside the base64url alphabet, so a token of more than three
    // segments fails here; only then is the reason worth telling apart.
    let payload = URL_SAFE_NO_PAD.decode(payload_b64).map_err(|_| {
        if payload_b64.contains('.') {
            // Five segments is a JWE (RFC 7516 §7.1); anything else is garbage.
            Error::MalformedToken("not three segments")
        } else {
            Error::MalformedToken("payload is not base64url")
        }
    })?;

    Ok(Jws {
        alg,
        kid: header.kid,
        typ: header.typ,
        signing_input,
        signature,
        payload,
    })
}

/// Whether every byte is of the base64url alphabet (RFC 4648 §5), without
/// padding. Branch-free, as the signature's few hundred bytes are checked on
/// every token not cached.
fn is_base64url(text: &str) -> bool {
    text.bytes().fold(true, |ok, b| {
        ok & (b.is_ascii_alphanumeric() | (b == b'-') | (b == b'_'))
    })
}

fn parse_header(json: &[u8]) -> Result<RawHeader, Error> {
    // RFC 7515 §5.2 step 3: the header must be a JSON object. serde would also
    // read a struct from a JSON array, so check the first byte ourselves.
    if first_non_whitespace(json) != Some(b'{') {
        return Err(Error::MalformedToken("header is not a JSON object"));
    }
    // Duplicate parameter names are refused by serde's derive (RFC 7515 §5.2 step 4).
    let header: RawHeader = serde_json::from_slice(json)
        .map_err(|_| Error::MalformedToken("header is not valid JSON"))?;
    // RFC 7515 §4.1.11: a recipient that does not understand a `crit` extension
    // MUST reject; this layer understands none.
    if header.crit.is_some() {
        return Err(Error::UnsupportedHeader("crit"));
    }
    // RFC 7797: unencoded payloads are never part of an access token.
    if header.b64.is_some() {
        return Err(Error::UnsupportedHeader("b64"));
    }
    // `zip` and `enc` belong to JWE (RFC 7516); a JWS with them is a confusion attempt.
    if header.zip.is_some() {
        return Err(Error::UnsupportedHeader("zip"));
    }
    if header.enc.is_some() {
        return Err(Error::UnsupportedHeader("enc"));
    }
    for (name, present) in [
        ("epk", header.epk.is_some()),
        ("apu", header.apu.is_some()),
        ("apv", header.apv.is_some()),
        ("iv", header.iv.is_some()),
        ("tag", header.tag.is_some()),
        ("p2s", header.p2s.is_some()),
        ("p2c", header.p2c.is_some()),
        // RFC 8725 §3.10: a key, or where to fetch one, named by the token
        // itself is never trusted. Refused rather than ignored, so that a
        // token relying on one fails loudly and without any fetch.
        ("jwk", header.jwk.is_some()),
        ("jku", header.jku.is_some()),
        ("x5u", header.x5u.is_some()),
        ("x5c", header.x5c.is_some()),
    ] {
        if present {
            return Err(Error::UnsupportedHeader(name));
        }
    }
    // RFC 7519 §5.2: a nested JWT is never an access token this layer reads.
    if header
        .cty
        .as_deref()
        .is_some_and(|cty| media_type_eq(cty, "jwt"))
    {
        return Err(Error::UnsupportedHeader("cty"));
    }
    Ok(header)
}

/// RFC 8725 §3.1: only algorithms in the allow-list; never `none`, never HMAC
/// (keys from a JWKS are public).
fn check_algorithm(name: &str, allowed: &[Algorithm]) -> Result<Algorithm, Error> {
    let alg = Algorithm::from_name(name)
        .filter(|alg| allowed.contains(alg))
        .ok_or_else(|| Error::DisallowedAlgorithm(describe_alg(name)))?;
    Ok(alg)
}

/// A log-safe name for an algorithm string: known names verbatim, anything else
/// truncated and escaped so a crafted header cannot flood or forge log lines.
fn describe_alg(name: &str) -> Cow<'static, str> {
    const KNOWN: [&str; 13] = [
        "none", "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
        "ES256", "ES384", "EdDSA",
    ];
    match KNOWN.iter().find(|k| **k == name) {
        Some(known) => Cow::Borrowed(known),
        None => Cow::Owned(log_safe(name, 16)),
    }
}

fn first_non_whitespace(bytes: &[u8]) -> Option<u8> {
    bytes
        .iter()
        .copied()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
}

/// Whether a media type names `short`, ignoring ASCII case, with or without
/// the `application/` prefix (RFC 7515 §4.1.9, §4.1.10).
pub(crate) fn media_type_eq(value: &str, short: &str) -> bool {
    let bare = match value.get(..12) {
        Some(prefix) if prefix.eq_ignore_ascii_case("application/") => {
            value.get(12..).unwrap_or_default()
        }
        _ => value,
    };
    bare.eq_ignore_ascii_case(short)
}

/// Whether `json` starts (after JSON whitespace) with `{`.
pub(crate) fn is_json_object(json: &[u8]) -> bool {
    first_non_whitespace(json) == Some(b'{')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::algorithm::DEFAULT_ALGORITHMS;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    fn token(header: &str, payload: &str) -> String {
        format!("{}.{}.c2ln", b64(header), b64(payload))
    }

    fn parse_err(t: &str) -> Error {
        match parse(t, &DEFAULT_ALGORITHMS) {
            Ok(_) => panic!("token was accepted: {t}"),
            Err(e) => e,
        }
    }

    #[test]
    fn parses_a_well_formed_token() {
        let t = token(
            r#"{"alg":"RS256","kid":"k1","typ":"at+jwt"}"#,
            r#"{"iss":"x"}"#,
        );
        let jws = parse(&t, &DEFAULT_ALGORITHMS).expect("valid");
        assert_eq!(jws.alg, Algorithm::RS256);
        assert_eq!(jws.kid.as_deref(), Some("k1"));
        assert_eq!(jws.typ.as_deref(), Some("at+jwt"));
        assert_eq!(jws.payload, br#"{"iss":"x"}"#);
        assert_eq!(jws.signature, "c2ln");
    }

    #[test]
    fn refuses_none_hmac_and_unknown_algorithms() {
        for alg in ["none", "HS256", "rs256", "RS257", "EdDSA "] {
            let t = token(&format!(r#"{{"alg":"{alg}"}}"#), "{}");
            assert!(
                matches!(parse_err(&t), Error::DisallowedAlgorithm(_)),
                "alg {alg}"
            );
        }
        let t = token(r#"{"alg":"PS256"}"#, "{}");
        assert!(matches!(
            parse(&t, &[Algorithm::RS256]),
            Err(Error::DisallowedAlgorithm(_))
        ));
    }

    #[test]
    fn refuses_headers_it_does_not_understand() {
        for (param, header) in [
            ("crit", r#"{"alg":"RS256","crit":["exp"],"exp":1}"#),
            ("b64", r#"{"alg":"RS256","b64":false}"#),
            ("zip", r#"{"alg":"RS256","zip":"DEF"}"#),
            ("enc", r#"{"alg":"RS256","enc":"A128GCM"}"#),
            ("epk", r#"{"alg":"RS256","epk":{"kty":"EC"}}"#),
            ("p2c", r#"{"alg":"RS256","p2c":1000}"#),
            ("jwk", r#"{"alg":"RS256","jwk":{"kty":"RSA"}}"#),
            (
                "jku",
                r#"{"alg":"RS256","jku":"https://evil.example/jwks"}"#,
            ),
            (
                "x5u",
                r#"{"alg":"RS256","x5u":"https://evil.example/cert"}"#,
            ),
            ("x5c", r#"{"alg":"RS256","x5c":["MIIB"]}"#),
            ("cty", r#"{"alg":"RS256","cty":"JWT"}"#),
            ("cty", r#"{"alg":"RS256","cty":"application/jwt"}"#),
        ] {
            assert_eq!(
                parse_err(&token(header, "{}")),
                Error::UnsupportedHeader(param)
            );
        }
    }

    #[test]
    fn thumbprints_and_other_content_types_pass() {
        let t = token(
            r#"{"alg":"RS256","kid":"k","x5t":"abc","x5t#S256":"def","cty":"json"}"#,
            "{}",
        );
        assert!(parse(&t, &DEFAULT_ALGORITHMS).is_ok());
    }

    #[test]
    fn refuses_malformed_structure() {
        assert!(matches!(parse_err("abc"), Error::MalformedToken(_)));
        assert!(matches!(parse_err("a.b"), Error::MalformedToken(_)));
        assert!(matches!(parse_err("a.b.c.d.e"), Error::MalformedToken(_)));
        assert!(matches!(parse_err(".."), Error::MalformedToken(_)));
        let no_sig = format!("{}.{}.", b64(r#"{"alg":"RS256"}"#), b64("{}"));
        assert!(matches!(parse_err(&no_sig), Error::MalformedToken(_)));
        let padded = format!("{}=.{}.c2ln", b64(r#"{"alg":"RS256"}"#), b64("{}"));
        assert!(matches!(parse_err(&padded), Error::MalformedToken(_)));
        assert!(matches!(
            parse_err(&token(r#"["alg","RS256"]"#, "{}")),
            Error::MalformedToken(_)
        ));
        assert!(matches!(
            parse_err(&token(r#"{"alg":"RS256","alg":"RS256"}"#, "{}")),
            Error::MalformedToken(_)
        ));
        assert!(matches!(
            parse_err(&token(r#"{"alg":"RS256","kid":7}"#, "{}")),
            Error::MalformedToken(_)
        ));
    }

    #[test]
    fn log_text_of_an_unknown_alg_is_bounded() {
        let long = "X".repeat(10_000);
        let t = token(&format!(r#"{{"alg":"{long}"}}"#), "{}");
        let text = parse_err(&t).to_string();
        assert!(text.len() < 64, "{text}");
    }
}
