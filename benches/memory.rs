//! Heap bytes per cached token and per key, measured with dhat's allocator.
//! See BENCHMARKS.md.
//!
//! ```text
//! cargo bench --bench memory
//! ```
//!
//! - Per cached token: N distinct tokens, then N more, through a validator with
//!   the token cache on and one with it off; the heap still held after each
//!   batch, minus the same with the cache off, divided by the tokens. The
//!   slope between the two batches cancels fixed costs (the cache's own
//!   tables); the average over all 2N includes them. The row `Entra+T` also
//!   reads each token's claims as `EntraClaims` (`shared_claims`, what
//!   `Claims<EntraClaims>` does), so that its cached entries keep the value.
//! - Per key: a key set of K, then 2K keys of one kind, fetched and loaded by
//!   a validator (`warm_up`): the slope per key. Both documents are padded to
//!   the same length, so the HTTP client's buffers cancel. (Key parsing alone
//!   is no longer measured: the key module is private since the public API
//!   was sealed, and what a user pays is the key inside a validator.)
//!
//! moka applies some bookkeeping of inserts later (on later reads and
//! writes): before each reading the bench waits and validates a cached token
//! a few times, through the public API, until the heap stops changing.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bearer_guard::testing::{KeyKind, TestIssuer};
use bearer_guard::{Algorithm, Validator};
use support::Size;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// Tokens per batch (env `MEMORY_TOKENS`).
fn tokens_per_batch() -> usize {
    std::env::var("MEMORY_TOKENS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
}

/// Keys in the smaller set.
const KEYS: usize = 16;

/// Heap bytes held now (as requested from the allocator, without its own
/// per-block overhead).
fn heap() -> i64 {
    i64::try_from(dhat::HeapStats::get().curr_bytes).expect("fits")
}

/// Heap blocks held now.
fn blocks() -> i64 {
    i64::try_from(dhat::HeapStats::get().curr_blocks).expect("fits")
}

fn main() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        per_token().await;
        per_key().await;
    });
}

/// Lets moka catch up: a few hits, spaced by more than its housekeeping
/// interval, until the heap stays the same.
async fn settle(validator: &Validator, token: &str) -> i64 {
    let mut last = heap();
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        for _ in 0..64 {
            validator.validate(token).await.expect("valid");
        }
        let now = heap();
        if now == last {
            break;
        }
        last = now;
    }
    last
}

/// Heap bytes held after the first and after both batches, from a baseline
/// taken once the validator is warm, and blocks held after both.
/// With `typed`, each token's claims are also read as `EntraClaims` through
/// `shared_claims`, as a handler taking `Claims<EntraClaims>` does: with the
/// cache on, the entry keeps that value.
async fn held_after_batches(
    issuer: &TestIssuer,
    cache: bool,
    tokens: &[String],
    typed: bool,
) -> (i64, i64, i64) {
    let validator = support::validator(issuer, cache);
    let (first, second) = tokens.split_at(tokens.len() / 2);
    let probe = first.first().expect("tokens");
    support::warm(&validator, probe).await;
    let base = settle(&validator, probe).await;
    let base_blocks = blocks();
    for token in first {
        read(&validator, token, typed).await;
    }
    let after_first = settle(&validator, probe).await - base;
    for token in second {
        read(&validator, token, typed).await;
    }
    let after_both = settle(&validator, probe).await - base;
    (after_first, after_both, blocks() - base_blocks)
}

/// Validates `token`; with `typed`, reads its claims as `EntraClaims` too.
async fn read(validator: &Validator, token: &str, typed: bool) {
    let token = validator.validate(token).await.expect("valid");
    if typed {
        let claims = token.shared_claims::<support::EntraClaims>();
        assert!(claims.is_ok(), "the claims fit EntraClaims");
    }
}

