//! Chart values: YAML to template values the way Helm reads them, and the
//! coalescing of a parent's values into its sub-charts'.
//!
//! Helm reads YAML through `sigs.k8s.io/yaml` (go-yaml v2, then JSON), so
//! plain scalars follow YAML 1.1 (`yes`/`on` are booleans) and every number
//! becomes a float64 (which is why Helm prints `1000000` as `1e+06`); we do
//! the same so templates print what `helm template` prints.

use std::collections::BTreeMap;
use std::rc::Rc;

use sealbox_render::engine::Value;

use crate::yaml::{self, Node};

/// A YAML node as a template value.
pub fn to_value(node: &Node) -> Value {
    match &node.value {
        yaml::Value::Scalar { text, plain } => {
            if *plain {
                resolve_plain(text)
            } else {
                Value::String(text.clone())
            }
        }
        yaml::Value::Seq(items) => Value::list(items.iter().map(to_value).collect()),
        yaml::Value::Map(entries) => {
            let mut map = BTreeMap::new();
            for (k, v) in entries {
                let key = match &k.value {
                    yaml::Value::Scalar { text, .. } => text.clone(),
                    _ => continue,
                };
                // `<<: *anchor` merges the anchored map's keys under the explicit ones.
                if key == "<<"
                    && let Value::Map(merged) = to_value(v)
                {
                    for (mk, mv) in merged.iter() {
                        map.entry(mk.clone()).or_insert_with(|| mv.clone());
                    }
                    continue;
                }
                map.insert(key, to_value(v));
            }
            Value::map(map)
        }
    }
}

/// Parses a YAML document into a value; an empty document is an empty map.
pub fn parse_values(text: &str) -> Result<Value, yaml::YamlError> {
    let docs = yaml::load_documents(text)?;
    Ok(docs.first().map(to_value).unwrap_or_else(|| Value::map(BTreeMap::new())))
}

/// YAML 1.1 resolution of a plain scalar, as go-yaml v2 does it, with
/// numbers as floats (JSON's view).
fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => return Value::Bool(true),
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Value::Bool(false);
        }
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Value::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        _ => {}
    }
    if let Some(i) = parse_yaml11_int(text) {
        return Value::Float(i as f64);
    }
    let looks_numeric = text.bytes().next().is_some_and(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.'))
        && text.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E' | b'_'));
    if looks_numeric && let Ok(f) = text.replace('_', "").parse::<f64>() {
        return Value::Float(f);
    }
    Value::String(text.to_string())
}

fn parse_yaml11_int(text: &str) -> Option<i64> {
    let (neg, body) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let body = body.replace('_', "");
    if body.is_empty() {
        return None;
    }
    let v = if let Some(hex) = body.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()?
    } else if let Some(bin) = body.strip_prefix("0b") {
        i64::from_str_radix(bin, 2).ok()?
    } else if body.len() > 1 && body.starts_with('0') {
        i64::from_str_radix(&body[1..], 8).ok()?
    } else if body.bytes().all(|b| b.is_ascii_digit()) {
        body.parse().ok()?
    } else {
        return None;
    };
    Some(if neg { -v } else { v })
}

/// Helm's `coalesce`: `over` wins; maps merge recursively; a null in `over`
/// deletes the key.
pub fn coalesce(over: &Value, base: &Value) -> Value {
    match (over, base) {
        (Value::Map(o), Value::Map(b)) => {
            let mut out: BTreeMap<String, Value> = (**b).clone();
            for (k, v) in o.iter() {
                match (v, out.get(k)) {
                    (Value::Null, _) => {
                        out.remove(k);
                    }
                    (Value::Map(_), Some(existing @ Value::Map(_))) => {
                        let merged = coalesce(v, existing);
                        out.insert(k.clone(), merged);
                    }
                    _ => {
                        out.insert(k.clone(), v.clone());
                    }
                }
            }
            Value::Map(Rc::new(out))
        }
        (Value::Null, b) => b.clone(),
        (o, _) => o.clone(),
    }
}

/// The value at a dotted path (`a.b.c`) in a map value.
pub fn lookup_path<'v>(values: &'v Value, path: &str) -> Option<&'v Value> {
    let mut cur = values;
    for part in path.split('.') {
        match cur {
            Value::Map(m) => cur = m.get(part)?,
            _ => return None,
        }
    }
    Some(cur)
}

/// `values[key]` when `values` is a map.
pub fn get<'v>(values: &'v Value, key: &str) -> Option<&'v Value> {
    match values {
        Value::Map(m) => m.get(key),
        _ => None,
    }
}

/// `values` with `key` set to `v` (an empty map when `values` is not a map).
pub fn with_key(values: &Value, key: &str, v: Value) -> Value {
    let mut m = match values {
        Value::Map(m) => (**m).clone(),
        _ => BTreeMap::new(),
    };
    m.insert(key.to_string(), v);
    Value::Map(Rc::new(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Value {
        parse_values(text).expect("valid yaml")
    }

    #[test]
    fn resolves_scalars_like_helm() {
        let vals = v("a: yes\nb: 3\nc: \"3\"\nd: 1.5\ne: ~\nf: 0x1f\ng: 1.20\nh: nginx\ni: 1_000\n");
        assert_eq!(get(&vals, "a"), Some(&Value::Bool(true)));
        assert_eq!(get(&vals, "b"), Some(&Value::Float(3.0)));
        assert_eq!(get(&vals, "c"), Some(&Value::String("3".into())));
        assert_eq!(get(&vals, "d"), Some(&Value::Float(1.5)));
        assert_eq!(get(&vals, "e"), Some(&Value::Null));
        assert_eq!(get(&vals, "f"), Some(&Value::Float(31.0)));
        assert_eq!(get(&vals, "g"), Some(&Value::Float(1.2)));
        assert_eq!(get(&vals, "h"), Some(&Value::String("nginx".into())));
        assert_eq!(get(&vals, "i"), Some(&Value::Float(1000.0)));
    }

    #[test]
    fn coalesces_recursively_and_deletes_nulls() {
        let base = v("image: {repository: nginx, tag: stable}\nkeep: 1\ndrop: 2\n");
        let over = v("image: {tag: \"1.25\"}\ndrop: null\nnew: x\n");
        let merged = coalesce(&over, &base);
        assert_eq!(lookup_path(&merged, "image.repository"), Some(&Value::String("nginx".into())));
        assert_eq!(lookup_path(&merged, "image.tag"), Some(&Value::String("1.25".into())));
        assert_eq!(get(&merged, "drop"), None);
        assert_eq!(get(&merged, "keep"), Some(&Value::Float(1.0)));
        assert_eq!(get(&merged, "new"), Some(&Value::String("x".into())));
    }

    #[test]
    fn merge_keys_are_honoured() {
        let vals = v("base: &b {x: 1, y: 2}\nderived:\n  <<: *b\n  y: 3\n");
        assert_eq!(lookup_path(&vals, "derived.x"), Some(&Value::Float(1.0)));
        assert_eq!(lookup_path(&vals, "derived.y"), Some(&Value::Float(3.0)));
    }
}
