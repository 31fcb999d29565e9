//! The libtest-like runner of the test binaries that have their own `main`
//! (`harness = false`: `tests/interop.rs`, `tests/redis.rs`), so that their
//! one "SKIPPED" line is printed, not captured. Included by `#[path]`.

use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// One case's body.
pub type CaseFn = fn() -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// A case: its name, how long it may take (all included; only so that a
/// hang cannot stall the run, never a performance assertion), its body.
pub type Case = (&'static str, Duration, CaseFn);

/// What the command line asks for.
pub enum Selection {
    /// `--list`: the names, nothing run.
    List,
    /// These cases.
    Run(Vec<Case>),
}

/// The cases the command line selects, libtest-style: name filters
/// (substrings, or whole names with `--exact`), `--skip`, `--list`,
/// `--ignored` (there are none). Other libtest flags are accepted and ignored.
pub fn select(cases: &[Case], args: Vec<String>) -> Selection {
    let mut filters = Vec::new();
    let mut skips = Vec::new();
    let mut exact = false;
    let mut ignored_only = false;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--list" => return Selection::List,
            "--exact" => exact = true,
            "--ignored" => ignored_only = true,
            "--skip" => skips.extend(args.next()),
            "--test-threads" | "--color" | "--format" | "--logfile" | "-Z" => {
                args.next();
            }
            flag if flag.starts_with('-') => {}
            filter => filters.push(filter.to_owned()),
        }
    }
    let matches = |name: &str, pattern: &str| {
        if exact {
            name == pattern
        } else {
            name.contains(pattern)
        }
    };
    let selected = cases
        .iter()
        .filter(|_| !ignored_only)
        .filter(|(name, ..)| filters.is_empty() || filters.iter().any(|f| matches(name, f)))
        .filter(|(name, ..)| !skips.iter().any(|s| matches(name, s)))
        .copied()
        .collect();
    Selection::Run(selected)
}

/// Parses the command line: `Err` is the exit when there is nothing to run
/// (`--list` printed, or every case filtered out).
pub fn selected(cases: &[Case]) -> Result<Vec<Case>, ExitCode> {
    match select(cases, std::env::args().skip(1).collect()) {
        Selection::List => {
            for (name, ..) in cases {
                println!("{name}: test");
            }
            Err(ExitCode::SUCCESS)
        }
        Selection::Run(selected) if selected.is_empty() => {
            println!("\nrunning 0 tests\n");
            println!(
                "test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; {} filtered out; finished in 0.00s\n",
                cases.len()
            );
            Err(ExitCode::SUCCESS)
        }
        Selection::Run(selected) => Ok(selected),
    }
}

/// Runs `selected` (of `total` cases) one after the other on one runtime,
/// each on a task bounded by its limit, and reports as libtest does;
/// `running` describes the run (`"5 tests (node v20…)"`).
pub fn run(selected: Vec<Case>, total: usize, running: &str) -> ExitCode {
    let filtered_out = total - selected.len();
    let started = Instant::now();
    println!("\nrunning {running}");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut failed = Vec::new();
    for (name, limit, case) in selected {
        let case_started = Instant::now();
        let outcome = runtime.block_on(async {
            let mut task = tokio::spawn(case());
            match tokio::time::timeout(limit, &mut task).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) if e.is_panic() => Err("panicked (message above)".to_owned()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => {
                    task.abort();
                    Err(format!("timed out after {limit:?}"))
                }
            }
        });
        let secs = case_started.elapsed().as_secs_f64();
        match outcome {
            Ok(()) => println!("test {name} ... ok ({secs:.2}s)"),
            Err(why) => {
                println!("test {name} ... FAILED ({secs:.2}s): {why}");
                failed.push(name);
            }
        }
    }
    runtime.shutdown_timeout(Duration::from_secs(5));
    let passed = total - filtered_out - failed.len();
    let status = if failed.is_empty() { "ok" } else { "FAILED" };
    if !failed.is_empty() {
        println!("\nfailures:");
        for name in &failed {
            println!("    {name}");
        }
    }
    println!(
        "\ntest result: {status}. {passed} passed; {} failed; 0 ignored; 0 measured; {filtered_out} filtered out; finished in {:.2}s\n",
        failed.len(),
        started.elapsed().as_secs_f64()
    );
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
