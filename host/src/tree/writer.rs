//! The one way the host writes into a tree that untrusted input shaped.
//!
//! Every operation starts from the tree's directory handle and reaches its
//! target one name at a time without following a symlink: `openat2` with
//! `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS` where the kernel has it, else
//! `O_NOFOLLOW` per component. Symlinks are data here: the writer creates,
//! replaces and removes them but never goes through one, so no link in the
//! tree, however it is chained, can send a write outside it.
//!
//! Files are replaced by unlinking and creating anew (`O_CREAT | O_EXCL`),
//! never truncated in place, so a hard link to a file elsewhere is never
//! written through either. Modes are set with `fchmod` on the open handle:
//! exactly what the caller asks, never what the umask leaves, and never
//! set-id or sticky bits (these are host files).

use std::io::{self, Read};
use std::os::fd::AsFd;
use std::path::Path;

use anyhow::{Context, Result, bail};
use cap_fs_ext::{FollowSymlinks, OpenOptionsFollowExt};
use cap_std::fs::{Dir, Metadata, OpenOptions};
use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

/// The permission bits a host-written file or directory may carry: set-id
/// and sticky bits are always dropped.
pub const PERMISSION_BITS: u32 = 0o777;

/// The mode of a directory nobody gave a mode: a parent the writer makes on
/// its own, or one a layer implies; whatever the umask.
pub const IMPLICIT_DIR_MODE: u32 = 0o755;

/// What the writer does when something other than what it needs stands at
/// a path: a file or link where a directory is needed, a link or directory
/// where a file goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Replace it, as a later image layer replaces what an earlier one put
    /// at the same path. For trees the host made itself.
    Replace,
    /// Refuse, naming it (replacing a regular file with a new one is still
    /// allowed). For trees the operator owns (`sealbox render` in place),
    /// where replacing someone's link would be a surprise.
    Refuse,
}

/// Writes into one directory tree without ever leaving it.
pub struct TreeWriter {
    root: Dir,
    existing: Existing,
    /// The tree as messages name it.
    shown: String,
}

impl TreeWriter {
    /// A writer for the directory at `root`, a path the host or operator
    /// chose (links in the path itself are the operator's and are
    /// followed; nothing below it is).
    pub fn open(root: &Path, existing: Existing) -> Result<TreeWriter> {
        let dir = Dir::open_ambient_dir(root, cap_std::ambient_authority())
            .with_context(|| format!("opening {}", root.display()))?;
        Ok(TreeWriter::new(dir, existing, root.display().to_string()))
    }

    /// A writer for an open directory; `shown` names it in messages.
    pub fn new(root: Dir, existing: Existing, shown: impl Into<String>) -> TreeWriter {
        TreeWriter { root, existing, shown: shown.into() }
    }

    /// The tree's directory handle, for reading.
    pub fn dir(&self) -> &Dir {
        &self.root
    }

    /// Makes `path` a directory with `mode`, and any missing parent one
    /// with [`IMPLICIT_DIR_MODE`]. An existing directory keeps its entries
    /// and takes `mode`.
    pub fn create_dir(&self, path: &str, mode: u32) -> Result<()> {
        check_plain(path)?;
        let dir = self.make_dir(path).with_context(|| self.context("creating", path))?;
        chmod(&dir, mode).with_context(|| self.context("setting the mode of", path))
    }

    /// Creates the regular file `path` with `mode`, replacing whatever was
    /// there (see [`Existing`]), and returns it open for writing.
    pub fn create_file(&self, path: &str, mode: u32) -> Result<std::fs::File> {
        let (parent, name) = self.parent(path, true)?.ok_or_else(|| self.missing(path))?;
        self.clear(&parent, path, name, Wanted::File)?;
        let mut options = OpenOptions::new();
        options.write(true).create_new(true).follow(FollowSymlinks::No);
        let file = parent.open_with(name, &options).with_context(|| self.context("creating", path))?;
        chmod(&file, mode).with_context(|| self.context("setting the mode of", path))?;
        Ok(file.into_std())
    }

