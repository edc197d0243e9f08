//! Autogen: the `autogen-<rule>` (Pod controllers) and
//! `autogen-cronjob-<rule>` (CronJob) rules Kyverno derives from rules that
//! match Pods, steered by the `pod-policies.kyverno.io/autogen-controllers`
//! annotation.

use serde_json::{Map, Value, json};

use crate::matching::parse_kind_selector;
use crate::policy::{Policy, rule_name};

const ANNOTATION: &str = "pod-policies.kyverno.io/autogen-controllers";
const CONTROLLERS: [&str; 6] = ["DaemonSet", "Deployment", "Job", "ReplicaSet", "ReplicationController", "StatefulSet"];
const ALL: [&str; 7] =
    ["CronJob", "DaemonSet", "Deployment", "Job", "ReplicaSet", "ReplicationController", "StatefulSet"];

fn kind_names(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(|k| parse_kind_selector(k).2.to_string()).collect())
        .unwrap_or_default()
}

fn descriptions(block: Option<&Value>) -> Vec<&Value> {
    let Some(block) = block else { return vec![] };
    let mut out = Vec::new();
    if let Some(r) = block.get("resources") {
        out.push(r);
    }
    for key in ["any", "all"] {
        if let Some(Value::Array(filters)) = block.get(key) {
            out.extend(filters.iter().filter_map(|f| f.get("resources")));
        }
    }
    out
}

/// Whether autogen may apply to the policy (Kyverno's `CanAutoGen`).
fn can_autogen(policy: &Policy) -> bool {
    let mut needed = false;
    for rule in policy.rules() {
        if rule.get("generate").is_some() {
            return false;
        }
        if let Some(m) = rule.get("mutate") {
            let json6902 = m.get("patchesJson6902").is_some()
                || m.get("foreach")
                    .and_then(Value::as_array)
                    .is_some_and(|f| f.iter().any(|e| e.get("patchesJson6902").is_some()));
            if json6902 {
                return false;
            }
        }
        for rd in descriptions(rule.get("match")).into_iter().chain(descriptions(rule.get("exclude"))) {
            let has = |k: &str| {
                rd.get(k).is_some_and(|v| {
                    !v.is_null() && v.as_str() != Some("") && v.as_array().is_none_or(|a| !a.is_empty())
                })
            };
            let kinds = kind_names(rd.get("kinds"));
            if has("name")
                || has("names")
                || has("selector")
                || has("annotations")
                || (kinds.len() > 1 && kinds.iter().any(|k| k == "Pod"))
            {
                return false;
            }
            needed |= kinds.iter().any(|k| k == "Pod" || ALL.contains(&k.as_str()));
        }
    }
    needed
}

/// The rules Kyverno evaluates for `policy`: its own (minus stale
/// `autogen-` ones when generation happens) followed by generated ones.
pub fn compute_rules(policy: &Policy) -> Vec<Value> {
    let rules = policy.rules().to_vec();
    if !can_autogen(policy) {
        return rules;
    }
    let controllers: Vec<String> = match policy.annotations.get(ANNOTATION).and_then(Value::as_str) {
        Some(list) => {
            let mut v: Vec<String> = list.split(',').map(|s| s.trim().to_string()).collect();
            v.sort();
            v
        }
        None => ALL.iter().map(|s| s.to_string()).collect(),
    };
    if controllers.len() == 1 && controllers[0] == "none" {
        return rules;
    }
    let mut generated = Vec::new();
    for rule in &rules {
        let pod_controllers: Vec<String> = controllers.iter().filter(|c| *c != "CronJob").cloned().collect();
        if !pod_controllers.is_empty()
            && let Some(r) = rule_for_controllers(rule, &pod_controllers)
        {
            generated.push(rewrite(&r, false));
        }
        if controllers.iter().any(|c| c.contains("CronJob") || c == "all")
            && let Some(base) = rule_for_controllers(rule, &controllers)
            && let Some(r) = generate(
                &base,
                &format!("autogen-cronjob-{}", rule_name(rule)),
                "jobTemplate",
                &["CronJob".to_string()],
                true,
            )
        {
            generated.push(rewrite(&r, true));
        }
    }
    if generated.is_empty() {
        return rules;
    }
    let mut out: Vec<Value> = rules.into_iter().filter(|r| !rule_name(r).starts_with("autogen-")).collect();
    out.extend(generated);
    out
}

