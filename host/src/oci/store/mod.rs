//! The local image store: an OCI image layout that sealbox writes to, safe
//! against concurrent builds and against a process killed at any moment.
//!
//! Layout on disk, under the store root:
//!
//! ```text
//! oci-layout                  {"imageLayoutVersion":"1.0.0"}
//! index.json                  one entry per image name (ref.name annotation)
//! blobs/sha256/<hex>          content-addressed blobs
//! .sealbox/lock               shared by every open store, exclusive for gc
//! .sealbox/index.lock         exclusive while index.json is rewritten
//! .sealbox/tmp/               blobs and index.json being written
//! ```
//!
//! Why it is crash-safe: a blob is written to a temp file, fsynced, then
//! renamed to its digest, so a blob file is either absent or complete.
//! `index.json` is replaced the same way, only after every blob it refers to
//! is in place, so it never names a missing blob and is never half-written.
//! A killed build leaves temp files (removed by the next process that opens
//! the store alone) and unreferenced blobs (removed by [`Store::gc`]).
//!
//! Why it is safe with concurrent builds: blob writes never conflict (same
//! name, same bytes; rename is atomic), and index updates are serialised by
//! `index.lock` as read-modify-write. `gc` and temp cleaning need the store
//! lock exclusively, so they never remove a blob that a running build has
//! written but not yet named in `index.json`.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;
use serde::Serialize;
use tempfile::NamedTempFile;

use super::digest::{Digest, Hasher};
use super::error::{Error, IoContext, Result};
use super::layout::Layout;
use super::spec::{self, ANNOTATION_REF_NAME, Descriptor, Index, OCI_LAYOUT_FILE};

/// The local image store. Cheap to clone; every clone shares one lock.
#[derive(Clone, Debug)]
pub struct Store {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    layout: Layout,
    /// `.sealbox/lock`, held shared while the store is open.
    lock: File,
    state_dir: PathBuf,
    tmp_dir: PathBuf,
    /// Blob writers of this process that have not committed or dropped.
    active_writers: AtomicUsize,
}

impl Store {
    /// Opens the store at `root`, creating the layout if needed. Holds a
    /// shared lock until the last clone is dropped. If no other process has
    /// the store open, removes temp files left by killed processes.
    pub fn open(root: &Path) -> Result<Store> {
        let layout = Layout::unchecked(root);
        let state_dir = root.join(".sealbox");
        let tmp_dir = state_dir.join("tmp");
        for dir in [layout.blob_dir(), tmp_dir.clone()] {
            std::fs::create_dir_all(&dir).at("create directory", &dir)?;
        }
        let lock_path = state_dir.join("lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&lock_path)
            .at("open", &lock_path)?;
        let store = Store { inner: Arc::new(Inner { layout, lock, state_dir, tmp_dir, active_writers: 0.into() }) };
        match store.inner.lock.try_lock() {
            Ok(()) => {
                // Alone: temp files are leftovers of killed processes.
                let cleaned = store.clean_tmp();
                store.inner.lock.unlock().at("unlock", &lock_path)?;
                cleaned?;
            }
            Err(std::fs::TryLockError::WouldBlock) => {}
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io("lock", &lock_path, e)),
        }
        store.inner.lock.lock_shared().at("lock", &lock_path)?;
        store.init_layout()?;
        Ok(store)
    }

    /// The store's layout, for reading.
    pub fn layout(&self) -> &Layout {
        &self.inner.layout
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        self.inner.layout.root()
    }

    /// Every named image, sorted by name.
    pub fn images(&self) -> Result<Vec<(String, Descriptor)>> {
        self.layout().images()
    }

    /// The image named `reference` (or with that manifest digest).
    pub fn resolve(&self, reference: &str) -> Result<Descriptor> {
        self.layout().resolve(reference)
    }

    /// Starts writing a blob. Its bytes land in a temp file in the store and
    /// become a blob only on [`BlobWriter::commit`].
    pub fn blob_writer(&self) -> Result<BlobWriter> {
        let tmp = tempfile::Builder::new()
            .prefix("blob-")
            .tempfile_in(&self.inner.tmp_dir)
            .at("create temp file in", &self.inner.tmp_dir)?;
        self.inner.active_writers.fetch_add(1, Ordering::SeqCst);
        let file = tmp.reopen().at("reopen", tmp.path())?;
        Ok(BlobWriter {
            store: self.clone(),
            tmp: Some(tmp),
            out: BufWriter::with_capacity(256 << 10, file),
            hasher: Hasher::new(),
            writeback_started: 0,
        })
    }

    /// Stores `bytes` as a blob of `media_type`.
    pub fn put_blob(&self, media_type: &str, bytes: &[u8]) -> Result<Descriptor> {
        let digest = Digest::of(bytes);
        if !self.layout().has_blob(&digest) {
            let mut w = self.blob_writer()?;
            w.write_all(bytes).at("write", &self.inner.tmp_dir)?;
            w.commit()?;
        }
        Ok(Descriptor::new(media_type, digest, bytes.len() as u64))
    }

