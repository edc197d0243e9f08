//! Condition operators (`deny.conditions`, `preconditions`): Equals, In,
//! AnyIn, GreaterThan, the Duration* family and friends, with Kyverno's
//! type rules (durations, quantities, wildcards, semver).

use std::cmp::Ordering;
use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value;

use crate::{gofmt, pattern, quantity};
use sealbox_formats::{glob, time};

/// Evaluates `key <operator> value`. Operator names are case-insensitive;
/// an unknown operator is an error.
pub fn evaluate_operator(operator: &str, key: &Value, value: &Value) -> Result<bool, String> {
    let op = operator.to_ascii_lowercase();
    Ok(match op.as_str() {
        "equal" | "equals" => equals(key, value),
        "notequal" | "notequals" => !key.is_null() && !equals(key, value),
        "in" => in_op(key, value, false),
        "notin" => in_op(key, value, true),
        "anyin" => any_in(key, value),
        "allin" => all_in(key, value),
        "anynotin" => any_not_in(key, value),
        "allnotin" => all_not_in(key, value),
        "greaterthan" => numeric(key, value, |o| o == Ordering::Greater),
        "greaterthanorequals" => numeric(key, value, |o| o != Ordering::Less),
        "lessthan" => numeric(key, value, |o| o == Ordering::Less),
        "lessthanorequals" => numeric(key, value, |o| o != Ordering::Greater),
        "durationgreaterthan" => durations(key, value, |o| o == Ordering::Greater),
        "durationgreaterthanorequals" => durations(key, value, |o| o != Ordering::Less),
        "durationlessthan" => durations(key, value, |o| o == Ordering::Less),
        "durationlessthanorequals" => durations(key, value, |o| o != Ordering::Greater),
        _ => return Err(format!("unknown condition operator {operator:?}")),
    })
}

/// Both sides as durations in seconds when at least one side is a Go
/// duration string (other than "0") and the other a duration or a number.
fn duration_pair(key: &Value, value: &Value) -> Option<(f64, f64)> {
    let as_dur = |v: &Value| match v {
        Value::String(s) if s != "0" => time::parse_duration(s),
        _ => None,
    };
    let (kd, vd) = (as_dur(key), as_dur(value));
    if kd.is_none() && vd.is_none() {
        return None;
    }
    let seconds = |d: Option<f64>, v: &Value| d.or_else(|| v.as_f64().map(f64::trunc));
    Some((seconds(kd, key)?, seconds(vd, value)?))
}

fn equals(key: &Value, value: &Value) -> bool {
    match key {
        Value::Bool(k) => value.as_bool() == Some(*k),
        Value::Number(k) => match value {
            Value::Number(v) => k.as_f64() == v.as_f64(),
            Value::String(s) => {
                if k.is_f64() {
                    s.parse::<f64>().ok() == k.as_f64()
                } else {
                    s.parse::<i64>().ok().map(|i| i as f64) == k.as_f64()
                }
            }
            _ => false,
        },
        Value::Object(_) | Value::Array(_) => {
            std::mem::discriminant(key) == std::mem::discriminant(value) && json_equal(key, value)
        }
        Value::String(k) => {
            if let Some((a, b)) = duration_pair(key, value) {
                return a == b;
            }
            if let Some(kq) = quantity::parse(k)
                && let Value::String(v) = value
            {
                return quantity::parse(v).is_some_and(|vq| quantity::cmp(kq, vq) == Ordering::Equal);
            }
            match value {
                Value::String(v) => glob::wildcard(v, k),
                _ => false,
            }
        }
        Value::Null => false,
    }
}

/// Deep equality with numbers compared by value (1 == 1.0).
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_equal(p, q)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

fn sprint(v: &Value) -> String {
    gofmt::sprint(v)
}

fn is_scalar(v: &Value) -> bool {
    matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_))
}

/// The deprecated In / NotIn.
fn in_op(key: &Value, value: &Value, negate: bool) -> bool {
    match key {
        k if is_scalar(k) => {
            let key = sprint(k);
            let found = match value {
                Value::Array(items) => items.iter().any(|e| {
                    let e = sprint(e);
                    glob::wildcard(&e, &key) || glob::wildcard(&key, &e)
                }),
                Value::String(s) => {
                    glob::wildcard(s, &key)
                        || serde_json::from_str::<Vec<String>>(s).is_ok_and(|list| list.contains(&key))
                }
                _ => return false,
            };
            found != negate
        }
        Value::Array(keys) => {
            let set: Vec<String> = match value {
                Value::Array(items) => items.iter().map(sprint).collect(),
                Value::String(s) => serde_json::from_str::<Vec<String>>(s).unwrap_or_default(),
                _ => return false,
            };
            let Some(keys) = keys.iter().map(|k| k.as_str().map(str::to_string)).collect::<Option<Vec<_>>>() else {
                return false;
            };
            if negate { keys.iter().any(|k| !set.contains(k)) } else { keys.iter().all(|k| set.contains(k)) }
        }
        _ => false,
    }
}

