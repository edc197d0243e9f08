//! The functions template authors reach for beyond Go's builtins: sealer's
//! `b64enc`/`b64dec`, the common sprig string and defaulting functions, and
//! Helm's `toYaml`/`toJson`. Argument order follows sprig, so pipelines
//! (`.X | default "y"`) read as in Helm charts.

use std::collections::BTreeMap;
use std::rc::Rc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::exec::Func;
use super::funcs::exactly;
use super::value::Value;
use super::yaml::to_yaml;

fn f(func: impl Fn(&[Value]) -> Result<Value, String> + 'static) -> Func {
    Rc::new(move |_ctx, args| func(args))
}

/// A string parameter, with text/template's conversion errors.
fn string_arg(args: &[Value], i: usize) -> Result<&str, String> {
    match args.get(i) {
        Some(Value::String(s)) => Ok(s),
        Some(Value::Null) => Err("invalid value; expected string".into()),
        Some(other) => Err(format!("wrong type for value; expected string; got {}", other.type_name())),
        None => Err("missing argument".into()),
    }
}

fn int_arg(args: &[Value], i: usize) -> Result<i64, String> {
    match args.get(i) {
        Some(Value::Int(n)) => Ok(*n),
        Some(Value::Null) => Err("invalid value; expected int".into()),
        Some(other) => Err(format!("wrong type for value; expected int; got {}", other.type_name())),
        None => Err("missing argument".into()),
    }
}

fn string_fn(name: &'static str, op: fn(&str) -> String) -> (&'static str, Func) {
    (name, f(move |a| Ok(Value::String(op(string_arg(exactly(a, 1, name)?, 0)?)))))
}

fn string2_fn(name: &'static str, op: fn(&str, &str) -> Value) -> (&'static str, Func) {
    (
        name,
        f(move |a| {
            let a = exactly(a, 2, name)?;
            Ok(op(string_arg(a, 0)?, string_arg(a, 1)?))
        }),
    )
}

/// sprig's `strval`: strings as they are, everything else as `%v`.
fn strval(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_go_string(),
    }
}

/// sprig's `empty`: nil, zero numbers, false, and empty strings, lists, maps.
pub fn is_empty(v: &Value) -> bool {
    !v.is_true()
}

fn indent(spaces: i64, s: &str) -> String {
    let pad = " ".repeat(spaces.clamp(0, 4096) as usize);
    format!("{pad}{}", s.replace('\n', &format!("\n{pad}")))
}

/// The sealer and sprig functions, by name.
pub fn functions() -> Vec<(&'static str, Func)> {
    vec![
        string_fn("b64enc", |s| STANDARD.encode(s)),
        (
            "b64dec",
            f(|a| {
                let s = string_arg(exactly(a, 1, "b64dec")?, 0)?;
                let bytes = STANDARD.decode(s.trim_end_matches(['\n', '\r'])).map_err(|e| format!("b64dec: {e}"))?;
                String::from_utf8(bytes).map(Value::String).map_err(|_| "b64dec: decoded bytes are not UTF-8".into())
            }),
        ),
        (
            "default",
            f(|a| match a {
                [d] => Ok(d.clone()),
                [d, given, ..] => Ok(if is_empty(given) { d.clone() } else { given.clone() }),
                [] => Err("wrong number of args for default: want at least 1 got 0".into()),
            }),
        ),
        ("empty", f(|a| Ok(Value::Bool(is_empty(&exactly(a, 1, "empty")?[0]))))),
        ("coalesce", f(|a| Ok(a.iter().find(|v| !is_empty(v)).cloned().unwrap_or_default()))),
        (
            "ternary",
            f(|a| {
                let a = exactly(a, 3, "ternary")?;
                match &a[2] {
                    Value::Bool(b) => Ok(if *b { a[0].clone() } else { a[1].clone() }),
                    other => Err(format!("wrong type for value; expected bool; got {}", other.type_name())),
                }
            }),
        ),
        (
            "required",
            f(|a| {
                let a = exactly(a, 2, "required")?;
                let msg = string_arg(a, 0)?;
                match &a[1] {
                    Value::Null => Err(msg.to_string()),
                    Value::String(s) if s.is_empty() => Err(msg.to_string()),
                    v => Ok(v.clone()),
                }
            }),
        ),
        (
            "quote",
            f(|a| {
                let parts: Vec<String> = a
                    .iter()
                    .filter(|v| !matches!(v, Value::Null))
                    .map(|v| super::printf::quote_go(&strval(v)))
                    .collect();
                Ok(Value::String(parts.join(" ")))
            }),
        ),
        (
            "squote",
            f(|a| {
                let parts: Vec<String> =
                    a.iter().filter(|v| !matches!(v, Value::Null)).map(|v| format!("'{}'", strval(v))).collect();
                Ok(Value::String(parts.join(" ")))
            }),
        ),
        string_fn("upper", str::to_uppercase),
        string_fn("lower", str::to_lowercase),
        string_fn("trim", |s| s.trim().to_string()),
        string2_fn("trimPrefix", |p, s| Value::String(s.strip_prefix(p).unwrap_or(s).to_string())),
        string2_fn("trimSuffix", |p, s| Value::String(s.strip_suffix(p).unwrap_or(s).to_string())),
        (
            "replace",
            f(|a| {
                let a = exactly(a, 3, "replace")?;
                Ok(Value::String(string_arg(a, 2)?.replace(string_arg(a, 0)?, string_arg(a, 1)?)))
            }),
        ),
        string2_fn("contains", |sub, s| Value::Bool(s.contains(sub))),
        string2_fn("hasPrefix", |p, s| Value::Bool(s.starts_with(p))),
        string2_fn("hasSuffix", |p, s| Value::Bool(s.ends_with(p))),
        string2_fn("split", |sep, s| {
            let parts = go_split(s, sep);
            Value::map(parts.into_iter().enumerate().map(|(i, p)| (format!("_{i}"), Value::String(p))).collect())
        }),
        string2_fn("splitList", |sep, s| Value::list(go_split(s, sep).into_iter().map(Value::String).collect())),
        (
            "join",
            f(|a| {
                let a = exactly(a, 2, "join")?;
                let sep = string_arg(a, 0)?;
                let parts: Vec<String> = match &a[1] {
                    Value::List(items) => items.iter().filter(|v| !matches!(v, Value::Null)).map(strval).collect(),
                    Value::Null => Vec::new(),
                    other => vec![strval(other)],
                };
                Ok(Value::String(parts.join(sep)))
            }),
        ),
        (
            "indent",
            f(|a| {
                let a = exactly(a, 2, "indent")?;
                Ok(Value::String(indent(int_arg(a, 0)?, string_arg(a, 1)?)))
            }),
        ),
        (
            "nindent",
            f(|a| {
                let a = exactly(a, 2, "nindent")?;
                Ok(Value::String(format!("\n{}", indent(int_arg(a, 0)?, string_arg(a, 1)?))))
            }),
        ),
        ("toYaml", f(|a| Ok(Value::String(to_yaml(&exactly(a, 1, "toYaml")?[0]).trim_end_matches('\n').to_string())))),
        ("toJson", f(|a| Ok(Value::String(to_json(&exactly(a, 1, "toJson")?[0]))))),
        ("toString", f(|a| Ok(Value::String(strval(&exactly(a, 1, "toString")?[0]))))),
        ("list", f(|a| Ok(Value::list(a.to_vec())))),
        (
            "dict",
            f(|a| {
                let mut m = BTreeMap::new();
                for pair in a.chunks(2) {
                    let v = pair.get(1).cloned().unwrap_or(Value::String(String::new()));
                    m.insert(strval(&pair[0]), v);
                }
                Ok(Value::map(m))
            }),
        ),
    ]
}

