//! What goes into a layer: the plan's copy entries resolved against the
//! build context into a sorted listing of image paths, each with the
//! context path its content comes from.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use cap_std::fs::Dir;
use sealbox_guest::{FileEntry, FileKind};
use serde::{Deserialize, Serialize};

use crate::kubefile::{CopyEntry, EntryKind, Ignore};
use crate::tree::{self, FileStat, FileStats, WalkOptions};

/// One entry of a layer listing: a file entry as the image holds it, and
/// where its content is read from when that is not its image path. The
/// source is the host's and the packer's business only, so it lives here
/// and not in the step contract's [`FileEntry`]; the packer receives it in
/// its config (see [`LayerEntry::split`]). Caches keep this flat shape,
/// which is the shape listings had before the split.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LayerEntry {
    /// Path in the layer, relative, `/`-separated.
    pub path: String,
    pub kind: FileKind,
    /// Permission bits, without the file type.
    pub mode: u32,
    /// Size in bytes (files only).
    #[serde(default)]
    pub size: u64,
    /// Target of a symlink.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// For later names of a hard-linked file: the first name's path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardlink: Option<String>,
    /// Where under the source tree the content is read from, when that
    /// differs from `path` (`COPY rootfs/ .` reads `rootfs/x` for `x`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl LayerEntry {
    /// The path the content is read from under the source tree.
    pub fn source_path(&self) -> &str {
        self.source.as_deref().unwrap_or(&self.path)
    }

    /// A directory entry, as a listing's parents are.
    pub fn dir(path: &str, mode: u32) -> LayerEntry {
        LayerEntry {
            path: path.to_string(),
            kind: FileKind::Dir,
            mode,
            size: 0,
            link: None,
            hardlink: None,
            source: None,
        }
    }

    /// Splits a listing into what the packer's request carries: the file
    /// entries, and the sources (by image path) of those read from
    /// elsewhere, for its config.
    pub fn split(listing: Vec<LayerEntry>) -> (Vec<FileEntry>, BTreeMap<String, String>) {
        let mut sources = BTreeMap::new();
        let files = listing
            .into_iter()
            .map(|e| {
                if let Some(source) = e.source {
                    sources.insert(e.path.clone(), source);
                }
                FileEntry { path: e.path, kind: e.kind, mode: e.mode, size: e.size, link: e.link, hardlink: e.hardlink }
            })
            .collect();
        (files, sources)
    }
}

impl From<FileEntry> for LayerEntry {
    /// An entry read from its own path.
    fn from(e: FileEntry) -> LayerEntry {
        LayerEntry {
            path: e.path,
            kind: e.kind,
            mode: e.mode,
            size: e.size,
            link: e.link,
            hardlink: e.hardlink,
            source: None,
        }
    }
}

/// Resolves `entries` (in order; later ones overwrite earlier ones) into
/// the listing the packer receives: `path` is the path in the image,
/// `source` the path in the context it is read from. Files the context's
/// ignore file excludes stay out, as buildah leaves them out.
pub fn layer_listing(ctx: &Dir, entries: &[CopyEntry], ignore: &Ignore) -> Result<Vec<LayerEntry>> {
    Ok(layer_listing_with_stats(ctx, entries, ignore)?.0)
}

