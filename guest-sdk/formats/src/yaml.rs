//! YAML read the way the Kubernetes API server reads it (`sigs.k8s.io/yaml`:
//! go-yaml v2, then JSON): YAML 1.1 scalars (`yes` is true, `0755` is 493),
//! `<<` merge keys, integral floats as integers, and duplicate keys refused
//! as strict decoding does. Every node keeps the line it starts on, so a
//! finding can point at the line a person would open.
//!
//! The event parser is a port of libyaml, like go-yaml's own, so the same
//! text is accepted: a quoted scalar continued on the next line at the key's
//! indentation (common in real CRDs and chart output) loads here as it does
//! in `kubectl`. Input is untrusted: size, nesting and alias expansion are
//! capped ([`Limits`]) and nothing here panics on it.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::ops::ControlFlow;

use serde_json::{Map, Number, Value};

use events::{Event, EventData, Mark, Parser, ScalarStyle};

mod bare_text;
mod events;

pub use bare_text::is_bare as is_bare_text;

/// Caps on one stream, so hostile input cannot exhaust memory or stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted stream, in bytes.
    pub max_bytes: usize,
    /// Deepest nesting of sequences and mappings.
    pub max_depth: usize,
    /// Most nodes a stream may expand to, every alias counted as the nodes
    /// it stands for ("billion laughs" safe). Read one document at a time
    /// ([`for_each_document`]), each document may have this many; the
    /// nodes aliases stand for, over the whole stream, may be this many and
    /// [`ALIASED_PER_BYTE`] for each byte read, so a stream of many small
    /// alias bombs is refused while documents that share a few anchors
    /// each are not, however many there are.
    pub max_nodes: usize,
}

/// How many nodes aliases may stand for, over a stream, for each byte of
/// it read so far (beyond [`Limits::max_nodes`]): expanding aliases then
/// costs at most a few times what reading the text does.
pub const ALIASED_PER_BYTE: u64 = 4;

impl Default for Limits {
    fn default() -> Limits {
        Limits { max_bytes: 64 << 20, max_depth: 256, max_nodes: 1_000_000 }
    }
}

/// A YAML node with the 1-based line and column it starts on.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub line: u32,
    pub column: u32,
    pub value: NodeValue,
    /// For a scalar that did not resolve to a string (`1.20`, `yes`, `~`),
    /// its text as written; `None` otherwise.
    pub written: Option<String>,
}

/// The shape of a [`Node`].
#[derive(Debug, Clone, PartialEq)]
pub enum NodeValue {
    /// A scalar as Kubernetes resolves it: `null`, a bool, a number or a string.
    Scalar(Value),
    Seq(Vec<Node>),
    /// Keys in document order (merge keys already applied), each with the
    /// node of the key itself (for its line) and its value.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// A node without a source text of its own (a scalar's `written` is `None`).
    pub fn new(line: u32, column: u32, value: NodeValue) -> Node {
        Node { line, column, value, written: None }
    }

    /// The node as JSON, the value the API server would store; lines dropped.
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

    /// The JSON object key this node becomes: a string as is, another
    /// scalar in its JSON spelling (`1`, `true`, `null`), as
    /// `sigs.k8s.io/yaml` does; a collection (never a key of a loaded
    /// document, the loader refuses those as go-yaml does) as JSON.
    pub fn key_string(&self) -> String {
        match &self.value {
            NodeValue::Scalar(Value::String(s)) => s.clone(),
            _ => self.to_json().to_string(),
        }
    }

    /// The string of a scalar that resolved to a string.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            NodeValue::Scalar(Value::String(s)) => Some(s),
            _ => None,
        }
    }

    /// The text of a non-null scalar as written (`1.20` stays `1.20`), for
    /// readers that want a string wherever one was plausibly meant.
    pub fn text(&self) -> Option<&str> {
        match &self.value {
            NodeValue::Scalar(Value::String(s)) => Some(s),
            NodeValue::Scalar(Value::Null) => None,
            NodeValue::Scalar(_) => self.written.as_deref(),
            _ => None,
        }
    }

    /// Whether this is a null scalar (`~`, `null`, empty).
    pub fn is_null(&self) -> bool {
        self.value == NodeValue::Scalar(Value::Null)
    }

    /// The value under `key`, when this is a mapping holding it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            NodeValue::Map(entries) => entries.iter().find(|(k, _)| k.key_string() == key).map(|(_, v)| v),
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

    /// How many nodes this holds, itself included (for the alias cap).
    fn size(&self) -> usize {
        match &self.value {
            NodeValue::Scalar(_) => 1,
            NodeValue::Seq(items) => 1 + items.iter().map(Node::size).sum::<usize>(),
            NodeValue::Map(entries) => 1 + entries.iter().map(|(k, v)| k.size() + v.size()).sum::<usize>(),
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

impl Document {
    /// The 1-based line the document's content starts on.
    pub fn line(&self) -> u32 {
        self.root.line
    }
}

/// Text that is not YAML (or breaks a limit), located by document index and
/// 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// Index of the document being read, counting empty ones.
    pub document: usize,
    pub line: u32,
    pub column: u32,
    pub message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {} column {}: {}", self.line, self.column, self.message)
    }
}

