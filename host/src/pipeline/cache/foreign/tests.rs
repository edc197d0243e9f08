//! What a registry cache may bring into the step cache.

use std::io::Write;

use serde_json::{Value, json};

use super::{Admission, IMPORTED};
use crate::oci::{Compression, LayerDescriptor, LayerWriter, Store};
use crate::pipeline::cache::CachedLayer;
use crate::pipeline::cache::StepCache;

/// A store holding one gzip layer with one file.
fn store_with_layer() -> (tempfile::TempDir, Store, LayerDescriptor) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("store");
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mode(0o644);
    h.set_size(5);
    tar.append_data(&mut h, "etc/a.txt", &b"hello"[..]).expect("tar");
    let mut w = LayerWriter::new(&store, Compression::Gzip).expect("writer");
    w.write_all(&tar.into_inner().expect("tar")).expect("write");
    let layer = w.finish().expect("layer");
    (dir, store, layer)
}

/// A pack step's entry, as the step cache writes it.
fn pack_entry(layer: &LayerDescriptor) -> Value {
    serde_json::to_value(CachedLayer::from(layer)).expect("json")
}

/// A `RUN --module` transform's entry: the layer and its listing.
fn transform_entry(layer: &LayerDescriptor, path: &str) -> Value {
    let mut v = pack_entry(layer);
    v["listing"] = json!([{ "path": path, "kind": "file", "mode": 420, "size": 5 }]);
    v
}

/// A policy step's verdict (or any output entry): a response, no files.
fn verdict(status: &str) -> Value {
    json!({ "response": { "apiVersion": sealbox_guest::API_VERSION, "status": status }, "files": {} })
}

fn refused(admission: &mut Admission<'_>, entry: &Value) -> String {
    admission.admit(entry).expect_err("refused")
}

#[test]
fn layer_entries_naming_a_verified_layer_are_admitted_and_marked() {
    let (_dir, store, layer) = store_with_layer();
    let layers = [layer.descriptor()];
    let mut admission = Admission::new(&store, &layers);
    for entry in [pack_entry(&layer), transform_entry(&layer, "etc/a.txt")] {
        let admitted = admission.admit(&entry).expect("admitted");
        assert_eq!(admitted[IMPORTED], Value::Bool(true));
        let mut without = admitted.clone();
        without.as_object_mut().expect("object").remove(IMPORTED);
        assert_eq!(without, entry, "stored as the step cache writes it");
    }
}

#[test]
fn layer_entries_that_do_not_match_their_blob_are_refused() {
    let (_dir, store, layer) = store_with_layer();
    let layers = [layer.descriptor()];
    let mut admission = Admission::new(&store, &layers);
    let good = pack_entry(&layer);

    let mut other_diff = good.clone();
    other_diff["diffId"] = json!(crate::oci::Digest::of(b"something else").to_string());
    assert!(refused(&mut admission, &other_diff).contains("decompresses to"));

    let mut bigger = good.clone();
    bigger["uncompressedSize"] = json!(layer.uncompressed_size + 1);
    assert!(refused(&mut admission, &bigger).contains("decompresses to"));

    let mut size = good.clone();
    size["size"] = json!(layer.size + 1);
    assert!(refused(&mut admission, &size).contains("cache manifest"));

    let mut not_carried = good.clone();
    not_carried["digest"] = json!(crate::oci::Digest::of(b"not a layer of the cache").to_string());
    assert!(refused(&mut admission, &not_carried).contains("not one of the cache's layers"));

    let mut media = good.clone();
    media["mediaType"] = json!("application/x-anything");
    assert!(refused(&mut admission, &media).contains("unknown media type"));

    // The digests came from the manifest, but no layer blob of it at all.
    let mut none = Admission::new(&store, &[]);
    assert!(refused(&mut none, &good).contains("not one of the cache's layers"));
}

#[test]
fn entries_with_unknown_fields_or_unplain_paths_are_refused() {
    let (_dir, store, layer) = store_with_layer();
    let layers = [layer.descriptor()];
    let mut admission = Admission::new(&store, &layers);

    // A layer entry that also carries a verdict, for a reader that would
    // take it as an output entry.
    let mut both = pack_entry(&layer);
    both["response"] = verdict("success")["response"].clone();
    both["files"] = json!({});
    assert!(refused(&mut admission, &both).contains("unknown field"));

    for path in ["../escape", "/etc/passwd", "a/../../b", "a//b", "./a", ""] {
        let why = refused(&mut admission, &transform_entry(&layer, path));
        assert!(why.contains("not a plain relative path"), "{path:?}: {why}");
        let mut output = verdict("success");
        let mut files = serde_json::Map::new();
        files.insert(path.to_string(), json!([104, 105]));
        output["files"] = Value::Object(files);
        let why = refused(&mut admission, &output);
        assert!(why.contains("not a plain relative path"), "{path:?}: {why}");
    }

    let mut huge = verdict("success");
    huge["files"] = json!({ "big": vec![0u8; (crate::pipeline::cache::CachedOutput::MAX_BYTES + 1) as usize] });
    assert!(refused(&mut admission, &huge).contains("more than a cache entry keeps"));

    assert!(refused(&mut admission, &json!({ "anything": 1 })).contains("neither"));
    assert!(refused(&mut admission, &json!({ "response": "ok", "files": {} })).contains("not an output entry"));
}

#[test]
fn an_imported_verdict_is_never_read_as_one() {
    let (_dir, store, _layer) = store_with_layer();
    let cache = StepCache::new(store.root(), true);
    let mut admission = Admission::new(&store, &[]);
    let key = "a".repeat(64);
    // A remote cache that says this policy step passed.
    let admitted = admission.admit(&verdict("success")).expect("an output entry is admitted, marked");
    assert!(cache.insert_foreign(&key, &admitted).expect("insert"));
    assert!(cache.get::<crate::pipeline::cache::CachedOutput>(&key).is_none(), "a policy or image list reads a miss");
    assert!(cache.get_shared::<crate::pipeline::cache::CachedOutput>(&key).is_some(), "a transform may use it");

    // This machine's own result, written over it when the step runs again.
    cache.put(&key, &verdict("failure")).expect("put");
    let own = cache.get::<crate::pipeline::cache::CachedOutput>(&key).expect("own entry");
    assert_eq!(own.response.status, sealbox_guest::Status::Failure);

    // An entry already here is never replaced by a remote one.
    assert!(!cache.insert_foreign(&key, &admitted).expect("insert"));
    assert!(cache.get::<crate::pipeline::cache::CachedOutput>(&key).is_some());
}
