//! Cache keys: SHA-256 digests over everything a step's result depends
//! on (module digest, config, image facts, input content), so a hit is as
//! good as a run. Only how keys are computed lives here; what an entry
//! holds is in `entries`, and where entries are kept in the parent module.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use cap_std::fs::Dir;
use rayon::prelude::*;
use sealbox_guest::{FileEntry, FileKind, ImageInfo};
use sha2::{Digest, Sha256};

use super::HashMemo;
use crate::pipeline::listing::LayerEntry;
use crate::pipeline::staging::StagedTree;
use crate::tree::{FileStat, FileStats};

/// Builds a cache key from the parts a result depends on.
#[derive(Clone)]
pub struct KeyBuilder(Sha256);

impl KeyBuilder {
    /// A key for a step of `kind` (`pack`, `render`…), versioned so that a
    /// change in what the key covers never reuses old entries.
    pub fn new(kind: &str) -> Self {
        KeyBuilder(Sha256::new().chain_update(b"sealbox step cache v1\0").chain_update(kind).chain_update([0]))
    }

    /// Adds one length-prefixed part, so `("ab","c")` and `("a","bc")` differ.
    pub fn part(mut self, bytes: impl AsRef<[u8]>) -> Self {
        let b = bytes.as_ref();
        self.0.update((b.len() as u64).to_le_bytes());
        self.0.update(b);
        self
    }

    pub fn finish(self) -> String {
        hex::encode(self.0.finalize())
    }
}

/// A file to key: its index in the listing, its name in its directory,
/// and its stat when the listing already read it.
type ToKey<'a> = (usize, &'a str, Option<FileStat>);

/// The cache key of a pack step: the packer, the layer settings, and the
/// listing with the SHA-256 of every file's content. `stats` is what the
/// listing read, aligned with it (files past its end are stated here).
pub fn layer_key(
    pack_digest: &str,
    compression: crate::oci::Compression,
    source_date_epoch: u64,
    memo: Option<&HashMemo>,
    source: &Dir,
    listing: &[LayerEntry],
    stats: &FileStats,
) -> Result<String> {
    // Files are stated through their directory, opened once: a nested
    // path costs cap-std a checked open of its parent per call. Files the
    // listing already stated need no second stat (an unchanged rebuild is
    // mostly these), and their directory is opened only if one of them
    // must be read.
    let mut by_dir: BTreeMap<&str, Vec<ToKey>> = BTreeMap::new();
    for (i, e) in listing.iter().enumerate() {
        if e.kind == FileKind::File && e.hardlink.is_none() {
            let from = e.source_path();
            let (dir, name) = from.rsplit_once('/').unwrap_or(("", from));
            by_dir.entry(dir).or_default().push((i, name, stats.get(i).copied().flatten()));
        }
    }
    let groups: Vec<_> = by_dir.into_iter().collect();
    let digests: Vec<Vec<(usize, String)>> = groups
        .par_iter()
        .map(|(dir_path, files)| -> Result<Vec<(usize, String)>> {
            let mut dir: Option<Dir> = None;
            let mut open = || -> Result<Dir> {
                use cap_fs_ext::DirExt;
                if let Some(d) = &dir {
                    return d.try_clone().context("cloning a directory handle");
                }
                let d = if dir_path.is_empty() {
                    source.try_clone().context("opening the build context")?
                } else {
                    source.open_dir_nofollow(dir_path).with_context(|| format!("opening {dir_path}"))?
                };
                dir = Some(d.try_clone().context("cloning a directory handle")?);
                Ok(d)
            };
            let mut out = Vec::with_capacity(files.len());
            for &(i, name, known) in files {
                let stat = match known {
                    Some(stat) => stat,
                    None => FileStat::of(
                        &open()?.symlink_metadata(name).with_context(|| format!("reading {dir_path}/{name}"))?,
                    ),
                };
                let mut read = || content_digest(&open()?, name, listing[i].size);
                let digest = match memo {
                    Some(memo) => memo.digest(&stat, read)?,
                    None => read()?,
                };
                out.push((i, digest));
            }
            Ok(out)
        })
        .collect::<Result<_>>()?;
    let mut hashes = vec![String::new(); listing.len()];
    for (i, digest) in digests.into_iter().flatten() {
        hashes[i] = digest;
    }
    let mut key =
        KeyBuilder::new("pack").part(pack_digest).part(compression.to_string()).part(source_date_epoch.to_le_bytes());
    let mut json = Vec::new();
    for (e, h) in listing.iter().zip(hashes) {
        json.clear();
        serde_json::to_writer(&mut json, e)?;
        key = key.part(&json).part(h);
    }
    Ok(key.finish())
}

