//! The step entry point end to end (natively): config in, Response out,
//! over input trees written to a temporary directory.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use sealbox_guest::{Request, Response, Severity, Status};
use serde_json::{Value, json};

struct Tree(PathBuf);

impl Tree {
    fn new(files: &[(&str, &str)]) -> Tree {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "sealbox-kyverno-step-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        for (path, text) in files {
            let p = dir.join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        Tree(dir)
    }

    fn run(&self, config: Value) -> Response {
        let req = Request { api_version: sealbox_guest::API_VERSION.into(), config, ..Request::default() };
        sealbox_kyverno::step::run(&req, &self.0)
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const POLICY: &str = r#"
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: no-latest
spec:
  validationFailureAction: Enforce
  rules:
  - name: require-tag
    match:
      any:
      - resources:
          kinds: [Pod]
    validate:
      message: "latest tag is not allowed"
      pattern:
        spec:
          containers:
          - image: "!*:latest"
  - name: audit-team
    match:
      any:
      - resources:
          kinds: [Pod]
    validate:
      failureAction: Audit
      pattern:
        metadata:
          labels:
            team: "?*"
"#;

const PODS: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: ok, labels: {team: a}}
spec:
  containers: [{name: c, image: "nginx:1.25"}]
---
apiVersion: v1
kind: Pod
metadata: {name: bad, namespace: web}
spec:
  containers: [{name: c, image: "nginx:latest"}]
"#;

#[test]
fn apply_reports_enforce_failures_as_errors_and_audit_as_warnings() {
    let tree = Tree::new(&[("policies/p.yaml", POLICY), ("manifests/pods.yaml", PODS)]);
    let resp = tree.run(json!({"mode": "apply", "policies": ["policies"], "resources": ["manifests/pods.yaml"]}));
    assert_eq!(resp.status, Status::Failure);
    let errors: Vec<_> = resp.diagnostics.iter().filter(|d| d.severity == Severity::Error).collect();
    assert_eq!(errors.len(), 1, "{:?}", resp.diagnostics);
    let e = errors[0];
    assert_eq!(e.rule.as_deref(), Some("no-latest/require-tag"));
    assert_eq!(e.file.as_deref(), Some("manifests/pods.yaml"));
    assert_eq!(e.line, Some(8), "the line the bad Pod's document starts on");
    assert!(e.message.contains("Pod/web/bad") && e.message.contains("document 1"), "{}", e.message);
    let warnings: Vec<_> = resp.diagnostics.iter().filter(|d| d.severity == Severity::Warning).collect();
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].rule.as_deref(), Some("no-latest/audit-team"));
    assert_eq!(resp.data["summary"], json!({"pass": 2, "fail": 2, "warn": 0, "error": 0, "skip": 0, "unsupported": 0}));
    let statuses: Vec<&str> =
        resp.data["results"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["fail", "fail"], "passing rows are counted, not listed");
    let all = tree.run(
        json!({"mode": "apply", "policies": ["policies"], "resources": ["manifests/pods.yaml"], "includePasses": true}),
    );
    let statuses: Vec<&str> =
        all.data["results"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["pass", "pass", "fail", "fail"]);
}

#[test]
fn rendered_outputs() {
    let tree = Tree::new(&[("p.yaml", POLICY), ("pods.yaml", PODS)]);
    let run = |format: &str| {
        let resp =
            tree.run(json!({"mode": "apply", "policies": ["p.yaml"], "resources": ["pods.yaml"], "output": format}));
        resp.data["rendered"].as_str().unwrap_or_default().to_string()
    };
    let table = run("table");
    assert!(table.contains("no-latest/require-tag  Pod/web/bad"), "{table}");
    let sarif: Value = serde_json::from_str(&run("sarif")).unwrap();
    assert_eq!(
        sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "pods.yaml"
    );
    assert!(run("junit").starts_with("<?xml"));
    let report: Value = serde_json::from_str(&run("policy-report")).unwrap();
    assert_eq!(report["kind"], "ClusterPolicyReport");
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let req = Request {
        api_version: sealbox_guest::API_VERSION.into(),
        config: json!({"mode": "test", "paths": ["autogen"], "output": "table"}),
        ..Request::default()
    };
    let resp = sealbox_kyverno::step::run(&req, &fixtures);
    let text = resp.data["rendered"].as_str().unwrap();
    assert!(text.contains("Test autogen (autogen/kyverno-test.yaml)"), "{text}");
    assert!(text.ends_with("Total: 7 pass, 0 fail, 0 excluded, 0 unsupported, 0 test files with errors\n"), "{text}");
}

