//! The memo of file digests by stat fingerprint, which makes an
//! unchanged rebuild's cache keys cheap. Not the cache entries themselves.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Remembers the content digest of files by their stat fingerprint, as
/// git's index does, so an unchanged file is not read again just to
/// compute a cache key. Keys stay content digests; only the reading is
/// saved. A file counts as unchanged when its device, inode, size, mtime
/// and ctime (which no user can set) are all the same.
pub struct HashMemo {
    path: Option<PathBuf>,
    entries: std::sync::Mutex<std::collections::HashMap<FileId, (Fingerprint, String)>>,
    dirty: std::sync::atomic::AtomicBool,
}

/// A file's device and inode.
type FileId = (u64, u64);
/// Size, mtime and ctime (seconds and nanoseconds).
type Fingerprint = (u64, i64, i64, i64, i64);

/// One remembered file, as the memo file stores it.
#[derive(serde::Serialize, serde::Deserialize)]
struct MemoEntry {
    id: FileId,
    fingerprint: Fingerprint,
    digest: String,
}

impl HashMemo {
    /// Loads the memo of the store at `store_root` (empty when caching is
    /// off or the file is missing or damaged).
    pub fn load(store_root: &Path, enabled: bool) -> Self {
        let path = enabled.then(|| store_root.join(".sealbox").join("hash-memo.v2.json"));
        let entries = path
            .as_ref()
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|b| serde_json::from_slice::<Vec<MemoEntry>>(&b).ok())
            .unwrap_or_default()
            .into_iter()
            .map(|e| (e.id, (e.fingerprint, e.digest)))
            .collect();
        HashMemo { path, entries: std::sync::Mutex::new(entries), dirty: Default::default() }
    }

    /// The digest of the file described by `meta`, from the memo when its
    /// fingerprint is unchanged, else from `compute` (and remembered).
    pub fn digest(&self, meta: &cap_std::fs::Metadata, compute: impl FnOnce() -> Result<String>) -> Result<String> {
        use cap_std::fs::MetadataExt;
        // Numbers, not strings: an unchanged rebuild looks up every file.
        let id = (meta.dev(), meta.ino());
        let fingerprint = (meta.len(), meta.mtime(), meta.mtime_nsec(), meta.ctime(), meta.ctime_nsec());
        if let Some((fp, digest)) = self.lock().get(&id)
            && *fp == fingerprint
        {
            return Ok(digest.clone());
        }
        let digest = compute()?;
        if self.path.is_some() {
            self.lock().insert(id, (fingerprint, digest.clone()));
            self.dirty.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(digest)
    }

    /// Writes the memo back if it changed.
    pub fn save(&self) -> Result<()> {
        let Some(path) = &self.path else { return Ok(()) };
        if !self.dirty.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(());
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir).with_context(|| format!("writing in {}", dir.display()))?;
        let entries: Vec<MemoEntry> = self
            .lock()
            .iter()
            .map(|(id, (fingerprint, digest))| MemoEntry { id: *id, fingerprint: *fingerprint, digest: digest.clone() })
            .collect();
        // Buffered: serde_json writes token by token, and a memo of 40,000
        // files was 1.4 million write calls unbuffered.
        let mut out = std::io::BufWriter::with_capacity(1 << 20, &mut tmp);
        serde_json::to_writer(&mut out, &entries)?;
        std::io::Write::flush(&mut out).context("saving the file digest memo")?;
        drop(out);
        tmp.persist(path).context("saving the file digest memo")?;
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<FileId, (Fingerprint, String)>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn memo_rereads_only_changed_files_and_survives_a_reload() {
        let store = tempfile::tempdir().unwrap();
        let files = tempfile::tempdir().unwrap();
        std::fs::write(files.path().join("f"), "one").unwrap();
        let dir = cap_std::fs::Dir::open_ambient_dir(files.path(), cap_std::ambient_authority()).unwrap();
        let reads = Cell::new(0);
        let digest_of = |memo: &HashMemo| {
            let meta = dir.symlink_metadata("f").unwrap();
            memo.digest(&meta, || {
                reads.set(reads.get() + 1);
                Ok(String::from_utf8(dir.read("f").unwrap()).unwrap())
            })
            .unwrap()
        };
        let memo = HashMemo::load(store.path(), true);
        assert_eq!(digest_of(&memo), "one");
        assert_eq!(digest_of(&memo), "one");
        assert_eq!(reads.get(), 1, "an unchanged file is not read again");
        memo.save().unwrap();

        let reloaded = HashMemo::load(store.path(), true);
        assert_eq!(digest_of(&reloaded), "one");
        assert_eq!(reads.get(), 1, "the memo survives a reload");

        // Rewriting the file changes its ctime, whatever its mtime says.
        std::fs::write(files.path().join("f"), "two").unwrap();
        assert_eq!(digest_of(&reloaded), "two");
        assert_eq!(reads.get(), 2);

        let off = HashMemo::load(store.path(), false);
        digest_of(&off);
        digest_of(&off);
        assert_eq!(reads.get(), 4, "with caching off nothing is remembered");
    }
}
