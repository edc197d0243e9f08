//! Staged trees: private copies of the image that modules read. Two kinds
//! share one type, [`StagedTree`], because they are filled the same way:
//!
//! - the analysis tree ([`StagedTree::analysis`]): the parts of the image
//!   the analysis steps (render, imagelist, policies) read;
//! - the staged rootfs ([`StagedTree::whole`], [`StagedTree::under`]):
//!   every file (or every file of the granted sub-trees), with its mode,
//!   for `RUN --module` transforms and the pipeline file's steps.
//!
//! The analysis steps see the *merged* image, base layers included, but only its
//! templates, manifests, charts and application files: copying the whole
//! rootfs (binaries, registry data) would cost more than the build. The
//! tree lives in a directory the host created, so a module never sees the
//! user's context or the store, and the host can write rendered files into
//! it between steps.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use cap_std::fs::Dir;
use sealbox_formats::layout;
use sealbox_guest::FileKind;

use super::listing::LayerEntry;

use crate::tree::{Existing, FileStat, TreeWriter};

/// Whether a file at `path` (in the image) belongs in the analysis tree.
pub fn wanted(path: &str) -> bool {
    let top = path.split('/').next().unwrap_or("");
    let name = path.rsplit('/').next().unwrap_or("");
    let analysable =
        |n: &str| [".yaml", ".yml", ".json", ".tmpl"].iter().any(|ext| n.ends_with(ext)) || n == "imageList";
    // Charts and application directories are read whole (a chart's
    // templates, helpers and `.Files`).
    layout::WHOLE_DIRS.contains(&top) || (layout::MANIFEST_DIRS.contains(&top) && analysable(name))
}

/// Which files a staged tree keeps.
enum Wants {
    /// What the analysis steps read ([`wanted`]).
    Analysis,
    All,
    /// Files under any of these image paths.
    Under(Vec<String>),
}

/// A staged tree: the analysis tree, or a staged rootfs (see the module
/// comment). Which one it is decides which files it keeps and whether
/// they keep their modes.
///
/// Its content comes from untrusted layers, so every write goes through a
/// [`TreeWriter`]: a link some layer put in the tree is replaced, never
/// written through.
pub struct StagedTree {
    root: PathBuf,
    writer: TreeWriter,
    /// Which image paths the tree keeps.
    wants: Wants,
    /// Whether files keep their image modes and links (a whole rootfs,
    /// whose reader may rewrite an executable) or are plain readable copies.
    keeps_modes: bool,
    /// The source of each file copied in, by path (see [`StagedTree::origin`]).
    origins: Mutex<HashMap<String, FileStat>>,
}

/// The modification time every copy gets: any later write to it (a
/// rendered template over a copied file) sets the clock's time instead,
/// which tells an untouched copy from a rewritten one whatever the file
/// system's timestamp granularity.
fn copy_mtime() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1)
}

/// The mode of a copy in a tree that does not keep modes: readable, and
/// the same on every machine.
const COPY_MODE: u32 = 0o644;

impl StagedTree {
    /// An empty analysis tree in `root` (which must exist and be empty).
    pub fn analysis(root: PathBuf) -> Result<StagedTree> {
        StagedTree::with(root, Wants::Analysis, false)
    }

    /// An empty tree in `root` that keeps every file and directory, with
    /// their modes: the staged rootfs a transform module reads.
    pub fn whole(root: PathBuf) -> Result<StagedTree> {
        StagedTree::with(root, Wants::All, true)
    }

    /// Like [`StagedTree::whole`], but keeping only the files under
    /// `prefixes` (image paths such as `manifests`): the sub-trees the
    /// pipeline's steps are granted, when none is granted the whole rootfs.
    /// Directories and links are kept everywhere; they cost nothing.
    pub fn under(root: PathBuf, prefixes: Vec<String>) -> Result<StagedTree> {
        StagedTree::with(root, Wants::Under(prefixes), true)
    }

