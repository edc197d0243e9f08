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
    // Every entry in order, each with its rank: of two entries for one
    // path the later one wins, and an implicit directory loses to any.
    let mut listed: Vec<Ranked> = Vec::new();
    for (group, entry) in entries.iter().enumerate() {
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
                listed.push(Ranked { rank: listed.len() + 1, group, entry: e, stat: Some(FileStat::of(&meta)) });
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
                let (walked, stats) = tree::walk_with_stats(&dir, &walk)
                    .with_context(|| format!("{} in the build context", shown(&source)))?;
                if !target.is_empty() {
                    listed.push(Ranked { rank: 0, group, entry: implicit_dir(&target), stat: None });
                }
                listed.reserve(walked.len());
                let kept = walked
                    .into_iter()
                    .zip(stats)
                    .filter(|(e, _)| ignore.is_empty() || !ignore.is_excluded(&Path::new(&source).join(&e.path)));
                for (e, stat) in kept {
                    let mut e = LayerEntry::from(e);
                    // A walked path is never empty, so `source/p` and
                    // `target/p` differ exactly when source and target do.
                    if source != target {
                        e.source = Some(join(&source, &e.path));
                    }
                    if !target.is_empty() {
                        e.path = join(&target, &e.path);
                        e.hardlink = e.hardlink.map(|h| join(&target, &h));
                    }
                    listed.push(Ranked { rank: listed.len() + 1, group, entry: e, stat });
                }
            }
            EntryKind::Archive => {
                // pipeline::archive stages such layers; reaching here is a bug.
                bail!("{source}: an archive is unpacked by the unpack step, not listed")
            }
        }
    }
    let mut listed = winners(listed);
    // Parents of every entry must exist in the layer, as buildah writes them.
    // An entry's own parents are checked when it comes up itself, so the
    // walk up stops at a parent the layer has or one already found missing.
    // Siblings come together in path order, so the parent found last
    // answers most entries without a search.
    let mut missing: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
    let mut present = None;
    for r in &listed {
        let mut path = r.entry.path.as_str();
        while let Some((parent, _)) = path.rsplit_once('/') {
            if present == Some(parent) {
                break;
            }
            if position(&listed, parent).is_some() {
                present = Some(parent);
                break;
            }
            if !missing.insert(parent) {
                break;
            }
            path = parent;
        }
    }
    let implicit: Vec<Ranked> = missing
        .into_iter()
        .map(|p| Ranked { rank: 0, group: usize::MAX, entry: implicit_dir(p), stat: None })
        .collect();
    if !implicit.is_empty() {
        listed.extend(implicit);
        listed = winners(listed);
    }
    // A hard link whose first name was overwritten by a later entry has
    // nothing left to link to (the path now holds other content): it
    // becomes a plain file read from its own source.
    let dangling: Vec<usize> = (0..listed.len())
        .filter(|&i| {
            let first = listed[i].entry.hardlink.as_deref().map(|h| position(&listed, h));
            first.is_some_and(|j| j.is_none_or(|j| listed[j].group != listed[i].group))
        })
        .collect();
    for i in dangling {
        listed[i].entry.hardlink = None;
    }
    Ok(listed.into_iter().map(|r| (r.entry, r.stat)).unzip())
}

/// Where `path` is in a listing sorted by path.
fn position(listed: &[Ranked], path: &str) -> Option<usize> {
    listed.binary_search_by(|r| r.entry.path.as_str().cmp(path)).ok()
}

/// A listing entry and where it came from.
struct Ranked {
    /// 0 for a directory made implicitly, else its place in the copy's
    /// entries: of two for one path the higher wins.
    rank: usize,
    /// The copy entry it came from: a hard link holds only within one.
    group: usize,
    entry: LayerEntry,
    stat: Option<FileStat>,
}

/// The listing sorted by path, one entry per path: the highest ranked.
/// Each copy entry adds a run already in path order, so the sort is
/// nearly linear; it replaced a map from path to entry, whose inserts and
/// path copies were a tenth of an unchanged rebuild.
fn winners(mut listed: Vec<Ranked>) -> Vec<Ranked> {
    listed.sort_unstable_by(|a, b| a.entry.path.cmp(&b.entry.path).then(b.rank.cmp(&a.rank)));
    listed.dedup_by(|later, first| later.entry.path == first.entry.path);
    listed
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
        _ => [prefix, "/", rest].concat(),
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

    /// Later entries win, a directory made implicitly loses to any entry,
    /// every parent is listed once, and a hard link whose first name was
    /// overwritten stands alone; the stats stay beside their entries.
    #[test]
    fn copy_entries_merge_into_one_listing() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let p = tmp.path();
        std::fs::create_dir_all(p.join("one/sub")).expect("mkdir");
        std::fs::create_dir_all(p.join("two/sub")).expect("mkdir");
        std::fs::write(p.join("one/sub/a"), "from one").expect("write");
        std::fs::write(p.join("one/b"), "b").expect("write");
        std::fs::hard_link(p.join("one/b"), p.join("one/sub/c")).expect("link");
        std::fs::write(p.join("two/sub/a"), "from two!").expect("write");
        std::fs::write(p.join("two/b"), "bb").expect("write");
        std::fs::write(p.join("loose"), "x").expect("write");
        let ctx = Dir::open_ambient_dir(p, cap_std::ambient_authority()).expect("open");
        let copy = |source: &str, kind, target: &str| CopyEntry { source: source.into(), kind, target: target.into() };
        let entries = [
            copy("one", EntryKind::Dir, "deep/dest"),
            copy("two", EntryKind::Dir, "deep/dest"),
            copy("loose", EntryKind::File, "deep/dest/sub"),
        ];
        let (listing, stats) = layer_listing_with_stats(&ctx, &entries, &Ignore::default()).expect("listing");
        let shown: Vec<String> = listing
            .iter()
            .map(|e| {
                format!("{} {:?} {}", e.path, e.kind, e.source.as_deref().or(e.hardlink.as_deref()).unwrap_or("-"))
            })
            .collect();
        assert_eq!(
            shown,
            [
                "deep Dir -",
                "deep/dest Dir -",
                "deep/dest/b File two/b",
                "deep/dest/sub File loose",
                "deep/dest/sub/a File two/sub/a",
                "deep/dest/sub/c File one/sub/c",
            ]
        );
        assert_eq!(listing[0].mode, tree::IMPLICIT_DIR_MODE);
        assert!(listing[5].hardlink.is_none(), "its first name, deep/dest/b, now holds two/b");
        let sizes: Vec<Option<u64>> = stats.iter().map(|s| s.map(|s| s.size)).collect();
        assert_eq!(sizes, [None, None, Some(2), Some(1), Some(9), Some(1)]);
    }
}
