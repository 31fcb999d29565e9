//! Just enough DER and PEM to write an RSA public key the ways an attacker
//! would try it as an HMAC secret, and ECDSA signatures in DER form.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// DER length octets (short form, or long form up to 65,535).
pub fn der_len(len: usize) -> Vec<u8> {
    match len {
        0..=0x7f => vec![u8::try_from(len).expect("fits")],
        0x80..=0xff => vec![0x81, u8::try_from(len).expect("fits")],
        _ => {
            let [hi, lo] = u16::try_from(len).expect("small DER").to_be_bytes();
            vec![0x82, hi, lo]
        }
    }
}

/// A DER TLV.
pub fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend(der_len(content.len()));
    out.extend_from_slice(content);
    out
}

/// A minimal DER INTEGER from big-endian unsigned magnitude bytes.
pub fn der_uint(magnitude: &[u8]) -> Vec<u8> {
    let start = magnitude
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(magnitude.len().saturating_sub(1));
    let magnitude = magnitude.get(start..).unwrap_or_default();
    let mut content = Vec::with_capacity(magnitude.len() + 1);
    if magnitude.first().is_some_and(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(magnitude);
    der(0x02, &content)
}

/// PEM armour with 64-character lines.
pub fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// An RSA public key `(n, e)` as PKCS#1 `RSAPublicKey` and as X.509
/// `SubjectPublicKeyInfo` DER.
pub fn rsa_public_der(n: &[u8], e: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let pkcs1 = der(0x30, &[der_uint(n), der_uint(e)].concat());
    // AlgorithmIdentifier { rsaEncryption (1.2.840.113549.1.1.1), NULL }
    let algorithm = der(
        0x30,
        &[
            der(
                0x06,
                &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01],
            ),
            vec![0x05, 0x00],
        ]
        .concat(),
    );
    let spki = der(
        0x30,
        &[algorithm, der(0x03, &[&[0u8][..], &pkcs1].concat())].concat(),
    );
    (pkcs1, spki)
}