    /// Stores `value` as canonical JSON of `media_type`.
    pub fn put_json<T: Serialize>(&self, media_type: &str, value: &T) -> Result<Descriptor> {
        self.put_blob(media_type, &spec::to_canonical_json(value))
    }

    /// Copies every blob reachable from `desc` in `from` that this store
    /// lacks, checking each one's digest on the way.
    pub fn import(&self, from: &Layout, desc: &Descriptor) -> Result<()> {
        for d in from.closure(desc)? {
            if self.layout().has_blob(&d.digest) {
                continue;
            }
            let mut src = from.open_blob(&d)?;
            let mut w = self.blob_writer()?;
            io::copy(&mut src, &mut w).map_err(|e| Error::io("copy", &from.blob_path(&d.digest), e))?;
            w.commit_expecting(&d.digest)?;
        }
        Ok(())
    }

    /// Names `desc` `name` in `index.json`, replacing any image of that name.
    /// Refuses when a blob reachable from `desc` is missing, so a name never
    /// points at a partial image.
    pub fn tag(&self, name: &str, desc: &Descriptor) -> Result<()> {
        validate_ref_name(name)?;
        for d in self.layout().closure(desc)? {
            self.layout().open_blob(&d)?;
        }
        let mut entry = desc.clone();
        entry.annotations.insert(ANNOTATION_REF_NAME.into(), name.into());
        self.update_index(|index| {
            index.manifests.retain(|d| d.ref_name() != Some(name));
            index.manifests.push(entry);
            Ok(())
        })
    }

    /// Adds `desc` to `index.json` without a name (as `skopeo copy` to
    /// `oci:DIR` does), unless an entry with its digest is there. Refuses
    /// when a blob reachable from `desc` is missing.
    pub fn add_unnamed(&self, desc: &Descriptor) -> Result<()> {
        for d in self.layout().closure(desc)? {
            self.layout().open_blob(&d)?;
        }
        self.update_index(|index| {
            if !index.manifests.iter().any(|d| d.digest == desc.digest) {
                index.manifests.push(desc.clone());
            }
            Ok(())
        })
    }

    /// Removes the name `name` from `index.json` and returns what it named.
    /// Blobs stay until [`Store::gc`].
    pub fn remove(&self, name: &str) -> Result<Descriptor> {
        self.update_index(|index| {
            let pos = index.manifests.iter().position(|d| d.ref_name() == Some(name));
            let pos = pos.ok_or_else(|| Error::NotFound(format!("no image named {name:?}")))?;
            Ok(index.manifests.remove(pos))
        })
    }

    /// Checks the store: every blob's content against its name, every blob
    /// reachable from `index.json` present with the right size, every index
    /// and manifest parseable. With `repair`, removes corrupt blobs (waiting
    /// for other processes to close the store first).
    pub fn fsck(&self, repair: bool) -> Result<FsckReport> {
        let _exclusive = if repair { Some(self.exclusive(true)?) } else { None };
        let mut report = FsckReport::default();
        let blob_dir = self.layout().blob_dir();
        // Hash blobs in parallel: fsck of a big store is bound by sha256.
        let blobs = self.list_blobs(&mut report.stray)?;
        let hashed: Vec<Option<(Digest, u64, bool)>> = blobs
            .into_par_iter()
            .map(|(digest, path)| {
                let mut hasher = Hasher::new();
                match File::open(&path).and_then(|mut f| io::copy(&mut f, &mut hasher)) {
                    Ok(len) => {
                        let intact = hasher.finish() == digest;
                        Ok(Some((digest, len, intact)))
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None), // gc'd meanwhile
                    Err(e) => Err(Error::io("read", &path, e)),
                }
            })
            .collect::<Result<_>>()?;
        for (digest, len, intact) in hashed.into_iter().flatten() {
            report.blobs += 1;
            report.bytes += len;
            if !intact {
                report.issues.push(FsckIssue::Corrupt { digest });
            }
        }
        let corrupt: BTreeSet<Digest> = report.issues.iter().map(|i| i.digest().clone()).collect();
        let mut visited = BTreeSet::new();
        for top in self.layout().index()?.manifests {
            let referrer = top.ref_name().map(str::to_string).unwrap_or_else(|| "index.json".into());
            self.check_reachable(&top, &referrer, &corrupt, &mut visited, &mut report.issues);
        }
        if repair {
            for digest in &corrupt {
                let path = blob_dir.join(digest.hex());
                std::fs::remove_file(&path).at("remove corrupt blob", &path)?;
                report.removed.push(digest.clone());
            }
        }
        Ok(report)
    }

