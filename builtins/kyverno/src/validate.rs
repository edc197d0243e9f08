//! The pattern tree walk (`validate.MatchPattern`): a resource against a
//! `validate.pattern`, with anchors, arrays and wildcard metadata keys.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::anchor::{self, AnchorKind};
use crate::pattern;
use sealbox_formats::glob;

/// How a pattern judged a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    /// A condition or global anchor did not hold: the rule does not apply.
    Skip(String),
    /// The resource violates the pattern at `path`.
    Fail {
        path: String,
        message: String,
    },
    /// An anchored key of the pattern never occurs in the resource (Kyverno
    /// reports this as a rule error).
    Error(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Plain,
    Conditional,
    Global,
    Negation,
}

#[derive(Debug, Clone)]
struct WalkError {
    kind: Kind,
    path: String,
    message: String,
    /// Set for the combined skip of an array whose elements all skipped, as
    /// opposed to an anchor at this level that did not hold.
    from_array: bool,
}

impl WalkError {
    fn plain(path: &str, message: String) -> Self {
        WalkError { kind: Kind::Plain, path: path.to_string(), message, from_array: false }
    }
    fn is_skip(&self) -> bool {
        matches!(self.kind, Kind::Conditional | Kind::Global)
    }
}

/// Records, per anchored key, whether any visited resource map had it.
#[derive(Default)]
struct AnchorMap {
    seen: BTreeMap<String, bool>,
}

impl AnchorMap {
    fn check(&mut self, pattern: &Map<String, Value>, resource: &Map<String, Value>) {
        for key in pattern.keys() {
            if let Some(a) = anchor::parse(key)
                && matches!(a.kind, AnchorKind::Condition | AnchorKind::Existence | AnchorKind::Negation)
            {
                let entry = self.seen.entry(key.clone()).or_insert(false);
                if !*entry && resource.contains_key(a.key) {
                    *entry = true;
                }
            }
        }
    }
    fn keys_missing(&self) -> bool {
        self.seen.values().any(|v| !v)
    }
}

type Walk = Result<(), WalkError>;

/// Matches `resource` against `pattern` the way Kyverno's validate rule does.
pub fn match_pattern(resource: &Value, pattern: &Value) -> Outcome {
    let mut ac = AnchorMap::default();
    match element(resource, pattern, "/", &mut ac) {
        Ok(()) => Outcome::Pass,
        Err(e) if e.is_skip() => Outcome::Skip(e.message),
        Err(e) if e.kind == Kind::Negation => Outcome::Fail { path: e.path, message: e.message },
        Err(e) if ac.keys_missing() => Outcome::Error(e.message),
        Err(e) => Outcome::Fail { path: e.path, message: e.message },
    }
}

fn element(resource: &Value, pattern: &Value, path: &str, ac: &mut AnchorMap) -> Walk {
    match pattern {
        Value::Object(pmap) => {
            let Value::Object(rmap) = resource else {
                return Err(WalkError::plain(
                    path,
                    format!(
                        "pattern and resource have different structures. Path: {path}. Expected map, found {}",
                        type_name(resource)
                    ),
                ));
            };
            ac.check(pmap, rmap);
            validate_map(rmap, pmap, path, ac)
        }
        Value::Array(parr) => {
            let Value::Array(rarr) = resource else {
                return Err(WalkError::plain(
                    path,
                    format!(
                        "validation rule failed at path {path}, resource does not satisfy the expected overlay pattern"
                    ),
                ));
            };
            validate_array(rarr, parr, path, ac)
        }
        scalar => {
            let ok = match resource {
                Value::Array(items) => items.iter().all(|v| pattern::validate(v, scalar)),
                v => pattern::validate(v, scalar),
            };
            if ok {
                Ok(())
            } else {
                Err(WalkError::plain(
                    path,
                    format!(
                        "resource value '{}' does not match '{}' at path {path}",
                        go_value(resource),
                        go_value(scalar)
                    ),
                ))
            }
        }
    }
}

