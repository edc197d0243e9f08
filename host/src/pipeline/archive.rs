//! `ADD` of local archives. The archive is unpacked by the `unpack`
//! builtin in the sandbox, never on the host: a hostile archive (names
//! with `..`, links planted to write through, a decompression bomb) meets
//! the module's confinement and limits. The host only moves the regular
//! files the module wrote, checked against the listing it answered with,
//! into a staging tree that the packer then reads like a build context.
//!
//! The decompression-ratio guard ([`AddRatio`]) is enforced twice: by the
//! module as the bytes stream (so a bomb stops before it fills the disk),
//! and by the host against the listing the module answers with.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use cap_std::fs::Dir;
use sealbox_guest::{FileEntry, FileKind};

use super::ceilings::AddRatio;
use super::listing::{self, LayerEntry, implicit_dir};
use super::steps::{ModuleRunner, RunRequest};
use crate::kubefile::{CopyEntry, EntryKind, Ignore};
use crate::sandbox::Limits;
use crate::tree::{Existing, TreeWriter};

/// The content of one `ADD` layer whose sources include an archive: every
/// file staged under `dir` at its image path, and the layer's listing.
pub struct StagedLayer {
    pub dir: PathBuf,
    pub listing: Vec<LayerEntry>,
}

/// The rule the `unpack` module tags its answer with when an archive
/// expands past the ratio guard.
const RATIO_RULE: &str = "add-ratio";

/// Stages the layer of `entries` when one of them is an archive; `None`
/// for a layer of plain files, which is packed straight from the context.
/// An archive expanding past `ratio` is a [`super::CeilingExceeded`].
pub fn stage(
    steps: &ModuleRunner,
    ctx: &Dir,
    entries: &[CopyEntry],
    ignore: &Ignore,
    work: &Path,
    ratio: &AddRatio,
) -> Result<Option<StagedLayer>> {
    if !entries.iter().any(|e| e.kind == EntryKind::Archive) {
        return Ok(None);
    }
    let dir = tempfile::Builder::new().prefix("add-").tempdir_in(work).context("creating an ADD staging dir")?.keep();
    let mut layer = Layer { writer: TreeWriter::open(&dir, Existing::Refuse)?, entries: BTreeMap::new() };
    // Later sources overwrite earlier ones, so they are taken in order:
    // runs of plain sources as one listing, each archive on its own.
    let mut plain: Vec<CopyEntry> = Vec::new();
    for entry in entries {
        if entry.kind != EntryKind::Archive {
            plain.push(entry.clone());
            continue;
        }
        layer.add_plain(ctx, &std::mem::take(&mut plain), ignore)?;
        let source = entry.source.display().to_string();
        let target = entry.target.to_string_lossy().into_owned();
        let (out, unpacked) = unpack(steps, ctx, &source, work, ratio)?;
        layer.add_unpacked(&out, &target, unpacked).with_context(|| format!("ADD {source}"))?;
    }
    layer.add_plain(ctx, &plain, ignore)?;
    Ok(Some(StagedLayer { dir, listing: layer.finish() }))
}

