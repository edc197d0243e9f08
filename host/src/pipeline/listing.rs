//! What goes into a layer: the plan's copy entries resolved against the
//! build context into a sorted listing of image paths, each with the
//! context path its content comes from.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use cap_std::fs::Dir;
use sealbox_guest::{FileEntry, FileKind};

use crate::kubefile::{CopyEntry, EntryKind, Ignore};
use crate::tree::{self, FileStats, WalkOptions};

/// Resolves `entries` (in order; later ones overwrite earlier ones) into
/// the listing the packer receives: `path` is the path in the image,
/// `source` the path in the context it is read from. Files the context's
/// ignore file excludes stay out, as buildah leaves them out.
pub fn layer_listing(ctx: &Dir, entries: &[CopyEntry], ignore: &Ignore) -> Result<Vec<FileEntry>> {
    Ok(layer_listing_with_stats(ctx, entries, ignore)?.0)
}

/// Like [`layer_listing`], and also returns the metadata read of each
/// regular file, by its path in the context, so that the layer's cache key
/// needs no second stat of tens of thousands of files.
pub fn layer_listing_with_stats(
    ctx: &Dir,
    entries: &[CopyEntry],
    ignore: &Ignore,
) -> Result<(Vec<FileEntry>, FileStats)> {
    let mut stats = FileStats::new();
    let mut by_path: BTreeMap<String, FileEntry> = BTreeMap::new();
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
                let mut e = FileEntry {
                    path: target.clone(),
                    kind: FileKind::File,
                    mode,
                    size,
                    link: None,
                    hardlink: None,
                    source: None,
                };
                stats.insert(source.clone(), meta);
                if source != target {
                    e.source = Some(source);
                }
                by_path.insert(target, e);
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
                let (mut listed, walked) = tree::walk_with_stats(&dir, &walk)
                    .with_context(|| format!("{} in the build context", shown(&source)))?;
                stats.extend(walked.into_iter().map(|(path, meta)| (join(&source, &path), meta)));
                listed.retain(|e| !ignore.is_excluded(&Path::new(&source).join(&e.path)));
                if !target.is_empty() {
                    by_path.entry(target.clone()).or_insert_with(|| implicit_dir(&target));
                }
                for mut e in listed {
                    let from = join(&source, &e.path);
                    e.path = join(&target, &e.path);
                    e.hardlink = e.hardlink.map(|h| join(&target, &h));
                    if from != e.path {
                        e.source = Some(from);
                    }
                    by_path.insert(e.path.clone(), e);
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
        by_path.insert(p.clone(), implicit_dir(&p));
    }
    // A hard link whose first name was overwritten by a later entry has
    // nothing left to link to: it becomes a plain file read from its own
    // source.
    let dangling: Vec<String> = by_path
        .iter()
        .filter(|(_, e)| e.hardlink.as_ref().is_some_and(|h| !by_path.contains_key(h)))
        .map(|(p, _)| p.clone())
        .collect();
    for p in dangling {
        if let Some(e) = by_path.get_mut(&p) {
            e.hardlink = None;
        }
    }
    Ok((by_path.into_values().collect(), stats))
}

/// A directory a layer holds without a source naming it (a parent of its
/// entries), with the mode buildah gives such directories.
pub(super) fn implicit_dir(path: &str) -> FileEntry {
    FileEntry {
        path: path.to_string(),
        kind: FileKind::Dir,
        mode: tree::IMPLICIT_DIR_MODE,
        size: 0,
        link: None,
        hardlink: None,
        source: None,
    }
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
