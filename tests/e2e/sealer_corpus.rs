//! sealer's own material, re-expressed: build contexts in the shapes of
//! sealer's end-to-end fixtures, its applications collection, basefs and its
//! documentation (`tests/sealer-corpus/`, each case naming its source),
//! built and compared with what sealer v0.11 gives for them: the extension
//! and image-list annotations, the config labels, and the files of the
//! rootfs (unpacked with umoci). Prints a score; every case must match.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::*;

/// One case's `case.json`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    /// The public material the case re-expresses (repository@commit path).
    source: String,
    /// Another case's directory to build instead of this one's (the same
    /// context with other arguments).
    #[serde(default)]
    context: Option<String>,
    #[serde(default)]
    args: Vec<String>,
    /// Names to build under, for later cases' `FROM`.
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    expect: Option<Expected>,
    /// For a context refused: what the error names.
    #[serde(default)]
    expect_error: Option<String>,
    /// Why sealbox refuses a context that sealer builds (a documented
    /// difference, counted apart from the matches).
    #[serde(default)]
    difference: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    /// `sealer.image.extension` without `buildClient` (it names the tool)
    /// and `labels` (sealer's inspect adds them; compared below).
    extension: Value,
    images: Value,
    /// Config labels, without `io.sealer.version` (the tool's version).
    labels: BTreeMap<String, String>,
    /// Every non-directory path of the rootfs, sorted.
    rootfs: Vec<String>,
}

fn corpus() -> PathBuf {
    workspace().join("tests/sealer-corpus")
}

/// Builds one case and returns what differs from sealer (empty: equal).
fn run_case(store: &Path, name: &str, case: &Case) -> Vec<String> {
    let dir = corpus().join(case.context.as_deref().unwrap_or(name));
    // A simple name for umoci, which takes `layout:tag`.
    let unpack_tag = format!("case-{name}:v1");
    let mut cmd = sealbox();
    cmd.current_dir(&dir).args(["build", ".", "--build-mode", "lite", "--root"]).arg(store).args(["-t", &unpack_tag]);
    for tag in &case.tags {
        cmd.args(["-t", tag]);
    }
    let (out, _, stderr) = run(cmd.args(&case.args));
    if let Some(want) = &case.expect_error {
        return match (out.status.success(), stderr.contains(want.as_str())) {
            (false, true) => vec![],
            (true, _) => vec![format!("built, but sealer fails here ({want})")],
            (false, false) => vec![format!("failed without naming {want:?}: {stderr}")],
        };
    }
    if !out.status.success() {
        return vec![format!("build failed: {stderr}")];
    }
    let expect = case.expect.as_ref().expect("a case expects an image or an error");
    let (_, inspected, _) = run(sealbox().arg("inspect").arg("--root").arg(store).arg(&unpack_tag));
    let got: Value = serde_json::from_str(&inspected).expect("inspect prints JSON");
    let mut diffs = vec![];
    let mut extension = got["imageExtension"].clone();
    if let Some(ext) = extension.as_object_mut() {
        ext.remove("buildClient");
        ext.remove("labels");
    }
    if extension != expect.extension {
        diffs.push(format!("extension:\n      got  {extension}\n      want {}", expect.extension));
    }
    let images = got.get("containerImageList").cloned().unwrap_or(Value::Array(vec![]));
    if images != expect.images {
        diffs.push(format!("images:\n      got  {images}\n      want {}", expect.images));
    }
    let mut labels: BTreeMap<String, String> =
        serde_json::from_value(got["ociv1"]["config"]["Labels"].clone()).unwrap_or_default();
    labels.remove("io.sealer.version");
    if labels != expect.labels {
        diffs.push(format!("labels:\n      got  {labels:?}\n      want {:?}", expect.labels));
    }
    let bundle = tempfile::tempdir().expect("bundle");
    let rootfs = umoci_unpack(store, &unpack_tag, &bundle.path().join("b"));
    let files = non_dirs(&rootfs);
    if files != expect.rootfs {
        diffs.push(format!("rootfs:\n      got  {files:?}\n      want {:?}", expect.rootfs));
    }
    diffs
}

/// Every path under `root` that is not a directory, sorted, `/`-separated.
fn non_dirs(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("read_dir") {
            let entry = entry.expect("entry");
            let path = entry.path();
            if entry.file_type().expect("type").is_dir() {
                walk(root, &path, out);
            } else {
                out.push(path.strip_prefix(root).expect("under root").to_string_lossy().into_owned());
            }
        }
    }
    let mut out = vec![];
    walk(root, root, &mut out);
    out.sort();
    out
}

#[test]
fn sealer_contexts_build_to_what_sealer_gives() {
    let store = tempfile::tempdir().expect("store");
    let mut names: Vec<String> = std::fs::read_dir(corpus())
        .expect("tests/sealer-corpus")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| corpus().join(n).join("case.json").is_file())
        .collect();
    // Numbered so that bases come before the cases built FROM them.
    names.sort();
    assert!(names.len() >= 15, "the corpus lost cases: {names:?}");
    let (mut failed, mut differences) = (vec![], vec![]);
    for name in &names {
        let text = std::fs::read_to_string(corpus().join(name).join("case.json")).expect("case.json");
        let case: Case = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}/case.json: {e}"));
        assert!(!case.source.is_empty(), "{name}: a case names its source");
        if case.difference.is_some() {
            assert!(
                case.expect_error.is_some() && case.expect.is_none(),
                "{name}: a difference is an expected refusal"
            );
        }
        let diffs = run_case(store.path(), name, &case);
        if diffs.is_empty() && case.difference.is_some() {
            eprintln!("diff {name}: {}", case.difference.as_deref().unwrap_or_default());
            differences.push(name.clone());
        } else if diffs.is_empty() {
            eprintln!("pass {name}");
        } else {
            eprintln!("FAIL {name} ({})\n    {}", case.source, diffs.join("\n    "));
            failed.push(name.clone());
        }
    }
    let matched = names.len() - failed.len() - differences.len();
    eprintln!(
        "sealer corpus: {matched}/{} as sealer gives them, {} documented differences, {} failed",
        names.len(),
        differences.len(),
        failed.len()
    );
    assert!(failed.is_empty(), "cases that differ from sealer: {failed:?}");
}