/// Runs the `unpack` builtin over a private copy of the archive; returns
/// its output dir and the entries it wrote there, checked against the
/// disk and against the ratio guard.
fn unpack(
    steps: &ModuleRunner,
    ctx: &Dir,
    source: &str,
    work: &Path,
    ratio: &AddRatio,
) -> Result<(PathBuf, Vec<FileEntry>)> {
    // The module sees the archive alone, not the rest of the context.
    let input = tempfile::Builder::new().prefix("add-in-").tempdir_in(work)?.keep();
    let mut from =
        crate::tree::open_nofollow(ctx, source).with_context(|| format!("reading {source} in the build context"))?;
    // Named as in the context, so the module's errors name it.
    let name = Path::new(source).file_name().and_then(|n| n.to_str()).unwrap_or("archive").to_string();
    let mut to = std::fs::File::create(input.join(&name)).context("staging the archive")?;
    let archive_bytes =
        std::io::copy(&mut from, &mut to).with_context(|| format!("copying {source} from the build context"))?;

    let module = steps.builtin("unpack")?;
    let mut req = RunRequest::new(serde_json::json!({ "archive": name }));
    let limits = Limits::default();
    req.limits = Limits { timeout: Duration::from_secs(3600), ..limits };
    req.config["maxBytes"] = limits.output_bytes.into();
    req.config["maxRatio"] = ratio.max_ratio.into();
    req.config["ratioThreshold"] = ratio.threshold.into();
    let (outcome, out) =
        steps.run_unchecked("unpack", &module, &input, work, req, None).with_context(|| format!("ADD {source}"))?;
    std::fs::remove_dir_all(&input).ok();
    if outcome.response.status == sealbox_guest::Status::Failure {
        if outcome.response.diagnostics.iter().any(|d| d.rule.as_deref() == Some(RATIO_RULE)) {
            // The module stopped at the limit the host gave it; the host
            // words the refusal from its own numbers.
            return Err(ratio.exceeded(source, archive_bytes, None).into());
        }
        bail!("ADD {source}: {}", super::steps::failure_message("unpack", &outcome.response));
    }
    let declared: Vec<FileEntry> = serde_json::from_value(
        outcome.response.data.get("entries").cloned().ok_or_else(|| anyhow!("unpack gave no entries"))?,
    )
    .context("unpack's listing")?;
    check_against_disk(&declared, &outcome.output).with_context(|| format!("ADD {source}: unpack's output"))?;
    // Every name holds its bytes on disk, hard links included.
    let unpacked = declared.iter().filter(|e| e.kind == FileKind::File).fold(0u64, |n, e| n.saturating_add(e.size));
    ratio.check(source, archive_bytes, unpacked)?;
    Ok((out, declared))
}

/// The module's answer must describe exactly what it left on disk: the
/// same files with the same sizes, the same directories, and no symlink
/// on disk (symlinks travel only in the listing).
fn check_against_disk(declared: &[FileEntry], on_disk: &[FileEntry]) -> Result<()> {
    let disk: BTreeMap<&str, &FileEntry> = on_disk.iter().map(|e| (e.path.as_str(), e)).collect();
    for e in declared {
        if !is_plain_path(&e.path) {
            bail!("{:?} is not a plain relative path", e.path);
        }
        let found = disk.get(e.path.as_str());
        match (e.kind, found) {
            (FileKind::Symlink, None) => {}
            (FileKind::Dir, Some(d)) if d.kind == FileKind::Dir => {}
            (FileKind::File, Some(d)) if d.kind == FileKind::File && d.size == e.size => {}
            _ => bail!("{} is listed as a {:?} of {} bytes, which is not what is on disk", e.path, e.kind, e.size),
        }
    }
    let listed: std::collections::BTreeSet<&str> = declared.iter().map(|e| e.path.as_str()).collect();
    if let Some(extra) = on_disk.iter().find(|e| !listed.contains(e.path.as_str())) {
        bail!("{} is on disk but not in the listing", extra.path);
    }
    Ok(())
}

fn is_plain_path(path: &str) -> bool {
    !path.is_empty() && path.split('/').all(|p| !p.is_empty() && p != "." && p != "..")
}

/// The layer being assembled: entries by image path, files on disk in the
/// staging tree `writer` writes (which holds no links: they travel in the
/// listing only).
struct Layer {
    writer: TreeWriter,
    entries: BTreeMap<String, LayerEntry>,
}

/// The mode of a staged file on disk; the layer takes its modes from the
/// listing, not from the disk.
const STAGED_FILE_MODE: u32 = 0o644;