impl std::error::Error for Error {}

/// Every non-empty document of `text` with the default [`Limits`]. A bare
/// `---` or a document holding only `null` is dropped, as kubectl does.
pub fn load(text: &str) -> Result<Vec<Document>, Error> {
    load_with(text, Limits::default())
}

/// [`load`] with explicit limits.
pub fn load_with(text: &str, limits: Limits) -> Result<Vec<Document>, Error> {
    let mut docs = Vec::new();
    stream_text(text, limits, false, &mut |doc| {
        docs.push(doc);
        ControlFlow::Continue(())
    })?;
    Ok(docs)
}

/// [`for_each_document`] over a reader: the text is pulled as the parser
/// needs it, so neither the text nor the stream's documents are held whole.
/// `max_bytes` caps the bytes read.
pub fn for_each_document_in(
    reader: &mut dyn std::io::Read,
    limits: Limits,
    each: &mut dyn FnMut(Document) -> ControlFlow<()>,
) -> Result<(), Error> {
    let parser = Parser::from_reader(reader, limits.max_bytes);
    let mut loader = Loader { parser, limits, document: 0, anchors: HashMap::new(), nodes: 0, aliased: 0 };
    loader.stream(true, each)
}

/// Calls `each` with every non-empty document of `text` in order (see
/// [`load`]), holding one document at a time, so memory follows the
/// largest document rather than the stream. `max_nodes` applies to each
/// document (anchors never cross documents) and to the nodes the stream's
/// aliases stand for; `max_bytes` to the text.
/// `each` stops the walk by returning `Break`.
pub fn for_each_document(
    text: &str,
    limits: Limits,
    each: &mut dyn FnMut(Document) -> ControlFlow<()>,
) -> Result<(), Error> {
    stream_text(text, limits, true, each)
}

/// The documents of a text held whole: a bare text (no YAML syntax at all)
/// folded directly, anything else through the event parser.
fn stream_text(
    text: &str,
    limits: Limits,
    per_document: bool,
    each: &mut dyn FnMut(Document) -> ControlFlow<()>,
) -> Result<(), Error> {
    check_size(text.len(), limits)?;
    if limits.max_nodes > 0
        && let Some(document) = bare_text::documents(text)
    {
        if let Some(document) = document {
            let _ = each(document);
        }
        return Ok(());
    }
    Loader::new(text, limits)?.stream(per_document, each)
}

/// Refuses a stream longer than `limits.max_bytes` before anything reads it.
fn check_size(len: usize, limits: Limits) -> Result<(), Error> {
    if len > limits.max_bytes {
        return Err(Error {
            document: 0,
            line: 1,
            column: 1,
            message: format!("{len} bytes is more than the {} bytes a YAML stream may have", limits.max_bytes),
        });
    }
    Ok(())
}

/// Every non-empty document of `text` as JSON (see [`load`]).
pub fn load_json(text: &str) -> Result<Vec<Value>, Error> {
    Ok(load(text)?.into_iter().map(|d| d.root.to_json()).collect())
}

struct Loader<'a> {
    parser: Parser<'a>,
    limits: Limits,
    document: usize,
    anchors: HashMap<String, Node>,
    /// Nodes made so far in the stream (or document), aliases expanded.
    nodes: usize,
    /// Nodes made by expanding aliases in the whole stream.
    aliased: usize,
}

fn line_col(mark: Mark) -> (u32, u32) {
    let clamp = |n: u64| u32::try_from(n.saturating_add(1)).unwrap_or(u32::MAX);
    (clamp(mark.line), clamp(mark.column))
}