    fn check_reachable(
        &self,
        desc: &Descriptor,
        referrer: &str,
        corrupt: &BTreeSet<Digest>,
        visited: &mut BTreeSet<Digest>,
        issues: &mut Vec<FsckIssue>,
    ) {
        if !visited.insert(desc.digest.clone()) || corrupt.contains(&desc.digest) {
            return;
        }
        let path = self.layout().blob_path(&desc.digest);
        match std::fs::metadata(&path) {
            Err(_) => {
                issues.push(FsckIssue::Missing { digest: desc.digest.clone(), referrer: referrer.into() });
                return;
            }
            Ok(meta) if meta.len() != desc.size => {
                issues.push(FsckIssue::WrongSize {
                    digest: desc.digest.clone(),
                    referrer: referrer.into(),
                    expected: desc.size,
                    actual: meta.len(),
                });
                return;
            }
            Ok(_) => {}
        }
        match self.layout().children(desc) {
            Ok(children) => {
                let referrer = desc.digest.to_string();
                for child in &children {
                    self.check_reachable(child, &referrer, corrupt, visited, issues);
                }
            }
            Err(e) => issues.push(FsckIssue::Unreadable { digest: desc.digest.clone(), reason: e.to_string() }),
        }
    }

    /// Removes every blob not reachable from `index.json` or from `keep`
    /// (for example layers a build cache refers to), and stale temp files.
    /// Waits until no other process has the store open; refuses while this
    /// process is writing a blob.
    pub fn gc(&self, keep: &[Digest]) -> Result<GcReport> {
        let _exclusive = self.exclusive(true)?;
        self.gc_locked(keep)
    }

    /// Like [`Store::gc`], but returns `Ok(None)` at once instead of waiting
    /// when another process has the store open (a build is running).
    pub fn try_gc(&self, keep: &[Digest]) -> Result<Option<GcReport>> {
        match self.exclusive(false) {
            Ok(_exclusive) => self.gc_locked(keep).map(Some),
            Err(Error::Busy(_)) if self.inner.active_writers.load(Ordering::SeqCst) == 0 => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn gc_locked(&self, keep: &[Digest]) -> Result<GcReport> {
        let mut live: BTreeSet<Digest> = keep.iter().cloned().collect();
        for top in self.layout().index()?.manifests {
            self.mark_live(&top, &mut live);
        }
        let mut report = GcReport::default();
        let mut stray = vec![];
        for (digest, path) in self.list_blobs(&mut stray)? {
            if live.contains(&digest) {
                continue;
            }
            let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            std::fs::remove_file(&path).at("remove", &path)?;
            report.removed.push(digest);
            report.bytes += len;
        }
        self.clean_tmp()?;
        Ok(report)
    }

    /// Marks `desc` and what it refers to as live. A blob that cannot be
    /// read or parsed still counts as live itself; what it would refer to is
    /// unknown, and `fsck` reports it.
    fn mark_live(&self, desc: &Descriptor, live: &mut BTreeSet<Digest>) {
        if !live.insert(desc.digest.clone()) {
            return;
        }
        if let Ok(children) = self.layout().children(desc) {
            for child in &children {
                self.mark_live(child, live);
            }
        }
    }

    /// Every well-named blob file; other files go to `stray`.
    fn list_blobs(&self, stray: &mut Vec<PathBuf>) -> Result<Vec<(Digest, PathBuf)>> {
        let dir = self.layout().blob_dir();
        let mut out = vec![];
        for entry in std::fs::read_dir(&dir).at("list", &dir)? {
            let entry = entry.at("list", &dir)?;
            let name = entry.file_name();
            match name.to_str().and_then(Digest::from_hex) {
                Some(d) => out.push((d, entry.path())),
                None => stray.push(entry.path()),
            }
        }
        out.sort();
        stray.sort();
        Ok(out)
    }

    /// Takes the store lock exclusively until the guard drops, then goes
    /// back to shared. Without `wait`, fails with [`Error::Busy`] when
    /// another process has the store open.
    fn exclusive(&self, wait: bool) -> Result<ExclusiveGuard<'_>> {
        if self.inner.active_writers.load(Ordering::SeqCst) > 0 {
            return Err(Error::Busy("the store has blobs being written by this process".into()));
        }
        let path = self.inner.state_dir.join("lock");
        self.inner.lock.unlock().at("unlock", &path)?;
        let locked = if wait {
            self.inner.lock.lock().map_err(|e| Error::io("lock", &path, e))
        } else {
            self.inner.lock.try_lock().map_err(|e| match e {
                std::fs::TryLockError::WouldBlock => Error::Busy("another process is using the store".into()),
                std::fs::TryLockError::Error(e) => Error::io("lock", &path, e),
            })
        };
        if let Err(e) = locked {
            // Keep the promise that an open store holds its shared lock.
            let _ = self.inner.lock.lock_shared();
            return Err(e);
        }
        Ok(ExclusiveGuard { store: self })
    }

    /// Removes everything in the temp dir. Only called with the store lock
    /// held exclusively, so no one is writing there.
    fn clean_tmp(&self) -> Result<()> {
        let dir = &self.inner.tmp_dir;
        for entry in std::fs::read_dir(dir).at("list", dir)? {
            let path = entry.at("list", dir)?.path();
            let removed = if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
            match removed {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(Error::io("remove", &path, e)),
                _ => {}
            }
        }
        Ok(())
    }

    /// Writes `oci-layout` and an empty `index.json` when missing.
    fn init_layout(&self) -> Result<()> {
        let root = self.root();
        if !root.join("oci-layout").exists() {
            self.write_atomic(&root.join("oci-layout"), OCI_LAYOUT_FILE.as_bytes())?;
        }
        if !root.join("index.json").exists() {
            self.update_index(|_| Ok(()))?;
        }
        Ok(())
    }

    /// Read-modify-writes `index.json` under the index lock, keeping its
    /// entries sorted by name then digest.
    fn update_index<R>(&self, change: impl FnOnce(&mut Index) -> Result<R>) -> Result<R> {
        let lock_path = self.inner.state_dir.join("index.lock");
        let lock =
            OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path).at("open", &lock_path)?;
        lock.lock().at("lock", &lock_path)?;
        let index_path = self.root().join("index.json");
        let mut index = if index_path.exists() { self.layout().index()? } else { Index::default() };
        let result = change(&mut index)?;
        index
            .manifests
            .sort_by(|a, b| (a.ref_name().unwrap_or(""), &a.digest).cmp(&(b.ref_name().unwrap_or(""), &b.digest)));
        self.write_atomic(&index_path, &spec::to_canonical_json(&index))?;
        Ok(result)
    }

