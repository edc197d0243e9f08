//! A pipeline step's module is read from the pipeline file's directory
//! only, and held to its pin, the lock, its declared kind and the host
//! version it needs before anything compiles it.

use std::collections::BTreeMap;
use std::path::Path;

use sealbox_guest::{ModuleKind, ModuleMetadata};

use super::ModuleSource;
use crate::pipeline::lock::Lock;
use crate::pipeline::pipeline_file::{self, Pipeline};
use crate::sandbox::{ModuleBinary, sha256_digest, with_metadata};

/// The smallest core module; with `meta`, carrying it.
fn wasm(meta: Option<(ModuleKind, Option<&str>)>) -> Vec<u8> {
    let bytes = b"\0asm\x01\0\0\0".to_vec();
    match meta {
        None => bytes,
        Some((kind, min_host_version)) => {
            let meta = ModuleMetadata {
                name: "m".into(),
                version: "1.0.0".into(),
                kind,
                capabilities: Default::default(),
                min_host_version: min_host_version.map(str::to_string),
            };
            with_metadata(&bytes, &meta).expect("metadata")
        }
    }
}

fn digest(bytes: &[u8]) -> String {
    sha256_digest(bytes)
}

/// A one-step policy pipeline in `dir` whose module is `m.wasm` pinned to `pin`.
fn pipeline(dir: &Path, pin: &str) -> Pipeline {
    let text = format!(
        "apiVersion: sealbox.io/v1\nkind: Pipeline\nsteps:\n  - name: check\n    stage: after-copy\n    \
         module: m.wasm\n    digest: {pin}\n    kind: policy\n"
    );
    pipeline_file::parse("sealbox.yaml", dir, &text).expect("pipeline")
}

/// Reads the pipeline's one module with `lock`.
fn read(pipeline: &Pipeline, lock: Option<&Lock>) -> anyhow::Result<ModuleBinary> {
    let tmp = tempfile::tempdir().expect("store dir");
    let store = crate::oci::Store::open(tmp.path()).expect("store");
    let registry = crate::registry::Options::default();
    let source = ModuleSource { pipeline, lock, store: &store, registry: &registry };
    source.read(&pipeline.steps[0])
}

fn err(r: anyhow::Result<ModuleBinary>) -> String {
    match r {
        Ok(b) => panic!("read {}", b.digest),
        Err(e) => format!("{e:#}"),
    }
}

#[test]
fn a_module_that_matches_its_pin_and_lock_is_read() {
    let dir = tempfile::tempdir().expect("dir");
    let bytes = wasm(Some((ModuleKind::Policy, Some("0.0.1"))));
    std::fs::write(dir.path().join("m.wasm"), &bytes).expect("module");
    let p = pipeline(dir.path(), &digest(&bytes));
    let lock = Lock::new(BTreeMap::from([("m.wasm".to_string(), digest(&bytes))]));
    assert_eq!(read(&p, Some(&lock)).expect("read").digest, digest(&bytes));
}

#[test]
fn a_module_linked_from_outside_the_pipeline_directory_is_not_read() {
    let outside = tempfile::tempdir().expect("outside");
    let bytes = wasm(None);
    std::fs::write(outside.path().join("evil.wasm"), &bytes).expect("module");
    let dir = tempfile::tempdir().expect("dir");
    std::os::unix::fs::symlink(outside.path().join("evil.wasm"), dir.path().join("m.wasm")).expect("link");
    let e = err(read(&pipeline(dir.path(), &digest(&bytes)), None));
    assert!(e.starts_with("reading module m.wasm"), "{e}");
}

#[test]
fn a_module_that_differs_from_its_pin_is_refused_with_both_digests() {
    let dir = tempfile::tempdir().expect("dir");
    let bytes = wasm(None);
    std::fs::write(dir.path().join("m.wasm"), &bytes).expect("module");
    let pin = digest(b"what was reviewed");
    let e = err(read(&pipeline(dir.path(), &pin), None));
    assert_eq!(e, format!("module m.wasm does not match its pin:\n  pinned:  {pin}\n  actual:  {}", digest(&bytes)));
}

#[test]
fn a_module_the_lock_does_not_hold_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let bytes = wasm(None);
    std::fs::write(dir.path().join("m.wasm"), &bytes).expect("module");
    let p = pipeline(dir.path(), &digest(&bytes));
    let other = digest(b"locked before");
    let lock = Lock::new(BTreeMap::from([("m.wasm".to_string(), other.clone())]));
    let e = err(read(&p, Some(&lock)));
    assert!(e.starts_with(&format!("module m.wasm does not match sealbox.lock:\n  locked:  {other}")), "{e}");
    let e = err(read(&p, Some(&Lock::new(BTreeMap::new()))));
    assert!(e.starts_with("module m.wasm is not in sealbox.lock"), "{e}");
}

#[test]
fn a_module_of_another_kind_or_for_a_newer_host_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let bytes = wasm(Some((ModuleKind::Transform, None)));
    std::fs::write(dir.path().join("m.wasm"), &bytes).expect("module");
    let e = err(read(&pipeline(dir.path(), &digest(&bytes)), None));
    assert_eq!(e, "module m.wasm is a transform module; the step declares kind policy");
    let bytes = wasm(Some((ModuleKind::Policy, Some("999.0.0"))));
    std::fs::write(dir.path().join("m.wasm"), &bytes).expect("module");
    let e = err(read(&pipeline(dir.path(), &digest(&bytes)), None));
    assert!(e.starts_with("module m.wasm: ") && e.contains("999.0.0"), "{e}");
}
