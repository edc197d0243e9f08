//! Pulling from a registry that lies: wrong bytes, too many or too few,
//! a manifest that is not the pinned one, indexes nested without end.
//! Nothing the registry sends becomes a store blob unless it hashes to
//! its digest and has its descriptor's size.

use super::{fetch, media_type_of};
use crate::oci::spec::{self, Descriptor, Index, Manifest};
use crate::oci::{Digest, Store};
use crate::registry::test_registry::{Answer, TestRegistry, options};

/// A store in a fresh temporary directory.
fn store() -> (tempfile::TempDir, Store) {
    let tmp = tempfile::tempdir().expect("tmp");
    let store = Store::open(&tmp.path().join("store")).expect("store");
    (tmp, store)
}

/// Serves an image of `repo:v1` whose config is `config` and one layer
/// described as `layer` (digest and size) but served as `served`.
/// Returns the manifest bytes and the layer's descriptor.
fn image(reg: &TestRegistry, repo: &str, layer: &[u8], served: &[u8]) -> (Vec<u8>, Descriptor) {
    let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let config_desc = Descriptor::new(spec::MEDIA_TYPE_CONFIG, Digest::of(config), config.len() as u64);
    let layer_desc = Descriptor::new(spec::MEDIA_TYPE_LAYER_TAR, Digest::of(layer), layer.len() as u64);
    let manifest = spec::to_canonical_json(&Manifest::new(config_desc.clone(), vec![layer_desc.clone()]));
    reg.serve(&format!("/v2/{repo}/manifests/v1"), Answer::bytes(spec::MEDIA_TYPE_MANIFEST, &manifest));
    reg.serve(&format!("/v2/{repo}/blobs/{}", config_desc.digest), Answer::bytes("application/octet-stream", config));
    reg.serve(&format!("/v2/{repo}/blobs/{}", layer_desc.digest), Answer::bytes("application/octet-stream", served));
    (manifest, layer_desc)
}

fn error(r: anyhow::Result<(Descriptor, super::TransferReport)>) -> String {
    match r {
        Ok((d, _)) => panic!("the fetch succeeded with {}", d.digest),
        Err(e) => format!("{e:#}"),
    }
}

#[test]
fn an_honest_image_is_stored_and_a_second_fetch_moves_nothing() {
    let reg = TestRegistry::start();
    let (manifest, layer) = image(&reg, "ok/img", b"layer bytes", b"layer bytes");
    let (_t, store) = store();
    let (top, report) = fetch(&store, &reg.reference("ok/img:v1"), &options()).expect("fetch");
    assert_eq!(top.digest, Digest::of(&manifest));
    assert_eq!(top.media_type, spec::MEDIA_TYPE_MANIFEST);
    assert_eq!((report.blobs_transferred, report.blobs_skipped), (2, 0));
    assert_eq!(store.layout().read_blob(&layer).expect("layer"), b"layer bytes");
    let (_, again) = fetch(&store, &reg.reference("ok/img:v1"), &options()).expect("again");
    assert_eq!((again.blobs_transferred, again.blobs_skipped, again.bytes), (0, 2, 0));
    assert_eq!(reg.hits(&format!("/v2/ok/img/blobs/{}", layer.digest)), 1, "the layer is downloaded once");
}

#[test]
fn a_blob_of_the_right_size_and_wrong_bytes_is_refused_and_not_stored() {
    let reg = TestRegistry::start();
    let (_, layer) = image(&reg, "bad/img", b"the real layer", b"the fake layer");
    let (_t, store) = store();
    let e = error(fetch(&store, &reg.reference("bad/img:v1"), &options()));
    assert!(e.contains(&format!("the registry sent wrong bytes for blob {}", layer.digest)), "{e}");
    assert!(!store.layout().has_blob(&layer.digest));
    assert!(!store.layout().has_blob(&Digest::of(b"the fake layer")), "the wrong bytes are not kept either");
}

#[test]
fn a_blob_longer_than_its_descriptor_is_cut_off_and_refused() {
    let reg = TestRegistry::start();
    let mut long = b"0123456789".to_vec();
    long.extend(vec![b'x'; 1 << 20]);
    let (_, layer) = image(&reg, "long/img", b"0123456789", &long);
    let (_t, store) = store();
    let e = error(fetch(&store, &reg.reference("long/img:v1"), &options()));
    let want = format!("the registry sent more than 10 bytes for blob {}, its descriptor says 10", layer.digest);
    assert!(e.contains(&want), "{e}");
    assert!(!store.layout().has_blob(&layer.digest));
}

#[test]
fn a_truncated_blob_is_refused() {
    let reg = TestRegistry::start();
    let (_, layer) = image(&reg, "short/img", b"0123456789", b"01234");
    let (_t, store) = store();
    let e = error(fetch(&store, &reg.reference("short/img:v1"), &options()));
    assert!(e.contains(&format!("the registry sent 5 bytes for blob {}, its descriptor says 10", layer.digest)), "{e}");
    assert!(!store.layout().has_blob(&layer.digest));
}

