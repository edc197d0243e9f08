//! YAML documents with the line every node starts on, so that a module (or
//! the host reading `sealbox.yaml`) can point a finding at the line a person
//! would open.
//!
//! Plain scalars resolve by the YAML 1.2 core schema (`true`, `null`, `12`,
//! `1.5`; `yes` stays a string); quoted scalars are always strings. Anchors
//! and aliases are followed; merge keys are not special.

use std::fmt;

use serde_json::{Map, Number, Value};
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Documents nested deeper than this are refused, so hostile input cannot
/// exhaust the stack.
const MAX_DEPTH: usize = 128;

/// Documents of more nodes than this (aliases counted as the nodes they
/// stand for) are refused, so a "billion laughs" cannot exhaust memory.
const MAX_NODES: usize = 1_000_000;

/// A YAML value with the 1-based line and column it starts on.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub line: u32,
    pub column: u32,
    pub value: NodeValue,
}

/// The shape of a [`Node`].
#[derive(Debug, Clone, PartialEq)]
pub enum NodeValue {
    /// A scalar, resolved to JSON (`null`, a bool, a number or a string).
    Scalar(Value),
    Seq(Vec<Node>),
    /// Keys in document order, each with the node of the key itself (for
    /// its line) and its value.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The node as plain JSON, lines dropped. Map keys that are not strings
    /// are spelled as JSON (`1`, `true`).
    pub fn to_json(&self) -> Value {
        match &self.value {
            NodeValue::Scalar(v) => v.clone(),
            NodeValue::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeValue::Map(entries) => {
                let mut map = Map::new();
                for (k, v) in entries {
                    map.insert(k.key_string(), v.to_json());
                }
                Value::Object(map)
            }
        }
    }

    /// The key spelling of a scalar node (`a`, `1`, `true`); other nodes
    /// are spelled as JSON.
    pub fn key_string(&self) -> String {
        match &self.value {
            NodeValue::Scalar(Value::String(s)) => s.clone(),
            _ => self.to_json().to_string(),
        }
    }

    /// The string of a string scalar.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            NodeValue::Scalar(Value::String(s)) => Some(s),
            _ => None,
        }
    }

    /// The value under `key`, when this is a map holding it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            NodeValue::Map(entries) => entries.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v),
            _ => None,
        }
    }

    /// What kind of node this is, for messages (`a mapping`, `a string`…).
    pub fn kind(&self) -> &'static str {
        match &self.value {
            NodeValue::Scalar(Value::Null) => "null",
            NodeValue::Scalar(Value::Bool(_)) => "a boolean",
            NodeValue::Scalar(Value::Number(_)) => "a number",
            NodeValue::Scalar(_) => "a string",
            NodeValue::Seq(_) => "a list",
            NodeValue::Map(_) => "a mapping",
        }
    }
}

/// One non-empty document of a stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// Its index in the stream, counting empty documents too.
    pub index: usize,
    pub root: Node,
}

/// Text that is not YAML, located by line and column (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub line: u32,
    pub column: u32,
    pub message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

impl std::error::Error for Error {}

/// Every non-empty document of `text`, each with its lines. A bare `---`
/// or a document holding only `null` is dropped, as kubectl does.
pub fn load(text: &str) -> Result<Vec<Document>, Error> {
    let mut loader = Loader { parser: Parser::new_from_str(text), anchors: Vec::new(), nodes: 0 };
    loader.stream()
}

struct Loader<'a> {
    parser: Parser<std::str::Chars<'a>>,
    anchors: Vec<(usize, Node)>,
    /// Nodes made so far, aliases expanded.
    nodes: usize,
}

/// How many nodes `node` holds, itself included.
fn size(node: &Node) -> usize {
    match &node.value {
        NodeValue::Scalar(_) => 1,
        NodeValue::Seq(items) => 1 + items.iter().map(size).sum::<usize>(),
        NodeValue::Map(entries) => 1 + entries.iter().map(|(k, v)| size(k) + size(v)).sum::<usize>(),
    }
}

fn error(mark: Marker, message: impl Into<String>) -> Error {
    Error { line: mark.line() as u32, column: mark.col() as u32 + 1, message: message.into() }
}

