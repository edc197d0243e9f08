//! The `sealbox-test.yaml` format: a module and its cases, each an input
//! tree (a directory or inline files), config and grants, and what the step
//! must answer. Every mistake is `FILE:LINE: cause`, before anything runs.
//!
//! ```yaml
//! apiVersion: sealbox.io/v1
//! kind: ModuleTest
//! module: build/require-team.wasm   # relative to this file; or give --module
//! moduleKind: policy          # only for a module without metadata
//! cases:
//!   - name: a labelled deployment passes
//!     input: testdata/pass     # a directory, relative to this file
//!     expect: {status: success}
//!   - name: an unlabelled one is a finding at its line
//!     files:                   # or the tree inline
//!       manifests/app.yaml: |
//!         kind: Deployment
//!     config: {label: team}
//!     grants: {tree: manifests, env: {TEAM: platform}}
//!     expect:
//!       status: failure
//!       findings:
//!         - {severity: error, file: manifests/app.yaml, line: 1, rule: require-team, message: "no label"}
//!       # transforms: `output:` (path: content) or `outputDir:` — exactly the files written
//! ```

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use sealbox_guest::yaml::{self, Node, NodeValue};
use sealbox_guest::{ModuleKind, Severity, Status};

use crate::pipeline::{CaseInput, Fail, StepGrants, check_keys, mapping, parse_grants, required, string};

/// The file name looked for in a directory given to `sealbox module test`.
pub const TEST_FILE: &str = "sealbox-test.yaml";

const API_VERSION: &str = "sealbox.io/v1";
const KIND: &str = "ModuleTest";
const ROOT_KEYS: &[&str] = &["apiVersion", "kind", "module", "moduleKind", "cases"];
const CASE_KEYS: &[&str] = &["name", "input", "files", "config", "grants", "expect"];
const EXPECT_KEYS: &[&str] = &["status", "findings", "output", "outputDir"];
const FINDING_KEYS: &[&str] = &["severity", "file", "line", "rule", "message"];
/// The most a test file, or an expected output tree, may hold.
const MAX_TEST_FILE: u64 = 4 << 20;
const MAX_EXPECTED_TREE: u64 = 64 << 20;

/// A parsed, checked test file.
pub struct TestFile {
    /// The file, as named in messages.
    pub file: String,
    /// The module, resolved against the file's directory; `None` when the
    /// file names none (`--module` must then give it).
    pub module: Option<PathBuf>,
    /// The declared kind, for a module without metadata.
    pub module_kind: Option<ModuleKind>,
    pub cases: Vec<Case>,
}

/// One case: a tree, config, grants and the expected answer.
pub struct Case {
    pub name: String,
    pub line: u32,
    pub input: CaseInput,
    pub config: serde_json::Value,
    pub grants: StepGrants,
    pub expect: Expect,
}

/// What a case's step must answer.
pub struct Expect {
    pub status: Status,
    /// Exactly these warnings and errors (info notes are not compared).
    pub findings: Vec<ExpectedFinding>,
    /// For a transform: exactly these files written, by image path (under
    /// `grants.tree`), with their contents. `None` when not checked.
    pub output: Option<BTreeMap<String, Vec<u8>>>,
}

/// One expected finding, its file named by image path (under the case's
/// `grants.tree`, as a build's report names it). An absent `file`, `line` or `rule` means the
/// finding has none; `message`, when given, must be part of its message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ExpectedFinding {
    pub severity: Severity,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub rule: Option<String>,
    pub message: Option<String>,
}

/// A test file that could not be read or is not valid: `FILE:LINE: cause`.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct Error {
    pub file: String,
    pub line: u32,
    pub message: String,
}

/// Reads and checks the test file at `path`.
pub fn read(path: &Path) -> Result<TestFile, Error> {
    let file = path.display().to_string();
    let fail = |message: String| Error { file: file.clone(), line: 0, message };
    let size = std::fs::metadata(path).map_err(|e| fail(format!("cannot read it: {e}")))?.len();
    if size > MAX_TEST_FILE {
        return Err(fail(format!("{size} bytes; a test file may hold at most {MAX_TEST_FILE}")));
    }
    let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read it: {e}")))?;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    parse(&file, dir, &text)
}