/// Go's `strings.Split`: an empty separator splits into characters.
fn go_split(s: &str, sep: &str) -> Vec<String> {
    if sep.is_empty() {
        return s.chars().map(String::from).collect();
    }
    s.split(sep).map(String::from).collect()
}

/// Go's `json.Marshal` output: sorted keys, HTML-sensitive characters escaped.
pub fn to_json(v: &Value) -> String {
    let text = serde_json::to_string(&v.to_json()).unwrap_or_default();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, args: &[Value]) -> Result<Value, String> {
        let funcs = functions();
        let func = funcs.iter().find(|(n, _)| *n == name).map(|(_, f)| f.clone()).unwrap();
        crate::engine::with_func_ctx(|ctx| func(ctx, args))
    }

    #[test]
    fn base64_round_trips() {
        assert_eq!(call("b64enc", &["admin:pw".into()]), Ok("YWRtaW46cHc=".into()));
        assert_eq!(call("b64dec", &["YWRtaW46cHc=".into()]), Ok("admin:pw".into()));
        assert!(call("b64dec", &["%%%".into()]).is_err());
    }

    #[test]
    fn defaulting() {
        assert_eq!(call("default", &["d".into(), Value::Null]), Ok("d".into()));
        assert_eq!(call("default", &["d".into(), "x".into()]), Ok("x".into()));
        assert_eq!(call("coalesce", &[Value::Null, "".into(), "z".into()]), Ok("z".into()));
        assert_eq!(call("ternary", &["a".into(), "b".into(), false.into()]), Ok("b".into()));
        assert_eq!(call("required", &["need X".into(), Value::Null]), Err("need X".into()));
    }

    #[test]
    fn strings() {
        assert_eq!(call("quote", &["a\"b".into(), 1i64.into()]), Ok("\"a\\\"b\" \"1\"".into()));
        assert_eq!(call("squote", &["a".into()]), Ok("'a'".into()));
        assert_eq!(call("replace", &["-".into(), "_".into(), "a-b-c".into()]), Ok("a_b_c".into()));
        assert_eq!(call("nindent", &[2i64.into(), "a\nb".into()]), Ok("\n  a\n  b".into()));
        assert_eq!(call("join", &[",".into(), Value::list(vec!["a".into(), 1i64.into()])]), Ok("a,1".into()));
        assert!(call("upper", &[1i64.into()]).unwrap_err().contains("expected string; got int"));
        let split = call("split", &["$".into(), "foo$bar".into()]).unwrap();
        assert_eq!(split.to_go_string(), "map[_0:foo _1:bar]");
    }

    #[test]
    fn json_escapes_like_go() {
        let v = Value::map(BTreeMap::from([("b".to_string(), "<&>".into()), ("a".to_string(), Value::Int(1))]));
        assert_eq!(to_json(&v), r#"{"a":1,"b":"\u003c\u0026\u003e"}"#);
    }
}