    /// Replaces `path` with `bytes` via a synced temp file and rename.
    fn write_atomic(&self, path: &Path, bytes: &[u8]) -> Result<()> {
        let dir = &self.inner.tmp_dir;
        let mut tmp = tempfile::Builder::new().prefix("file-").tempfile_in(dir).at("create temp file in", dir)?;
        tmp.write_all(bytes).at("write", tmp.path())?;
        tmp.as_file().sync_all().at("sync", tmp.path())?;
        tmp.persist(path).map_err(|e| Error::io("rename into place", path, e.error))?;
        sync_dir(path.parent().unwrap_or(Path::new(".")))
    }
}

struct ExclusiveGuard<'a> {
    store: &'a Store,
}

impl Drop for ExclusiveGuard<'_> {
    fn drop(&mut self) {
        // Unlock then relock shared: flock conversion is not atomic anyway.
        let _ = self.store.inner.lock.unlock();
        let _ = self.store.inner.lock.lock_shared();
    }
}

/// A blob being written: bytes go to a temp file in the store and are hashed
/// as they pass. Dropped without [`BlobWriter::commit`], the temp file is
/// removed and nothing changes in the store.
pub struct BlobWriter {
    store: Store,
    tmp: Option<NamedTempFile>,
    out: BufWriter<File>,
    hasher: Hasher,
    /// Bytes already handed to the kernel's writeback.
    writeback_started: u64,
}

/// How many written bytes wait before their writeback is started.
const WRITEBACK_STEP: u64 = 32 << 20;

impl BlobWriter {
    /// Starts writing the bytes that reached the file to disk, without
    /// waiting, once enough have gathered: the fsync at commit then finds
    /// little left, instead of stalling on a whole layer's worth.
    fn start_writeback(&mut self) {
        let in_file = self.hasher.len() - self.out.buffer().len() as u64;
        if in_file - self.writeback_started < WRITEBACK_STEP {
            return;
        }
        use std::os::fd::AsRawFd;
        let (offset, len) = (self.writeback_started, in_file - self.writeback_started);
        // SAFETY: sync_file_range touches no memory of ours, and the fd is
        // open for the whole call. SYNC_FILE_RANGE_WRITE only queues
        // writeback. Best effort: on an error the fsync does all the work.
        unsafe {
            libc::sync_file_range(
                self.out.get_ref().as_raw_fd(),
                offset as libc::off64_t,
                len as libc::off64_t,
                libc::SYNC_FILE_RANGE_WRITE,
            );
        }
        self.writeback_started = in_file;
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.hasher.len()
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.hasher.is_empty()
    }

    /// Syncs the temp file and renames it to its digest. Returns the digest
    /// and size.
    pub fn commit(mut self) -> Result<(Digest, u64)> {
        let digest = self.hasher.clone().finish();
        self.commit_as(&digest)
    }

