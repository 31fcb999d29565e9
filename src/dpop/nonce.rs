//! Server-provided DPoP nonces (RFC 9449 §8, §9): a nonce is the time it was
//! issued and a MAC of it under a server secret, so any replica holding the
//! secret checks it without shared state, and it expires on the layer's
//! clock.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};

use crate::error::ConfigError;

/// The shortest secret accepted, in bytes.
pub(crate) const MIN_SECRET_BYTES: usize = 32;
/// The longest nonce looked at, in bytes.
const MAX_NONCE_BYTES: usize = 128;

/// Issues and checks nonces.
pub(crate) struct Nonces {
    encoding: EncodingKey,
    decoding: DecodingKey,
    lifetime_secs: i64,
}

impl std::fmt::Debug for Nonces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nonces")
            .field("lifetime_secs", &self.lifetime_secs)
            .finish_non_exhaustive()
    }
}

/// What the MAC covers: a label, so that the MAC of a nonce is never a MAC
/// of anything else made with the same secret, and the time.
fn message(issued: i64) -> String {
    format!("bearer-guard dpop nonce {issued}")
}

impl Nonces {
    /// Nonces under `secret`, each valid for `lifetime_secs` after it was
    /// issued.
    pub(crate) fn new(secret: &[u8], lifetime_secs: i64) -> Result<Self, ConfigError> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(ConfigError::Empty("dpop nonce secret of 32 bytes or more"));
        }
        Ok(Nonces {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            lifetime_secs,
        })
    }

    /// A nonce issued at `now`: `<seconds>.<HMAC-SHA256, base64url>`.
    pub(crate) fn issue(&self, now: i64) -> Option<String> {
        let mac =
            jsonwebtoken::crypto::sign(message(now).as_bytes(), &self.encoding, Algorithm::HS256)
                .ok()?;
        Some(format!("{now}.{mac}"))
    }

    /// Whether `nonce` is one of ours, issued no later than `now + leeway`
    /// and no earlier than its lifetime (plus the leeway) ago. The MAC is
    /// compared by the crypto backend's HMAC verification.
    pub(crate) fn accepts(&self, nonce: &str, now: i64, leeway_secs: i64) -> bool {
        if nonce.len() > MAX_NONCE_BYTES {
            return false;
        }
        let Some((issued, mac)) = nonce.split_once('.') else {
            return false;
        };
        // Only canonical decimal: one nonce has one spelling.
        let Ok(issued) = issued.parse::<i64>() else {
            return false;
        };
        if issued.to_string().len() != nonce.len() - mac.len() - 1 || mac.is_empty() {
            return false;
        }
        if URL_SAFE_NO_PAD.decode(mac).is_err() {
            return false;
        }
        let fresh = issued <= now.saturating_add(leeway_secs)
            && issued
                >= now
                    .saturating_sub(self.lifetime_secs)
                    .saturating_sub(leeway_secs);
        fresh
            && jsonwebtoken::crypto::verify(
                mac,
                message(issued).as_bytes(),
                &self.decoding,
                Algorithm::HS256,
            )
            .unwrap_or(false)
    }
}

/// 32 random bytes from the operating system's generator, through the
/// crypto backend.
#[cfg(feature = "aws-lc-rs")]
pub(crate) fn random_secret() -> Option<Vec<u8>> {
    let mut secret = vec![0u8; MIN_SECRET_BYTES];
    aws_lc_rs::rand::fill(&mut secret).ok()?;
    Some(secret)
}

/// 32 random bytes from the operating system's generator.
#[cfg(not(feature = "aws-lc-rs"))]
pub(crate) fn random_secret() -> Option<Vec<u8>> {
    let mut secret = vec![0u8; MIN_SECRET_BYTES];
    getrandom::fill(&mut secret).ok()?;
    Some(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_is_accepted_within_its_lifetime_by_any_holder_of_the_secret() {
        let secret = random_secret().expect("random");
        let one = Nonces::new(&secret, 300).expect("valid");
        let replica = Nonces::new(&secret, 300).expect("valid");
        let other = Nonces::new(&random_secret().expect("random"), 300).expect("valid");
        let nonce = one.issue(1_000).expect("nonce");
        assert!(nonce.starts_with("1000."), "{nonce}");
        for now in [1_000, 1_300, 1_310, 990] {
            assert!(one.accepts(&nonce, now, 10), "at {now}");
            assert!(replica.accepts(&nonce, now, 10), "replica at {now}");
        }
        assert!(!one.accepts(&nonce, 1_311, 10), "expired");
        assert!(!one.accepts(&nonce, 989, 10), "issued in the future");
        assert!(!other.accepts(&nonce, 1_000, 10), "another secret");
        let (_, mac) = nonce.split_once('.').expect("two parts");
        for forged in [
            format!("1001.{mac}"),
            format!("01000.{mac}"),
            format!("+1000.{mac}"),
            "1000.".to_owned(),
            "1000".to_owned(),
            format!("1000.{mac}="),
            format!("1000.{}", "A".repeat(200)),
            String::new(),
        ] {
            assert!(!one.accepts(&forged, 1_000, 10), "{forged}");
        }
        assert!(Nonces::new(&[0u8; 31], 300).is_err());
        assert_ne!(random_secret(), random_secret());
    }
}
