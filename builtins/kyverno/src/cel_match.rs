//! `matchConstraints` of CEL policies (ValidatingPolicy,
//! ValidatingAdmissionPolicy): Kubernetes admission rule semantics over a
//! resource's group, version, resource (plural), operation, scope and
//! name, with namespace and object label selectors.

use serde_json::{Map, Value};

use crate::matching::label_selector_matches;
use crate::resource::Resource;

/// Kinds whose resource name is not the guessed plural, and cluster-scoped
/// kinds (scope `Cluster`) among the built-ins.
const IRREGULAR: &[(&str, &str)] = &[("Endpoints", "endpoints"), ("PodSecurityPolicy", "podsecuritypolicies")];
const CLUSTER_SCOPED: &[&str] = &[
    "Namespace",
    "Node",
    "PersistentVolume",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "StorageClass",
    "PriorityClass",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "IngressClass",
    "RuntimeClass",
    "CSIDriver",
    "CSINode",
    "VolumeAttachment",
    "APIService",
    "ClusterPolicy",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
];

/// The resource (plural, lowercase) of a kind, as Kubernetes' RESTMapper
/// gives it for built-ins and `UnsafeGuessKindToResource` otherwise.
pub fn resource_of_kind(kind: &str) -> String {
    if let Some((_, r)) = IRREGULAR.iter().find(|(k, _)| *k == kind) {
        return r.to_string();
    }
    let lower = kind.to_ascii_lowercase();
    if lower.is_empty() {
        return lower;
    }
    if lower.ends_with('s') {
        format!("{lower}es")
    } else if let Some(stem) = lower.strip_suffix('y') {
        format!("{stem}ies")
    } else {
        format!("{lower}s")
    }
}

/// Whether `kind` is cluster-scoped (built-ins only; others are namespaced).
pub fn is_cluster_scoped(kind: &str) -> bool {
    CLUSTER_SCOPED.contains(&kind)
}

/// The request attributes a rule is matched against.
pub struct Attributes<'a> {
    pub resource: &'a Resource,
    pub operation: &'a str,
    /// Labels of the resource's namespace (values file), if known.
    pub namespace_labels: Option<&'a Map<String, Value>>,
}

fn strs(v: Option<&Value>) -> Vec<&str> {
    v.and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}

/// One `NamedRuleWithOperations`: groups, versions, resources (with
/// `*`, `res/*`, `*/sub`), operations, scope, resourceNames.
fn rule_matches(rule: &Value, a: &Attributes<'_>) -> bool {
    let (group, version) = a.resource.group_version();
    let kind = a.resource.kind();
    let resource = resource_of_kind(kind);
    let exact_or_star = |list: Vec<&str>, v: &str| list.iter().any(|x| *x == "*" || *x == v);
    if !exact_or_star(strs(rule.get("apiGroups")), group) || !exact_or_star(strs(rule.get("apiVersions")), version) {
        return false;
    }
    let ops = strs(rule.get("operations"));
    // Kyverno's CLI matches a rule that lists no operations on any.
    if !ops.is_empty() && !ops.iter().any(|o| *o == "*" || o.eq_ignore_ascii_case(a.operation)) {
        return false;
    }
    let resources = strs(rule.get("resources"));
    let res_ok = resources.iter().any(|r| match r.split_once('/') {
        // Subresources are never requested offline: only `*` and `x/*` forms
        // naming the main resource match, as `*/*` does.
        Some((main, _sub)) => main == "*" || main == resource,
        None => *r == "*" || *r == resource,
    });
    if !res_ok {
        return false;
    }
    let cluster = is_cluster_scoped(kind);
    match rule.get("scope").and_then(Value::as_str).unwrap_or("*") {
        "Cluster" if !cluster => return false,
        "Namespaced" if cluster => return false,
        _ => {}
    }
    let names = strs(rule.get("resourceNames"));
    names.is_empty() || names.contains(&a.resource.name())
}

/// Whether `constraints` (a `MatchResources`) select the request. A nil
/// constraint matches nothing, as in Kyverno's Kubernetes mode.
pub fn matches(constraints: Option<&Value>, a: &Attributes<'_>) -> Result<bool, String> {
    let Some(c) = constraints.filter(|c| c.is_object()) else { return Ok(false) };
    matches_resources(c, a, false)
}

/// A binding's `matchResources`: as [`matches`], but without
/// `resourceRules` it selects everything its policy does.
pub fn matches_binding(c: &Value, a: &Attributes<'_>) -> Result<bool, String> {
    matches_resources(c, a, true)
}

fn matches_resources(c: &Value, a: &Attributes<'_>, no_rules_match_all: bool) -> Result<bool, String> {
    let kind = a.resource.kind();
    if let Some(sel) = c.get("namespaceSelector").filter(|s| !s.is_null())
        && !is_cluster_scoped(kind)
    {
        let empty = Map::new();
        let labels = if kind == "Namespace" { &a.resource.labels() } else { a.namespace_labels.unwrap_or(&empty) };
        if !label_selector_matches(sel, labels).map_err(|e| format!("namespaceSelector: {e}"))? {
            return Ok(false);
        }
    }
    if let Some(sel) = c.get("objectSelector").filter(|s| !s.is_null())
        && !label_selector_matches(sel, &a.resource.labels()).map_err(|e| format!("objectSelector: {e}"))?
    {
        return Ok(false);
    }
    let excluded =
        c.get("excludeResourceRules").and_then(Value::as_array).is_some_and(|rs| rs.iter().any(|r| rule_matches(r, a)));
    if excluded {
        return Ok(false);
    }
    match c.get("resourceRules").and_then(Value::as_array) {
        Some(rs) if !rs.is_empty() => Ok(rs.iter().any(|r| rule_matches(r, a))),
        _ => Ok(no_rules_match_all),
    }
}

