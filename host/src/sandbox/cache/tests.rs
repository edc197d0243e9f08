//! The precompiled cache loads only entries whose MAC verifies under a
//! private key; everything else is compiled again, and said.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::sandbox::{ModuleBinary, Sandbox};

/// The smallest core module, with a custom section named `tag` so that
/// different tags give different digests.
fn module(tag: &str) -> ModuleBinary {
    let mut bytes = b"\0asm\x01\0\0\0".to_vec();
    let name = tag.as_bytes();
    bytes.push(0);
    bytes.push((name.len() + 1) as u8);
    bytes.push(name.len() as u8);
    bytes.extend_from_slice(name);
    ModuleBinary::parse(bytes).expect("a valid module")
}

/// A cache directory and, beside it (not inside), the key's directory.
struct Place {
    _tmp: tempfile::TempDir,
    cache: PathBuf,
    key: PathBuf,
}

impl Place {
    fn new() -> Place {
        let tmp = tempfile::tempdir().expect("tempdir");
        let cache = tmp.path().join("cache");
        let key = tmp.path().join("config").join("cache.key");
        Place { cache, key, _tmp: tmp }
    }

    fn sandbox(&self) -> Sandbox {
        Sandbox::with_cache(Some((&self.cache, &self.key))).expect("sandbox")
    }

    fn entry(&self, sandbox: &Sandbox, m: &ModuleBinary) -> PathBuf {
        let cache = sandbox.inner.cache.as_ref().expect("a cache");
        cache.path_for(&m.digest)
    }
}

/// Loads `m` and says whether it came from the cache.
fn cached(sandbox: &Sandbox, m: &ModuleBinary) -> bool {
    sandbox.load(m, "test").expect("load").cached
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).expect("stat").permissions().mode() & 0o777
}

#[test]
fn a_good_entry_is_loaded_from_the_cache() {
    let place = Place::new();
    let sandbox = place.sandbox();
    let m = module("a");
    assert!(!cached(&sandbox, &m), "the first load compiles");
    assert!(cached(&sandbox, &m), "the second load is a hit");
    // A new process (sandbox) with the same key hits too.
    assert!(cached(&place.sandbox(), &m));
    assert!(sandbox.take_cache_notes().is_empty());
    assert_eq!(mode(&place.key), 0o600);
    assert_eq!(std::fs::metadata(&place.key).expect("key").len(), 32);
}

#[test]
fn an_entry_with_one_byte_flipped_is_not_loaded_and_is_replaced() {
    let place = Place::new();
    let sandbox = place.sandbox();
    let m = module("a");
    cached(&sandbox, &m);
    let path = place.entry(&sandbox, &m);
    let good = std::fs::read(&path).expect("entry");
    // One byte of the artifact, then one byte of the tag.
    for at in [good.len() - 1, super::MAGIC.len() + 3] {
        let mut bad = good.clone();
        bad[at] ^= 0x01;
        std::fs::write(&path, &bad).expect("tamper");
        assert!(!cached(&sandbox, &m), "a changed entry (byte {at}) is not loaded");
        let notes = sandbox.take_cache_notes();
        assert!(notes.iter().any(|n| n.contains("does not verify")), "{notes:?}");
        assert_eq!(std::fs::read(&path).expect("entry"), good, "the entry is written again");
        assert!(cached(&sandbox, &m));
    }
}

#[test]
fn an_entry_copied_under_another_modules_name_is_not_loaded() {
    let place = Place::new();
    let sandbox = place.sandbox();
    let (a, b) = (module("a"), module("b"));
    cached(&sandbox, &a);
    cached(&sandbox, &b);
    let (path_a, path_b) = (place.entry(&sandbox, &a), place.entry(&sandbox, &b));
    let own_b = std::fs::read(&path_b).expect("entry b");
    std::fs::copy(&path_a, &path_b).expect("copy");
    assert!(!cached(&sandbox, &b), "a's entry under b's name is not loaded");
    let notes = sandbox.take_cache_notes();
    assert!(notes.iter().any(|n| n.contains("does not verify")), "{notes:?}");
    assert_eq!(std::fs::read(&path_b).expect("entry b"), own_b, "b's own entry is back");
}

#[test]
fn an_entry_without_a_mac_is_not_loaded() {
    let place = Place::new();
    let sandbox = place.sandbox();
    let m = module("a");
    cached(&sandbox, &m);
    let path = place.entry(&sandbox, &m);
    // What an older sealbox wrote, or a file planted with wasmtime's own
    // format: a valid artifact, no MAC.
    let bare = std::fs::read(&path).expect("entry")[super::HEADER_LEN..].to_vec();
    std::fs::write(&path, &bare).expect("plant");
    assert!(!cached(&sandbox, &m));
    let notes = sandbox.take_cache_notes();
    assert!(notes.iter().any(|n| n.contains("has no MAC")), "{notes:?}");
}

#[test]
fn an_entry_that_is_a_link_is_not_followed() {
    let place = Place::new();
    let sandbox = place.sandbox();
    let (a, b) = (module("a"), module("b"));
    cached(&sandbox, &a);
    let (path_a, path_b) = (place.entry(&sandbox, &a), place.entry(&sandbox, &b));
    std::os::unix::fs::symlink(&path_a, &path_b).expect("link");
    assert!(!cached(&sandbox, &b));
    let notes = sandbox.take_cache_notes();
    assert!(notes.iter().any(|n| n.contains("cannot be opened")), "{notes:?}");
    assert!(!std::fs::symlink_metadata(&path_b).expect("entry").is_symlink(), "replaced by a file");
}

