//! Conformance scoreboard over Kyverno's data in ../shared/kyverno
//! (`policies/`, the public policy library, and `cli-tests/`, Kyverno's CLI
//! suite). Prints pass/fail/excluded/unsupported per feature class.
//!
//! Usage: `cargo run --release --example conformance -p sealbox-kyverno [-- --failures FILE] [--strict-exit] [--floors FILE]`
//! With `--floors conformance/floors.txt` it prints every score as
//! `score KEY VALUE` and exits 1 when one breaks its floor or has none.
//! The data root is `$SEALBOX_SHARED/kyverno` (default `../shared` next to the repository).

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use sealbox_kyverno::engine::Engine;
use sealbox_kyverno::floors;
use sealbox_kyverno::jmes::Clock;
use sealbox_kyverno::testfile::{self, FeatureClass, RowOutcome, TestFileReport};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let failures_file = args.iter().position(|a| a == "--failures").and_then(|i| args.get(i + 1)).cloned();
    let floors = args.iter().position(|a| a == "--floors").map(|i| {
        let Some(path) = args.get(i + 1) else {
            eprintln!("--floors needs a file");
            std::process::exit(2);
        };
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
            eprintln!("reading {path}: {e}");
            std::process::exit(2);
        });
        floors::parse(&text).unwrap_or_else(|e| {
            eprintln!("{path}: {e}");
            std::process::exit(2);
        })
    });
    let mut broken = Vec::new();
    let base = std::env::var("SEALBOX_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    let root = base.join("kyverno");
    if !root.is_dir() {
        eprintln!("SKIPPED: {} not found; set SEALBOX_SHARED", root.display());
        std::process::exit(2);
    }
    let engine = Engine::new(Clock { now: 1_700_000_000, seed: 1 });
    let mut failures = Vec::new();
    let mut any_fail = false;
    for set in ["policies", "cli-tests"] {
        let dir = root.join(set);
        let started = Instant::now();
        let files = match testfile::find_test_files(std::slice::from_ref(&dir)) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(2);
            }
        };
        let display = |p: &std::path::Path| p.strip_prefix(&root).unwrap_or(p).display().to_string();
        let reports: Vec<TestFileReport> =
            files.iter().flat_map(|f| testfile::run_test_file(&engine, f, &display)).collect();
        let elapsed = started.elapsed();
        for r in &reports {
            for row in &r.rows {
                if row.outcome == RowOutcome::Excluded && args.iter().any(|a| a == "--list-excluded") {
                    failures.push(format!(
                        "EXCLUDED {} | {} | {} | {} | expected {} | {:?}",
                        row.test_file, row.policy, row.rule, row.resource, row.expected, row.class
                    ));
                }
                if row.outcome == RowOutcome::Unsupported
                    && args.iter().any(|a| a == "--list-unsupported")
                    && row.class != FeatureClass::Mutate
                {
                    failures.push(format!(
                        "UNSUPPORTED {} | {} | {} | {}",
                        row.test_file, row.policy, row.rule, row.reason
                    ));
                }
                if row.outcome == RowOutcome::Fail {
                    any_fail = true;
                    failures.push(format!(
                        "{} | {} | {} | {} | expected {} got [{}] | {}",
                        row.test_file, row.policy, row.rule, row.resource, row.expected, row.actual, row.reason
                    ));
                }
            }
            if let Some(e) = &r.error {
                failures.push(format!("{} | FILE ERROR | {e}", r.test_file));
            }
        }
        println!("== {set}: {} test files in {:.2}s", files.len(), elapsed.as_secs_f64());
        print!("{}", testfile::render_scoreboard(&reports));
        if let Some(floors) = &floors {
            let scores = floors::kyverno_scores(set, &reports);
            for (key, value) in &scores {
                println!("score {key} {value}");
            }
            broken.extend(floors::violations(floors, &format!("kyverno.{set}."), &scores));
        }
    }
    if let Some(path) = failures_file {
        let mut f = std::fs::File::create(&path).expect("create failures file");
        for line in &failures {
            writeln!(f, "{line}").expect("write failures file");
        }
        println!("failures written to {path}");
    }
    for b in &broken {
        println!("FLOOR BROKEN: {b}");
    }
    if !broken.is_empty() {
        std::process::exit(1);
    }
    if any_fail && args.iter().any(|a| a == "--strict-exit") {
        std::process::exit(1);
    }
}
