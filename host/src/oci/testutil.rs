//! Test fixtures: small real images built through the public API.

use std::io::Write;

use super::layer::LayerWriter;
use super::spec::{
    Compression, Descriptor, History, ImageConfig, Index, MEDIA_TYPE_CONFIG, MEDIA_TYPE_INDEX, MEDIA_TYPE_MANIFEST,
    Manifest, Platform, rfc3339,
};
use super::store::Store;

/// A tar stream with a directory, two files (one executable), a symlink and
/// a hard link, in sorted order, as a packer would write it.
pub fn fixture_tar(tag: &str) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |path: &str, kind: tar::EntryType, mode: u32, data: &[u8], link: Option<&str>| {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(data.len() as u64);
        h.set_mtime(0);
        if let Some(l) = link {
            h.set_link_name(l).unwrap();
        }
        b.append_data(&mut h, path, data).unwrap();
    };
    add("etc/", tar::EntryType::Directory, 0o755, b"", None);
    add("etc/config.yaml", tar::EntryType::Regular, 0o644, format!("name: {tag}\n").as_bytes(), None);
    add("etc/hard.yaml", tar::EntryType::Link, 0o644, b"", Some("etc/config.yaml"));
    add("etc/link", tar::EntryType::Symlink, 0o777, b"", Some("config.yaml"));
    add("run.sh", tar::EntryType::Regular, 0o755, b"#!/bin/sh\necho hi\n", None);
    b.into_inner().unwrap()
}

/// A one-layer image for `platform` in `store`.
pub fn fixture_image(store: &Store, platform: &Platform, compression: Compression) -> Descriptor {
    let mut w = LayerWriter::new(store, compression).unwrap();
    w.write_all(&fixture_tar(&platform.to_string())).unwrap();
    let layer = w.finish().unwrap();
    let mut config = ImageConfig::new(platform);
    config.created = Some(rfc3339(0));
    config.rootfs.diff_ids.push(layer.diff_id.clone());
    config.history.push(History {
        created: Some(rfc3339(0)),
        created_by: Some("COPY . .".into()),
        ..Default::default()
    });
    let config = store.put_json(MEDIA_TYPE_CONFIG, &config).unwrap();
    let mut manifest = Manifest::new(config, vec![layer.descriptor()]);
    manifest.annotations.insert("sealer.image.extension".into(), r#"{"schemaVersion":"v1alpha1"}"#.into());
    store.put_json(MEDIA_TYPE_MANIFEST, &manifest).unwrap()
}

/// An index over one image per platform.
pub fn fixture_index(store: &Store, platforms: &[Platform]) -> Descriptor {
    let manifests = platforms
        .iter()
        .map(|p| {
            let mut d = fixture_image(store, p, Compression::Gzip);
            d.platform = Some(p.clone());
            d
        })
        .collect();
    store.put_json(MEDIA_TYPE_INDEX, &Index::new(manifests)).unwrap()
}

/// Runs a tool the cross-checks need; panics naming the tool and the setup
/// step when it is missing, so a machine without it fails instead of
/// passing without the check.
pub fn run_tool(program: &str, args: &[&str]) -> std::process::Output {
    match std::process::Command::new(program).args(args).output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("{program} is not installed: run scripts/setup.sh, which installs it for this cross-check")
        }
        Err(e) => panic!("cannot run {program}: {e}"),
    }
}
