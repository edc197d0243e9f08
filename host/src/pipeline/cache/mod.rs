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

mod entries;
mod foreign;
mod keys;
mod memo;

pub use entries::{CachedLayer, CachedOutput, CachedTransform, OUTPUT_FILE_MODE};
pub use keys::{KeyBuilder, layer_key, tree_key};
pub use memo::HashMemo;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;
use serde::de::DeserializeOwned;

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
        // One write, not one per JSON token.
        std::io::Write::write_all(&mut tmp, &serde_json::to_vec(value)?).context("writing a step cache entry")?;
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
