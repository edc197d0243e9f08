//! The step cache: a step whose module, inputs and configuration are
//! unchanged is not run again.
//!
//! Keys are SHA-256 digests over everything a step's result depends on
//! (module digest, config, input content), so a hit is as good as a run.
//! Entries are small JSON files written atomically; a damaged entry reads
//! as a miss. Entries taken in from a registry cache (`--cache-from`) are
//! checked and marked on the way in (see [`foreign`]); only
//! [`StepCache::get_shared`] returns them, so a step whose result decides
//! something (a policy's verdict, the image list) reads with
//! [`StepCache::get`] and never trusts another machine's word.

mod foreign;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

/// Builds a cache key from the parts a result depends on.
#[derive(Clone)]
pub struct KeyBuilder(Sha256);

impl KeyBuilder {
    /// A key for a step of `kind` (`pack`, `render`…), versioned so that a
    /// change in what the key covers never reuses old entries.
    pub fn new(kind: &str) -> Self {
        KeyBuilder(Sha256::new().chain_update(b"sealbox step cache v1\0").chain_update(kind).chain_update([0]))
    }

    /// Adds one length-prefixed part, so `("ab","c")` and `("a","bc")` differ.
    pub fn part(mut self, bytes: impl AsRef<[u8]>) -> Self {
        let b = bytes.as_ref();
        self.0.update((b.len() as u64).to_le_bytes());
        self.0.update(b);
        self
    }

    pub fn finish(self) -> String {
        hex::encode(self.0.finalize())
    }
}

/// The cache directory (`<store>/.sealbox/steps`), or nothing when caching
/// is off, with the memo of file digests its keys are computed from.
pub struct StepCache {
    dir: Option<PathBuf>,
    memo: HashMemo,
    /// Keys this build read or wrote, for `--cache-to`.
    touched: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

impl StepCache {
    pub fn new(store_root: &Path, enabled: bool) -> Self {
        StepCache {
            dir: enabled.then(|| store_root.join(".sealbox").join("steps")),
            memo: HashMemo::load(store_root, enabled),
            touched: Default::default(),
        }
    }

    /// The blob digests cached step results point at, so garbage
    /// collection can keep them.
    pub fn blobs(store_root: &Path) -> Vec<crate::oci::Digest> {
        let dir = store_root.join(".sealbox").join("steps");
        let Ok(entries) = std::fs::read_dir(dir) else { return vec![] };
        entries
            .filter_map(|e| std::fs::read(e.ok()?.path()).ok())
            .filter_map(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .filter_map(|v| crate::oci::Digest::parse(v.get("digest")?.as_str()?).ok())
            .collect()
    }

    /// The file digest memo.
    pub fn memo(&self) -> &HashMemo {
        &self.memo
    }

    /// Saves what the cache learnt during this build.
    pub fn save(&self) -> Result<()> {
        self.memo.save()
    }

    /// The entry of `key` if this machine made it: an entry imported from a
    /// registry cache reads as a miss.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        self.read(key, false)
    }

    /// The entry of `key`, made here or imported from a registry cache
    /// (checked on the way in). Only for results the host checks again or
    /// that later policies see: layers whose blob was verified, transform
    /// outputs.
    pub fn get_shared<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        self.read(key, true)
    }

    fn read<T: DeserializeOwned>(&self, key: &str, imported_ok: bool) -> Option<T> {
        /// Just the marker; every other field is skipped.
        #[derive(serde::Deserialize)]
        struct Marker {
            #[serde(default)]
            imported: Option<serde::de::IgnoredAny>,
        }
        let path = self.dir.as_ref()?.join(format!("{key}.json"));
        let bytes = std::fs::read(path).ok()?;
        if !imported_ok && serde_json::from_slice::<Marker>(&bytes).ok()?.imported.is_some() {
            return None;
        }
        let value = serde_json::from_slice(&bytes).ok()?;
        self.touch(key);
        Some(value)
    }

