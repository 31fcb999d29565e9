//! The command-line tool `bearer-guard` (issue 17, point 7), run as the
//! built binary against the local test issuer on loopback:
//!
//! - `inspect` prints the header and claims under the UNVERIFIED banner, with
//!   human times, from the command line or standard input (`Bearer ` prefix
//!   and newline accepted), and causes no traffic at all;
//! - `verify` runs the library's validation: a good token lists every check
//!   and exits 0; a wrong audience, an expired token, a bad signature and an
//!   untrusted issuer each exit 1 naming the exact reason at the check it
//!   stopped at, the checks before it passed and those after it not run; an
//!   issuer whose keys cannot be fetched exits 2 with the library's own
//!   warning saying why;
//! - `keys` lists the test issuer's keys with the algorithm each is bound to,
//!   by discovery or from the JWKS URL, and a key set with unusable keys (RSA
//!   1024, an encryption key, a symmetric key, a duplicated `kid`) with the
//!   reason each is skipped; no usable key exits 1, a URL that is no key set 2.

use std::process::Stdio;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bearer_guard::testing::{KeyKind, TestIssuer};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt as _;
use tokio::process::Command;

use crate::support::{serve, start};

/// Only there so that a hung process cannot hang the suite; not a
/// performance assertion (each run takes milliseconds).
const DEADLINE: Duration = Duration::from_secs(120);

/// What one run of the binary gave.
#[derive(Debug)]
struct Run {
    status: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    /// The line for `check` in a `verify` report.
    fn check(&self, check: &str) -> &str {
        self.stdout
            .lines()
            .find(|line| line.get(8..).is_some_and(|l| l.starts_with(check)))
            .unwrap_or_else(|| panic!("no line for {check}:\n{}", self.stdout))
    }
}

/// Runs `bearer-guard ARGS`, with `stdin` on its standard input.
async fn bearer_guard(args: &[&str], stdin: Option<&str>) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bearer-guard"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn bearer-guard");
    let mut pipe = child.stdin.take().expect("stdin");
    if let Some(input) = stdin {
        pipe.write_all(input.as_bytes()).await.expect("write stdin");
    }
    drop(pipe);
    let output = tokio::time::timeout(DEADLINE, child.wait_with_output())
        .await
        .expect("bearer-guard finished")
        .expect("bearer-guard ran");
    Run {
        status: output.status.code().expect("exited"),
        stdout: String::from_utf8(output.stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("UTF-8 stderr"),
    }
}

/// `verify` against `issuer` with its default audience, the token on stdin.
async fn verify(issuer: &TestIssuer, token: &str) -> Run {
    let args = [
        "verify",
        "--issuer",
        issuer.issuer(),
        "--audience",
        TestIssuer::AUDIENCE,
        "-",
    ];
    bearer_guard(&args, Some(token)).await
}

const BANNER: &str = "UNVERIFIED: decoded only. Neither the signature nor the issuer, audience \
                      or times are checked: use `bearer-guard verify`.";

