//! A YAML emitter for template values in the style Helm's `toYaml` prints
//! (sigs.k8s.io/yaml over go-yaml v2): sorted keys, two-space indentation,
//! list items at their parent key's indentation, strings quoted only when
//! they would otherwise read as something else.

use super::printf::format_float_g;
use super::value::Value;

/// `v` as a YAML document (ending with a newline).
pub fn to_yaml(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Map(m) if !m.is_empty() => write_map(&mut out, v, 0),
        Value::List(l) if !l.is_empty() => write_list(&mut out, v, 0),
        other => {
            out.push_str(&scalar(other, 0));
            out.push('\n');
        }
    }
    out
}

fn write_map(out: &mut String, v: &Value, indent: usize) {
    let Value::Map(m) = v else { return };
    for (k, item) in m.iter() {
        out.push_str(&" ".repeat(indent));
        out.push_str(&plain_or_quoted(k));
        out.push(':');
        write_child(out, item, indent, true);
    }
}

fn write_list(out: &mut String, v: &Value, indent: usize) {
    let Value::List(l) = v else { return };
    for item in l.iter() {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        match item {
            // The first key or item goes on the dash's line, the rest align with it.
            Value::Map(m) if !m.is_empty() => {
                let mut inner = String::new();
                write_map(&mut inner, item, indent + 2);
                out.push(' ');
                out.push_str(&inner[indent + 2..]);
            }
            Value::List(l) if !l.is_empty() => {
                let mut inner = String::new();
                write_list(&mut inner, item, indent + 2);
                out.push(' ');
                out.push_str(&inner[indent + 2..]);
            }
            _ => write_child(out, item, indent, false),
        }
    }
}

/// Writes what follows `key:` or `-`.
fn write_child(out: &mut String, item: &Value, indent: usize, in_map: bool) {
    match item {
        Value::Map(m) if !m.is_empty() => {
            out.push('\n');
            write_map(out, item, indent + 2);
        }
        Value::List(l) if !l.is_empty() => {
            out.push('\n');
            write_list(out, item, if in_map { indent } else { indent + 2 });
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other, indent + 2));
            out.push('\n');
        }
    }
}

fn scalar(v: &Value, indent: usize) -> String {
    match v {
        Value::Null | Value::Func(_) => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => {
            if f.is_nan() {
                ".nan".into()
            } else if f.is_infinite() {
                if *f > 0.0 { ".inf".into() } else { "-.inf".into() }
            } else {
                format_float_g(*f, None, false)
            }
        }
        Value::String(s) if s.contains('\n') => literal_block(s, indent),
        Value::String(s) => plain_or_quoted(s),
        Value::List(_) => "[]".into(),
        Value::Map(_) => "{}".into(),
    }
}

fn literal_block(s: &str, indent: usize) -> String {
    let chomp = if s.ends_with('\n') { "" } else { "-" };
    let mut out = format!("|{chomp}");
    let pad = " ".repeat(indent.max(2));
    for line in s.strip_suffix('\n').unwrap_or(s).split('\n') {
        out.push('\n');
        if !line.is_empty() {
            out.push_str(&pad);
            out.push_str(line);
        }
    }
    out
}

/// Whether a plain scalar would be read back as something other than this string.
fn resolves_to_non_string(s: &str) -> bool {
    const SPECIAL: &[&str] = &[
        "", "~", "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE", "y", "Y", "yes", "Yes",
        "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF", ".inf", ".Inf", ".INF", "-.inf",
        "-.Inf", "-.INF", "+.inf", ".nan", ".NaN", ".NAN", "<<",
    ];
    if SPECIAL.contains(&s) {
        return true;
    }
    let t = s.replace('_', "");
    let t = t.strip_prefix(['+', '-']).unwrap_or(&t);
    if t.is_empty() {
        return false;
    }
    t.parse::<f64>().is_ok() && !t.chars().any(char::is_alphabetic)
        || t.strip_prefix("0x").is_some_and(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit()))
        || t.strip_prefix("0o").is_some_and(|h| !h.is_empty() && h.chars().all(|c| c.is_digit(8)))
        || t.strip_prefix("0b").is_some_and(|h| !h.is_empty() && h.chars().all(|c| c == '0' || c == '1'))
        || (t.contains(['e', 'E']) && t.parse::<f64>().is_ok())
}

