//! Go's predefined template functions (`and`, `or` and `call` are special
//! forms in the executor): `print*`, `len`, `index`, `slice`, `not`, the
//! comparisons and the escapers.

use std::cmp::Ordering;
use std::rc::Rc;

use super::exec::Func;
use super::printf::{sprint, sprintf, sprintln};
use super::value::Value;

/// Names the executor implements itself.
pub const SPECIAL_FORMS: &[&str] = &["and", "or", "call"];

fn f(func: impl Fn(&[Value]) -> Result<Value, String> + 'static) -> Func {
    Rc::new(move |_ctx, args| func(args))
}

/// Go's builtin functions, by name.
pub fn builtins() -> Vec<(&'static str, Func)> {
    vec![
        ("print", f(|a| Ok(Value::String(sprint(a))))),
        ("println", f(|a| Ok(Value::String(sprintln(a))))),
        (
            "printf",
            f(|a| match a.split_first() {
                Some((Value::String(fmt), rest)) => Ok(Value::String(sprintf(fmt, rest))),
                Some((other, _)) => Err(format!("wrong type for value; expected string; got {}", other.type_name())),
                None => Err("wrong number of args for printf: want at least 1 got 0".into()),
            }),
        ),
        ("len", f(len)),
        ("index", f(index)),
        ("slice", f(slice)),
        ("not", f(|a| exactly(a, 1, "not").map(|a| Value::Bool(!a[0].is_true())))),
        ("eq", f(|a| eq(a).map(Value::Bool))),
        ("ne", f(|a| two(a, "ne").and_then(|(x, y)| eq(&[x.clone(), y.clone()])).map(|b| Value::Bool(!b)))),
        ("lt", f(|a| ordered(a, "lt", |o| o == Ordering::Less))),
        ("le", f(|a| ordered(a, "le", |o| o != Ordering::Greater))),
        ("gt", f(|a| ordered(a, "gt", |o| o == Ordering::Greater))),
        ("ge", f(|a| ordered(a, "ge", |o| o != Ordering::Less))),
        ("html", f(|a| Ok(Value::String(html_escape(&eval_args(a)))))),
        ("js", f(|a| Ok(Value::String(js_escape(&eval_args(a)))))),
        ("urlquery", f(|a| Ok(Value::String(query_escape(&eval_args(a)))))),
    ]
}

/// Checks the argument count.
pub fn exactly<'v>(args: &'v [Value], n: usize, name: &str) -> Result<&'v [Value], String> {
    if args.len() != n {
        return Err(format!("wrong number of args for {name}: want {n} got {}", args.len()));
    }
    Ok(args)
}

fn two<'v>(args: &'v [Value], name: &str) -> Result<(&'v Value, &'v Value), String> {
    let a = exactly(args, 2, name)?;
    Ok((&a[0], &a[1]))
}

fn len(args: &[Value]) -> Result<Value, String> {
    let a = exactly(args, 1, "len")?;
    let n = match &a[0] {
        Value::String(s) => s.len(),
        Value::List(l) => l.len(),
        Value::Map(m) => m.len(),
        Value::Null => return Err("len of nil pointer".into()),
        other => return Err(format!("len of type {}", other.type_name())),
    };
    Ok(Value::Int(n as i64))
}

fn int_index(v: &Value, what: &str) -> Result<i64, String> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Null => Err(format!("cannot index {what} with nil")),
        other => Err(format!("cannot index {what} with type {}", other.type_name())),
    }
}

fn index(args: &[Value]) -> Result<Value, String> {
    let Some((item, indexes)) = args.split_first() else {
        return Err("wrong number of args for index: want at least 1 got 0".into());
    };
    let mut item = item.clone();
    for idx in indexes {
        item = match &item {
            Value::Null => return Err("index of untyped nil".into()),
            Value::List(l) => {
                let i = int_index(idx, "slice")?;
                match usize::try_from(i).ok().and_then(|i| l.get(i)) {
                    Some(v) => v.clone(),
                    None => return Err(format!("index out of range: {i}")),
                }
            }
            Value::String(s) => {
                let i = int_index(idx, "string")?;
                match usize::try_from(i).ok().and_then(|i| s.as_bytes().get(i)) {
                    Some(b) => Value::Int(*b as i64),
                    None => return Err(format!("index out of range: {i}")),
                }
            }
            Value::Map(m) => match idx {
                Value::String(k) => m.get(k).cloned().unwrap_or_default(),
                Value::Null => return Err("value is nil; should be of type string".into()),
                other => return Err(format!("value has type {}; should be string", other.type_name())),
            },
            other => return Err(format!("can't index item of type {}", other.type_name())),
        };
    }
    Ok(item)
}

