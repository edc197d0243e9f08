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
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;

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

/// What a walk read of a regular file: enough to tell, as git's index
/// does, whether the file changed since (device, inode, size, and the
/// mtime and ctime, which no user can set back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStat {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime: i64,
    pub mtime_nsec: i64,
    pub ctime: i64,
    pub ctime_nsec: i64,
}

impl FileStat {
    /// The fields of `meta` a change would touch.
    pub fn of(meta: &cap_std::fs::Metadata) -> FileStat {
        FileStat {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.len(),
            mtime: meta.mtime(),
            mtime_nsec: meta.mtime_nsec(),
            ctime: meta.ctime(),
            ctime_nsec: meta.ctime_nsec(),
        }
    }
}

/// The stat a walk read of each entry of its listing, by index (`None`
/// for anything but a regular file): what a caller needs to key a cache
/// on the files without stating them again.
pub type FileStats = Vec<Option<FileStat>>;

/// Directories nested deeper than this are walked on the thread that
/// found them: parallelism comes from the top of a tree, and rayon's
/// frames must not pile up on a worker's stack in a deep one.
const PARALLEL_DEPTH: usize = 6;

/// Lists every entry under `root` (not `root` itself), sorted by path.
pub fn walk(root: &Dir, options: &WalkOptions) -> Result<Vec<FileEntry>, TreeError> {
    Ok(walk_with_stats(root, options)?.0)
}

/// Like [`walk`], and also returns the stat of each regular file, aligned
/// with the listing.
///
/// Directories are read in parallel; the result does not depend on it:
/// entries are sorted, and of two refusals in one directory's children the
/// first in path order is reported. Which limit error a tree over a limit
/// gets may vary, the refusal does not.
pub fn walk_with_stats(root: &Dir, options: &WalkOptions) -> Result<(Vec<FileEntry>, FileStats), TreeError> {
    let walker =
        Walker { limits: options, entries: AtomicU64::new(0), bytes: AtomicU64::new(0), found: Mutex::new(Vec::new()) };
    walker.walk_dir(root, "", 0)?;
    let chunks = walker.found.into_inner().unwrap_or_else(|p| p.into_inner());
    let mut found: Vec<Option<Found>> = Vec::with_capacity(chunks.iter().map(Vec::len).sum());
    for chunk in chunks {
        found.extend(chunk.into_iter().map(Some));
    }
    // Each directory's entries came sorted by name, so `found` is a series of
    // sorted runs, which a stable sort merges instead of sorting afresh;
    // sorting indices moves 8 bytes an entry instead of the whole entry.
    let path = |i: usize| found[i].as_ref().map_or("", |w| w.entry.path.as_str());
    let mut order: Vec<usize> = (0..found.len()).collect();
    order.par_sort_by(|&a, &b| path(a).cmp(path(b)));
    let mut entries = Vec::with_capacity(order.len());
    let mut ids: Vec<(Option<FileStat>, bool)> = Vec::with_capacity(order.len());
    for w in order.into_iter().filter_map(|i| found[i].take()) {
        entries.push(w.entry);
        ids.push((w.stat, w.linked));
    }
    if !options.list_escaping_symlinks {
        refuse_escaping_links(&entries)?;
    }
    // Hard links are resolved after sorting so that the first name in path
    // order is the one that carries the content, as tar expects.
    if options.hardlinks == Hardlinks::Keep {
        let mut first: HashMap<(u64, u64), usize> = HashMap::new();
        for (i, (stat, linked)) in ids.iter().enumerate() {
            let Some(stat) = stat.filter(|_| *linked) else { continue };
            match first.get(&(stat.dev, stat.ino)) {
                Some(&j) => entries[i].hardlink = Some(entries[j].path.clone()),
                None => {
                    first.insert((stat.dev, stat.ino), i);
                }
            }
        }
    }
    Ok((entries, ids.into_iter().map(|(stat, _)| stat).collect()))
}