#[test]
fn a_manifest_that_is_not_the_pinned_one_is_refused() {
    let reg = TestRegistry::start();
    let (manifest, _) = image(&reg, "pin/img", b"l", b"l");
    let pinned = Digest::of(b"some other manifest");
    // The registry answers the digest request with the tag's manifest.
    reg.serve(&format!("/v2/pin/img/manifests/{pinned}"), Answer::bytes(spec::MEDIA_TYPE_MANIFEST, &manifest));
    let (_t, store) = store();
    let e = error(fetch(&store, &reg.reference(&format!("pin/img@{pinned}")), &options()));
    assert!(e.contains(&format!("hashing to {} for {pinned}: refusing them", Digest::of(&manifest))), "{e}");
    assert!(!store.layout().has_blob(&Digest::of(&manifest)));
}

/// An index whose one child is `child` (bytes), described with `size`.
fn index_of(child: &[u8], media_type: &str, size: u64) -> Vec<u8> {
    let mut index = Index::default();
    index.manifests.push(Descriptor::new(media_type, Digest::of(child), size));
    spec::to_canonical_json(&index)
}

#[test]
fn a_child_manifest_of_another_size_than_its_descriptor_is_refused() {
    let reg = TestRegistry::start();
    let (manifest, _) = image(&reg, "idx/img", b"l", b"l");
    let index = index_of(&manifest, spec::MEDIA_TYPE_MANIFEST, manifest.len() as u64 + 1);
    reg.serve("/v2/idx/img/manifests/multi", Answer::bytes(spec::MEDIA_TYPE_INDEX, &index));
    reg.serve(
        &format!("/v2/idx/img/manifests/{}", Digest::of(&manifest)),
        Answer::bytes(spec::MEDIA_TYPE_MANIFEST, &manifest),
    );
    let (_t, store) = store();
    let e = error(fetch(&store, &reg.reference("idx/img:multi"), &options()));
    let want = format!(
        "manifest {} is {} bytes, its descriptor says {}",
        Digest::of(&manifest),
        manifest.len(),
        manifest.len() + 1
    );
    assert!(e.contains(&want), "{e}");
}

#[test]
fn indexes_nested_deeper_than_four_levels_are_refused() {
    let reg = TestRegistry::start();
    let (mut child, _) = image(&reg, "deep/img", b"l", b"l");
    let mut child_type = spec::MEDIA_TYPE_MANIFEST;
    for _ in 0..6 {
        let index = index_of(&child, child_type, child.len() as u64);
        reg.serve(&format!("/v2/deep/img/manifests/{}", Digest::of(&child)), Answer::bytes(child_type, &child));
        child = index;
        child_type = spec::MEDIA_TYPE_INDEX;
    }
    reg.serve("/v2/deep/img/manifests/top", Answer::bytes(spec::MEDIA_TYPE_INDEX, &child));
    let (_t, store) = store();
    let e = error(fetch(&store, &reg.reference("deep/img:top"), &options()));
    assert!(e.contains("image indexes nest deeper than 4 levels"), "{e}");
}

#[test]
fn a_manifest_that_is_not_json_is_refused_naming_it() {
    let reg = TestRegistry::start();
    reg.serve("/v2/junk/img/manifests/v1", Answer::bytes(spec::MEDIA_TYPE_MANIFEST, b"\x00not json"));
    let (_t, store) = store();
    let e = error(fetch(&store, &reg.reference("junk/img:v1"), &options()));
    let want = format!("manifest v1 of junk/img ({}): the manifest is not JSON", Digest::of(b"\x00not json"));
    assert!(e.contains(&want), "{e}");
    // Valid JSON of the wrong shape is named too.
    reg.serve("/v2/junk/img/manifests/v2", Answer::bytes(spec::MEDIA_TYPE_MANIFEST, br#"{"layers":7}"#));
    let e = error(fetch(&store, &reg.reference("junk/img:v2"), &options()));
    assert!(e.contains(&format!("manifest {} is not valid", Digest::of(br#"{"layers":7}"#))), "{e}");
}

#[test]
fn the_media_type_comes_from_the_descriptor_then_the_document_then_the_header() {
    let desc = Descriptor::new(spec::MEDIA_TYPE_INDEX, Digest::of(b"x"), 1);
    assert_eq!(media_type_of(b"not json", "text/plain", Some(&desc)).expect("desc"), spec::MEDIA_TYPE_INDEX);
    let doc = br#"{"mediaType":"application/vnd.docker.distribution.manifest.v2+json"}"#;
    assert_eq!(
        media_type_of(doc, spec::MEDIA_TYPE_INDEX, None).expect("doc"),
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    assert_eq!(media_type_of(b"{}", spec::MEDIA_TYPE_INDEX, None).expect("header"), spec::MEDIA_TYPE_INDEX);
    assert_eq!(media_type_of(br#"{"manifests":[]}"#, "text/plain", None).expect("shape"), spec::MEDIA_TYPE_INDEX);
    assert_eq!(media_type_of(b"{}", "text/plain", None).expect("default"), spec::MEDIA_TYPE_MANIFEST);
    assert!(media_type_of(b"<html>", "text/html", None).is_err());
}
