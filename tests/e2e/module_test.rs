//! `sealbox module test`: the example modules' own `sealbox-test.yaml`
//! files pass; a wrong expectation, a module that answers nothing or
//! garbage, and a bad test file each fail, with what differs.

use std::path::Path;

use crate::common::*;
use crate::pipeline::example_module;

/// Runs `sealbox module test ARGS…`; returns (exit code, stdout, stderr).
pub(crate) fn module_test(args: &[&std::ffi::OsStr]) -> (Option<i32>, String, String) {
    let mut cmd = sealbox();
    cmd.args(["module", "test"]).args(args).env("SEALBOX_CACHE", target_dir().join("e2e-module-test-cache"));
    let (out, stdout, stderr) = run(&mut cmd);
    (out.status.code(), stdout, stderr)
}

/// Runs an example's `sealbox-test.yaml` against `module` and checks every case passed.
pub(crate) fn example_passes(example: &Path, module: &Path) {
    let (code, stdout, stderr) = module_test(&["--module".as_ref(), module.as_os_str(), example.as_os_str()]);
    assert_eq!(code, Some(0), "{}: {stdout}{stderr}", example.display());
    let summary = stdout.lines().last().unwrap_or("");
    assert!(
        summary.starts_with(|c: char| c.is_ascii_digit()) && summary.contains(" passed, 0 did not pass"),
        "{stdout}"
    );
}

#[test]
fn the_rust_example_passes_its_own_tests() {
    example_passes(&workspace().join("examples/modules/rust-require-limits"), &example_module("rust-require-limits"));
}

#[test]
fn a_wrong_line_fails_with_a_diff_and_json_and_junit_say_so() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::copy(example_module("rust-require-limits"), dir.path().join("m.wasm")).expect("copy");
    let test = "apiVersion: sealbox.io/v1\nkind: ModuleTest\nmodule: m.wasm\ncases:\n  - name: one finding\n    \
                files:\n      a.yaml: |\n        kind: Pod\n        metadata: {name: p}\n        spec:\n          \
                containers:\n            - name: c\n    expect:\n      status: failure\n      findings:\n        \
                - {file: a.yaml, line: LINE, rule: require-limits}\n";
    let file = dir.path().join("sealbox-test.yaml");
    std::fs::write(&file, test.replace("LINE", "5")).expect("write");
    let (code, stdout, stderr) = module_test(&[dir.path().as_os_str()]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");

    std::fs::write(&file, test.replace("LINE", "4")).expect("write");
    let (code, stdout, stderr) = module_test(&[file.as_os_str()]);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("- error a.yaml:4 [require-limits]"), "{stdout}");
    assert!(
        stdout.contains("+ error a.yaml:5 [require-limits] Pod/p: container c has no cpu, memory limit"),
        "{stdout}"
    );

    let (code, stdout, _) = module_test(&["--output".as_ref(), "json".as_ref(), file.as_os_str()]);
    assert_eq!(code, Some(1));
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(report["failed"], 1, "{report}");
    assert_eq!(report["cases"][0]["outcome"], "fail", "{report}");
    assert_eq!(report["cases"][0]["findings"][0]["line"], 5, "{report}");

    let (code, stdout, _) = module_test(&["--output".as_ref(), "junit".as_ref(), file.as_os_str()]);
    assert_eq!(code, Some(1));
    assert!(stdout.contains(r#"tests="1" failures="1" errors="0""#), "{stdout}");
}

#[test]
fn a_module_that_answers_nothing_or_garbage_never_passes() {
    for name in ["silent", "garbage"] {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::copy(test_module(name, "wasm32-wasip1"), dir.path().join("m.wasm")).expect("copy");
        // The case expects what a module that checks nothing would give.
        let test = "apiVersion: sealbox.io/v1\nkind: ModuleTest\nmodule: m.wasm\nmoduleKind: policy\ncases:\n  \
                    - name: anything\n    files: {a.yaml: 'kind: Pod'}\n    expect: {status: success}\n";
        std::fs::write(dir.path().join("sealbox-test.yaml"), test).expect("write");
        let (code, stdout, stderr) = module_test(&[dir.path().as_os_str()]);
        assert_eq!(code, Some(1), "{name}: {stdout}{stderr}");
        assert!(stdout.contains("ERROR"), "{name}: {stdout}");
        assert!(stdout.contains("invalid response"), "{name}: {stdout}");
    }
}

#[test]
fn a_bad_test_file_is_an_error_at_its_line() {
    let dir = tempfile::tempdir().expect("tmp");
    let test = "apiVersion: sealbox.io/v1\nkind: ModuleTest\nmodule: m.wasm\ncases:\n  - name: x\n    \
                files: {a.yaml: 'kind: Pod'}\n    expect: {status: passed}\n";
    std::fs::write(dir.path().join("sealbox-test.yaml"), test).expect("write");
    let (code, _, stderr) = module_test(&[dir.path().as_os_str()]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("sealbox-test.yaml:7: case \"x\": expect.status \"passed\" is not one of success, failure"),
        "{stderr}"
    );
}
