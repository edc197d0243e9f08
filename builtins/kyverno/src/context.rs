//! The evaluation context of one rule on one resource: `request.*`,
//! `images`, `element`, values-file values and context entries, as one
//! JSON document that JMESPath queries.

use std::cell::RefCell;

use jmespath::Rcvar;
use serde_json::{Map, Value};

use crate::jmes::{Jmes, JmesError, to_var};

/// The variables visible to `{{ }}` and JMESPath in a rule.
#[derive(Clone)]
pub struct EvalContext {
    root: Value,
    cache: RefCell<Option<Rcvar>>,
}

impl EvalContext {
    /// An empty context.
    pub fn new() -> Self {
        EvalContext { root: Value::Object(Map::new()), cache: RefCell::new(None) }
    }

    /// The whole context document.
    pub fn root(&self) -> &Value {
        &self.root
    }

    /// Sets `path` (dot-separated, as in values files: `request.operation`) to `value`.
    pub fn set(&mut self, path: &str, value: Value) {
        self.cache.borrow_mut().take();
        let mut cur = &mut self.root;
        let parts = split_path(path);
        for (i, part) in parts.iter().enumerate() {
            if !cur.is_object() {
                *cur = Value::Object(Map::new());
            }
            let Value::Object(m) = cur else { return };
            if i == parts.len() - 1 {
                m.insert(part.to_string(), value);
                return;
            }
            cur = m.entry(part.to_string()).or_insert_with(|| Value::Object(Map::new()));
        }
    }

    /// Merges every top-level entry of `values` (keys may be dotted paths).
    pub fn set_all(&mut self, values: &Map<String, Value>) {
        for (k, v) in values {
            self.set(k, v.clone());
        }
    }

    /// Evaluates a JMESPath expression against the context.
    pub fn query(&self, jmes: &Jmes, expr: &str) -> Result<Value, JmesError> {
        let var = self.cache.borrow_mut().get_or_insert_with(|| to_var(&self.root)).clone();
        jmes.search_var(expr, &var)
    }
}

/// Test-supplied stand-ins for cluster lookups: `apiCallResponses` and
/// `globalContextEntries` of a Kyverno test file.
#[derive(Debug, Clone, Default)]
pub struct Mocks {
    /// `{url | urlPath, method?, response: {body}}` entries.
    pub api_calls: Vec<Value>,
    /// Global context entry values by name.
    pub global: std::collections::BTreeMap<String, Value>,
    /// A test's `context:` file (`cli.kyverno.io` Context): resources and
    /// images served to CEL's `resource.*` and `image.GetMetadata`.
    pub cel_context: Option<Value>,
    /// A test's `paramResources`: parameter objects for admission policies.
    pub params: Option<Vec<Value>>,
    /// A test's `clusterResources`: objects that exist in the cluster,
    /// served to `apiCall` GETs and `configMap` entries (and, through
    /// `cel_context`, to CEL's `resource.*`).
    pub cluster: Vec<Value>,
}

impl Mocks {
    /// The body for an `apiCall` context entry (after substitution): a
    /// mocked response, else a GET of the cluster resources; `None` when
    /// neither can answer (the call needs a real cluster).
    pub fn api_call(&self, call: &Value) -> Option<Result<Value, String>> {
        let url = call.pointer("/service/url").and_then(Value::as_str);
        let path = call.get("urlPath").and_then(Value::as_str);
        let method = call.get("method").and_then(Value::as_str).unwrap_or("GET");
        self.api_calls
            .iter()
            .find(|m| {
                let m_method = m.get("method").and_then(Value::as_str).unwrap_or(method);
                let m_url = m.get("url").and_then(Value::as_str);
                let m_path = m.get("urlPath").and_then(Value::as_str);
                m_method.eq_ignore_ascii_case(method)
                    && ((url.is_some() && m_url == url) || (path.is_some() && m_path == path))
            })
            .map(|m| Ok(m.pointer("/response/body").cloned().unwrap_or(Value::Null)))
            .or_else(|| match (path, method.eq_ignore_ascii_case("GET")) {
                (Some(path), true) if !self.cluster.is_empty() => self.cluster_get(path),
                _ => None,
            })
    }

    /// A `configMap` context entry: the ConfigMap of the cluster resources
    /// with that name and namespace; `None` without cluster resources.
    pub fn config_map(&self, name: &str, namespace: &str) -> Option<Result<Value, String>> {
        if self.cluster.is_empty() {
            return None;
        }
        let found = self.cluster.iter().find(|r| {
            r.get("kind").and_then(Value::as_str) == Some("ConfigMap")
                && r.pointer("/metadata/name").and_then(Value::as_str) == Some(name)
                && r.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("default") == namespace
        });
        Some(found.cloned().ok_or_else(|| format!("configmaps \"{name}\" not found in namespace {namespace:?}")))
    }

