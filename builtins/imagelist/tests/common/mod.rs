//! Shared helpers for the integration tests: a writable copy of the fixture
//! context with the archived sub-chart built from `fixtures/db-chart/`.

use std::fs;
use std::path::Path;

/// The fixture directory.
pub fn fixtures() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures"))
}

fn copy_dir(src: &Path, dest: &Path) {
    fs::create_dir_all(dest).expect("mkdir");
    let mut entries: Vec<_> = fs::read_dir(src).expect("read fixture dir").map(|e| e.expect("entry")).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let target = dest.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).expect("copy");
        }
    }
}

/// Packs `dir` as a Helm chart archive (`name/...` entries, gzip).
pub fn pack_chart(dir: &Path, name: &str) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut builder = tar::Builder::new(gz);
    builder.mode(tar::HeaderMode::Deterministic);
    builder.append_dir_all(name, dir).expect("pack chart");
    builder.into_inner().expect("finish tar").finish().expect("finish gzip")
}

/// A temporary copy of `fixtures/context` with
/// `charts/webapp/charts/db-0.1.0.tgz` packed from `fixtures/db-chart`.
pub fn context() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_dir(&fixtures().join("context"), dir.path());
    let tgz = pack_chart(&fixtures().join("db-chart"), "db");
    fs::write(dir.path().join("charts/webapp/charts/db-0.1.0.tgz"), tgz).expect("write tgz");
    dir
}
