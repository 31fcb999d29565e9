//! SHA-256, from the crypto backend the crate was built with: for DPoP's
//! `ath` and replay keys and for certificate thumbprints.

/// SHA-256 of `data`.
#[cfg(feature = "aws-lc-rs")]
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// SHA-256 of `data`.
#[cfg(not(feature = "aws-lc-rs"))]
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(data).into()
}

/// Base64url (no padding) of the SHA-256 of `data`: DPoP's `ath`, RFC 7638
/// thumbprints, RFC 8705's `x5t#S256`.
pub(crate) fn sha256_base64url(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha256(data))
}

#[cfg(test)]
mod tests {
    #[test]
    fn sha256_of_abc_is_the_fips_180_2_vector() {
        let hex: String = super::sha256(b"abc")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
