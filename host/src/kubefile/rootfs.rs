//! What the planner knows of the rootfs being built: the base image's whole
//! tree and what every earlier step put in it, so that COPY and ADD resolve a
//! destination as buildah does in the container's filesystem (following its
//! symlinks inside the root, going into an existing directory, replacing an
//! existing file).

use std::collections::{BTreeMap, VecDeque};
use std::ffi::OsString;
use std::ops::Bound;
use std::path::{Component, Path, PathBuf};

use cap_std::fs::Dir;

use super::context::{self, Kind};
use super::plan::{CopyEntry, EntryKind};

/// How many symlinks a destination may go through, as Linux's `MAXSYMLINKS`.
const MAX_LINK_HOPS: usize = 40;

/// What one path of a [`RootfsTree`] is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A directory.
    Dir,
    /// Anything that is neither a directory nor a symlink (files, hard links, devices).
    File,
    /// A symlink, with its target as the layer wrote it.
    Symlink(PathBuf),
}

/// A rootfs's paths (relative, no leading `/`) and what each is, built by
/// applying layers in order: a path's parents are directories, a non-directory
/// replaces a directory and everything below it, and whiteouts remove.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RootfsTree {
    nodes: BTreeMap<PathBuf, Node>,
}

impl RootfsTree {
    /// How many paths the tree holds.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the tree holds no path.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// What `path` is, if the tree has it (no symlink is followed).
    pub fn get(&self, path: &Path) -> Option<&Node> {
        self.nodes.get(path)
    }

    /// Puts `node` at `path`, making its parents directories, as unpacking a
    /// layer entry does; a non-directory put where a directory was removes
    /// what was below it. Empty paths are ignored.
    pub fn insert(&mut self, path: &Path, node: Node) {
        if path.as_os_str().is_empty() {
            return;
        }
        let mut parent = path.parent();
        while let Some(dir) = parent.filter(|d| !d.as_os_str().is_empty()) {
            if self.nodes.get(dir) != Some(&Node::Dir) {
                self.remove_below(dir);
                self.nodes.insert(dir.to_owned(), Node::Dir);
            }
            parent = dir.parent();
        }
        if node != Node::Dir {
            self.remove_below(path);
        }
        self.nodes.insert(path.to_owned(), node);
    }

    /// Removes `path` and everything below it (an OCI `.wh.NAME` whiteout).
    pub fn remove(&mut self, path: &Path) {
        self.nodes.remove(path);
        self.remove_below(path);
    }

    /// Removes everything below `dir`, keeping `dir` (an OCI opaque whiteout).
    pub fn remove_below(&mut self, dir: &Path) {
        // Paths order component by component, so a directory's descendants follow it directly.
        let below: Vec<PathBuf> = self
            .nodes
            .range::<Path, _>((Bound::Excluded(dir), Bound::Unbounded))
            .map(|(p, _)| p)
            .take_while(|p| p.starts_with(dir))
            .cloned()
            .collect();
        for path in below {
            self.nodes.remove(&path);
        }
    }

    /// `path` with every symlink in it followed inside the root (an absolute
    /// target starts again at the root, `..` stops at it), as buildah resolves
    /// a destination in the container; components that do not exist are kept
    /// as written. A chain of more than 40 links is left unfollowed.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        let mut todo: VecDeque<OsString> = components(path).collect();
        let mut done = PathBuf::new();
        let mut hops = 0;
        while let Some(name) = todo.pop_front() {
            if name == ".." {
                done.pop();
                continue;
            }
            let next = done.join(&name);
            match self.nodes.get(&next) {
                Some(Node::Symlink(target)) if hops < MAX_LINK_HOPS => {
                    hops += 1;
                    if target.has_root() {
                        done = PathBuf::new();
                    }
                    for part in components(target).collect::<Vec<_>>().into_iter().rev() {
                        todo.push_front(part);
                    }
                }
                _ => done = next,
            }
        }
        done
    }
}

