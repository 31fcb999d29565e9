//! The command-line tool `bearer-guard` (feature `cli`): the binary
//! `src/bin/bearer-guard.rs` calls [`main`]. Not a stable API.
//!
//! - `inspect`: decodes a token and prints its header and claims, marked
//!   UNVERIFIED, with its times in human form. Nothing is verified or
//!   fetched.
//! - `verify`: runs the library's own [`Validator`](crate::Validator), built
//!   by the [`Builder`] as a server builds it, and prints each check passed
//!   or the exact reason it stopped.
//! - `keys`: fetches a discovery document or a key set with the library's
//!   fetcher and binds each key as the library does: its algorithm, or why
//!   it is skipped.
//!
//! The token is never sent anywhere: `inspect` makes no request at all, and
//! `verify` and `keys` fetch only discovery documents and key sets.
//!
//! Exit status: [`VALID`] (0) for a valid token, a decoded token or a key set
//! with a usable key; [`INVALID`] (1) for a token refused (or not decodable)
//! or a key set with no usable key; [`TROUBLE`] (2) for a usage error, a
//! configuration the builder refuses, or keys that cannot be fetched.

mod decode;
mod inspect;
mod keys;
mod verify;

use std::io::{Read, Write};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::Builder;
use crate::issuer::typ::TypPolicy;

/// Exit status: the token is valid (`verify`), decoded (`inspect`), or the
/// key set has a usable key (`keys`).
pub const VALID: u8 = 0;
/// Exit status: the token is refused or cannot be decoded, or the key set
/// has no usable key.
pub const INVALID: u8 = 1;
/// Exit status: a usage error, a configuration the builder refuses, or a
/// discovery document or key set that cannot be fetched.
pub const TROUBLE: u8 = 2;

/// Room for a `Bearer ` prefix and surrounding whitespace on standard input,
/// beyond the token's own cap.
const INPUT_SLACK: usize = 1024;

const AFTER_HELP: &str = "\
Exit status: 0 valid token, decoded token, or a key set with a usable key; \
1 token refused or not decodable, or no usable key; 2 usage error, refused \
configuration, or discovery document or key set that cannot be fetched.

The token is never sent anywhere. Prefer `-` (standard input) to the token on \
the command line, where the shell history and the process list keep it.";

/// Look at, validate and troubleshoot OAuth 2.0 bearer tokens (JWT access
/// tokens) with bearer-guard's own parser and validator.
#[derive(Debug, Parser)]
#[command(name = "bearer-guard", version, after_help = AFTER_HELP)]
struct Cli {
    /// Also show the library's log lines: -v informational, -vv debug
    /// (warnings are always shown), on standard error.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print a token's header and claims, UNVERIFIED: no key, no network.
    Inspect {
        /// The token (a `Bearer ` prefix is accepted), or `-` to read it
        /// from standard input.
        token: String,
    },
    /// Validate a token as a server does, and print each check.
    Verify(VerifyArgs),
    /// List the keys of a key set (a JWKS URL, or an issuer's
    /// `/.well-known/openid-configuration`) with the algorithm each is bound
    /// to, or why it is skipped.
    Keys {
        /// A JWKS URL, or a discovery document URL ending in
        /// `/.well-known/openid-configuration` (whose issuer is the URL
        /// before it).
        url: String,
        #[command(flatten)]
        insecure: Insecure,
    },
}

/// The opt-in to plain `http` beyond loopback (always allowed there).
#[derive(Debug, Clone, Copy, Args)]
struct Insecure {
    /// Allow plain `http://` URLs to hosts that are not loopback (as the
    /// builder's `dangerously_allow_insecure_http()`): anyone on the network
    /// path can then substitute keys.
    #[arg(long = "dangerously-allow-insecure-http")]
    allow_http: bool,
}