fn validate_map(rmap: &Map<String, Value>, pmap: &Map<String, Value>, path: &str, ac: &mut AnchorMap) -> Walk {
    let expanded = expand_metadata_wildcards(pmap, rmap);
    let pmap = expanded.as_ref().unwrap_or(pmap);
    // Map keys iterate in sorted order, which is the order Kyverno sorts them into.
    let is_anchor = |k: &str| {
        matches!(
            anchor::parse(k).map(|a| a.kind),
            Some(AnchorKind::Condition | AnchorKind::Existence | AnchorKind::Equality | AnchorKind::Negation)
        )
    };
    let anchors = pmap.iter().filter(|(k, _)| is_anchor(k));
    // An array below an anchor whose elements all skipped only skips this
    // map when no sibling anchor applied; an anchor at this level that did
    // not hold skips it, and later plain failures are then moot.
    let mut applied = 0;
    let mut array_skips = Vec::new();
    let mut condition_error: Option<WalkError> = None;
    for (k, v) in anchors {
        match handle(k, v, rmap, path, ac) {
            Ok(()) => applied += 1,
            Err(e) if e.is_skip() && e.from_array => array_skips.push(e),
            Err(e) if e.is_skip() => {
                condition_error.get_or_insert(e);
            }
            Err(_) if condition_error.is_some() => {}
            Err(e) => return Err(e),
        }
    }
    if let Some(e) = condition_error {
        return Err(e);
    }
    if applied == 0 && !array_skips.is_empty() {
        return combine_skips(0, array_skips, path);
    }
    // Global anchors and keys hiding nested anchors go first so their
    // conditions decide before plain checks fail; pushing each to the front
    // reverses their sorted order, as Kyverno's list does.
    let front =
        |k: &str, v: &Value| anchor::parse(k).is_some_and(|a| a.kind == AnchorKind::Global) || has_nested_anchors(v);
    let first = pmap.iter().rev().filter(|(k, v)| !is_anchor(k) && front(k, v));
    let rest = pmap.iter().filter(|(k, v)| !is_anchor(k) && !front(k, v));
    for (k, v) in first.chain(rest) {
        handle(k, v, rmap, path, ac)?;
    }
    Ok(())
}

fn handle(key: &str, pat: &Value, rmap: &Map<String, Value>, path: &str, ac: &mut AnchorMap) -> Walk {
    let parsed = anchor::parse(key);
    let Some(a) = parsed.filter(|a| a.kind != AnchorKind::AddIfNotPresent) else {
        return default_handler(key, pat, rmap, path, ac);
    };
    let current = format!("{path}{}/", a.key);
    let value = rmap.get(a.key);
    match a.kind {
        AnchorKind::Negation => match value {
            Some(_) => Err(WalkError {
                kind: Kind::Negation,
                path: current.clone(),
                message: format!("negation anchor matched in resource: {current} is not allowed"),
                from_array: false,
            }),
            None => Ok(()),
        },
        AnchorKind::Equality => match value {
            Some(v) => element(v, pat, &current, ac),
            None => Ok(()),
        },
        AnchorKind::Condition => match value {
            Some(v) => element(v, pat, &current, ac).map_err(|e| WalkError {
                kind: Kind::Conditional,
                path: e.path,
                message: format!("conditional anchor mismatch: {}", e.message),
                from_array: false,
            }),
            None => Err(WalkError {
                kind: Kind::Conditional,
                path: current,
                message: "conditional anchor mismatch: conditional anchor key doesn't exist in the resource".into(),
                from_array: false,
            }),
        },
        AnchorKind::Global => match value {
            Some(v) => element(v, pat, &current, ac).map_err(|e| WalkError {
                kind: Kind::Global,
                path: e.path,
                message: format!("global anchor mismatch: {}", e.message),
                from_array: false,
            }),
            None => Ok(()),
        },
        AnchorKind::Existence => match value {
            None => Ok(()),
            Some(Value::Array(items)) => {
                let Value::Array(pats) = pat else {
                    return Err(WalkError::plain(
                        &current,
                        "invalid pattern type: Pattern has to be of list to compare against resource".into(),
                    ));
                };
                for p in pats {
                    if !p.is_object() {
                        return Err(WalkError::plain(
                            &current,
                            "invalid pattern type: Pattern has to be of type map to compare against items in resource"
                                .into(),
                        ));
                    }
                    let found = items
                        .iter()
                        .enumerate()
                        .any(|(i, item)| element(item, p, &format!("{current}{i}/"), ac).is_ok());
                    if !found {
                        return Err(WalkError::plain(
                            &current,
                            format!("existence anchor validation failed at path {current}"),
                        ));
                    }
                }
                Ok(())
            }
            Some(other) => Err(WalkError::plain(
                &current,
                format!(
                    "invalid resource type {}: Existence ^ () anchor can be used only on list/array type resource",
                    type_name(other)
                ),
            )),
        },
        AnchorKind::AddIfNotPresent => Ok(()),
    }
}

