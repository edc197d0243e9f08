//! {{name}}: a sealbox transform. Writes every YAML file under `/in` to the
//! same path under `/out` with a first line `# processed by {{name}}`; the
//! host applies `/out` to the image.
//!
//! The step is a plain function, tested natively (`cargo test`); `main.rs`
//! only hands it to `sealbox_guest::transform`.

use sealbox_guest::transform::Error;
use sealbox_guest::{Diagnostic, Input, Output, Request};

const HEADER: &str = "# processed by {{name}}\n";

/// Marks every YAML file not marked yet.
pub fn step(_req: &Request, input: &Input<'_>, output: &Output) -> Result<Vec<Diagnostic>, Error> {
    for file in input.files() {
        if !(file.path.ends_with(".yaml") || file.path.ends_with(".yml")) {
            continue;
        }
        let text = input.read_to_string(&file.path)?;
        if !text.starts_with(HEADER) {
            output.write(&file.path, format!("{HEADER}{text}"))?;
        }
    }
    Ok(vec![])
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use sealbox_guest::{FileEntry, FileKind, Request, Status};

    #[test]
    fn yaml_files_get_the_header() {
        let input = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/in");
        let out = std::env::temp_dir().join(format!("{{name}}-test-{}", std::process::id()));
        std::fs::create_dir_all(&out).unwrap();
        let entry = FileEntry {
            path: "manifests/app.yaml".into(),
            kind: FileKind::File,
            mode: 0o644,
            size: 0,
            link: None,
            hardlink: None,
        };
        let req = Request { files: vec![entry], ..Request::default() };
        let response = sealbox_guest::transform::apply(&input, &out, &req, super::step);
        assert_eq!(response.status, Status::Success, "{:?}", response.diagnostics);
        let written = std::fs::read_to_string(out.join("manifests/app.yaml")).unwrap();
        assert!(written.starts_with(super::HEADER), "{written}");
        std::fs::remove_dir_all(&out).unwrap();
    }
}