/// Parses the text of a test file named `file` whose paths are relative to `dir`.
pub fn parse(file: &str, dir: &Path, text: &str) -> Result<TestFile, Error> {
    let err = |line: u32, message: String| Error { file: file.to_string(), line, message };
    let docs = yaml::load(text).map_err(|e| err(e.line, format!("not valid YAML: {}", e.message)))?;
    let root = match docs.as_slice() {
        [doc] => &doc.root,
        [] => return Err(err(1, format!("empty: a test file holds one `kind: {KIND}` document"))),
        [_, second, ..] => return Err(err(second.root.line, "a test file holds exactly one document".into())),
    };
    let mut parsed = parse_root(dir, root).map_err(|(node, message)| err(node.line, message))?;
    parsed.file = file.to_string();
    Ok(parsed)
}

fn parse_root<'a>(dir: &Path, root: &'a Node) -> Result<TestFile, Fail<'a>> {
    check_keys(mapping(root, "a test file").map_err(|m| (root, m))?, ROOT_KEYS)?;
    for (key, want) in [("apiVersion", API_VERSION), ("kind", KIND)] {
        let node = required(root, key)?;
        if node.as_str() != Some(want) {
            return Err((node, format!("{key} must be {want}, not {}", node.to_json())));
        }
    }
    let module = match root.get("module") {
        Some(node) => Some(dir.join(relative(node, "module")?)),
        None => None,
    };
    let module_kind = match root.get("moduleKind") {
        None => None,
        Some(n) => Some(match string(n, "moduleKind")?.as_str() {
            "policy" => ModuleKind::Policy,
            "transform" => ModuleKind::Transform,
            other => return Err((n, format!("moduleKind {other:?} is not one of policy, transform"))),
        }),
    };
    let list = required(root, "cases")?;
    let NodeValue::Seq(items) = &list.value else {
        return Err((list, format!("cases must be a list, not {}", list.kind())));
    };
    if items.is_empty() {
        return Err((list, "cases is empty: a test file with no case tests nothing".into()));
    }
    let mut cases = Vec::new();
    for item in items {
        let case = parse_case(dir, item)?;
        if cases.iter().any(|c: &Case| c.name == case.name) {
            return Err((item, format!("case name {:?} is used twice", case.name)));
        }
        cases.push(case);
    }
    Ok(TestFile { file: String::new(), module, module_kind, cases })
}

fn parse_case<'a>(dir: &Path, item: &'a Node) -> Result<Case, Fail<'a>> {
    check_keys(mapping(item, "a case").map_err(|m| (item, m))?, CASE_KEYS)?;
    let name = string(required(item, "name")?, "name")?;
    let in_case = |(n, m): Fail<'a>| (n, format!("case {name:?}: {m}"));
    let input = match (item.get("input"), item.get("files")) {
        (Some(i), None) => CaseInput::Dir(dir.join(relative(i, "input").map_err(in_case)?)),
        (None, Some(f)) => CaseInput::Files(
            inline_files(f, "files").map_err(in_case)?.into_iter().map(|(p, c)| (p, c.into_bytes())).collect(),
        ),
        (Some(_), Some(f)) => return Err(in_case((f, "give either input (a directory) or files, not both".into()))),
        (None, None) => return Err(in_case((item, "missing input (a directory) or files (inline)".into()))),
    };
    let config = item.get("config").map_or_else(|| serde_json::json!({}), Node::to_json);
    let grants = match item.get("grants") {
        Some(g) => parse_grants(g).map_err(in_case)?,
        None => StepGrants::none(),
    };
    let expect = parse_expect(dir, required(item, "expect").map_err(in_case)?).map_err(in_case)?;
    Ok(Case { name, line: item.line, input, config, grants, expect })
}