    /// Like [`BlobWriter::commit`], but fails (and stores nothing) unless the
    /// content hashes to `expected`.
    pub fn commit_expecting(mut self, expected: &Digest) -> Result<(Digest, u64)> {
        let digest = self.hasher.clone().finish();
        if &digest != expected {
            return Err(Error::Corrupt { digest: expected.to_string(), detail: format!("content hashes to {digest}") });
        }
        self.commit_as(&digest)
    }

    fn commit_as(&mut self, digest: &Digest) -> Result<(Digest, u64)> {
        let Some(tmp) = self.tmp.take() else {
            return Err(Error::Invalid("blob writer already committed".into()));
        };
        self.out.flush().at("write", tmp.path())?;
        self.out.get_ref().sync_all().at("sync", tmp.path())?;
        let dest = self.store.layout().blob_path(digest);
        tmp.persist(&dest).map_err(|e| Error::io("rename into place", &dest, e.error))?;
        sync_dir(&self.store.layout().blob_dir())?;
        Ok((digest.clone(), self.hasher.len()))
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.start_writeback();
        Ok(n)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.out.write_all(buf)?;
        self.hasher.update(buf);
        self.start_writeback();
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        // The NamedTempFile (if still there) removes itself.
        self.store.inner.active_writers.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Makes a rename in `dir` durable.
fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).at("sync directory", dir)
}

/// Checks `name` against the grammar of `org.opencontainers.image.ref.name`
/// (components of alphanumerics joined by `-._:@+` or `--`, separated by
/// `/`), the same check `skopeo` applies to `oci:DIR:NAME`.
pub fn validate_ref_name(name: &str) -> Result<()> {
    let bad = || Error::Invalid(format!("invalid image name {name:?}: use letters, digits and -._:@+/"));
    for component in name.split('/') {
        let bytes = component.as_bytes();
        let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else { return Err(bad()) };
        if !first.is_ascii_alphanumeric() || !last.is_ascii_alphanumeric() {
            return Err(bad());
        }
        let mut run = 0;
        for &b in bytes {
            if b.is_ascii_alphanumeric() {
                run = 0;
            } else if b"-._:@+".contains(&b) {
                run += 1;
                // Two separators in a row only as `--`.
                if run > 2 || (run == 2 && b != b'-') {
                    return Err(bad());
                }
            } else {
                return Err(bad());
            }
        }
    }
    Ok(())
}

/// What [`Store::fsck`] found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FsckReport {
    /// Blobs checked.
    pub blobs: usize,
    /// Their total size.
    pub bytes: u64,
    /// Problems, blob checks first.
    pub issues: Vec<FsckIssue>,
    /// Files in `blobs/sha256` whose names are not digests.
    pub stray: Vec<PathBuf>,
    /// Corrupt blobs removed (with `repair`).
    pub removed: Vec<Digest>,
}

impl FsckReport {
    /// Whether the store has no corrupt, missing or unreadable blob.
    pub fn is_ok(&self) -> bool {
        self.issues.is_empty()
    }
}

/// One problem [`Store::fsck`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FsckIssue {
    /// The blob's content does not hash to its name.
    Corrupt {
        /// The blob's name.
        digest: Digest,
    },
    /// A referenced blob is absent.
    Missing {
        /// The missing blob.
        digest: Digest,
        /// The image name or blob that refers to it.
        referrer: String,
    },
    /// A referenced blob's size differs from its descriptor.
    WrongSize {
        /// The blob.
        digest: Digest,
        /// The image name or blob that refers to it.
        referrer: String,
        /// Size in the descriptor.
        expected: u64,
        /// Size on disk.
        actual: u64,
    },
    /// An index or manifest that cannot be parsed.
    Unreadable {
        /// The blob.
        digest: Digest,
        /// Why.
        reason: String,
    },
}

impl FsckIssue {
    /// The blob the issue is about.
    pub fn digest(&self) -> &Digest {
        match self {
            FsckIssue::Corrupt { digest }
            | FsckIssue::Missing { digest, .. }
            | FsckIssue::WrongSize { digest, .. }
            | FsckIssue::Unreadable { digest, .. } => digest,
        }
    }
}

impl std::fmt::Display for FsckIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FsckIssue::Corrupt { digest } => write!(f, "corrupt blob {digest}: content does not match its digest"),
            FsckIssue::Missing { digest, referrer } => write!(f, "missing blob {digest} (referenced by {referrer})"),
            FsckIssue::WrongSize { digest, referrer, expected, actual } => {
                write!(f, "blob {digest} has {actual} bytes, {referrer} says {expected}")
            }
            FsckIssue::Unreadable { digest, reason } => write!(f, "unreadable blob {digest}: {reason}"),
        }
    }
}

