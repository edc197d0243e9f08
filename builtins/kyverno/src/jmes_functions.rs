//! Kyverno's custom JMESPath functions (string, regex, conversion,
//! arithmetic, encoding, semver, image and time families). Time and random
//! functions read the build's fixed [`Clock`]; nothing reads the host.

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use jmespath::{Context, ErrorReason, JmespathError, Rcvar, Runtime};
use regex::Regex;
use serde_json::{Map, Number, Value};
use sha2::Digest as _;

use crate::jmes::{Clock, from_var, to_var};
use crate::{gofmt, quantity};
use sealbox_formats::glob;
use sealbox_formats::time::{self, Instant};

type Args = [Value];

/// Marks errors from functions this engine does not implement, so the rule
/// is reported as unsupported rather than as a policy error.
pub const UNSUPPORTED: &str = "unsupported function";

fn fail(msg: impl Into<String>) -> JmespathError {
    JmespathError::new("", 0, ErrorReason::Parse(msg.into()))
}

fn register(
    rt: &mut Runtime,
    name: &'static str,
    arity: usize,
    f: impl Fn(&Args) -> Result<Value, String> + Send + Sync + 'static,
) {
    rt.register_function(
        name,
        Box::new(move |args: &[Rcvar], _ctx: &mut Context<'_>| {
            if args.len() != arity {
                return Err(fail(format!("{name}() takes {arity} arguments, got {}", args.len())));
            }
            let values: Vec<Value> = args.iter().map(|a| from_var(a)).collect();
            f(&values).map(|v| to_var(&v)).map_err(|m| fail(format!("{name}(): {m}")))
        }),
    );
}

fn s(args: &Args, i: usize) -> Result<&str, String> {
    args[i].as_str().ok_or_else(|| format!("argument {} must be a string, got {}", i + 1, args[i]))
}

fn n(args: &Args, i: usize) -> Result<f64, String> {
    args[i].as_f64().ok_or_else(|| format!("argument {} must be a number, got {}", i + 1, args[i]))
}

fn str_or_number(args: &Args, i: usize) -> Result<String, String> {
    match &args[i] {
        Value::String(s) => Ok(s.clone()),
        Value::Number(x) => Ok(gofmt::sprint_number(x)),
        other => Err(format!("argument {} must be a string or number, got {other}", i + 1)),
    }
}

fn num(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9e15 {
        Value::Number(Number::from(f as i64))
    } else {
        Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null)
    }
}

fn regex(re: &str) -> Result<Regex, String> {
    Regex::new(re).map_err(|e| format!("invalid regular expression {re:?}: {e}"))
}

fn time_arg(args: &Args, i: usize) -> Result<Instant, String> {
    let t = s(args, i)?;
    time::parse_rfc3339(t).ok_or_else(|| format!("{t:?} is not an RFC 3339 time"))
}

/// An arithmetic operand as Kyverno types it.
#[derive(Clone, Copy)]
enum Operand {
    Number(f64),
    Quantity(f64),
    Duration(f64),
}

fn operand(v: &Value) -> Result<Operand, String> {
    match v {
        Value::Number(x) => Ok(Operand::Number(x.as_f64().unwrap_or(0.0))),
        Value::String(t) => {
            if let Some(q) = quantity::parse(t) {
                Ok(Operand::Quantity(q))
            } else if let Some(d) = time::parse_duration(t) {
                Ok(Operand::Duration(d))
            } else {
                Err(format!("{t:?} is neither a number, a quantity nor a duration"))
            }
        }
        other => Err(format!("{other} is neither a number, a quantity nor a duration")),
    }
}

fn quantity_value(q: f64) -> Value {
    Value::String(gofmt::sprint_float(q))
}

