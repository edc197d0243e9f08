//! The policy model: `kyverno.io` ClusterPolicy and Policy documents, kept
//! as JSON with typed accessors, plus the checks Kyverno's admission
//! validation would make before accepting a policy.

use serde_json::{Map, Value};

use crate::anchor::{self, AnchorKind};

/// `spec.validationFailureAction` / `validate.failureAction`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FailureAction {
    Enforce,
    Audit,
}

impl FailureAction {
    /// Kyverno's reading: anything but "enforce" (any case) is Audit.
    pub fn parse(v: Option<&str>) -> Option<FailureAction> {
        v.map(|s| if s.eq_ignore_ascii_case("enforce") { FailureAction::Enforce } else { FailureAction::Audit })
    }
}

/// A ClusterPolicy or Policy.
#[derive(Debug, Clone)]
pub struct Policy {
    pub name: String,
    /// `Some` for a namespaced `Policy`, which only applies in its namespace.
    pub namespace: Option<String>,
    pub kind: String,
    pub annotations: Map<String, Value>,
    pub spec: Value,
    /// The file the policy came from and its document index there.
    pub file: String,
    pub document: usize,
    /// Why Kyverno would reject this policy, when it would.
    pub invalid: Option<String>,
}

/// The policy kinds this engine evaluates.
pub fn is_policy_document(doc: &Value) -> bool {
    let api = doc.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = doc.get("kind").and_then(Value::as_str).unwrap_or("");
    (api.starts_with("kyverno.io/") && matches!(kind, "ClusterPolicy" | "Policy"))
        || crate::vpol::is_vpol_document(doc)
        || crate::vap::is_vap_document(doc)
}

/// Policy-like documents other engines handle (CEL policies, admission
/// policies, cleanup policies): recognised so they can be reported as unsupported.
pub fn other_policy_kind(doc: &Value) -> Option<String> {
    let api = doc.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = doc.get("kind").and_then(Value::as_str).unwrap_or("");
    let known = api.starts_with("policies.kyverno.io/")
        || api.starts_with("kyverno.io/")
        || api.starts_with("admissionregistration.k8s.io/");
    (known && !is_policy_document(doc) && kind.contains("Policy")).then(|| kind.to_string())
}

impl Policy {
    /// Reads a policy document (`is_policy_document` must hold).
    pub fn from_document(doc: &Value, file: &str, document: usize) -> Result<Policy, String> {
        let meta = doc.get("metadata").and_then(Value::as_object);
        let name = meta
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{file}: document {document}: policy has no metadata.name"))?
            .to_string();
        let kind = doc.get("kind").and_then(Value::as_str).unwrap_or("ClusterPolicy").to_string();
        let namespace = if kind == "Policy" {
            Some(meta.and_then(|m| m.get("namespace")).and_then(Value::as_str).unwrap_or("default").to_string())
        } else {
            None
        };
        let annotations =
            meta.and_then(|m| m.get("annotations")).and_then(Value::as_object).cloned().unwrap_or_default();
        let spec = doc.get("spec").cloned().unwrap_or(Value::Null);
        let rules = spec.get("rules");
        let invalid = match rules {
            Some(Value::Array(rules)) => rules.iter().find_map(check_rule),
            None | Some(Value::Null) => None,
            Some(_) => Some("spec.rules must be a list".to_string()),
        };
        Ok(Policy { name, namespace, kind, annotations, spec, file: file.to_string(), document, invalid })
    }

    /// A `ValidatingPolicy` (or its namespaced form): ruleless, CEL only.
    /// A `DeletingPolicy` evaluates as one too (see
    /// [`crate::vpol::deleting_as_validating`]).
    pub fn is_vpol(&self) -> bool {
        matches!(self.kind.as_str(), "ValidatingPolicy" | "NamespacedValidatingPolicy") || self.is_deleting()
    }

    /// A `DeletingPolicy` (or its namespaced form).
    pub fn is_deleting(&self) -> bool {
        matches!(self.kind.as_str(), "DeletingPolicy" | "NamespacedDeletingPolicy")
    }

    /// A Kubernetes `ValidatingAdmissionPolicy`.
    pub fn is_vap(&self) -> bool {
        self.kind == "ValidatingAdmissionPolicy"
    }

    /// A kind without rules, whose test rows name no rule (CEL policies).
    pub fn is_ruleless(&self) -> bool {
        self.is_vpol() || self.is_vap()
    }

    /// The policy's rules as written.
    pub fn rules(&self) -> &[Value] {
        self.spec.get("rules").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
    }

    /// `spec.applyRules: One`.
    pub fn apply_one(&self) -> bool {
        self.spec.get("applyRules").and_then(Value::as_str) == Some("One")
    }

    /// The failure action of `rule` for a resource in `namespace`: a
    /// matching override (`validate.failureActionOverrides`, else
    /// `spec.validationFailureActionOverrides`), else the rule's
    /// `validate.failureAction`, else the policy's.
    pub fn failure_action(&self, rule: &Value, namespace: &str) -> FailureAction {
        if self.is_vpol() {
            // validationActions: Deny blocks (as Enforce); Audit and Warn report.
            let actions = self.spec.get("validationActions").and_then(Value::as_array);
            let deny = actions.is_none_or(|a| a.is_empty() || a.iter().any(|x| x.as_str() == Some("Deny")));
            return if deny { FailureAction::Enforce } else { FailureAction::Audit };
        }
        let overrides = rule
            .pointer("/validate/failureActionOverrides")
            .or_else(|| self.spec.get("validationFailureActionOverrides"))
            .and_then(Value::as_array);
        let matched = overrides.into_iter().flatten().find(|o| {
            o.get("namespaces").and_then(Value::as_array).is_some_and(|nss| {
                nss.iter().filter_map(Value::as_str).any(|n| sealbox_formats::glob::wildcard(n, namespace))
            })
        });
        if let Some(action) = matched.and_then(|o| FailureAction::parse(o.get("action").and_then(Value::as_str))) {
            return action;
        }
        FailureAction::parse(rule.pointer("/validate/failureAction").and_then(Value::as_str))
            .or_else(|| FailureAction::parse(self.spec.get("validationFailureAction").and_then(Value::as_str)))
            .unwrap_or(FailureAction::Audit)
    }
}