/// The settings of `verify`: those of [`Builder`] a server sets most.
#[derive(Debug, Args)]
struct VerifyArgs {
    /// The trusted issuer: `iss` must equal it exactly; keys are discovered
    /// at ISSUER/.well-known/openid-configuration unless --jwks-uri is given.
    #[arg(long, value_name = "URL")]
    issuer: String,
    /// An accepted audience (repeat for several): one `aud` value must be
    /// one of them.
    #[arg(long, value_name = "AUD", required = true)]
    audience: Vec<String>,
    /// Fetch the keys from this JWKS URL instead of discovering it.
    #[arg(long, value_name = "URL")]
    jwks_uri: Option<String>,
    /// Which `typ` header values pass.
    #[arg(long, value_enum, default_value_t = Typ::AtJwt)]
    typ: Typ,
    /// Clock-skew allowance for `exp` and `nbf`, in seconds (default: the
    /// library's, 60; at most 300).
    #[arg(long, value_name = "SECS")]
    leeway: Option<u64>,
    #[command(flatten)]
    insecure: Insecure,
    /// The token (a `Bearer ` prefix is accepted), or `-` to read it from
    /// standard input.
    token: String,
}

/// `--typ`: the [`TypPolicy`] values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Typ {
    /// RFC 9068 access tokens only (the library's default).
    #[value(name = "at+jwt")]
    AtJwt,
    /// `JWT` or no `typ` (Microsoft Entra ID, Azure AD B2C, Auth0).
    #[value(name = "jwt")]
    Jwt,
    /// `at+jwt`, `JWT` or no `typ`.
    #[value(name = "at+jwt-or-jwt")]
    Either,
}

impl Typ {
    fn policy(self) -> TypPolicy {
        match self {
            Typ::AtJwt => TypPolicy::AccessToken,
            Typ::Jwt => TypPolicy::Jwt,
            Typ::Either => TypPolicy::AccessTokenOrJwt,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Typ::AtJwt => "at+jwt",
            Typ::Jwt => "JWT or absent",
            Typ::Either => "at+jwt, JWT or absent",
        }
    }
}

/// What a command prints on standard output, and its exit status.
#[derive(Debug)]
pub(crate) struct Report {
    pub(crate) out: String,
    pub(crate) status: u8,
}

/// Why a command could not give its report.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The token is refused before any check could run (too long for the
    /// input, not text): exit status [`INVALID`].
    Invalid(String),
    /// A usage, configuration or network problem: exit status [`TROUBLE`].
    Trouble(String),
}

/// Appends one formatted line to a `String` (writing to a `String` cannot
/// fail).
macro_rules! line {
    ($out:expr) => {{
        $out.push('\n');
    }};
    ($out:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = writeln!($out, $($arg)*);
    }};
}
pub(crate) use line;

/// Runs the tool with the process's arguments; the binary's `main`.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // clap prints usage errors on stderr, --help on stdout.
            let _ = error.print();
            return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(TROUBLE));
        }
    };
    log_to_stderr(cli.verbose);
    let outcome = run(cli.command);
    let mut stderr = std::io::stderr().lock();
    match outcome {
        Ok(report) => {
            // A closed pipe (`| head`) is no reason to fail or panic.
            let _ = std::io::stdout().lock().write_all(report.out.as_bytes());
            ExitCode::from(report.status)
        }
        Err(Failure::Invalid(why)) => {
            let _ = writeln!(stderr, "bearer-guard: {why}");
            ExitCode::from(INVALID)
        }
        Err(Failure::Trouble(why)) => {
            let _ = writeln!(stderr, "bearer-guard: {why}");
            ExitCode::from(TROUBLE)
        }
    }
}

fn run(command: Command) -> Result<Report, Failure> {
    let defaults = Builder::default();
    match command {
        Command::Inspect { token } => {
            let token = read_token(&token, defaults.max_token_bytes)?;
            Ok(inspect::run(&token, defaults.max_token_bytes))
        }
        Command::Verify(args) => {
            let token = read_token(&args.token, defaults.max_token_bytes)?;
            runtime()?.block_on(verify::run(&args, &token))
        }
        Command::Keys { url, insecure } => {
            runtime()?.block_on(keys::run(&url, &defaults, insecure.allow_http))
        }
    }
}

