//! `Store::gc` and `Store::try_gc`: remove every blob not reachable from
//! `index.json` or from the caller's keep list, under the exclusive store
//! lock. What was removed is a [`GcReport`]. Checking blob content is
//! fsck's job, not gc's.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;

use super::Store;
use crate::oci::digest::Digest;
use crate::oci::error::{Error, IoContext, Result};
use crate::oci::spec::Descriptor;

impl Store {
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
    use super::super::test_support::{small_image, tmp_entries};
    use super::*;

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
}