fn rule_for_controllers(rule: &Value, controllers: &[String]) -> Option<Value> {
    let name = rule_name(rule);
    if name.starts_with("autogen-") || controllers.is_empty() {
        return None;
    }
    let match_kinds: Vec<String> =
        descriptions(rule.get("match")).iter().flat_map(|rd| kind_names(rd.get("kinds"))).collect();
    let exclude_kinds: Vec<String> =
        descriptions(rule.get("exclude")).iter().flat_map(|rd| kind_names(rd.get("kinds"))).collect();
    if !match_kinds.iter().any(|k| k == "Pod")
        || (!exclude_kinds.is_empty() && !exclude_kinds.iter().any(|k| k == "Pod"))
    {
        return None;
    }
    let validated: Vec<String> = if controllers.iter().any(|c| c == "all") {
        CONTROLLERS.iter().map(|s| s.to_string()).collect()
    } else {
        let v: Vec<String> = controllers.iter().filter(|c| CONTROLLERS.contains(&c.as_str())).cloned().collect();
        if v.is_empty() { controllers.to_vec() } else { v }
    };
    generate(rule, &format!("autogen-{name}"), "template", &validated, false)
}

fn truncate_name(name: &str) -> String {
    name.chars().take(63).collect()
}

/// Kyverno's `generateRule`: retargets kinds and wraps patterns under `spec.<tpl_key>`.
fn generate(rule: &Value, name: &str, tpl_key: &str, kinds: &[String], replace_all_kinds: bool) -> Option<Value> {
    let mut out = rule.as_object()?.clone();
    out.insert("name".into(), Value::String(truncate_name(name)));
    let kinds_value = Value::Array(kinds.iter().map(|k| Value::String(k.clone())).collect());
    let retarget = |block: &mut Value, is_exclude: bool| {
        let Value::Object(b) = block else { return };
        for key in ["any", "all"] {
            if let Some(Value::Array(filters)) = b.get_mut(key)
                && !filters.is_empty()
            {
                for f in filters.iter_mut() {
                    if let Some(Value::Object(rd)) = f.get_mut("resources") {
                        let has_pod = kind_names(rd.get("kinds")).iter().any(|k| k == "Pod");
                        if replace_all_kinds || has_pod {
                            rd.insert("kinds".into(), kinds_value.clone());
                        }
                    }
                }
                return;
            }
        }
        if let Some(Value::Object(rd)) = b.get_mut("resources")
            && (!is_exclude || rd.get("kinds").and_then(Value::as_array).is_some_and(|a| !a.is_empty()))
        {
            rd.insert("kinds".into(), kinds_value.clone());
        }
    };
    if let Some(m) = out.get_mut("match") {
        retarget(m, false);
    }
    if let Some(e) = out.get_mut("exclude") {
        retarget(e, true);
    }
    let wrap = |p: &Value| json!({"spec": {tpl_key: p}});
    if let Some(Value::Object(v)) = rule.get("validate") {
        let mut nv = Map::new();
        for k in ["message", "failureAction", "failureActionOverrides", "allowExistingViolations"] {
            if let Some(x) = v.get(k) {
                nv.insert(k.into(), x.clone());
            }
        }
        if let Some(p) = v.get("pattern").filter(|p| !p.is_null()) {
            nv.insert("pattern".into(), wrap(p));
        } else if let Some(d) = v.get("deny").filter(|p| !p.is_null()) {
            nv.insert("deny".into(), d.clone());
        } else if let Some(ps) = v.get("podSecurity").filter(|p| !p.is_null()) {
            nv.insert("podSecurity".into(), ps.clone());
        } else if let Some(Value::Array(any)) = v.get("anyPattern") {
            nv.insert("anyPattern".into(), Value::Array(any.iter().map(wrap).collect()));
        } else if let Some(f) = v.get("foreach").filter(|f| f.as_array().is_some_and(|a| !a.is_empty())) {
            nv.insert("foreach".into(), f.clone());
        } else if v.get("cel").is_some() || v.get("assert").is_some() {
            return Some(Value::Object(out));
        } else {
            return None;
        }
        out.insert("validate".into(), Value::Object(nv));
        return Some(Value::Object(out));
    }
    if let Some(Value::Object(m)) = rule.get("mutate") {
        if let Some(p) = m.get("patchStrategicMerge") {
            out.insert("mutate".into(), json!({"patchStrategicMerge": wrap(p)}));
            return Some(Value::Object(out));
        }
        if let Some(Value::Array(fe)) = m.get("foreach") {
            let list: Vec<Value> = fe
                .iter()
                .map(|f| {
                    let mut e = Map::new();
                    for k in ["list", "context", "preconditions"] {
                        if let Some(x) = f.get(k) {
                            e.insert(k.into(), x.clone());
                        }
                    }
                    e.insert("patchStrategicMerge".into(), wrap(f.get("patchStrategicMerge").unwrap_or(&Value::Null)));
                    Value::Object(e)
                })
                .collect();
            out.insert("mutate".into(), json!({"foreach": list}));
            return Some(Value::Object(out));
        }
    }
    if rule.get("verifyImages").is_some() {
        return Some(Value::Object(out));
    }
    None
}

