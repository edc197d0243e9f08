//! The repository's own `kyverno-test.yaml` fixtures (tests/fixtures), one
//! directory per feature, run through the test runner. Every row of the
//! feature fixtures must pass; the `outcomes` fixture pins the rows that
//! must not pass silently.

use std::path::{Path, PathBuf};

use sealbox_kyverno::engine::Engine;
use sealbox_kyverno::jmes::Clock;
use sealbox_kyverno::testfile::{self, RowOutcome, TestFileReport};

fn fixture(name: &str) -> TestFileReport {
    let mut reports = fixture_documents(name);
    assert_eq!(reports.len(), 1, "{name}: one Test document per fixture");
    reports.remove(0)
}

/// A report per Test document of the fixture's `kyverno-test.yaml`.
fn fixture_documents(name: &str) -> Vec<TestFileReport> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let engine = Engine::new(Clock { now: 1_700_000_000, seed: 1 });
    let file = root.join(name).join("kyverno-test.yaml");
    let show = |p: &Path| p.strip_prefix(&root).unwrap_or(p).display().to_string();
    testfile::run_test_file(&engine, &file, &show)
}

fn assert_all_pass(name: &str, expected_rows: usize) {
    let report = fixture(name);
    assert_eq!(report.error, None, "{name}: test file failed to load");
    let bad: Vec<String> = report
        .rows
        .iter()
        .filter(|r| r.outcome != RowOutcome::Pass)
        .map(|r| {
            format!(
                "{}/{} {}: expected {}, got [{}] {:?} {}",
                r.policy, r.rule, r.resource, r.expected, r.actual, r.outcome, r.reason
            )
        })
        .collect();
    assert!(bad.is_empty(), "{name}:\n{}", bad.join("\n"));
    assert_eq!(report.rows.len(), expected_rows, "{name}: row count");
}

#[test]
fn pattern_and_anchors() {
    assert_all_pass("pattern", 21);
}

#[test]
fn deny_and_preconditions() {
    assert_all_pass("conditions", 14);
}

#[test]
fn foreach_loops() {
    assert_all_pass("foreach", 9);
}

#[test]
fn autogen_rules() {
    assert_all_pass("autogen", 7);
}

#[test]
fn variables_context_and_functions() {
    assert_all_pass("variables", 10);
}

#[test]
fn match_exclude_apply_one_and_scoring() {
    assert_all_pass("match", 9);
}

#[test]
fn policy_exceptions() {
    assert_all_pass("exceptions", 3);
}

#[test]
fn pod_security_standards() {
    assert_all_pass("pod-security", 6);
}

#[test]
fn mocked_external_context() {
    assert_all_pass("mocks", 4);
}

#[test]
fn rows_that_must_not_pass_silently() {
    let report = fixture("outcomes");
    assert_eq!(report.error, None);
    let outcome = |policy: &str, rule: &str, resource: &str| {
        report
            .rows
            .iter()
            .find(|r| r.policy == policy && r.rule == rule && r.resource == resource)
            .map(|r| (r.outcome, r.reason.clone()))
            .unwrap_or_else(|| panic!("no row {policy}/{rule}/{resource}"))
    };
    assert_eq!(outcome("mixed", "only-services", "pod").0, RowOutcome::Excluded, "rule does not match Pods");
    assert_eq!(outcome("mixed", "no-such-rule", "pod").0, RowOutcome::Excluded, "unknown rule");
    assert_eq!(outcome("mixed", "only-services", "no-such-pod").0, RowOutcome::Excluded, "unknown resource");
    let (o, why) = outcome("mixed", "add-label", "pod");
    assert_eq!(o, RowOutcome::Unsupported);
    assert!(why.contains("mutate"), "{why}");
    let (o, why) = outcome("mixed", "remote-data", "pod");
    assert_eq!(o, RowOutcome::Unsupported);
    assert!(why.contains("apiCall"), "{why}");
    assert_eq!(outcome("cel-policy", "", "pod").0, RowOutcome::Excluded, "no matchConstraints matches nothing");
    let (o, why) = outcome("image-policy", "", "pod");
    assert_eq!(o, RowOutcome::Unsupported);
    assert!(why.contains("ImageValidatingPolicy"), "{why}");
    assert_eq!(outcome("broken", "adds-in-validate", "pod").0, RowOutcome::Pass, "invalid policy rows are skips");
    let (o, why) = outcome("not-loaded", "x", "pod");
    assert_eq!(o, RowOutcome::Fail);
    assert!(why.contains("not found"), "{why}");
}

#[test]
fn cel_validating_policy_and_validate_cel() {
    assert_all_pass("cel", 17);
}

#[test]
fn validating_admission_policy_with_binding_and_params() {
    assert_all_pass("vap", 4);
}

/// `jsonPayloads` (and the deprecated `jsonPayload`): JSON-mode
/// ValidatingPolicies and DeletingPolicies see them, named by the file the
/// test gives; a Kubernetes-mode policy gives no response; a row without
/// resources judges every payload; every Test document of a file runs.
#[test]
fn json_payloads() {
    let reports = fixture_documents("json-payloads");
    assert_eq!(reports.len(), 2, "both Test documents run");
    for r in &reports {
        assert_eq!(r.error, None, "{}: failed to load", r.test);
    }
    let rows: Vec<_> = reports.iter().flat_map(|r| &r.rows).collect();
    assert_eq!(rows.len(), 11);
    for row in &rows {
        let want = if row.policy == "pods-only" { RowOutcome::Excluded } else { RowOutcome::Pass };
        assert_eq!(
            row.outcome, want,
            "{} {}/{}: expected {}, got [{}] {}",
            row.test, row.policy, row.resource, row.expected, row.actual, row.reason
        );
    }
    let all = rows.iter().find(|r| r.policy == "has-size").expect("has-size row");
    assert_eq!((all.resource.as_str(), all.actual.as_str()), ("*", "pass,pass,pass"), "one response per payload");
}

/// A payload that is not an object fails the test file, naming the file.
#[test]
fn json_payload_must_be_an_object() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("json-payload-must-be-an-object");
    std::fs::create_dir_all(&dir).expect("create test dir");
    std::fs::write(dir.join("list.json"), "[1, 2]").expect("write payload");
    std::fs::write(
        dir.join("kyverno-test.yaml"),
        "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata: {name: t}\npolicies: []\njsonPayloads: [list.json]\n",
    )
    .expect("write test");
    let engine = Engine::new(Clock { now: 1_700_000_000, seed: 1 });
    let show = |p: &Path| p.display().to_string();
    let reports = testfile::run_test_file(&engine, &dir.join("kyverno-test.yaml"), &show);
    let error = reports[0].error.clone().unwrap_or_default();
    assert!(error.contains("list.json") && error.contains("object"), "{error}");
}
