//! The wasm entry point of the `documents` step: reads every YAML/JSON file
//! the request lists under `/in` and writes the documents view to
//! `/out/documents.jsonl` (see the library docs for the format).

use std::io::Write;
use std::path::Path;

use sealbox_documents::{Summary, VIEW_FILE, is_document_file, write_view};
use sealbox_guest::{FileKind, INPUT_DIR, OUTPUT_DIR, Request, Response};

sealbox_guest::module_metadata!(
    r#"{"name":"documents","version":"0.1.0","kind":"transform","capabilities":{"writeOutput":true}}"#
);

fn step(req: Request) -> Result<Response, Box<dyn std::error::Error>> {
    let files: Vec<&str> = req
        .files
        .iter()
        .filter(|f| f.kind == FileKind::File && is_document_file(&f.path))
        .map(|f| f.path.as_str())
        .collect();
    let path = Path::new(OUTPUT_DIR).join(VIEW_FILE);
    let file = std::fs::File::create(&path).map_err(|e| format!("creating {}: {e}", path.display()))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let summary: Summary = write_view(Path::new(INPUT_DIR), &files, &mut out)?;
    out.flush().map_err(|e| format!("writing {}: {e}", path.display()))?;
    let mut response = Response::success();
    response.data = serde_json::json!({
        "files": summary.files, "documents": summary.documents, "errors": summary.errors,
    });
    Ok(response)
}

fn main() {
    sealbox_guest::run(step);
}