#[test]
fn a_key_open_to_others_is_replaced_and_entries_made_with_it_are_not_loaded() {
    let place = Place::new();
    let m = module("a");
    cached(&place.sandbox(), &m);
    let old_key = std::fs::read(&place.key).expect("key");
    // The key leaks: anyone who read it could have made this entry.
    std::fs::set_permissions(&place.key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let sandbox = place.sandbox();
    let notes = sandbox.take_cache_notes();
    assert!(notes.iter().any(|n| n.contains("mode 644") && n.contains("replaced")), "{notes:?}");
    assert_eq!(mode(&place.key), 0o600);
    assert_ne!(std::fs::read(&place.key).expect("key"), old_key, "a new key");
    assert!(!cached(&sandbox, &m), "an entry made with the old key is not loaded");
    assert!(cached(&sandbox, &m));
}

#[test]
fn a_key_that_is_a_link_or_the_wrong_size_is_replaced() {
    let place = Place::new();
    std::fs::create_dir_all(place.key.parent().expect("parent")).expect("dir");
    let elsewhere = place.key.with_file_name("elsewhere");
    std::fs::write(&elsewhere, [7u8; 32]).expect("target");
    std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    std::os::unix::fs::symlink(&elsewhere, &place.key).expect("link");
    let notes = place.sandbox().take_cache_notes();
    assert!(notes.iter().any(|n| n.contains("symbolic link")), "{notes:?}");
    assert!(!std::fs::symlink_metadata(&place.key).expect("key").is_symlink());
    assert_eq!(std::fs::read(&elsewhere).expect("target"), [7u8; 32], "the link's target is untouched");

    std::fs::write(&place.key, b"short").expect("short key");
    let notes = place.sandbox().take_cache_notes();
    assert!(notes.iter().any(|n| n.contains("holds 5 bytes")), "{notes:?}");
    assert_eq!(std::fs::metadata(&place.key).expect("key").len(), 32);
}

#[test]
fn a_key_inside_the_cache_or_in_a_shared_directory_is_refused() {
    let place = Place::new();
    let inside = place.cache.join("cache.key");
    let err = Sandbox::with_cache(Some((&place.cache, &inside))).err().expect("refused");
    assert!(format!("{err:#}").contains("inside the module cache"), "{err:#}");

    let shared = place.key.parent().expect("parent").to_path_buf();
    std::fs::create_dir_all(&shared).expect("dir");
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let err = Sandbox::with_cache(Some((&place.cache, &place.key))).err().expect("refused");
    assert!(format!("{err:#}").contains("writable by group or others"), "{err:#}");
}

#[test]
fn a_cache_directory_others_can_write_is_refused() {
    let place = Place::new();
    std::fs::create_dir_all(&place.cache).expect("dir");
    std::fs::set_permissions(&place.cache, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let err = Sandbox::with_cache(Some((&place.cache, &place.key))).err().expect("refused");
    assert!(format!("{err:#}").contains("writable by group or others"), "{err:#}");
}

#[test]
fn two_sandboxes_starting_at_once_agree_on_one_key() {
    let place = Place::new();
    let keys: Vec<Vec<u8>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    let sandbox = place.sandbox();
                    let cache = sandbox.inner.cache.as_ref().expect("cache");
                    cache.key.bytes().to_vec()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("thread")).collect()
    });
    assert!(keys.windows(2).all(|w| w[0] == w[1]), "one key for all");
    assert_eq!(std::fs::read(&place.key).expect("key"), keys[0]);
}

#[test]
fn every_builtin_loads_precompiled_from_the_binary() {
    // With no cache at all: nothing to read, nothing compiled.
    let sandbox = Sandbox::with_cache(None).expect("sandbox");
    for builtin in crate::builtins::EMBEDDED {
        let binary = ModuleBinary::parse(builtin.wasm.to_vec()).expect("a builtin parses");
        let (digest, _) = builtin.precompiled.unwrap_or_else(|| {
            panic!(
                "builtin {} has no precompiled artifact: was it built with SEALBOX_PRECOMPILE_BUILTINS=0?",
                builtin.name
            )
        });
        assert_eq!(digest, binary.digest, "the embedded digest is the wasm's");
        assert!(sandbox.load(&binary, builtin.name).expect("load").cached, "builtin {} was compiled", builtin.name);
    }
    assert_eq!(sandbox.take_cache_notes(), Vec::<String>::new());
}

#[test]
fn a_builtin_writes_nothing_into_the_cache() {
    let place = Place::new();
    let sandbox = place.sandbox();
    let builtin = &crate::builtins::EMBEDDED[0];
    let binary = ModuleBinary::parse(builtin.wasm.to_vec()).expect("a builtin parses");
    assert!(cached(&sandbox, &binary));
    assert!(!place.entry(&sandbox, &binary).exists(), "a cache entry was written for an embedded builtin");
}

#[test]
fn an_embedded_artifact_is_matched_by_digest_only() {
    let m = module("not-a-builtin");
    assert!(crate::builtins::precompiled(&m.digest).is_none());
    assert!(crate::builtins::precompiled("sha256:").is_none());
}
