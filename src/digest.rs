//! SHA-256, from the crypto backend the crate was built with: for DPoP's
//! `ath` and replay keys and for certificate thumbprints.

/// SHA-256 of `data`.
#[cfg(feature = "aws-lc-rs")]
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    bytes(&aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data))
}

/// SHA-256 of `data`.
#[cfg(not(feature = "aws-lc-rs"))]
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(data).into()
}

/// The 32 bytes of an aws-lc SHA-256 digest.
#[cfg(feature = "aws-lc-rs")]
fn bytes(digest: &aws_lc_rs::digest::Digest) -> [u8; 32] {
    let mut out = [0u8; 32];
    // A SHA-256 digest is 32 bytes: the lengths always agree.
    out.copy_from_slice(digest.as_ref());
    out
}

/// SHA-256 over input given in pieces. A clone carries on from the same
/// state: a token's signing input, hashed once, serves both its signature
/// and its DPoP `ath` (`validate::signature`).
#[derive(Clone)]
pub(crate) struct Sha256(
    #[cfg(feature = "aws-lc-rs")] aws_lc_rs::digest::Context,
    #[cfg(not(feature = "aws-lc-rs"))] sha2::Sha256,
);

impl Sha256 {
    /// Nothing hashed yet.
    #[cfg(feature = "aws-lc-rs")]
    pub(crate) fn new() -> Self {
        Sha256(aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256))
    }

    /// Nothing hashed yet.
    #[cfg(not(feature = "aws-lc-rs"))]
    pub(crate) fn new() -> Self {
        use sha2::Digest as _;
        Sha256(sha2::Sha256::new())
    }

    /// Hashes `data` after what came before.
    pub(crate) fn update(&mut self, data: &[u8]) {
        #[cfg(not(feature = "aws-lc-rs"))]
        use sha2::Digest as _;
        self.0.update(data);
    }

    /// The SHA-256 of everything hashed.
    #[cfg(feature = "aws-lc-rs")]
    pub(crate) fn finish(self) -> [u8; 32] {
        bytes(&self.0.finish())
    }

    /// The SHA-256 of everything hashed.
    #[cfg(not(feature = "aws-lc-rs"))]
    pub(crate) fn finish(self) -> [u8; 32] {
        use sha2::Digest as _;
        self.0.finalize().into()
    }

    /// The same, as the aws-lc digest a signature can be checked against.
    #[cfg(feature = "aws-lc-rs")]
    pub(crate) fn finish_digest(self) -> aws_lc_rs::digest::Digest {
        self.0.finish()
    }
}

/// Base64url (no padding) of a SHA-256 hash.
pub(crate) fn base64url(hash: &[u8; 32]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hash)
}

/// Base64url (no padding) of the SHA-256 of `data`: DPoP's `ath`, RFC 7638
/// thumbprints, RFC 8705's `x5t#S256`.
pub(crate) fn sha256_base64url(data: &[u8]) -> String {
    base64url(&sha256(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(hash: [u8; 32]) -> String {
        hash.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn sha256_of_abc_is_the_fips_180_2_vector() {
        assert_eq!(
            hex(sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    /// In pieces, cloned midway, each copy finishing on its own: the same
    /// hashes as in one piece (FIPS 180-2's two-block vector included).
    #[test]
    fn pieces_and_clones_hash_as_one_piece() {
        let message = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        let mut first = Sha256::new();
        first.update(b"abcdbcdecdefdefgefgh");
        let mut second = first.clone();
        first.update(b"fghighijhijkijkljklmklmnlmnomnopnopq");
        second.update(b"!");
        assert_eq!(
            hex(first.finish()),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
        assert_eq!(second.finish(), sha256(b"abcdbcdecdefdefgefgh!"));
        assert_eq!(sha256(message), {
            let mut whole = Sha256::new();
            whole.update(message);
            whole.finish()
        });
        assert_eq!(Sha256::new().finish(), sha256(b""));
        assert_eq!(
            base64url(&sha256(b"abc")),
            sha256_base64url(b"abc"),
            "base64url of the hash"
        );
    }
}
