//! `verify`: the library's own validation of one token, check by check.
//!
//! The verdict is the [`Validator`](crate::Validator)'s, built by the
//! [`Builder`] as a server builds it and run once. Where it stopped is read
//! from its precise [`Error`]: the pipeline runs its checks in a fixed order
//! (`validate::validator`, `token::jws`, `token::claims`), so every check
//! before the one an error belongs to has passed, and none after it has run.
//! An error this file cannot place claims no check passed. The values shown
//! beside each check (`alg`, `iss`, `aud`, times) are the token's own,
//! decoded for people; they decide nothing.

use std::time::Duration;

use serde_json::Value;

use super::decode::{Decoded, Part, When, decode, describe_time, now_secs, show};
use super::{Failure, INVALID, Report, TROUBLE, VALID, VerifyArgs, line};
use crate::config::Builder;
use crate::error::{Error, log_safe};
use crate::token::claims::Authenticated;

/// The pipeline's checks, in the order it runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Stage {
    /// The token's length against the cap, before any decoding.
    Size,
    /// Three base64url segments; the header a JSON object.
    Format,
    /// No refused header parameter; `alg` allowed.
    Header,
    /// The claims: a JSON object with unique names.
    Payload,
    /// `iss` present and trusted (chooses the issuer, before any key).
    Issuer,
    /// The header's `typ` against the issuer's policy.
    Typ,
    /// `kid` present and in the issuer's key set.
    Key,
    /// The signature, with the key's own algorithm.
    Signature,
    /// `aud` names an accepted audience.
    Audience,
    /// `exp` and `nbf`, with the leeway.
    Lifetime,
    /// The other claims' types, required claims and permissions.
    Claims,
}

/// Every stage, in order.
pub(crate) const STAGES: [Stage; 11] = [
    Stage::Size,
    Stage::Format,
    Stage::Header,
    Stage::Payload,
    Stage::Issuer,
    Stage::Typ,
    Stage::Key,
    Stage::Signature,
    Stage::Audience,
    Stage::Lifetime,
    Stage::Claims,
];

impl Stage {
    fn name(self) -> &'static str {
        match self {
            Stage::Size => "size",
            Stage::Format => "format",
            Stage::Header => "header",
            Stage::Payload => "payload",
            Stage::Issuer => "issuer",
            Stage::Typ => "typ",
            Stage::Key => "key",
            Stage::Signature => "signature",
            Stage::Audience => "audience",
            Stage::Lifetime => "lifetime",
            Stage::Claims => "claims",
        }
    }
}

/// The `MalformedToken` reasons `token::jws` and `token::claims` give once
/// the header has passed: the payload's base64url and JSON. Any other is the
/// format's (the earlier stage: nothing is claimed to pass that did not).
const PAYLOAD_REASONS: [&str; 2] = [
    "payload is not base64url",
    "claims are not valid JSON with unique names",
];

/// The stage `error` stops the pipeline at; `None` for an error the token
/// pipeline does not give.
pub(crate) fn stage_of(error: &Error) -> Option<Stage> {
    Some(match error {
        Error::TokenTooLarge { .. } => Stage::Size,
        Error::MalformedToken(why) if PAYLOAD_REASONS.contains(why) => Stage::Payload,
        Error::MalformedToken(_) => Stage::Format,
        Error::UnsupportedHeader(_) | Error::DisallowedAlgorithm(_) => Stage::Header,
        Error::ClaimsNotObject => Stage::Payload,
        Error::IssuerMismatch => Stage::Issuer,
        Error::MissingClaim(name) | Error::InvalidClaim(name) => match *name {
            "iss" => Stage::Issuer,
            "aud" => Stage::Audience,
            "exp" | "nbf" => Stage::Lifetime,
            _ => Stage::Claims,
        },
        Error::WrongType(_) => Stage::Typ,
        Error::MissingKeyId
        | Error::UnknownKeyId
        | Error::KeysUnavailable { .. }
        | Error::KeyIssuerMismatch => Stage::Key,
        Error::AlgorithmMismatch { .. } | Error::InvalidSignature => Stage::Signature,
        Error::AudienceMismatch => Stage::Audience,
        Error::Expired | Error::NotYetValid => Stage::Lifetime,
        Error::InvalidPermissionClaim(_) | Error::NoPermissions | Error::PolicyNotAccepted => {
            Stage::Claims
        }
        _ => return None,
    })
}

