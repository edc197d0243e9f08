//! The `unpack` builtin: a Kubefile's `ADD` of a local tar archive (plain,
//! gzip, bzip2, xz or zstd), unpacked inside the sandbox so that a hostile
//! archive meets the module's limits, not the host's file system.
//!
//! The module reads the archive from `/in`, writes the content of every
//! regular file under `/out` at its image path, and answers with the full
//! listing (`data.entries`, [`FileEntry`]s): modes, symlinks and hard links
//! travel in the listing, because a WASI module can neither set modes nor
//! should it create links the host would have to follow. Directories and
//! files exist on disk; symlinks exist only in the listing.
//!
//! Member names are placed like GNU tar and buildah place them (leading
//! `/` and `./` dropped, `..` resolved); a name that climbs out of the
//! destination, an overlay whiteout, a device or fifo, or a member below a
//! symlink or a file is refused with the member's name.

mod decompress;
mod paths;

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use sealbox_guest::{FileEntry, FileKind};

pub use decompress::Compression;
pub use paths::PathError;

/// Mode of a directory the archive implies but does not list.
const IMPLICIT_DIR_MODE: u32 = 0o755;

/// How much an archive may unpack to.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_entries: u64,
    pub max_bytes: u64,
    /// The decompression-ratio guard: past `ratio_threshold` bytes, the
    /// archive may unpack to at most `max_ratio` times `archive_bytes`, its
    /// own size. 0 turns the guard off.
    pub max_ratio: u64,
    pub ratio_threshold: u64,
    pub archive_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_entries: 1_000_000, max_bytes: 16 << 30, max_ratio: 0, ratio_threshold: 0, archive_bytes: 0 }
    }
}

impl Limits {
    /// The most bytes the archive may unpack to, and whether the ratio
    /// guard (rather than `max_bytes`) sets it.
    fn byte_cap(&self) -> (u64, bool) {
        if self.max_ratio == 0 {
            return (self.max_bytes, false);
        }
        let by_ratio = self.ratio_threshold.max(self.max_ratio.saturating_mul(self.archive_bytes));
        if by_ratio < self.max_bytes { (by_ratio, true) } else { (self.max_bytes, false) }
    }

    /// The error for unpacking past the cap.
    fn too_large(&self) -> UnpackError {
        match self.byte_cap() {
            (cap, true) => UnpackError::Expands { cap, ratio: self.max_ratio, archive: self.archive_bytes },
            (cap, false) => UnpackError::TooLarge(cap),
        }
    }
}

/// Why an archive could not be unpacked.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    #[error("reading the archive: {0}")]
    Read(#[source] io::Error),
    #[error("member {name:?}: {cause}")]
    Name { name: String, cause: PathError },
    #[error("member {name:?}: {what} cannot be part of an image layer")]
    Unsupported { name: String, what: &'static str },
    #[error("member {name:?}: it would go below {parent:?}, which is not a directory")]
    NotADirectory { name: String, parent: String },
    #[error("member {name:?}: it would replace the directory {name:?}, which holds files")]
    ReplacesDirectory { name: String },
    #[error("member {name:?}: hard link to {target:?}, which is not a regular file earlier in the archive")]
    DanglingHardlink { name: String, target: String },
    #[error("the archive holds more than {0} entries")]
    TooManyEntries(u64),
    #[error("the archive unpacks to more than {0} bytes")]
    TooLarge(u64),
    #[error(
        "the archive unpacks to more than {cap} bytes, over {ratio} times its own {archive} bytes \
         (a likely decompression bomb)"
    )]
    Expands { cap: u64, ratio: u64, archive: u64 },
    #[error("member {name:?}: {cause}")]
    Write { name: String, cause: io::Error },
}

/// What was unpacked: every entry, sorted by path, and the compression.
#[derive(Debug)]
pub struct Unpacked {
    pub entries: Vec<FileEntry>,
    pub compression: Compression,
}

/// One path of the tree being built. `content` identifies a regular
/// file's bytes, so names that share it form a hard-link group.
struct Node {
    entry: FileEntry,
    content: Option<u64>,
}

