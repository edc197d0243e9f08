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
}

impl Mocks {
    /// The mocked body for an `apiCall` context entry (after substitution).
    pub fn api_call(&self, call: &Value) -> Option<&Value> {
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
            .map(|m| m.pointer("/response/body").unwrap_or(&Value::Null))
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
}
