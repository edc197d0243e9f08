//! `match` / `exclude`: which resources a rule applies to (kinds in every
//! form, names, namespaces, annotations, label and namespace selectors,
//! operations, and user info when the request carries it).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use regex::Regex;
use serde_json::{Map, Value};

use crate::resource::Resource;
use sealbox_formats::glob;

/// Who made the request (from a test's userinfo file); absent offline by default.
#[derive(Debug, Clone, Default)]
pub struct UserInfo {
    pub username: String,
    pub groups: Vec<String>,
    pub roles: Vec<String>,
    pub cluster_roles: Vec<String>,
}

/// The request facts matching looks at.
#[derive(Debug, Clone)]
pub struct RequestInfo<'a> {
    pub operation: &'a str,
    pub user: Option<&'a UserInfo>,
    /// Labels of the resource's namespace (values file `namespaceSelector`).
    pub namespace_labels: Option<&'a Map<String, Value>>,
}

/// Whether `rule` applies to `resource`: its match holds and its exclude does not.
pub fn rule_applies(rule: &Value, resource: &Resource, req: &RequestInfo<'_>) -> Result<bool, String> {
    let Some(m) = rule.get("match") else { return Err("rule has no match block".into()) };
    if !block_matches(m, resource, req, false)? {
        return Ok(false);
    }
    match rule.get("exclude") {
        Some(e) if !e.is_null() => Ok(!block_matches(e, resource, req, true)?),
        _ => Ok(true),
    }
}

fn block_matches(block: &Value, resource: &Resource, req: &RequestInfo<'_>, exclude: bool) -> Result<bool, String> {
    let any = block.get("any").and_then(Value::as_array).filter(|a| !a.is_empty());
    let all = block.get("all").and_then(Value::as_array).filter(|a| !a.is_empty());
    if let Some(any) = any {
        for f in any {
            if filter_matches(f, resource, req, exclude)? {
                return Ok(true);
            }
        }
        return Ok(false);
    }
    if let Some(all) = all {
        for f in all {
            if !filter_matches(f, resource, req, exclude)? {
                return Ok(false);
            }
        }
        return Ok(true);
    }
    // The deprecated form: the block itself is one filter.
    let has_content =
        ["resources", "subjects", "roles", "clusterRoles"].iter().any(|k| block.get(k).is_some_and(|v| !is_empty(v)));
    if !has_content {
        return if exclude { Ok(false) } else { Err("match cannot be empty".into()) };
    }
    filter_matches(block, resource, req, exclude)
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.values().all(is_empty),
        Value::Array(a) => a.is_empty(),
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

fn filter_matches(filter: &Value, resource: &Resource, req: &RequestInfo<'_>, exclude: bool) -> Result<bool, String> {
    let resources = filter.get("resources").filter(|v| !is_empty(v));
    let user_parts = ["subjects", "roles", "clusterRoles"].iter().any(|k| filter.get(k).is_some_and(|v| !is_empty(v)));
    if resources.is_none() && !user_parts {
        return Ok(false);
    }
    if let Some(r) = resources
        && !resource_description_matches(r, resource, req)?
    {
        return Ok(false);
    }
    if user_parts {
        match req.user {
            Some(user) if !user_info_matches(filter, user) => return Ok(false),
            Some(_) => {}
            // Offline requests carry no user: match ignores these parts,
            // exclude never matches on them.
            None if exclude => return Ok(false),
            None => {}
        }
    }
    Ok(true)
}

fn strings(v: Option<&Value>) -> Vec<&str> {
    v.and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}

fn resource_description_matches(rd: &Value, resource: &Resource, req: &RequestInfo<'_>) -> Result<bool, String> {
    let ops = strings(rd.get("operations"));
    if !ops.is_empty() && !ops.iter().any(|o| o.eq_ignore_ascii_case(req.operation)) {
        return Ok(false);
    }
    let kinds = strings(rd.get("kinds"));
    if !kinds.is_empty() && !kinds.iter().any(|k| kind_matches(k, resource)) {
        return Ok(false);
    }
    if let Some(name) = rd.get("name").and_then(Value::as_str).filter(|s| !s.is_empty())
        && !glob::wildcard(name, resource.name())
    {
        return Ok(false);
    }
    let names = strings(rd.get("names"));
    if !names.is_empty() && !names.iter().any(|n| glob::wildcard(n, resource.name())) {
        return Ok(false);
    }
    let namespaces = strings(rd.get("namespaces"));
    if !namespaces.is_empty() {
        let ns = if resource.kind() == "Namespace" { resource.name() } else { resource.namespace() };
        if !namespaces.iter().any(|n| glob::wildcard(n, ns)) {
            return Ok(false);
        }
    }
    if let Some(Value::Object(want)) = rd.get("annotations") {
        let have = resource.annotations();
        let ok = want.iter().all(|(k, v)| {
            let v = v.as_str().unwrap_or("");
            have.iter().any(|(hk, hv)| glob::wildcard(k, hk) && glob::wildcard(v, hv.as_str().unwrap_or("")))
        });
        if !ok {
            return Ok(false);
        }
    }
    if let Some(sel) = rd.get("selector").filter(|v| !v.is_null())
        && !label_selector_matches(sel, &resource.labels())?
    {
        return Ok(false);
    }
    if let Some(sel) = rd.get("namespaceSelector").filter(|v| !v.is_null()) {
        if resource.kind() == "Namespace" || resource.namespace().is_empty() {
            return Ok(false);
        }
        let empty = Map::new();
        if !label_selector_matches(sel, req.namespace_labels.unwrap_or(&empty))? {
            return Ok(false);
        }
    }
    Ok(true)
}

fn version_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^(v\d+((alpha|beta)\d+)?|\*)$").expect("static regex"))
}

