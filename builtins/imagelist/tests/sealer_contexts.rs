//! Conformance with sealer over the shared build contexts in
//! `../shared/sealer/*/` (outside this repository): each context's rootfs is
//! laid out the way its Kubefile's COPY and APP instructions would, and the
//! step's `images` must equal `expected/sealer.image.container.images.json`.
//! Absent data fails when `SEALBOX_REQUIRE_SHARED` is set (CI sets it);
//! otherwise the suite prints a loud skip line.

use std::fs;
use std::path::{Path, PathBuf};

use sealbox_guest::Platform;
use sealbox_imagelist::{Config, collect};

fn shared_sealer() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/sealer");
    dir.is_dir().then_some(dir)
}

/// Arguments of an instruction: a JSON string array, else whitespace-split.
fn args(rest: &str) -> Vec<String> {
    serde_json::from_str::<Vec<String>>(rest).unwrap_or_else(|_| rest.split_whitespace().map(str::to_string).collect())
}

fn copy_into(src: &Path, dest_dir: &Path) {
    if src.is_dir() {
        fs::create_dir_all(dest_dir).expect("mkdir");
        for entry in fs::read_dir(src).expect("read context dir") {
            let entry = entry.expect("dir entry");
            let target = dest_dir.join(entry.file_name());
            if entry.path().is_dir() {
                fs::create_dir_all(&target).expect("mkdir");
                copy_into(&entry.path(), &target);
            } else {
                fs::copy(entry.path(), target).expect("copy");
            }
        }
    } else {
        fs::create_dir_all(dest_dir).expect("mkdir");
        fs::copy(src, dest_dir.join(src.file_name().expect("file name"))).expect("copy");
    }
}

/// Lays out the rootfs a Kubefile's COPY/APP/CNI/CSI instructions build.
fn build_rootfs(context: &Path, rootfs: &Path) {
    let kubefile = fs::read_to_string(context.join("Kubefile")).expect("Kubefile");
    for line in kubefile.lines() {
        let Some((keyword, rest)) = line.trim().split_once(char::is_whitespace) else { continue };
        let a = args(rest.trim());
        match keyword.to_ascii_uppercase().as_str() {
            "COPY" => {
                let dest = a.last().expect("COPY dest").trim_end_matches('/');
                let dest = if dest == "." { rootfs.to_path_buf() } else { rootfs.join(dest) };
                copy_into(&context.join(&a[0]), &dest);
            }
            "APP" | "CNI" | "CSI" => {
                let dest = rootfs.join("application/apps").join(&a[0]);
                for src in &a[1..] {
                    let local = src.strip_prefix("local://").expect("only local:// sources in the shared contexts");
                    copy_into(&context.join(local), &dest);
                }
            }
            _ => {}
        }
    }
}

#[test]
fn shared_sealer_contexts_give_their_expected_annotation() {
    let Some(dir) = shared_sealer() else {
        assert!(
            std::env::var_os("SEALBOX_REQUIRE_SHARED").is_none(),
            "../shared/sealer is missing but SEALBOX_REQUIRE_SHARED is set: put the shared data at ../shared"
        );
        eprintln!("SKIPPED (not passed): ../shared/sealer not found, sealer conformance not run");
        return;
    };
    let mut contexts: Vec<_> = fs::read_dir(&dir)
        .expect("list shared/sealer")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("expected/sealer.image.container.images.json").is_file())
        .collect();
    contexts.sort();
    assert!(!contexts.is_empty(), "no contexts with expected annotations in {}", dir.display());
    for context in contexts {
        let rootfs = tempfile::tempdir().expect("temp dir");
        build_rootfs(&context, rootfs.path());
        let outcome = collect(rootfs.path(), &Config::default(), &Platform::default());
        assert!(!outcome.failed(), "{}: {:?}", context.display(), outcome.diagnostics);
        let got = serde_json::to_string(&outcome.images).expect("json");
        let want = fs::read_to_string(context.join("expected/sealer.image.container.images.json")).expect("expected");
        assert_eq!(got, want.trim(), "context {}", context.display());
        println!("sealer context {} matches", context.display());
    }
}
