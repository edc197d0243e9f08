//! Helpers shared by the store's unit tests (test builds only).

use std::path::{Path, PathBuf};

use super::Store;
use crate::oci::spec::{
    Descriptor, ImageConfig, MEDIA_TYPE_CONFIG, MEDIA_TYPE_LAYER_TAR, MEDIA_TYPE_MANIFEST, Manifest, Platform,
};

/// A one-layer image in `store`; returns its manifest descriptor.
pub(super) fn small_image(store: &Store, seed: &str) -> Descriptor {
    let layer = store.put_blob(MEDIA_TYPE_LAYER_TAR, seed.as_bytes()).unwrap();
    let mut config = ImageConfig::new(&Platform::new("linux", "amd64", None));
    config.rootfs.diff_ids.push(layer.digest.clone());
    let config = store.put_json(MEDIA_TYPE_CONFIG, &config).unwrap();
    store.put_json(MEDIA_TYPE_MANIFEST, &Manifest::new(config, vec![layer])).unwrap()
}

pub(super) fn tmp_entries(root: &Path) -> Vec<PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(root.join(".sealbox/tmp")).unwrap().map(|e| e.unwrap().path()).collect();
    v.sort();
    v
}