/// A runtime for the fetches: the key cache spawns them on the current one.
fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Trouble(format!("cannot start the async runtime: {e}")))
}

/// The library's `tracing` events on standard error: warnings (why a key set
/// did not load, which keys were dropped) always, more with `-v`.
fn log_to_stderr(verbose: u8) {
    let level = match verbose {
        0 => tracing::Level::WARN,
        1 => tracing::Level::INFO,
        _ => tracing::Level::DEBUG,
    };
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_target(false)
        .without_time()
        .with_ansi(false)
        .try_init();
}

/// A configuration error, with the flag that answers an insecure URL.
fn config_error(error: &crate::error::ConfigError) -> String {
    match error {
        crate::error::ConfigError::InsecureUrl { .. } => {
            format!("{error} (here: --dangerously-allow-insecure-http)")
        }
        _ => error.to_string(),
    }
}

/// The token `arg` names: itself, or standard input for `-`, read up to the
/// token cap (plus room for a prefix); then [`clean`].
fn read_token(arg: &str, max_token_bytes: usize) -> Result<String, Failure> {
    if arg != "-" {
        return clean(arg);
    }
    let cap = max_token_bytes.saturating_add(INPUT_SLACK);
    let mut input = Vec::new();
    std::io::stdin()
        .lock()
        .take(u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1))
        .read_to_end(&mut input)
        .map_err(|e| Failure::Trouble(format!("cannot read standard input: {e}")))?;
    if input.len() > cap {
        return Err(Failure::Invalid(format!(
            "standard input holds more than {cap} bytes: longer than any token accepted \
             (the cap is {max_token_bytes} bytes)"
        )));
    }
    let text = String::from_utf8(input)
        .map_err(|_| Failure::Invalid("the token on standard input is not text (UTF-8)".into()))?;
    clean(&text)
}

/// The token without surrounding whitespace and without a `Bearer ` prefix
/// (any case), as pasted from an `Authorization` header.
fn clean(text: &str) -> Result<String, Failure> {
    let text = text.trim();
    let token = match text.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim_start(),
        _ => text,
    };
    if token.is_empty() {
        return Err(Failure::Trouble("no token given".into()));
    }
    Ok(token.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_lose_whitespace_and_a_bearer_prefix() {
        let ok = |text: &str| clean(text).ok();
        assert_eq!(ok("  a.b.c\n"), Some("a.b.c".into()));
        assert_eq!(ok("Bearer a.b.c"), Some("a.b.c".into()));
        assert_eq!(ok("bearer   a.b.c\r\n"), Some("a.b.c".into()));
        assert_eq!(ok("DPoP a.b.c"), Some("DPoP a.b.c".into()));
        assert_eq!(ok(" \n"), None);
        assert_eq!(ok("Bearer "), Some("Bearer".into()));
    }

    #[test]
    fn the_command_line_parses_as_documented() {
        use clap::CommandFactory as _;
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from([
            "bearer-guard",
            "verify",
            "--issuer",
            "https://i.example",
            "--audience",
            "a",
            "--audience",
            "b",
            "--typ",
            "jwt",
            "-",
        ])
        .expect("parses");
        match cli.command {
            Command::Verify(args) => {
                assert_eq!(args.audience, ["a", "b"]);
                assert_eq!(args.typ, Typ::Jwt);
                assert_eq!(args.token, "-");
            }
            other => panic!("parsed as {other:?}"),
        }
        let missing = Cli::try_parse_from(["bearer-guard", "verify", "--issuer", "x", "t"]);
        assert_eq!(missing.map_err(|e| e.exit_code()).err(), Some(2));
    }
}
