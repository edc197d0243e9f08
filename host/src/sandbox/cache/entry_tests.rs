//! Cache entries read by `ModuleCache::load` directly: whatever stands at
//! an entry's name (a short file, a directory, a fifo, an entry made with
//! another key) is refused with its reason, never loaded, never waited on.

use std::path::Path;

use super::{Lookup, ModuleCache};

fn cache(root: &Path, key: &str) -> ModuleCache {
    let engine = wasmtime::Engine::default();
    ModuleCache::open(&root.join("cache"), &root.join(key).join("cache.key"), &engine).expect("cache")
}

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn refusal(c: &ModuleCache) -> String {
    match c.load(DIGEST) {
        Lookup::Refused(why) => why,
        Lookup::Hit(_) => panic!("loaded"),
        Lookup::Miss => panic!("missed"),
    }
}

#[test]
fn a_stored_entry_is_loaded_as_the_very_bytes_stored() {
    let tmp = tempfile::tempdir().expect("tmp");
    let c = cache(tmp.path(), "k1");
    assert!(matches!(c.load(DIGEST), Lookup::Miss));
    c.store(DIGEST, b"precompiled bytes").expect("store");
    match c.load(DIGEST) {
        Lookup::Hit(v) => assert_eq!(v.artifact(), b"precompiled bytes"),
        _ => panic!("not loaded"),
    }
}

#[test]
fn an_entry_made_under_another_key_does_not_verify() {
    let tmp = tempfile::tempdir().expect("tmp");
    cache(tmp.path(), "k1").store(DIGEST, b"precompiled bytes").expect("store");
    // The same cache directory, another machine's key.
    let why = refusal(&cache(tmp.path(), "k2"));
    assert!(
        why.ends_with(
            "its MAC does not verify (changed, copied from another module's entry, or made with another key)"
        ),
        "{why}"
    );
}

#[test]
fn a_truncated_entry_is_refused() {
    let tmp = tempfile::tempdir().expect("tmp");
    let c = cache(tmp.path(), "k1");
    let path = c.store(DIGEST, b"precompiled bytes").expect("store");
    let bytes = std::fs::read(&path).expect("entry");
    // Cut inside the tag, then inside the artifact.
    std::fs::write(&path, &bytes[..20]).expect("cut");
    assert!(refusal(&c).ends_with("has no MAC (not written by this sealbox)"));
    std::fs::write(&path, &bytes[..bytes.len() - 1]).expect("cut");
    assert!(refusal(&c).contains("its MAC does not verify"));
}

#[test]
fn a_directory_or_fifo_at_an_entry_is_refused_without_blocking() {
    let tmp = tempfile::tempdir().expect("tmp");
    let c = cache(tmp.path(), "k1");
    let path = c.path_for(DIGEST);
    std::fs::create_dir(&path).expect("dir");
    assert!(refusal(&c).ends_with("is not a regular file"));
    std::fs::remove_dir(&path).expect("rmdir");
    let fifo = std::ffi::CString::new(path.into_os_string().into_encoded_bytes()).expect("path");
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0, "mkfifo");
    // Opening a fifo for reading blocks until a writer comes, unless O_NONBLOCK.
    assert!(refusal(&c).ends_with("is not a regular file"));
}
