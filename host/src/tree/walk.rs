//! Listing an untrusted directory tree without ever leaving it.
//!
//! [`walk`] lists a tree through a `cap_std` directory handle: it never
//! follows a symlink, refuses what cannot go into an image (devices, fifos,
//! sockets, names that are not UTF-8), refuses symlinks that lead out of
//! the tree (judged through every link on the way, see
//! [`super::resolve_link`]), and stops at the caller's limits. Entries come
//! back sorted by path, so everything built from them is deterministic.

use cap_std::fs::{MetadataExt, PermissionsExt};
use std::collections::HashMap;
use std::io;

use cap_fs_ext::DirExt;
use cap_std::fs::Dir;
use sealbox_guest::{FileEntry, FileKind};

use super::resolve::{LinkVerdict, MAX_LINK_HOPS, resolve_link};

/// What a walk accepts, and how far it goes.
#[derive(Debug, Clone, Copy)]
pub struct WalkOptions {
    pub max_entries: u64,
    pub max_bytes: u64,
    pub max_depth: usize,
    pub max_path_len: usize,
    pub hardlinks: Hardlinks,
    /// Whether symlinks pointing out of the tree are listed (to be handed to
    /// a sandbox that will refuse to follow them) instead of refused.
    pub list_escaping_symlinks: bool,
}

impl Default for WalkOptions {
    /// Generous limits; hard links kept; escaping symlinks refused.
    fn default() -> Self {
        WalkOptions {
            max_entries: 1_000_000,
            max_bytes: 64 << 30,
            max_depth: 256,
            max_path_len: 4096,
            hardlinks: Hardlinks::Keep,
            list_escaping_symlinks: false,
        }
    }
}

/// What to do with a file that has more than one name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hardlinks {
    /// Record later names as links to the first (build contexts).
    Keep,
    /// Refuse the tree (module outputs: a link could alias another tree).
    Refuse,
}

/// Why a tree was refused.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("{path}: is a {kind}; only files, directories and symlinks can go into an image")]
    SpecialFile { path: String, kind: &'static str },
    #[error("{path}: symlink to {target:?} points outside the tree{why}")]
    SymlinkEscape { path: String, target: String, why: String },
    #[error("{path}: is a hard link; hard links are not allowed here")]
    Hardlink { path: String },
    #[error("{path}: file name is not valid UTF-8")]
    NotUtf8 { path: String },
    #[error("{path}: path is longer than {limit} bytes")]
    PathTooLong { path: String, limit: usize },
    #[error("{path}: tree is nested deeper than {limit} directories")]
    TooDeep { path: String, limit: usize },
    #[error("more than {limit} entries")]
    TooManyEntries { limit: u64 },
    #[error("more than {limit} bytes in files")]
    TooLarge { limit: u64 },
}

/// The metadata the walk read of each regular file, by path: what a
/// caller needs to key a cache on the files without stating them again.
pub type FileStats = std::collections::HashMap<String, cap_std::fs::Metadata>;

/// Lists every entry under `root` (not `root` itself), sorted by path.
pub fn walk(root: &Dir, options: &WalkOptions) -> Result<Vec<FileEntry>, TreeError> {
    walk_collecting(root, options, None)
}

/// Like [`walk`], and also returns the metadata read of each regular file.
pub fn walk_with_stats(root: &Dir, options: &WalkOptions) -> Result<(Vec<FileEntry>, FileStats), TreeError> {
    let mut stats = FileStats::new();
    let listing = walk_collecting(root, options, Some(&mut stats))?;
    Ok((listing, stats))
}

