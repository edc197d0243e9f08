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

use crate::yaml::{self, Node, NodeValue};

/// A YAML node as a template value: scalars as Kubernetes' reader resolves
/// them, every number a float64 as Helm's JSON round trip leaves it, merge
/// keys already applied by the reader.
pub fn to_value(node: &Node) -> Value {
    match &node.value {
        NodeValue::Scalar(scalar) => match scalar {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(0.0)),
            serde_json::Value::String(s) => Value::String(s.clone()),
            // A scalar never resolves to a collection.
            _ => Value::Null,
        },
        NodeValue::Seq(items) => Value::list(items.iter().map(to_value).collect()),
        NodeValue::Map(entries) => {
            let mut map = BTreeMap::new();
            for (k, v) in entries {
                map.insert(k.key_string(), to_value(v));
            }
            Value::map(map)
        }
    }
}

/// Parses a YAML document into a value; an empty document is an empty map.
pub fn parse_values(text: &str) -> Result<Value, yaml::Error> {
    let docs = yaml::load(text)?;
    Ok(docs.first().map(|d| to_value(&d.root)).unwrap_or_else(|| Value::map(BTreeMap::new())))
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
        let vals = v("base: &b {a: 1, b: 2}\nderived:\n  <<: *b\n  b: 3\n");
        assert_eq!(lookup_path(&vals, "derived.a"), Some(&Value::Float(1.0)));
        assert_eq!(lookup_path(&vals, "derived.b"), Some(&Value::Float(3.0)));
        // Helm reads values through go-yaml v2: the key `y` is the boolean true.
        let vals = v("y: 1\nkeep: 3\n");
        assert_eq!((get(&vals, "y"), get(&vals, "true")), (None, Some(&Value::Float(1.0))));
    }
}