impl<'a> Loader<'a> {
    fn new(text: &'a str, limits: Limits) -> Result<Loader<'a>, Error> {
        check_size(text.len(), limits)?;
        let parser = Parser::new(text.as_bytes());
        Ok(Loader { parser, limits, document: 0, anchors: HashMap::new(), nodes: 0, aliased: 0 })
    }

    fn error(&self, mark: Mark, message: impl Into<String>) -> Error {
        let (line, column) = line_col(mark);
        Error { document: self.document, line, column, message: message.into() }
    }

    fn next(&mut self) -> Result<Event, Error> {
        self.parser.parse().map_err(|e| match self.parser.read_error() {
            Some(why) => self.error(e.mark, format!("reading the input: {why}")),
            None => self.error(e.mark, e.message),
        })
    }

    /// Hands each non-empty document to `each`; `per_document` restarts
    /// the node count at every document.
    fn stream(&mut self, per_document: bool, each: &mut dyn FnMut(Document) -> ControlFlow<()>) -> Result<(), Error> {
        loop {
            let ev = self.next()?;
            match ev.data {
                EventData::StreamStart | EventData::DocumentEnd => {}
                EventData::StreamEnd => return Ok(()),
                EventData::DocumentStart => {
                    self.anchors.clear();
                    if per_document {
                        self.nodes = 0;
                    }
                    let first = self.next()?;
                    let root = self.node(first, 0)?;
                    if !root.is_null() && each(Document { index: self.document, root }).is_break() {
                        return Ok(());
                    }
                    self.document += 1;
                }
                _ => return Err(self.error(ev.start_mark, "unexpected YAML event outside a document")),
            }
        }
    }

    fn count(&mut self, n: usize, mark: Mark) -> Result<(), Error> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > self.limits.max_nodes {
            let max = self.limits.max_nodes;
            return Err(self.error(mark, format!("more than {max} nodes (aliases expanded)")));
        }
        Ok(())
    }

    fn node(&mut self, ev: Event, depth: usize) -> Result<Node, Error> {
        let mark = ev.start_mark;
        if depth > self.limits.max_depth {
            let max = self.limits.max_depth;
            return Err(self.error(mark, format!("nesting deeper than {max} levels")));
        }
        let (line, column) = line_col(mark);
        let (anchor, node) = match ev.data {
            EventData::Scalar { anchor, tag, value, style, .. } => {
                self.count(1, mark)?;
                let resolved =
                    resolve_scalar(&value, style, tag.as_deref()).map_err(|message| self.error(mark, message))?;
                let written = (!resolved.is_string()).then_some(value);
                (anchor, Node { line, column, value: NodeValue::Scalar(resolved), written })
            }
            EventData::Alias { anchor } => {
                let Some(target) = self.anchors.get(&anchor) else {
                    return Err(self.error(mark, format!("alias to an unknown anchor {anchor:?}")));
                };
                let mut node = target.clone();
                let size = node.size();
                self.count(size, mark)?;
                // A document's count restarts; what aliases stand for does
                // not, or a stream of small bombs would add up unchecked.
                self.aliased = self.aliased.saturating_add(size);
                let budget = (self.limits.max_nodes as u64).saturating_add(mark.index.saturating_mul(ALIASED_PER_BYTE));
                if self.aliased as u64 > budget {
                    let max = self.limits.max_nodes;
                    return Err(self.error(
                        mark,
                        format!(
                            "aliases stand for more nodes than a stream may expand to \
                             ({max}, and {ALIASED_PER_BYTE} for each byte read)"
                        ),
                    ));
                }
                // The alias stands where it is written: findings about it point here.
                (node.line, node.column) = (line, column);
                return Ok(node);
            }
            EventData::SequenceStart { anchor, .. } => {
                self.count(1, mark)?;
                let mut items = Vec::new();
                loop {
                    let ev = self.next()?;
                    if matches!(ev.data, EventData::SequenceEnd) {
                        break;
                    }
                    items.push(self.node(ev, depth + 1)?);
                }
                (anchor, Node::new(line, column, NodeValue::Seq(items)))
            }
            EventData::MappingStart { anchor, .. } => {
                self.count(1, mark)?;
                let entries = self.mapping(depth)?;
                (anchor, Node::new(line, column, NodeValue::Map(entries)))
            }
            _ => return Err(self.error(mark, "unexpected YAML event")),
        };
        if let Some(anchor) = anchor {
            self.anchors.insert(anchor, node.clone());
        }
        Ok(node)
    }

    /// The entries of a mapping whose start event was just read: duplicate
    /// keys refused, `<<` merges applied with explicit keys winning and,
    /// within a merged list, earlier mappings winning (YAML's merge type).
    fn mapping(&mut self, depth: usize) -> Result<Vec<(Node, Node)>, Error> {
        let mut entries: Vec<(Node, Node)> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut merged: Vec<(Node, Node)> = Vec::new();
        loop {
            let ev = self.next()?;
            if matches!(ev.data, EventData::MappingEnd) {
                break;
            }
            let key_mark = ev.start_mark;
            let is_merge = matches!(&ev.data, EventData::Scalar { value, style: ScalarStyle::Plain, tag: None, anchor: None } if value == "<<");
            let key = self.node(ev, depth + 1)?;
            // go-yaml refuses a mapping or sequence as a key ("invalid map
            // key"), so the API server never sees one. Spelling such a key
            // as JSON would also escape each nested key once more: `? ? ? …`
            // doubles the key's length per level.
            if matches!(key.value, NodeValue::Seq(_) | NodeValue::Map(_)) {
                return Err(self.error(key_mark, "a mapping or sequence cannot be a mapping key"));
            }
            let ev = self.next()?;
            let value_mark = ev.start_mark;
            let value = self.node(ev, depth + 1)?;
            if is_merge {
                merge_into(&mut merged, value).map_err(|m| self.error(value_mark, m))?;
                continue;
            }
            let name = key.key_string();
            if !seen.insert(name.clone()) {
                return Err(self.error(key_mark, format!("duplicate key {name:?}")));
            }
            entries.push((key, value));
        }
        let mut merged_seen = HashSet::new();
        for (k, v) in merged {
            let name = k.key_string();
            if !seen.contains(&name) && merged_seen.insert(name) {
                entries.push((k, v));
            }
        }
        Ok(entries)
    }
}

