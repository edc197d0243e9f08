//! Modules fetched by pin: the bytes returned always hash to the pin,
//! whatever the registry or a damaged local copy holds.

use super::{MEDIA_TYPE_WASM_LAYER, fetch_module};
use crate::oci::spec::{self, Descriptor, Manifest};
use crate::oci::{Digest, Store};
use crate::registry::test_registry::{Answer, TestRegistry, options};

/// The smallest core module, with a custom section naming `tag` so that
/// each tag is another module.
fn wasm(tag: &str) -> Vec<u8> {
    let mut bytes = b"\0asm\x01\0\0\0".to_vec();
    bytes.extend([0, tag.len() as u8 + 1, tag.len() as u8]);
    bytes.extend(tag.as_bytes());
    bytes
}

fn blob_path(digest: &Digest) -> String {
    format!("/v2/mods/check/blobs/{digest}")
}

#[test]
fn the_pinned_module_is_fetched_kept_and_then_read_from_the_store() {
    let reg = TestRegistry::start();
    let module = wasm("good");
    let pin = Digest::of(&module);
    reg.serve(&blob_path(&pin), Answer::bytes(MEDIA_TYPE_WASM_LAYER, &module));
    let tmp = tempfile::tempdir().expect("tmp");
    let store = Store::open(tmp.path()).expect("store");
    let reference = format!("oci://{}/mods/check:v1", reg.host);
    let got = fetch_module(&reference, &pin.to_string(), &options(), Some(&store)).expect("fetch");
    assert_eq!(got, module);
    let again = fetch_module(&reference, &pin.to_string(), &options(), Some(&store)).expect("again");
    assert_eq!(again, module);
    // HEAD and GET once: the second fetch never asked the registry.
    assert_eq!(reg.hits(&blob_path(&pin)), 2);
}

#[test]
fn module_bytes_that_do_not_hash_to_the_pin_are_refused_and_not_kept() {
    let reg = TestRegistry::start();
    let pin = Digest::of(&wasm("pinned"));
    let other = wasm("other");
    reg.serve(&blob_path(&pin), Answer::bytes(MEDIA_TYPE_WASM_LAYER, &other));
    let tmp = tempfile::tempdir().expect("tmp");
    let store = Store::open(tmp.path()).expect("store");
    let e = fetch_module(&format!("{}/mods/check:v1", reg.host), &pin.to_string(), &options(), Some(&store))
        .expect_err("refused");
    let want = format!("sent module bytes hashing to {}, not the pinned {pin}: refusing them", Digest::of(&other));
    assert!(format!("{e:#}").contains(&want), "{e:#}");
    assert!(!store.layout().has_blob(&pin) && !store.layout().has_blob(&Digest::of(&other)));
}

#[test]
fn a_damaged_local_copy_is_fetched_again_and_replaced() {
    let reg = TestRegistry::start();
    let module = wasm("mended");
    let pin = Digest::of(&module);
    reg.serve(&blob_path(&pin), Answer::bytes(MEDIA_TYPE_WASM_LAYER, &module));
    let tmp = tempfile::tempdir().expect("tmp");
    let store = Store::open(tmp.path()).expect("store");
    std::fs::write(store.layout().blob_path(&pin), b"planted bytes").expect("damage");
    let reference = format!("{}/mods/check:v1", reg.host);
    assert_eq!(fetch_module(&reference, &pin.to_string(), &options(), Some(&store)).expect("fetch"), module);
    assert_eq!(
        std::fs::read(store.layout().blob_path(&pin)).expect("blob"),
        module,
        "the store holds the module again"
    );
}

#[test]
fn a_stale_pin_names_the_module_the_tag_holds_now() {
    let reg = TestRegistry::start();
    let now = wasm("now");
    let layer = Descriptor::new(MEDIA_TYPE_WASM_LAYER, Digest::of(&now), now.len() as u64);
    let config = Descriptor::new(super::MEDIA_TYPE_WASM_CONFIG, Digest::of(b"{}"), 2);
    let manifest = spec::to_canonical_json(&Manifest::new(config, vec![layer]));
    reg.serve("/v2/mods/check/manifests/v1", Answer::bytes(spec::MEDIA_TYPE_MANIFEST, &manifest));
    let stale = Digest::of(&wasm("before"));
    let e = fetch_module(&format!("{}/mods/check:v1", reg.host), &stale.to_string(), &options(), None)
        .expect_err("no such module");
    let want = format!("holds module {} now; no module {stale} is in mods/check", Digest::of(&now));
    assert!(format!("{e:#}").contains(&want), "{e:#}");
}

#[test]
fn a_pin_that_is_not_a_digest_is_refused_before_any_request() {
    let reg = TestRegistry::start();
    for pin in ["latest", "sha256:../../x", "md5:abcd"] {
        let e = fetch_module(&format!("{}/mods/check:v1", reg.host), pin, &options(), None).expect_err("refused");
        assert!(format!("{e:#}").contains(&format!("module pin {pin:?}")), "{e:#}");
    }
    assert_eq!(reg.requests.lock().expect("lock").len(), 0);
}
