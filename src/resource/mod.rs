//! What the API tells clients about itself: OAuth 2.0 protected-resource
//! metadata (RFC 9728). The resource identifier, the URL its metadata document
//! is served at (§3.1), the document (§2, §3.2), and the `resource_metadata`
//! parameter every challenge then carries (§5.1).
//!
//! Everything here is fixed when the layer is built: serving the document and
//! adding the parameter cost no work per request beyond copying bytes.

mod signer;

use serde::Serialize;

use crate::error::ConfigError;
use crate::keys::fetch::check_url;

pub use signer::MetadataSigner;

/// The well-known URI suffix of RFC 9728 §3.
const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// How this API describes itself, as configured on the
/// [`Builder`](crate::Builder) ([`resource`](crate::Builder::resource) and the
/// `resource_*` settings): what
/// [`resource_metadata_router`](crate::BearerAuthLayer::resource_metadata_router)
/// serves, or [`response`](ResourceMetadata::response) for any other server.
#[derive(Debug)]
pub struct ResourceMetadata {
    resource: String,
    url: String,
    path: String,
    document: String,
    challenge: String,
}

impl ResourceMetadata {
    /// The resource identifier, exactly as configured (the document's
    /// `resource`).
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// Where the metadata document is served (RFC 9728 §3.1): the well-known
    /// suffix inserted between the identifier's host and its path, so
    /// `https://api.example.com/notes` has its document at
    /// `https://api.example.com/.well-known/oauth-protected-resource/notes`.
    /// Challenges name this URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The path of [`url`](Self::url): where to route the document.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The metadata document, JSON (RFC 9728 §2).
    pub fn document(&self) -> &str {
        &self.document
    }

    /// The `resource_metadata="…"` parameter challenges carry (§5.1).
    pub(crate) fn challenge(&self) -> &str {
        &self.challenge
    }

    /// The document's response (RFC 9728 §3.2): 200, `application/json`.
    pub fn response<B: From<String>>(&self) -> http::Response<B> {
        let mut response = http::Response::new(B::from(self.document.clone()));
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        response
    }
}

/// The metadata settings of the builder, before they are checked.
#[derive(Debug, Clone, Default)]
pub(crate) struct ResourceSettings {
    pub resource: Option<String>,
    pub scopes: Vec<String>,
    pub name: Option<String>,
    pub documentation: Option<String>,
    pub signer: Option<MetadataSigner>,
}

/// The document's members (RFC 9728 §2), in the order it lists them.
#[derive(Serialize)]
struct Document<'a> {
    resource: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    authorization_servers: &'a [&'a str],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    scopes_supported: &'a [&'a str],
    bearer_methods_supported: &'a [&'a str],
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_documentation: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    dpop_signing_alg_values_supported: &'a [&'a str],
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    tls_client_certificate_bound_access_tokens: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    dpop_bound_access_tokens_required: bool,
    /// Only in the signed metadata's claims (§2.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<&'a str>,
    /// Only in the document (§2.2: not a claim of the signed metadata).
    #[serde(skip_serializing_if = "Option::is_none")]
    signed_metadata: Option<&'a str>,
}

