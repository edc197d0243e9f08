//! What the planner knows of the rootfs being built, so that `COPY file dest`
//! lands inside `dest` when an earlier step or the base made it a directory,
//! as buildah decides by looking at the container's filesystem.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use cap_std::fs::Dir;

use super::context::{self, Kind};
use super::plan::{CopyEntry, EntryKind};

/// What the planner knows of the rootfs being built, to tell whether a destination is a directory.
#[derive(Debug, Default)]
pub(crate) struct Rootfs {
    /// Directories known to exist: from the base, targets of directory copies, parents of every target.
    pub dirs: BTreeSet<PathBuf>,
    /// Directory copies so far: (target in the rootfs, source in the context).
    merged: Vec<(PathBuf, PathBuf)>,
}

impl Rootfs {
    pub fn is_dir(&self, ctx: &Dir, path: &Path) -> bool {
        if path.as_os_str().is_empty() || self.dirs.contains(path) {
            return true;
        }
        self.merged.iter().rev().any(|(target, source)| {
            path.strip_prefix(target)
                .is_ok_and(|rel| context::resolve(ctx, &source.join(rel)).is_ok_and(|r| r.kind == Kind::Dir))
        })
    }

    pub fn record(&mut self, entries: &[CopyEntry]) {
        for entry in entries {
            let mut parent = entry.target.parent();
            while let Some(dir) = parent.filter(|d| !d.as_os_str().is_empty()) {
                self.dirs.insert(dir.to_owned());
                parent = dir.parent();
            }
            match entry.kind {
                EntryKind::Dir => {
                    self.dirs.insert(entry.target.clone());
                    self.merged.push((entry.target.clone(), entry.source.clone()));
                }
                EntryKind::Archive => {
                    self.dirs.insert(entry.target.clone());
                }
                EntryKind::File => {}
            }
        }
    }
}
