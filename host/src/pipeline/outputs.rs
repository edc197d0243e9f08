//! Moving files between a step and the host's trees: listing a tree for a
//! step to read, and copying a step's checked output into the trees that
//! receive it. Links are never followed or written through here; what a
//! step may write is the sandbox's business, not this module's.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use cap_std::fs::Dir;
use sealbox_guest::{FileEntry, FileKind};

use super::cache::OUTPUT_FILE_MODE;
use crate::tree::TreeWriter;

/// Copies a step's checked output into each destination tree, files with
/// the mode `modes` gives them (set-id and sticky bits dropped, and said
/// in `notes`). Links in the output are not copied; links in a
/// destination are replaced, never written through.
pub fn apply_output(
    out: &Path,
    entries: &[FileEntry],
    dests: &[&TreeWriter],
    modes: &BTreeMap<String, u32>,
    notes: &mut Vec<String>,
) -> Result<()> {
    let out = Dir::open_ambient_dir(out, cap_std::ambient_authority())
        .with_context(|| format!("opening the step's output {}", out.display()))?;
    for e in entries {
        let mode = modes.get(&e.path).copied().unwrap_or(OUTPUT_FILE_MODE);
        if e.kind == FileKind::File && mode & !crate::tree::PERMISSION_BITS != 0 {
            notes.push(format!("{}: set-id and sticky bits dropped (mode {mode:o})", e.path));
        }
        for dest in dests {
            match e.kind {
                FileKind::Dir => dest.create_dir(&e.path, crate::tree::IMPLICIT_DIR_MODE)?,
                FileKind::File => {
                    let mut from = crate::tree::open_nofollow(&out, &e.path)
                        .with_context(|| format!("reading {} in the step's output", e.path))?
                        .into_std();
                    dest.write(&e.path, &mut from, mode)?;
                }
                FileKind::Symlink => {}
            }
        }
    }
    Ok(())
}

/// Lists a tree for a step to read, refusing links that lead out of it.
pub fn list_tree(root: &Path) -> Result<Vec<FileEntry>> {
    let dir = Dir::open_ambient_dir(root, cap_std::ambient_authority())?;
    Ok(crate::tree::walk(&dir, &crate::tree::WalkOptions::default())?)
}

/// Lists a staged rootfs for a module to read. Its links are the image's,
/// kept as data: one that leads out (an absolute `etc/localtime`, or a
/// context's chain) is listed, and the sandbox refuses to follow it.
pub fn list_rootfs(root: &Path) -> Result<Vec<FileEntry>> {
    let dir = Dir::open_ambient_dir(root, cap_std::ambient_authority())?;
    let options = crate::tree::WalkOptions { list_escaping_symlinks: true, ..crate::tree::WalkOptions::default() };
    Ok(crate::tree::walk(&dir, &options)?)
}