#[test]
fn audit_warn_turns_audit_failures_into_warn() {
    let tree = Tree::new(&[("p.yaml", POLICY), ("pods.yaml", PODS)]);
    let resp =
        tree.run(json!({"mode": "apply", "policies": ["p.yaml"], "resources": ["pods.yaml"], "auditWarn": true}));
    assert_eq!(resp.data["summary"]["warn"], 1);
    assert_eq!(resp.data["summary"]["fail"], 1);
}

#[test]
fn malformed_yaml_names_file_and_document() {
    let tree = Tree::new(&[("p.yaml", POLICY), ("bad.yaml", "kind: Pod\n---\nmetadata: [unclosed\n")]);
    let resp = tree.run(json!({"mode": "apply", "policies": ["p.yaml"], "resources": ["bad.yaml"]}));
    assert_eq!(resp.status, Status::Failure);
    let msg = &resp.diagnostics[0].message;
    assert!(msg.contains("bad.yaml: document 1"), "{msg}");
}

#[test]
fn skip_invalid_turns_stray_yaml_into_warnings() {
    let stray = "- just\n- a list\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: late}\nspec:\n  containers: [{name: c, image: \"x:latest\"}]\n";
    let tree = Tree::new(&[("p.yaml", POLICY), ("etc/list.yaml", stray), ("etc/broken.yaml", "a: [\n")]);
    let resp = tree.run(json!({"mode": "apply", "policies": ["p.yaml"], "resources": ["etc"], "skipInvalid": true}));
    let warnings: Vec<&str> = resp
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Warning && d.message.contains("skipped"))
        .map(|d| d.message.as_str())
        .collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings.iter().any(|w| w.contains("etc/list.yaml: document 0")));
    // The kept Pod keeps its own document index.
    let fail = resp.data["results"].as_array().unwrap().iter().find(|r| r["rule"] == "require-tag").unwrap();
    assert_eq!(fail["document"], 1);
    assert_eq!(fail["file"], "etc/list.yaml");
}

#[test]
fn a_resource_that_is_not_an_object_is_refused() {
    let tree = Tree::new(&[("p.yaml", POLICY), ("list.yaml", "- a\n- b\n")]);
    let resp = tree.run(json!({"mode": "apply", "policies": ["p.yaml"], "resources": ["list.yaml"]}));
    assert_eq!(resp.status, Status::Failure);
    assert!(resp.diagnostics[0].message.contains("list.yaml: document 0: a resource must be an object"));
}

#[test]
fn ten_thousand_documents() {
    let doc = "apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {team: a}}\nspec:\n  containers: [{name: c, image: \"nginx:1\"}]\n---\n";
    let stream = doc.repeat(10_000);
    let tree = Tree::new(&[("p.yaml", POLICY), ("many.yaml", &stream)]);
    let resp = tree.run(json!({"mode": "apply", "policies": ["p.yaml"], "resources": ["many.yaml"]}));
    assert_eq!(resp.status, Status::Success, "{:?}", resp.diagnostics.first());
    assert_eq!(resp.data["summary"]["pass"], 20_000);
}

#[test]
fn invalid_policies_are_errors_naming_the_policy() {
    let bad = "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: bad}\nspec:\n  rules:\n  - name: r\n    match: {any: [{resources: {kinds: [Pod]}}]}\n    validate: {pattern: just-text}\n";
    let tree = Tree::new(&[("bad.yaml", bad), ("pods.yaml", PODS)]);
    let resp = tree.run(json!({"mode": "apply", "policies": ["bad.yaml"], "resources": ["pods.yaml"]}));
    assert_eq!(resp.status, Status::Failure);
    let d = &resp.diagnostics[0];
    assert_eq!(d.file.as_deref(), Some("bad.yaml"));
    assert!(d.message.contains("policy bad is invalid") && d.message.contains("must be a map"), "{}", d.message);
}

