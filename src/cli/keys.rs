//! `keys`: an issuer's key set as the library sees it. The discovery
//! document and the key set are fetched with the library's own fetcher
//! (`keys::fetch`: timeouts, size cap, no redirects, `https` or loopback),
//! and each entry is bound as the key cache binds it (`keys::jwk`): the one
//! algorithm it verifies, or why it is dropped.

use std::time::SystemTime;

use serde_json::Value;

use super::decode::show;
use super::{Failure, INVALID, Report, VALID, line};
use crate::config::Builder;
use crate::error::log_safe;
use crate::keys::fetch::{ClientChoice, FetchError, Fetcher, check_url};
use crate::keys::jwk::{Entry, VerifyingKey, bind_entries, rsa_modulus_bits};
use crate::token::algorithm::DEFAULT_ALGORITHMS;

/// The end of an OpenID Connect discovery document's URL (OpenID Connect
/// Discovery 1.0 §4): the issuer is what comes before it.
const DISCOVERY_SUFFIX: &str = "/.well-known/openid-configuration";

/// Lists the keys at `url` with the library's default limits.
/// `allow_http`: plain `http` beyond loopback too.
pub(crate) async fn run(
    url: &str,
    defaults: &Builder,
    allow_http: bool,
) -> Result<Report, Failure> {
    let trouble = |e: &dyn std::error::Error| Failure::Trouble(chain(e));
    let parsed = check_url("the URL", url, allow_http)
        .map_err(|e| Failure::Trouble(super::config_error(&e)))?;
    // A certificate store is needed only for an https URL (one that
    // discovery names later fails with its TLS reason).
    let fetcher = Fetcher::with_client(
        defaults.connect_timeout,
        defaults.timeout,
        defaults.max_jwks_bytes,
        allow_http,
        ClientChoice::Shared {
            needs_https: parsed.scheme() == "https",
        },
    )
    .map_err(|e| trouble(&e))?;
    let mut out = String::new();
    let jwks_uri = match url.strip_suffix(DISCOVERY_SUFFIX) {
        Some(issuer) => {
            let (jwks_uri, _) = fetcher
                .discover(&parsed, issuer, SystemTime::now())
                .await
                .map_err(|e| trouble(&e))?;
            line!(out, "discovery: {url}");
            line!(out, "issuer:    {}", log_safe(issuer, 200));
            jwks_uri
        }
        None => parsed,
    };
    line!(out, "key set:   {jwks_uri}");
    // A URL given as a key set may be an issuer's: say where its keys are.
    let hint = match url.strip_suffix(DISCOVERY_SUFFIX) {
        Some(_) => String::new(),
        None => format!(
            " (for an issuer, give its discovery document: {}{DISCOVERY_SUFFIX})",
            url.trim_end_matches('/')
        ),
    };
    let fetched = fetcher
        .get(&jwks_uri, SystemTime::now())
        .await
        .map_err(|e| match e {
            // A page, but no key set: perhaps an issuer's.
            FetchError::Status { .. } => Failure::Trouble(format!("{e}{hint}")),
            e => Failure::Trouble(chain(&e)),
        })?;
    let entries = bind_entries(&fetched.body, &DEFAULT_ALGORITHMS)
        .map_err(|reason| Failure::Trouble(format!("{jwks_uri}: {reason}{hint}")))?;
    line!(out);
    let rows: Vec<(String, String, String)> = rows(&entries, defaults.max_keys);
    let kid_width = rows.iter().map(|(kid, _, _)| kid.chars().count()).max();
    let type_width = rows.iter().map(|(_, kind, _)| kind.chars().count()).max();
    let usable = entries
        .iter()
        .filter(|(_, bound)| bound.is_ok())
        .count()
        .min(defaults.max_keys);
    for (kid, kind, verdict) in &rows {
        let (kw, tw) = (kid_width.unwrap_or(0), type_width.unwrap_or(0));
        line!(out, "  {kid:<kw$}  {kind:<tw$}  {verdict}");
    }
    line!(out);
    let skipped = entries.len() - usable;
    line!(
        out,
        "{usable} usable {}, {skipped} skipped",
        if usable == 1 { "key" } else { "keys" }
    );
    let status = if usable == 0 {
        line!(
            out,
            "no usable key: every token of this issuer would be refused"
        );
        INVALID
    } else {
        VALID
    };
    Ok(Report { out, status })
}