/// Parses a kind selector into (group, version, kind, subresource).
pub fn parse_kind_selector(sel: &str) -> (&str, &str, &str, &str) {
    fn split_sub(k: &str) -> (&str, &str) {
        k.split_once('.').unwrap_or((k, ""))
    }
    let mut parts = sel.splitn(4, '/');
    let (a, b, c, d) = (parts.next().unwrap_or(""), parts.next(), parts.next(), parts.next());
    match (b, c, d) {
        (None, _, _) => {
            let (k, s) = split_sub(a);
            ("*", "*", k, s)
        }
        (Some(b), None, _) if version_regex().is_match(a) => {
            let (k, s) = split_sub(b);
            ("*", a, k, s)
        }
        (Some(b), None, _) => ("*", "*", a, b),
        (Some(v), Some(k), None) => {
            let (k, s) = split_sub(k);
            (a, v, k, s)
        }
        (Some(v), Some(k), Some(s)) => (a, v, k, s),
    }
}

fn kind_matches(sel: &str, resource: &Resource) -> bool {
    let (g, v, k, sub) = parse_kind_selector(sel);
    let (rg, rv) = resource.group_version();
    // Offline resources are never subresources.
    if !sub.is_empty() && sub != "*" {
        return false;
    }
    glob::wildcard(k, resource.kind()) && glob::wildcard(g, rg) && glob::wildcard(v, rv)
}