fn walk_collecting(
    root: &Dir,
    options: &WalkOptions,
    stats: Option<&mut FileStats>,
) -> Result<Vec<FileEntry>, TreeError> {
    let mut w = Walker { limits: options, out: Vec::new(), bytes: 0, seen: Default::default(), stats };
    w.walk_dir(root, "", 0)?;
    w.out.sort_by(|a, b| a.path.cmp(&b.path));
    if !options.list_escaping_symlinks {
        refuse_escaping_links(&w.out)?;
    }
    // Hard links are resolved after sorting so that the first name in path
    // order is the one that carries the content, as tar expects.
    if options.hardlinks == Hardlinks::Keep {
        let mut first: std::collections::HashMap<(u64, u64), String> = Default::default();
        let ids = w.ids_in_order();
        for (entry, id) in w.out.iter_mut().zip(ids) {
            if let Some(id) = id {
                match first.get(&id) {
                    Some(p) => entry.hardlink = Some(p.clone()),
                    None => {
                        first.insert(id, entry.path.clone());
                    }
                }
            }
        }
    }
    Ok(w.out)
}

struct Walker<'a> {
    limits: &'a WalkOptions,
    stats: Option<&'a mut FileStats>,
    out: Vec<FileEntry>,
    bytes: u64,
    /// (dev, inode) of multiply-linked files, by path.
    seen: std::collections::HashMap<String, (u64, u64)>,
}

impl Walker<'_> {
    fn ids_in_order(&self) -> Vec<Option<(u64, u64)>> {
        self.out.iter().map(|e| self.seen.get(&e.path).copied()).collect()
    }

    fn walk_dir(&mut self, dir: &Dir, prefix: &str, depth: usize) -> Result<(), TreeError> {
        if depth >= self.limits.max_depth {
            return Err(TreeError::TooDeep { path: prefix.to_string(), limit: self.limits.max_depth });
        }
        let io_err = |path: &str| {
            let path = path.to_string();
            move |source| TreeError::Io { path, source }
        };
        let shown = if prefix.is_empty() { "." } else { prefix };
        let mut names = Vec::new();
        for entry in dir.entries().map_err(io_err(shown))? {
            let entry = entry.map_err(io_err(shown))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                return Err(TreeError::NotUtf8 { path: join(prefix, &name.to_string_lossy()) });
            };
            names.push(name.to_string());
        }
        names.sort();
        for name in names {
            let path = join(prefix, &name);
            if path.len() > self.limits.max_path_len {
                return Err(TreeError::PathTooLong { path, limit: self.limits.max_path_len });
            }
            if self.out.len() as u64 >= self.limits.max_entries {
                return Err(TreeError::TooManyEntries { limit: self.limits.max_entries });
            }
            let meta = dir.symlink_metadata(&name).map_err(io_err(&path))?;
            let ft = meta.file_type();
            let mode = meta.permissions().mode() & 0o7777;
            if ft.is_dir() {
                self.out.push(entry(path.clone(), FileKind::Dir, mode, 0));
                let sub = dir.open_dir_nofollow(&name).map_err(io_err(&path))?;
                self.walk_dir(&sub, &path, depth + 1)?;
            } else if ft.is_file() {
                let size = meta.len();
                if meta.nlink() > 1 {
                    if self.limits.hardlinks == Hardlinks::Refuse {
                        return Err(TreeError::Hardlink { path });
                    }
                    self.seen.insert(path.clone(), (meta.dev(), meta.ino()));
                }
                self.bytes = self.bytes.saturating_add(size);
                if self.bytes > self.limits.max_bytes {
                    return Err(TreeError::TooLarge { limit: self.limits.max_bytes });
                }
                if let Some(stats) = self.stats.as_deref_mut() {
                    stats.insert(path.clone(), meta);
                }
                self.out.push(entry(path, FileKind::File, mode, size));
            } else if ft.is_symlink() {
                let target = dir.read_link_contents(&name).map_err(io_err(&path))?;
                let Some(target) = target.to_str().map(str::to_string) else {
                    return Err(TreeError::NotUtf8 { path });
                };
                let mut e = entry(path, FileKind::Symlink, 0o777, 0);
                e.link = Some(target);
                self.out.push(e);
            } else {
                return Err(TreeError::SpecialFile { path, kind: special_kind(meta.mode()) });
            }
        }
        Ok(())
    }
}

