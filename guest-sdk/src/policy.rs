//! Policy modules as a function from one resource (and the step's config)
//! to a [`Verdict`]: [`policy`] walks every YAML document under `/in`, calls
//! the function once per resource, and answers with one diagnostic per
//! finding, located at the file and line of the resource.

use std::path::Path;

use serde_json::Value;

use crate::contract::{Diagnostic, FileKind, Request, Response, Severity};
use crate::yaml::{self, Node, NodeValue};

/// One YAML document of the input tree: a Kubernetes object, usually.
#[derive(Debug, Clone, Copy)]
pub struct Resource<'a> {
    /// Its file, relative to the input root (`manifests/app.yaml`).
    pub file: &'a str,
    /// Its index in the file's document stream (0-based).
    pub document: usize,
    /// The document as JSON.
    pub value: &'a Value,
    lines: Lines<'a>,
}

/// Where a resource's lines come from: the YAML the SDK read itself, or
/// the documents view's index.
#[derive(Debug, Clone, Copy)]
enum Lines<'a> {
    Node(&'a Node),
    View { line: u32, index: &'a std::collections::HashMap<String, u32> },
}

impl Resource<'_> {
    /// The line the document starts on (1-based).
    pub fn line(&self) -> u32 {
        match self.lines {
            Lines::Node(node) => node.line,
            Lines::View { line, .. } => line,
        }
    }

    /// `kind`, or `""`.
    pub fn kind(&self) -> &str {
        self.value.get("kind").and_then(Value::as_str).unwrap_or("")
    }

    /// `metadata.name`, or `""`.
    pub fn name(&self) -> &str {
        self.value.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("")
    }

    /// `Kind/name`, for messages.
    pub fn id(&self) -> String {
        format!("{}/{}", self.kind(), self.name())
    }

    /// The line of the field at `path` (map keys, or list indices written
    /// as numbers: `["spec", "containers", "0", "image"]`), or `None` when
    /// there is no such field.
    pub fn line_of(&self, path: &[&str]) -> Option<u32> {
        let mut node = match self.lines {
            Lines::Node(node) => node,
            Lines::View { index, .. } => return index.get(&crate::view::pointer(path)).copied(),
        };
        for seg in path {
            node = match &node.value {
                NodeValue::Map(_) => node.get(seg)?,
                NodeValue::Seq(items) => items.get(seg.parse::<usize>().ok()?)?,
                NodeValue::Scalar(_) => return None,
            };
        }
        Some(node.line)
    }
}

/// One finding of a policy about a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    pub message: String,
    /// The line it points at; the resource's first line when `None`.
    pub line: Option<u32>,
    /// The rule that found it, when a module checks several.
    pub rule: Option<String>,
}

/// What a policy says about one resource: nothing (it passes) or findings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    pub findings: Vec<Finding>,
}

impl Verdict {
    /// The resource passes.
    pub fn pass() -> Verdict {
        Verdict::default()
    }

    /// The resource violates the policy (an error: the step fails).
    pub fn fail(message: impl Into<String>) -> Verdict {
        Verdict::pass().and(Severity::Error, message, None)
    }

    /// A warning about the resource (the step still passes).
    pub fn warn(message: impl Into<String>) -> Verdict {
        Verdict::pass().and(Severity::Warning, message, None)
    }

    /// This verdict plus one more finding, at `line` when given.
    pub fn and(mut self, severity: Severity, message: impl Into<String>, line: Option<u32>) -> Verdict {
        self.findings.push(Finding { severity, message: message.into(), line, rule: None });
        self
    }

    /// The same verdict with every finding pointing at `line` (when known).
    pub fn at(mut self, line: Option<u32>) -> Verdict {
        for f in &mut self.findings {
            f.line = f.line.or(line);
        }
        self
    }

    /// The same verdict with every finding credited to `rule`.
    pub fn rule(mut self, rule: &str) -> Verdict {
        for f in &mut self.findings {
            f.rule = Some(rule.to_string());
        }
        self
    }

    /// Whether no finding is an error.
    pub fn passed(&self) -> bool {
        self.findings.iter().all(|f| f.severity != Severity::Error)
    }
}