fn range_value(value: &Value) -> Option<&str> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        Regex::new(r"^[-|\+]?\d+(?:\.\d+)?[A-Za-z]*!?-[-|\+]?\d+(?:\.\d+)?[A-Za-z]*$").expect("static regex")
    });
    value.as_str().filter(|s| {
        s.as_bytes().first().is_some_and(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'|'))
            && s[1..].contains('-')
            && re.is_match(s)
    })
}

/// The value side of the set operators as a list of strings: an array, a
/// JSON array in a string, or a single scalar.
fn value_list(value: &Value) -> Vec<String> {
    match value {
        Value::Array(items) => items.iter().map(sprint).collect(),
        Value::String(s) => serde_json::from_str::<Vec<Value>>(s)
            .map(|v| v.iter().map(sprint).collect())
            .unwrap_or_else(|_| vec![s.clone()]),
        Value::Number(_) | Value::Bool(_) => vec![sprint(value)],
        _ => Vec::new(),
    }
}

fn either_matches(a: &str, b: &str) -> bool {
    glob::wildcard(a, b) || glob::wildcard(b, a)
}

fn in_range(key: &Value, range: &str) -> bool {
    let key = match key {
        Value::String(s) => Value::String(s.clone()),
        other => Value::String(sprint(other)),
    };
    pattern::validate(&key, &Value::String(range.to_string()))
}

/// Per key element: is it in the value set (wildcards either way, or a range)?
fn member_flags(key: &Value, value: &Value) -> Option<Vec<bool>> {
    let keys: Vec<&Value> = match key {
        Value::Array(items) => items.iter().collect(),
        k if is_scalar(k) => vec![k],
        _ => return None,
    };
    if !matches!(value, Value::Array(_) | Value::String(_) | Value::Number(_) | Value::Bool(_)) {
        return None;
    }
    if let Some(range) = range_value(value) {
        return Some(keys.iter().map(|k| in_range(k, range)).collect());
    }
    let list = value_list(value);
    Some(keys.iter().map(|k| list.iter().any(|v| either_matches(v, &sprint(k)))).collect())
}

fn any_in(key: &Value, value: &Value) -> bool {
    member_flags(key, value).is_some_and(|f| f.iter().any(|&b| b))
}

fn all_in(key: &Value, value: &Value) -> bool {
    member_flags(key, value).is_some_and(|f| !f.is_empty() && f.iter().all(|&b| b))
}

fn any_not_in(key: &Value, value: &Value) -> bool {
    member_flags(key, value).is_some_and(|f| f.iter().any(|&b| !b))
}

fn all_not_in(key: &Value, value: &Value) -> bool {
    member_flags(key, value).is_some_and(|f| f.iter().all(|&b| !b))
}

fn number_of(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse::<f64>().ok(),
        _ => None,
    }
}

fn numeric(key: &Value, value: &Value, want: impl Fn(Ordering) -> bool) -> bool {
    if let Some((a, b)) = duration_pair(key, value) {
        return want(a.total_cmp(&b));
    }
    match key {
        Value::Number(k) => {
            let (Some(k), Some(v)) = (k.as_f64(), number_of(value)) else { return false };
            want(k.total_cmp(&v))
        }
        Value::String(k) => {
            if let (Some(kq), Some(vq)) = (quantity::parse(k), value.as_str().and_then(quantity::parse)) {
                return want(quantity::cmp(kq, vq));
            }
            if let Ok(kn) = k.parse::<f64>() {
                return number_of(value).is_some_and(|v| want(kn.total_cmp(&v)));
            }
            match (semver::Version::parse(k), value.as_str().map(semver::Version::parse)) {
                (Ok(a), Some(Ok(b))) => want(a.cmp(&b)),
                _ => false,
            }
        }
        _ => false,
    }
}

fn durations(key: &Value, value: &Value, want: impl Fn(Ordering) -> bool) -> bool {
    let as_secs = |v: &Value| match v {
        Value::String(s) => time::parse_duration(s),
        Value::Number(n) => n.as_f64(),
        _ => None,
    };
    match (as_secs(key), as_secs(value)) {
        (Some(a), Some(b)) => want(a.total_cmp(&b)),
        _ => false,
    }
}

/// One parsed condition: `key`, `operator`, `value`, and its message.
#[derive(Debug, Clone)]
pub struct Condition<'a> {
    pub key: &'a Value,
    pub operator: &'a str,
    pub value: &'a Value,
    pub message: Option<&'a str>,
}

fn parse_condition(c: &Value) -> Result<Condition<'_>, String> {
    let Value::Object(m) = c else { return Err(format!("condition must be an object, got {c}")) };
    let operator = m.get("operator").and_then(Value::as_str).ok_or("condition has no operator")?;
    static NULL: Value = Value::Null;
    Ok(Condition {
        key: m.get("key").unwrap_or(&NULL),
        operator,
        value: m.get("value").unwrap_or(&NULL),
        message: m.get("message").and_then(Value::as_str),
    })
}

/// The outcome of a condition block, with the messages of the conditions
/// that decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockResult {
    pub passed: bool,
    pub messages: Vec<String>,
}