#[tokio::test]
async fn inspect_prints_header_and_claims_unverified_and_sends_nothing() {
    let issuer = start().await;
    let token = issuer
        .token()
        .scope("notes.read")
        .claim("auth_time", 1_700_000_000)
        .sign();
    for run in [
        bearer_guard(&["inspect", &token], None).await,
        bearer_guard(&["inspect", "-"], Some(&format!("Bearer {token}\n"))).await,
    ] {
        assert_eq!((run.status, run.stderr.as_str()), (0, ""), "{run:?}");
        let lines = run.lines();
        assert_eq!(lines[0], BANNER);
        assert!(lines.contains(&"header (unverified):"), "{run:?}");
        assert!(lines.contains(&"  \"alg\": \"RS256\","), "{run:?}");
        assert!(lines.contains(&"  \"kid\": \"rs256-1\","), "{run:?}");
        assert!(lines.contains(&"  \"typ\": \"at+jwt\""), "{run:?}");
        assert!(lines.contains(&"claims (unverified):"), "{run:?}");
        let iss = format!("  \"iss\": \"{}\",", issuer.issuer());
        assert!(lines.contains(&iss.as_str()), "{run:?}");
        assert!(lines.contains(&"  \"scp\": \"notes.read\","), "{run:?}");
        assert!(lines.contains(&"  \"sub\": \"test-user\""), "{run:?}");
        // Minted to expire in an hour: a second or two may have passed.
        let exp = lines.iter().find(|l| l.starts_with("  exp ")).expect("exp");
        assert!(
            exp.contains("Z (in 59m") || exp.ends_with("Z (in 1h)"),
            "{exp}"
        );
        let iat = lines.iter().find(|l| l.starts_with("  iat ")).expect("iat");
        assert!(iat.ends_with(" ago)") || iat.ends_with("(now)"), "{iat}");
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("  auth_time  2023-11-14T22:13:20Z (")
                    && l.ends_with(" ago)")),
            "{run:?}"
        );
        assert_eq!(
            lines[lines.len() - 2..],
            [
                "signature: 342 base64url characters, not checked",
                "offline checks (no key): the format, the header (alg RS256) and the claims' \
                 JSON pass",
            ]
        );
    }
    assert_eq!(
        (issuer.discovery_requests(), issuer.jwks_requests()),
        (0, 0)
    );
}

#[tokio::test]
async fn inspect_refuses_what_is_no_token() {
    let run = bearer_guard(&["inspect", "-"], Some("opaque-token\n")).await;
    assert_eq!(run.status, 1, "{run:?}");
    assert_eq!(
        run.lines(),
        [
            BANNER,
            "not decoded: no dots: not a JWT but an opaque token, which only its issuer can \
             read (by introspection)"
        ]
    );
    // Standard input is read up to the token cap (16 KiB) and a little more.
    let run = bearer_guard(&["inspect", "-"], Some(&"a".repeat(64 * 1024))).await;
    assert_eq!(run.status, 1, "{run:?}");
    assert_eq!(
        run.stderr,
        "bearer-guard: standard input holds more than 17408 bytes: longer than any token \
         accepted (the cap is 16384 bytes)\n"
    );
    let run = bearer_guard(&["inspect"], None).await;
    assert_eq!(run.status, 2, "{run:?}");
    assert!(run.stderr.contains("<TOKEN>"), "{run:?}");
}

/// The checks of a `verify` report, in order.
const CHECKS: [&str; 11] = [
    "size",
    "format",
    "header",
    "payload",
    "issuer",
    "typ",
    "key",
    "signature",
    "audience",
    "lifetime",
    "claims",
];

/// Asserts the report passed every check before `failed`, failed it with
/// `reason`, and ran none after it.
fn assert_stopped_at(run: &Run, failed: &str, reason: &str) {
    let at = CHECKS.iter().position(|c| *c == failed).expect("a check");
    for (i, check) in CHECKS.iter().enumerate() {
        let line = run.check(check);
        let expected = match i.cmp(&at) {
            std::cmp::Ordering::Less => "  ok    ",
            std::cmp::Ordering::Equal => "  FAIL  ",
            std::cmp::Ordering::Greater => "  -     ",
        };
        assert!(
            line.starts_with(expected),
            "{check}: {line}\n{}",
            run.stdout
        );
    }
    let line = run.check(failed);
    assert!(
        line.get(18..).is_some_and(|l| l.starts_with(reason)),
        "{line}\n{}",
        run.stdout
    );
    assert_eq!(run.check("claims").get(8..), Some("claims    not checked"));
}

