//! The values templates work on: a JSON-like model (nil, bool, int, float,
//! string, list, string-keyed map) plus native functions for `call`.

use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

/// The body of a [`NativeFn`].
pub type NativeFnBody = dyn Fn(&[Value]) -> Result<Value, String>;

/// A function stored in the data, callable with the `call` builtin.
#[derive(Clone)]
pub struct NativeFn(pub Rc<NativeFnBody>);

impl fmt::Debug for NativeFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NativeFn")
    }
}

/// One template value. Lists and maps are reference-counted so that passing
/// data around (dot, variables, template calls) never deep-copies it.
#[derive(Clone, Debug, Default)]
pub enum Value {
    /// Go's nil, and what a missing map key evaluates to.
    #[default]
    Null,
    /// Go's `bool`.
    Bool(bool),
    /// Go's `int` (64-bit); number literals without `.`/exponent.
    Int(i64),
    /// Go's `float64`.
    Float(f64),
    /// Go's `string`.
    String(String),
    /// A list (`[]interface{}`).
    List(Rc<Vec<Value>>),
    /// Keys iterate in sorted order, as Go's `range` and `fmt` print maps.
    Map(Rc<BTreeMap<String, Value>>),
    /// A function value, for `call`.
    Func(NativeFn),
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::String(a), Value::String(b)) => a == b,
            (Value::List(a), Value::List(b)) => a == b,
            (Value::Map(a), Value::Map(b)) => a == b,
            (Value::Func(a), Value::Func(b)) => Rc::ptr_eq(&a.0, &b.0),
            _ => false,
        }
    }
}

impl Value {
    /// A map value from string pairs (the shape of env data).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Value {
        Value::Map(Rc::new(pairs.into_iter().map(|(k, v)| (k.to_string(), Value::from(v))).collect()))
    }

    /// A map value from an owned map.
    pub fn map(map: BTreeMap<String, Value>) -> Value {
        Value::Map(Rc::new(map))
    }

    /// A list value from a vector.
    pub fn list(items: Vec<Value>) -> Value {
        Value::List(Rc::new(items))
    }

    /// A callable value for `call`.
    pub fn func(f: impl Fn(&[Value]) -> Result<Value, String> + 'static) -> Value {
        Value::Func(NativeFn(Rc::new(f)))
    }

    /// Go's notion of truth: false, 0, nil and empty things are false.
    pub fn is_true(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::String(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.is_empty(),
            Value::Func(_) => true,
        }
    }

    /// The Go type name this value stands for, as `%T` and error messages print it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "<nil>",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::String(_) => "string",
            Value::List(_) => "[]interface {}",
            Value::Map(_) => "map[string]interface {}",
            Value::Func(_) => "func",
        }
    }

    /// The string inside, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The value as Go's `fmt.Sprint` prints it (`%v`).
    pub fn to_go_string(&self) -> String {
        let mut out = String::new();
        write_go(&mut out, self);
        out
    }
}

/// Appends `v` formatted like Go's `%v`.
pub fn write_go(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&crate::engine::printf::format_float_g(*f, None, false)),
        Value::String(s) => out.push_str(s),
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_go(out, item);
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push_str("map[");
            for (i, (k, item)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                write_go(out, item);
            }
            out.push(']');
        }
        // Go prints the function's address; a fixed text keeps output deterministic.
        Value::Func(_) => out.push_str("<func>"),
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Value {
        Value::Float(f)
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Value {
        Value::list(items)
    }
}

impl From<&serde_json::Value> for Value {
    fn from(v: &serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => Value::String(s.clone()),
            serde_json::Value::Array(a) => Value::list(a.iter().map(Value::from).collect()),
            serde_json::Value::Object(o) => Value::map(o.iter().map(|(k, v)| (k.clone(), Value::from(v))).collect()),
        }
    }
}

impl Value {
    /// The value as JSON; functions become null, non-finite floats null.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null | Value::Func(_) => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            // Go's encoder prints an integral float64 without a fraction (`20`, not `20.0`).
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9e15 => serde_json::Value::from(*f as i64),
            Value::Float(f) => serde_json::Number::from_f64(*f).map(serde_json::Value::Number).unwrap_or_default(),
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::List(l) => serde_json::Value::Array(l.iter().map(Value::to_json).collect()),
            Value::Map(m) => serde_json::Value::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_like_go_fmt() {
        let v = Value::map(BTreeMap::from([
            ("b".to_string(), Value::list(vec![Value::Int(-1), Value::Null, Value::Float(1.5)])),
            ("a".to_string(), Value::Bool(true)),
        ]));
        assert_eq!(v.to_go_string(), "map[a:true b:[-1 <nil> 1.5]]");
    }

    #[test]
    fn truth_follows_go() {
        assert!(!Value::Null.is_true());
        assert!(!Value::Int(0).is_true());
        assert!(Value::Float(0.5).is_true());
        assert!(!Value::from("").is_true());
        assert!(!Value::list(vec![]).is_true());
    }
}
