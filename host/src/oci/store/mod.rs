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
//!
//! This module holds the [`Store`] type and its `index.json` handling
//! (open, tag, remove, the atomic rewrite of index.json). The parts live in
//! files of their own: `blob.rs` (writing blobs), `lock.rs` (the store lock
//! and temp cleaning), `fsck.rs`, `gc.rs` and `name.rs` (the rules for image
//! names). Nothing here writes blob content; that is `blob.rs`'s job.

mod blob;
mod fsck;
mod gc;
mod lock;
mod name;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use super::digest::Digest;
use super::error::{Error, IoContext, Result};
use super::layout::Layout;
use super::spec::{self, ANNOTATION_REF_NAME, Descriptor, Index, OCI_LAYOUT_FILE};

pub use blob::BlobWriter;
pub use fsck::{FsckIssue, FsckReport};
pub use gc::GcReport;
pub use name::validate_ref_name;

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
        let lock = lock::open_lock_file(&state_dir)?;
        let store = Store { inner: Arc::new(Inner { layout, lock, state_dir, tmp_dir, active_writers: 0.into() }) };
        store.lock_shared_cleaning_if_alone()?;
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

/// Makes a rename in `dir` durable.
fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).at("sync directory", dir)
}
