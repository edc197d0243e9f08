//! The analysis tree: a private copy of the parts of the image that the
//! analysis steps (render, imagelist, policies) read.
//!
//! Those steps see the *merged* image, base layers included, but only its
//! templates, manifests, charts and application files: copying the whole
//! rootfs (binaries, registry data) would cost more than the build. The
//! tree lives in a directory the host created, so a module never sees the
//! user's context or the store, and the host can write rendered files into
//! it between steps.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};
use cap_std::fs::Dir;
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

/// Which files a staged tree keeps.
enum Wants {
    /// What the analysis steps read ([`wanted`]).
    Analysis,
    All,
    /// Files under any of these image paths.
    Under(Vec<String>),
}

/// A staging directory for the analysis tree, or for a whole rootfs.
pub struct AnalysisTree {
    root: PathBuf,
    /// Which image paths the tree keeps.
    wants: Wants,
    /// Whether files keep their image modes (a whole rootfs, whose reader
    /// may rewrite an executable) or get what the umask gives.
    keeps_modes: bool,
    /// The source of each file copied in, by path (see [`AnalysisTree::origin`]).
    origins: Mutex<HashMap<String, cap_std::fs::Metadata>>,
}

/// The modification time every copy gets: any later write to it (a
/// rendered template over a copied file) sets the clock's time instead,
/// which tells an untouched copy from a rewritten one whatever the file
/// system's timestamp granularity.
fn copy_mtime() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1)
}

impl AnalysisTree {
    /// An empty analysis tree in `root` (which must exist and be empty).
    pub fn new(root: PathBuf) -> AnalysisTree {
        AnalysisTree { root, wants: Wants::Analysis, keeps_modes: false, origins: Default::default() }
    }

    /// An empty tree in `root` that keeps every file and directory, with
    /// their modes: the staged rootfs a transform module reads.
    pub fn whole(root: PathBuf) -> AnalysisTree {
        AnalysisTree { root, wants: Wants::All, keeps_modes: true, origins: Default::default() }
    }

