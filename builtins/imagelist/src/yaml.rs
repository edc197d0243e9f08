//! A YAML document tree that remembers the line of every node, loaded with
//! `yaml-rust2`'s event parser. Scalars keep the text as written, so a tag
//! like `1.20` is not turned into the number `1.2` on its way to becoming part
//! of an image reference.

use std::collections::BTreeMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, ScanError, TScalarStyle};

/// One YAML node and the 1-based line it starts on.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// What the node holds.
    pub value: Value,
    /// The 1-based line of the node's first character.
    pub line: u32,
}

/// The content of a node.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A scalar.
    Scalar {
        /// The text as written (without quotes).
        text: String,
        /// Whether it was a plain (unquoted, untagged-style) scalar.
        plain: bool,
    },
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in document order.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The scalar's text when this is a string-like scalar: quoted, or plain
    /// and not a YAML null, boolean or number.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, plain: false } => Some(text),
            Value::Scalar { text, plain: true } if !is_null(text) => Some(text),
            _ => None,
        }
    }

    /// Whether the node is a null (`~`, `null`, empty).
    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar { text, plain: true } if is_null(text))
    }

    /// The value under `key` when this is a mapping with a scalar key `key`.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k.key_text() == Some(key)).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The text of a scalar node, used as a mapping key.
    pub fn key_text(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }
}

fn is_null(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

/// A YAML syntax error with its 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    /// What the parser said.
    pub message: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
}

impl std::fmt::Display for YamlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {} column {}: {}", self.line, self.column, self.message)
    }
}

impl std::error::Error for YamlError {}

impl From<ScanError> for YamlError {
    fn from(e: ScanError) -> Self {
        let m = e.marker();
        YamlError { message: e.info().to_string(), line: to_u32(m.line()), column: to_u32(m.col()) }
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Loads every document of a YAML stream. Empty documents are dropped.
pub fn load_documents(source: &str) -> Result<Vec<Node>, YamlError> {
    let mut loader = Loader::default();
    let mut parser = Parser::new_from_str(source);
    parser.load(&mut loader, true)?;
    if let Some(e) = loader.error {
        return Err(e);
    }
    Ok(loader.docs)
}

/// A node under construction: the container and, for maps, the pending key.
enum Frame {
    Seq(Vec<Node>, usize, u32),
    Map(Vec<(Node, Node)>, Option<Node>, usize, u32),
}

/// Deepest nesting accepted; deeper documents are refused rather than risk
/// the (small, in wasm) stack of the code that walks them.
pub const MAX_DEPTH: usize = 256;
/// Most nodes a stream may expand to, aliases counted in full, so that an
/// alias bomb ("billion laughs") is refused instead of exhausting memory.
pub const MAX_NODES: usize = 1_000_000;

#[derive(Default)]
struct Loader {
    docs: Vec<Node>,
    stack: Vec<Frame>,
    /// Node count of each open container's subtree, parallel to `stack`.
    sizes: Vec<usize>,
    /// Anchored nodes and their node counts.
    anchors: BTreeMap<usize, (Node, usize)>,
    total: usize,
    error: Option<YamlError>,
}

impl MarkedEventReceiver for Loader {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        let line = to_u32(mark.line());
        let fail = |message: &str| Some(YamlError { message: message.into(), line, column: to_u32(mark.col()) });
        match ev {
            Event::SequenceStart(..) | Event::MappingStart(..) if self.stack.len() >= MAX_DEPTH => {
                self.error = fail("nesting is too deep");
            }
            Event::SequenceStart(anchor, _) => self.open(Frame::Seq(Vec::new(), anchor, line)),
            Event::MappingStart(anchor, _) => self.open(Frame::Map(Vec::new(), None, anchor, line)),
            Event::SequenceEnd | Event::MappingEnd => {
                let size = self.sizes.pop().unwrap_or(1);
                let (node, anchor) = match self.stack.pop() {
                    Some(Frame::Seq(items, anchor, line)) => (Node { value: Value::Seq(items), line }, anchor),
                    Some(Frame::Map(entries, _, anchor, line)) => (Node { value: Value::Map(entries), line }, anchor),
                    None => return,
                };
                self.insert(node, anchor, size);
            }
            Event::Scalar(text, style, anchor, _tag) => {
                self.total += 1;
                let node = Node { value: Value::Scalar { text, plain: style == TScalarStyle::Plain }, line };
                self.insert(node, anchor, 1);
            }
            Event::Alias(id) => match self.anchors.get(&id) {
                Some((node, size)) => {
                    let (node, size) = (Node { line, ..node.clone() }, *size);
                    self.total = self.total.saturating_add(size);
                    if self.total > MAX_NODES {
                        self.error = fail("aliases expand to too many nodes");
                        return;
                    }
                    self.insert(node, 0, size);
                }
                None => self.error = fail("alias to an unknown anchor"),
            },
            Event::DocumentEnd | Event::DocumentStart | Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
        }
    }
}

impl Loader {
    fn open(&mut self, frame: Frame) {
        self.total += 1;
        self.stack.push(frame);
        self.sizes.push(1);
    }