/// Kyverno's policy validation for what this engine relies on: a rule has
/// a name and a match block, and validate patterns use no `+()` anchors.
fn check_rule(rule: &Value) -> Option<String> {
    let name = rule.get("name").and_then(Value::as_str).unwrap_or("");
    if name.is_empty() {
        return Some("a rule has no name".into());
    }
    if let Some(v) = rule.get("validate") {
        let mut patterns: Vec<&Value> = v.get("pattern").filter(|p| !p.is_null()).into_iter().collect();
        match v.get("anyPattern") {
            None | Some(Value::Null) => {}
            Some(Value::Array(any)) if !any.is_empty() => patterns.extend(any),
            Some(_) => return Some(format!("rule {name}: anyPattern must be a non-empty list of patterns")),
        }
        for p in patterns {
            if !p.is_object() {
                return Some(format!("rule {name}: a validate pattern must be a map, got {p}"));
            }
            if let Some(path) = find_add_anchor(p, "/") {
                return Some(format!("rule {name}: `+()` anchor at {path} is not allowed in validate patterns"));
            }
        }
        if let Some(conds) = v.pointer("/deny/conditions")
            && let Some(e) = check_conditions(conds)
        {
            return Some(format!("rule {name}: deny.conditions: {e}"));
        }
    }
    if let Some(e) = rule.get("preconditions").and_then(check_conditions) {
        return Some(format!("rule {name}: preconditions: {e}"));
    }
    None
}

/// Checks the shape of a condition block and its operator names, as
/// Kyverno's admission checks do.
fn check_conditions(block: &Value) -> Option<String> {
    let lists: Vec<&Value> = match block {
        Value::Null => vec![],
        Value::Array(_) => vec![block],
        Value::Object(m) => {
            if let Some(k) = m.keys().find(|k| *k != "any" && *k != "all") {
                return Some(format!("unknown field {k:?} (expected any/all)"));
            }
            m.values().filter(|v| !v.is_null()).collect()
        }
        other => return Some(format!("must be a list or an any/all map, got {other}")),
    };
    for list in lists {
        let Value::Array(items) = list else { return Some("any/all must be lists".into()) };
        for c in items {
            let op = c.get("operator").and_then(Value::as_str).unwrap_or("");
            if let Err(e) = crate::conditions::evaluate_operator(op, &Value::Null, &Value::Null) {
                return Some(e);
            }
        }
    }
    None
}

fn find_add_anchor(v: &Value, path: &str) -> Option<String> {
    match v {
        Value::Object(m) => m.iter().find_map(|(k, v)| {
            if anchor::parse(k).is_some_and(|a| a.kind == AnchorKind::AddIfNotPresent) {
                Some(format!("{path}{k}"))
            } else {
                find_add_anchor(v, &format!("{path}{k}/"))
            }
        }),
        Value::Array(a) => a.iter().enumerate().find_map(|(i, v)| find_add_anchor(v, &format!("{path}{i}/"))),
        _ => None,
    }
}

/// The rule's name.
pub fn rule_name(rule: &Value) -> &str {
    rule.get("name").and_then(Value::as_str).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn invalid_policies_are_recognised() {
        let check = |validate: Value| {
            let doc = json!({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "p"},
                "spec": {"rules": [{"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]}, "validate": validate}]}});
            Policy::from_document(&doc, "p.yaml", 0).unwrap().invalid
        };
        assert_eq!(check(json!({"pattern": {"spec": {}}})), None);
        assert!(check(json!({"pattern": "text"})).unwrap().contains("must be a map"));
        assert!(check(json!({"anyPattern": []})).unwrap().contains("non-empty"));
        assert!(check(json!({"pattern": {"metadata": {"+(labels)": {}}}})).unwrap().contains("+()"));
        let bad_op = json!({"deny": {"conditions": {"any": [{"key": 1, "operator": "Sorta", "value": 1}]}}});
        assert!(check(bad_op).unwrap().contains("unknown condition operator"));
    }

    #[test]
    fn failure_action_precedence() {
        let doc = json!({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "p"},
            "spec": {"validationFailureAction": "Audit",
                     "validationFailureActionOverrides": [{"action": "Enforce", "namespaces": ["prod-*"]}],
                     "rules": []}});
        let p = Policy::from_document(&doc, "p.yaml", 0).unwrap();
        let plain = json!({"name": "r"});
        let enforcing = json!({"name": "r", "validate": {"failureAction": "Enforce"}});
        assert_eq!(p.failure_action(&plain, "dev"), FailureAction::Audit);
        assert_eq!(p.failure_action(&plain, "prod-eu"), FailureAction::Enforce);
        assert_eq!(p.failure_action(&enforcing, "dev"), FailureAction::Enforce);
        let rule_override = json!({"name": "r", "validate": {"failureAction": "Enforce",
            "failureActionOverrides": [{"action": "Audit", "namespaces": ["dev"]}]}});
        assert_eq!(p.failure_action(&rule_override, "dev"), FailureAction::Audit);
    }
}
