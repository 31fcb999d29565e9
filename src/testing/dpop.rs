//! A DPoP client for tests (RFC 9449 §4.2): a key pair and the proofs it
//! signs, so that a test can send what a DPoP client sends, and anything a
//! broken or hostile one might.

use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::EncodingKey;
use serde_json::{Map, Value, json};

use super::{KeyKind, load};
use crate::clock::{Clock, SystemClock};
use crate::digest::sha256_base64url;

/// A DPoP client's key pair (a bundled test key: never use it elsewhere).
pub struct DpopKey {
    kind: KeyKind,
    encoding: EncodingKey,
    jwk: Value,
    jwk_text: String,
    thumbprint: String,
}

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopKey")
            .field("kind", &self.kind)
            .field("thumbprint", &self.thumbprint)
            .finish_non_exhaustive()
    }
}

/// Makes each proof's default `jti` unique within the process.
static JTI: AtomicU64 = AtomicU64::new(0);

impl DpopKey {
    /// A key of `kind`; `which` picks one of the bundled keys of that kind
    /// (0 or 1; RSA keys also 2), so that a test can have two different ones.
    #[allow(clippy::panic)]
    pub fn new(kind: KeyKind, which: usize) -> DpopKey {
        let pool = kind.pool();
        // The issuer signs with the first keys of each kind: the client's
        // come from the end of the pool.
        let Some(pem) = pool.iter().rev().cycle().nth(which) else {
            panic!("test DPoP key: no bundled {kind:?} key");
        };
        let (encoding, mut jwk) = load(kind, pem, "");
        if let Value::Object(map) = &mut jwk {
            map.remove("kid");
            map.remove("use");
            map.remove("alg");
        }
        let parsed: jsonwebtoken::jwk::Jwk = match serde_json::from_value(jwk.clone()) {
            Ok(parsed) => parsed,
            Err(e) => panic!("test DPoP key: JWK does not parse: {e}"),
        };
        let thumbprint = match parsed.thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256) {
            Ok(thumbprint) => thumbprint,
            Err(e) => panic!("test DPoP key: no thumbprint: {e}"),
        };
        DpopKey {
            kind,
            encoding,
            jwk_text: jwk.to_string(),
            jwk,
            thumbprint,
        }
    }

    /// The public key as a JWK, JSON text (what a proof carries in its
    /// `jwk` header).
    pub fn jwk(&self) -> &str {
        &self.jwk_text
    }

    /// The RFC 7638 SHA-256 thumbprint, base64url: the `cnf.jkt` of tokens
    /// bound to this key.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// The `cnf` claim of a token bound to this key: `{"jkt": "…"}`.
    pub fn cnf(&self) -> impl serde::Serialize + use<'_> {
        json!({ "jkt": self.thumbprint })
    }

    /// A proof for a request with `method` to `htu`, issued now (by the
    /// system clock) with a fresh `jti`; see [`DpopProof`] to change it.
    pub fn proof(&self, method: &str, htu: &str) -> DpopProof<'_> {
        let iat = SystemClock
            .now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let jti = format!("test-jti-{}", JTI.fetch_add(1, Ordering::Relaxed));
        let mut header = Map::new();
        header.insert("typ".into(), json!("dpop+jwt"));
        header.insert("alg".into(), json!(self.kind.algorithm().name()));
        header.insert("jwk".into(), self.jwk.clone());
        let mut claims = Map::new();
        claims.insert("jti".into(), json!(jti));
        claims.insert("htm".into(), json!(method));
        claims.insert("htu".into(), json!(htu));
        claims.insert("iat".into(), json!(iat));
        DpopProof {
            key: self,
            header,
            claims,
        }
    }
}

/// A DPoP proof being made: every header member and claim can be changed
/// before [`sign`](DpopProof::sign).
#[derive(Debug)]
pub struct DpopProof<'k> {
    key: &'k DpopKey,
    header: Map<String, Value>,
    claims: Map<String, Value>,
}

impl DpopProof<'_> {
    /// `ath`: the hash of the access token the proof accompanies.
    pub fn access_token(self, token: &str) -> Self {
        self.claim("ath", json!(sha256_base64url(token.as_bytes())))
    }

    /// `iat`, seconds since the epoch (a manual clock's, say).
    pub fn iat(self, iat: i64) -> Self {
        self.claim("iat", json!(iat))
    }

    /// `jti`.
    pub fn jti(self, jti: &str) -> Self {
        self.claim("jti", json!(jti))
    }

    /// Sets a claim (or replaces it); a value that does not serialize
    /// becomes `null`.
    pub fn claim(mut self, name: &str, value: impl serde::Serialize) -> Self {
        self.claims.insert(
            name.into(),
            serde_json::to_value(value).unwrap_or(Value::Null),
        );
        self
    }

    /// Sets a header member (or replaces it); a value that does not
    /// serialize becomes `null`.
    pub fn header(mut self, name: &str, value: impl serde::Serialize) -> Self {
        self.header.insert(
            name.into(),
            serde_json::to_value(value).unwrap_or(Value::Null),
        );
        self
    }

    /// Removes a claim or header member.
    pub fn without(mut self, name: &str) -> Self {
        self.claims.remove(name);
        self.header.remove(name);
        self
    }

    /// The compact JWS, signed with the key (whatever the header says).
    #[allow(clippy::panic)]
    pub fn sign(self) -> String {
        let message = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(Value::Object(self.header).to_string()),
            URL_SAFE_NO_PAD.encode(Value::Object(self.claims).to_string())
        );
        let alg = self.key.kind.algorithm().to_jsonwebtoken();
        match jsonwebtoken::crypto::sign(message.as_bytes(), &self.key.encoding, alg) {
            Ok(signature) => format!("{message}.{signature}"),
            Err(e) => panic!("test DPoP key: signing failed: {e}"),
        }
    }
}
