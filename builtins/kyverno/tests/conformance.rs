//! Conformance over Kyverno's own data (../shared/kyverno): the public
//! policy library and Kyverno's CLI test suite through the test runner.
//! Guards against regressions: no row of the library may fail, in the CLI
//! suite only the tests Kyverno itself expects to fail (`test-fail/`) may,
//! and every per-class score is held to `conformance/floors.txt` (the same
//! list `scripts/conformance.sh` uses). Absent data fails when
//! `SEALBOX_REQUIRE_SHARED` is set (CI sets it). Prints the per-class
//! scoreboard (`--nocapture`).

use std::path::{Path, PathBuf};

use sealbox_kyverno::engine::Engine;
use sealbox_kyverno::floors;
use sealbox_kyverno::jmes::Clock;
use sealbox_kyverno::testfile::{self, RowOutcome, TestFileReport};

fn run(set: &str) -> Option<Vec<TestFileReport>> {
    let base = std::env::var("SEALBOX_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    let root = base.join("kyverno");
    let dir = root.join(set);
    if !dir.is_dir() {
        eprintln!("SKIPPED (not passed): {} not found; set SEALBOX_SHARED to run Kyverno conformance", dir.display());
        assert!(
            std::env::var_os("SEALBOX_REQUIRE_SHARED").is_none(),
            "{} is missing but SEALBOX_REQUIRE_SHARED is set: put the shared data at ../shared or set SEALBOX_SHARED",
            dir.display()
        );
        return None;
    }
    let engine = Engine::new(Clock { now: 1_700_000_000, seed: 1 });
    let files = testfile::find_test_files(&[dir]).expect("walk test files");
    let show = |p: &Path| p.strip_prefix(&root).unwrap_or(p).display().to_string();
    let reports: Vec<_> = files.iter().flat_map(|f| testfile::run_test_file(&engine, f, &show)).collect();
    println!("== kyverno conformance: {set} ({} test files)\n{}", files.len(), testfile::render_scoreboard(&reports));
    Some(reports)
}

/// Holds every score of `set` to its floor in conformance/floors.txt.
fn assert_floors(set: &str, reports: &[TestFileReport]) {
    let floors = floors::parse(include_str!("../../../conformance/floors.txt")).expect("conformance/floors.txt");
    let scores = floors::kyverno_scores(set, reports);
    let bad = floors::violations(&floors, &format!("kyverno.{set}."), &scores);
    assert!(bad.is_empty(), "{set} scores against conformance/floors.txt:\n{}", bad.join("\n"));
}

fn failures(reports: &[TestFileReport], allowed: impl Fn(&str) -> bool) -> Vec<String> {
    reports
        .iter()
        .flat_map(|r| &r.rows)
        .filter(|row| row.outcome == RowOutcome::Fail && !allowed(&row.test_file))
        .map(|row| {
            format!(
                "{} {}/{} {}: expected {}, got [{}] {}",
                row.test_file, row.policy, row.rule, row.resource, row.expected, row.actual, row.reason
            )
        })
        .collect()
}

#[test]
fn policy_library() {
    let Some(reports) = run("policies") else { return };
    let bad = failures(&reports, |_| false);
    assert!(bad.is_empty(), "{} failing rows:\n{}", bad.len(), bad.join("\n"));
    let errors: Vec<_> = reports.iter().filter_map(|r| r.error.as_ref()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert_floors("policies", &reports);
}

#[test]
fn kyverno_cli_suite() {
    let Some(reports) = run("cli-tests") else { return };
    let bad = failures(&reports, |file| file.starts_with("cli-tests/test-fail/"));
    assert!(bad.is_empty(), "{} failing rows:\n{}", bad.len(), bad.join("\n"));
    assert_floors("cli-tests", &reports);
}