/// What the lines are written from: the settings and the token as decoded.
struct Facts<'a> {
    args: &'a VerifyArgs,
    token_len: usize,
    max_token_bytes: usize,
    leeway_secs: u64,
    now: i64,
    decoded: Option<Decoded>,
}

impl Facts<'_> {
    fn header(&self, name: &str) -> Option<&Value> {
        self.decoded.as_ref().and_then(|d| d.header.get(name))
    }

    fn claim(&self, name: &str) -> Option<&Value> {
        self.decoded.as_ref().and_then(|d| d.claims.get(name))
    }

    /// A header parameter or claim for a line: shown, or `absent`.
    fn shown(value: Option<&Value>) -> String {
        value.map_or_else(|| "absent".into(), show)
    }

    fn time(&self, name: &str, what: When) -> String {
        match self.claim(name) {
            Some(value) => format!("{name} {}", describe_time(value, self.now, what)),
            None => format!("{name} absent"),
        }
    }

    fn accepted_audiences(&self) -> String {
        let quoted: Vec<String> = self
            .args
            .audience
            .iter()
            .map(|a| log_safe(a, 200))
            .collect();
        quoted.join(", ")
    }

    /// What a passed check found.
    fn passed(&self, stage: Stage, token: Option<&Authenticated>) -> String {
        match stage {
            Stage::Size => format!(
                "{} bytes, within the {}-byte cap",
                self.token_len, self.max_token_bytes
            ),
            Stage::Format => "three base64url segments; the header is a JSON object".into(),
            Stage::Header => format!(
                "alg {} allowed; no parameter the library refuses (crit, jku, jwk, x5u, x5c, zip, …)",
                Self::shown(self.header("alg"))
            ),
            Stage::Payload => "the claims are a JSON object with unique names".into(),
            Stage::Issuer => format!(
                "iss {} is the trusted issuer",
                Self::shown(self.claim("iss"))
            ),
            Stage::Typ => format!(
                "typ {} accepted ({})",
                Self::shown(self.header("typ")),
                self.args.typ.name()
            ),
            Stage::Key => format!(
                "kid {} found in the issuer's key set",
                Self::shown(self.header("kid"))
            ),
            Stage::Signature => format!(
                "verified with {}, the algorithm the key is bound to",
                Self::shown(self.header("alg"))
            ),
            Stage::Audience => format!(
                "aud {} includes an accepted audience ({})",
                Self::shown(self.claim("aud")),
                self.accepted_audiences()
            ),
            Stage::Lifetime => format!(
                "{}; {}; leeway {} s",
                self.time("exp", When::Expiry),
                self.time("nbf", When::Other),
                self.leeway_secs
            ),
            Stage::Claims => match token {
                Some(token) => format!(
                    "sub {}; scopes: {}; roles: {}",
                    token
                        .registered()
                        .sub
                        .as_deref()
                        .map_or_else(|| "absent".into(), |s| log_safe(s, 200)),
                    listed(token.scopes().iter()),
                    listed(token.roles().iter()),
                ),
                None => "claim types, required claims and permissions".into(),
            },
        }
    }

    /// Why a check failed: the library's precise reason and its code, with
    /// the token's value it was about.
    fn failed(&self, error: &Error) -> String {
        let about = match error {
            Error::IssuerMismatch => format!(
                "iss {}, trusted {}",
                Self::shown(self.claim("iss")),
                log_safe(&self.args.issuer, 200)
            ),
            Error::WrongType(_) => format!("accepted: {} (--typ)", self.args.typ.name()),
            Error::UnknownKeyId => format!(
                "kid {}; `bearer-guard keys` lists the key set",
                Self::shown(self.header("kid"))
            ),
            Error::AudienceMismatch => format!(
                "aud {}, accepted {}",
                Self::shown(self.claim("aud")),
                self.accepted_audiences()
            ),
            Error::Expired => format!(
                "{}; leeway {} s",
                self.time("exp", When::Expiry),
                self.leeway_secs
            ),
            Error::NotYetValid => format!(
                "{}; leeway {} s",
                self.time("nbf", When::Other),
                self.leeway_secs
            ),
            Error::KeysUnavailable { .. } => {
                "the token is not at fault; why the keys did not load is logged above".into()
            }
            _ => String::new(),
        };
        if about.is_empty() {
            format!("{error} [{}]", error.code())
        } else {
            format!("{error} [{}]: {about}", error.code())
        }
    }
}

