//! The reliability campaigns of `scripts/reliability/` at a small count:
//! the scripts themselves run here against the binary under test, so the
//! campaigns reported in docs/reliability.md stay runnable and true.
//! Each script checks its own results (fsck clean, digests equal to a
//! clean build's, clean failures) and prints a `RESULT` line; the test
//! asserts on that line's numbers, not only on the exit status.

use std::process::Command;

use crate::common::*;

/// Runs `scripts/reliability/SCRIPT ARGS` and returns its `RESULT` line's
/// fields after the campaign name, failing with the script's output
/// unless it exits 0.
fn campaign(script: &str, args: &[&str]) -> String {
    let path = workspace().join("scripts/reliability").join(script);
    let out = Command::new("bash")
        .arg(&path)
        .args(args)
        .env("SEALBOX_BIN", env!("CARGO_BIN_EXE_sealbox"))
        .env("TMPDIR", std::env::temp_dir())
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", path.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{script} {args:?} failed ({}):\n{stdout}\n{stderr}", out.status);
    let result = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("{script} printed no RESULT line:\n{stdout}\n{stderr}"));
    result.to_string()
}

/// The number before `what` in a RESULT line (`8 runs` -> 8 for "runs").
fn count(result: &str, what: &str) -> u64 {
    let words: Vec<&str> = result.split([' ', ',']).filter(|w| !w.is_empty()).collect();
    let i = words.iter().position(|w| *w == what).unwrap_or_else(|| panic!("no {what:?} in {result:?}"));
    words[i - 1].parse().unwrap_or_else(|_| panic!("no number before {what:?} in {result:?}"))
}

#[test]
fn kill_9_at_random_moments_of_build_push_pull_and_rmi_leaves_a_store_that_rebuilds_the_same_digest() {
    let result = campaign("crash.sh", &["8", "4"]);
    assert_eq!(count(&result, "runs"), 8, "{result}");
    assert_eq!(count(&result, "failures"), 0, "{result}");
}

#[test]
fn eight_concurrent_builds_beside_rmi_and_fsck_all_succeed_with_the_right_digest() {
    let result = campaign("concurrency.sh", &["1", "2"]);
    assert_eq!(count(&result, "builds"), 8, "{result}");
    assert_eq!(count(&result, "right"), 8, "every build of one round succeeds: {result}");
    assert_eq!(count(&result, "failures"), 0, "{result}");
}

#[test]
fn a_build_into_a_full_filesystem_fails_naming_it_and_works_once_space_is_freed() {
    let result = campaign("diskfull.sh", &["2"]);
    assert_eq!(count(&result, "rounds"), 2, "{result}");
    assert_eq!(count(&result, "failures"), 0, "{result}");
}