const POD_REPLACEMENTS: [(&str, &str); 4] = [
    ("request.object.spec", "request.object.spec.template.spec"),
    ("request.oldObject.spec", "request.oldObject.spec.template.spec"),
    ("request.object.metadata", "request.object.spec.template.metadata"),
    ("request.oldObject.metadata", "request.oldObject.spec.template.metadata"),
];

const CRONJOB_REPLACEMENTS: [(&str, &str); 4] = [
    ("request.object.spec", "request.object.spec.jobTemplate.spec.template.spec"),
    ("request.oldObject.spec", "request.oldObject.spec.jobTemplate.spec.template.spec"),
    ("request.object.metadata", "request.object.spec.jobTemplate.spec.template.metadata"),
    ("request.oldObject.metadata", "request.oldObject.spec.jobTemplate.spec.template.metadata"),
];

/// Retargets a generated rule's text at the pod template: CEL rules
/// (`validate.cel`, `celPreconditions`) name `object.*`, the others
/// `request.object.*`.
fn rewrite(rule: &Value, cronjob: bool) -> Value {
    let cel = rule.pointer("/validate/cel").is_some_and(|c| !c.is_null())
        || rule.get("celPreconditions").is_some_and(|c| !c.is_null());
    if cel {
        return map_strings(rule, &|s| crate::cel_match::autogen_expression(s, cronjob, false));
    }
    replace_fields(rule, if cronjob { &CRONJOB_REPLACEMENTS } else { &POD_REPLACEMENTS })
}

fn map_strings(v: &Value, f: &dyn Fn(&str) -> String) -> Value {
    match v {
        Value::String(s) => Value::String(f(s)),
        Value::Array(a) => Value::Array(a.iter().map(|x| map_strings(x, f)).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, x)| (k.clone(), map_strings(x, f))).collect()),
        other => other.clone(),
    }
}

/// Rewrites `request.object.*` references in every string and key of the rule.
fn replace_fields(rule: &Value, replacements: &[(&str, &str)]) -> Value {
    let fix = |s: &str| replacements.iter().fold(s.to_string(), |acc, (from, to)| acc.replace(from, to));
    match rule {
        Value::String(s) => Value::String(fix(s)),
        Value::Array(a) => Value::Array(a.iter().map(|v| replace_fields(v, replacements)).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (fix(k), replace_fields(v, replacements))).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(annotations: Value, rules: Value) -> Policy {
        let doc = json!({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy",
                         "metadata": {"name": "p", "annotations": annotations}, "spec": {"rules": rules}});
        Policy::from_document(&doc, "p.yaml", 0).unwrap()
    }

    #[test]
    fn generates_controller_and_cronjob_rules() {
        let p = policy(
            json!({}),
            json!([{"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
                    "preconditions": {"all": [{"key": "{{request.object.metadata.name}}", "operator": "NotEquals", "value": ""}]},
                    "validate": {"message": "m", "pattern": {"spec": {"containers": [{"image": "!*:latest"}]}}}}]),
        );
        let rules = compute_rules(&p);
        let names: Vec<&str> = rules.iter().map(rule_name).collect();
        assert_eq!(names, ["r", "autogen-r", "autogen-cronjob-r"]);
        assert_eq!(rules[1]["validate"]["pattern"]["spec"]["template"]["spec"]["containers"][0]["image"], "!*:latest");
        assert_eq!(rules[1]["match"]["any"][0]["resources"]["kinds"].as_array().map(Vec::len), Some(6));
        assert_eq!(rules[1]["preconditions"]["all"][0]["key"], "{{request.object.spec.template.metadata.name}}");
        assert_eq!(
            rules[2]["validate"]["pattern"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["image"],
            "!*:latest"
        );
        assert_eq!(rules[2]["match"]["any"][0]["resources"]["kinds"], json!(["CronJob"]));
    }

    #[test]
    fn annotation_and_names_limit_generation() {
        let rule = json!([{"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]}, "validate": {"pattern": {"a": "b"}}}]);
        assert_eq!(compute_rules(&policy(json!({ANNOTATION: "none"}), rule.clone())).len(), 1);
        let only_deploy = compute_rules(&policy(json!({ANNOTATION: "Deployment"}), rule));
        assert_eq!(only_deploy.len(), 2);
        assert_eq!(only_deploy[1]["match"]["any"][0]["resources"]["kinds"], json!(["Deployment"]));
        let named = json!([{"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"], "names": ["x"]}}]}, "validate": {"pattern": {"a": "b"}}}]);
        assert_eq!(compute_rules(&policy(json!({}), named)).len(), 1);
    }
}