impl Layer {
    fn add_plain(&mut self, ctx: &Dir, entries: &[CopyEntry], ignore: &Ignore) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        for e in listing::layer_listing(ctx, entries, ignore)? {
            let source = e.source_path().to_string();
            self.place(e, |writer, dest| {
                let mut from = crate::tree::open_nofollow(ctx, &source)
                    .with_context(|| format!("reading {source} in the build context"))?
                    .into_std();
                writer.write(dest, &mut from, STAGED_FILE_MODE)?;
                Ok(())
            })?;
        }
        Ok(())
    }

    fn add_unpacked(&mut self, out: &Path, target: &str, unpacked: Vec<FileEntry>) -> Result<()> {
        let join = |p: &str| if target.is_empty() { p.to_string() } else { format!("{target}/{p}") };
        if !target.is_empty() && !self.entries.get(target).is_some_and(|e| e.kind == FileKind::Dir) {
            self.place(implicit_dir(target), |_, _| Ok(()))?;
        }
        let out_dir = Dir::open_ambient_dir(out, cap_std::ambient_authority())
            .with_context(|| format!("opening {}", out.display()))?;
        for e in unpacked {
            let mut e = LayerEntry::from(e);
            let from = e.path.clone();
            e.path = join(&e.path);
            e.hardlink = e.hardlink.map(|h| join(&h));
            self.place(e, |writer, dest| writer.rename_from(&out_dir, &from, dest))?;
        }
        std::fs::remove_dir_all(out).ok();
        Ok(())
    }

    /// Puts `e` at its path: later sources replace earlier files, links and
    /// empty directories, never a directory with entries, and nothing goes
    /// below a file or symlink. `write` fills a regular file's content.
    fn place(&mut self, mut e: LayerEntry, write: impl FnOnce(&TreeWriter, &str) -> Result<()>) -> Result<()> {
        let path = e.path.clone();
        for (i, _) in path.match_indices('/') {
            let dir = &path[..i];
            match self.entries.get(dir) {
                Some(d) if d.kind == FileKind::Dir => {}
                Some(_) => bail!("{path} would go below {dir}, which an earlier source made a file or symlink"),
                None => {
                    self.writer.create_dir(dir, crate::tree::IMPLICIT_DIR_MODE)?;
                    self.entries.insert(dir.to_string(), implicit_dir(dir));
                }
            }
        }
        if let Some(old) = self.entries.get(&path) {
            match (old.kind, e.kind) {
                (FileKind::Dir, FileKind::Dir) => {
                    if let Some(old) = self.entries.get_mut(&path) {
                        old.mode = e.mode;
                    }
                    return Ok(());
                }
                (FileKind::Dir, _) => {
                    let prefix = format!("{path}/");
                    if self.entries.range(prefix.clone()..).next().is_some_and(|(k, _)| k.starts_with(&prefix)) {
                        bail!("{path} would replace a directory that an earlier source filled");
                    }
                    self.writer.remove(&path)?;
                }
                (FileKind::File | FileKind::Symlink, FileKind::Dir) => {
                    // Writing below it would follow the link; tar layers
                    // cannot say that, and silently replacing it surprises.
                    bail!("{path} is a directory in this source, but an earlier source made it a file or symlink")
                }
                (FileKind::File, _) => {
                    self.writer.remove(&path)?;
                    // Names linked to the old content keep their own copy.
                    for other in self.entries.values_mut() {
                        if other.hardlink.as_deref() == Some(path.as_str()) {
                            other.hardlink = None;
                        }
                    }
                }
                (FileKind::Symlink, _) => {}
            }
        }
        match e.kind {
            FileKind::Dir => self.writer.create_dir(&path, crate::tree::IMPLICIT_DIR_MODE)?,
            FileKind::File => write(&self.writer, &path).with_context(|| format!("staging {path}"))?,
            FileKind::Symlink => {}
        }
        e.source = None;
        self.entries.insert(path, e);
        Ok(())
    }

    /// The listing; a hard link whose first name a later source replaced
    /// becomes a plain file (each name holds its own copy on disk).
    fn finish(mut self) -> Vec<LayerEntry> {
        let leaders: std::collections::BTreeSet<String> = self
            .entries
            .values()
            .filter(|e| e.kind == FileKind::File && e.hardlink.is_none())
            .map(|e| e.path.clone())
            .collect();
        for e in self.entries.values_mut() {
            if e.hardlink.as_ref().is_some_and(|h| !leaders.contains(h) || h >= &e.path) {
                e.hardlink = None;
            }
        }
        self.entries.into_values().collect()
    }
}

#[cfg(test)]
#[path = "archive_tests.rs"]
mod tests;