/// What [`Store::gc`] removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GcReport {
    /// Blobs removed.
    pub removed: Vec<Digest>,
    /// Bytes freed.
    pub bytes: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::spec::{
        ImageConfig, MEDIA_TYPE_CONFIG, MEDIA_TYPE_LAYER_TAR, MEDIA_TYPE_MANIFEST, Manifest, Platform,
    };

    /// A one-layer image in `store`; returns its manifest descriptor.
    fn small_image(store: &Store, seed: &str) -> Descriptor {
        let layer = store.put_blob(MEDIA_TYPE_LAYER_TAR, seed.as_bytes()).unwrap();
        let mut config = ImageConfig::new(&Platform::new("linux", "amd64", None));
        config.rootfs.diff_ids.push(layer.digest.clone());
        let config = store.put_json(MEDIA_TYPE_CONFIG, &config).unwrap();
        store.put_json(MEDIA_TYPE_MANIFEST, &Manifest::new(config, vec![layer])).unwrap()
    }

    fn tmp_entries(root: &Path) -> Vec<PathBuf> {
        let mut v: Vec<_> = std::fs::read_dir(root.join(".sealbox/tmp")).unwrap().map(|e| e.unwrap().path()).collect();
        v.sort();
        v
    }

    #[test]
    fn open_creates_a_valid_empty_layout() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("root")).unwrap();
        let root = store.root();
        assert_eq!(std::fs::read_to_string(root.join("oci-layout")).unwrap(), OCI_LAYOUT_FILE);
        assert_eq!(
            std::fs::read_to_string(root.join("index.json")).unwrap(),
            r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#
        );
        assert!(root.join("blobs/sha256").is_dir());
        assert!(Layout::open(root).is_ok());
        assert!(store.images().unwrap().is_empty());
    }

    #[test]
    fn blobs_are_content_addressed_and_deduplicated() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let a = store.put_blob("x", b"hello").unwrap();
        let b = store.put_blob("x", b"hello").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.digest, Digest::of(b"hello"));
        assert_eq!(a.size, 5);
        assert_eq!(std::fs::read(store.layout().blob_path(&a.digest)).unwrap(), b"hello");
        assert_eq!(store.layout().read_blob(&a).unwrap(), b"hello");
        assert_eq!(std::fs::read_dir(store.layout().blob_dir()).unwrap().count(), 1);
        assert!(tmp_entries(dir.path()).is_empty());
    }

    #[test]
    fn a_dropped_blob_writer_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut w = store.blob_writer().unwrap();
        w.write_all(b"partial").unwrap();
        assert_eq!(tmp_entries(dir.path()).len(), 1);
        drop(w);
        assert!(tmp_entries(dir.path()).is_empty());
        assert_eq!(std::fs::read_dir(store.layout().blob_dir()).unwrap().count(), 0);
    }

    #[test]
    fn commit_expecting_rejects_wrong_content() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut w = store.blob_writer().unwrap();
        w.write_all(b"actual").unwrap();
        let err = w.commit_expecting(&Digest::of(b"expected")).unwrap_err();
        assert!(matches!(err, Error::Corrupt { .. }), "{err}");
        assert!(!store.layout().has_blob(&Digest::of(b"actual")));
        assert!(tmp_entries(dir.path()).is_empty());
    }

    #[test]
    fn tag_resolve_list_and_remove() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let one = small_image(&store, "one");
        let two = small_image(&store, "two");
        store.tag("example.com/b:v1", &one).unwrap();
        store.tag("a:latest", &two).unwrap();
        store.tag("example.com/b:v1", &two).unwrap(); // replaces
        let names: Vec<_> = store.images().unwrap().into_iter().map(|(n, d)| (n, d.digest)).collect();
        assert_eq!(
            names,
            vec![("a:latest".to_string(), two.digest.clone()), ("example.com/b:v1".to_string(), two.digest.clone())]
        );
        assert_eq!(store.resolve("a:latest").unwrap().digest, two.digest);
        assert_eq!(store.resolve(&two.digest.to_string()).unwrap().digest, two.digest);
        assert!(matches!(store.resolve("missing:1"), Err(Error::NotFound(_))));
        assert_eq!(store.remove("a:latest").unwrap().digest, two.digest);
        assert!(matches!(store.remove("a:latest"), Err(Error::NotFound(_))));
        assert_eq!(store.images().unwrap().len(), 1);
        // A second handle (another "process") sees the same index.
        let other = Store::open(dir.path()).unwrap();
        assert_eq!(other.resolve("example.com/b:v1").unwrap().digest, two.digest);
    }

    #[test]
    fn tag_refuses_an_image_with_a_missing_blob() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let layer = Descriptor::new(MEDIA_TYPE_LAYER_TAR, Digest::of(b"never written"), 13);
        let config = store.put_json(MEDIA_TYPE_CONFIG, &ImageConfig::new(&Platform::new("linux", "amd64", None)));
        let manifest = store.put_json(MEDIA_TYPE_MANIFEST, &Manifest::new(config.unwrap(), vec![layer])).unwrap();
        let err = store.tag("x:1", &manifest).unwrap_err();
        assert!(matches!(err, Error::NotFound(_)), "{err}");
        assert!(store.images().unwrap().is_empty());
    }

    #[test]
    fn invalid_names_are_refused() {
        for good in ["a", "a:b", "docker.io/library/nginx:1.25", "x--y", "a@sha256:00", "a+b", "A0.b_c"] {
            assert!(validate_ref_name(good).is_ok(), "{good}");
        }
        for bad in ["", "/a", "a/", "a//b", ":a", "a:", "a..b", "a b", "a\nb", "../x", "a/../b", "ä", "a---b"] {
            assert!(validate_ref_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn leftover_temp_files_are_cleaned_only_when_alone() {
        let dir = tempfile::tempdir().unwrap();
        drop(Store::open(dir.path()).unwrap());
        // What a killed process leaves: a half-written blob and index.
        std::fs::write(dir.path().join(".sealbox/tmp/blob-killed"), b"half").unwrap();
        std::fs::write(dir.path().join(".sealbox/tmp/file-killed"), b"{\"schemaVer").unwrap();
        let busy = Store::open(dir.path()).unwrap(); // cleans: alone
        assert!(tmp_entries(dir.path()).is_empty());
        std::fs::write(dir.path().join(".sealbox/tmp/blob-inflight"), b"x").unwrap();
        let second = Store::open(dir.path()).unwrap(); // not alone: must keep it
        assert_eq!(tmp_entries(dir.path()).len(), 1);
        drop(second);
        drop(busy);
        let _third = Store::open(dir.path()).unwrap();
        assert!(tmp_entries(dir.path()).is_empty());
        assert!(Layout::open(dir.path()).unwrap().index().is_ok());
    }

    #[test]
    fn concurrent_tagging_loses_no_update() {
        let dir = tempfile::tempdir().unwrap();
        let setup = Store::open(dir.path()).unwrap();
        let image = small_image(&setup, "shared");
        std::thread::scope(|s| {
            for t in 0..4 {
                let (root, image) = (dir.path(), &image);
                s.spawn(move || {
                    // Separate handles lock like separate processes.
                    let store = Store::open(root).unwrap();
                    for i in 0..10 {
                        store.put_blob("x", format!("{t}-{i}").as_bytes()).unwrap();
                        store.tag(&format!("img{t}:{i}"), image).unwrap();
                    }
                });
            }
        });
        let images = setup.images().unwrap();
        assert_eq!(images.len(), 40);
        assert!(images.iter().all(|(_, d)| d.digest == image.digest));
    }

    #[test]
    fn fsck_finds_corrupt_and_missing_blobs_and_repair_removes_corrupt_ones() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let image = small_image(&store, "layer bytes");
        store.tag("ok:1", &image).unwrap();
        let clean = store.fsck(false).unwrap();
        assert!(clean.is_ok(), "{:?}", clean.issues);
        assert_eq!(clean.blobs, 3);

        let manifest: Manifest = store.layout().read_json(&image).unwrap();
        let layer = &manifest.layers[0];
        std::fs::write(store.layout().blob_path(&layer.digest), b"layer bytez").unwrap();
        std::fs::remove_file(store.layout().blob_path(&manifest.config.digest)).unwrap();
        std::fs::write(store.layout().blob_dir().join("not-a-digest"), b"").unwrap();
        let report = store.fsck(false).unwrap();
        assert!(!report.is_ok());
        assert!(report.issues.contains(&FsckIssue::Corrupt { digest: layer.digest.clone() }));
        assert!(report.issues.contains(&FsckIssue::Missing {
            digest: manifest.config.digest.clone(),
            referrer: image.digest.to_string()
        }));
        assert_eq!(report.stray, vec![store.layout().blob_dir().join("not-a-digest")]);

        let repaired = store.fsck(true).unwrap();
        assert_eq!(repaired.removed, vec![layer.digest.clone()]);
        assert!(!store.layout().has_blob(&layer.digest));
    }

    #[test]
    fn gc_removes_only_unreferenced_blobs() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let image = small_image(&store, "kept");
        store.tag("keep:1", &image).unwrap();
        let dropped = small_image(&store, "dropped");
        let cached = store.put_blob("x", b"cache entry").unwrap();
        std::fs::write(dir.path().join(".sealbox/tmp/blob-old"), b"x").unwrap();
        let report = store.gc(std::slice::from_ref(&cached.digest)).unwrap();
        assert_eq!(report.removed.len(), 3, "{report:?}"); // dropped's layer, config, manifest
        assert!(report.removed.contains(&dropped.digest));
        assert!(store.layout().has_blob(&cached.digest));
        assert!(store.fsck(false).unwrap().is_ok());
        assert_eq!(store.fsck(false).unwrap().blobs, 4);
        assert!(tmp_entries(dir.path()).is_empty());
        // The store is usable (shared lock back) after gc.
        store.put_blob("x", b"after gc").unwrap();
        let _other = Store::open(dir.path()).unwrap();
    }

    #[test]
    fn try_gc_does_not_wait_for_other_users() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.put_blob("x", b"garbage").unwrap();
        let other = Store::open(dir.path()).unwrap(); // a running build
        assert_eq!(store.try_gc(&[]).unwrap(), None);
        assert!(store.layout().has_blob(&Digest::of(b"garbage")));
        drop(other);
        let report = store.try_gc(&[]).unwrap().unwrap();
        assert_eq!(report.removed, vec![Digest::of(b"garbage")]);
        // Still usable, still shared: another handle can open it.
        let _again = Store::open(dir.path()).unwrap();
    }

    #[test]
    fn gc_refuses_while_this_process_writes_a_blob() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let writer = store.blob_writer().unwrap();
        assert!(matches!(store.gc(&[]), Err(Error::Busy(_))));
        drop(writer);
        assert!(store.gc(&[]).is_ok());
    }

    /// Run as a child process by `a_killed_build_leaves_a_consistent_store`:
    /// builds and tags images in a loop until killed.
    fn keep_building(root: &Path) -> ! {
        use crate::oci::layer::LayerWriter;
        use crate::oci::spec::Compression;
        let store = Store::open(root).unwrap();
        let chunk: Vec<u8> = (0..1u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        for i in 0.. {
            let mut w = LayerWriter::new(&store, Compression::Gzip).unwrap();
            for _ in 0..8 {
                w.write_all(&chunk).unwrap();
            }
            w.write_all(format!("{i}").as_bytes()).unwrap();
            let layer = w.finish().unwrap();
            let mut config = ImageConfig::new(&Platform::new("linux", "amd64", None));
            config.rootfs.diff_ids.push(layer.diff_id.clone());
            let config = store.put_json(MEDIA_TYPE_CONFIG, &config).unwrap();
            let manifest =
                store.put_json(MEDIA_TYPE_MANIFEST, &Manifest::new(config, vec![layer.descriptor()])).unwrap();
            store.tag(&format!("img:{}", i % 3), &manifest).unwrap();
        }
        unreachable!()
    }

    #[test]
    fn a_killed_build_leaves_a_consistent_store() {
        const CHILD: &str = "SEALBOX_OCI_TEST_BUILD_ROOT";
        if let Some(root) = std::env::var_os(CHILD) {
            keep_building(Path::new(&root));
        }
        let dir = tempfile::tempdir().unwrap();
        let exe = std::env::current_exe().unwrap();
        for delay_ms in [150, 400, 900, 1300] {
            let mut child = std::process::Command::new(&exe)
                .args(["--exact", "oci::store::tests::a_killed_build_leaves_a_consistent_store", "--nocapture"])
                .env(CHILD, dir.path())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(std::time::Duration::from_millis(delay_ms));
            child.kill().unwrap(); // SIGKILL: no destructor runs
            child.wait().unwrap();
            let store = Store::open(dir.path()).unwrap(); // alone: cleans temp files
            assert!(tmp_entries(dir.path()).is_empty());
            let report = store.fsck(false).unwrap();
            assert!(report.is_ok(), "after a kill at {delay_ms} ms: {:?}", report.issues);
            for (name, desc) in store.images().unwrap() {
                let (_, manifest) = store.layout().manifest_for(&desc, None).unwrap();
                assert_eq!(manifest.layers.len(), 1, "{name}");
            }
        }
        // The children got far enough to name images, so the checks above
        // looked at real content.
        assert!(!Store::open(dir.path()).unwrap().images().unwrap().is_empty());
    }

    #[test]
    fn import_copies_and_verifies_the_closure() {
        let src_dir = tempfile::tempdir().unwrap();
        let src = Store::open(src_dir.path()).unwrap();
        let image = small_image(&src, "imported");
        let dst_dir = tempfile::tempdir().unwrap();
        let dst = Store::open(dst_dir.path()).unwrap();
        dst.import(src.layout(), &image).unwrap();
        dst.tag("copy:1", &image).unwrap();
        assert!(dst.fsck(false).unwrap().is_ok());
        assert_eq!(dst.fsck(false).unwrap().blobs, 3);

        // A corrupt source blob is refused and nothing half-copied remains.
        let other = small_image(&src, "corrupted");
        let m: Manifest = src.layout().read_json(&other).unwrap();
        std::fs::write(src.layout().blob_path(&m.layers[0].digest), b"corruptex").unwrap();
        let err = dst.import(src.layout(), &other).unwrap_err();
        assert!(matches!(err, Error::Corrupt { .. }), "{err}");
        assert!(!dst.layout().has_blob(&m.layers[0].digest));
        assert!(tmp_entries(dst_dir.path()).is_empty());
    }
}