    /// Adds an entry made elsewhere (`--cache-from`) and admitted by
    /// [`foreign`], unless the key has one already.
    fn insert_foreign(&self, key: &str, entry: &serde_json::Value) -> Result<bool> {
        let Some(dir) = &self.dir else { return Ok(false) };
        if dir.join(format!("{key}.json")).exists() {
            return Ok(false);
        }
        self.put(key, entry)?;
        self.touched.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
        Ok(true)
    }

    /// The entries this build used or made, by key, for `--cache-to`.
    pub fn touched_entries(&self) -> std::collections::BTreeMap<String, serde_json::Value> {
        let Some(dir) = &self.dir else { return Default::default() };
        let keys = self.touched.lock().unwrap_or_else(|p| p.into_inner()).clone();
        keys.into_iter()
            .filter_map(|k| {
                let bytes = std::fs::read(dir.join(format!("{k}.json"))).ok()?;
                Some((k, serde_json::from_slice(&bytes).ok()?))
            })
            .collect()
    }

    /// Seeds this cache from the registry cache `from`: every blob is
    /// verified against its digest, and only the entries [`foreign`] admits
    /// are taken in, marked as imported. Keys this cache has already are
    /// left alone.
    pub fn import_remote(
        &self,
        store: &crate::oci::Store,
        from: &crate::registry::Reference,
        registry: &crate::registry::Options,
    ) -> Result<ImportReport> {
        let remote = crate::registry::cache::import(store, from, registry)?;
        let mut report = ImportReport { total: remote.entries.len(), ..Default::default() };
        let Some(dir) = &self.dir else { return Ok(report) };
        let mut admission = foreign::Admission::new(store, &remote.layers);
        for (key, entry) in &remote.entries {
            if dir.join(format!("{key}.json")).exists() {
                continue;
            }
            match admission.admit(entry) {
                Ok(entry) => {
                    if self.insert_foreign(key, &entry)? {
                        report.new += 1;
                    }
                }
                Err(why) => report.refused.push(format!("entry {key}: {why}")),
            }
        }
        Ok(report)
    }

    /// Pushes the entries this build used or made to the registry cache
    /// `to`; returns how many.
    pub fn export_remote(
        &self,
        store: &crate::oci::Store,
        to: &crate::registry::Reference,
        registry: &crate::registry::Options,
    ) -> Result<usize> {
        let entries = self.touched_entries();
        let n = entries.len();
        crate::registry::cache::export(store, entries, to, registry)?;
        Ok(n)
    }

    fn touch(&self, key: &str) {
        self.touched.lock().unwrap_or_else(|p| p.into_inner()).insert(key.to_string());
    }

    pub fn put<T: Serialize>(&self, key: &str, value: &T) -> Result<()> {
        let Some(dir) = &self.dir else { return Ok(()) };
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir).with_context(|| format!("writing in {}", dir.display()))?;
        serde_json::to_writer(&mut tmp, value)?;
        tmp.persist(dir.join(format!("{key}.json"))).context("saving a step cache entry")?;
        self.touch(key);
        Ok(())
    }
}

/// What `--cache-from` took in from one registry cache.
#[derive(Debug, Default)]
pub struct ImportReport {
    /// Entries the registry cache had.
    pub total: usize,
    /// Entries taken in (new here and admitted).
    pub new: usize,
    /// Entries refused, each with why.
    pub refused: Vec<String>,
}

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
        serde_json::to_writer(&mut tmp, &entries)?;
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
    fn keys_separate_their_parts() {
        let a = KeyBuilder::new("pack").part("ab").part("c").finish();
        let b = KeyBuilder::new("pack").part("a").part("bc").finish();
        let c = KeyBuilder::new("render").part("ab").part("c").finish();
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(a, KeyBuilder::new("pack").part("ab").part("c").finish());
    }

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
