//! `{{ }}` variable substitution: JMESPath expressions embedded in policy
//! strings, replaced by their values (whole-string variables keep the
//! value's JSON type; embedded ones are stringified).

use serde_json::{Map, Value};

use crate::context::EvalContext;
use crate::jmes::{Jmes, JmesError};

/// Substitution passes allowed per string, so self-referencing values stop.
const MAX_PASSES: usize = 32;

/// The byte range of the first unescaped `{{ ... }}` variable in `s`: what
/// Kyverno's `(^|[^\\])(\{\{(?:\{[^{}]*\}|[^{}])*\}\})` matches, scanned by hand
/// because this runs for every string of every evaluated rule.
fn find_variable(s: &str) -> Option<std::ops::Range<usize>> {
    let b = s.as_bytes();
    let mut from = 0;
    while let Some(off) = s.get(from..).and_then(|rest| rest.find("{{")) {
        let start = from + off;
        from = start + 1;
        if start > 0 && b[start - 1] == b'\\' {
            continue;
        }
        let mut j = start + 2;
        while j < b.len() {
            match b[j] {
                b'}' if b.get(j + 1) == Some(&b'}') => return Some(start..j + 2),
                b'}' => break,
                b'{' => {
                    // One level of inner braces, e.g. a JMESPath multi-select hash.
                    let close = b[j + 1..].iter().position(|&c| c == b'{' || c == b'}').map(|p| j + 1 + p);
                    match close {
                        Some(k) if b[k] == b'}' => j = k + 1,
                        _ => break,
                    }
                }
                _ => j += 1,
            }
        }
    }
    None
}

/// Whether `s` contains `{{` (a byte scan; cheaper than a substring search on short strings).
fn has_open(s: &str) -> bool {
    let b = s.as_bytes();
    b.iter().enumerate().any(|(i, &c)| c == b'{' && b.get(i + 1) == Some(&b'{'))
}

/// Whether `s` contains an unescaped `{{ }}` variable.
pub fn has_variables(s: &str) -> bool {
    has_open(s) && find_variable(s).is_some()
}

/// Whether any key or string in `v` holds a `{{ }}` variable.
pub fn tree_has_variables(v: &Value) -> bool {
    match v {
        Value::String(s) => has_open(s),
        Value::Array(a) => a.iter().any(tree_has_variables),
        Value::Object(m) => m.iter().any(|(k, v)| has_open(k) || tree_has_variables(v)),
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
        if !has_open(s) {
            return Ok(Value::String(s.to_string()));
        }
        let mut current = s.to_string();
        for _ in 0..MAX_PASSES {
            let Some(range) = find_variable(&current) else { break };
            let var_text = &current[range.clone()];
            let mut inner = var_text[2..var_text.len() - 2].trim();
            let shallow = inner.starts_with('-');
            if shallow {
                inner = inner[1..].trim();
            }
            let value =
                self.resolve(inner, path).map_err(|error| SubstError { variable: var_text.to_string(), error })?;
            if range.start == 0 && range.end == current.len() {
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
            current.replace_range(range, &text);
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
        assert_eq!(find_variable("a {{ {x: y} }} b"), Some(2..14));
        assert_eq!(find_variable("{x} }} {{"), None);
        assert_eq!(find_variable("{{{a}}}"), Some(0..7));
        let err = s.string("{{ request.object.spec.x }}").unwrap_err();
        assert_eq!(err.error, JmesError::NotFound("spec".into()));
        let pat = json!({"metadata": {"name": "{{@}}"}});
        assert_eq!(s.value(&pat), Ok(json!({"metadata": {"name": "web"}})));
    }
}