/// One entry as a walk found it.
struct Found {
    entry: FileEntry,
    stat: Option<FileStat>,
    /// A regular file with more than one name.
    linked: bool,
}

/// One walk: its limits, what it counted so far (shared by the threads
/// walking it) and what it found, a directory's entries at a time, in no
/// order.
struct Walker<'a> {
    limits: &'a WalkOptions,
    entries: AtomicU64,
    bytes: AtomicU64,
    found: Mutex<Vec<Vec<Found>>>,
}

impl Walker<'_> {
    /// Lists `dir`'s entries, then walks its subdirectories. Each
    /// directory's entries join `found` whole, in one lock, so they are
    /// copied once, when the walk is done.
    fn walk_dir(&self, dir: &Dir, prefix: &str, depth: usize) -> Result<(), TreeError> {
        if depth >= self.limits.max_depth {
            return Err(TreeError::TooDeep { path: prefix.to_string(), limit: self.limits.max_depth });
        }
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
        names.sort_unstable();
        let mut here = Vec::with_capacity(names.len());
        let mut subdirs = Vec::new();
        for name in names {
            let path = join(prefix, &name);
            if path.len() > self.limits.max_path_len {
                return Err(TreeError::PathTooLong { path, limit: self.limits.max_path_len });
            }
            if self.entries.fetch_add(1, Ordering::Relaxed) >= self.limits.max_entries {
                return Err(TreeError::TooManyEntries { limit: self.limits.max_entries });
            }
            let meta = dir.symlink_metadata(&name).map_err(io_err(&path))?;
            let ft = meta.file_type();
            let mode = meta.permissions().mode() & 0o7777;
            if ft.is_dir() {
                here.push(found(entry(path.clone(), FileKind::Dir, mode, 0)));
                subdirs.push((name, path));
            } else if ft.is_file() {
                let size = meta.len();
                let linked = meta.nlink() > 1;
                if linked && self.limits.hardlinks == Hardlinks::Refuse {
                    return Err(TreeError::Hardlink { path });
                }
                let before =
                    self.bytes.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| Some(b.saturating_add(size)));
                if before.unwrap_or(u64::MAX).saturating_add(size) > self.limits.max_bytes {
                    return Err(TreeError::TooLarge { limit: self.limits.max_bytes });
                }
                let stat = Some(FileStat::of(&meta));
                here.push(Found { entry: entry(path, FileKind::File, mode, size), stat, linked });
            } else if ft.is_symlink() {
                let target = dir.read_link_contents(&name).map_err(io_err(&path))?;
                let Some(target) = target.to_str().map(str::to_string) else {
                    return Err(TreeError::NotUtf8 { path });
                };
                let mut e = entry(path, FileKind::Symlink, 0o777, 0);
                e.link = Some(target);
                here.push(found(e));
            } else {
                return Err(TreeError::SpecialFile { path, kind: special_kind(meta.mode()) });
            }
        }
        if !here.is_empty() {
            self.found.lock().unwrap_or_else(|p| p.into_inner()).push(here);
        }
        let walk_sub = |(name, path): &(String, String)| -> Result<(), TreeError> {
            let sub = dir.open_dir_nofollow(name).map_err(io_err(path))?;
            self.walk_dir(&sub, path, depth + 1)
        };
        if depth < PARALLEL_DEPTH && subdirs.len() > 1 {
            // Collected in order, so the first refusal in path order wins.
            let results: Vec<Result<(), TreeError>> = subdirs.par_iter().map(walk_sub).collect();
            results.into_iter().collect()
        } else {
            subdirs.iter().try_for_each(walk_sub)
        }
    }
}

fn io_err(path: &str) -> impl FnOnce(io::Error) -> TreeError {
    let path = path.to_string();
    move |source| TreeError::Io { path, source }
}

fn found(entry: FileEntry) -> Found {
    Found { entry, stat: None, linked: false }
}