fn default_handler(key: &str, pat: &Value, rmap: &Map<String, Value>, path: &str, ac: &mut AnchorMap) -> Walk {
    let value = rmap.get(key);
    if pat.as_str() == Some("*") {
        return match value {
            Some(v) if !v.is_null() => Ok(()),
            _ => Err(WalkError::plain(path, format!("{path}/{key} not found"))),
        };
    }
    element(value.unwrap_or(&Value::Null), pat, &format!("{path}{key}/"), ac)
}

fn validate_array(rarr: &[Value], parr: &[Value], path: &str, ac: &mut AnchorMap) -> Walk {
    let Some(first) = parr.first() else {
        return Err(WalkError::plain(path, "pattern Array empty".into()));
    };
    match first {
        Value::Object(_) => {
            let mut applied = 0;
            let mut skips = Vec::new();
            for (i, item) in rarr.iter().enumerate() {
                match element(item, first, &format!("{path}{i}/"), ac) {
                    Ok(()) => applied += 1,
                    Err(e) if e.is_skip() => skips.push(e),
                    Err(e) => return Err(e),
                }
            }
            combine_skips(applied, skips, path)
        }
        Value::Array(_) => {
            if rarr.len() < parr.len() {
                return Err(WalkError::plain(
                    "",
                    format!(
                        "validate Array failed, array length mismatch, resource Array len is {} and pattern Array len is {}",
                        rarr.len(),
                        parr.len()
                    ),
                ));
            }
            let mut applied = 0;
            let mut skips = Vec::new();
            for (i, p) in parr.iter().enumerate() {
                match element(&rarr[i], p, &format!("{path}{i}/"), ac) {
                    Ok(()) => applied += 1,
                    Err(e) if e.is_skip() => skips.push(e),
                    Err(e) => return Err(e),
                }
            }
            combine_skips(applied, skips, path)
        }
        scalar => element(&Value::Array(rarr.to_vec()), scalar, path, ac),
    }
}

fn combine_skips(applied: usize, skips: Vec<WalkError>, path: &str) -> Walk {
    if applied > 0 || skips.is_empty() {
        return Ok(());
    }
    let kind = if skips.iter().any(|e| e.kind == Kind::Global) { Kind::Global } else { Kind::Conditional };
    let message = skips.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join("; ");
    Err(WalkError { kind, path: path.to_string(), message, from_array: true })
}

fn has_nested_anchors(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.iter().any(|(k, v)| anchor::parse(k).is_some() || has_nested_anchors(v)),
        Value::Array(a) => a.iter().any(has_nested_anchors),
        _ => false,
    }
}

