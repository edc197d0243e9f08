//! `{{ }}` variable substitution: JMESPath expressions embedded in policy
//! strings, replaced by their values (whole-string variables keep the
//! value's JSON type; embedded ones are stringified).

use std::sync::OnceLock;

use regex::Regex;
use serde_json::{Map, Value};

use crate::context::EvalContext;
use crate::jmes::{Jmes, JmesError};

/// Substitution passes allowed per string, so self-referencing values stop.
const MAX_PASSES: usize = 32;

fn var_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"(^|[^\\])(\{\{(?:\{[^{}]*\}|[^{}])*\}\})").expect("static regex"))
}

/// Whether `s` contains an unescaped `{{ }}` variable.
pub fn has_variables(s: &str) -> bool {
    s.contains("{{") && var_regex().is_match(s)
}

/// Whether any key or string in `v` holds a `{{ }}` variable.
pub fn tree_has_variables(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains("{{"),
        Value::Array(a) => a.iter().any(tree_has_variables),
        Value::Object(m) => m.iter().any(|(k, v)| k.contains("{{") || tree_has_variables(v)),
        _ => false,
    }
}

/// Why a substitution failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubstError {
    pub variable: String,
    pub error: JmesError,
}

impl std::fmt::Display for SubstError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "failed to substitute variable {}: {}", self.variable, self.error)
    }
}

/// Substitutes variables everywhere in `value` (keys and leaf strings).
/// `at_path` resolves `{{@}}` against the resource at the same position.
pub struct Substituter<'a> {
    pub jmes: &'a Jmes,
    pub ctx: &'a EvalContext,
    /// When set, `request.object` in expressions reads `request.oldObject` (DELETE requests).
    pub delete: bool,
}

impl Substituter<'_> {
    /// Substitutes a whole JSON tree.
    pub fn value(&self, v: &Value) -> Result<Value, SubstError> {
        self.value_at(v, &mut Vec::new())
    }

    fn value_at(&self, v: &Value, path: &mut Vec<String>) -> Result<Value, SubstError> {
        match v {
            Value::String(s) => self.string_at(s, path),
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    path.push(i.to_string());
                    out.push(self.value_at(item, path)?);
                    path.pop();
                }
                Ok(Value::Array(out))
            }
            Value::Object(m) => {
                let mut out = Map::new();
                for (k, item) in m {
                    let key = if has_variables(k) {
                        match self.string_at(k, path)? {
                            Value::String(s) => s,
                            other => other.to_string(),
                        }
                    } else {
                        k.clone()
                    };
                    path.push(crate::anchor::strip(&key).to_string());
                    let value = self.value_at(item, path)?;
                    path.pop();
                    out.insert(key, value);
                }
                Ok(Value::Object(out))
            }
            other => Ok(other.clone()),
        }
    }

    /// Substitutes the variables of one string.
    pub fn string(&self, s: &str) -> Result<Value, SubstError> {
        self.string_at(s, &[])
    }

    fn string_at(&self, s: &str, path: &[String]) -> Result<Value, SubstError> {
        if !s.contains("{{") {
            return Ok(Value::String(s.to_string()));
        }
        let mut current = s.to_string();
        for _ in 0..MAX_PASSES {
            let Some(caps) = var_regex().captures(&current) else { break };
            let (Some(whole), Some(prefix)) = (caps.get(2), caps.get(1)) else { break };
            let var_text = whole.as_str();
            let mut inner = var_text[2..var_text.len() - 2].trim();
            let shallow = inner.starts_with('-');
            if shallow {
                inner = inner[1..].trim();
            }
            let value =
                self.resolve(inner, path).map_err(|error| SubstError { variable: var_text.to_string(), error })?;
            if prefix.start() == 0 && prefix.as_str().is_empty() && whole.end() == current.len() {
                return Ok(match value {
                    Value::String(text) if !shallow && has_variables(&text) && text != current => {
                        current = text;
                        continue;
                    }
                    Value::String(text) => Value::String(unescape(&text)),
                    other => other,
                });
            }
            let text = match &value {
                Value::String(t) => t.clone(),
                other => other.to_string(),
            };
            current.replace_range(whole.range(), &text);
        }
        Ok(Value::String(unescape(&current)))
    }

    fn resolve(&self, expr: &str, path: &[String]) -> Result<Value, JmesError> {
        if expr == "@" {
            let mut cur = self.ctx.root().get("request").and_then(|r| r.get("object")).cloned().unwrap_or_default();
            for p in path {
                cur = match &cur {
                    Value::Object(m) => m.get(p).cloned().unwrap_or_default(),
                    Value::Array(a) => p.parse::<usize>().ok().and_then(|i| a.get(i)).cloned().unwrap_or_default(),
                    _ => Value::Null,
                };
            }
            return Ok(cur);
        }
        if self.delete && expr.contains("request.object") {
            let rewritten = expr.replace("request.object", "request.oldObject");
            return self.ctx.query(self.jmes, &rewritten);
        }
        self.ctx.query(self.jmes, expr)
    }
}

fn unescape(s: &str) -> String {
    if s.contains("\\{{") { s.replace("\\{{", "{{") } else { s.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jmes::Clock;
    use serde_json::json;

    #[test]
    fn whole_and_embedded_variables() {
        let jmes = Jmes::new(Clock::default());
        let mut ctx = EvalContext::new();
        ctx.set("request.object", json!({"metadata": {"name": "web", "labels": {"n": 3}}}));
        ctx.set("key", json!("name"));
        let s = Substituter { jmes: &jmes, ctx: &ctx, delete: false };
        assert_eq!(s.string("{{request.object.metadata.labels.n}}"), Ok(json!(3)));
        assert_eq!(s.string("pod {{ request.object.metadata.name }}!"), Ok(json!("pod web!")));
        assert_eq!(s.string("{{ request.object.metadata.{{key}} }}"), Ok(json!("web")));
        assert_eq!(s.string("\\{{ literal }}"), Ok(json!("{{ literal }}")));
        let err = s.string("{{ request.object.spec.x }}").unwrap_err();
        assert_eq!(err.error, JmesError::NotFound("spec".into()));
        let pat = json!({"metadata": {"name": "{{@}}"}});
        assert_eq!(s.value(&pat), Ok(json!({"metadata": {"name": "web"}})));
    }
}
