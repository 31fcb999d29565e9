//! A client certificate forwarded by a trusted proxy that terminated TLS:
//! Envoy's `x-forwarded-client-cert` (XFCC) or a header holding the
//! URL-encoded PEM (nginx's `$ssl_client_escaped_cert`). Bounded, and
//! refused when ambiguous: never a certificate the header does not clearly
//! name.

use http::{HeaderMap, HeaderName};

use crate::digest::sha256_base64url;
use crate::error::Error;

/// The longest header value looked at.
const MAX_HEADER_BYTES: usize = 32 * 1024;

/// How the proxy's header is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Xfcc,
    EscapedPem,
}

fn bad(reason: &'static str) -> Error {
    Error::ForwardedCertificate(reason)
}

/// The SHA-256 thumbprint (base64url) of the certificate the header `name`
/// forwards; `None` without the header.
pub(crate) fn thumbprint(
    headers: &HeaderMap,
    name: &HeaderName,
    format: Format,
) -> Result<Option<String>, Error> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(bad("more than one forwarded-certificate header"));
    }
    if value.len() > MAX_HEADER_BYTES {
        return Err(bad("forwarded-certificate header too large"));
    }
    let text = value
        .to_str()
        .map_err(|_| bad("forwarded-certificate header is not ASCII"))?;
    match format {
        Format::EscapedPem => pem_thumbprint(text).map(Some),
        Format::Xfcc => xfcc_thumbprint(text).map(Some),
    }
}

/// A URL-encoded PEM certificate's thumbprint.
fn pem_thumbprint(escaped: &str) -> Result<String, Error> {
    let text = percent_encoding::percent_decode_str(escaped)
        .decode_utf8()
        .map_err(|_| bad("certificate is not URL-encoded UTF-8"))?;
    let block = pem::parse(text.as_bytes()).map_err(|_| bad("certificate is not PEM"))?;
    if block.tag() != "CERTIFICATE" {
        return Err(bad("PEM block is not a CERTIFICATE"));
    }
    Ok(sha256_base64url(block.contents()))
}

/// The thumbprint of the one element of an XFCC header: its `Hash` (hex
/// SHA-256 of the DER), else its `Cert`.
fn xfcc_thumbprint(header: &str) -> Result<String, Error> {
    let elements = split_unquoted(header, ',')?;
    let [element] = elements.as_slice() else {
        return Err(bad("XFCC header has more than one element"));
    };
    let mut hash = None;
    let mut cert = None;
    for pair in split_unquoted(element, ';')? {
        let (key, value) = pair.split_once('=').ok_or(bad("XFCC pair without ="))?;
        let slot = match key.trim() {
            k if k.eq_ignore_ascii_case("hash") => &mut hash,
            k if k.eq_ignore_ascii_case("cert") => &mut cert,
            _ => continue,
        };
        if slot.replace(unquote(value.trim())?).is_some() {
            return Err(bad("XFCC key repeated"));
        }
    }
    if let Some(hash) = hash {
        return hex_sha256_to_base64url(&hash);
    }
    match cert {
        Some(cert) => pem_thumbprint(&cert),
        None => Err(bad("XFCC element has neither Hash nor Cert")),
    }
}

/// Splits at `separator` outside double quotes (a `\` escapes the next
/// character inside them).
fn split_unquoted(text: &str, separator: char) -> Result<Vec<&str>, Error> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (at, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == separator && !quoted => {
                parts.push(text.get(start..at).unwrap_or_default());
                start = at + c.len_utf8();
            }
            _ => {}
        }
    }
    if quoted {
        return Err(bad("XFCC quote not closed"));
    }
    parts.push(text.get(start..).unwrap_or_default());
    Ok(parts)
}

/// A value, without its quotes and escapes if quoted.
fn unquote(value: &str) -> Result<String, Error> {
    let Some(inner) = value.strip_prefix('"') else {
        return Ok(value.to_owned());
    };
    let inner = inner
        .strip_suffix('"')
        .ok_or(bad("XFCC quote not closed"))?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.push(chars.next().ok_or(bad("XFCC escape at the end"))?);
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// Envoy's `Hash`: 64 hex digits of the SHA-256 of the DER certificate.
fn hex_sha256_to_base64url(hex: &str) -> Result<String, Error> {
    use base64::Engine as _;
    if hex.len() != 64 {
        return Err(bad("XFCC Hash is not a hex SHA-256"));
    }
    let mut bytes = [0u8; 32];
    for (i, byte) in bytes.iter_mut().enumerate() {
        let pair = hex
            .get(2 * i..2 * i + 2)
            .ok_or(bad("XFCC Hash is not a hex SHA-256"))?;
        *byte = u8::from_str_radix(pair, 16).map_err(|_| bad("XFCC Hash is not a hex SHA-256"))?;
    }
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed test certificate (DER in PEM), and its SHA-256.
    const PEM: &str = include_str!("../../tests/data/client-cert.pem");

    fn expected() -> String {
        let block = pem::parse(PEM).expect("PEM");
        sha256_base64url(block.contents())
    }

    fn hex(thumbprint: &str) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(thumbprint)
            .expect("base64url")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn escaped(pem: &str) -> String {
        percent_encoding::utf8_percent_encode(pem, percent_encoding::NON_ALPHANUMERIC).to_string()
    }

    fn read(format: Format, value: &str) -> Result<Option<String>, String> {
        let name = HeaderName::from_static("x-client");
        let mut headers = HeaderMap::new();
        headers.insert(&name, value.parse().map_err(|_| "header value".to_owned())?);
        thumbprint(&headers, &name, format).map_err(|e| e.to_string())
    }

    #[test]
    fn nginx_escaped_pem_gives_the_certificates_thumbprint() {
        assert_eq!(
            read(Format::EscapedPem, &escaped(PEM)),
            Ok(Some(expected()))
        );
        for bad in [
            "",
            "%ZZ",
            "not pem",
            &escaped("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
        ] {
            assert!(read(Format::EscapedPem, bad).is_err(), "{bad}");
        }
        assert_eq!(
            thumbprint(
                &HeaderMap::new(),
                &HeaderName::from_static("x-client"),
                Format::EscapedPem
            ),
            Ok(None)
        );
    }

    #[test]
    fn envoy_xfcc_gives_its_one_elements_hash_or_cert() {
        let hash = hex(&expected());
        let cert = escaped(PEM);
        for value in [
            format!("By=spiffe://api;Hash={hash};Subject=\"CN=client,O=x\";URI="),
            format!("Hash=\"{hash}\""),
            format!("By=spiffe://api;Cert=\"{cert}\""),
            format!("hash={hash}"),
        ] {
            assert_eq!(read(Format::Xfcc, &value), Ok(Some(expected())), "{value}");
        }
        for value in [
            format!("Hash={hash},Hash={hash}"),
            format!("By=a;Hash={hash};Hash={hash}"),
            "By=a;Subject=\"CN=x\"".to_owned(),
            format!("Hash={}", &hash[..62]),
            format!("Hash={}zz", &hash[..62]),
            "Subject=\"unclosed".to_owned(),
            "Hash".to_owned(),
        ] {
            assert!(read(Format::Xfcc, &value).is_err(), "{value}");
        }
        let huge = format!("Hash={hash};Subject=\"{}\"", "x".repeat(MAX_HEADER_BYTES));
        assert!(read(Format::Xfcc, &huge).is_err());
    }
}