async fn per_token() {
    let issuer = TestIssuer::start().await.expect("issuer");
    // EdDSA only to mint quickly: an entry holds the claims, never the
    // signature, and shares the key.
    let kid = issuer.add_key(KeyKind::EdDsa);
    let n = tokens_per_batch();
    println!("bytes per cached token ({n} + {n} distinct tokens; token cache on minus off;");
    println!("+T: each token's claims also read as Claims<EntraClaims> through shared_claims):");
    println!(
        "{:<10} {:>12} {:>14} {:>14} {:>15} {:>14}",
        "size", "claims bytes", "slope B/entry", "mean B/entry", "blocks/entry", "weight (≥)"
    );
    for (size, typed) in [
        (Size::Small, false),
        (Size::Entra, false),
        (Size::Entra, true),
        (Size::ManyScopes, false),
    ] {
        let tokens: Vec<String> = (0..2 * n)
            .map(|i| support::token(&issuer, &kid, size, i))
            .collect();
        let claims_len = claims_bytes(&tokens[0]);
        let token_len = i64::try_from(tokens[0].len()).expect("fits");
        let (on_1, on_2, on_blocks) = held_after_batches(&issuer, true, &tokens, typed).await;
        let (off_1, off_2, off_blocks) = held_after_batches(&issuer, false, &tokens, typed).await;
        let n = i64::try_from(n).expect("fits");
        let slope = ((on_2 - off_2) - (on_1 - off_1)) / n;
        let mean = (on_2 - off_2) / (2 * n);
        let blocks = (on_blocks - off_blocks) as f64 / (2 * n) as f64;
        // About what src/validate/token_cache.rs charges an entry against the
        // byte budget: the claims text, the strings copied out of it (each
        // scope a `String` of 24 bytes in a list, plus its text), the token
        // itself (the key) and `ENTRY_OVERHEAD_BYTES` = 1024; with `typed`,
        // what src/token/typed.rs charges the kept value (the claims text
        // again, 48 bytes per value it can hold, the value itself). A lower
        // estimate: the issuer, `sub`, `aud` and `jti` copies come on top.
        let scopes = match size {
            Size::ManyScopes => support::MANY_SCOPES,
            _ => 2,
        };
        let scope_bytes = i64::try_from(scopes * (24 + 4)).expect("fits");
        let mut weight = claims_len + scope_bytes + token_len + 1024;
        if typed {
            let claims = claims_text(&tokens[0]);
            let values = claims.bytes().filter(|b| b",[{".contains(b)).count() + 1;
            let value = std::mem::size_of::<support::EntraClaims>() + 16;
            weight += i64::try_from(claims.len() + 48 * values + value).expect("fits");
        }
        let label = format!("{size:?}{}", if typed { "+T" } else { "" });
        println!("{label:<10} {claims_len:>12} {slope:>14} {mean:>14} {blocks:>15.1} {weight:>14}");
        println!("       (held: cache on {on_1} / {on_2} B, cache off {off_1} / {off_2} B)");
    }
}

/// The length of a token's claims set as JSON text (what the cache keeps).
fn claims_bytes(token: &str) -> i64 {
    i64::try_from(claims_text(token).len()).expect("fits")
}

/// A token's claims set as JSON text.
fn claims_text(token: &str) -> String {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).expect("compact JWS");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    String::from_utf8(bytes).expect("UTF-8")
}

async fn per_key() {
    println!(
        "\nbytes per key (sets of {KEYS} and {} keys, slope per key):",
        2 * KEYS
    );
    println!("{:<8} {:>24}", "kind", "in a validator (B/key)");
    // Serves the key sets: each padded to the same length, so that the HTTP
    // client's buffers are the same for both sizes.
    let document = Arc::new(Mutex::new(String::new()));
    let served = Arc::clone(&document);
    let app = axum::Router::new().route(
        "/jwks",
        axum::routing::get(move || {
            let body = served.lock().expect("lock").clone();
            async move { body }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let jwks_uri = format!("http://{}/jwks", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    // Kept until the process ends, so that nothing is freed while measuring.
    let mut kept = Vec::new();
    let mut issuers = Vec::new();
    // One validator first, for every lazy initialisation.
    *document.lock().expect("lock") = key_set(KeyKind::EdDsa, 1).await.0;
    kept.push(loaded_validator(&jwks_uri).await.0);

    for kind in [KeyKind::Rs256, KeyKind::Es256, KeyKind::EdDsa] {
        let (small, issuer_small) = key_set(kind, KEYS).await;
        let (large, issuer_large) = key_set(kind, 2 * KEYS).await;
        issuers.push((issuer_small, issuer_large));
        let pad = large.len() + 64;
        let mut in_validator = Vec::new();
        for set in [&small, &large] {
            let padded = format!(
                "{}, \"x-padding\": \"{}\"}}",
                set.trim_end_matches('}'),
                "p".repeat(pad - set.len())
            );
            *document.lock().expect("lock") = padded;
            let (validator, held) = loaded_validator(&jwks_uri).await;
            in_validator.push(held);
            kept.push(validator);
        }
        let k = i64::try_from(KEYS).expect("fits");
        let name = match kind.algorithm() {
            Algorithm::RS256 => "RSA-2048",
            Algorithm::ES256 => "P-256",
            _ => "Ed25519",
        };
        println!("{name:<8} {:>24}", (in_validator[1] - in_validator[0]) / k);
    }
}

/// A JWKS of `count` keys of `kind` and nothing else (the test issuer's own
/// first key is left out). The issuer is returned: dropped here, it would free
/// memory during a later measurement.
async fn key_set(kind: KeyKind, count: usize) -> (String, TestIssuer) {
    let issuer = TestIssuer::start().await.expect("issuer");
    let first = issuer.current_kid();
    for _ in 0..count {
        issuer.add_key(kind);
    }
    let mut set: serde_json::Value = serde_json::from_str(&issuer.jwks_document()).expect("JWKS");
    let keys = set["keys"].as_array_mut().expect("keys");
    keys.retain(|k| k["kid"] != first.as_str());
    assert_eq!(keys.len(), count);
    (set.to_string(), issuer)
}

/// A validator that fetched the key set at `jwks_uri`, and the heap it holds.
async fn loaded_validator(jwks_uri: &str) -> (Validator, i64) {
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = heap();
    let validator = bearer_guard::BearerAuthLayer::builder()
        .issuer("http://127.0.0.1:9/memory-bench")
        .audience("api://memory-bench")
        .jwks_uri(jwks_uri)
        .build_validator()
        .expect("valid configuration");
    assert!(validator.warm_up().await, "key set loads");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let held = heap() - before;
    (validator, held)
}