fn merge_into(merged: &mut Vec<(Node, Node)>, value: Node) -> Result<(), String> {
    match value.value {
        NodeValue::Map(entries) => {
            merged.extend(entries);
            Ok(())
        }
        NodeValue::Seq(items) => {
            for item in items {
                if !matches!(item.value, NodeValue::Map(_)) {
                    return Err("merge key `<<` needs a mapping or a list of mappings".into());
                }
                merge_into(merged, item)?;
            }
            Ok(())
        }
        _ => Err("merge key `<<` needs a mapping or a list of mappings".into()),
    }
}

/// The prefix of YAML's own tags (`!!str` is `tag:yaml.org,2002:str`).
const YAML_TAG: &str = "tag:yaml.org,2002:";

/// A scalar's value: quoted ones are strings, plain ones resolve by
/// [`resolve_plain`], and a `!!str`/`!!int`/`!!float`/`!!bool`/`!!null`
/// tag forces its type (a value that does not fit is an error, as go-yaml's).
fn resolve_scalar(text: &str, style: ScalarStyle, tag: Option<&str>) -> Result<Value, String> {
    let plain = style == ScalarStyle::Plain;
    let Some(tag) = tag else {
        return Ok(if plain { resolve_plain(text) } else { Value::String(text.to_string()) });
    };
    let resolved = resolve_plain(text);
    let name = tag.strip_prefix(YAML_TAG);
    Ok(match name {
        Some("str") => Value::String(text.to_string()),
        Some("null") => Value::Null,
        Some("int" | "float") if resolved.is_number() => resolved,
        Some("bool") if resolved.is_boolean() => resolved,
        Some(name @ ("int" | "float" | "bool")) => return Err(format!("cannot decode {text:?} as !!{name}")),
        // `!` (the non-specific tag) and tags of other schemas keep the text.
        _ if tag == "!" || !plain => Value::String(text.to_string()),
        _ => resolved,
    })
}

/// Resolves a plain scalar by go-yaml v2's YAML 1.1 rules, then as
/// `sigs.k8s.io/yaml`'s JSON round trip leaves it (integral floats become
/// integers; infinities and NaN, which JSON cannot hold, stay strings).
pub fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => return Value::Bool(true),
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Value::Bool(false);
        }
        _ => {}
    }
    let Some(&first) = text.as_bytes().first() else { return Value::Null };
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

/// Go's `strconv.ParseInt(s, 0, 64)` after go-yaml drops `_`: decimal,
/// `0x`, `0o`, `0b` and a leading `0` for octal; beyond int64, uint64, then
/// a float.
fn parse_int(text: &str) -> Option<Number> {
    let plain: String = text.chars().filter(|&c| c != '_').collect();
    let (neg, digits) = match plain.as_bytes().first()? {
        b'-' => (true, &plain[1..]),
        b'+' => (false, &plain[1..]),
        _ => (false, plain.as_str()),
    };
    let lower = digits.get(..2).map(str::to_ascii_lowercase);
    let (radix, body) = match lower.as_deref() {
        Some("0x") => (16, &digits[2..]),
        Some("0o") => (8, &digits[2..]),
        Some("0b") => (2, &digits[2..]),
        _ if digits.len() > 1 && digits.starts_with('0') => (8, &digits[1..]),
        _ => (10, digits),
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

/// go-yaml's float form `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
/// (after dropping `_`); `.inf` and `.nan` are left to the caller.
fn parse_float(text: &str) -> Option<f64> {
    let plain: String = text.chars().filter(|&c| c != '_').collect();
    let body = plain.strip_prefix(['-', '+']).unwrap_or(&plain);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = digits(whole) && digits(fraction) && (!whole.is_empty() || !fraction.is_empty());
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    if !mantissa_ok || !exponent_ok {
        return None;
    }
    plain.parse().ok()
}

/// A float as Kubernetes stores it after the JSON round trip: integral
/// values in int64's range come back as integers; `None` for infinities and NaN.
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
mod tests;