fn entry(path: String, kind: FileKind, mode: u32, size: u64) -> FileEntry {
    FileEntry { path, kind, mode, size, link: None, hardlink: None }
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() { name.to_string() } else { [prefix, "/", name].concat() }
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

    /// Each directory's entries come sorted by name, but the listing is
    /// in byte order of the whole path: a sibling whose name has a byte
    /// below `/` sorts between a directory and what it holds.
    #[test]
    fn entries_come_in_byte_order_of_the_whole_path() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path();
        std::fs::create_dir_all(p.join("b/e")).unwrap();
        for (name, content) in
            [("a", "1"), ("b/e/g", "22"), ("b/f", "333"), ("b-c", "4444"), ("b.d", "5"), ("b0", "66")]
        {
            std::fs::write(p.join(name), content).unwrap();
        }
        let dir = Dir::open_ambient_dir(p, ambient_authority()).unwrap();
        let (entries, stats) = walk_with_stats(&dir, &WalkOptions::default()).unwrap();
        let paths: Vec<_> = entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["a", "b", "b-c", "b.d", "b/e", "b/e/g", "b/f", "b0"]);
        let sizes: Vec<_> = stats.iter().map(|s| s.map(|s| s.size)).collect();
        assert_eq!(sizes, [Some(1), None, Some(4), Some(1), None, Some(2), Some(3), Some(2)]);
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

    /// Directories are read on several threads; the listing, the stats
    /// beside it and the refusal a tree gets must not show it.
    #[test]
    fn a_parallel_walk_gives_what_a_sequential_one_gives() {
        let tmp = tempfile::tempdir().unwrap();
        for a in 0..6 {
            for b in 0..5 {
                // Deeper than PARALLEL_DEPTH, so both ways of recursing run.
                let dir = tmp.path().join(format!("d{a}/e{b}/f/g/h/i/j/k"));
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(dir.join("file"), format!("{a}{b}")).unwrap();
            }
        }
        std::fs::hard_link(tmp.path().join("d5/e4/f/g/h/i/j/k/file"), tmp.path().join("d0/link")).unwrap();
        let dir = Dir::open_ambient_dir(tmp.path(), ambient_authority()).unwrap();
        let walk_on = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| walk_with_stats(&dir, &WalkOptions::default()).unwrap())
        };
        let (one, one_stats) = walk_on(1);
        assert_eq!(one.len(), 6 + 6 * 5 * 8 + 1);
        assert!(one.windows(2).all(|w| w[0].path < w[1].path), "sorted by path");
        let file = one.iter().position(|e| e.path == "d0/e0/f/g/h/i/j/k/file").unwrap();
        assert_eq!(one_stats[file].map(|s| s.size), Some(2), "stats stay beside their entries");
        assert!(one.iter().zip(&one_stats).all(|(e, s)| s.is_some() == (e.kind == FileKind::File)));
        // The first name in path order carries the content.
        let link = one.iter().find(|e| e.path == "d5/e4/f/g/h/i/j/k/file").unwrap();
        assert_eq!(link.hardlink.as_deref(), Some("d0/link"));
        for _ in 0..5 {
            assert_eq!(walk_on(4), (one.clone(), one_stats.clone()));
        }

        // Two refusals in sibling trees: the first in path order is told.
        for (at, name) in [("d4/e1/f", "sock-b"), ("d1/e3/f/g", "sock-a")] {
            rustix::fs::mknodat(
                rustix::fs::CWD,
                tmp.path().join(at).join(name),
                rustix::fs::FileType::Fifo,
                rustix::fs::Mode::from_raw_mode(0o644),
                0,
            )
            .unwrap();
        }
        for threads in [1, 4, 4, 4] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let err = pool.install(|| walk(&dir, &WalkOptions::default())).unwrap_err();
            assert_eq!(
                err.to_string(),
                "d1/e3/f/g/sock-a: is a fifo; only files, directories and symlinks can go into an image"
            );
        }
    }
}