/// One row per entry: its `kid`, its type, and the algorithm it is bound to
/// or why it is skipped. Past `max_keys` usable keys, the rest are skipped
/// as the key cache skips them.
fn rows(entries: &[Entry], max_keys: usize) -> Vec<(String, String, String)> {
    let mut kept = 0usize;
    entries
        .iter()
        .enumerate()
        .map(|(index, (jwk, bound))| {
            let kid = match jwk.get("kid") {
                Some(kid) => format!("kid {}", show(kid)),
                None => format!("entry {index} (no kid)"),
            };
            let verdict = match bound {
                Ok(_) if kept >= max_keys => {
                    format!("skipped: more than {max_keys} keys in the set")
                }
                Ok(key) => {
                    kept += 1;
                    usable(jwk, key)
                }
                Err(reason) => format!("skipped: {reason}"),
            };
            (kid, key_type(jwk), verdict)
        })
        .collect()
}

/// A usable key's line: its algorithm and where that comes from.
fn usable(jwk: &Value, key: &VerifyingKey) -> String {
    let from = if jwk.get("alg").is_some() {
        "its alg"
    } else {
        "no alg: its key type's"
    };
    let mut text = format!("bound to {} ({from})", key.alg.name());
    if let Some(issuer) = &key.issuer {
        text.push_str(&format!(", only for issuer {}", log_safe(issuer, 200)));
    }
    text
}

/// `RSA 2048`, `EC P-256`, `OKP Ed25519`, or what the entry says.
fn key_type(jwk: &Value) -> String {
    let member = |name: &str| jwk.get(name).and_then(Value::as_str);
    match member("kty") {
        Some("RSA") => match member("n").map(rsa_modulus_bits) {
            Some(Ok(bits)) => format!("RSA {bits}"),
            _ => "RSA".into(),
        },
        Some(kty @ ("EC" | "OKP")) => match member("crv") {
            Some(crv) => format!("{kty} {}", plain(crv)),
            None => kty.into(),
        },
        Some(other) => plain(other),
        None => "no kty".into(),
    }
}

/// A short name from the key set as it is when it is one (`P-256`), else
/// escaped, quoted and cut.
fn plain(name: &str) -> String {
    let simple = |c: char| c.is_ascii_alphanumeric() || c == '-';
    if name.len() <= 16 && name.chars().all(simple) {
        name.to_owned()
    } else {
        log_safe(name, 16)
    }
}

/// `error` and its sources, each said once.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let said = cause.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_types_read_for_people() {
        assert_eq!(key_type(&json!({"kty":"EC","crv":"P-256"})), "EC P-256");
        assert_eq!(
            key_type(&json!({"kty":"OKP","crv":"Ed25519"})),
            "OKP Ed25519"
        );
        assert_eq!(key_type(&json!({"kty":"RSA","n":"AQAB"})), "RSA 17");
        assert_eq!(key_type(&json!({"kty":"RSA","n":"*"})), "RSA");
        assert_eq!(key_type(&json!({"kty":"oct"})), "oct");
        assert_eq!(
            key_type(&json!({"kty":"EC","crv":"P-256\n"})),
            "EC \"P-256\\n\""
        );
        assert_eq!(key_type(&json!({})), "no kty");
    }

    #[test]
    fn the_key_limit_skips_as_the_cache_does() {
        let ed = |kid: &str| {
            json!({"kty":"OKP","crv":"Ed25519","kid":kid,
                   "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})
        };
        let body = json!({"keys": [ed("a"), ed("b"), ed("c"), {"kty":"oct","k":"AA"}]});
        let entries =
            bind_entries(body.to_string().as_bytes(), &DEFAULT_ALGORITHMS).expect("a JWKS");
        let rows = rows(&entries, 2);
        let verdicts: Vec<&str> = rows.iter().map(|(_, _, v)| v.as_str()).collect();
        assert_eq!(
            verdicts,
            [
                "bound to EdDSA (no alg: its key type's)",
                "bound to EdDSA (no alg: its key type's)",
                "skipped: more than 2 keys in the set",
                "skipped: missing, empty or over-long kid",
            ]
        );
        assert_eq!(rows[3].0, "entry 3 (no kid)");
    }
}
