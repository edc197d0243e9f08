//! The store lock: `.sealbox/lock` is held shared by every open store and
//! exclusively by gc, fsck repair and temp cleaning, so none of them removes
//! a file a running build has written but not yet named. Also the cleaning
//! of `.sealbox/tmp`, which needs that exclusive lock. The index lock
//! (`.sealbox/index.lock`) is not here: it belongs to the index update in
//! `mod.rs`.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;
use std::sync::atomic::Ordering;

use super::Store;
use crate::oci::error::{Error, IoContext, Result};

/// Opens (creating if needed) `.sealbox/lock` under `state_dir`, unlocked.
pub(super) fn open_lock_file(state_dir: &Path) -> Result<File> {
    let lock_path = state_dir.join("lock");
    OpenOptions::new().create(true).truncate(false).read(true).write(true).open(&lock_path).at("open", &lock_path)
}

impl Store {
    /// Takes the store lock shared, for as long as the store is open. When
    /// no other process has the store open, first removes the temp files
    /// that killed processes left.
    pub(super) fn lock_shared_cleaning_if_alone(&self) -> Result<()> {
        let lock_path = self.inner.state_dir.join("lock");
        match self.inner.lock.try_lock() {
            Ok(()) => {
                // Alone: temp files are leftovers of killed processes.
                let cleaned = self.clean_tmp();
                self.inner.lock.unlock().at("unlock", &lock_path)?;
                cleaned?;
            }
            Err(std::fs::TryLockError::WouldBlock) => {}
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io("lock", &lock_path, e)),
        }
        self.inner.lock.lock_shared().at("lock", &lock_path)
    }

    /// Takes the store lock exclusively until the guard drops, then goes
    /// back to shared. Without `wait`, fails with [`Error::Busy`] when
    /// another process has the store open.
    pub(super) fn exclusive(&self, wait: bool) -> Result<ExclusiveGuard<'_>> {
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
    pub(super) fn clean_tmp(&self) -> Result<()> {
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
}

/// Holds the store lock exclusively; dropping it goes back to shared.
pub(super) struct ExclusiveGuard<'a> {
    store: &'a Store,
}

impl Drop for ExclusiveGuard<'_> {
    fn drop(&mut self) {
        // Unlock then relock shared: flock conversion is not atomic anyway.
        let _ = self.store.inner.lock.unlock();
        let _ = self.store.inner.lock.lock_shared();
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::tmp_entries;
    use super::*;
    use crate::oci::layout::Layout;

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
}
