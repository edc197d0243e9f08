//! Values files (`cli.kyverno.io/v1alpha1` Values, or the older bare
//! form): global values, per-policy/per-resource/per-rule values,
//! `foreachValues`, and namespace labels for `namespaceSelector`.

use serde_json::{Map, Value};

use crate::matching::NamespaceLabels;
use crate::testfile::get_ci;

/// Values for one rule of one policy.
#[derive(Debug, Clone, Default)]
pub struct RuleValues {
    pub name: String,
    pub values: Map<String, Value>,
    pub foreach_values: Map<String, Value>,
}

/// Values for one policy.
#[derive(Debug, Clone, Default)]
pub struct PolicyValues {
    pub name: String,
    /// Per resource name.
    pub resources: Vec<(String, Map<String, Value>)>,
    pub rules: Vec<RuleValues>,
}

/// A parsed values file.
#[derive(Debug, Clone, Default)]
pub struct Values {
    pub global: Map<String, Value>,
    pub policies: Vec<PolicyValues>,
    pub namespace_labels: NamespaceLabels,
    /// `namespaces[]`: whole Namespace objects by name (CEL `namespaceObject`).
    pub namespace_objects: std::collections::BTreeMap<String, Value>,
}

fn obj(v: Option<&Value>) -> Map<String, Value> {
    v.and_then(Value::as_object).cloned().unwrap_or_default()
}

fn name_of(v: &Value) -> String {
    get_ci(v, "name").and_then(Value::as_str).unwrap_or("").to_string()
}

impl Values {
    /// Reads a values document.
    pub fn from_document(doc: &Value) -> Result<Values, String> {
        if !doc.is_object() {
            return Err("a values file must hold an object".into());
        }
        let mut out = Values { global: obj(get_ci(doc, "globalValues")), ..Values::default() };
        if let Some(Value::Array(policies)) = get_ci(doc, "policies") {
            for p in policies {
                let mut pv = PolicyValues { name: name_of(p), ..PolicyValues::default() };
                if let Some(Value::Array(resources)) = get_ci(p, "resources") {
                    for r in resources {
                        pv.resources.push((name_of(r), obj(get_ci(r, "values"))));
                    }
                }
                if let Some(Value::Array(rules)) = get_ci(p, "rules") {
                    for r in rules {
                        pv.rules.push(RuleValues {
                            name: name_of(r),
                            values: obj(get_ci(r, "values")),
                            foreach_values: obj(get_ci(r, "foreachValues")),
                        });
                    }
                }
                out.policies.push(pv);
            }
        }
        if let Some(Value::Array(namespaces)) = get_ci(doc, "namespaceSelector") {
            for ns in namespaces {
                out.namespace_labels.insert(name_of(ns), obj(get_ci(ns, "labels")));
            }
        }
        if let Some(Value::Array(namespaces)) = get_ci(doc, "namespaces") {
            for ns in namespaces {
                let name = ns.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string();
                out.namespace_objects.insert(name, ns.clone());
            }
        }
        Ok(out)
    }

    /// Values for `resource` under `policy`.
    pub fn resource_values(&self, policy: &str, resource: &str) -> Option<&Map<String, Value>> {
        self.policies
            .iter()
            .filter(|p| p.name == policy)
            .flat_map(|p| &p.resources)
            .find(|(n, _)| n == resource)
            .map(|(_, v)| v)
    }

    /// Values for `rule` under `policy` (autogen rules share their source rule's values).
    pub fn rule_values(&self, policy: &str, rule: &str) -> Option<&RuleValues> {
        let base = rule.strip_prefix("autogen-cronjob-").or_else(|| rule.strip_prefix("autogen-")).unwrap_or(rule);
        self.policies
            .iter()
            .filter(|p| p.name == policy)
            .flat_map(|p| &p.rules)
            .find(|r| r.name == rule || r.name == base)
    }
}