#[test]
fn paths_may_not_leave_the_input_root() {
    let tree = Tree::new(&[("p.yaml", POLICY)]);
    let resp = tree.run(json!({"mode": "apply", "policies": ["../p.yaml"], "resources": []}));
    assert_eq!(resp.status, Status::Failure);
    assert!(resp.diagnostics[0].message.contains("must not contain `..`"));
    let resp = tree.run(json!({"mode": "bogus"}));
    assert_eq!(resp.status, Status::Failure);
    assert!(resp.diagnostics[0].message.contains("invalid config"));
}

#[test]
fn self_referencing_variables_terminate() {
    let policy = r#"
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: loop}
spec:
  rules:
  - name: r
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      deny:
        conditions:
          all:
          - {key: "{{ x }}", operator: Equals, value: never}
"#;
    // The values file makes `x` expand to itself; substitution must stop.
    let values = json!({"policies": [{"name": "loop", "rules": [{"name": "r", "values": {"x": "{{x}}"}}]}]});
    let tree = Tree::new(&[("p.yaml", policy), ("pods.yaml", PODS)]);
    let resp = tree.run(
        json!({"mode": "apply", "policies": ["p.yaml"], "resources": ["pods.yaml"], "values": values, "includePasses": true}),
    );
    let statuses: Vec<&str> =
        resp.data["results"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["pass", "pass"]);
}

#[test]
fn test_mode_counts_rows_and_strict_fails_excluded_rows() {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let req = |config: Value| Request { api_version: sealbox_guest::API_VERSION.into(), config, ..Request::default() };
    let resp = sealbox_kyverno::step::run(&req(json!({"mode": "test", "paths": ["pattern", "outcomes"]})), &fixtures);
    // outcomes has a row naming a policy the test does not load: a failure.
    assert_eq!(resp.status, Status::Failure);
    assert_eq!(resp.data["summary"]["pass"], 22);
    assert_eq!(resp.data["summary"]["excluded"], 4);
    let errors_lenient = resp.diagnostics.iter().filter(|d| d.severity == Severity::Error).count();
    let strict =
        sealbox_kyverno::step::run(&req(json!({"mode": "test", "paths": ["outcomes"], "strict": true})), &fixtures);
    let errors_strict = strict.diagnostics.iter().filter(|d| d.severity == Severity::Error).count();
    assert_eq!(errors_lenient, 1);
    assert_eq!(errors_strict, 5, "{:?}", strict.diagnostics);
    let ok = sealbox_kyverno::step::run(&req(json!({"mode": "test", "paths": ["pattern"]})), &fixtures);
    assert_eq!(ok.status, Status::Success);
}

/// Streaming: the same report as the whole run gives, written to the
/// writer as rows are found; the response holds the summary, and fails
/// on an Enforce failure as the whole run does.
#[test]
fn a_streamed_apply_writes_the_report_the_whole_run_renders() {
    let tree = Tree::new(&[("p.yaml", POLICY), ("pods.yaml", PODS)]);
    for output in ["table", "json", "sarif", "junit", "policy-report"] {
        let config = json!({"mode": "apply", "policies": ["p.yaml"], "resources": ["pods.yaml"], "output": output});
        let whole = tree.run(config.clone());
        let mut streamed_config = config;
        streamed_config["stream"] = json!(true);
        let req =
            Request { api_version: sealbox_guest::API_VERSION.into(), config: streamed_config, ..Request::default() };
        let mut out = Vec::new();
        let streamed = sealbox_kyverno::step::run_streaming(&req, &tree.0, &mut out);
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            whole.data["rendered"].as_str().expect("rendered"),
            "{output}"
        );
        assert_eq!(streamed.data["summary"], whole.data["summary"], "{output}");
        assert_eq!(streamed.status, Status::Failure, "{output}: an Enforce failure fails the run");
        assert!(streamed.data.get("results").is_none(), "{output}: rows are not held");
    }
    // A broken document stops the run, naming the file and line.
    let tree = Tree::new(&[("p.yaml", POLICY), ("pods.yaml", "apiVersion: v1\nkind: Pod\n---\na: [1,\n")]);
    let config = json!({"mode": "apply", "policies": ["p.yaml"], "resources": ["pods.yaml"], "stream": true});
    let req = Request { api_version: sealbox_guest::API_VERSION.into(), config, ..Request::default() };
    let response = sealbox_kyverno::step::run_streaming(&req, &tree.0, &mut Vec::new());
    assert_eq!(response.status, Status::Failure);
    assert!(response.diagnostics[0].message.contains("pods.yaml: document 1 (line 5"), "{:?}", response.diagnostics);
}
