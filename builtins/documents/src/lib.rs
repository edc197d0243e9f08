//! The documents view: every YAML and JSON document of a tree, decoded once
//! by the one reader that follows the Kubernetes API server's rules
//! (`sealbox_formats::yaml`: YAML 1.1 scalars, merge keys, duplicate keys
//! refused, capped depth, size and alias expansion), written as JSON for
//! modules in any language to read without a YAML parser of their own.
//!
//! The view is one file, `documents.jsonl`: JSON Lines, one record per
//! line, files in the order given (the host sends them sorted by path),
//! documents in stream order. A record is one of:
//!
//! ```json
//! {"file":"manifests/app.yaml","document":0,"line":1,"value":{…},"lines":{"":1,"/kind":2,"/spec/replicas":7}}
//! {"file":"manifests/bad.yaml","error":{"document":1,"line":3,"column":1,"message":"duplicate key \"a\""}}
//! ```
//!
//! - `document` counts every document of the stream, empty ones too; a
//!   document that is empty or only `null` has no record (as kubectl).
//! - `line` is the 1-based line the document's content starts on.
//! - `lines` maps the JSON Pointer (RFC 6901: `/`-separated, `~0` for `~`,
//!   `~1` for `/`) of every node to the line its value starts on (for
//!   `securityContext:` with `privileged: yes` below it, the `privileged`
//!   line; for a scalar, its key's line), as the Rust SDK's
//!   `Resource::line_of` gives it; `""` is the document itself.
//!   `spec.containers[0].image` is `/spec/containers/0/image`. Members a
//!   merge key (`<<: *anchor`) brought in point at the anchor's lines.
//! - A file that is not valid YAML, breaks a limit or is not UTF-8 gives one
//!   `error` record (its documents are not given: Kubernetes would refuse
//!   the whole file) and no failure of the step.

use std::io::{Read, Write};
use std::path::Path;

use sealbox_formats::yaml::{self, Node, NodeValue};
use serde_json::{Map, Value, json};

/// The file name of the view, under the directory the host mounts at
/// `/documents`. A later format gets a new name.
pub const VIEW_FILE: &str = "documents.jsonl";

/// What a view holds, for the step's answer.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Files read.
    pub files: u64,
    /// Document records written.
    pub documents: u64,
    /// Error records written (one per file that could not be read).
    pub errors: u64,
}

/// Whether a path names a file the view reads: `.yaml`, `.yml` or `.json`,
/// in any case.
pub fn is_document_file(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    [".yaml", ".yml", ".json"].iter().any(|ext| lower.ends_with(ext))
}

/// The view's records for one file's text: each document, or one error.
/// Text that starts with `{` is a stream of JSON values, one after the
/// other, as kubectl reads it (its YAML-or-JSON decoder); anything else is
/// a YAML stream.
pub fn records(file: &str, text: &str) -> Vec<Value> {
    let loaded = match json_stream(text) {
        Some(values) => load_json_stream(text, &values),
        None => yaml::load(text),
    };
    match loaded {
        Ok(docs) => docs
            .iter()
            .map(|d| {
                let mut lines = Map::new();
                index_lines(&d.root, &mut String::new(), &mut lines);
                json!({
                    "file": file, "document": d.index, "line": d.line(),
                    "value": d.root.to_json(), "lines": Value::Object(lines),
                })
            })
            .collect(),
        Err(e) => vec![error_record(file, e.document, e.line, e.column, &e.message)],
    }
}

/// The byte ranges of the top-level values of a JSON stream, when `text`
/// (after white space and a byte order mark) starts with `{`; `None` for
/// YAML. A stream that does not close is one range to the end: the reader
/// then names what is wrong.
fn json_stream(text: &str) -> Option<Vec<(usize, usize)>> {
    let start = text.find(|c: char| !c.is_whitespace() && c != '\u{feff}')?;
    if !text[start..].starts_with('{') {
        return None;
    }
    let bytes = text.as_bytes();
    let mut values = Vec::new();
    let (mut depth, mut in_string, mut escaped, mut begin) = (0usize, false, false, None);
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                if depth == 0 {
                    begin = Some(i);
                }
                depth += 1;
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0
                    && let Some(from) = begin.take()
                {
                    values.push((from, i + 1));
                }
            }
            _ if depth == 0 && !b.is_ascii_whitespace() => {
                // Not a value this scanner knows (a bare scalar between
                // objects): the whole rest goes to the reader, which says why.
                values.push((i, bytes.len()));
                return Some(values);
            }
            _ => {}
        }
    }
    if let Some(from) = begin {
        values.push((from, bytes.len()));
    }
    Some(values)
}