/// Whether go-yaml's emitter would refuse the plain style (it then
/// single-quotes): indicators at the start, `: ` or ` #` inside, or
/// surrounding spaces.
fn needs_single_quotes(s: &str) -> bool {
    let mut chars = s.chars();
    let first = chars.next().unwrap_or(' ');
    let second_is_blank = chars.next().is_none_or(|c| c == ' ' || c == '\t');
    s.starts_with([' ', '\t'])
        || s.ends_with([' ', '\t'])
        || "#,[]{}&*!|>'\"%@`".contains(first)
        || ("-?:".contains(first) && second_is_blank)
        || s.contains(": ")
        || s.contains(":\t")
        || s.contains(" #")
        || s.ends_with(':')
}

/// YAML 1.1 sexagesimal numbers (`1:20`), which go-yaml double-quotes.
fn is_base60(s: &str) -> bool {
    let t = s.strip_prefix(['+', '-']).unwrap_or(s);
    let mut parts = t.split(':');
    let Some(head) = parts.next() else { return false };
    let mut rest: Vec<&str> = parts.collect();
    if rest.is_empty() || head.is_empty() || !head.starts_with(|c: char| c.is_ascii_digit()) {
        return false;
    }
    if !head.chars().all(|c| c.is_ascii_digit() || c == '_') {
        return false;
    }
    let last = rest.pop().unwrap_or_default();
    let (last_int, frac) = last.split_once('.').unwrap_or((last, ""));
    let sixty = |p: &str| match p.as_bytes() {
        [d] => d.is_ascii_digit(),
        [a, b] => (b'0'..=b'5').contains(a) && b.is_ascii_digit(),
        _ => false,
    };
    rest.iter().all(|p| sixty(p)) && sixty(last_int) && frac.chars().all(|c| c.is_ascii_digit() || c == '_')
}

fn plain_or_quoted(s: &str) -> String {
    if s.chars().any(|c| c.is_control() && c != '\n') {
        return super::printf::quote_go(s);
    }
    if resolves_to_non_string(s) || is_base60(s) {
        return format!("\"{s}\"");
    }
    if needs_single_quotes(s) {
        return format!("'{}'", s.replace('\'', "''"));
    }
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn m(pairs: Vec<(&str, Value)>) -> Value {
        Value::map(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect::<BTreeMap<_, _>>())
    }

    #[test]
    fn nested_documents() {
        let v = m(vec![
            ("name", "web".into()),
            ("ports", Value::list(vec![m(vec![("port", Value::Int(80)), ("name", "http".into())])])),
            ("args", Value::list(vec!["-v".into(), "true".into()])),
            ("labels", m(vec![("app", "web".into()), ("tier", "".into())])),
            ("empty", m(vec![])),
        ]);
        assert_eq!(
            to_yaml(&v),
            "args:\n- -v\n- \"true\"\nempty: {}\nlabels:\n  app: web\n  tier: \"\"\nname: web\nports:\n- name: http\n  port: 80\n"
        );
    }

    #[test]
    fn scalars_quote_only_when_needed() {
        assert_eq!(plain_or_quoted("10.96.0.0/12"), "10.96.0.0/12");
        assert_eq!(plain_or_quoted("1.5"), "\"1.5\"");
        assert_eq!(plain_or_quoted("a: b"), "'a: b'");
        assert_eq!(plain_or_quoted("-v"), "-v");
        assert_eq!(plain_or_quoted("- v"), "'- v'");
        assert_eq!(plain_or_quoted("-"), "'-'");
        assert_eq!(plain_or_quoted("*.example.com"), "'*.example.com'");
        assert_eq!(plain_or_quoted("1:20"), "\"1:20\"");
        assert_eq!(plain_or_quoted("10:30:00"), "\"10:30:00\"");
        assert_eq!(plain_or_quoted("nginx:1.25"), "nginx:1.25");
        assert_eq!(plain_or_quoted("0x1F"), "\"0x1F\"");
        assert_eq!(to_yaml(&Value::list(vec![Value::list(vec!["a".into(), "b".into()])])), "- - a\n  - b\n");
        assert_eq!(to_yaml(&m(vec![("s", "a\nb".into())])), "s: |-\n  a\n  b\n");
    }
}