/// Unpacks `archive` into `out` (an existing, empty directory).
pub fn unpack(archive: impl Read, out: &Path, limits: Limits) -> Result<Unpacked, UnpackError> {
    let (stream, compression) = decompress::open(archive).map_err(UnpackError::Read)?;
    let mut tree = Tree { out: out.to_path_buf(), nodes: BTreeMap::new(), next_content: 0, bytes: 0, limits };
    let mut archive = tar::Archive::new(stream);
    let mut count = 0u64;
    for member in archive.entries().map_err(UnpackError::Read)? {
        let member = member.map_err(UnpackError::Read)?;
        count += 1;
        if count > limits.max_entries {
            return Err(UnpackError::TooManyEntries(limits.max_entries));
        }
        tree.add(member)?;
    }
    Ok(Unpacked { entries: tree.finish(), compression })
}

struct Tree {
    out: PathBuf,
    nodes: BTreeMap<String, Node>,
    next_content: u64,
    bytes: u64,
    limits: Limits,
}

impl Tree {
    fn add<R: Read>(&mut self, mut member: tar::Entry<'_, R>) -> Result<(), UnpackError> {
        let raw = member.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let name_err = |cause| UnpackError::Name { name: shown.clone(), cause };
        let kind = member.header().entry_type();
        let Some(path) = paths::normalise(&raw).map_err(name_err)? else {
            return Ok(()); // the destination itself
        };
        let mode = member.header().mode().map_err(UnpackError::Read)? & 0o7777;
        use tar::EntryType as T;
        match kind {
            T::Regular | T::Continuous | T::GNUSparse => {
                self.make_parents(&path)?;
                self.clear(&path)?;
                let size = self.write_file(&path, &mut member)?;
                let content = self.new_content();
                self.insert(&path, FileKind::File, mode, size, None, Some(content));
            }
            T::Directory => {
                self.make_parents(&path)?;
                if self.nodes.get(&path).is_some_and(|n| n.entry.kind == FileKind::Dir) {
                    if let Some(n) = self.nodes.get_mut(&path) {
                        n.entry.mode = mode;
                    }
                    return Ok(());
                }
                self.clear(&path)?;
                fs::create_dir(self.out.join(&path)).map_err(|cause| UnpackError::Write { name: shown, cause })?;
                self.insert(&path, FileKind::Dir, mode, 0, None, None);
            }
            T::Symlink => {
                let target = member.link_name_bytes().map(|t| t.into_owned()).unwrap_or_default();
                let target = String::from_utf8(target).map_err(|_| name_err(PathError::NotUtf8))?;
                self.make_parents(&path)?;
                self.clear(&path)?;
                self.insert(&path, FileKind::Symlink, 0o777, 0, Some(target), None);
            }
            T::Link => {
                let raw_target = member.link_name_bytes().map(|t| t.into_owned()).unwrap_or_default();
                let target = paths::normalise(&raw_target).map_err(name_err)?.unwrap_or_default();
                let dangling = || UnpackError::DanglingHardlink { name: shown.clone(), target: target.clone() };
                let (content, size, mode) = match self.nodes.get(&target) {
                    Some(Node { entry, content: Some(c) }) => (*c, entry.size, entry.mode),
                    _ => return Err(dangling()),
                };
                if target == path {
                    return Ok(());
                }
                self.make_parents(&path)?;
                self.clear(&path)?;
                // Every name holds the bytes on disk, so the group can be
                // re-led by whichever name sorts first, as tar needs.
                self.bytes = self.bytes.saturating_add(size);
                if self.bytes > self.limits.byte_cap().0 {
                    return Err(self.limits.too_large());
                }
                fs::copy(self.out.join(&target), self.out.join(&path))
                    .map_err(|cause| UnpackError::Write { name: shown, cause })?;
                self.insert(&path, FileKind::File, mode, size, None, Some(content));
            }
            T::XGlobalHeader | T::XHeader | T::GNULongName | T::GNULongLink => {}
            T::Char => return Err(UnpackError::Unsupported { name: shown, what: "a character device" }),
            T::Block => return Err(UnpackError::Unsupported { name: shown, what: "a block device" }),
            T::Fifo => return Err(UnpackError::Unsupported { name: shown, what: "a fifo" }),
            _ => return Err(UnpackError::Unsupported { name: shown, what: "an entry of an unknown type" }),
        }
        Ok(())
    }

