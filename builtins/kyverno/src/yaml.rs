//! Kubernetes-flavoured YAML loading: multi-document streams decoded the way
//! `sigs.k8s.io/yaml` does (YAML 1.1 scalars through go-yaml v2, then JSON),
//! so `yes` is a bool, `0755` is octal, and integral floats become integers.

use std::collections::HashMap;
use std::fmt;

use serde_json::{Map, Number, Value};
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A document stream that could not be decoded, located by file, document
/// index (0-based) and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub file: String,
    pub document: usize,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: document {} (line {}, column {}): {}",
            self.file, self.document, self.line, self.column, self.message
        )
    }
}

impl std::error::Error for YamlError {}

/// Documents deeper than this are refused, so hostile input cannot exhaust the stack.
const MAX_DEPTH: usize = 256;

/// Decodes every document of `text` (named `file` in errors) into JSON
/// values. Empty documents (a bare `---`) are dropped, as kubectl does.
pub fn load_documents(file: &str, text: &str) -> Result<Vec<Value>, YamlError> {
    Ok(load_located(file, text)?.into_iter().map(|d| d.value).collect())
}

/// One non-empty document of a stream with where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// Its index in the stream, counting empty documents too.
    pub index: usize,
    /// The 1-based line its content starts on.
    pub line: usize,
    pub value: Value,
}

/// Like [`load_documents`], keeping each document's stream index and line.
pub fn load_located(file: &str, text: &str) -> Result<Vec<Document>, YamlError> {
    let mut loader = Loader { file, parser: Parser::new_from_str(text), document: 0, anchors: HashMap::new() };
    loader.stream()
}

struct Loader<'a> {
    file: &'a str,
    parser: Parser<std::str::Chars<'a>>,
    document: usize,
    anchors: HashMap<usize, Value>,
}

impl Loader<'_> {
    fn error(&self, mark: Marker, message: impl Into<String>) -> YamlError {
        YamlError {
            file: self.file.to_string(),
            document: self.document,
            line: mark.line(),
            column: mark.col() + 1,
            message: message.into(),
        }
    }

    fn next(&mut self) -> Result<(Event, Marker), YamlError> {
        match self.parser.next_token() {
            Ok(ev) => Ok(ev),
            Err(e) => {
                let mark = *e.marker();
                Err(self.error(mark, e.info().to_string()))
            }
        }
    }

    fn stream(&mut self) -> Result<Vec<Document>, YamlError> {
        let mut docs = Vec::new();
        loop {
            let (ev, mark) = self.next()?;
            match ev {
                Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
                Event::StreamEnd => return Ok(docs),
                Event::DocumentStart => {
                    self.anchors.clear();
                    let (ev, mark) = self.next()?;
                    let line = mark.line();
                    let value = self.node(ev, mark, 0)?;
                    if !value.is_null() {
                        docs.push(Document { index: self.document, line, value });
                    }
                    self.document += 1;
                }
                _ => return Err(self.error(mark, "unexpected event outside a document")),
            }
        }
    }

    fn node(&mut self, ev: Event, mark: Marker, depth: usize) -> Result<Value, YamlError> {
        if depth > MAX_DEPTH {
            return Err(self.error(mark, format!("nesting deeper than {MAX_DEPTH} levels")));
        }
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let value = self.scalar(&text, style, tag.as_ref(), mark)?;
                self.remember(anchor, &value);
                Ok(value)
            }
            Event::Alias(id) => match self.anchors.get(&id) {
                Some(v) => Ok(v.clone()),
                None => Err(self.error(mark, "alias to an unknown anchor")),
            },
            Event::SequenceStart(anchor, _) => {
                let mut items = Vec::new();
                loop {
                    let (ev, mark) = self.next()?;
                    if matches!(ev, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node(ev, mark, depth + 1)?);
                }
                let value = Value::Array(items);
                self.remember(anchor, &value);
                Ok(value)
            }
            Event::MappingStart(anchor, _) => {
                let mut map = Map::new();
                let mut merged = Map::new();
                loop {
                    let (ev, kmark) = self.next()?;
                    if matches!(ev, Event::MappingEnd) {
                        break;
                    }
                    let is_merge = matches!(&ev, Event::Scalar(s, TScalarStyle::Plain, _, _) if s == "<<");
                    let key = self.node(ev, kmark, depth + 1)?;
                    let (ev, vmark) = self.next()?;
                    let value = self.node(ev, vmark, depth + 1)?;
                    if is_merge {
                        merge_into(&mut merged, value).map_err(|m| self.error(vmark, m))?;
                        continue;
                    }
                    map.insert(key_string(&key), value);
                }
                for (k, v) in merged {
                    map.entry(k).or_insert(v);
                }
                let value = Value::Object(map);
                self.remember(anchor, &value);
                Ok(value)
            }
            _ => Err(self.error(mark, "unexpected YAML event")),
        }
    }

    fn remember(&mut self, anchor: usize, value: &Value) {
        if anchor > 0 {
            self.anchors.insert(anchor, value.clone());
        }
    }

    fn scalar(&self, text: &str, style: TScalarStyle, tag: Option<&Tag>, mark: Marker) -> Result<Value, YamlError> {
        if let Some(tag) = tag {
            let name = tag.suffix.as_str();
            let resolved = resolve_plain(text);
            return Ok(match name {
                "str" => Value::String(text.to_string()),
                "int" | "float" if matches!(resolved, Value::Number(_)) => resolved,
                "bool" if resolved.is_boolean() => resolved,
                "null" => Value::Null,
                "int" | "float" | "bool" => {
                    return Err(self.error(mark, format!("cannot decode {text:?} as !!{name}")));
                }
                _ => {
                    if style == TScalarStyle::Plain {
                        resolved
                    } else {
                        Value::String(text.to_string())
                    }
                }
            });
        }
        Ok(if style == TScalarStyle::Plain { resolve_plain(text) } else { Value::String(text.to_string()) })
    }
}