/// Pod controllers autogen can extend a Pod policy to, with the group and
/// version they live in.
pub const POD_CONTROLLERS: &[(&str, &str, &str)] = &[
    ("daemonsets", "apps", "DaemonSet"),
    ("deployments", "apps", "Deployment"),
    ("replicasets", "apps", "ReplicaSet"),
    ("statefulsets", "apps", "StatefulSet"),
    ("jobs", "batch", "Job"),
    ("cronjobs", "batch", "CronJob"),
];

/// Whether constraints are a single plain Pod rule (autogen applies).
pub fn is_plain_pod_rule(c: Option<&Value>) -> bool {
    let Some(c) = c else { return false };
    let Some([rule]) = c.get("resourceRules").and_then(Value::as_array).map(Vec::as_slice) else { return false };
    let only = |k: &str, v: &str| strs(rule.get(k)) == [v];
    only("apiGroups", "")
        && only("apiVersions", "v1")
        && only("resources", "pods")
        && strs(rule.get("resourceNames")).is_empty()
        && c.get("objectSelector").is_none_or(Value::is_null)
        && c.get("excludeResourceRules").and_then(Value::as_array).is_none_or(Vec::is_empty)
}

/// Rewrites a Pod expression for a controller's pod template: `object.spec`
/// and `object.metadata` (and `oldObject`'s) move under `template`
/// (`jobTemplate.spec.template` for CronJobs); with `keep_namespace`
/// (ValidatingPolicy, not ClusterPolicy) `metadata.namespace` stays.
pub fn autogen_expression(expr: &str, cronjob: bool, keep_namespace: bool) -> String {
    let template = if cronjob { "spec.jobTemplate.spec.template" } else { "spec.template" };
    let mut out = String::with_capacity(expr.len() + 32);
    let mut rest = expr;
    'outer: while !rest.is_empty() {
        for root in ["oldObject.", "object."] {
            if let Some(after) = rest.strip_prefix(root) {
                // `object.` must start an identifier, not end one (`myobject.`).
                let prev = out.chars().last();
                let starts = !prev.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
                for field in ["spec", "metadata"] {
                    if starts
                        && let Some(tail) = after.strip_prefix(field)
                        && !tail.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
                        && !(keep_namespace && field == "metadata" && tail.starts_with(".namespace"))
                    {
                        out.push_str(root);
                        out.push_str(template);
                        out.push('.');
                        out.push_str(field);
                        rest = tail;
                        continue 'outer;
                    }
                }
            }
        }
        let Some(c) = rest.chars().next() else { break };
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn res(v: Value) -> Resource {
        Resource { value: v, file: "r.yaml".into(), document: 0, line: 1 }
    }

    #[test]
    fn resources_are_guessed_like_kubernetes() {
        assert_eq!(resource_of_kind("Pod"), "pods");
        assert_eq!(resource_of_kind("Ingress"), "ingresses");
        assert_eq!(resource_of_kind("NetworkPolicy"), "networkpolicies");
        assert_eq!(resource_of_kind("Endpoints"), "endpoints");
    }

    #[test]
    fn rules_match_group_version_resource_operation_and_scope() {
        let deploy = res(json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}}));
        let a = Attributes { resource: &deploy, operation: "CREATE", namespace_labels: None };
        let c = |r: Value| json!({"resourceRules": [r]});
        let rule = json!({"apiGroups": ["apps"], "apiVersions": ["v1"], "resources": ["deployments"], "operations": ["CREATE", "UPDATE"]});
        assert_eq!(matches(Some(&c(rule.clone())), &a), Ok(true));
        let update = Attributes { operation: "DELETE", ..a };
        assert_eq!(matches(Some(&c(rule)), &update), Ok(false));
        let pods = json!({"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"], "operations": ["*"]});
        assert_eq!(matches(Some(&c(pods)), &a), Ok(false));
        let cluster = json!({"apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"], "operations": ["*"], "scope": "Cluster"});
        assert_eq!(matches(Some(&c(cluster)), &a), Ok(false));
        assert_eq!(matches(None, &a), Ok(false));
    }

    #[test]
    fn autogen_rewrites_object_paths_but_not_the_namespace() {
        assert_eq!(
            autogen_expression(
                "object.spec.containers.all(c, has(object.metadata.labels)) && object.metadata.namespace != ''",
                false,
                true
            ),
            "object.spec.template.spec.containers.all(c, has(object.spec.template.metadata.labels)) && object.metadata.namespace != ''"
        );
        assert_eq!(
            autogen_expression("oldObject.spec.x", true, true),
            "oldObject.spec.jobTemplate.spec.template.spec.x"
        );
        assert_eq!(autogen_expression("myobject.spec + object.?spec", false, true), "myobject.spec + object.?spec");
    }
}