/// Each value of a JSON stream read by the one reader (JSON is YAML's flow
/// style), its lines counted from the start of the file.
fn load_json_stream(text: &str, values: &[(usize, usize)]) -> Result<Vec<yaml::Document>, yaml::Error> {
    let mut docs = Vec::new();
    let mut line = 0u32;
    let mut counted = 0;
    for (index, &(from, to)) in values.iter().enumerate() {
        line += text[counted..from].matches('\n').count() as u32;
        counted = from;
        let shift = |mut e: yaml::Error| {
            e.line += line;
            e.document = index;
            e
        };
        for mut doc in yaml::load(&text[from..to]).map_err(shift)? {
            shift_lines(&mut doc.root, line);
            docs.push(yaml::Document { index, root: doc.root });
        }
    }
    Ok(docs)
}

fn shift_lines(node: &mut Node, by: u32) {
    node.line += by;
    match &mut node.value {
        NodeValue::Scalar(_) => {}
        NodeValue::Seq(items) => items.iter_mut().for_each(|n| shift_lines(n, by)),
        NodeValue::Map(entries) => {
            for (k, v) in entries {
                shift_lines(k, by);
                shift_lines(v, by);
            }
        }
    }
}

fn error_record(file: &str, document: usize, line: u32, column: u32, message: &str) -> Value {
    json!({"file": file, "error": {"document": document, "line": line, "column": column, "message": message}})
}

/// Adds the line of `node` at `pointer`, and of everything below it.
fn index_lines(node: &Node, pointer: &mut String, lines: &mut Map<String, Value>) {
    lines.insert(pointer.clone(), Value::from(node.line));
    let len = pointer.len();
    match &node.value {
        NodeValue::Scalar(_) => {}
        NodeValue::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                pointer.push('/');
                pointer.push_str(&i.to_string());
                index_lines(item, pointer, lines);
                pointer.truncate(len);
            }
        }
        NodeValue::Map(entries) => {
            for (key, value) in entries {
                pointer.push('/');
                pointer.push_str(&escape(&key.key_string()));
                index_lines(value, pointer, lines);
                pointer.truncate(len);
            }
        }
    }
}

/// One JSON Pointer reference token for `key` (RFC 6901).
pub fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Reads each of `files` (paths relative to `root`) and writes its records
/// to `out`, one JSON value per line. A file that cannot be read is an
/// error record; only a failed write is an error.
pub fn write_view(root: &Path, files: &[&str], out: &mut dyn Write) -> Result<Summary, String> {
    let mut summary = Summary::default();
    for &file in files {
        summary.files += 1;
        let records = match read_text(&root.join(file)) {
            Ok(text) => records(file, &text),
            Err(message) => vec![error_record(file, 0, 1, 1, &message)],
        };
        for record in records {
            if record.get("error").is_some() {
                summary.errors += 1;
            } else {
                summary.documents += 1;
            }
            serde_json::to_writer(&mut *out, &record).map_err(|e| format!("writing the view: {e}"))?;
            out.write_all(b"\n").map_err(|e| format!("writing the view: {e}"))?;
        }
    }
    Ok(summary)
}

/// The file's text: at most the reader's byte limit, and UTF-8.
fn read_text(path: &Path) -> Result<String, String> {
    let max = yaml::Limits::default().max_bytes;
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read it: {e}"))?;
    let mut bytes = Vec::new();
    file.take(max as u64 + 1).read_to_end(&mut bytes).map_err(|e| format!("cannot read it: {e}"))?;
    if bytes.len() > max {
        return Err(format!("more than the {max} bytes a YAML stream may have"));
    }
    String::from_utf8(bytes).map_err(|e| format!("not UTF-8 text: {e}"))
}

#[cfg(test)]
mod tests;