#[tokio::test]
async fn verify_lists_every_check_a_good_token_passes() {
    let issuer = start().await;
    let token = issuer.token().scope("notes.read notes.write").sign();
    let run = verify(&issuer, &format!("bearer {token}")).await;
    assert_eq!((run.status, run.stderr.as_str()), (0, ""), "{run:?}");
    let lines = run.lines();
    let iss = issuer.issuer();
    assert_eq!(
        lines[..4],
        [
            format!("issuer:   \"{iss}\"").as_str(),
            "audience: \"api://bearer-guard-test\"",
            "keys:     by discovery",
            "",
        ]
    );
    let checks: Vec<&str> = lines[4..15].iter().map(|l| &l[..18]).collect();
    assert_eq!(
        checks,
        CHECKS.map(|c| format!("  ok    {c:<10}")),
        "{}",
        run.stdout
    );
    assert_eq!(
        lines[4..15]
            .iter()
            .filter(|l| !l.contains("lifetime"))
            .copied()
            .collect::<Vec<_>>(),
        [
            format!(
                "  ok    size      {} bytes, within the 16384-byte cap",
                token.len()
            )
            .as_str(),
            "  ok    format    three base64url segments; the header is a JSON object",
            "  ok    header    alg \"RS256\" allowed; no parameter the library refuses (crit, jku, \
             jwk, x5u, x5c, zip, …)",
            "  ok    payload   the claims are a JSON object with unique names",
            format!("  ok    issuer    iss \"{iss}\" is the trusted issuer").as_str(),
            "  ok    typ       typ \"at+jwt\" accepted (at+jwt)",
            "  ok    key       kid \"rs256-1\" found in the issuer's key set",
            "  ok    signature verified with \"RS256\", the algorithm the key is bound to",
            "  ok    audience  aud \"api://bearer-guard-test\" includes an accepted audience \
             (\"api://bearer-guard-test\")",
            "  ok    claims    sub \"test-user\"; scopes: \"notes.read\" \"notes.write\"; roles: none",
        ]
    );
    let lifetime = run.check("lifetime");
    assert!(
        lifetime.starts_with("  ok    lifetime  exp 20")
            && lifetime.ends_with("; nbf absent; leeway 60 s")
            && (lifetime.contains("Z (in 59m") || lifetime.contains("Z (in 1h)")),
        "{lifetime}"
    );
    assert_eq!(lines[15..], ["", "VALID: bearer-guard accepts this token"]);
    assert_eq!(
        (issuer.discovery_requests(), issuer.jwks_requests()),
        (1, 1)
    );
}

#[tokio::test]
async fn verify_names_the_exact_reason_at_the_check_it_stopped_at() {
    let issuer = start().await;

    let run = verify(&issuer, &issuer.token().audience("api://other").sign()).await;
    assert_eq!(run.status, 1, "{run:?}");
    assert_stopped_at(
        &run,
        "audience",
        "audience is not accepted [audience_mismatch]: aud \"api://other\", accepted \
         \"api://bearer-guard-test\"",
    );
    assert_eq!(
        run.lines().last(),
        Some(&"INVALID: audience is not accepted [audience_mismatch]")
    );

    let run = verify(&issuer, &issuer.token().expires_in(-3 * 3600).sign()).await;
    assert_eq!(run.status, 1, "{run:?}");
    assert_stopped_at(&run, "lifetime", "token expired [expired]: exp 20");
    let lifetime = run.check("lifetime");
    assert!(
        lifetime.contains("Z (expired 3h") && lifetime.ends_with(" ago); leeway 60 s"),
        "{lifetime}"
    );
    assert_eq!(
        run.lines().last(),
        Some(&"INVALID: token expired [expired]")
    );

    // Signed by another key of the issuer, under the first key's kid.
    let first = issuer.current_kid();
    let other = issuer.add_key(KeyKind::Rs256);
    let forged = issuer.token().signed_by(&other).header_kid(&first).sign();
    let run = verify(&issuer, &forged).await;
    assert_eq!(run.status, 1, "{run:?}");
    assert_stopped_at(
        &run,
        "signature",
        "signature does not verify [invalid_signature]",
    );
    assert_eq!(
        run.check("key"),
        "  ok    key       kid \"rs256-1\" found in the issuer's key set"
    );

    let run = verify(&issuer, &issuer.token().header_kid("nobody").sign()).await;
    assert_eq!(run.status, 1, "{run:?}");
    assert_stopped_at(
        &run,
        "key",
        "no key with the token's kid in the issuer's key set [unknown_kid]: kid \"nobody\"; \
         `bearer-guard keys` lists the key set",
    );

    let run = verify(&issuer, &issuer.token().typ(Some("JWT")).sign()).await;
    assert_eq!(run.status, 1, "{run:?}");
    assert_stopped_at(
        &run,
        "typ",
        "token type (typ) not accepted: \"JWT\" [wrong_type]: accepted: at+jwt (--typ)",
    );

    // A stranger's token: refused on its iss, before any key is fetched.
    let stranger = start().await;
    let token = stranger.token().sign();
    let run = verify(&issuer, &token).await;
    assert_eq!(run.status, 1, "{run:?}");
    assert_stopped_at(
        &run,
        "issuer",
        &format!(
            "issuer is not trusted [issuer_mismatch]: iss \"{}\", trusted \"{}\"",
            stranger.issuer(),
            issuer.issuer()
        ),
    );
    assert_eq!(
        (stranger.discovery_requests(), stranger.jwks_requests()),
        (0, 0)
    );

    let run = verify(&issuer, "eyJhbGciOiJub25lIn0.e30.c2ln").await;
    assert_eq!(run.status, 1, "{run:?}");
    assert_stopped_at(
        &run,
        "header",
        "algorithm none is not allowed [disallowed_algorithm]",
    );
    assert_eq!(
        run.check("format").get(8..),
        Some("format    three base64url segments; the header is a JSON object")
    );
}