/// Replaces wildcard keys under `metadata.labels` / `metadata.annotations`
/// of the pattern by the first (sorted) resource key they match, keeping
/// anchors on the key. `None` when nothing changes.
fn expand_metadata_wildcards(pmap: &Map<String, Value>, rmap: &Map<String, Value>) -> Option<Map<String, Value>> {
    let (meta_key, Value::Object(pmeta)) = pmap.iter().find(|(k, _)| anchor::strip(k) == "metadata")? else {
        return None;
    };
    let rmeta = rmap.get("metadata").and_then(Value::as_object);
    let mut new_meta = pmeta.clone();
    let mut changed = false;
    for section in ["labels", "annotations"] {
        let Some((skey, Value::Object(pdata))) = pmeta.iter().find(|(k, _)| anchor::strip(k) == section) else {
            continue;
        };
        let rdata = rmeta.and_then(|m| m.get(section)).and_then(Value::as_object);
        let mut out = Map::new();
        for (k, v) in pdata {
            let parsed = anchor::parse(k);
            let bare = parsed.as_ref().map(|a| a.key).unwrap_or(k);
            if glob::has_wildcard(bare)
                && let Some(rk) = rdata.and_then(|r| r.keys().find(|rk| glob::wildcard(bare, rk)))
            {
                out.insert(anchor::wrap(parsed.map(|a| a.kind), rk), v.clone());
                changed = true;
                continue;
            }
            out.insert(k.clone(), v.clone());
        }
        new_meta.insert(skey.clone(), Value::Object(out));
    }
    if !changed {
        return None;
    }
    let mut new = pmap.clone();
    new.insert(meta_key.clone(), Value::Object(new_meta));
    Some(new)
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// Go's `%v` spelling of a value, for messages.
pub fn go_value(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::String(s) => s.clone(),
        Value::Number(n) => crate::gofmt::sprint_number(n),
        Value::Bool(b) => b.to_string(),
        Value::Array(a) => format!("[{}]", a.iter().map(go_value).collect::<Vec<_>>().join(" ")),
        Value::Object(m) => {
            format!("map[{}]", m.iter().map(|(k, v)| format!("{k}:{}", go_value(v))).collect::<Vec<_>>().join(" "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn status(resource: Value, pattern: Value) -> &'static str {
        match match_pattern(&resource, &pattern) {
            Outcome::Pass => "pass",
            Outcome::Skip(_) => "skip",
            Outcome::Fail { .. } => "fail",
            Outcome::Error(_) => "error",
        }
    }

    #[test]
    fn condition_anchors_skip_and_gate() {
        let pattern = json!({"spec": {"containers": [{"(image)": "*:latest", "imagePullPolicy": "Always"}]}});
        let pod =
            |image: &str, policy: &str| json!({"spec": {"containers": [{"image": image, "imagePullPolicy": policy}]}});
        assert_eq!(status(pod("nginx:1", "IfNotPresent"), pattern.clone()), "skip");
        assert_eq!(status(pod("nginx:latest", "IfNotPresent"), pattern.clone()), "fail");
        assert_eq!(status(pod("nginx:latest", "Always"), pattern), "pass");
    }

    #[test]
    fn negation_equality_existence_and_global() {
        let no_host_path = json!({"spec": {"=(volumes)": [{"X(hostPath)": "null"}]}});
        assert_eq!(status(json!({"spec": {"volumes": [{"hostPath": {}}]}}), no_host_path.clone()), "fail");
        assert_eq!(status(json!({"spec": {"volumes": [{"emptyDir": {}}]}}), no_host_path.clone()), "pass");
        assert_eq!(status(json!({"spec": {}}), no_host_path), "pass");
        let exists = json!({"spec": {"^(containers)": [{"image": "trusted/*"}]}});
        assert_eq!(
            status(json!({"spec": {"containers": [{"image": "x"}, {"image": "trusted/a"}]}}), exists.clone()),
            "pass"
        );
        assert_eq!(status(json!({"spec": {"containers": [{"image": "x"}]}}), exists), "fail");
        let global = json!({"metadata": {"<(namespace)": "prod"}, "spec": {"priority": 1}});
        assert_eq!(status(json!({"metadata": {"namespace": "dev"}, "spec": {}}), global.clone()), "skip");
        assert_eq!(status(json!({"metadata": {"namespace": "prod"}, "spec": {"priority": 2}}), global), "fail");
    }

    #[test]
    fn sibling_anchor_applied_beats_array_skip() {
        // An =() anchor whose array elements all skip does not skip the map
        // when a sibling anchor applied (Kyverno validate_test "test-46").
        let pattern = json!({"spec": {
            "=(initContainers)": [{"(name)": "!istio-init", "=(securityContext)": {"=(runAsUser)": ">0"}}],
            "=(containers)": [{"=(securityContext)": {"=(runAsUser)": ">0"}}]}});
        let resource = json!({"spec": {
            "initContainers": [{"name": "istio-init", "securityContext": {"runAsUser": 0}}],
            "containers": [{"securityContext": {"runAsUser": 1000}}]}});
        assert_eq!(status(resource, pattern), "pass");
    }

    #[test]
    fn missing_condition_key_is_an_error_and_star_needs_a_value() {
        // Kyverno's quirk: a plain failure while some anchored key of the
        // pattern never occurred in the resource is reported as an error.
        let pattern = json!({"spec": {"X(hostPath)": "null", "name": "x"}});
        assert_eq!(status(json!({"spec": {"name": "y"}}), pattern.clone()), "error");
        assert_eq!(status(json!({"spec": {"name": "y", "hostPath": "/"}}), pattern), "fail");
        let condition = json!({"spec": {"containers": [{"name": "x", "(image)": "a"}]}});
        assert_eq!(status(json!({"spec": {"containers": [{"name": "y"}]}}), condition), "skip");
        let star = json!({"metadata": {"labels": {"team": "*"}}});
        assert_eq!(status(json!({"metadata": {"labels": {}}}), star.clone()), "fail");
        assert_eq!(status(json!({"metadata": {"labels": {"team": "x"}}}), star), "pass");
        let wildcard_key = json!({"metadata": {"labels": {"app.kubernetes.io/*": "?*"}}});
        assert_eq!(
            status(json!({"metadata": {"labels": {"app.kubernetes.io/name": "web"}}}), wildcard_key.clone()),
            "pass"
        );
        assert_eq!(status(json!({"metadata": {"labels": {"other": "web"}}}), wildcard_key), "fail");
        assert_eq!(status(json!({"a": 1}), json!({"a": []})), "fail");
    }
}