impl ResourceSettings {
    /// The metadata, or `None` when no resource identifier was set (then no
    /// other `resource_*` setting may be). `authorization_servers` are the
    /// trusted issuers that name one issuer (a multi-tenant template names
    /// none a client could discover).
    pub(crate) fn compile(
        self,
        authorization_servers: &[&str],
        dpop_algorithms: &[&str],
        dpop_required: bool,
        certificate_bound: bool,
        allow_insecure_http: bool,
    ) -> Result<Option<ResourceMetadata>, ConfigError> {
        let Some(resource) = self.resource else {
            for (what, set) in [
                ("resource_scopes", !self.scopes.is_empty()),
                ("resource_name", self.name.is_some()),
                ("resource_documentation", self.documentation.is_some()),
                ("resource_signed_metadata", self.signer.is_some()),
            ] {
                if set {
                    return Err(ConfigError::WithoutResource(what));
                }
            }
            return Ok(None);
        };
        let url = check_url("resource", &resource, allow_insecure_http)?;
        if url.query().is_some() || url.fragment().is_some() {
            // §1.2: no fragment; a query would have no place in §3.1's URL.
            return Err(ConfigError::InvalidUrl {
                what: "resource",
                url: resource,
            });
        }
        if let Some(documentation) = &self.documentation {
            check_url("resource_documentation", documentation, allow_insecure_http)?;
        }
        if self.name.as_deref() == Some("") {
            return Err(ConfigError::Empty("resource_name"));
        }
        let suffix = match url.path() {
            "/" => "",
            path => path,
        };
        let path = format!("{WELL_KNOWN}{suffix}");
        let metadata_url = format!("{}{path}", url.origin().ascii_serialization());
        let mut scopes: Vec<&str> = Vec::new();
        for scope in &self.scopes {
            if scope.is_empty() {
                return Err(ConfigError::Empty("resource_scopes"));
            }
            if !scopes.contains(&scope.as_str()) {
                scopes.push(scope);
            }
        }
        let mut members = Document {
            resource: &resource,
            authorization_servers,
            scopes_supported: &scopes,
            bearer_methods_supported: &["header"],
            resource_name: self.name.as_deref(),
            resource_documentation: self.documentation.as_deref(),
            dpop_signing_alg_values_supported: dpop_algorithms,
            tls_client_certificate_bound_access_tokens: certificate_bound,
            dpop_bound_access_tokens_required: dpop_required,
            iss: None,
            signed_metadata: None,
        };
        let signed = match &self.signer {
            Some(signer) => {
                if signer.issuer().is_empty() {
                    return Err(ConfigError::Empty("resource_signed_metadata issuer"));
                }
                let claims = Document {
                    iss: Some(signer.issuer()),
                    ..members
                };
                Some(signer.sign(&claims)?)
            }
            None => None,
        };
        members.signed_metadata = signed.as_deref();
        // Strings and lists of strings always serialize; fail closed all the same.
        let document =
            serde_json::to_string(&members).map_err(|_| ConfigError::Empty("resource"))?;
        // The URL is serialized ASCII with `"` and `\` percent-encoded, so it
        // stands in a quoted string as it is.
        let challenge = format!("resource_metadata=\"{metadata_url}\"");
        Ok(Some(ResourceMetadata {
            resource,
            url: metadata_url,
            path,
            document,
            challenge,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::algorithm::Algorithm;

    fn compiled(resource: &str) -> ResourceMetadata {
        ResourceSettings {
            resource: Some(resource.into()),
            ..ResourceSettings::default()
        }
        .compile(&[], &[], false, false, false)
        .expect("valid")
        .expect("configured")
    }

    /// RFC 9728 §3.1: the well-known suffix goes between the host and the
    /// path; an identifier without a path has the document at the suffix.
    #[test]
    fn the_document_is_served_where_rfc_9728_puts_it() {
        for (resource, url) in [
            (
                "https://api.example.com",
                "https://api.example.com/.well-known/oauth-protected-resource",
            ),
            (
                "https://api.example.com/",
                "https://api.example.com/.well-known/oauth-protected-resource",
            ),
            (
                "https://api.example.com/notes",
                "https://api.example.com/.well-known/oauth-protected-resource/notes",
            ),
            (
                "https://api.example.com:8443/v1/notes/",
                "https://api.example.com:8443/.well-known/oauth-protected-resource/v1/notes/",
            ),
            (
                "http://127.0.0.1:8080/notes",
                "http://127.0.0.1:8080/.well-known/oauth-protected-resource/notes",
            ),
        ] {
            let metadata = compiled(resource);
            assert_eq!(metadata.url(), url, "{resource}");
            assert_eq!(metadata.resource(), resource);
            assert!(url.ends_with(metadata.path()), "{resource}");
            assert_eq!(metadata.challenge(), format!("resource_metadata=\"{url}\""));
        }
    }

    #[test]
    fn the_document_has_the_members_configured() {
        let metadata = ResourceSettings {
            resource: Some("https://api.example.com/notes".into()),
            scopes: vec![
                "notes.read".into(),
                "notes.write".into(),
                "notes.read".into(),
            ],
            name: Some("Notes \"API\"".into()),
            documentation: Some("https://docs.example.com/notes".into()),
            signer: None,
        }
        .compile(
            &["https://login.example.com/t/v2.0"],
            &[],
            false,
            false,
            false,
        )
        .expect("valid")
        .expect("configured");
        assert_eq!(
            metadata.document(),
            r#"{"resource":"https://api.example.com/notes","authorization_servers":["https://login.example.com/t/v2.0"],"scopes_supported":["notes.read","notes.write"],"bearer_methods_supported":["header"],"resource_name":"Notes \"API\"","resource_documentation":"https://docs.example.com/notes"}"#
        );
        let bare = compiled("https://api.example.com");
        assert_eq!(
            bare.document(),
            r#"{"resource":"https://api.example.com","bearer_methods_supported":["header"]}"#
        );
    }

    #[test]
    fn identifiers_that_cannot_be_one_are_refused() {
        let err = |resource: &str, opt_in: bool| {
            ResourceSettings {
                resource: Some(resource.into()),
                ..ResourceSettings::default()
            }
            .compile(&[], &[], false, false, opt_in)
            .map(|_| ())
            .map_err(|e| format!("{e:?}"))
        };
        assert!(err("http://api.example.com", false).is_err_and(|e| e.starts_with("InsecureUrl")));
        assert!(err("http://api.example.com", true).is_ok());
        for bad in [
            "api.example.com",
            "https://api.example.com/notes#x",
            "https://api.example.com/notes?x=1",
            "ftp://api.example.com",
            "urn:example:notes",
        ] {
            assert!(
                err(bad, true).is_err_and(|e| e.starts_with("InvalidUrl")),
                "{bad}"
            );
        }
        let orphan = ResourceSettings {
            scopes: vec!["a".into()],
            ..ResourceSettings::default()
        };
        assert_eq!(
            orphan
                .compile(&[], &[], false, false, false)
                .map(|_| ())
                .map_err(|e| format!("{e:?}")),
            Err("WithoutResource(\"resource_scopes\")".into())
        );
    }

    #[test]
    fn the_response_is_the_json_document() {
        let metadata = compiled("https://api.example.com");
        let response: http::Response<String> = metadata.response();
        assert_eq!(response.status(), http::StatusCode::OK);
        assert_eq!(
            response.headers().get(http::header::CONTENT_TYPE),
            Some(&http::HeaderValue::from_static("application/json"))
        );
        assert_eq!(response.body(), metadata.document());
    }

    /// The signed metadata (§2.2) verifies with the signer's public key and
    /// carries the document's members and `iss`, and not itself; the
    /// document carries it beside the plain members. For one key of each
    /// family.
    #[test]
    fn signed_metadata_verifies_and_repeats_the_members() {
        use jsonwebtoken::{DecodingKey, EncodingKey, Validation, jwk::Jwk};
        for (algorithm, pem, encoding) in [
            (
                Algorithm::RS256,
                &include_bytes!("../testing/keys/rsa2048_1.pem")[..],
                EncodingKey::from_rsa_pem as fn(&[u8]) -> _,
            ),
            (
                Algorithm::PS384,
                &include_bytes!("../testing/keys/rsa2048_2.pem")[..],
                EncodingKey::from_rsa_pem,
            ),
            (
                Algorithm::ES256,
                &include_bytes!("../testing/keys/p256_1.pem")[..],
                EncodingKey::from_ec_pem,
            ),
            (
                Algorithm::ES384,
                &include_bytes!("../testing/keys/p384_1.pem")[..],
                EncodingKey::from_ec_pem,
            ),
            (
                Algorithm::EdDSA,
                &include_bytes!("../testing/keys/ed25519_1.pem")[..],
                EncodingKey::from_ed_pem,
            ),
        ] {
            let signer = MetadataSigner::from_pem("https://attest.example.com", algorithm, pem)
                .expect("key loads")
                .key_id("m1");
            let metadata = ResourceSettings {
                resource: Some("https://api.example.com/notes".into()),
                scopes: vec!["notes.read".into()],
                name: Some("Notes".into()),
                signer: Some(signer),
                ..ResourceSettings::default()
            }
            .compile(&["https://login.example.com"], &[], false, false, false)
            .expect("valid")
            .expect("configured");
            let mut document: serde_json::Value =
                serde_json::from_str(metadata.document()).expect("JSON");
            let jwt = document["signed_metadata"]
                .as_str()
                .expect("signed_metadata")
                .to_owned();
            let public =
                Jwk::from_encoding_key(&encoding(pem).expect("key"), algorithm.to_jsonwebtoken())
                    .expect("public key");
            let key = DecodingKey::from_jwk(&public).expect("decoding key");
            let mut validation = Validation::new(algorithm.to_jsonwebtoken());
            validation.set_required_spec_claims(&["iss"]);
            validation.set_issuer(&["https://attest.example.com"]);
            validation.validate_exp = false;
            let verified = jsonwebtoken::decode::<serde_json::Value>(&jwt, &key, &validation)
                .unwrap_or_else(|e| panic!("{algorithm:?}: {e}"));
            assert_eq!(verified.header.kid.as_deref(), Some("m1"));
            let mut claims = verified.claims;
            assert_eq!(
                claims
                    .as_object_mut()
                    .and_then(|c| c.remove("iss"))
                    .as_ref()
                    .and_then(|v| v.as_str()),
                Some("https://attest.example.com")
            );
            document
                .as_object_mut()
                .and_then(|d| d.remove("signed_metadata"))
                .expect("removed");
            assert_eq!(claims, document, "{algorithm:?}");
            assert_eq!(
                document["resource"], "https://api.example.com/notes",
                "{algorithm:?}"
            );
            // Another key of the same kind does not verify it.
            if algorithm == Algorithm::ES256 {
                let other = EncodingKey::from_ec_pem(include_bytes!("../testing/keys/p256_2.pem"))
                    .expect("key");
                let other = Jwk::from_encoding_key(&other, algorithm.to_jsonwebtoken())
                    .expect("public key");
                let other = DecodingKey::from_jwk(&other).expect("decoding key");
                assert!(
                    jsonwebtoken::decode::<serde_json::Value>(&jwt, &other, &validation).is_err()
                );
            }
        }
    }

    #[test]
    fn a_signing_key_that_does_not_fit_is_refused() {
        let p256 = include_bytes!("../testing/keys/p256_1.pem");
        let rsa = include_bytes!("../testing/keys/rsa2048_1.pem");
        let code = |result: Result<MetadataSigner, ConfigError>| {
            result.map(|_| ()).map_err(|e| format!("{e:?}"))
        };
        for (algorithm, pem) in [
            (Algorithm::ES256, &b"not a key"[..]),
            (Algorithm::ES256, &rsa[..]),
            (Algorithm::RS256, &p256[..]),
            (Algorithm::EdDSA, &p256[..]),
        ] {
            assert!(
                code(MetadataSigner::from_pem(
                    "https://a.example",
                    algorithm,
                    pem
                ))
                .is_err_and(|e| e.starts_with("InvalidSigningKey")),
                "{algorithm:?}"
            );
        }
        // A P-256 key loads as an EC key; ES384 finds out when it signs.
        let mismatched = MetadataSigner::from_pem("https://a.example", Algorithm::ES384, p256)
            .expect("an EC key loads");
        let compile = |signer: MetadataSigner, resource: Option<&str>| {
            ResourceSettings {
                resource: resource.map(Into::into),
                signer: Some(signer),
                ..ResourceSettings::default()
            }
            .compile(&[], &[], false, false, false)
            .map(|_| ())
            .map_err(|e| format!("{e:?}"))
        };
        assert!(
            compile(mismatched, Some("https://api.example.com"))
                .is_err_and(|e| e.starts_with("InvalidSigningKey"))
        );
        let good = MetadataSigner::from_pem("https://a.example", Algorithm::ES256, p256)
            .expect("key loads");
        assert_eq!(
            compile(good.clone(), None),
            Err("WithoutResource(\"resource_signed_metadata\")".into())
        );
        let anonymous = MetadataSigner::from_pem("", Algorithm::ES256, p256).expect("key loads");
        assert!(
            compile(anonymous, Some("https://api.example.com"))
                .is_err_and(|e| e.starts_with("Empty"))
        );
        assert!(compile(good, Some("https://api.example.com")).is_ok());
        // The key never shows in Debug.
        let debug = format!(
            "{:?}",
            MetadataSigner::from_pem("https://a.example", Algorithm::ES256, p256).expect("key")
        );
        assert!(
            debug.starts_with("MetadataSigner { issuer: \"https://a.example\""),
            "{debug}"
        );
        assert!(!debug.contains("key:"), "{debug}");
    }
}