fn slice(args: &[Value]) -> Result<Value, String> {
    let Some((item, idx)) = args.split_first() else {
        return Err("wrong number of args for slice: want at least 1 got 0".into());
    };
    if idx.len() > 3 {
        return Err(format!("too many slice indexes: {}", idx.len()));
    }
    let len = match item {
        Value::String(s) => {
            if idx.len() == 3 {
                return Err("cannot 3-index slice a string".into());
            }
            s.len()
        }
        Value::List(l) => l.len(),
        Value::Null => return Err("slice of untyped nil".into()),
        other => return Err(format!("can't slice item of type {}", other.type_name())),
    };
    let mut bounds = [0usize, len, len];
    for (i, v) in idx.iter().enumerate() {
        let n = int_index(v, "slice")?;
        let n = usize::try_from(n).map_err(|_| format!("index out of range: {n}"))?;
        if n > len {
            return Err(format!("index out of range: {n}"));
        }
        bounds[i] = n;
    }
    if bounds[0] > bounds[1] {
        return Err(format!("invalid slice index: {} > {}", bounds[0], bounds[1]));
    }
    if idx.len() == 3 && bounds[1] > bounds[2] {
        return Err(format!("invalid slice index: {} > {}", bounds[1], bounds[2]));
    }
    Ok(match item {
        Value::String(s) => match s.get(bounds[0]..bounds[1]) {
            Some(sub) => Value::String(sub.to_string()),
            None => Value::String(String::from_utf8_lossy(&s.as_bytes()[bounds[0]..bounds[1]]).into_owned()),
        },
        Value::List(l) => Value::list(l[bounds[0]..bounds[1]].to_vec()),
        _ => Value::Null,
    })
}

/// The comparison class of a value, as Go's `basicKind`.
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
enum Kind {
    Bool,
    Int,
    Float,
    Str,
    Other,
}

fn kind(v: &Value) -> Kind {
    match v {
        Value::Bool(_) => Kind::Bool,
        Value::Int(_) => Kind::Int,
        Value::Float(_) => Kind::Float,
        Value::String(_) => Kind::Str,
        _ => Kind::Other,
    }
}

/// Go's `eq`: true when the first argument equals any of the others.
/// Mixing basic kinds is an error, but nil compares unequal to anything
/// but nil, so a missing key can be tested without error.
fn eq(args: &[Value]) -> Result<bool, String> {
    let Some((a, rest)) = args.split_first() else {
        return Err("wrong number of args for eq: want at least 1 got 0".into());
    };
    if rest.is_empty() {
        return Err("missing argument for comparison".into());
    }
    for b in rest {
        let (ka, kb) = (kind(a), kind(b));
        let truth = if ka != kb {
            if !matches!(a, Value::Null) && !matches!(b, Value::Null) {
                return Err("incompatible types for comparison".into());
            }
            false
        } else {
            match (a, b) {
                (Value::Null, Value::Null) => true,
                (Value::Null, _) | (_, Value::Null) => false,
                (Value::List(_) | Value::Map(_) | Value::Func(_), _) => {
                    return Err(format!("non-comparable types {}: {}", a.type_name(), b.type_name()));
                }
                _ => a == b,
            }
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

fn ordered(args: &[Value], name: &str, test: fn(Ordering) -> bool) -> Result<Value, String> {
    let (a, b) = two(args, name)?;
    let (ka, kb) = (kind(a), kind(b));
    if ka == Kind::Other || kb == Kind::Other || ka == Kind::Bool || kb == Kind::Bool {
        return Err("invalid type for comparison".into());
    }
    if ka != kb {
        return Err("incompatible types for comparison".into());
    }
    let o = match (a, b) {
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        (Value::Float(x), Value::Float(y)) => match x.partial_cmp(y) {
            Some(o) => o,
            None => return Ok(Value::Bool(false)),
        },
        (Value::String(x), Value::String(y)) => x.cmp(y),
        _ => return Err("invalid type for comparison".into()),
    };
    Ok(Value::Bool(test(o)))
}

/// The text the escapers work on: a lone string as is, else `fmt.Sprint`
/// with nil printed as `<no value>`.
fn eval_args(args: &[Value]) -> String {
    if let [Value::String(s)] = args {
        return s.clone();
    }
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 && !matches!(a, Value::String(_)) && !matches!(args[i - 1], Value::String(_)) {
            out.push(' ');
        }
        match a {
            Value::Null => out.push_str("<no value>"),
            other => out.push_str(&other.to_go_string()),
        }
    }
    out
}

/// Go's `template.HTMLEscapeString`.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Go's `template.JSEscapeString`.
pub fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if c.is_ascii() && (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c if c.is_ascii() => out.push(c),
            c if !c.is_control() && !matches!(c, '\u{FFFE}' | '\u{FFFF}') => out.push(c),
            c => out.push_str(&format!("\\u{:04X}", c as u32)),
        }
    }
    out
}

/// Go's `url.QueryEscape`.
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapers_match_go() {
        assert_eq!(
            html_escape("<script>alert(\"XSS\");</script>"),
            "&lt;script&gt;alert(&#34;XSS&#34;);&lt;/script&gt;"
        );
        assert_eq!(js_escape("It'd be nice."), "It\\'d be nice.");
        assert_eq!(js_escape("<html>"), "\\u003Chtml\\u003E");
        assert_eq!(js_escape("Go \"jump\" \\"), "Go \\\"jump\\\" \\\\");
        assert_eq!(js_escape("unprintable \u{FFFE}"), "unprintable \\uFFFE");
        assert_eq!(query_escape("http://www.example.org/"), "http%3A%2F%2Fwww.example.org%2F");
    }

    #[test]
    fn eq_tolerates_nil_but_not_mixed_kinds() {
        assert_eq!(eq(&[Value::Null, "x".into()]), Ok(false));
        assert_eq!(eq(&[Value::Null, Value::Null]), Ok(true));
        assert!(eq(&["xy".into(), 1i64.into()]).is_err());
        assert!(eq(&[2i64.into(), 2.0.into()]).is_err());
        assert_eq!(eq(&[3i64.into(), 4i64.into(), 3i64.into()]), Ok(true));
    }
}
