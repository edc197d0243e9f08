//! Kubernetes' reading of YAML (`sealbox_formats::yaml`, shared with the
//! host, the image search and the Rust SDK) as the engine consumes it: each
//! document as JSON, with errors naming file, document and line.

use std::fmt;
use std::ops::ControlFlow;

use sealbox_formats::yaml;
use serde_json::Value;

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

/// One non-empty document of a stream with where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// Its index in the stream, counting empty documents too.
    pub index: usize,
    /// The 1-based line its content starts on.
    pub line: usize,
    pub value: Value,
}

/// Decodes every document of `text` (named `file` in errors) into JSON
/// values. Empty documents (a bare `---`) are dropped, as kubectl does.
pub fn load_documents(file: &str, text: &str) -> Result<Vec<Value>, YamlError> {
    Ok(load_located(file, text)?.into_iter().map(|d| d.value).collect())
}

/// Like [`load_documents`], keeping each document's stream index and line.
pub fn load_located(file: &str, text: &str) -> Result<Vec<Document>, YamlError> {
    let docs = yaml::load(text).map_err(|e| located_error(file, e))?;
    Ok(docs.into_iter().map(located).collect())
}

/// Calls `each` with every document `reader` holds, as [`load_located`]
/// gives them, one at a time and reading as it goes, so memory follows the
/// largest document rather than the file (see
/// [`yaml::for_each_document_in`]). The file's length is not capped: only
/// each document's size, nesting and aliases are.
pub fn for_each_located(
    file: &str,
    reader: &mut dyn std::io::Read,
    each: &mut dyn FnMut(Document) -> ControlFlow<()>,
) -> Result<(), YamlError> {
    let limits = yaml::Limits { max_bytes: usize::MAX, ..yaml::Limits::default() };
    yaml::for_each_document_in(reader, limits, &mut |d| each(located(d))).map_err(|e| located_error(file, e))
}

fn located(d: yaml::Document) -> Document {
    Document { index: d.index, line: d.line() as usize, value: d.root.to_json() }
}

fn located_error(file: &str, e: yaml::Error) -> YamlError {
    YamlError {
        file: file.to_string(),
        document: e.document,
        line: e.line as usize,
        column: e.column as usize,
        message: e.message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn documents_keep_stream_index_line_and_errors_name_the_file() {
        let docs = load_located("f.yaml", "a: yes\n---\n---\n# note\nb: 0755\n").expect("yaml");
        let found: Vec<_> = docs.iter().map(|d| (d.index, d.line, d.value.clone())).collect();
        assert_eq!(found, [(0, 1, json!({"a": true})), (2, 5, json!({"b": 493}))]);
        let err = load_documents("bad.yaml", "a: 1\n---\nb: [1, 2\n").unwrap_err();
        assert_eq!((err.file.as_str(), err.document), ("bad.yaml", 1));
        assert!(err.to_string().starts_with("bad.yaml: document 1 (line "), "{err}");
    }
}
