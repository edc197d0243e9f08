//! The documents view, read: every YAML/JSON document of the input tree as
//! the host's `documents` builtin decoded it (the same reader as
//! [`crate::yaml`], Kubernetes' rules), with the line of each field, for a
//! step granted `documents: true`. The host mounts it read-only at
//! [`DOCUMENTS_DIR`]; its format is in `guest-sdk/README.md`.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

/// Where the host mounts the documents view, for a step granted it.
pub const DOCUMENTS_DIR: &str = "/documents";
/// The view's file under [`DOCUMENTS_DIR`]: JSON Lines.
pub const VIEW_FILE: &str = "documents.jsonl";

/// One line of the view: a document, or a file that could not be read.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Record {
    /// The file, relative to the input root.
    pub file: String,
    /// Its index in the file's stream (0-based, empty documents counted).
    #[serde(default)]
    pub document: usize,
    /// The line it starts on.
    #[serde(default)]
    pub line: u32,
    /// The document as JSON (absent for an error).
    #[serde(default)]
    pub value: Value,
    /// JSON Pointer of every node to its line.
    #[serde(default)]
    pub lines: HashMap<String, u32>,
    /// Why the file could not be read (then it has no documents).
    #[serde(default)]
    pub error: Option<FileError>,
}

/// A file that is not valid YAML, breaks a limit or is not UTF-8.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FileError {
    pub document: usize,
    pub line: u32,
    pub column: u32,
    pub message: String,
}

/// The records of the view in `dir`, or `None` when there is no view
/// there (the step was not granted it).
pub fn read(dir: &Path) -> Result<Option<Vec<Record>>, String> {
    let path = dir.join(VIEW_FILE);
    let Ok(file) = std::fs::File::open(&path) else { return Ok(None) };
    let mut records = Vec::new();
    for (n, line) in std::io::BufReader::with_capacity(1 << 20, file).lines().enumerate() {
        let line = line.map_err(|e| format!("reading the documents view: {e}"))?;
        let record = serde_json::from_str(&line).map_err(|e| format!("the documents view, line {}: {e}", n + 1))?;
        records.push(record);
    }
    Ok(Some(records))
}

/// The JSON Pointer of `path` (map keys, or list indices as numbers).
pub fn pointer(path: &[&str]) -> String {
    path.iter().map(|seg| format!("/{}", seg.replace('~', "~0").replace('/', "~1"))).collect()
}