    /// Writes `content` to the regular file `path` with `mode` (see
    /// [`TreeWriter::create_file`]); returns the bytes written. Between two
    /// files the copy stays in the kernel.
    pub fn write<R: Read + ?Sized>(&self, path: &str, content: &mut R, mode: u32) -> Result<u64> {
        let mut file = self.create_file(path, mode)?;
        io::copy(content, &mut file).with_context(|| self.context("writing", path))
    }

    /// Creates `path` (as [`TreeWriter::create_file`]) holding the first
    /// `len` bytes of `from`, whose holes stay holes: a sparse file costs
    /// the disk what it holds, not what it claims. Returns the new file and
    /// how many bytes of `from` it covers (fewer than `len` when `from` is
    /// shorter).
    pub fn copy_file(&self, path: &str, from: &std::fs::File, len: u64, mode: u32) -> Result<(std::fs::File, u64)> {
        let to = self.create_file(path, mode)?;
        let copied = copy_sparse(from, &to, len).with_context(|| self.context("copying into", path))?;
        Ok((to, copied))
    }

    /// Makes `path` a symlink to `target`, stored as text and never
    /// resolved here.
    pub fn symlink(&self, path: &str, target: &str) -> Result<()> {
        let (parent, name) = self.parent(path, true)?.ok_or_else(|| self.missing(path))?;
        self.clear(&parent, path, name, Wanted::Symlink)?;
        rustix::fs::symlinkat(target, &parent, name)
            .map_err(io::Error::from)
            .with_context(|| self.context("linking", path))
    }

    /// Makes `path` another name of the file at `existing` (both in this
    /// tree). A link at `existing` is linked as a link, not followed.
    pub fn hard_link(&self, path: &str, existing: &str) -> Result<()> {
        let (from_dir, from_name) = self.parent(existing, false)?.ok_or_else(|| self.missing(existing))?;
        let (parent, name) = self.parent(path, true)?.ok_or_else(|| self.missing(path))?;
        self.clear(&parent, path, name, Wanted::File)?;
        rustix::fs::linkat(&from_dir, from_name, &parent, name, rustix::fs::AtFlags::empty())
            .map_err(io::Error::from)
            .with_context(|| self.context("linking", path))
    }

    /// Moves the entry at `from_path` under `from` to `path` in this tree,
    /// replacing what was there; neither side follows a link.
    pub fn rename_from(&self, from: &Dir, from_path: &str, path: &str) -> Result<()> {
        let (from_dir, from_name) = open_parent(from, from_path)
            .with_context(|| format!("opening the parent of {from_path}"))?
            .ok_or_else(|| anyhow::anyhow!("{from_path}: no such file"))?;
        let (parent, name) = self.parent(path, true)?.ok_or_else(|| self.missing(path))?;
        self.clear(&parent, path, name, Wanted::File)?;
        rustix::fs::renameat(&from_dir, from_name, &parent, name)
            .map_err(io::Error::from)
            .with_context(|| self.context("moving into place", path))
    }

    /// Removes `path`, a directory with everything in it, a file or a
    /// link (the link, not what it points at). A path that does not exist,
    /// or lies below a link or a file, is already gone from this tree.
    pub fn remove(&self, path: &str) -> Result<()> {
        let Some((parent, name)) = self.parent(path, false)? else { return Ok(()) };
        match parent.symlink_metadata(name) {
            Ok(meta) if meta.is_dir() => parent.remove_dir_all(name),
            Ok(_) => parent.remove_file(name),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
        .with_context(|| self.context("removing", path))
    }

    /// The metadata of `path` itself (a link is not followed), or `None`
    /// when nothing is there or a parent is not a directory.
    pub fn metadata(&self, path: &str) -> Result<Option<Metadata>> {
        let Some((parent, name)) = self.parent(path, false)? else { return Ok(None) };
        match parent.symlink_metadata(name) {
            Ok(meta) => Ok(Some(meta)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| self.context("reading", path)),
        }
    }

    /// The directory holding `path` and the last name of `path`. With
    /// `create`, missing parents are made and anything else standing in
    /// their way is replaced or refused; without, `None` when a parent is
    /// missing or not a directory.
    fn parent<'p>(&self, path: &'p str, create: bool) -> Result<Option<(Dir, &'p str)>> {
        check_plain(path)?;
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
        let parent = if create {
            Some(self.make_dir(dir).with_context(|| self.context("creating the parent of", path))?)
        } else {
            open_dir(&self.root, dir).with_context(|| self.context("opening the parent of", path))?
        };
        Ok(parent.map(|p| (p, name)))
    }