/// Evaluates a condition block (`{any, all}` or a bare list meaning all),
/// substituting variables in each key and value with `subst` first.
pub fn evaluate_block(
    block: &Value,
    subst: &mut dyn FnMut(&Value) -> Result<Value, String>,
) -> Result<BlockResult, String> {
    let mut eval_one = |c: &Value| -> Result<(bool, Option<String>), String> {
        let cond = parse_condition(c)?;
        let key = subst(cond.key)?;
        let value = subst(cond.value)?;
        let result = evaluate_operator(cond.operator, &key, &value)?;
        Ok((result, cond.message.map(str::to_string)))
    };
    match block {
        Value::Null => Ok(BlockResult { passed: true, messages: vec![] }),
        Value::Array(list) => {
            let mut messages = Vec::new();
            for c in list {
                let (ok, msg) = eval_one(c)?;
                if !ok {
                    return Ok(BlockResult { passed: false, messages: msg.into_iter().collect() });
                }
                messages.extend(msg);
            }
            Ok(BlockResult { passed: true, messages })
        }
        Value::Object(m) => {
            let mut messages = Vec::new();
            let mut any_ok = true;
            if let Some(any) = m.get("any").filter(|v| !v.is_null()) {
                let list = any.as_array().ok_or("conditions.any must be a list")?;
                any_ok = false;
                let mut failed_msgs = Vec::new();
                for c in list {
                    let (ok, msg) = eval_one(c)?;
                    if ok {
                        any_ok = true;
                        messages.extend(msg);
                        break;
                    }
                    failed_msgs.extend(msg);
                }
                if !any_ok {
                    return Ok(BlockResult { passed: false, messages: failed_msgs });
                }
            }
            if let Some(all) = m.get("all").filter(|v| !v.is_null()) {
                let list = all.as_array().ok_or("conditions.all must be a list")?;
                for c in list {
                    let (ok, msg) = eval_one(c)?;
                    if !ok {
                        return Ok(BlockResult { passed: false, messages: msg.into_iter().collect() });
                    }
                    messages.extend(msg);
                }
            }
            Ok(BlockResult { passed: any_ok, messages })
        }
        other => Err(format!("conditions must be a list or an any/all object, got {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn operator_semantics() {
        assert_eq!(evaluate_operator("Equals", &json!("1h"), &json!("60m")), Ok(true));
        assert_eq!(evaluate_operator("equals", &json!("nginx:1"), &json!("nginx:*")), Ok(true));
        assert_eq!(evaluate_operator("GreaterThan", &json!("1Gi"), &json!("1G")), Ok(true));
        assert_eq!(evaluate_operator("LessThan", &json!("1.2.3"), &json!("1.10.0")), Ok(true));
        assert_eq!(evaluate_operator("NotEquals", &Value::Null, &json!("x")), Ok(false));
        assert_eq!(evaluate_operator("AnyIn", &json!(["a", "b"]), &json!(["b*"])), Ok(true));
        assert!(evaluate_operator("Bogus", &json!(1), &json!(1)).is_err());
    }

    #[test]
    fn set_operators_and_ranges() {
        let op = |o: &str, k: Value, v: Value| evaluate_operator(o, &k, &v).unwrap();
        assert!(op("In", json!("1.1.1.1"), json!(["1*"])));
        assert!(!op("In", json!(["a", "z"]), json!(["a", "b"])));
        assert!(op("NotIn", json!(["a", "z"]), json!(["a", "b"])));
        assert!(op("AllIn", json!(["a", "b"]), json!(["a", "b", "c"])));
        assert!(!op("AllIn", json!(["a", "x"]), json!(["a", "b"])));
        assert!(op("AnyNotIn", json!(["a", "x"]), json!(["a", "b"])));
        assert!(op("AllNotIn", json!(["x", "y"]), json!(["a*"])));
        assert!(op("AnyIn", json!(5), json!("1-10")));
        assert!(op("AllIn", json!([3, 2]), json!("1-10")));
        assert!(!op("AnyIn", json!("a"), Value::Null), "unsupported value types never match");
        assert!(op("DurationGreaterThan", json!("2h"), json!("90m")));
        assert!(op("DurationLessThanOrEquals", json!(60), json!("1m")));
        assert!(op("GreaterThanOrEquals", json!("1Ki"), json!("1024")));
        assert!(op("Equals", json!({"a": [1]}), json!({"a": [1.0]})));
        assert!(op("NotEquals", json!(1), json!("x")));
    }

    #[test]
    fn blocks_any_and_all() {
        let block = json!({"any": [{"key": 1, "operator": "Equals", "value": 2, "message": "no"},
                                   {"key": 1, "operator": "Equals", "value": 1, "message": "yes"}],
                           "all": [{"key": "a", "operator": "Equals", "value": "a"}]});
        let r = evaluate_block(&block, &mut |v| Ok(v.clone())).unwrap();
        assert!(r.passed);
        assert_eq!(r.messages, vec!["yes".to_string()]);
        let r = evaluate_block(&json!({"any": []}), &mut |v| Ok(v.clone())).unwrap();
        assert!(!r.passed);
    }
}