/// A path's normal and `..` components, as owned names (`.` and the root dropped).
fn components(path: &Path) -> impl Iterator<Item = OsString> + '_ {
    path.components().filter_map(|c| match c {
        Component::Normal(name) => Some(name.to_owned()),
        Component::ParentDir => Some(OsString::from("..")),
        Component::CurDir | Component::RootDir | Component::Prefix(_) => None,
    })
}

/// The rootfs as the planner sees it before each step.
#[derive(Debug, Default)]
pub(crate) struct Rootfs {
    /// The base's tree, updated with every target earlier steps wrote.
    pub tree: RootfsTree,
    /// Directory copies so far: (target in the rootfs, source in the context). What they put
    /// below the target is looked up in the context when needed rather than listed up front.
    merged: Vec<(PathBuf, PathBuf)>,
}

impl Rootfs {
    /// Where a destination written as `path` really is, its symlinks followed.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        self.tree.resolve(path)
    }

    /// Whether the resolved `path` is a directory: the root, a directory of the base or of an
    /// earlier step, or a directory inside a context directory an earlier step copied.
    pub fn is_dir(&self, ctx: &Dir, path: &Path) -> bool {
        if path.as_os_str().is_empty() {
            return true;
        }
        match self.tree.get(path) {
            Some(Node::Dir) => return true,
            Some(_) => return false,
            None => {}
        }
        self.merged.iter().rev().any(|(target, source)| {
            path.strip_prefix(target)
                .is_ok_and(|rel| context::resolve(ctx, &source.join(rel)).is_ok_and(|r| r.kind == Kind::Dir))
        })
    }

    /// Records what a step's entries put in the rootfs.
    pub fn record(&mut self, entries: &[CopyEntry]) {
        for entry in entries {
            match entry.kind {
                EntryKind::Dir => {
                    self.tree.insert(&entry.target, Node::Dir);
                    self.merged.push((entry.target.clone(), entry.source.clone()));
                }
                EntryKind::Archive => self.tree.insert(&entry.target, Node::Dir),
                EntryKind::File => self.tree.insert(&entry.target, Node::File),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(entries: &[(&str, Node)]) -> RootfsTree {
        let mut t = RootfsTree::default();
        for (path, node) in entries {
            t.insert(Path::new(path), node.clone());
        }
        t
    }

    fn link(target: &str) -> Node {
        Node::Symlink(PathBuf::from(target))
    }

    #[test]
    fn layers_replace_and_white_out() {
        let mut t = tree(&[("etc/kubeadm.yml", Node::File), ("etc/sub/a", Node::File), ("etc-b", Node::File)]);
        assert_eq!(t.get(Path::new("etc")), Some(&Node::Dir), "parents are directories");
        t.insert(Path::new("etc/sub"), Node::File);
        assert_eq!(t.get(Path::new("etc/sub/a")), None, "a file over a directory removes what was below");
        t.remove_below(Path::new("etc"));
        assert_eq!(t.get(Path::new("etc")), Some(&Node::Dir));
        assert_eq!(t.get(Path::new("etc/kubeadm.yml")), None);
        assert_eq!(t.get(Path::new("etc-b")), Some(&Node::File), "a sibling with a longer name is not below");
        t.remove(Path::new("etc"));
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn resolve_follows_links_inside_the_root() {
        let t = tree(&[
            ("usr/etc/kubeadm.yml", Node::File),
            ("etc", link("/usr/etc")),
            ("rel", link("usr/etc")),
            ("up", link("../../../usr")),
            ("loop", link("loop")),
        ]);
        assert_eq!(t.resolve(Path::new("etc")), PathBuf::from("usr/etc"));
        assert_eq!(t.resolve(Path::new("rel/new/x")), PathBuf::from("usr/etc/new/x"));
        assert_eq!(t.resolve(Path::new("up/etc")), PathBuf::from("usr/etc"), "`..` stops at the root");
        assert_eq!(t.resolve(Path::new("loop")), PathBuf::from("loop"), "a loop is left unfollowed");
        assert_eq!(t.resolve(Path::new("missing/x")), PathBuf::from("missing/x"));
    }
}