fn arith(a: &Value, b: &Value, op: char) -> Result<Value, String> {
    use Operand::*;
    let (x, y) = (operand(a)?, operand(b)?);
    let f = |p: f64, q: f64| -> Result<f64, String> {
        Ok(match op {
            '+' => p + q,
            '-' => p - q,
            '*' => p * q,
            '/' => {
                if q == 0.0 {
                    return Err("division by zero".into());
                }
                p / q
            }
            _ => {
                if q == 0.0 {
                    return Err("modulo by zero".into());
                }
                if p.fract() != 0.0 || q.fract() != 0.0 {
                    return Err("modulo needs whole numbers".into());
                }
                p % q
            }
        })
    };
    match (x, y, op) {
        (Number(p), Number(q), _) => Ok(num(f(p, q)?)),
        (Quantity(p), Quantity(q), '+' | '-') => Ok(quantity_value(f(p, q)?)),
        (Duration(p), Duration(q), '+' | '-') => Ok(Value::String(time::format_duration(f(p, q)?))),
        (Quantity(p), Number(q), '*' | '/') | (Number(q), Quantity(p), '*') => Ok(quantity_value(f(p, q)?)),
        (Duration(p), Number(q), '*' | '/') | (Number(q), Duration(p), '*') => {
            Ok(Value::String(time::format_duration(f(p, q)?)))
        }
        (Quantity(p), Quantity(q), '/' | '%') | (Duration(p), Duration(q), '/' | '%') => Ok(num(f(p, q)?)),
        _ => Err(format!("unsupported operand types for {op}")),
    }
}