    fn with(root: PathBuf, wants: Wants, keeps_modes: bool) -> Result<StagedTree> {
        let writer = TreeWriter::open(&root, Existing::Replace)?;
        Ok(StagedTree { root, writer, wants, keeps_modes, origins: Default::default() })
    }

    /// Whether the tree keeps the file at image path `path`.
    pub fn wants(&self, path: &str) -> bool {
        match &self.wants {
            Wants::Analysis => wanted(path),
            Wants::All => true,
            Wants::Under(prefixes) => prefixes
                .iter()
                .any(|p| path.strip_prefix(p.as_str()).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))),
        }
    }

    /// Where the tree is, for the sandbox to mount.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The tree's writer, for steps whose output joins it.
    pub fn writer(&self) -> &TreeWriter {
        &self.writer
    }

    /// Copies the wanted files of a listing from `source`: the build
    /// context, an ADD archive's staging dir, or a step's output directory.
    pub fn copy_in(&self, source: &Dir, listing: &[LayerEntry]) -> Result<()> {
        if self.keeps_modes {
            // Empty directories and symlinks are part of a rootfs too.
            for e in listing {
                match (e.kind, &e.link) {
                    (FileKind::Dir, _) => self.writer.create_dir(&e.path, e.mode | 0o700)?,
                    (FileKind::Symlink, Some(target)) => self.writer.symlink(&e.path, target)?,
                    _ => {}
                }
            }
        }
        for e in listing.iter().filter(|e| e.kind == FileKind::File && self.wants(&e.path)) {
            let name = e.source_path();
            let from = crate::tree::open_nofollow(source, name)
                .with_context(|| format!("reading {name} in the build context"))?;
            let origin = from.metadata().with_context(|| format!("reading {name} in the build context"))?;
            // The file was sized when listed; never copy more than that, so
            // a file growing while we read cannot make the tree unbounded.
            // Holes stay holes, and the bytes move inside the kernel.
            let (to, copied) = self.writer.copy_file(&e.path, &from.into_std(), e.size, self.mode_of(e.mode))?;
            let mut origins = self.origins.lock().unwrap_or_else(|p| p.into_inner());
            if copied == origin.len() && to.set_modified(copy_mtime()).is_ok() {
                origins.insert(e.path.clone(), FileStat::of(&origin));
            } else {
                origins.remove(&e.path);
            }
        }
        Ok(())
    }

    /// The stat of the file that `path` was copied from, when the copy is
    /// still untouched and whole: its content digest is then the source's,
    /// which the file digest memo may already know.
    pub fn origin(&self, path: &str) -> Option<FileStat> {
        let origin = *self.origins.lock().unwrap_or_else(|p| p.into_inner()).get(path)?;
        let copy = self.writer.metadata(path).ok()??;
        (copy.is_file() && copy.len() == origin.size && copy.modified().ok()?.into_std() == copy_mtime())
            .then_some(origin)
    }

    /// Writes one file (a base layer's, a policy, a rendered chart) with
    /// its image `mode`, replacing whatever the path held.
    pub fn write(&self, path: &str, content: &mut dyn io::Read, mode: u32) -> Result<()> {
        self.writer.write(path, content, self.mode_of(mode))?;
        Ok(())
    }

    /// Makes `path` a symlink to `target`, in a tree that keeps a whole
    /// rootfs (the analysis tree keeps no links). The link is data: the
    /// host never follows it, and the sandbox refuses to follow one out.
    pub fn symlink(&self, path: &str, target: &str) -> Result<()> {
        if !self.keeps_modes {
            return Ok(());
        }
        self.writer.symlink(path, target)
    }

    /// Removes one path (a whiteout in a base layer); a path below a link
    /// is not in this tree and is left alone.
    pub fn remove(&self, path: &str) -> Result<()> {
        self.writer.remove(path)
    }

    /// The mode a copy of a file with image mode `mode` gets on disk: its
    /// permission bits in a tree that keeps modes (the owner keeps read and
    /// write, so the host can stage over it), else [`COPY_MODE`].
    fn mode_of(&self, mode: u32) -> u32 {
        if self.keeps_modes { (mode & crate::tree::PERMISSION_BITS) | 0o600 } else { COPY_MODE }
    }
}