fn parse_expect<'a>(dir: &Path, node: &'a Node) -> Result<Expect, Fail<'a>> {
    check_keys(mapping(node, "expect").map_err(|m| (node, m))?, EXPECT_KEYS)?;
    let status_node = required(node, "status")?;
    let status = match string(status_node, "expect.status")?.as_str() {
        "success" => Status::Success,
        "failure" => Status::Failure,
        other => return Err((status_node, format!("expect.status {other:?} is not one of success, failure"))),
    };
    let mut findings = Vec::new();
    if let Some(list) = node.get("findings") {
        let items = match &list.value {
            NodeValue::Seq(items) => items.as_slice(),
            NodeValue::Scalar(serde_json::Value::Null) => &[],
            _ => return Err((list, format!("expect.findings must be a list, not {}", list.kind()))),
        };
        for f in items {
            findings.push(parse_finding(f)?);
        }
    }
    let output = match (node.get("output"), node.get("outputDir")) {
        (Some(o), None) => {
            Some(inline_files(o, "expect.output")?.into_iter().map(|(p, c)| (p, c.into_bytes())).collect())
        }
        (None, Some(d)) => Some(read_tree(d, &dir.join(relative(d, "expect.outputDir")?))?),
        (Some(_), Some(d)) => return Err((d, "give either expect.output or expect.outputDir, not both".into())),
        (None, None) => None,
    };
    Ok(Expect { status, findings, output })
}

fn parse_finding(node: &Node) -> Result<ExpectedFinding, Fail<'_>> {
    check_keys(mapping(node, "a finding").map_err(|m| (node, m))?, FINDING_KEYS)?;
    let severity = match node.get("severity") {
        None => Severity::Error,
        Some(s) => match string(s, "severity")?.as_str() {
            "error" => Severity::Error,
            "warning" => Severity::Warning,
            other => return Err((s, format!("severity {other:?} is not one of error, warning"))),
        },
    };
    let text = |key: &str| -> Result<Option<String>, Fail<'_>> {
        match node.get(key) {
            None => Ok(None),
            Some(n) => n.text().map(|t| Some(t.to_string())).ok_or_else(|| (n, format!("{key} must be text"))),
        }
    };
    let line = match node.get("line") {
        None => None,
        Some(n) => match n.to_json().as_u64().and_then(|l| u32::try_from(l).ok()) {
            Some(l) if l > 0 => Some(l),
            _ => return Err((n, format!("line must be a line number (1 or more), not {}", n.to_json()))),
        },
    };
    Ok(ExpectedFinding { severity, file: text("file")?, line, rule: text("rule")?, message: text("message")? })
}

/// A mapping of relative paths to text, in file order.
fn inline_files<'a>(node: &'a Node, what: &str) -> Result<Vec<(String, String)>, Fail<'a>> {
    let mut files: Vec<(String, String)> = Vec::new();
    if node.is_null() {
        return Ok(files);
    }
    for (k, v) in mapping(node, what).map_err(|m| (node, m))? {
        let path = relative(k, what)?;
        let Some(content) = v.text() else {
            return Err((v, format!("{what}.{path}: the content must be text, not {}", v.kind())));
        };
        files.push((path, content.to_string()));
    }
    Ok(files)
}

/// A plain relative path (no `..`, not absolute), `/`-separated.
fn relative<'a>(node: &'a Node, what: &str) -> Result<String, Fail<'a>> {
    let text = node.text().ok_or_else(|| (node, format!("{what} must be a path, not {}", node.kind())))?;
    let plain = Path::new(text).components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if text.is_empty() || !plain {
        return Err((node, format!("{what} {text:?} must be a relative path without `..`")));
    }
    Ok(text.split('/').filter(|s| !s.is_empty() && *s != ".").collect::<Vec<_>>().join("/"))
}