/// Runs a policy module: reads the request, calls `check` for every YAML
/// document under `/in`, and writes the response (failure when any finding
/// is an error). Files that are not YAML get a warning and are skipped.
///
/// Granted the documents view (`documents: true`), it reads the documents
/// from there, decoded once for every step that asks; otherwise it reads
/// the YAML itself, with the same reader ([`crate::yaml`]).
pub fn policy<F>(check: F)
where
    F: FnMut(&Resource<'_>, &Value) -> Verdict,
{
    let documents = Path::new(crate::view::DOCUMENTS_DIR);
    crate::run(|req| Ok(evaluate_with(Path::new(crate::INPUT_DIR), Some(documents), &req, check)));
}

/// The response [`policy`] would give for `req` with its input tree at
/// `root` and no documents view: for tests and native runs of the same checks.
pub fn evaluate<F>(root: &Path, req: &Request, check: F) -> Response
where
    F: FnMut(&Resource<'_>, &Value) -> Verdict,
{
    evaluate_with(root, None, req, check)
}

/// [`evaluate`] with the documents view in `documents` when there is one.
pub fn evaluate_with<F>(root: &Path, documents: Option<&Path>, req: &Request, check: F) -> Response
where
    F: FnMut(&Resource<'_>, &Value) -> Verdict,
{
    match documents.map(crate::view::read) {
        Some(Ok(Some(records))) => from_view(&records, req, check),
        Some(Err(e)) => Response::failure(e),
        _ => from_files(root, req, check),
    }
}

/// The response for the documents of the view.
fn from_view<F>(records: &[crate::view::Record], req: &Request, mut check: F) -> Response
where
    F: FnMut(&Resource<'_>, &Value) -> Verdict,
{
    let mut diagnostics = Vec::new();
    let mut resources = 0u64;
    for r in records {
        if let Some(e) = &r.error {
            let d = Diagnostic::warning(format!("not YAML, skipped: {}", e.message));
            diagnostics.push(d.at(r.file.as_str(), Some(e.line), Some(e.column)));
            continue;
        }
        if !r.value.is_object() {
            continue;
        }
        let lines = Lines::View { line: r.line, index: &r.lines };
        let resource = Resource { file: &r.file, document: r.document, value: &r.value, lines };
        resources += 1;
        push_findings(&mut diagnostics, &resource, check(&resource, &req.config));
    }
    let data = serde_json::json!({ "resources": resources });
    Response { data, ..Response::success() }.with_diagnostics(diagnostics)
}

fn push_findings(diagnostics: &mut Vec<Diagnostic>, resource: &Resource<'_>, verdict: Verdict) {
    for f in verdict.findings {
        let line = f.line.unwrap_or(resource.line());
        let d = Diagnostic { severity: f.severity, rule: f.rule, ..Diagnostic::error(f.message) };
        diagnostics.push(d.at(resource.file, Some(line), None));
    }
}

/// The response for the YAML files under `root`, read here.
fn from_files<F>(root: &Path, req: &Request, mut check: F) -> Response
where
    F: FnMut(&Resource<'_>, &Value) -> Verdict,
{
    let mut diagnostics = Vec::new();
    let mut resources = 0u64;
    for file in yaml_files(root, req) {
        let text = match std::fs::read_to_string(root.join(&file)) {
            Ok(t) => t,
            Err(e) => {
                diagnostics.push(Diagnostic::warning(format!("not read: {e}")).at(file.as_str(), None, None));
                continue;
            }
        };
        let docs = match yaml::load(&text) {
            Ok(d) => d,
            Err(e) => {
                let d = Diagnostic::warning(format!("not YAML, skipped: {}", e.message));
                diagnostics.push(d.at(file.as_str(), Some(e.line), Some(e.column)));
                continue;
            }
        };
        for doc in docs.iter().filter(|d| matches!(d.root.value, NodeValue::Map(_))) {
            let value = doc.root.to_json();
            let resource = Resource { file: &file, document: doc.index, value: &value, lines: Lines::Node(&doc.root) };
            resources += 1;
            let verdict = check(&resource, &req.config);
            push_findings(&mut diagnostics, &resource, verdict);
        }
    }
    let data = serde_json::json!({ "resources": resources });
    Response { data, ..Response::success() }.with_diagnostics(diagnostics)
}

/// The `.yaml`, `.yml` and `.json` files of the input, sorted: from the
/// request's listing, or by walking `root` when the host sent none.
fn yaml_files(root: &Path, req: &Request) -> Vec<String> {
    let is_doc = |p: &str| [".yaml", ".yml", ".json"].iter().any(|ext| p.ends_with(ext));
    if !req.files.is_empty() {
        return req
            .files
            .iter()
            .filter(|f| f.kind == FileKind::File && is_doc(&f.path))
            .map(|f| f.path.clone())
            .collect();
    }
    let mut found = Vec::new();
    let mut dirs = vec![String::new()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(root.join(&dir)) else { continue };
        for entry in entries.flatten() {
            let Ok(name) = entry.file_name().into_string() else { continue };
            let path = if dir.is_empty() { name } else { format!("{dir}/{name}") };
            match entry.file_type() {
                Ok(t) if t.is_dir() => dirs.push(path),
                Ok(t) if t.is_file() && is_doc(&path) => found.push(path),
                _ => {}
            }
        }
    }
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::Status;

    fn request() -> Request {
        Request { api_version: crate::API_VERSION.into(), config: serde_json::json!({"max": 1}), ..Request::default() }
    }

    #[test]
    fn every_document_is_checked_and_findings_point_at_their_lines() {
        let dir = std::env::temp_dir().join(format!("sealbox-guest-policy-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("m")).expect("dir");
        let pods = "kind: Pod\nmetadata:\n  name: a\n---\nkind: Pod\nmetadata:\n  name: b\nspec:\n  replicas: 3\n";
        std::fs::write(dir.join("m/pods.yaml"), pods).expect("write");
        std::fs::write(dir.join("m/broken.yml"), "a: [1,\n").expect("write");
        std::fs::write(dir.join("m/notes.txt"), "not: checked\n").expect("write");
        let response = evaluate(&dir, &request(), |r, config| {
            let max = config["max"].as_u64().unwrap_or(0);
            match r.value.pointer("/spec/replicas").and_then(Value::as_u64) {
                Some(n) if n > max => Verdict::fail(format!("{} has {n} replicas", r.id()))
                    .at(r.line_of(&["spec", "replicas"]))
                    .rule("max-replicas"),
                _ => Verdict::pass(),
            }
        });
        std::fs::remove_dir_all(&dir).ok();
        assert_eq!(response.status, Status::Failure);
        assert_eq!(response.data["resources"], 2);
        let found: Vec<_> = response
            .diagnostics
            .iter()
            .map(|d| (d.severity, d.file.as_deref().unwrap_or(""), d.line, d.message.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                (Severity::Warning, "m/broken.yml", Some(2), found[0].3),
                (Severity::Error, "m/pods.yaml", Some(9), "Pod/b has 3 replicas"),
            ]
        );
        assert!(found[0].3.starts_with("not YAML"), "{}", found[0].3);
        assert_eq!(response.diagnostics[1].rule.as_deref(), Some("max-replicas"));
    }

    #[test]
    fn a_privileged_check_sees_what_kubernetes_sees() {
        // Kubernetes reads `yes` as true and applies merge keys (YAML 1.1,
        // go-yaml v2), so a policy must see both pods as privileged.
        let dir = std::env::temp_dir().join(format!("sealbox-guest-privileged-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let pods = "kind: Pod\nmetadata: {name: yes-spelled}\nsecurityContext:\n  privileged: yes\n---\n\
                    kind: Pod\nmetadata: {name: merged}\nbase: &b {privileged: true}\nsecurityContext:\n  <<: *b\n";
        std::fs::write(dir.join("pods.yaml"), pods).expect("write");
        let response = evaluate(&dir, &request(), |r, _| {
            if r.value.pointer("/securityContext/privileged") == Some(&Value::Bool(true)) {
                Verdict::fail(format!("{} is privileged", r.id())).at(r.line_of(&["securityContext"]))
            } else {
                Verdict::pass()
            }
        });
        std::fs::remove_dir_all(&dir).ok();
        let found: Vec<_> = response.diagnostics.iter().map(|d| (d.line, d.message.as_str())).collect();
        assert_eq!(found, [(Some(4), "Pod/yes-spelled is privileged"), (Some(10), "Pod/merged is privileged")]);
    }
}
