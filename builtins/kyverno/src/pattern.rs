//! Scalar pattern matching (`pattern.Validate` in Kyverno): a resource value
//! against one pattern leaf such as `"!*:latest | >=1Gi & <4Gi"`.

use std::cmp::Ordering;
use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value;

use crate::{gofmt, quantity};
use sealbox_formats::{glob, time};

/// A comparison operator of a pattern condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Equal,
    NotEqual,
    More,
    Less,
    MoreEqual,
    LessEqual,
}

/// Whether `value` satisfies the pattern leaf `pattern`.
pub fn validate(value: &Value, pattern: &Value) -> bool {
    match pattern {
        Value::Bool(p) => value.as_bool() == Some(*p),
        Value::Number(p) => {
            let p = p.as_f64().unwrap_or(f64::NAN);
            match value {
                Value::Number(v) => v.as_f64() == Some(p),
                Value::String(s) => s.trim().parse::<f64>().ok() == Some(p) && is_go_float(s),
                _ => false,
            }
        }
        Value::Null => match value {
            Value::Null => true,
            Value::Number(n) => n.as_f64() == Some(0.0),
            Value::String(s) => s.is_empty(),
            Value::Bool(b) => !b,
            _ => false,
        },
        Value::Object(_) => value.is_object(),
        Value::Array(_) => false,
        Value::String(p) => validate_string(value, p),
    }
}

/// Rejects spellings Rust parses but Go's ParseFloat does not (`inf` is fine
/// in both; surrounding spaces are not accepted by Go).
fn is_go_float(s: &str) -> bool {
    !s.starts_with(char::is_whitespace) && !s.ends_with(char::is_whitespace)
}

fn validate_string(value: &Value, pattern: &str) -> bool {
    if let Value::String(s) = value
        && s == pattern
    {
        return true;
    }
    pattern.split('|').any(|alt| alt.split('&').all(|cond| validate_condition(value, cond.trim())))
}

fn range_regexes() -> &'static (Regex, Regex) {
    static RE: OnceLock<(Regex, Regex)> = OnceLock::new();
    RE.get_or_init(|| {
        let side = r"([-|\+]?\d+(?:\.\d+)?[A-Za-z]*)";
        let not_in = Regex::new(&format!("^{side}!-{side}$")).expect("static regex");
        let in_range = Regex::new(&format!("^{side}-{side}$")).expect("static regex");
        (not_in, in_range)
    })
}

/// Splits a pattern condition into its operator and operand.
pub fn parse_operator(cond: &str) -> (Op, &str) {
    if cond.len() >= 2 {
        for (prefix, op) in
            [(">=", Op::MoreEqual), ("<=", Op::LessEqual), (">", Op::More), ("<", Op::Less), ("!", Op::NotEqual)]
        {
            if let Some(rest) = cond.strip_prefix(prefix) {
                return (op, rest.trim());
            }
        }
    }
    (Op::Equal, cond)
}

fn validate_condition(value: &Value, cond: &str) -> bool {
    let (op, operand) = parse_operator(cond);
    // Ranges look like `1-10` or `1Gi!-2Gi`: a digit or sign first and a dash inside.
    let maybe_range = cond.as_bytes().first().is_some_and(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'|'))
        && cond[1..].contains('-');
    if op == Op::Equal && maybe_range {
        let (not_in, in_range) = range_regexes();
        if let Some(c) = not_in.captures(cond) {
            return compare(value, Op::Less, &c[1]) || compare(value, Op::More, &c[2]);
        }
        if let Some(c) = in_range.captures(cond) {
            return compare(value, Op::MoreEqual, &c[1]) && compare(value, Op::LessEqual, &c[2]);
        }
    }
    compare(value, op, operand)
}

/// The value spelled as a string for duration and quantity parsing; `None`
/// for maps, arrays and bools, which never compare that way.
fn numeric_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => Some("0".into()),
        Value::Number(n) if n.is_f64() => Some(format!("{:.6}", n.as_f64().unwrap_or(0.0))),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

fn apply(op: Op, ord: Ordering) -> bool {
    match op {
        Op::Equal => ord == Ordering::Equal,
        Op::NotEqual => ord != Ordering::Equal,
        Op::More => ord == Ordering::Greater,
        Op::Less => ord == Ordering::Less,
        Op::MoreEqual => ord != Ordering::Less,
        Op::LessEqual => ord != Ordering::Greater,
    }
}

/// Compares `value` with one operand: as durations, else as quantities,
/// else (equality only) as a wildcard string.
pub fn compare(value: &Value, op: Op, operand: &str) -> bool {
    if let Some(text) = numeric_text(value) {
        if let (Some(p), Some(v)) = (time::parse_duration(operand), time::parse_duration(&text)) {
            return apply(op, v.total_cmp(&p));
        }
        if let (Some(p), Some(v)) = (quantity::parse(operand), quantity::parse(&text)) {
            return apply(op, quantity::cmp(v, p));
        }
    }
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) if n.is_f64() => gofmt::format_e(n.as_f64().unwrap_or(0.0)),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return false,
    };
    match op {
        Op::Equal => glob::wildcard(operand, &text),
        Op::NotEqual => !glob::wildcard(operand, &text),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn operators_ranges_and_quirks() {
        assert!(validate(&json!("nginx:1.2"), &json!("!*:latest")));
        assert!(!validate(&json!("nginx:latest"), &json!("!*:latest")));
        assert!(validate(&json!("2Gi"), &json!(">=1Gi & <4Gi")));
        assert!(validate(&json!(5), &json!("1-10")));
        assert!(!validate(&json!(5), &json!("1!-10")));
        assert!(validate(&json!(11), &json!("1!-10")));
        assert!(validate(&json!("60m"), &json!("1h")));
        assert!(validate(&json!("1000m"), &json!("1")));
        assert!(validate(&Value::Null, &json!("<1")));
        assert!(!validate(&Value::Null, &json!("!foo")));
        assert!(!validate(&Value::Null, &json!("?*")));
        assert!(validate(&json!(1.5), &json!("1.5E+00")));
    }
}
