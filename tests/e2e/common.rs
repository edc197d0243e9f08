//! Helpers shared by the end-to-end tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The `sealbox` binary under test.
pub fn sealbox() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sealbox"));
    cmd.env_remove("SOURCE_DATE_EPOCH");
    cmd.env("SEALBOX_CACHE", cache_dir());
    cmd.env("SEALBOX_CACHE_KEY", cache_key());
    // The contexts of these tests name images on public registries, which
    // test machines do not reach: builds record the image list only, as
    // `--build-mode lite` does, unless a test asks for `--build-mode all`
    // (the offline-images tests, against a registry of their own).
    cmd.env("SEALBOX_BUILD_MODE", "lite");
    cmd
}

/// The key of the shared module cache: outside it, as in real use, and
/// the same for every test (tests that set their own HOME included).
pub fn cache_key() -> PathBuf {
    target_dir().join("e2e-cache-key").join("cache.key")
}

/// A module cache shared by the tests of one run.
pub fn cache_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = target_dir().join("e2e-cache");
        std::fs::create_dir_all(&dir).expect("creating test cache dir");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("chmod cache");
        dir
    })
    .clone()
}

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace().join("target"))
}

/// Runs `sealbox build CONTEXT --root STORE ARGS...`; returns (exit code,
/// stdout, stderr).
pub fn build(context: &Path, store: &Path, args: &[&str]) -> (i32, String, String) {
    let (out, stdout, stderr) = run(sealbox().arg("build").arg(context).arg("--root").arg(store).args(args));
    (out.status.code().unwrap_or(-1), stdout, stderr)
}

/// Asserts that the store holds no image (a failed build tags nothing).
pub fn no_images(store: &Path) {
    let (_, listed, _) = run(sealbox().arg("images").arg("--json").arg("--root").arg(store));
    assert_eq!(listed.trim(), "[]", "a failed build leaves no image");
}

/// The image manifest of the tag `name` in `store`, read from the layout.
pub fn manifest(store: &Path, name: &str) -> serde_json::Value {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(store.join("index.json")).expect("index.json")).expect("index");
    let desc = index["manifests"]
        .as_array()
        .expect("manifests")
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == name)
        .unwrap_or_else(|| panic!("no tag {name} in {index}"));
    blob_json(store, desc["digest"].as_str().expect("digest"))
}

/// Where the blob `digest` lies in the store.
pub fn blob_path(store: &Path, digest: &str) -> PathBuf {
    store.join("blobs/sha256").join(digest.trim_start_matches("sha256:"))
}

/// The blob `digest` of the store, parsed as JSON.
pub fn blob_json(store: &Path, digest: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(blob_path(store, digest)).expect("blob")).expect("blob JSON")
}

/// Path of a test module (`tests/modules/src/bin/NAME.rs`), built once per
/// test run for `target` (`wasm32-wasip1` or `wasm32-wasip2`).
pub fn test_module(name: &str, target: &str) -> PathBuf {
    static BUILT_P1: OnceLock<()> = OnceLock::new();
    static BUILT_P2: OnceLock<()> = OnceLock::new();
    let once = if target == "wasm32-wasip2" { &BUILT_P2 } else { &BUILT_P1 };
    let modules_target = target_dir().join("test-modules");
    once.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--release", "--quiet", "--target", target, "--manifest-path"])
            .arg(workspace().join("tests/modules/Cargo.toml"))
            .arg("--target-dir")
            .arg(&modules_target)
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .status()
            .expect("running cargo for the test modules");
        assert!(status.success(), "building test modules for {target} failed");
    });
    modules_target.join(target).join("release").join(format!("{name}.wasm"))
}

pub fn p1(name: &str) -> PathBuf {
    test_module(name, "wasm32-wasip1")
}

pub fn p2(name: &str) -> PathBuf {
    test_module(name, "wasm32-wasip2")
}

/// Runs a command and returns its output, with stdout and stderr as text.
pub fn run(cmd: &mut Command) -> (Output, String, String) {
    let out = cmd.output().expect("running sealbox");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stdout, stderr)
}

/// Every file under `dir` with its content, for before/after comparisons.
pub fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read_dir") {
            let entry = entry.expect("entry");
            let path = entry.path();
            let rel = path.strip_prefix(dir).expect("prefix").display().to_string();
            let ft = entry.file_type().expect("file type");
            if ft.is_dir() {
                out.push((rel + "/", vec![]));
                stack.push(path);
            } else if ft.is_symlink() {
                out.push((rel, std::fs::read_link(&path).expect("link").display().to_string().into_bytes()));
            } else {
                out.push((rel, std::fs::read(&path).expect("read")));
            }
        }
    }
    out.sort();
    out
}

/// Unpacks the image tagged `tag` in the OCI layout `store` with umoci
/// (which checks every layer's diff_id) and returns the bundle's rootfs.
pub fn umoci_unpack(store: &Path, tag: &str, bundle: &Path) -> PathBuf {
    let out = Command::new("umoci")
        .args(["unpack", "--image"])
        .arg(format!("{}:{tag}", store.display()))
        .arg(bundle)
        .output()
        .expect("umoci is not installed: run scripts/setup.sh");
    assert!(out.status.success(), "umoci unpack: {}", String::from_utf8_lossy(&out.stderr));
    bundle.join("rootfs")
}