    /// Like [`AnalysisTree::whole`], but keeping only the files under
    /// `prefixes` (image paths such as `manifests`): the sub-trees the
    /// pipeline's steps are granted, when none is granted the whole rootfs.
    /// Directories and links are kept everywhere; they cost nothing.
    pub fn under(root: PathBuf, prefixes: Vec<String>) -> AnalysisTree {
        AnalysisTree { root, wants: Wants::Under(prefixes), keeps_modes: true, origins: Default::default() }
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

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Copies the wanted files of a layer listing from `ctx` (the build
    /// context, or a step's output directory).
    pub fn add_from_context(&self, ctx: &Dir, listing: &[FileEntry]) -> Result<()> {
        if self.keeps_modes {
            // Empty directories and symlinks are part of a rootfs too.
            for e in listing {
                match (e.kind, &e.link) {
                    (FileKind::Dir, _) => {
                        let dest = self.host_path(&e.path)?;
                        if !fs::symlink_metadata(&dest).is_ok_and(|m| m.is_dir()) {
                            self.prepare_parent(&dest)?;
                            fs::create_dir(&dest).with_context(|| format!("creating {}", dest.display()))?;
                        }
                    }
                    (FileKind::Symlink, Some(target)) => self.symlink(&e.path, target)?,
                    _ => {}
                }
            }
        }
        for e in listing.iter().filter(|e| e.kind == FileKind::File && self.wants(&e.path)) {
            let source = e.source.as_deref().unwrap_or(&e.path);
            let from = crate::tree::open_nofollow(ctx, source)
                .with_context(|| format!("reading {source} in the build context"))?;
            let dest = self.host_path(&e.path)?;
            self.prepare_parent(&dest)?;
            let mut to = fs::File::create(&dest).with_context(|| format!("writing {}", dest.display()))?;
            // The file was sized when listed; never copy more than that, so
            // a file growing while we read cannot make the tree unbounded.
            let origin = from.metadata().with_context(|| format!("reading {source} in the build context"))?;
            // Between std files io::copy copies inside the kernel
            // (copy_file_range), not through a buffer of ours.
            let mut limited = io::Read::take(from.into_std(), e.size);
            let copied =
                io::copy(&mut limited, &mut to).with_context(|| format!("copying {source} from the build context"))?;
            self.set_mode(&e.path, e.mode)?;
            if copied == origin.len() && to.set_modified(copy_mtime()).is_ok() {
                self.origins.lock().unwrap_or_else(|p| p.into_inner()).insert(e.path.clone(), origin);
            } else {
                self.origins.lock().unwrap_or_else(|p| p.into_inner()).remove(&e.path);
            }
        }
        Ok(())
    }

    /// The metadata of the file that `path` was copied from, when the copy
    /// is still untouched and whole: its content digest is then the
    /// source's, which the file digest memo may already know.
    pub fn origin(&self, path: &str) -> Option<cap_std::fs::Metadata> {
        let origin = self.origins.lock().unwrap_or_else(|p| p.into_inner()).get(path).cloned()?;
        let copy = fs::symlink_metadata(self.host_path(path).ok()?).ok()?;
        (copy.is_file() && copy.len() == origin.len() && copy.modified().ok()? == copy_mtime()).then_some(origin)
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

    /// Makes `path` a symlink to `target`, in a tree that keeps a whole
    /// rootfs; a link that would lead out of the tree is left out, as the
    /// sandbox would refuse to follow it anyway.
    pub fn symlink(&self, path: &str, target: &str) -> Result<()> {
        if !self.keeps_modes || !crate::tree::stays_inside(path, target) {
            return Ok(());
        }
        let dest = self.host_path(path)?;
        self.prepare_parent(&dest)?;
        if fs::symlink_metadata(&dest).is_ok() {
            fs::remove_file(&dest).with_context(|| format!("replacing {}", dest.display()))?;
        }
        std::os::unix::fs::symlink(target, &dest).with_context(|| format!("linking {}", dest.display()))
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
        match fs::symlink_metadata(dest) {
            Ok(m) if m.is_dir() => fs::remove_dir_all(dest).with_context(|| format!("replacing {}", dest.display()))?,
            // A later layer's file replaces a link; writing through it would
            // change the link's target instead.
            Ok(m) if m.file_type().is_symlink() => {
                fs::remove_file(dest).with_context(|| format!("replacing {}", dest.display()))?
            }
            _ => {}
        }
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::{AnalysisTree, wanted};

    #[test]
    fn a_whole_tree_replaces_a_link_instead_of_writing_through_it_and_drops_escaping_links() {
        let dir = tempfile::tempdir().expect("dir");
        let tree = AnalysisTree::whole(dir.path().to_path_buf());
        tree.write("a.txt", &mut "target".as_bytes()).expect("a");
        tree.symlink("b.txt", "a.txt").expect("link");
        assert_eq!(std::fs::read_to_string(dir.path().join("b.txt")).expect("through the link"), "target");
        tree.write("b.txt", &mut "later".as_bytes()).expect("b");
        assert_eq!(std::fs::read_to_string(dir.path().join("a.txt")).expect("a"), "target");
        assert!(!std::fs::symlink_metadata(dir.path().join("b.txt")).expect("b").file_type().is_symlink());
        tree.symlink("c", "../../etc/passwd").expect("escaping link");
        assert!(std::fs::symlink_metadata(dir.path().join("c")).is_err(), "an escaping link is left out");
        let granted = AnalysisTree::under(dir.path().join("y"), vec!["manifests".into(), "etc/app".into()]);
        for (path, kept) in
            [("manifests/a.yaml", true), ("etc/app/x", true), ("etc/application", false), ("manifestsx/a", false)]
        {
            assert_eq!(granted.wants(path), kept, "{path}");
        }
        let analysis = AnalysisTree::new(dir.path().join("x"));
        analysis.symlink("d", "a.txt").expect("no-op");
        assert!(std::fs::symlink_metadata(dir.path().join("x/d")).is_err(), "the analysis tree keeps no links");
    }

    #[test]
    fn a_copy_knows_its_origin_until_it_is_rewritten() {
        use sealbox_guest::{FileEntry, FileKind};
        let dir = tempfile::tempdir().expect("dir");
        std::fs::create_dir_all(dir.path().join("ctx/manifests")).expect("ctx");
        std::fs::write(dir.path().join("ctx/manifests/a.yaml"), "kind: A\n").expect("a");
        std::fs::write(dir.path().join("ctx/manifests/b.yaml"), "kind: B\n").expect("b");
        std::fs::create_dir(dir.path().join("tree")).expect("tree");
        let ctx =
            cap_std::fs::Dir::open_ambient_dir(dir.path().join("ctx"), cap_std::ambient_authority()).expect("dir");
        let entry = |path: &str, size: u64| FileEntry {
            path: path.into(),
            kind: FileKind::File,
            mode: 0o644,
            size,
            link: None,
            hardlink: None,
            source: None,
        };
        let tree = AnalysisTree::new(dir.path().join("tree"));
        // b is listed shorter than it is (it grew): its copy is partial.
        tree.add_from_context(&ctx, &[entry("manifests/a.yaml", 8), entry("manifests/b.yaml", 3)]).expect("copy");
        let origin = tree.origin("manifests/a.yaml").expect("an untouched whole copy");
        let source = ctx.symlink_metadata("manifests/a.yaml").expect("source");
        use cap_std::fs::MetadataExt;
        assert_eq!((origin.dev(), origin.ino()), (source.dev(), source.ino()));
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
