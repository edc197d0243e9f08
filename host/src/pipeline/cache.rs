//! The step cache: a step whose module, inputs and configuration are
//! unchanged is not run again.
//!
//! Keys are SHA-256 digests over everything a step's result depends on
//! (module digest, config, input content), so a hit is as good as a run.
//! Entries are small JSON files written atomically; a damaged or foreign
//! entry reads as a miss.

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
/// is off.
pub struct StepCache {
    dir: Option<PathBuf>,
}

impl StepCache {
    pub fn new(store_root: &Path, enabled: bool) -> Self {
        StepCache { dir: enabled.then(|| store_root.join(".sealbox").join("steps")) }
    }

    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        let path = self.dir.as_ref()?.join(format!("{key}.json"));
        let bytes = std::fs::read(path).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    pub fn put<T: Serialize>(&self, key: &str, value: &T) -> Result<()> {
        let Some(dir) = &self.dir else { return Ok(()) };
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir).with_context(|| format!("writing in {}", dir.display()))?;
        serde_json::to_writer(&mut tmp, value)?;
        tmp.persist(dir.join(format!("{key}.json"))).context("saving a step cache entry")?;
        Ok(())
    }
}