    /// Opens the directory `path` (`""` is the root), making it and its
    /// parents where missing.
    fn make_dir(&self, path: &str) -> Result<Dir> {
        if let Some(dir) = open_dir(&self.root, path)? {
            return Ok(dir);
        }
        let mut cur = self.root.try_clone()?;
        let mut end = 0;
        for name in path.split('/') {
            end += name.len() + usize::from(end > 0);
            let here = &path[..end];
            match cur.symlink_metadata(name) {
                Ok(meta) if meta.is_dir() => {}
                Ok(meta) => {
                    self.refuse_or_replace(&cur, here, name, &meta)?;
                    mkdir(&cur, name)?;
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => mkdir(&cur, name)?,
                Err(e) => return Err(e.into()),
            }
            // A name swapped for a link since the check fails here
            // (O_NOFOLLOW) instead of being followed.
            cur = open_child_dir(&cur, name)?;
        }
        Ok(cur)
    }

    /// Clears the place of `name` in `parent` for a new entry of kind
    /// `wanted`.
    fn clear(&self, parent: &Dir, path: &str, name: &str, wanted: Wanted) -> Result<()> {
        match parent.symlink_metadata(name) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).with_context(|| self.context("reading", path)),
            // Replacing a file with a file is what every writer does.
            Ok(meta) if meta.is_file() && wanted == Wanted::File => {
                parent.remove_file(name).with_context(|| self.context("replacing", path))
            }
            Ok(meta) => self.refuse_or_replace(parent, path, name, &meta),
        }
    }

    /// Refuses or removes what stands at `name` in `parent` (`meta`, as the
    /// caller just read it), by the writer's [`Existing`] policy.
    fn refuse_or_replace(&self, parent: &Dir, path: &str, name: &str, meta: &Metadata) -> Result<()> {
        if self.existing == Existing::Refuse {
            if meta.file_type().is_symlink() {
                let target = parent.read_link_contents(name).map(|t| t.display().to_string()).unwrap_or_default();
                bail!("{}: is a symlink to {target:?}; sealbox does not write through links", self.name(path));
            }
            let what = if meta.is_dir() { "a directory" } else { "a file" };
            bail!("{}: is {what}, which sealbox will not replace here", self.name(path));
        }
        if meta.is_dir() { parent.remove_dir_all(name) } else { parent.remove_file(name) }
            .with_context(|| self.context("replacing", path))
    }

    fn name(&self, path: &str) -> String {
        format!("{}/{path}", self.shown)
    }

    fn context(&self, what: &str, path: &str) -> String {
        format!("{what} {}", self.name(path))
    }

    fn missing(&self, path: &str) -> anyhow::Error {
        anyhow::anyhow!("{}: a parent directory is missing or is not a directory", self.name(path))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wanted {
    File,
    Symlink,
}

/// Copies the first `len` bytes of `from` to `to`, data extent by data
/// extent (`SEEK_DATA`/`SEEK_HOLE`), each in the kernel
/// (`copy_file_range`); the length is set at the end so trailing holes
/// stay holes. Returns the bytes of `from` covered.
fn copy_sparse(from: &std::fs::File, to: &std::fs::File, len: u64) -> io::Result<u64> {
    use rustix::fs::SeekFrom;
    let len = len.min(from.metadata()?.len());
    let mut pos = 0;
    while pos < len {
        let start = match rustix::fs::seek(from, SeekFrom::Data(pos)) {
            Ok(start) => start,
            // Only holes from here to the end.
            Err(Errno::NXIO) => break,
            // A file system that cannot tell: every byte is data.
            Err(Errno::INVAL | Errno::OPNOTSUPP) => pos,
            Err(e) => return Err(e.into()),
        };
        if start >= len {
            break;
        }
        let end = match rustix::fs::seek(from, SeekFrom::Hole(start)) {
            Ok(end) => end.min(len),
            Err(Errno::INVAL | Errno::OPNOTSUPP) => len,
            Err(e) => return Err(e.into()),
        };
        copy_range(from, to, start, end)?;
        pos = end;
    }
    to.set_len(len)?;
    Ok(len)
}

/// Copies bytes `start..end` of `from` to the same offsets of `to`.
fn copy_range(from: &std::fs::File, to: &std::fs::File, start: u64, end: u64) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let (mut off_in, mut off_out) = (start, start);
    while off_in < end {
        let want = usize::try_from(end - off_in).unwrap_or(usize::MAX).min(1 << 30);
        match rustix::fs::copy_file_range(from, Some(&mut off_in), to, Some(&mut off_out), want) {
            // The file shrank under us: what is left reads as a hole.
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(Errno::XDEV | Errno::NOSYS | Errno::INVAL | Errno::OPNOTSUPP) => {
                // No in-kernel copy between these files: a buffer of ours.
                let mut buf = vec![0u8; 1 << 20];
                while off_in < end {
                    let n = usize::try_from(end - off_in).unwrap_or(usize::MAX).min(buf.len());
                    let read = from.read_at(&mut buf[..n], off_in)?;
                    if read == 0 {
                        return Ok(());
                    }
                    to.write_all_at(&buf[..read], off_out)?;
                    off_in += read as u64;
                    off_out += read as u64;
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Refuses anything but a plain relative path: no `..`, `.`, empty name,
/// leading `/` or NUL.
fn check_plain(path: &str) -> Result<()> {
    if path.is_empty() || path.contains('\0') || path.split('/').any(|c| c.is_empty() || c == "." || c == "..") {
        bail!("{path:?}: not a plain relative path");
    }
    Ok(())
}

/// Opens the directory `path` under `root` (`""` is `root`) without
/// following any link on the way; `None` when a component is missing, a
/// link or not a directory.
pub(super) fn open_dir(root: &Dir, path: &str) -> io::Result<Option<Dir>> {
    if path.is_empty() {
        return root.try_clone().map(Some);
    }
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
    match rustix::fs::openat2(root, path, flags, Mode::empty(), resolve) {
        Ok(fd) => return Ok(Some(Dir::from_std_file(std::fs::File::from(fd)))),
        Err(Errno::NOENT | Errno::NOTDIR | Errno::LOOP) => return Ok(None),
        // No openat2 (older kernels, some seccomp filters) or a rename
        // raced the lookup: the component walk below is always right.
        Err(Errno::NOSYS | Errno::PERM | Errno::AGAIN | Errno::XDEV | Errno::INVAL) => {}
        Err(e) => return Err(e.into()),
    }
    let mut cur = root.try_clone()?;
    for name in path.split('/') {
        cur = match open_child_dir(&cur, name) {
            Ok(dir) => dir,
            Err(e) if is_not_a_dir(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
    }
    Ok(Some(cur))
}

/// The parent directory of `path` under `root`, opened without following
/// links, and the last name of `path`.
fn open_parent<'p>(root: &Dir, path: &'p str) -> Result<Option<(Dir, &'p str)>> {
    check_plain(path)?;
    let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
    Ok(open_dir(root, dir)?.map(|d| (d, name)))
}

fn is_not_a_dir(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR | libc::ELOOP)) || e.kind() == io::ErrorKind::NotFound
}

/// Opens the directory `name` (one component) in `parent`, never through a
/// link, as a real descriptor (cap-std's own may be `O_PATH`, which
/// `fchmod` refuses).
fn open_child_dir(parent: &Dir, name: &str) -> io::Result<Dir> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(parent, name, flags, Mode::empty())?;
    Ok(Dir::from_std_file(std::fs::File::from(fd)))
}

fn mkdir(parent: &Dir, name: &str) -> io::Result<()> {
    parent.create_dir(name)?;
    chmod(&open_child_dir(parent, name)?, IMPLICIT_DIR_MODE)
}

fn chmod(fd: &impl AsFd, mode: u32) -> io::Result<()> {
    rustix::fs::fchmod(fd, Mode::from_raw_mode(mode & PERMISSION_BITS)).map_err(Into::into)
}
