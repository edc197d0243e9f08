//! Transform modules as a function over the input tree and the output
//! tree: [`transform`] hands the function an [`Input`] (the read-only
//! `/in`) and an [`Output`] (`/out`, whose files the host applies to the
//! image as a layer), and answers with the diagnostics it returns.

use std::path::{Component, Path, PathBuf};

use crate::contract::{Diagnostic, FileEntry, FileKind, Request, Response};

/// The error type of module code: anything with a message.
pub type Error = Box<dyn std::error::Error>;

/// The read-only input tree.
pub struct Input<'a> {
    root: PathBuf,
    files: &'a [FileEntry],
}

impl Input<'_> {
    /// Every regular file of the input, sorted by path, as the host listed it.
    pub fn files(&self) -> impl Iterator<Item = &FileEntry> {
        self.files.iter().filter(|f| f.kind == FileKind::File)
    }

    /// The bytes of the file at `path` (relative to the input root).
    pub fn read(&self, path: &str) -> Result<Vec<u8>, Error> {
        let at = checked(&self.root, path)?;
        std::fs::read(&at).map_err(|e| format!("reading {path}: {e}").into())
    }

    /// The text of the file at `path`.
    pub fn read_to_string(&self, path: &str) -> Result<String, Error> {
        let at = checked(&self.root, path)?;
        std::fs::read_to_string(&at).map_err(|e| format!("reading {path}: {e}").into())
    }
}

/// The output tree. A file written here replaces (or adds) the file of the
/// same path in the image; nothing is removed.
pub struct Output {
    root: PathBuf,
}

impl Output {
    /// Writes `content` to `path` (relative to the output root), creating
    /// its directories. A path with `..` or a leading `/` is an error.
    pub fn write(&self, path: &str, content: impl AsRef<[u8]>) -> Result<(), Error> {
        let at = checked(&self.root, path)?;
        if let Some(parent) = at.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("creating the directory of {path}: {e}"))?;
        }
        std::fs::write(&at, content).map_err(|e| format!("writing {path}: {e}").into())
    }
}

/// `root/path` for a plain relative `path`.
fn checked(root: &Path, path: &str) -> Result<PathBuf, Error> {
    let p = Path::new(path);
    if path.is_empty() || p.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(format!("{path:?} is not a plain relative path").into());
    }
    Ok(root.join(p))
}

/// Runs a transform module: reads the request, calls `step` with `/in` and
/// `/out`, and answers with its diagnostics (failure when one is an error,
/// or when `step` returns an error).
pub fn transform<F>(step: F)
where
    F: FnOnce(&Request, &Input<'_>, &Output) -> Result<Vec<Diagnostic>, Error>,
{
    crate::run(|req| Ok(apply(Path::new(crate::INPUT_DIR), Path::new(crate::OUTPUT_DIR), &req, step)));
}

/// The response [`transform`] would give for `req` over `input` and
/// `output`: for tests and native runs.
pub fn apply<F>(input: &Path, output: &Path, req: &Request, step: F) -> Response
where
    F: FnOnce(&Request, &Input<'_>, &Output) -> Result<Vec<Diagnostic>, Error>,
{
    let inp = Input { root: input.to_path_buf(), files: &req.files };
    let out = Output { root: output.to_path_buf() };
    match step(req, &inp, &out) {
        Ok(diagnostics) => Response::success().with_diagnostics(diagnostics),
        Err(e) => Response::failure(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::Status;

    #[test]
    fn a_transform_reads_in_writes_out_and_cannot_leave_out() {
        let base = std::env::temp_dir().join(format!("sealbox-guest-transform-{}", std::process::id()));
        let (input, output) = (base.join("in"), base.join("out"));
        std::fs::create_dir_all(&input).expect("in");
        std::fs::create_dir_all(&output).expect("out");
        std::fs::write(input.join("a.yaml"), "kind: Pod\n").expect("write");
        let entry = FileEntry {
            path: "a.yaml".into(),
            kind: FileKind::File,
            mode: 0o644,
            size: 10,
            link: None,
            hardlink: None,
        };
        let req = Request { files: vec![entry], ..Request::default() };
        let response = apply(&input, &output, &req, |_, inp, out| {
            for f in inp.files() {
                let text = inp.read_to_string(&f.path)?;
                out.write(&format!("copies/{}", f.path), format!("# copied\n{text}"))?;
            }
            Ok(vec![])
        });
        assert_eq!(response.status, Status::Success);
        let copied = std::fs::read_to_string(output.join("copies/a.yaml")).expect("copied");
        assert_eq!(copied, "# copied\nkind: Pod\n");
        for bad in ["../x", "/etc/x", ""] {
            let response = apply(&input, &output, &req, |_, _, out| {
                out.write(bad, "x")?;
                Ok(vec![])
            });
            assert_eq!(response.status, Status::Failure, "{bad:?}");
            assert!(response.diagnostics[0].message.contains("not a plain relative path"));
        }
        std::fs::remove_dir_all(&base).ok();
    }
}
