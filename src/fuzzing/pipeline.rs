//! The whole pipeline against a fixed key set, offline (`validate`).

use std::sync::OnceLock;

use crate::clock::Time;
use crate::error::Error;
use crate::issuer::name::IssuerName;
use crate::issuer::trusted::{IssuerKeys, TrustedIssuer};
use crate::issuer::typ::TypPolicy;
use crate::keys::cache::KeyCache;
use crate::token::algorithm::DEFAULT_ALGORITHMS;
use crate::token::claim_map::{ClaimMap, Form, Source};
use crate::token::claims::ClaimRules;
use crate::tower::response::rejection_parts;
use crate::validate::validator::{Binding, Options, Validator};

/// Any bytes as a token, validated offline against a fixed key
/// set (RS256 and EdDSA). A token the pipeline accepts must also verify through
/// an independent path (jsonwebtoken's own `decode` with its own `Validation`),
/// with the same claims, and be an RFC 6750 `b64token`; every rejection maps
/// to an RFC 6750 response.
///
/// # Panics
/// When an invariant breaks: that is the finding.
pub fn pipeline(data: &[u8]) {
    let _accepted = accepts(data);
}

/// [`pipeline`], returning whether the token was accepted: the seed tests
/// below check that the re-verification path runs.
#[allow(clippy::panic, clippy::expect_used)]
fn accepts(data: &[u8]) -> bool {
    const JWKS: &str = "{\"keys\": [{\"kty\": \"RSA\", \"kid\": \"rsa-1\", \"use\": \"sig\", \"n\": \"iska-x9CtOZhB6qB7ZSrgmkfHsAfegjuwD2uR5hZOdfSOUa0MzL667SeuAv-jL9H0eTMO8kE0PA2J0I4UNmwwb46qpOc6CCSb0tq770p2QAU8G44iRK3wksqp4C4DH9TET7BTonm2ikdK7v7sYxRHsgisJ-_GuLIWkOuTCdV3WR4M4xY29vyWLLmb7nUkLIZzS_CuFxVisaoLrYBVRZhB34RFJklEamEVYHAD74bhYJaLI4-U0u0cT-aRWCS2oAFvrc8LcbUXqDCkM-fF6dvFMChn6xq_dj5sayqKy5yjj9esK8fL-Uj16PUHW08TA58FpnNlDAJFaTSHS1366YRww\", \"e\": \"AQAB\"}, {\"kty\": \"OKP\", \"crv\": \"Ed25519\", \"kid\": \"ed-1\", \"x\": \"Ixuwir326vAbT6jfD70lwCDvgRWT-5HUS4WHPTtm3Jw\"}]}";
    struct Fixture {
        runtime: tokio::runtime::Runtime,
        validator: Validator,
        keys: Vec<(String, jsonwebtoken::Algorithm, jsonwebtoken::DecodingKey)>,
    }
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    let fixture = FIXTURE.get_or_init(|| {
        let algorithms = DEFAULT_ALGORITHMS.to_vec();
        let keys =
            crate::keys::jwk::parse_set(JWKS.as_bytes(), &algorithms, 16).expect("fixed key set");
        let copies = keys
            .iter()
            .map(|k| (k.kid.clone(), k.alg.to_jsonwebtoken(), k.key.clone()))
            .collect();
        let cache = KeyCache::preloaded(keys, algorithms.clone()).expect("preloaded cache");
        let mut map = ClaimMap::default();
        map.roles
            .push(Source::new(["realm_access", "roles"], Form::Array));
        let issuer = TrustedIssuer {
            name: IssuerName::new("https://issuer.example"),
            rules: ClaimRules {
                audiences: vec!["api://a".into()],
                leeway_secs: 60,
                map,
                require_permissions: true,
                required: &[],
            },
            typ: TypPolicy::AccessToken,
            algorithms,
            allowed_tenants: None,
            keys: IssuerKeys::Single(cache),
            introspection: None,
        };
        Fixture {
            runtime: tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("runtime"),
            validator: Validator::new(
                vec![issuer],
                None,
                Time::default(),
                None,
                Binding::default(),
                Options {
                    max_token_bytes: 16 * 1024,
                    leeway_secs: 60,
                    error_descriptions: false,
                },
            ),
            keys: copies,
        }
    });
    let Ok(token) = std::str::from_utf8(data) else {
        return false;
    };
    match fixture.runtime.block_on(fixture.validator.validate(token)) {
        Err(error) => {
            let (status, _) = rejection_parts(&error);
            assert!(
                matches!(status.as_u16(), 400 | 401 | 403 | 503),
                "status {status}"
            );
            assert!(
                !matches!(error, Error::KeysUnavailable { .. }),
                "the fixed key set is always loaded"
            );
            false
        }
        Ok(accepted) => {
            // The layer checks RFC 6750's b64token syntax only on tokens it
            // refuses, relying on this.
            assert!(
                crate::token::extract::is_b64token(data),
                "an accepted token is a b64token"
            );
            let kid = jsonwebtoken::decode_header(token)
                .ok()
                .and_then(|h| h.kid)
                .expect("an accepted token names its kid");
            let (_, alg, key) = fixture
                .keys
                .iter()
                .find(|(k, _, _)| *k == kid)
                .expect("an accepted token names a known kid");
            let mut check = jsonwebtoken::Validation::new(*alg);
            check.set_issuer(&["https://issuer.example"]);
            check.set_audience(&["api://a"]);
            check.set_required_spec_claims(&["exp", "iss", "aud"]);
            check.validate_nbf = true;
            let decoded = jsonwebtoken::decode::<serde_json::Value>(token, key, &check)
                .unwrap_or_else(|e| panic!("accepted token does not re-verify: {e}"));
            let ours: serde_json::Value =
                serde_json::from_str(accepted.claims_json()).expect("claims are JSON");
            assert_eq!(decoded.claims, ours, "claims differ between the two paths");
            true
        }
    }
}

#[cfg(test)]
mod tests {
    /// The checked-in pipeline seeds are accepted (so the harness's
    /// re-verification path runs), and a one-byte change to any is refused.
    #[test]
    fn pipeline_seeds_are_accepted_and_a_changed_byte_is_not() {
        for seed in [
            include_str!("../../fuzz/corpus/pipeline/seed-rsa-scp"),
            include_str!("../../fuzz/corpus/pipeline/seed-ed-roles"),
            include_str!("../../fuzz/corpus/pipeline/seed-rsa-nested"),
        ] {
            assert!(super::accepts(seed.as_bytes()), "seed refused: {seed}");
            let mut changed = seed.as_bytes().to_vec();
            if let Some(b) = changed.get_mut(seed.len() / 2) {
                *b = if *b == b'A' { b'B' } else { b'A' };
            }
            assert!(!super::accepts(&changed));
        }
    }
}