/// A Kubernetes LabelSelector (matchLabels with wildcards, matchExpressions).
pub fn label_selector_matches(sel: &Value, labels: &Map<String, Value>) -> Result<bool, String> {
    let label = |k: &str| labels.get(k).map(crate::gofmt::sprint);
    if let Some(Value::Object(ml)) = sel.get("matchLabels") {
        for (k, v) in ml {
            let want = crate::gofmt::sprint(v);
            let ok = if glob::has_wildcard(k) || glob::has_wildcard(&want) {
                labels.iter().any(|(lk, lv)| glob::wildcard(k, lk) && glob::wildcard(&want, &crate::gofmt::sprint(lv)))
            } else {
                label(k).as_deref() == Some(want.as_str())
            };
            if !ok {
                return Ok(false);
            }
        }
    }
    if let Some(Value::Array(exprs)) = sel.get("matchExpressions") {
        for e in exprs {
            let key = e.get("key").and_then(Value::as_str).ok_or("matchExpressions entry has no key")?;
            let op = e.get("operator").and_then(Value::as_str).ok_or("matchExpressions entry has no operator")?;
            let values: Vec<String> = e
                .get("values")
                .and_then(Value::as_array)
                .map(|a| a.iter().map(crate::gofmt::sprint).collect())
                .unwrap_or_default();
            let have = label(key);
            let ok = match op {
                "In" => have.is_some_and(|h| values.contains(&h)),
                "NotIn" => !have.is_some_and(|h| values.contains(&h)),
                "Exists" => have.is_some(),
                "DoesNotExist" => have.is_none(),
                other => return Err(format!("unknown label selector operator {other:?}")),
            };
            if !ok {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

fn user_info_matches(filter: &Value, user: &UserInfo) -> bool {
    let roles = strings(filter.get("roles"));
    if !roles.is_empty() && !roles.iter().any(|r| user.roles.iter().any(|u| u == r)) {
        return false;
    }
    let cluster_roles = strings(filter.get("clusterRoles"));
    if !cluster_roles.is_empty() && !cluster_roles.iter().any(|r| user.cluster_roles.iter().any(|u| u == r)) {
        return false;
    }
    if let Some(Value::Array(subjects)) = filter.get("subjects")
        && !subjects.is_empty()
    {
        let ok = subjects.iter().any(|s| {
            let kind = s.get("kind").and_then(Value::as_str).unwrap_or("");
            let name = s.get("name").and_then(Value::as_str).unwrap_or("");
            match kind {
                "ServiceAccount" => {
                    let ns = s.get("namespace").and_then(Value::as_str).unwrap_or("");
                    glob::wildcard(&format!("system:serviceaccount:{ns}:{name}"), &user.username)
                }
                "Group" => user.groups.iter().any(|g| glob::wildcard(name, g)),
                _ => glob::wildcard(name, &user.username),
            }
        });
        if !ok {
            return false;
        }
    }
    true
}

/// Namespace labels by namespace name, from a values file's `namespaceSelector` list.
pub type NamespaceLabels = BTreeMap<String, Map<String, Value>>;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn res(v: Value) -> Resource {
        Resource { value: v, file: "t".into(), document: 0, line: 0 }
    }

    #[test]
    fn kinds_names_namespaces_selectors() {
        let pod = res(
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-1", "namespace": "prod", "labels": {"app": "web"}}}),
        );
        let req = RequestInfo { operation: "CREATE", user: None, namespace_labels: None };
        let rule = |m: Value| json!({"name": "r", "match": m});
        assert!(rule_applies(&rule(json!({"any": [{"resources": {"kinds": ["Pod"]}}]})), &pod, &req).unwrap());
        assert!(rule_applies(&rule(json!({"any": [{"resources": {"kinds": ["v1/Pod"]}}]})), &pod, &req).unwrap());
        assert!(!rule_applies(&rule(json!({"any": [{"resources": {"kinds": ["apps/v1/Pod"]}}]})), &pod, &req).unwrap());
        assert!(!rule_applies(&rule(json!({"any": [{"resources": {"kinds": ["Pod/status"]}}]})), &pod, &req).unwrap());
        assert!(
            rule_applies(
                &rule(json!({"resources": {"kinds": ["Pod"], "names": ["web-*"], "namespaces": ["p*"]}})),
                &pod,
                &req
            )
            .unwrap()
        );
        assert!(!rule_applies(&rule(json!({"all": [{"resources": {"kinds": ["Pod"]}}, {"resources": {"selector": {"matchLabels": {"app": "db"}}}}]})), &pod, &req).unwrap());
        assert!(
            rule_applies(
                &rule(json!({"any": [{"resources": {"kinds": ["Pod"], "operations": ["CREATE"]}}]})),
                &pod,
                &req
            )
            .unwrap()
        );
        let excl = json!({"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
                          "exclude": {"any": [{"resources": {"namespaces": ["prod"]}}]}});
        assert!(!rule_applies(&excl, &pod, &req).unwrap());
        let excl_user = json!({"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
                               "exclude": {"any": [{"clusterRoles": ["cluster-admin"]}]}});
        assert!(rule_applies(&excl_user, &pod, &req).unwrap());
        assert!(rule_applies(&rule(json!({})), &pod, &req).is_err());
    }
}