    /// The API server's answer to a GET of `path` over the cluster
    /// resources: one object (`.../PLURAL/NAME`) or a List of a collection;
    /// `None` for a path that is not a resource path.
    fn cluster_get(&self, path: &str) -> Option<Result<Value, String>> {
        let path = path.split('?').next().unwrap_or(path);
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let (api_version, rest) = match parts.as_slice() {
            ["api", version, rest @ ..] => (version.to_string(), rest),
            ["apis", group, version, rest @ ..] => (format!("{group}/{version}"), rest),
            _ => return None,
        };
        let (namespace, rest) = match rest {
            ["namespaces", ns, rest @ ..] if !rest.is_empty() => (Some(*ns), rest),
            _ => (None, rest),
        };
        let (plural, name) = match rest {
            [plural] => (*plural, None),
            [plural, name] => (*plural, Some(*name)),
            _ => return None,
        };
        let selected = self.cluster.iter().filter(|r| {
            let kind = r.get("kind").and_then(Value::as_str).unwrap_or("");
            r.get("apiVersion").and_then(Value::as_str) == Some(api_version.as_str())
                && crate::cel_match::resource_of_kind(kind) == plural
                && namespace.is_none_or(|ns| r.pointer("/metadata/namespace").and_then(Value::as_str) == Some(ns))
        });
        Some(match name {
            Some(name) => selected
                .into_iter()
                .find(|r| r.pointer("/metadata/name").and_then(Value::as_str) == Some(name))
                .cloned()
                .ok_or_else(|| format!("{plural} \"{name}\" not found")),
            None => {
                let items: Vec<Value> = selected.cloned().collect();
                Ok(serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items}))
            }
        })
    }
}

/// Splits a dotted path, keeping `"quoted.segments"` whole.
fn split_path(path: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in path.chars() {
        match c {
            '"' => quoted = !quoted,
            '.' if !quoted => parts.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    parts.push(cur);
    parts
}

impl Default for EvalContext {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jmes::Clock;
    use serde_json::json;

    #[test]
    fn dotted_paths_nest() {
        let mut c = EvalContext::new();
        c.set("request.operation", json!("UPDATE"));
        c.set("request.object", json!({"a": 1}));
        let j = Jmes::new(Clock::default());
        assert_eq!(c.query(&j, "request.operation"), Ok(json!("UPDATE")));
        assert_eq!(c.query(&j, "request.object.a"), Ok(json!(1)));
        c.set("request.object.\"x.y/z\"", json!("q"));
        assert_eq!(c.query(&j, "request.object.\"x.y/z\""), Ok(json!("q")));
        c.set("request.object.a", json!(2));
        assert_eq!(c.query(&j, "request.object.a"), Ok(json!(2)), "cache is refreshed");
    }

    #[test]
    fn cluster_resources_answer_gets_and_config_maps() {
        let mocks = Mocks {
            cluster: vec![
                json!({"apiVersion": "cloud.google.com/v1", "kind": "ComputeClass", "metadata": {"name": "spot"}}),
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "team"}, "data": {"k": "v"}}),
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "other", "namespace": "x"}}),
            ],
            ..Mocks::default()
        };
        let get = |path: &str| mocks.api_call(&json!({"urlPath": path}));
        let one = get("/apis/cloud.google.com/v1/computeclasses/spot").expect("answered").expect("found");
        assert_eq!(one["metadata"]["name"], "spot");
        let err = get("/apis/cloud.google.com/v1/computeclasses/none").expect("answered").expect_err("404");
        assert!(err.contains("not found"), "{err}");
        let list = get("/api/v1/namespaces/team/configmaps").expect("answered").expect("list");
        assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
        assert_eq!(
            get("/api/v1/configmaps?limit=5").expect("answered").expect("list")["items"].as_array().map(Vec::len),
            Some(2)
        );
        assert!(get("/version").is_none(), "not a resource path: needs a cluster");
        assert!(mocks.api_call(&json!({"urlPath": "/api/v1/configmaps", "method": "POST"})).is_none());
        assert_eq!(mocks.config_map("cm", "team").expect("answered").expect("found")["data"]["k"], "v");
        assert!(mocks.config_map("cm", "default").expect("answered").is_err());
        assert!(Mocks::default().config_map("cm", "team").is_none(), "without cluster resources: needs a cluster");
    }
}