    fn new_content(&mut self) -> u64 {
        self.next_content += 1;
        self.next_content
    }

    fn insert(&mut self, path: &str, kind: FileKind, mode: u32, size: u64, link: Option<String>, content: Option<u64>) {
        let entry = FileEntry { path: path.to_string(), kind, mode, size, link, hardlink: None };
        self.nodes.insert(path.to_string(), Node { entry, content });
    }

    /// Creates the parent directories `path` needs; a parent that exists
    /// as a file or symlink is an error, so nothing is written through a
    /// link the archive planted.
    fn make_parents(&mut self, path: &str) -> Result<(), UnpackError> {
        for dir in paths::ancestors(path) {
            match self.nodes.get(dir) {
                Some(n) if n.entry.kind == FileKind::Dir => {}
                Some(_) => {
                    return Err(UnpackError::NotADirectory { name: path.to_string(), parent: dir.to_string() });
                }
                None => {
                    fs::create_dir(self.out.join(dir))
                        .map_err(|cause| UnpackError::Write { name: path.to_string(), cause })?;
                    self.insert(dir, FileKind::Dir, IMPLICIT_DIR_MODE, 0, None, None);
                }
            }
        }
        Ok(())
    }

    /// Makes room at `path` for a new member: an earlier file or symlink is
    /// replaced, as tar replaces it; an empty directory too; a directory
    /// with entries is not.
    fn clear(&mut self, path: &str) -> Result<(), UnpackError> {
        let Some(old) = self.nodes.get(path) else { return Ok(()) };
        let on_disk = self.out.join(path);
        let removed = match old.entry.kind {
            FileKind::Symlink => Ok(()),
            FileKind::File => fs::remove_file(&on_disk),
            FileKind::Dir => {
                let prefix = format!("{path}/");
                if self.nodes.range(prefix.clone()..).next().is_some_and(|(k, _)| k.starts_with(&prefix)) {
                    return Err(UnpackError::ReplacesDirectory { name: path.to_string() });
                }
                fs::remove_dir(&on_disk)
            }
        };
        removed.map_err(|cause| UnpackError::Write { name: path.to_string(), cause })?;
        self.nodes.remove(path);
        Ok(())
    }

    fn write_file(&mut self, path: &str, content: &mut dyn Read) -> Result<u64, UnpackError> {
        let write_err = |cause| UnpackError::Write { name: path.to_string(), cause };
        let mut file = fs::File::create(self.out.join(path)).map_err(write_err)?;
        // Counted as the bytes stream: a bomb stops at the cap, before it
        // fills the disk.
        let budget = self.limits.byte_cap().0.saturating_sub(self.bytes);
        let written = io::copy(&mut content.take(budget.saturating_add(1)), &mut file).map_err(write_err)?;
        if written > budget {
            return Err(self.limits.too_large());
        }
        self.bytes += written;
        Ok(written)
    }

    /// The listing: hard-link groups are led by the name that sorts first,
    /// the later names point at it.
    fn finish(self) -> Vec<FileEntry> {
        let mut leader: BTreeMap<u64, String> = BTreeMap::new();
        let mut out = Vec::with_capacity(self.nodes.len());
        for (path, node) in self.nodes {
            let mut entry = node.entry;
            if let Some(content) = node.content {
                match leader.get(&content) {
                    Some(first) => entry.hardlink = Some(first.clone()),
                    None => {
                        leader.insert(content, path);
                    }
                }
            }
            out.push(entry);
        }
        out
    }
}

#[cfg(test)]
mod tests;