/// The regular files under `path`, by relative path; a link or special file
/// is an error (an expected tree is the author's own, plain files).
fn read_tree<'a>(node: &'a Node, path: &Path) -> Result<BTreeMap<String, Vec<u8>>, Fail<'a>> {
    let fail = |m: String| (node, format!("expect.outputDir {}: {m}", path.display()));
    let dir =
        cap_std::fs::Dir::open_ambient_dir(path, cap_std::ambient_authority()).map_err(|e| fail(e.to_string()))?;
    let listing = crate::tree::walk(&dir, &crate::tree::WalkOptions::default()).map_err(|e| fail(e.to_string()))?;
    let mut files = BTreeMap::new();
    let mut total = 0u64;
    for entry in listing {
        match entry.kind {
            sealbox_guest::FileKind::Dir => {}
            sealbox_guest::FileKind::File => {
                total += entry.size;
                if total > MAX_EXPECTED_TREE {
                    return Err(fail(format!("more than {MAX_EXPECTED_TREE} bytes")));
                }
                let bytes = dir.read(&entry.path).map_err(|e| fail(format!("{}: {e}", entry.path)))?;
                files.insert(entry.path, bytes);
            }
            sealbox_guest::FileKind::Symlink => return Err(fail(format!("{} is a link", entry.path))),
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "apiVersion: sealbox.io/v1\nkind: ModuleTest\nmodule: m.wasm\ncases:\n";

    fn err(cases: &str) -> String {
        match parse("t.yaml", Path::new("d"), &format!("{HEAD}{cases}")) {
            Ok(_) => panic!("accepted: {cases}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_good_file_parses_with_its_defaults() {
        let text = format!(
            "{HEAD}  - name: a\n    files: {{x.yaml: \"k: v\\n\"}}\n    expect:\n      status: failure\n      \
             findings:\n        - {{file: x.yaml, line: 1, rule: r}}\n      output: {{}}\n"
        );
        let t = parse("t.yaml", Path::new("d"), &text).expect("parses");
        assert_eq!(t.module.as_deref(), Some(Path::new("d/m.wasm")));
        let case = &t.cases[0];
        assert_eq!((case.name.as_str(), case.line, case.grants.tree.as_str()), ("a", 5, "."));
        assert_eq!(case.config, serde_json::json!({}));
        assert_eq!(case.expect.findings[0].severity, Severity::Error, "error unless said otherwise");
        assert_eq!(case.expect.findings[0].message, None);
        assert_eq!(case.expect.output.as_ref().map(BTreeMap::len), Some(0));
    }

    #[test]
    fn each_mistake_is_named_at_its_line() {
        let case = "  - name: a\n    files: {x: y}\n    expect: {status: success}\n";
        for (cases, want) in [
            ("", "t.yaml:4: cases must be a list, not null"),
            ("  []\n", "t.yaml:5: cases is empty"),
            ("  - name: a\n    expect: {status: success}\n", "t.yaml:5: case \"a\": missing input"),
            ("  - name: a\n    input: ../up\n    expect: {status: success}\n", "t.yaml:6: case \"a\": input \"../up\""),
            (
                "  - name: a\n    files: {x: y}\n    expect: {status: ok}\n",
                "t.yaml:7: case \"a\": expect.status \"ok\"",
            ),
            ("  - name: a\n    files: {x: y}\n    bogus: 1\n", "t.yaml:7: unknown field \"bogus\""),
            (
                "  - name: a\n    files: {x: y}\n    expect:\n      status: failure\n      findings:\n        - {line: 0}\n",
                "t.yaml:10: case \"a\": line must be a line number",
            ),
            (
                "  - name: a\n    files: {x: y}\n    expect:\n      status: failure\n      findings:\n        - {severity: fatal}\n",
                "t.yaml:10: case \"a\": severity \"fatal\"",
            ),
            (&format!("{case}{case}"), "t.yaml:8: case name \"a\" is used twice"),
            ("  - name: a\n    files: {x: y}\n    grants: {tree: /etc}\n    expect: {status: success}\n", "t.yaml:7:"),
        ] {
            let got = err(cases);
            assert!(got.starts_with(want), "{cases:?}: {got}");
        }
        let wrong_kind = parse("t.yaml", Path::new("d"), "apiVersion: sealbox.io/v1\nkind: Pipeline\ncases: []\n");
        assert!(wrong_kind.is_err_and(|e| e.to_string().starts_with("t.yaml:2: kind must be ModuleTest")));
    }
}