#[tokio::test]
async fn verify_with_keys_that_cannot_load_exits_2_and_says_why() {
    // Nothing listens on the discard port.
    let args = [
        "verify",
        "--issuer",
        "http://127.0.0.1:9",
        "--audience",
        "api://a",
        "-",
    ];
    let issuer = start().await;
    let token = issuer.token().claim("iss", "http://127.0.0.1:9").sign();
    let run = bearer_guard(&args, Some(&token)).await;
    assert_eq!(run.status, 2, "{run:?}");
    assert!(
        run.check("key").starts_with(
            "  FAIL  key       the issuer's keys are unavailable; next fetch attempt in "
        ),
        "{run:?}"
    );
    assert!(
        run.stderr.contains("bearer-guard: key set refresh failed")
            && run
                .stderr
                .contains("request to http://127.0.0.1:9/.well-known/openid-configuration failed"),
        "{}",
        run.stderr
    );
    assert!(
        run.lines()
            .last()
            .is_some_and(|l| l.starts_with("UNDECIDED: the issuer's keys are unavailable")),
        "{run:?}"
    );

    // A configuration the builder refuses: plain http to another host.
    let mut args = args;
    args[2] = "http://issuer.example";
    let run = bearer_guard(&args, Some(&token)).await;
    assert_eq!(run.status, 2, "{run:?}");
    assert!(
        run.stderr.starts_with(
            "bearer-guard: configuration refused: issuer uses plain http on a non-loopback host"
        ),
        "{run:?}"
    );
    assert_eq!(run.stdout, "");
}

#[tokio::test]
async fn keys_lists_each_key_with_its_algorithm() {
    let issuer = start().await;
    issuer.add_key(KeyKind::Es256);
    issuer.add_key(KeyKind::EdDsa);
    let discovery = format!("{}/.well-known/openid-configuration", issuer.issuer());
    let run = bearer_guard(&["keys", &discovery], None).await;
    assert_eq!((run.status, run.stderr.as_str()), (0, ""), "{run:?}");
    assert_eq!(
        run.lines(),
        [
            format!("discovery: {discovery}").as_str(),
            format!("issuer:    \"{}\"", issuer.issuer()).as_str(),
            format!("key set:   {}", issuer.jwks_uri()).as_str(),
            "",
            "  kid \"rs256-1\"  RSA 2048     bound to RS256 (its alg)",
            "  kid \"es256-2\"  EC P-256     bound to ES256 (its alg)",
            "  kid \"eddsa-3\"  OKP Ed25519  bound to EdDSA (its alg)",
            "",
            "3 usable keys, 0 skipped",
        ]
    );
    assert_eq!(
        (issuer.discovery_requests(), issuer.jwks_requests()),
        (1, 1)
    );

    // The key set's own URL: no discovery.
    let run = bearer_guard(&["keys", &issuer.jwks_uri()], None).await;
    assert_eq!(run.status, 0, "{run:?}");
    assert_eq!(run.lines()[0], format!("key set:   {}", issuer.jwks_uri()));
    assert_eq!(
        (issuer.discovery_requests(), issuer.jwks_requests()),
        (1, 2)
    );

    // The issuer's URL is no key set: the error says where discovery is.
    let run = bearer_guard(&["keys", issuer.issuer()], None).await;
    assert_eq!(run.status, 2, "{run:?}");
    assert_eq!(
        run.stderr,
        format!(
            "bearer-guard: {0}/ answered HTTP 404 (for an issuer, give its discovery document: \
             {0}/.well-known/openid-configuration)\n",
            issuer.issuer()
        )
    );
}