/// The cache key of a step that reads a tree the host staged (the image
/// search, a `RUN --module` transform): the module, its config, the image
/// facts, and the tree, content included.
pub fn tree_key(
    step: &str,
    module_digest: &str,
    config: &serde_json::Value,
    image: &ImageInfo,
    root: &Path,
    files: &[FileEntry],
    copies: Option<(&StagedTree, &HashMemo)>,
) -> Result<String> {
    let dir = Dir::open_ambient_dir(root, cap_std::ambient_authority())?;
    let hashes: Vec<String> = files
        .par_iter()
        .map(|e| {
            if e.kind != FileKind::File {
                return Ok(String::new());
            }
            // An untouched copy from the context has its source's digest,
            // which the memo knows from packing: no second read.
            match copies.and_then(|(tree, memo)| Some((tree.origin(&e.path)?, memo))) {
                Some((origin, memo)) => memo.digest(&origin, || content_digest(&dir, &e.path, e.size)),
                None => content_digest(&dir, &e.path, e.size),
            }
        })
        .collect::<Result<_>>()?;
    let mut key =
        KeyBuilder::new(step).part(module_digest).part(serde_json::to_vec(config)?).part(serde_json::to_vec(image)?);
    for (e, h) in files.iter().zip(hashes) {
        key = key.part(serde_json::to_vec(e)?).part(h);
    }
    Ok(key.finish())
}

/// The SHA-256 of the first `size` bytes of `path` under `dir`, read
/// without following links.
pub fn content_digest(dir: &Dir, path: &str, size: u64) -> Result<String> {
    let f = crate::tree::open_nofollow(dir, path).with_context(|| format!("reading {path}"))?;
    let mut h = crate::oci::digest::Hasher::new();
    std::io::copy(&mut std::io::Read::take(f, size), &mut h).with_context(|| format!("reading {path}"))?;
    Ok(h.finish().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_separate_their_parts() {
        let a = KeyBuilder::new("pack").part("ab").part("c").finish();
        let b = KeyBuilder::new("pack").part("a").part("bc").finish();
        let c = KeyBuilder::new("render").part("ab").part("c").finish();
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(a, KeyBuilder::new("pack").part("ab").part("c").finish());
    }

    /// The stats a listing read stand in for a second stat: the key is the
    /// same with or without them, and a file changed since is still seen
    /// by the content it has now when its stat is not given.
    #[test]
    fn a_layer_key_from_the_listings_stats_equals_one_from_fresh_stats() {
        let tmp = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(tmp.path().join("a/b")).expect("mkdir");
        std::fs::write(tmp.path().join("top.yaml"), "x: 1").expect("write");
        std::fs::write(tmp.path().join("a/b/deep.yaml"), "y: 2").expect("write");
        let dir = Dir::open_ambient_dir(tmp.path(), cap_std::ambient_authority()).expect("open");
        let (listing, stats) = crate::tree::walk_with_stats(&dir, &crate::tree::WalkOptions::default()).expect("walk");
        let listing: Vec<LayerEntry> = listing.into_iter().map(LayerEntry::from).collect();
        let stated: Vec<&str> =
            listing.iter().zip(&stats).filter(|(_, s)| s.is_some()).map(|(e, _)| e.path.as_str()).collect();
        assert_eq!(stated, ["a/b/deep.yaml", "top.yaml"], "regular files only, aligned with the listing");
        let key = |stats: &FileStats| {
            layer_key("sha256:p", crate::oci::Compression::Gzip, 0, None, &dir, &listing, stats).expect("key")
        };
        let with = key(&stats);
        assert_eq!(with, key(&FileStats::new()));
        std::fs::write(tmp.path().join("a/b/deep.yaml"), "y: 3").expect("rewrite");
        assert_ne!(key(&FileStats::new()), with, "new content, new key");
    }
}