/// Go's `path.Clean` / `filepath.Join` of one element.
fn clean_path(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// Normalises an image reference the way Docker does (`nginx` ->
/// `docker.io/library/nginx:latest`).
pub fn normalize_image(image: &str) -> Result<String, String> {
    if image.is_empty() || image.contains(char::is_whitespace) {
        return Err(format!("invalid image reference {image:?}"));
    }
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    let (repo, tag) = match name.rfind(':') {
        Some(i) if !name[i..].contains('/') => (&name[..i], Some(&name[i + 1..])),
        _ => (name, None),
    };
    let first = repo.split('/').next().unwrap_or("");
    let has_registry = repo.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let full = if has_registry {
        repo.to_string()
    } else if repo.contains('/') {
        format!("docker.io/{repo}")
    } else {
        format!("docker.io/library/{repo}")
    };
    let mut out = full;
    match (tag, digest) {
        (Some(t), _) => {
            out.push(':');
            out.push_str(t);
        }
        (None, None) => out.push_str(":latest"),
        (None, Some(_)) => {}
    }
    if let Some(d) = digest {
        out.push('@');
        out.push_str(d);
    }
    Ok(out)
}

/// A semver range check in blang/semver syntax (`>=1.0.0 <2.0.0 || 3.x`).
fn semver_matches(version: &str, range: &str) -> Result<bool, String> {
    let v = semver::Version::parse(version.trim_start_matches('v'))
        .map_err(|e| format!("invalid version {version:?}: {e}"))?;
    for alt in range.split("||") {
        let mut all = true;
        for part in alt.split_whitespace() {
            let (op, ver) = ["<=", ">=", "!=", "==", "<", ">", "="]
                .iter()
                .find_map(|op| part.strip_prefix(op).map(|rest| (*op, rest)))
                .unwrap_or(("=", part));
            let ver = ver.replace(['x', 'X'], "0");
            let wildcard_parts = part.matches(['x', 'X']).count();
            let target = semver::Version::parse(&ver).map_err(|e| format!("invalid range {range:?}: {e}"))?;
            let ord = if wildcard_parts > 0 {
                let cut = |x: &semver::Version| match wildcard_parts {
                    1 => (x.major, x.minor, 0),
                    _ => (x.major, 0, 0),
                };
                cut(&v).cmp(&cut(&target))
            } else {
                v.cmp(&target)
            };
            let ok = match op {
                "<" => ord.is_lt(),
                "<=" => ord.is_le(),
                ">" => ord.is_gt(),
                ">=" => ord.is_ge(),
                "!=" => ord.is_ne(),
                _ => ord.is_eq(),
            };
            all &= ok;
        }
        if all {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A string matching a simple regular expression (`[a-z0-9]{6}`), drawn
/// from a seeded generator.
fn random_string(pattern: &str, state: &Mutex<u64>) -> Result<String, String> {
    let next = || {
        let mut guard = state.lock().unwrap_or_else(|e| e.into_inner());
        *guard = guard.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *guard;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let chars: Vec<char> = pattern.trim_start_matches('^').trim_end_matches('$').chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let set: Vec<char> = if chars[i] == '[' {
            let end = chars[i..].iter().position(|&c| c == ']').ok_or("unterminated character class")? + i;
            let mut set = Vec::new();
            let mut j = i + 1;
            while j < end {
                if j + 2 < end && chars[j + 1] == '-' {
                    set.extend(chars[j]..=chars[j + 2]);
                    j += 3;
                } else {
                    set.push(chars[j]);
                    j += 1;
                }
            }
            i = end + 1;
            set
        } else if chars[i] == '\\' && i + 1 < chars.len() {
            i += 2;
            match chars[i - 1] {
                'd' => ('0'..='9').collect(),
                'w' => ('a'..='z').chain('A'..='Z').chain('0'..='9').chain(['_']).collect(),
                c => vec![c],
            }
        } else if "()|*+?.".contains(chars[i]) {
            return Err(format!("random(): pattern {pattern:?} is beyond the supported subset"));
        } else {
            i += 1;
            vec![chars[i - 1]]
        };
        if set.is_empty() {
            return Err("empty character class".into());
        }
        let mut count = 1usize;
        if i < chars.len() && chars[i] == '{' {
            let end = chars[i..].iter().position(|&c| c == '}').ok_or("unterminated repetition")? + i;
            let spec: String = chars[i + 1..end].iter().collect();
            let (lo, hi) = match spec.split_once(',') {
                Some((a, b)) => {
                    (a.trim().parse().map_err(|_| "bad repetition")?, b.trim().parse().map_err(|_| "bad repetition")?)
                }
                None => {
                    let x: usize = spec.trim().parse().map_err(|_| "bad repetition")?;
                    (x, x)
                }
            };
            if hi < lo || hi > 4096 {
                return Err("bad repetition".into());
            }
            count = lo + (next() as usize) % (hi - lo + 1);
            i = end + 1;
        }
        for _ in 0..count {
            out.push(set[(next() as usize) % set.len()]);
        }
    }
    Ok(out)
}

/// Adds Kyverno's functions to `rt`.
pub fn register_all(rt: &mut Runtime, clock: Clock) {
    register(rt, "compare", 2, |a| Ok(num(s(a, 0)?.cmp(s(a, 1)?) as i8 as f64)));
    register(rt, "equal_fold", 2, |a| Ok(Value::Bool(s(a, 0)?.to_lowercase() == s(a, 1)?.to_lowercase())));
    register(rt, "replace", 4, |a| {
        let (src, old, new, count) = (s(a, 0)?, s(a, 1)?, s(a, 2)?, n(a, 3)?);
        Ok(Value::String(if count < 0.0 { src.replace(old, new) } else { src.replacen(old, new, count as usize) }))
    });
    register(rt, "replace_all", 3, |a| Ok(Value::String(s(a, 0)?.replace(s(a, 1)?, s(a, 2)?))));
    register(rt, "to_upper", 1, |a| Ok(Value::String(s(a, 0)?.to_uppercase())));
    register(rt, "to_lower", 1, |a| Ok(Value::String(s(a, 0)?.to_lowercase())));
    register(rt, "trim", 2, |a| {
        let cut: Vec<char> = s(a, 1)?.chars().collect();
        Ok(Value::String(s(a, 0)?.trim_matches(|c| cut.contains(&c)).to_string()))
    });
    register(rt, "trim_prefix", 2, |a| {
        let (x, p) = (s(a, 0)?, s(a, 1)?);
        Ok(Value::String(x.strip_prefix(p).unwrap_or(x).to_string()))
    });
    register(rt, "split", 2, |a| {
        let (x, sep) = (s(a, 0)?, s(a, 1)?);
        let parts: Vec<Value> = if sep.is_empty() {
            x.chars().map(|c| Value::String(c.to_string())).collect()
        } else {
            x.split(sep).map(|p| Value::String(p.to_string())).collect()
        };
        Ok(Value::Array(parts))
    });
    register(rt, "regex_replace_all", 3, |a| {
        let re = regex(s(a, 0)?)?;
        Ok(Value::String(re.replace_all(&str_or_number(a, 1)?, str_or_number(a, 2)?.as_str()).into_owned()))
    });
    register(rt, "regex_replace_all_literal", 3, |a| {
        let re = regex(s(a, 0)?)?;
        let repl = str_or_number(a, 2)?;
        Ok(Value::String(re.replace_all(&str_or_number(a, 1)?, regex::NoExpand(&repl)).into_owned()))
    });
    register(rt, "regex_match", 2, |a| Ok(Value::Bool(regex(s(a, 0)?)?.is_match(&str_or_number(a, 1)?))));
    register(rt, "pattern_match", 2, |a| Ok(Value::Bool(glob::wildcard(s(a, 0)?, &str_or_number(a, 1)?))));
    register(rt, "label_match", 2, |a| {
        let (Some(sel), Some(labels)) = (a[0].as_object(), a[1].as_object()) else {
            return Err("both arguments must be objects".into());
        };
        Ok(Value::Bool(sel.iter().all(|(k, v)| labels.get(k) == Some(v))))
    });
    register(rt, "to_boolean", 1, |a| match s(a, 0)?.to_lowercase().as_str() {
        "true" => Ok(Value::Bool(true)),
        "false" => Ok(Value::Bool(false)),
        other => Err(format!("{other:?} is not a boolean")),
    });
    register(rt, "add", 2, |a| arith(&a[0], &a[1], '+'));
    register(rt, "subtract", 2, |a| arith(&a[0], &a[1], '-'));
    register(rt, "multiply", 2, |a| arith(&a[0], &a[1], '*'));
    register(rt, "divide", 2, |a| arith(&a[0], &a[1], '/'));
    register(rt, "modulo", 2, |a| arith(&a[0], &a[1], '%'));
    register(rt, "sum", 1, |a| {
        let items = a[0].as_array().ok_or("argument must be an array")?;
        let (first, rest) = items.split_first().ok_or("sum() needs at least one element")?;
        rest.iter().try_fold(first.clone(), |acc, x| arith(&acc, x, '+'))
    });
    register(rt, "round", 2, |a| {
        let (x, places) = (n(a, 0)?, n(a, 1)?);
        if places < 0.0 || places.fract() != 0.0 {
            return Err("places must be a non-negative integer".into());
        }
        let scale = 10f64.powi(places as i32);
        Ok(num((x * scale).round() / scale))
    });
    register(rt, "base64_decode", 1, |a| {
        let bytes = base64::engine::general_purpose::STANDARD.decode(s(a, 0)?).map_err(|e| e.to_string())?;
        String::from_utf8(bytes).map(Value::String).map_err(|e| e.to_string())
    });
    register(rt, "base64_encode", 1, |a| Ok(Value::String(base64::engine::general_purpose::STANDARD.encode(s(a, 0)?))));
    register(rt, "path_canonicalize", 1, |a| Ok(Value::String(clean_path(s(a, 0)?))));
    register(rt, "truncate", 2, |a| {
        let len = n(a, 1)?.max(0.0) as usize;
        Ok(Value::String(s(a, 0)?.chars().take(len).collect()))
    });
    register(rt, "semver_compare", 2, |a| semver_matches(s(a, 0)?, s(a, 1)?).map(Value::Bool));
    register(rt, "parse_json", 1, |a| serde_json::from_str(s(a, 0)?).map_err(|e| e.to_string()));
    register(rt, "parse_yaml", 1, |a| {
        let docs = crate::yaml::load_documents("parse_yaml", s(a, 0)?).map_err(|e| e.message)?;
        Ok(docs.into_iter().next().unwrap_or(Value::Null))
    });
    register(rt, "lookup", 2, |a| match (&a[0], &a[1]) {
        (Value::Object(m), Value::String(k)) => Ok(m.get(k).cloned().unwrap_or(Value::Null)),
        (Value::Array(v), Value::Number(i)) => {
            let i = i.as_f64().unwrap_or(-1.0);
            if i.fract() != 0.0 {
                return Err("index must be a whole number".into());
            }
            Ok(if i < 0.0 { Value::Null } else { v.get(i as usize).cloned().unwrap_or(Value::Null) })
        }
        _ => Err("lookup() takes an object and a string key, or an array and an index".into()),
    });
    register(rt, "items", 3, |a| {
        let (kn, vn) = (s(a, 1)?, s(a, 2)?);
        let pair = |k: Value, v: &Value| {
            let mut m = Map::new();
            m.insert(kn.to_string(), k);
            m.insert(vn.to_string(), v.clone());
            Value::Object(m)
        };
        match &a[0] {
            Value::Object(m) => Ok(Value::Array(m.iter().map(|(k, v)| pair(Value::String(k.clone()), v)).collect())),
            Value::Array(v) => Ok(Value::Array(v.iter().enumerate().map(|(i, x)| pair(num(i as f64), x)).collect())),
            _ => Err("argument 1 must be an object or an array".into()),
        }
    });
    register(rt, "object_from_lists", 2, |a| {
        let (Some(keys), Some(values)) = (a[0].as_array(), a[1].as_array()) else {
            return Err("both arguments must be arrays".into());
        };
        let mut m = Map::new();
        for (i, k) in keys.iter().enumerate() {
            let k = k.as_str().ok_or("keys must be strings")?;
            m.insert(k.to_string(), values.get(i).cloned().unwrap_or(Value::Null));
        }
        Ok(Value::Object(m))
    });
    register(rt, "sha256", 1, |a| Ok(Value::String(hex(&sha2::Sha256::digest(s(a, 0)?.as_bytes())))));
    register(rt, "sha1", 1, |a| Ok(Value::String(hex(&sha1::Sha1::digest(s(a, 0)?.as_bytes())))));
    register(rt, "md5", 1, |a| Ok(Value::String(hex(&md5::Md5::digest(s(a, 0)?.as_bytes())))));
    register(rt, "image_normalize", 1, |a| normalize_image(s(a, 0)?).map(Value::String));
    register(rt, "is_external_url", 1, |_| {
        Err(format!("{UNSUPPORTED} is_external_url: it needs DNS, which a sandboxed build does not have"))
    });
    register(rt, "x509_decode", 1, |_| {
        Err(format!("{UNSUPPORTED} x509_decode: certificate decoding is not implemented"))
    });

    let now = Instant { secs: clock.now, nanos: 0 };
    register(rt, "time_now", 0, move |_| Ok(Value::String(time::format_rfc3339(now))));
    register(rt, "time_now_utc", 0, move |_| Ok(Value::String(time::format_rfc3339(now))));
    register(rt, "time_since", 3, move |a| {
        let layout = s(a, 0)?;
        if !layout.is_empty() && layout != "2006-01-02T15:04:05Z07:00" {
            return Err(format!("layout {layout:?} is not supported (use \"\" or RFC 3339)"));
        }
        let start = time_arg(a, 1)?;
        let end = if s(a, 2)?.is_empty() { now } else { time_arg(a, 2)? };
        Ok(Value::String(time::format_duration(end.seconds_since(start))))
    });
    register(rt, "time_add", 2, |a| {
        let t = time_arg(a, 0)?;
        let d = time::parse_duration(s(a, 1)?).ok_or("argument 2 must be a duration")?;
        Ok(Value::String(time::format_rfc3339(t.add_seconds(d))))
    });
    register(rt, "time_parse", 2, |a| {
        let (layout, value) = (s(a, 0)?, str_or_number(a, 1)?);
        if !layout.is_empty() && layout.bytes().all(|b| b.is_ascii_digit()) {
            let secs: i64 = value.parse().map_err(|_| format!("{value:?} is not epoch seconds"))?;
            return Ok(Value::String(time::format_rfc3339(Instant { secs, nanos: 0 })));
        }
        if layout != "2006-01-02T15:04:05Z07:00" {
            return Err(format!("layout {layout:?} is not supported (use RFC 3339 or epoch seconds)"));
        }
        let t = time::parse_rfc3339(&value).ok_or_else(|| format!("{value:?} does not match the layout"))?;
        Ok(Value::String(time::format_rfc3339(t)))
    });
    register(rt, "time_utc", 1, |a| Ok(Value::String(time::format_rfc3339(time_arg(a, 0)?))));
    register(rt, "time_diff", 2, |a| {
        Ok(Value::String(time::format_duration(time_arg(a, 1)?.seconds_since(time_arg(a, 0)?))))
    });
    register(rt, "time_before", 2, |a| Ok(Value::Bool(time_arg(a, 0)? < time_arg(a, 1)?)));
    register(rt, "time_after", 2, |a| Ok(Value::Bool(time_arg(a, 0)? > time_arg(a, 1)?)));
    register(rt, "time_between", 3, |a| {
        let (t, start, end) = (time_arg(a, 0)?, time_arg(a, 1)?, time_arg(a, 2)?);
        Ok(Value::Bool(t > start && t < end))
    });
    register(rt, "time_truncate", 2, |a| {
        let t = time_arg(a, 0)?;
        let d = time::parse_duration(s(a, 1)?).ok_or("argument 2 must be a duration")?;
        if d <= 0.0 {
            return Ok(Value::String(time::format_rfc3339(t)));
        }
        let step = (d * 1e9) as i128;
        let total = t.secs as i128 * 1_000_000_000 + t.nanos as i128;
        let cut = total - total.rem_euclid(step);
        let secs = cut.div_euclid(1_000_000_000) as i64;
        Ok(Value::String(time::format_rfc3339(Instant { secs, nanos: 0 })))
    });
    register(rt, "time_to_cron", 1, |a| {
        let (_, m, d, h, mi, _, wd) = time_arg(a, 0)?.fields();
        Ok(Value::String(format!("{mi} {h} {d} {m} {wd}")))
    });
    let state = Arc::new(Mutex::new(clock.seed));
    register(rt, "random", 1, move |a| random_string(s(a, 0)?, &state).map(Value::String));
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jmes::Jmes;
    use serde_json::json;

    fn eval(expr: &str) -> Value {
        Jmes::new(Clock { now: 1_700_000_000, seed: 7 }).search(expr, &json!({})).unwrap()
    }

    #[test]
    fn string_and_regex_functions() {
        assert_eq!(eval("split('a,b', ',')"), json!(["a", "b"]));
        assert_eq!(eval("to_upper('ab')"), json!("AB"));
        assert_eq!(eval("regex_match('^a+$', 'aaa')"), json!(true));
        assert_eq!(eval("regex_replace_all('([a-z]+)-(\\d+)', 'abc-12', '$2-$1')"), json!("12-abc"));
        assert_eq!(eval("trim('--x--', '-')"), json!("x"));
        assert_eq!(eval("base64_decode(base64_encode('hi'))"), json!("hi"));
        assert_eq!(eval("label_match(`{\"a\":\"1\"}`, `{\"a\":\"1\",\"b\":\"2\"}`)"), json!(true));
        assert_eq!(eval("path_canonicalize('/a/../b//c/.')"), json!("/b/c"));
    }

    #[test]
    fn arithmetic_semver_time_image() {
        assert_eq!(eval("add(`1`, `2`)"), json!(3));
        assert_eq!(eval("add('1h', '90s')"), json!("1h1m30s"));
        assert_eq!(eval("divide('1Gi', '512Mi')"), json!(2));
        assert_eq!(eval("semver_compare('1.2.3', '>=1.0.0 <2.0.0')"), json!(true));
        assert_eq!(eval("semver_compare('2.2.3', '>=1.0.0 <2.0.0')"), json!(false));
        assert_eq!(eval("time_now_utc()"), json!("2023-11-14T22:13:20Z"));
        assert_eq!(eval("time_add('2023-01-01T00:00:00Z', '36h')"), json!("2023-01-02T12:00:00Z"));
        assert_eq!(eval("image_normalize('nginx')"), json!("docker.io/library/nginx:latest"));
        assert_eq!(eval("image_normalize('ghcr.io/a/b:1')"), json!("ghcr.io/a/b:1"));
        let r = eval("random('[a-z0-9]{6}')");
        assert_eq!(r.as_str().map(str::len), Some(6));
        assert_eq!(r, eval("random('[a-z0-9]{6}')"), "same seed, same string");
    }
}