fn listed<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<String> = names.map(|n| log_safe(n, 100)).collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(" ")
    }
}

/// Validates `token` as `args` configure, and reports each check.
pub(crate) async fn run(args: &VerifyArgs, token: &str) -> Result<Report, Failure> {
    let mut builder = Builder::default()
        .issuer(args.issuer.as_str())
        .typ(args.typ.policy())
        // One token, checked once: nothing to remember.
        .token_cache_bytes(0);
    for audience in &args.audience {
        builder = builder.audience(audience.as_str());
    }
    if let Some(uri) = &args.jwks_uri {
        builder = builder.jwks_uri(uri.as_str());
    }
    if let Some(secs) = args.leeway {
        builder = builder.leeway(Duration::from_secs(secs));
    }
    if args.insecure.allow_http {
        builder = builder.dangerously_allow_insecure_http();
    }
    let facts = Facts {
        args,
        token_len: token.len(),
        max_token_bytes: builder.max_token_bytes,
        leeway_secs: builder.leeway.as_secs(),
        now: now_secs(),
        decoded: decode(token)
            .ok()
            .filter(|d| matches!(d.header, Part::Json(_))),
    };
    let validator = builder.build_validator().map_err(|e| {
        Failure::Trouble(format!(
            "configuration refused: {}",
            super::config_error(&e)
        ))
    })?;
    let verdict = validator.validate(token).await;

    let mut out = String::new();
    line!(out, "issuer:   {}", log_safe(&args.issuer, 200));
    line!(out, "audience: {}", facts.accepted_audiences());
    match &args.jwks_uri {
        Some(uri) => line!(out, "keys:     {}", log_safe(uri, 200)),
        None => line!(out, "keys:     by discovery"),
    }
    line!(out);
    let status = match &verdict {
        Ok(token) => {
            for stage in STAGES {
                line!(
                    out,
                    "  ok    {:<10}{}",
                    stage.name(),
                    facts.passed(stage, Some(token))
                );
            }
            line!(out);
            line!(out, "VALID: bearer-guard accepts this token");
            VALID
        }
        Err(error) => match stage_of(error) {
            Some(stopped) => {
                for stage in STAGES {
                    if stage < stopped {
                        line!(
                            out,
                            "  ok    {:<10}{}",
                            stage.name(),
                            facts.passed(stage, None)
                        );
                    } else if stage == stopped {
                        line!(out, "  FAIL  {:<10}{}", stage.name(), facts.failed(error));
                    } else {
                        line!(out, "  -     {:<10}not checked", stage.name());
                    }
                }
                line!(out);
                verdict_line(&mut out, error)
            }
            None => {
                line!(out, "  FAIL  {}", facts.failed(error));
                line!(out);
                verdict_line(&mut out, error)
            }
        },
    };
    Ok(Report { out, status })
}

