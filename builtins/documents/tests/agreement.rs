//! Every YAML reader of sealbox agrees with the Kubernetes API server on
//! the manifests of `tests/fixtures/yaml-agreement` (see its README): the
//! documents view (this crate), the Rust SDK's policy helper and the Kyverno
//! builtin's loader each give the documents `expected.json` lists, or fail
//! the file at the line it names.

use std::path::{Path, PathBuf};

use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/yaml-agreement")
}

/// What one reader made of a file: its documents, or (line, message).
type Read = Result<Vec<Value>, (u64, String)>;

fn view(file: &str, text: &str) -> Read {
    let records = sealbox_documents::records(file, text);
    if let Some(e) = records.iter().find_map(|r| r.get("error")) {
        return Err((e["line"].as_u64().unwrap_or(0), e["message"].as_str().unwrap_or("").to_string()));
    }
    Ok(records.iter().map(|r| r["value"].clone()).collect())
}

/// The Rust SDK's policy helper over a tree holding only `file`: the
/// documents it hands a check (all of them, mappings or not, are mappings
/// here), or the warning it gives for a file it cannot read.
fn rust_sdk(dir: &Path, file: &str) -> Read {
    let request = sealbox_guest::Request { api_version: sealbox_guest::API_VERSION.into(), ..Default::default() };
    let mut seen = Vec::new();
    let response = sealbox_guest::policy::evaluate(dir, &request, |r, _| {
        if r.file == file {
            seen.push(r.value.clone());
        }
        sealbox_guest::Verdict::pass()
    });
    match response.diagnostics.iter().find(|d| d.file.as_deref() == Some(file)) {
        Some(d) => Err((u64::from(d.line.unwrap_or(0)), d.message.clone())),
        None => Ok(seen),
    }
}

fn kyverno(file: &str, text: &str) -> Read {
    match sealbox_kyverno::yaml::load_located(file, text) {
        Ok(docs) => Ok(docs.into_iter().map(|d| d.value).collect()),
        Err(e) => Err((e.line as u64, e.message)),
    }
}

#[test]
fn the_documents_view_the_rust_sdk_and_kyverno_read_every_case_as_kubernetes_does() {
    let dir = fixtures();
    let expected: serde_json::Map<String, Value> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).expect("expected.json"))
            .expect("expected.json is JSON");
    let mut cases: Vec<String> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 7, "the cases are there: {cases:?}");
    for case in &cases {
        let want = expected.get(case).unwrap_or_else(|| panic!("expected.json has no entry for {case}"));
        let text = std::fs::read_to_string(dir.join(case)).expect("case");
        for (reader, got) in [
            ("documents view", view(case, &text)),
            ("Rust SDK", rust_sdk(&dir, case)),
            ("Kyverno builtin", kyverno(case, &text)),
        ] {
            match (want.get("error"), got) {
                (None, Ok(docs)) => assert_eq!(&Value::Array(docs), want, "{case}: the {reader}"),
                (Some(e), Err((line, message))) => {
                    assert_eq!(Some(line), e["line"].as_u64(), "{case}: the {reader}'s error line ({message})");
                    let part = e["contains"].as_str().unwrap_or("?");
                    assert!(message.contains(part), "{case}: the {reader} says {message:?}, not {part:?}");
                }
                (None, Err(e)) => panic!("{case}: the {reader} refused it: {e:?}"),
                (Some(e), Ok(docs)) => panic!("{case}: the {reader} read {docs:?}, wanted the error {e}"),
            }
        }
    }
}

/// The Go SDK's tests read `privileged.yaml` through the view as a file
/// kept beside them (Go cannot run this crate): it must be what the view
/// writes today.
#[test]
fn the_go_sdks_copy_of_the_privileged_view_is_what_the_view_writes() {
    let file = "privileged.yaml";
    let mut out = Vec::new();
    sealbox_documents::write_view(&fixtures(), &[file], &mut out).expect("view");
    let kept = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../guest-sdk/go/testdata/privileged/documents.jsonl");
    if std::env::var_os("SEALBOX_BLESS").is_some() {
        std::fs::write(&kept, &out).expect("writing the Go SDK's copy");
    }
    let have =
        std::fs::read(&kept).expect("guest-sdk/go/testdata/privileged/documents.jsonl (SEALBOX_BLESS=1 writes it)");
    assert!(
        have == out,
        "guest-sdk/go/testdata/privileged/documents.jsonl is stale: run this test with SEALBOX_BLESS=1"
    );
}

/// A check that points at lines: every container, at its securityContext
/// (or the container when it has none), and every document's metadata.
fn pointing_check(r: &sealbox_guest::Resource<'_>, _: &Value) -> sealbox_guest::Verdict {
    let mut verdict = sealbox_guest::Verdict::pass();
    let containers = r.value.pointer("/spec/containers").and_then(Value::as_array).map_or(0, Vec::len);
    for i in 0..containers {
        let index = i.to_string();
        let at = r.line_of(&["spec", "containers", &index, "securityContext"]).or(r.line_of(&[
            "spec",
            "containers",
            &index,
        ]));
        verdict = verdict.and(sealbox_guest::Severity::Error, format!("{} container {i}", r.id()), at);
    }
    verdict.and(sealbox_guest::Severity::Warning, r.id(), r.line_of(&["metadata"]))
}

/// The Rust SDK gives the same answer, findings and lines included,
/// whether it reads the YAML itself or the documents view of the tree.
#[test]
fn the_rust_sdk_answers_the_same_from_the_view_as_from_the_files() {
    let dir = fixtures();
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| sealbox_documents::is_document_file(n))
        .collect();
    files.sort();
    let view_dir = std::env::temp_dir().join(format!("sealbox-view-{}", std::process::id()));
    std::fs::create_dir_all(&view_dir).expect("dir");
    let mut out = std::fs::File::create(view_dir.join(sealbox_guest::view::VIEW_FILE)).expect("view file");
    let names: Vec<&str> = files.iter().map(String::as_str).collect();
    sealbox_documents::write_view(&dir, &names, &mut out).expect("view");
    drop(out);
    let request = sealbox_guest::Request { api_version: sealbox_guest::API_VERSION.into(), ..Default::default() };
    let from_files = sealbox_guest::policy::evaluate(&dir, &request, pointing_check);
    let from_view = sealbox_guest::policy::evaluate_with(&dir, Some(&view_dir), &request, pointing_check);
    std::fs::remove_dir_all(&view_dir).ok();
    assert!(from_files.diagnostics.len() > 10, "the check found things: {:?}", from_files.diagnostics);
    assert_eq!(from_view, from_files);
}