fn entry(path: String, kind: FileKind, mode: u32, size: u64) -> FileEntry {
    FileEntry { path, kind, mode, size, link: None, hardlink: None }
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() { name.to_string() } else { format!("{prefix}/{name}") }
}

fn special_kind(mode: u32) -> &'static str {
    match mode & 0o170000 {
        0o010000 => "fifo",
        0o020000 => "character device",
        0o060000 => "block device",
        0o140000 => "socket",
        _ => "special file",
    }
}

/// Refuses the first symlink (in path order) whose resolution, through the
/// tree's other links, leaves the tree.
fn refuse_escaping_links(entries: &[FileEntry]) -> Result<(), TreeError> {
    let links: HashMap<&str, &str> =
        entries.iter().filter_map(|e| Some((e.path.as_str(), e.link.as_deref()?))).collect();
    for e in entries {
        let Some(target) = e.link.as_deref() else { continue };
        let why = match resolve_link(&links, &e.path, target) {
            LinkVerdict::Inside => continue,
            LinkVerdict::Outside { via } | LinkVerdict::Absolute { via } if via == e.path => String::new(),
            LinkVerdict::Outside { via } | LinkVerdict::Absolute { via } => format!(" (through the link {via})"),
            LinkVerdict::Loop => format!(" (more than {MAX_LINK_HOPS} links)"),
        };
        return Err(TreeError::SymlinkEscape { path: e.path.clone(), target: target.to_string(), why });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use cap_std::ambient_authority;

    #[test]
    fn walks_sorted_and_refuses_escapes_and_fifos() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path();
        std::fs::create_dir(p.join("b")).unwrap();
        std::fs::write(p.join("b/f"), "x").unwrap();
        std::fs::write(p.join("a"), "yy").unwrap();
        std::fs::hard_link(p.join("a"), p.join("c")).unwrap();
        std::os::unix::fs::symlink("b/f", p.join("ok-link")).unwrap();
        let dir = Dir::open_ambient_dir(p, ambient_authority()).unwrap();
        let entries = walk(&dir, &WalkOptions::default()).unwrap();
        let paths: Vec<_> = entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["a", "b", "b/f", "c", "ok-link"]);
        assert_eq!(entries[3].hardlink.as_deref(), Some("a"));
        assert_eq!(entries[4].link.as_deref(), Some("b/f"));
        assert!(matches!(
            walk(&dir, &WalkOptions { hardlinks: Hardlinks::Refuse, ..WalkOptions::default() }),
            Err(TreeError::Hardlink { .. })
        ));

        std::os::unix::fs::symlink("../../etc/passwd", p.join("b/evil")).unwrap();
        let err = walk(&dir, &WalkOptions::default()).unwrap_err();
        assert_eq!(err.to_string(), "b/evil: symlink to \"../../etc/passwd\" points outside the tree");
        std::fs::remove_file(p.join("b/evil")).unwrap();

        rustix::fs::mknodat(
            rustix::fs::CWD,
            p.join("fifo"),
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        let err = walk(&dir, &WalkOptions::default()).unwrap_err();
        assert_eq!(err.to_string(), "fifo: is a fifo; only files, directories and symlinks can go into an image");
    }

    #[test]
    fn limits_are_enforced() {
        let tmp = tempfile::tempdir().unwrap();
        for i in 0..5 {
            std::fs::write(tmp.path().join(format!("f{i}")), "12345").unwrap();
        }
        let dir = Dir::open_ambient_dir(tmp.path(), ambient_authority()).unwrap();
        let few = WalkOptions { max_entries: 3, ..WalkOptions::default() };
        assert!(matches!(walk(&dir, &few), Err(TreeError::TooManyEntries { limit: 3 })));
        let small = WalkOptions { max_bytes: 12, ..WalkOptions::default() };
        assert!(matches!(walk(&dir, &small), Err(TreeError::TooLarge { limit: 12 })));
    }
}
