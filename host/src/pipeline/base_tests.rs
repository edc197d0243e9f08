//! Resolving a base image: an `oci:DIR` base is copied into the store
//! only blob by verified blob, a base's sealer annotation and layers are
//! input like any other, and layer paths that leave the tree are skipped.

use std::path::Path;

use super::{layer_path, resolve};
use crate::kubefile::{self, BaseRef, Platform};
use crate::oci::spec::{self, ImageConfig, Manifest};
use crate::oci::{Descriptor, Store};

/// A one-layer linux/amd64 image named `v1` in `store`, its layer `layer`
/// and its manifest annotated with `annotations`.
fn image(store: &Store, layer: &[u8], annotations: &[(&str, &str)]) -> (Descriptor, Descriptor) {
    let layer = store.put_blob(spec::MEDIA_TYPE_LAYER_TAR, layer).expect("layer");
    let mut config = ImageConfig::new(&spec::Platform::new("linux", "amd64", None));
    config.rootfs.diff_ids.push(layer.digest.clone());
    let config = store.put_json(spec::MEDIA_TYPE_CONFIG, &config).expect("config");
    let mut manifest = Manifest::new(config, vec![layer.clone()]);
    for (k, v) in annotations {
        manifest.annotations.insert(k.to_string(), v.to_string());
    }
    let desc = store.put_json(spec::MEDIA_TYPE_MANIFEST, &manifest).expect("manifest");
    store.tag("v1", &desc).expect("tag");
    (desc, layer)
}

/// A tar of one empty file at `path`.
fn tar_of(path: &str) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(0);
    h.set_mode(0o644);
    b.append_data(&mut h, path, &b""[..]).expect("file");
    b.into_inner().expect("tar")
}

fn resolve_in(store: &Store, base: &BaseRef) -> anyhow::Result<super::Base> {
    resolve(store, base, &Platform::default(), &crate::registry::Options::default())
}

#[test]
fn layer_paths_are_plain_names_or_skipped() {
    let parts = |p: &str| layer_path(Path::new(p)).map(|v| v.join("|"));
    assert_eq!(parts("etc/kubernetes/admin.conf").as_deref(), Some("etc|kubernetes|admin.conf"));
    assert_eq!(parts("./etc/a").as_deref(), Some("etc|a"));
    assert_eq!(parts("/etc/a").as_deref(), Some("etc|a"), "absolute names are read as relative");
    assert_eq!(parts("../etc/passwd"), None);
    assert_eq!(parts("a/../../etc/passwd"), None);
}

#[test]
fn an_oci_layout_base_with_a_tampered_blob_is_not_imported() {
    let tmp = tempfile::tempdir().expect("tmp");
    let src = Store::open(&tmp.path().join("src")).expect("src");
    let (_, layer) = image(&src, &tar_of("etc/a"), &[]);
    // Same size, other bytes: only the digest check can tell.
    let path = src.layout().blob_path(&layer.digest);
    let mut bytes = std::fs::read(&path).expect("layer");
    bytes[0] ^= 1;
    std::fs::write(&path, &bytes).expect("tamper");
    let dest = Store::open(&tmp.path().join("dest")).expect("dest");
    let base = BaseRef::OciLayout { path: tmp.path().join("src").display().to_string(), reference: Some("v1".into()) };
    let e = format!("{:#}", resolve_in(&dest, &base).expect_err("tampered"));
    assert!(e.contains("importing the base image from"), "{e}");
    assert!(e.contains(&layer.digest.to_string()), "the blob is named: {e}");
    assert!(!dest.layout().has_blob(&layer.digest), "the tampered blob is not in the store");
}

#[test]
fn an_oci_layout_base_is_imported_and_its_tree_listed() {
    let tmp = tempfile::tempdir().expect("tmp");
    let src = Store::open(&tmp.path().join("src")).expect("src");
    let (desc, layer) = image(&src, &tar_of("etc/a"), &[]);
    let dest = Store::open(&tmp.path().join("dest")).expect("dest");
    let base = BaseRef::OciLayout { path: tmp.path().join("src").display().to_string(), reference: Some("v1".into()) };
    let resolved = resolve_in(&dest, &base).expect("resolve");
    assert_eq!(resolved.manifest.layers, vec![layer.clone()]);
    assert!(dest.layout().has_blob(&desc.digest) && dest.layout().has_blob(&layer.digest));
    assert_eq!(resolved.info.tree.get(Path::new("etc/a")).cloned(), Some(kubefile::Node::File));
}

#[test]
fn a_base_with_a_broken_sealer_annotation_or_layer_is_refused_naming_it() {
    let tmp = tempfile::tempdir().expect("tmp");
    let store = Store::open(&tmp.path().join("store")).expect("store");
    image(&store, &tar_of("a"), &[(kubefile::ANNOTATION, "{not json")]);
    let e = format!("{:#}", resolve_in(&store, &BaseRef::Store("v1".into())).expect_err("annotation"));
    assert!(e.starts_with("the base image's sealer.image.extension annotation is not valid"), "{e}");
    let tmp = tempfile::tempdir().expect("tmp");
    let store = Store::open(&tmp.path().join("store")).expect("store");
    let (_, layer) = image(&store, &[0x1f, 0x8b, 0, 0, 0xff], &[]);
    let e = format!("{:#}", resolve_in(&store, &BaseRef::Store("v1".into())).expect_err("layer"));
    assert!(e.starts_with("listing the base image's files: reading base layer"), "{e}");
    assert!(e.contains(&layer.digest.to_string()), "{e}");
}
