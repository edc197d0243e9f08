//! What the engine needs to know about a Kubernetes resource: its GVK,
//! name, namespace, labels, and where it came from.

use serde_json::{Map, Value};

/// A resource document with its origin.
#[derive(Debug, Clone)]
pub struct Resource {
    pub value: Value,
    pub file: String,
    /// The document's index in its file's YAML stream.
    pub document: usize,
    /// The 1-based line the document starts on (0 when unknown).
    pub line: usize,
}

impl Resource {
    /// `kind`.
    pub fn kind(&self) -> &str {
        self.value.get("kind").and_then(Value::as_str).unwrap_or("")
    }

    /// `apiVersion` split into group and version (`apps/v1` -> (`apps`, `v1`); `v1` -> (``, `v1`)).
    pub fn group_version(&self) -> (&str, &str) {
        let api = self.value.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        match api.rsplit_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api),
        }
    }

    fn metadata(&self) -> Option<&Map<String, Value>> {
        self.value.get("metadata").and_then(Value::as_object)
    }

    /// `metadata.name`, or `metadata.generateName` when there is no name.
    pub fn name(&self) -> &str {
        let m = self.metadata();
        m.and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .or_else(|| m.and_then(|m| m.get("generateName")).and_then(Value::as_str))
            .unwrap_or("")
    }

    /// `metadata.namespace` ("" when unset).
    pub fn namespace(&self) -> &str {
        self.metadata().and_then(|m| m.get("namespace")).and_then(Value::as_str).unwrap_or("")
    }

    /// `metadata.labels`.
    pub fn labels(&self) -> Map<String, Value> {
        self.metadata().and_then(|m| m.get("labels")).and_then(Value::as_object).cloned().unwrap_or_default()
    }

    /// `metadata.annotations`.
    pub fn annotations(&self) -> Map<String, Value> {
        self.metadata().and_then(|m| m.get("annotations")).and_then(Value::as_object).cloned().unwrap_or_default()
    }

    /// `Kind/namespace/name` (namespace omitted when empty), for messages.
    pub fn display(&self) -> String {
        if self.namespace().is_empty() {
            format!("{}/{}", self.kind(), self.name())
        } else {
            format!("{}/{}/{}", self.kind(), self.namespace(), self.name())
        }
    }
}