impl Loader<'_> {
    fn next(&mut self) -> Result<(Event, Marker), Error> {
        self.parser.next_token().map_err(|e| error(*e.marker(), e.info()))
    }

    fn stream(&mut self) -> Result<Vec<Document>, Error> {
        let mut docs = Vec::new();
        let mut index = 0;
        loop {
            let (ev, mark) = self.next()?;
            match ev {
                Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
                Event::StreamEnd => return Ok(docs),
                Event::DocumentStart => {
                    self.anchors.clear();
                    let (ev, mark) = self.next()?;
                    let root = self.node(ev, mark, 0)?;
                    if root.value != NodeValue::Scalar(Value::Null) {
                        docs.push(Document { index, root });
                    }
                    index += 1;
                }
                _ => return Err(error(mark, "unexpected YAML event outside a document")),
            }
        }
    }

    fn node(&mut self, ev: Event, mark: Marker, depth: usize) -> Result<Node, Error> {
        if depth > MAX_DEPTH {
            return Err(error(mark, format!("nesting deeper than {MAX_DEPTH} levels")));
        }
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(error(mark, format!("more than {MAX_NODES} nodes (aliases expanded)")));
        }
        let at = |value| Node { line: mark.line() as u32, column: mark.col() as u32 + 1, value };
        let (anchor, node) = match ev {
            Event::Scalar(text, style, anchor, _tag) => {
                let value = if style == TScalarStyle::Plain { resolve_plain(&text) } else { Value::String(text) };
                (anchor, at(NodeValue::Scalar(value)))
            }
            Event::Alias(id) => {
                let Some((_, n)) = self.anchors.iter().rev().find(|(a, _)| *a == id) else {
                    return Err(error(mark, "alias to an unknown anchor"));
                };
                self.nodes += size(n);
                if self.nodes > MAX_NODES {
                    return Err(error(mark, format!("more than {MAX_NODES} nodes (aliases expanded)")));
                }
                return Ok(n.clone());
            }
            Event::SequenceStart(anchor, _) => {
                let mut items = Vec::new();
                loop {
                    let (ev, m) = self.next()?;
                    if matches!(ev, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node(ev, m, depth + 1)?);
                }
                (anchor, at(NodeValue::Seq(items)))
            }
            Event::MappingStart(anchor, _) => {
                let mut entries: Vec<(Node, Node)> = Vec::new();
                loop {
                    let (ev, km) = self.next()?;
                    if matches!(ev, Event::MappingEnd) {
                        break;
                    }
                    let key = self.node(ev, km, depth + 1)?;
                    let (ev, vm) = self.next()?;
                    let value = self.node(ev, vm, depth + 1)?;
                    let name = key.key_string();
                    if entries.iter().any(|(k, _)| k.key_string() == name) {
                        return Err(error(km, format!("duplicate key {name:?}")));
                    }
                    entries.push((key, value));
                }
                (anchor, at(NodeValue::Map(entries)))
            }
            _ => return Err(error(mark, "unexpected YAML event")),
        };
        if anchor > 0 {
            self.anchors.push((anchor, node.clone()));
        }
        Ok(node)
    }
}

/// Resolves a plain scalar by the YAML 1.2 core schema.
fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(i) = text.parse::<i64>() {
            return Value::Number(i.into());
        }
        if let Ok(u) = text.parse::<u64>() {
            return Value::Number(u.into());
        }
    }
    let looks_numeric = digits.bytes().next().is_some_and(|b| b.is_ascii_digit() || b == b'.')
        && digits.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'));
    if looks_numeric
        && let Ok(f) = text.parse::<f64>()
        && let Some(n) = Number::from_f64(f)
    {
        return Value::Number(n);
    }
    Value::String(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn documents_keep_their_lines_and_resolve_core_scalars() {
        let text = "a: 1\n---\n---\nkind: Pod\nspec:\n  x: [true, ~, 1.5, yes, \"2\"]\n";
        let docs = load(text).expect("yaml");
        assert_eq!(docs.len(), 2);
        assert_eq!((docs[0].index, docs[0].root.line), (0, 1));
        assert_eq!((docs[1].index, docs[1].root.line), (2, 4));
        assert_eq!(docs[1].root.to_json(), json!({"kind": "Pod", "spec": {"x": [true, null, 1.5, "yes", "2"]}}));
        let spec = docs[1].root.get("spec").expect("spec");
        assert_eq!(spec.get("x").map(|n| n.line), Some(6));
    }

    #[test]
    fn anchors_are_followed_and_bad_input_is_located() {
        let docs = load("a: &v {b: 1}\nc: *v\n").expect("yaml");
        assert_eq!(docs[0].root.to_json(), json!({"a": {"b": 1}, "c": {"b": 1}}));
        let err = load("a: 1\nb: [1,\n").unwrap_err();
        assert!(err.line >= 2, "{err}");
        let dup = load("a: 1\na: 2\n").unwrap_err();
        assert_eq!((dup.line, dup.message.as_str()), (2, "duplicate key \"a\""));
        let mut laughs = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = (b'a' + i - 1) as char;
            let name = (b'a' + i) as char;
            laughs.push_str(&format!("{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
        }
        assert!(load(&laughs).unwrap_err().message.contains("aliases expanded"));
        let deep = "[".repeat(500);
        assert!(load(&deep).is_err(), "deep nesting is refused, not a stack overflow");
    }
}
