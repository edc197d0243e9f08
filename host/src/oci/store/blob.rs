//! Writing blobs into the store: [`BlobWriter`] (temp file, hashed as it
//! passes, fsynced and renamed to its digest on commit) and the `Store`
//! methods built on it (`blob_writer`, `put_blob`, `put_json`, `import`).
//! Nothing here touches `index.json` or the store lock: a blob is only
//! named by the index once `mod.rs` tags it.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::sync::atomic::Ordering;

use serde::Serialize;
use tempfile::NamedTempFile;

use super::{Store, sync_dir};
use crate::oci::digest::{Digest, Hasher};
use crate::oci::error::{Error, IoContext, Result};
use crate::oci::layout::Layout;
use crate::oci::spec::{self, Descriptor};

impl Store {
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

#[cfg(test)]
mod tests {
    use super::super::test_support::{small_image, tmp_entries};
    use super::*;
    use crate::oci::spec::Manifest;

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