/// Like [`layer_listing`], and also returns the stat read of each regular
/// file, aligned with the listing, so that the layer's cache key needs no
/// second stat of tens of thousands of files.
pub fn layer_listing_with_stats(
    ctx: &Dir,
    entries: &[CopyEntry],
    ignore: &Ignore,
) -> Result<(Vec<LayerEntry>, FileStats)> {
    let mut by_path: BTreeMap<String, (LayerEntry, Option<FileStat>)> = BTreeMap::new();
    for entry in entries {
        let source = path_str(&entry.source)?;
        let target = path_str(&entry.target)?;
        match entry.kind {
            EntryKind::File => {
                let meta = if source.is_empty() { None } else { Some(ctx.symlink_metadata(&source)) };
                let meta = meta
                    .transpose()
                    .with_context(|| format!("reading {source} in the build context"))?
                    .filter(|m| m.is_file());
                let Some(meta) = meta else { bail!("{source}: not a regular file in the build context") };
                use cap_std::fs::PermissionsExt;
                let (mode, size) = (meta.permissions().mode() & 0o7777, meta.len());
                let mut e = LayerEntry {
                    path: target.clone(),
                    kind: FileKind::File,
                    mode,
                    size,
                    link: None,
                    hardlink: None,
                    source: None,
                };
                if source != target {
                    e.source = Some(source);
                }
                by_path.insert(target, (e, Some(FileStat::of(&meta))));
            }
            EntryKind::Dir => {
                let dir = if source.is_empty() {
                    ctx.try_clone().context("opening the build context")?
                } else {
                    use cap_fs_ext::DirExt;
                    ctx.open_dir_nofollow(&source).with_context(|| format!("opening {source} in the build context"))?
                };
                // Symlinks are copied as links, never followed, so where
                // they point does not matter to the build; hard links
                // within the directory stay hard links.
                let walk = WalkOptions { list_escaping_symlinks: true, ..WalkOptions::default() };
                let (listed, stats) = tree::walk_with_stats(&dir, &walk)
                    .with_context(|| format!("{} in the build context", shown(&source)))?;
                if !target.is_empty() {
                    by_path.entry(target.clone()).or_insert_with(|| (implicit_dir(&target), None));
                }
                let kept = listed
                    .into_iter()
                    .zip(stats)
                    .filter(|(e, _)| ignore.is_empty() || !ignore.is_excluded(&Path::new(&source).join(&e.path)));
                for (e, stat) in kept {
                    let mut e = LayerEntry::from(e);
                    let from = join(&source, &e.path);
                    e.path = join(&target, &e.path);
                    e.hardlink = e.hardlink.map(|h| join(&target, &h));
                    if from != e.path {
                        e.source = Some(from);
                    }
                    by_path.insert(e.path.clone(), (e, stat));
                }
            }
            EntryKind::Archive => {
                // pipeline::archive stages such layers; reaching here is a bug.
                bail!("{source}: an archive is unpacked by the unpack step, not listed")
            }
        }
    }
    // Parents of every entry must exist in the layer, as buildah writes them.
    // Walking up stops at a parent already seen: its own parents were too.
    let mut missing: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
    let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for p in by_path.keys() {
        for (i, _) in p.rmatch_indices('/') {
            let parent = &p[..i];
            if !seen.insert(parent) {
                break;
            }
            if !by_path.contains_key(parent) {
                missing.insert(parent);
            }
        }
    }
    let missing: Vec<String> = missing.into_iter().map(str::to_string).collect();
    for p in missing {
        by_path.insert(p.clone(), (implicit_dir(&p), None));
    }
    // A hard link whose first name was overwritten by a later entry has
    // nothing left to link to: it becomes a plain file read from its own
    // source.
    let dangling: Vec<String> = by_path
        .iter()
        .filter(|(_, (e, _))| e.hardlink.as_ref().is_some_and(|h| !by_path.contains_key(h)))
        .map(|(p, _)| p.clone())
        .collect();
    for p in dangling {
        if let Some((e, _)) = by_path.get_mut(&p) {
            e.hardlink = None;
        }
    }
    Ok(by_path.into_values().unzip())
}

/// A directory a layer holds without a source naming it (a parent of its
/// entries), with the mode buildah gives such directories.
pub(super) fn implicit_dir(path: &str) -> LayerEntry {
    LayerEntry::dir(path, tree::IMPLICIT_DIR_MODE)
}

fn path_str(p: &Path) -> Result<String> {
    let s = p.to_str().with_context(|| format!("{}: path is not valid UTF-8", p.display()))?;
    Ok(s.trim_matches('/').to_string())
}

fn join(prefix: &str, rest: &str) -> String {
    match (prefix.is_empty(), rest.is_empty()) {
        (true, _) => rest.to_string(),
        (_, true) => prefix.to_string(),
        _ => format!("{prefix}/{rest}"),
    }
}

fn shown(source: &str) -> &str {
    if source.is_empty() { "." } else { source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_split_gives_the_packer_plain_entries_and_the_sources_apart() {
        let read_from = |path: &str, source: Option<&str>| LayerEntry {
            source: source.map(str::to_string),
            size: 3,
            kind: FileKind::File,
            ..LayerEntry::dir(path, 0o644)
        };
        let listing =
            vec![LayerEntry::dir("etc", 0o755), read_from("etc/a", Some("rootfs/etc/a")), read_from("b", None)];
        let (files, sources) = LayerEntry::split(listing.clone());
        assert_eq!(files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(), ["etc", "etc/a", "b"]);
        assert_eq!(files[1].size, 3);
        assert_eq!(sources, BTreeMap::from([("etc/a".to_string(), "rootfs/etc/a".to_string())]));
        // And back: an entry without a source reads its own path.
        let back: Vec<LayerEntry> = files.into_iter().map(LayerEntry::from).collect();
        assert_eq!(back[2], listing[2]);
        assert_eq!(listing[1].source_path(), "rootfs/etc/a");
        assert_eq!(listing[2].source_path(), "b");
    }

    #[test]
    fn cached_listings_keep_their_flat_shape() {
        // Step-cache entries written before the contract lost `source` must
        // read back with their sources: the JSON shape is unchanged.
        let old = r#"{"path":"x","kind":"file","mode":420,"size":1,"source":"ctx/x"}"#;
        let e: LayerEntry = serde_json::from_str(old).expect("old entry");
        assert_eq!(e.source.as_deref(), Some("ctx/x"));
        assert_eq!(serde_json::to_string(&e).expect("json"), old);
    }
}
