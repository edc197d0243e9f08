//! Reading policy, resource and values files: YAML streams, directories of
//! them, and `List` documents, with errors naming file and document.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::engine::PreparedPolicy;
use crate::policy::{self, Policy};
use crate::resource::Resource;
use crate::yaml;

/// The policies found in a set of documents.
#[derive(Debug, Default)]
pub struct LoadedPolicies {
    pub policies: Vec<Policy>,
    /// Policy documents of kinds this engine does not evaluate: (name, kind, file).
    pub unsupported: Vec<(String, String, String)>,
    /// ValidatingAdmissionPolicyBinding documents, attached to their
    /// policies by [`prepare`].
    pub bindings: Vec<Value>,
}

/// One JSON payload: a `.json` file, or a YAML file of one document, whose
/// top level must be an object (as Kyverno's CLI loads them).
pub fn payload(file: &Path, shown: &str) -> Result<Resource, String> {
    let text = read_text(file)?;
    let is_json = file.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let value = if is_json {
        serde_json::from_str(&text).map_err(|e| format!("{shown}: JSON payload: {e}"))?
    } else {
        let mut docs = documents(shown, &text)?;
        match docs.len() {
            1 => docs.remove(0),
            n => return Err(format!("{shown}: a JSON payload must be one document, found {n}")),
        }
    };
    if !value.is_object() {
        return Err(format!("{shown}: a JSON payload must be an object at the top level"));
    }
    Ok(Resource { value, file: shown.to_string(), document: 0, line: 1 })
}

/// Decodes `text` (named `file`) into documents.
pub fn documents(file: &str, text: &str) -> Result<Vec<Value>, String> {
    yaml::load_documents(file, text).map_err(|e| e.to_string())
}

/// Decodes `text` (named `file`) into documents with their stream index and line.
pub fn located_documents(file: &str, text: &str) -> Result<Vec<yaml::Document>, String> {
    yaml::load_located(file, text).map_err(|e| e.to_string())
}

/// Every YAML/JSON file under `path` (itself when it is a file), sorted.
pub fn yaml_files(path: &Path) -> Result<Vec<PathBuf>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
            let p = entry.path();
            let ft = entry.file_type().map_err(|e| format!("{}: {e}", p.display()))?;
            if ft.is_dir() {
                stack.push(p);
            } else if p.extension().and_then(|e| e.to_str()).is_some_and(|e| matches!(e, "yaml" | "yml" | "json")) {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Reads a file as UTF-8 text.
pub fn read_text(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Sorts policy documents into evaluable policies and unsupported kinds.
pub fn collect_policies(out: &mut LoadedPolicies, file: &str, docs: &[Value]) -> Result<(), String> {
    collect(out, file, docs, false)
}

/// [`collect_policies`] for `kyverno test`, which also evaluates
/// DeletingPolicies: whether their conditions hold for a resource (would it
/// be deleted). `apply` and builds report them as unsupported instead: a
/// deleting policy is a cleanup job, not a check a manifest can fail.
pub fn collect_test_policies(out: &mut LoadedPolicies, file: &str, docs: &[Value]) -> Result<(), String> {
    collect(out, file, docs, true)
}

fn collect(out: &mut LoadedPolicies, file: &str, docs: &[Value], deleting: bool) -> Result<(), String> {
    for (i, doc) in docs.iter().enumerate() {
        if crate::vap::is_binding_document(doc) {
            out.bindings.push(doc.clone());
        } else if policy::is_policy_document(doc) || (deleting && crate::vpol::is_deleting_document(doc)) {
            out.policies.push(Policy::from_document(doc, file, i)?);
        } else if let Some(kind) = policy::other_policy_kind(doc) {
            let name = doc.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string();
            out.unsupported.push((name, kind, file.to_string()));
        }
    }
    Ok(())
}

/// Resources of a document stream; `List` documents are flattened.
pub fn collect_resources(out: &mut Vec<Resource>, file: &str, docs: Vec<yaml::Document>) -> Result<(), String> {
    for yaml::Document { index: i, line, value: doc } in docs {
        if !doc.is_object() {
            return Err(format!("{file}: document {i}: a resource must be an object, got {}", short(&doc)));
        }
        let is_list = doc.get("kind").and_then(Value::as_str).is_some_and(|k| k.ends_with("List"))
            && doc.get("items").is_some_and(Value::is_array);
        if is_list {
            if let Some(Value::Array(items)) = doc.get("items") {
                for item in items {
                    if !item.is_object() {
                        return Err(format!("{file}: document {i}: a List item must be an object"));
                    }
                    out.push(Resource { value: item.clone(), file: file.to_string(), document: i, line });
                }
            }
            continue;
        }
        out.push(Resource { value: doc, file: file.to_string(), document: i, line });
    }
    Ok(())
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 60 { format!("{}...", &s[..s.char_indices().nth(57).map(|(i, _)| i).unwrap_or(s.len())]) } else { s }
}

/// Prepares loaded policies: autogen-expanded, CEL compiled, admission
/// policies with the bindings that name them.
pub fn prepare(loaded: LoadedPolicies) -> Vec<PreparedPolicy> {
    let bindings = loaded.bindings;
    loaded
        .policies
        .into_iter()
        .map(|p| {
            let mine = bindings
                .iter()
                .filter(|b| {
                    p.is_vap() && b.pointer("/spec/policyName").and_then(Value::as_str) == Some(p.name.as_str())
                })
                .cloned()
                .collect();
            PreparedPolicy::with_bindings(p, mine)
        })
        .collect()
}
