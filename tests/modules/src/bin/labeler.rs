//! A transform for `RUN --module`: adds the label given as its one argument
//! (`KEY=VALUE`) to every YAML manifest under `/in/manifests`, writing the
//! changed files to `/out`.
//!
//! It edits text, not YAML: the label goes under each top-level `metadata:`
//! line, which is enough for the tests' own manifests (block style, two
//! spaces of indentation).
sealbox_guest::module_metadata!(
    r#"{"name":"labeler","version":"0.1.0","kind":"transform","capabilities":{"writeOutput":true}}"#
);

use std::path::Path;

use sealbox_guest::{FileKind, Response};

fn main() {
    sealbox_guest::run(|req| {
        let arg = req.config["args"][0].as_str().ok_or("usage: labeler KEY=VALUE")?;
        let (key, value) = arg.split_once('=').ok_or("usage: labeler KEY=VALUE")?;
        let mut changed = 0;
        for f in &req.files {
            let is_yaml = f.path.ends_with(".yaml") || f.path.ends_with(".yml");
            if f.kind != FileKind::File || !f.path.starts_with("manifests/") || !is_yaml {
                continue;
            }
            let text = std::fs::read_to_string(Path::new("/in").join(&f.path))?;
            let dest = Path::new("/out").join(&f.path);
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(dest, label(&text, key, value))?;
            changed += 1;
        }
        let mut response = Response::success();
        response.data = serde_json::json!({ "changed": changed });
        Ok(response)
    });
}

/// `text` with `key: "value"` under every top-level `metadata:`'s labels.
fn label(text: &str, key: &str, value: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        out.push_str(line);
        out.push('\n');
        if line.trim_end() == "metadata:" {
            if lines.peek().is_some_and(|next| next.trim_end() == "  labels:") {
                out.push_str("  labels:\n");
                lines.next();
            } else {
                out.push_str("  labels:\n");
            }
            out.push_str(&format!("    {key}: {value:?}\n"));
        }
    }
    out
}
