//! The analysis tree: a private copy of the parts of the image that the
//! analysis steps (render, imagelist, policies) read.
//!
//! Those steps see the *merged* image, base layers included, but only its
//! templates, manifests, charts and application files: copying the whole
//! rootfs (binaries, registry data) would cost more than the build. The
//! tree lives in a directory the host created, so a module never sees the
//! user's context or the store, and the host can write rendered files into
//! it between steps.

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, bail};
use cap_fs_ext::{FollowSymlinks, OpenOptionsFollowExt};
use cap_std::fs::{Dir, OpenOptions};
use sealbox_guest::{FileEntry, FileKind};

/// Whether a file at `path` (in the image) belongs in the analysis tree.
pub fn wanted(path: &str) -> bool {
    let top = path.split('/').next().unwrap_or("");
    let name = path.rsplit('/').next().unwrap_or("");
    let analysable =
        |n: &str| [".yaml", ".yml", ".json", ".tmpl"].iter().any(|ext| n.ends_with(ext)) || n == "imageList";
    match top {
        // Charts and application directories are read whole (a chart's
        // templates, helpers and `.Files`).
        "charts" | "application" => true,
        "manifests" | "etc" | "applications" => analysable(name),
        _ => false,
    }
}

/// A staging directory for the analysis tree, or for a whole rootfs.
pub struct AnalysisTree {
    root: PathBuf,
    /// Which image paths the tree keeps.
    wants: fn(&str) -> bool,
    /// Whether files keep their image modes (a whole rootfs, whose reader
    /// may rewrite an executable) or get what the umask gives.
    keeps_modes: bool,
}

impl AnalysisTree {
    /// An empty analysis tree in `root` (which must exist and be empty).
    pub fn new(root: PathBuf) -> AnalysisTree {
        AnalysisTree { root, wants: wanted, keeps_modes: false }
    }

    /// An empty tree in `root` that keeps every file and directory, with
    /// their modes: the staged rootfs a transform module reads.
    pub fn whole(root: PathBuf) -> AnalysisTree {
        AnalysisTree { root, wants: |_| true, keeps_modes: true }
    }

    /// Whether the tree keeps the file at image path `path`.
    pub fn wants(&self, path: &str) -> bool {
        (self.wants)(path)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Copies the wanted files of a layer listing from `ctx` (the build
    /// context, or a step's output directory).
    pub fn add_from_context(&self, ctx: &Dir, listing: &[FileEntry]) -> Result<()> {
        if self.keeps_modes {
            // Empty directories are part of a rootfs too.
            for e in listing.iter().filter(|e| e.kind == FileKind::Dir) {
                let dest = self.host_path(&e.path)?;
                if !fs::symlink_metadata(&dest).is_ok_and(|m| m.is_dir()) {
                    self.prepare_parent(&dest)?;
                    fs::create_dir(&dest).with_context(|| format!("creating {}", dest.display()))?;
                }
            }
        }
        for e in listing.iter().filter(|e| e.kind == FileKind::File && self.wants(&e.path)) {
            let source = e.source.as_deref().unwrap_or(&e.path);
            let mut opts = OpenOptions::new();
            opts.read(true).follow(FollowSymlinks::No);
            let mut from =
                ctx.open_with(source, &opts).with_context(|| format!("reading {source} in the build context"))?;
            let dest = self.host_path(&e.path)?;
            self.prepare_parent(&dest)?;
            let mut to = fs::File::create(&dest).with_context(|| format!("writing {}", dest.display()))?;
            // The file was sized when listed; never copy more than that, so
            // a file growing while we read cannot make the tree unbounded.
            io::copy(&mut io::Read::take(&mut from, e.size), &mut to)
                .with_context(|| format!("copying {source} from the build context"))?;
            self.set_mode(&e.path, e.mode)?;
        }
        Ok(())
    }

    /// Gives the file at `path` its image mode, in a tree that keeps modes.
    /// The owner keeps read and write, so the host can stage over it, and
    /// set-id bits are dropped: this is a host file.
    pub fn set_mode(&self, path: &str, mode: u32) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        if !self.keeps_modes {
            return Ok(());
        }
        let dest = self.host_path(path)?;
        fs::set_permissions(&dest, fs::Permissions::from_mode((mode & 0o777) | 0o600))
            .with_context(|| format!("setting the mode of {}", dest.display()))
    }

    /// Writes one file (a base layer's, or a step's output).
    pub fn write(&self, path: &str, content: &mut dyn io::Read) -> Result<()> {
        let dest = self.host_path(path)?;
        self.prepare_parent(&dest)?;
        let mut to = fs::File::create(&dest).with_context(|| format!("writing {}", dest.display()))?;
        io::copy(content, &mut to).with_context(|| format!("writing {}", dest.display()))?;
        Ok(())
    }

    /// Removes one path (a whiteout in a base layer).
    pub fn remove(&self, path: &str) -> Result<()> {
        let dest = self.host_path(path)?;
        match fs::symlink_metadata(&dest) {
            Ok(m) if m.is_dir() => fs::remove_dir_all(&dest),
            Ok(_) => fs::remove_file(&dest),
            Err(_) => Ok(()),
        }
        .with_context(|| format!("removing {}", dest.display()))
    }

    /// The host path of an image path, refusing anything that is not a
    /// plain relative path.
    fn host_path(&self, path: &str) -> Result<PathBuf> {
        let p = Path::new(path);
        if p.components().any(|c| !matches!(c, Component::Normal(_))) || path.is_empty() {
            bail!("{path:?}: not a plain relative path");
        }
        Ok(self.root.join(p))
    }

    fn prepare_parent(&self, dest: &Path) -> Result<()> {
        let parent = dest.parent().unwrap_or(&self.root);
        // A file of the same name as a directory we need (one layer wrote
        // `manifests` as a file, a later one a directory) is replaced, as
        // unpacking the layers in order would.
        let mut cur = self.root.clone();
        if let Ok(rel) = parent.strip_prefix(&self.root) {
            for c in rel.components() {
                cur.push(c);
                if fs::symlink_metadata(&cur).is_ok_and(|m| !m.is_dir()) {
                    fs::remove_file(&cur).with_context(|| format!("replacing {}", cur.display()))?;
                }
            }
        }
        if fs::symlink_metadata(dest).is_ok_and(|m| m.is_dir()) {
            fs::remove_dir_all(dest).with_context(|| format!("replacing {}", dest.display()))?;
        }
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::wanted;

    #[test]
    fn analysis_tree_takes_what_the_analysis_steps_read() {
        for yes in [
            "manifests/a.yaml",
            "manifests/imageList",
            "etc/kubeadm.yml.tmpl",
            "charts/x/templates/_helpers.tpl",
            "application/apps/app/run.sh",
            "applications/x.yml",
        ] {
            assert!(wanted(yes), "{yes}");
        }
        for no in ["bin/kubectl", "etc/x.conf", "registry/blob", "manifests", "README.md"] {
            assert!(!wanted(no), "{no}");
        }
    }
}