/// A JWKS served on loopback as is.
async fn serve_jwks(body: Value) -> String {
    let text = body.to_string();
    let base = serve(Router::new().route("/jwks", get(move || async move { text }))).await;
    format!("{base}/jwks")
}

#[tokio::test]
async fn keys_shows_why_each_unusable_key_is_skipped() {
    let issuer = start().await;
    let published: Value = serde_json::from_str(&issuer.jwks_document()).expect("JSON");
    let good = published["keys"][0].clone();
    let mut weak = good.clone();
    let mut n = vec![0xffu8; 128];
    n[0] = 0x80;
    weak["n"] = json!(URL_SAFE_NO_PAD.encode(n));
    weak["kid"] = json!("weak");
    let mut enc = good.clone();
    enc["use"] = json!("enc");
    enc["kid"] = json!("enc");
    let mut twin = good.clone();
    twin["kid"] = json!("twin");
    let mut no_alg = good.clone();
    no_alg.as_object_mut().expect("object").remove("alg");
    no_alg["kid"] = json!("no-alg");
    let url = serve_jwks(json!({"keys": [
        good, weak, enc, twin.clone(), twin, no_alg,
        {"kty": "oct", "kid": "shared-secret", "k": "c2VjcmV0"},
        {"kty": "EC", "crv": "P-256", "kid": "mismatch", "alg": "RS256",
         "x": URL_SAFE_NO_PAD.encode([1u8; 32]), "y": URL_SAFE_NO_PAD.encode([2u8; 32])},
    ]}))
    .await;
    let run = bearer_guard(&["keys", &url], None).await;
    assert_eq!((run.status, run.stderr.as_str()), (0, ""), "{run:?}");
    assert_eq!(
        run.lines(),
        [
            format!("key set:   {url}").as_str(),
            "",
            "  kid \"rs256-1\"        RSA 2048  bound to RS256 (its alg)",
            "  kid \"weak\"           RSA 1024  skipped: RSA modulus of 1024 bits is outside 2048..=8192",
            "  kid \"enc\"            RSA 2048  skipped: use is not \"sig\"",
            "  kid \"twin\"           RSA 2048  skipped: duplicate kid",
            "  kid \"twin\"           RSA 2048  skipped: duplicate kid",
            "  kid \"no-alg\"         RSA 2048  bound to RS256 (no alg: its key type's)",
            "  kid \"shared-secret\"  oct       skipped: symmetric key",
            "  kid \"mismatch\"       EC P-256  skipped: alg RS256 does not fit the key type",
            "",
            "2 usable keys, 6 skipped",
        ]
    );

    // No usable key at all: exit status 1.
    let url = serve_jwks(json!({"keys": [{"kty": "oct", "kid": "k", "k": "c2VjcmV0"}]})).await;
    let run = bearer_guard(&["keys", &url], None).await;
    assert_eq!(run.status, 1, "{run:?}");
    assert_eq!(
        run.lines()[2..],
        [
            "  kid \"k\"  oct  skipped: symmetric key",
            "",
            "0 usable keys, 1 skipped",
            "no usable key: every token of this issuer would be refused",
        ]
    );
}
