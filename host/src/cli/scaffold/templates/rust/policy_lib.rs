//! {{name}}: a sealbox policy. Every Kubernetes object must carry the label
//! named by `config.label` (default `team`).
//!
//! The check is a plain function, tested natively (`cargo test`); `main.rs`
//! only hands it to `sealbox_guest::policy`, which walks every YAML document
//! under `/in` and turns verdicts into diagnostics at the file and line.

use sealbox_guest::{Resource, Verdict};
use serde_json::Value;

/// The verdict on one YAML document.
pub fn check(resource: &Resource<'_>, config: &Value) -> Verdict {
    let label = config.get("label").and_then(Value::as_str).unwrap_or("team");
    if resource.kind().is_empty() {
        return Verdict::pass();
    }
    if resource.value.pointer("/metadata/labels").and_then(|l| l.get(label)).is_some() {
        return Verdict::pass();
    }
    Verdict::fail(format!("{} has no label {label:?}", resource.id()))
        .at(resource.line_of(&["metadata"]).or(Some(resource.line())))
        .rule("{{name}}")
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use sealbox_guest::{Request, Status};

    fn verdict(dir: &str) -> sealbox_guest::Response {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(dir);
        let files = ["manifests/app.yaml"]
            .iter()
            .map(|p| sealbox_guest::FileEntry {
                path: p.to_string(),
                kind: sealbox_guest::FileKind::File,
                mode: 0o644,
                size: 0,
                link: None,
                hardlink: None,
            })
            .collect();
        let req = Request { files, ..Request::default() };
        sealbox_guest::policy::evaluate(&root, &req, super::check)
    }

    #[test]
    fn labelled_objects_pass() {
        assert_eq!(verdict("pass").status, Status::Success);
    }

    #[test]
    fn an_unlabelled_object_fails_at_its_metadata_line() {
        let response = verdict("fail");
        assert_eq!(response.status, Status::Failure);
        assert!(response.diagnostics[0].line.is_some(), "{:?}", response.diagnostics);
    }
}