fn merge_into(merged: &mut Map<String, Value>, value: Value) -> Result<(), String> {
    match value {
        Value::Object(m) => {
            for (k, v) in m {
                merged.entry(k).or_insert(v);
            }
            Ok(())
        }
        Value::Array(items) => {
            for item in items {
                merge_into(merged, item)?;
            }
            Ok(())
        }
        _ => Err("merge key `<<` needs a mapping or a list of mappings".into()),
    }
}

/// JSON object keys: strings as-is, other scalars in their JSON spelling
/// (`true`, `1`), as sigs.k8s.io/yaml does.
fn key_string(key: &Value) -> String {
    match key {
        Value::String(s) => s.clone(),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

/// Resolves a plain scalar with go-yaml v2's YAML 1.1 rules.
pub fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => return Value::Bool(true),
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Value::Bool(false);
        }
        _ => {}
    }
    let first = text.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.')) {
        return Value::String(text.to_string());
    }
    if let Some(n) = parse_int(text) {
        return Value::Number(n);
    }
    if let Some(f) = parse_float(text) {
        return float_value(f).unwrap_or_else(|| Value::String(text.to_string()));
    }
    Value::String(text.to_string())
}

fn parse_int(text: &str) -> Option<Number> {
    let plain: String = text.chars().filter(|&c| c != '_').collect();
    let (neg, digits) = match plain.as_bytes().first()? {
        b'-' => (true, &plain[1..]),
        b'+' => (false, &plain[1..]),
        _ => (false, plain.as_str()),
    };
    if digits.is_empty() {
        return None;
    }
    let (radix, body) = if let Some(b) = digits.strip_prefix("0b") {
        (2, b)
    } else if let Some(h) = digits.strip_prefix("0x") {
        (16, h)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    if body.is_empty() || !body.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = i128::from_str_radix(body, radix).ok()?;
    let v = if neg { -magnitude } else { magnitude };
    if let Ok(i) = i64::try_from(v) {
        Some(Number::from(i))
    } else if let Ok(u) = u64::try_from(v) {
        Some(Number::from(u))
    } else {
        Number::from_f64(v as f64)
    }
}

fn parse_float(text: &str) -> Option<f64> {
    match text {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF" | ".nan" | ".NaN"
        | ".NAN" => return None,
        _ => {}
    }
    let plain: String = text.chars().filter(|&c| c != '_').collect();
    let body = plain.strip_prefix(['-', '+']).unwrap_or(&plain);
    let mut seen_digit = false;
    let mut chars = body.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_ascii_digit() {
            seen_digit = true;
            chars.next();
        } else {
            break;
        }
    }
    if chars.peek() == Some(&'.') {
        chars.next();
        while let Some(&c) = chars.peek() {
            if c.is_ascii_digit() {
                seen_digit = true;
                chars.next();
            } else {
                break;
            }
        }
    }
    if !seen_digit {
        return None;
    }
    if matches!(chars.peek(), Some('e' | 'E')) {
        chars.next();
        if matches!(chars.peek(), Some('+' | '-')) {
            chars.next();
        }
        let mut exp_digit = false;
        while let Some(&c) = chars.peek() {
            if c.is_ascii_digit() {
                exp_digit = true;
                chars.next();
            } else {
                break;
            }
        }
        if !exp_digit {
            return None;
        }
    }
    if chars.next().is_some() {
        return None;
    }
    plain.parse().ok()
}

/// A float as Kubernetes stores it after a JSON round trip: integral values
/// below 1e21 come back as integers.
pub fn float_value(f: f64) -> Option<Value> {
    if !f.is_finite() {
        return None;
    }
    if f.fract() == 0.0 && f.abs() < 9.2e18 {
        return Some(Value::Number(Number::from(f as i64)));
    }
    Number::from_f64(f).map(Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decodes_multi_document_streams_with_yaml11_scalars() {
        let text = "a: yes\nb: 0755\nc: '1'\nd: 1.0\ne: ~\n---\n---\nx: [1, 2.5, off]\n";
        let docs = load_documents("f.yaml", text).unwrap();
        assert_eq!(
            docs,
            vec![json!({"a": true, "b": 493, "c": "1", "d": 1, "e": null}), json!({"x": [1, 2.5, false]})]
        );
    }

    #[test]
    fn documents_keep_stream_index_and_line() {
        let docs = load_located("f.yaml", "a: 1\n---\n---\n# note\nb: 2\n").unwrap();
        let found: Vec<(usize, usize)> = docs.iter().map(|d| (d.index, d.line)).collect();
        assert_eq!(found, [(0, 1), (2, 5)]);
    }

    #[test]
    fn merge_keys_and_aliases() {
        let text = "base: &b {x: 1, z: 2}\nderived:\n  <<: *b\n  z: 3\n";
        let docs = load_documents("f.yaml", text).unwrap();
        assert_eq!(docs[0]["derived"], json!({"x": 1, "z": 3}));
    }

    #[test]
    fn errors_name_file_and_document() {
        let err = load_documents("bad.yaml", "a: 1\n---\nb: [1, 2\n").unwrap_err();
        assert_eq!(err.file, "bad.yaml");
        assert_eq!(err.document, 1);
        assert!(err.to_string().starts_with("bad.yaml: document 1"), "{err}");
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = "[".repeat(1000) + &"]".repeat(1000);
        let err = load_documents("deep.yaml", &text).unwrap_err();
        assert!(err.message.contains("nesting") || err.message.contains("recursion limit"), "{err}");
    }
}