#[cfg(test)]
mod tests {
    use super::{StagedTree, wanted};

    #[test]
    fn a_whole_tree_replaces_a_link_instead_of_writing_through_it_and_drops_escaping_links() {
        let dir = tempfile::tempdir().expect("dir");
        let tree = StagedTree::whole(dir.path().to_path_buf()).expect("tree");
        tree.write("a.txt", &mut "target".as_bytes(), 0o644).expect("a");
        tree.symlink("b.txt", "a.txt").expect("link");
        assert_eq!(std::fs::read_to_string(dir.path().join("b.txt")).expect("through the link"), "target");
        tree.write("b.txt", &mut "later".as_bytes(), 0o644).expect("b");
        assert_eq!(std::fs::read_to_string(dir.path().join("a.txt")).expect("a"), "target");
        assert!(!std::fs::symlink_metadata(dir.path().join("b.txt")).expect("b").file_type().is_symlink());
        // An escaping link is data: kept as a link, never followed by a write.
        tree.symlink("c", "../../etc/passwd").expect("escaping link");
        assert_eq!(std::fs::read_link(dir.path().join("c")).expect("c"), std::path::Path::new("../../etc/passwd"));
        tree.write("c", &mut "over".as_bytes(), 0o644).expect("over the link");
        assert_eq!(std::fs::read_to_string(dir.path().join("c")).expect("c"), "over");
        std::fs::create_dir(dir.path().join("y")).expect("y");
        std::fs::create_dir(dir.path().join("x")).expect("x");
        let granted =
            StagedTree::under(dir.path().join("y"), vec!["manifests".into(), "etc/app".into()]).expect("tree");
        for (path, kept) in
            [("manifests/a.yaml", true), ("etc/app/x", true), ("etc/application", false), ("manifestsx/a", false)]
        {
            assert_eq!(granted.wants(path), kept, "{path}");
        }
        let analysis = StagedTree::analysis(dir.path().join("x")).expect("tree");
        analysis.symlink("d", "a.txt").expect("no-op");
        assert!(std::fs::symlink_metadata(dir.path().join("x/d")).is_err(), "the analysis tree keeps no links");
    }

    #[test]
    fn a_copy_knows_its_origin_until_it_is_rewritten() {
        use super::LayerEntry;
        use sealbox_guest::FileKind;
        let dir = tempfile::tempdir().expect("dir");
        std::fs::create_dir_all(dir.path().join("ctx/manifests")).expect("ctx");
        std::fs::write(dir.path().join("ctx/manifests/a.yaml"), "kind: A\n").expect("a");
        std::fs::write(dir.path().join("ctx/manifests/b.yaml"), "kind: B\n").expect("b");
        std::fs::create_dir(dir.path().join("tree")).expect("tree");
        let ctx =
            cap_std::fs::Dir::open_ambient_dir(dir.path().join("ctx"), cap_std::ambient_authority()).expect("dir");
        let entry = |path: &str, size: u64| LayerEntry {
            path: path.into(),
            kind: FileKind::File,
            mode: 0o644,
            size,
            link: None,
            hardlink: None,
            source: None,
        };
        let tree = StagedTree::analysis(dir.path().join("tree")).expect("tree");
        // b is listed shorter than it is (it grew): its copy is partial.
        tree.copy_in(&ctx, &[entry("manifests/a.yaml", 8), entry("manifests/b.yaml", 3)]).expect("copy");
        let origin = tree.origin("manifests/a.yaml").expect("an untouched whole copy");
        let source = ctx.symlink_metadata("manifests/a.yaml").expect("source");
        assert_eq!(origin, crate::tree::FileStat::of(&source));
        assert!(tree.origin("manifests/b.yaml").is_none(), "a partial copy is not its source");
        // A rendered file written over the copy, however soon, is not the source.
        std::fs::write(dir.path().join("tree/manifests/a.yaml"), "kind: X\n").expect("overwrite");
        assert!(tree.origin("manifests/a.yaml").is_none());
    }

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