    fn insert(&mut self, node: Node, anchor: usize, size: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, (node.clone(), size));
        }
        if let Some(parent) = self.sizes.last_mut() {
            *parent = parent.saturating_add(size);
        }
        match self.stack.last_mut() {
            None => {
                if !node.is_null() {
                    self.docs.push(node);
                }
            }
            Some(Frame::Seq(items, ..)) => items.push(node),
            Some(Frame::Map(entries, pending, ..)) => match pending.take() {
                None => *pending = Some(node),
                Some(key) => entries.push((key, node)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_documents_with_lines() {
        let docs = load_documents("a: 1\n---\n# c\nb:\n  - x: y\n---\n").expect("valid yaml");
        assert_eq!(docs.len(), 2);
        let b = docs[1].get("b").expect("b");
        assert_eq!(b.line, 5);
        let Value::Seq(items) = &b.value else { panic!("not a seq") };
        assert_eq!(items[0].get("x").and_then(Node::as_str), Some("y"));
        assert_eq!(items[0].get("x").map(|n| n.line), Some(5));
    }

    #[test]
    fn keeps_scalars_as_written() {
        let docs = load_documents("tag: 1.20\nq: \"null\"\nn: ~\n").expect("valid yaml");
        assert_eq!(docs[0].get("tag").and_then(Node::as_str), Some("1.20"));
        assert_eq!(docs[0].get("q").and_then(Node::as_str), Some("null"));
        assert_eq!(docs[0].get("n").and_then(Node::as_str), None);
    }

    #[test]
    fn resolves_aliases() {
        let docs = load_documents("a: &img nginx:1\nb: *img\n").expect("valid yaml");
        assert_eq!(docs[0].get("b").and_then(Node::as_str), Some("nginx:1"));
    }

    #[test]
    fn refuses_alias_bombs_and_deep_nesting() {
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let refs = vec![format!("*a{}", i - 1); 10].join(", ");
            bomb.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        let err = load_documents(&bomb).expect_err("10^9 nodes");
        assert!(err.message.contains("too many nodes"), "{err}");
        let nested = |depth: usize| {
            (0..depth).map(|i| format!("{}- \n", "  ".repeat(i))).collect::<String>() + &"  ".repeat(depth) + "x"
        };
        let err = load_documents(&nested(MAX_DEPTH + 1)).expect_err("too deep");
        assert!(err.message.contains("too deep"), "{err}");
        assert!(load_documents(&nested(MAX_DEPTH - 1)).is_ok());
        // Deep flow collections are refused by the scanner itself.
        assert!(load_documents(&"[".repeat(100_000)).is_err());
    }

    #[test]
    fn reports_syntax_errors_with_line() {
        let err = load_documents("a: 1\nb: [unclosed\nc: 2\n").expect_err("invalid yaml");
        assert!(err.line >= 2, "{err}");
    }
}