/// The last line for a refused token, and the exit status.
fn verdict_line(out: &mut String, error: &Error) -> u8 {
    match error {
        Error::KeysUnavailable { .. } => {
            line!(out, "UNDECIDED: {error} [{}]", error.code());
            TROUBLE
        }
        _ => {
            line!(out, "INVALID: {error} [{}]", error.code());
            INVALID
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each stage's errors, in the pipeline's order: the order `STAGES`
    /// lists, which the report relies on.
    #[test]
    fn errors_map_to_the_stage_the_pipeline_gives_them_in() {
        let cases: [(Error, Stage); 22] = [
            (Error::TokenTooLarge { len: 2, max: 1 }, Stage::Size),
            (Error::MalformedToken("not three segments"), Stage::Format),
            (
                Error::MalformedToken("header is not valid JSON"),
                Stage::Format,
            ),
            (Error::UnsupportedHeader("jku"), Stage::Header),
            (Error::DisallowedAlgorithm("none".into()), Stage::Header),
            (
                Error::MalformedToken("payload is not base64url"),
                Stage::Payload,
            ),
            (
                Error::MalformedToken("claims are not valid JSON with unique names"),
                Stage::Payload,
            ),
            (Error::ClaimsNotObject, Stage::Payload),
            (Error::MissingClaim("iss"), Stage::Issuer),
            (Error::IssuerMismatch, Stage::Issuer),
            (Error::WrongType("absent".into()), Stage::Typ),
            (Error::MissingKeyId, Stage::Key),
            (Error::UnknownKeyId, Stage::Key),
            (Error::KeyIssuerMismatch, Stage::Key),
            (Error::InvalidSignature, Stage::Signature),
            (Error::InvalidClaim("aud"), Stage::Audience),
            (Error::AudienceMismatch, Stage::Audience),
            (Error::MissingClaim("exp"), Stage::Lifetime),
            (Error::InvalidClaim("nbf"), Stage::Lifetime),
            (Error::Expired, Stage::Lifetime),
            (Error::InvalidClaim("iat"), Stage::Claims),
            (Error::NoPermissions, Stage::Claims),
        ];
        for (error, stage) in &cases {
            assert_eq!(stage_of(error), Some(*stage), "{error:?}");
        }
        assert!(STAGES.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(stage_of(&Error::MissingToken), None);
        assert_eq!(stage_of(&Error::DpopKeyMismatch), None);
    }

    /// The reasons read as the payload's are the texts the parsers give.
    #[test]
    fn payload_reasons_are_the_parsers_own() {
        use crate::token::algorithm::DEFAULT_ALGORITHMS;
        use crate::token::claims::{Unverified, payload_text};
        // {"alg":"RS256"} . <not base64url> . sig
        let bad_base64 =
            crate::token::jws::parse("eyJhbGciOiJSUzI1NiJ9.*.c2ln", &DEFAULT_ALGORITHMS);
        assert_eq!(
            bad_base64.err(),
            Some(Error::MalformedToken(PAYLOAD_REASONS[0]))
        );
        let duplicate = payload_text(br#"{"a":1,"a":2}"#.to_vec())
            .and_then(|text| Unverified::parse(&text, None).map(|_| ()));
        assert_eq!(duplicate, Err(Error::MalformedToken(PAYLOAD_REASONS[1])));
    }

    fn facts(args: &VerifyArgs) -> Facts<'_> {
        Facts {
            args,
            token_len: 10,
            max_token_bytes: 16_384,
            leeway_secs: 60,
            now: 1_000_000,
            // {"alg":"RS256","kid":"k1"} . {"iss":"https://i.example","aud":["x"],"exp":1003600}
            decoded: decode(
                "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.\
                 eyJpc3MiOiJodHRwczovL2kuZXhhbXBsZSIsImF1ZCI6WyJ4Il0sImV4cCI6MTAwMzYwMH0.c2ln",
            )
            .ok(),
        }
    }

    fn args() -> VerifyArgs {
        VerifyArgs {
            issuer: "https://trusted.example".into(),
            audience: vec!["api://a".into()],
            jwks_uri: None,
            typ: super::super::Typ::AtJwt,
            leeway: None,
            insecure: super::super::Insecure { allow_http: false },
            token: "-".into(),
        }
    }

    #[test]
    fn lines_name_the_tokens_values_beside_the_reason() {
        let args = args();
        let facts = facts(&args);
        assert_eq!(
            facts.failed(&Error::AudienceMismatch),
            "audience is not accepted [audience_mismatch]: aud [\"x\"], accepted \"api://a\""
        );
        assert_eq!(
            facts.failed(&Error::IssuerMismatch),
            "issuer is not trusted [issuer_mismatch]: iss \"https://i.example\", \
             trusted \"https://trusted.example\""
        );
        assert_eq!(
            facts.passed(Stage::Lifetime, None),
            "exp 1970-01-12T14:46:40Z (in 1h); nbf absent; leeway 60 s"
        );
        assert_eq!(
            facts.failed(&Error::InvalidSignature),
            "signature does not verify [invalid_signature]"
        );
        assert_eq!(
            facts.passed(Stage::Key, None),
            "kid \"k1\" found in the issuer's key set"
        );
    }
}
