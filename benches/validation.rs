//! Criterion: validation per algorithm next to a raw `jsonwebtoken` verify of
//! the same token, and requirement evaluation. See BENCHMARKS.md.
//!
//! ```text
//! cargo bench --bench validation                 # everything, about 2 minutes
//! cargo bench --bench validation -- rs256        # one group
//! ```
//!
//! Each algorithm's group measures, on one token and one key:
//! - `raw_jsonwebtoken_verify`: `jsonwebtoken::crypto::verify` of the signature
//!   with a `DecodingKey` parsed once (the floor: only the signature);
//! - `raw_jsonwebtoken_decode`: `jsonwebtoken::decode` (signature and claims),
//!   what a hand-written middleware does;
//! - `bearer_guard_cold`: `Validator::validate` with the token cache off, keys
//!   already fetched: the whole pipeline every time;
//! - `bearer_guard_cached`: the same with the cache on and the token seen before.
//!
//! After the run it prints each group's means and their ratios to the raw
//! verify, read back from criterion's own estimates of this run.

mod support;

use std::str::FromStr as _;

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use bearer_guard::testing::{KeyKind, TestIssuer};
use bearer_guard::{Authenticated, Requirement, Validator};
use criterion::Criterion;
use futures_util::FutureExt as _;
use support::Size;

/// The groups: name, key kind, token size.
const GROUPS: &[(&str, KeyKind, Size)] = &[
    ("rs256_2048", KeyKind::Rs256, Size::Small),
    ("rs256_2048_entra", KeyKind::Rs256, Size::Entra),
    ("ps256", KeyKind::Ps256, Size::Small),
    ("es256", KeyKind::Es256, Size::Small),
    ("es384", KeyKind::Es384, Size::Small),
    ("eddsa", KeyKind::EdDsa, Size::Small),
];
const RAW: &str = "raw_jsonwebtoken_verify";
const FUNCTIONS: &[&str] = &[
    RAW,
    "raw_jsonwebtoken_decode",
    "bearer_guard_cold",
    "bearer_guard_cached",
];

/// Validation with keys in memory completes without waiting, so it is polled
/// once, without an executor's overhead in the figure.
fn validate(validator: &Validator, token: &str) -> Authenticated {
    validator
        .validate(token)
        .now_or_never()
        .expect("no I/O once the keys are loaded")
        .expect("valid token")
}

fn algorithms(c: &mut Criterion, runtime: &tokio::runtime::Runtime, issuer: &TestIssuer) {
    for &(group_name, kind, size) in GROUPS {
        let kid = if kind == KeyKind::Rs256 {
            issuer.current_kid()
        } else {
            issuer.add_key(kind)
        };
        let token = support::token(issuer, &kid, size, 0);
        // The baseline speaks jsonwebtoken's type; the names are the same.
        let alg = jsonwebtoken::Algorithm::from_str(kind.algorithm().name()).expect("a JOSE name");
        let key = support::raw_key(issuer, &kid);
        let raw_validation = support::raw_validation(issuer, alg);
        let cold = support::validator(issuer, false);
        let cached = support::validator(issuer, true);
        runtime.block_on(async {
            support::warm(&cold, &token).await;
            support::warm(&cached, &token).await;
        });

        let mut group = c.benchmark_group(group_name);
        group.bench_function(RAW, |b| {
            b.iter(|| support::raw_verify(black_box(&token), &key, alg))
        });
        group.bench_function(FUNCTIONS[1], |b| {
            b.iter(|| {
                jsonwebtoken::decode::<serde_json::Value>(black_box(&token), &key, &raw_validation)
                    .expect("valid")
            })
        });
        group.bench_function(FUNCTIONS[2], |b| {
            b.iter(|| validate(&cold, black_box(&token)))
        });
        group.bench_function(FUNCTIONS[3], |b| {
            b.iter(|| validate(&cached, black_box(&token)))
        });
        group.finish();
    }
}

fn requirements(c: &mut Criterion, runtime: &tokio::runtime::Runtime, issuer: &TestIssuer) {
    let token = issuer
        .token()
        .scope("openid profile email offline_access notes.read notes.write")
        .roles(&["Notes.Read.All", "Reports.Read", "Admin"])
        .sign();
    let validator = support::validator(issuer, true);
    let authenticated = runtime.block_on(async {
        support::warm(&validator, &token).await;
        validate(&validator, &token)
    });
    let cases = [
        ("scope_present", Requirement::scope("notes.write")),
        (
            "scope_or_role_via_role",
            Requirement::scope("notes.admin").or(Requirement::role("Admin")),
        ),
        (
            "all_of_three",
            Requirement::all([
                Requirement::scope("notes.read"),
                Requirement::scope("email"),
                Requirement::role("Reports.Read"),
            ]),
        ),
    ];
    let mut group = c.benchmark_group("requirements");
    for (name, requirement) in &cases {
        assert!(requirement.is_satisfied_by(&authenticated));
        group.bench_function(*name, |b| {
            b.iter(|| requirement.is_satisfied_by(black_box(&authenticated)))
        });
    }
    let denied = Requirement::scope("notes.admin").or(Requirement::role("Notes.Admin"));
    group.bench_function("check_denied", |b| {
        b.iter(|| denied.check(black_box(&authenticated)).is_err())
    });
    group.finish();
}

fn main() {
    let started = SystemTime::now();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // The issuer serves keys on this runtime while `block_on` runs; the
    // measured validations never need it (keys are in memory).
    let _context = runtime.enter();
    let issuer = runtime.block_on(TestIssuer::start()).expect("test issuer");
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    algorithms(&mut c, &runtime, &issuer);
    requirements(&mut c, &runtime, &issuer);
    c.final_summary();
    print_ratios(started);
}

/// Where criterion writes its estimates, resolved as criterion does (without
/// its `cargo metadata` step: the default target directory is assumed).
fn criterion_home() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return home.into();
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"),
        PathBuf::from,
    );
    target.join("criterion")
}

/// The mean of `group/function` in nanoseconds, if it was measured by this
/// run (its estimates file is newer than `started`).
fn mean_ns(group: &str, function: &str, started: SystemTime) -> Option<f64> {
    let path = criterion_home()
        .join(group)
        .join(function)
        .join("new/estimates.json");
    let fresh = std::fs::metadata(&path).ok()?.modified().ok()? >= started;
    let text = std::fs::read_to_string(&path).ok().filter(|_| fresh)?;
    let estimates: serde_json::Value = serde_json::from_str(&text).ok()?;
    estimates["mean"]["point_estimate"].as_f64()
}

fn print_ratios(started: SystemTime) {
    println!("\nmeans of this run (µs) and ratios to {RAW} of the same group:");
    println!(
        "{:<18} {:>9} {:>16} {:>16} {:>16}",
        "group", "raw µs", "decode (×raw)", "cold (×raw)", "cached (×raw)"
    );
    for &(group, _, _) in GROUPS {
        let Some(raw) = mean_ns(group, RAW, started) else {
            continue;
        };
        let cell = |f: &str| {
            mean_ns(group, f, started).map_or("-".to_owned(), |m| {
                format!("{:.2} ({:.3})", m / 1000.0, m / raw)
            })
        };
        println!(
            "{group:<18} {:>9.2} {:>16} {:>16} {:>16}",
            raw / 1000.0,
            cell(FUNCTIONS[1]),
            cell(FUNCTIONS[2]),
            cell(FUNCTIONS[3])
        );
    }
}
