//! The step cache in a registry (`build --cache-to REF` / `--cache-from
//! REF`), so CI machines that build the same context share step results.
//!
//! A cache is an OCI manifest: its config (`application/vnd.sealbox.step-
//! cache.v1+json`) maps step-cache keys to the entries the local cache
//! keeps, unchanged, and its layers are the blobs those entries point at
//! (packed layers). Keys are content digests of everything a step depends
//! on, so an entry made on one machine is as good as a run on another —
//! when that machine is honest. Whoever can push to the cache is not
//! trusted: every blob is verified against its digest when it is fetched,
//! and the step cache admits only some kinds of entries, checked (see
//! `pipeline::cache`).

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::client::Options;
use super::reference::Reference;
use super::transfer::{self, TransferReport};
use crate::oci::spec::{self, Manifest};
use crate::oci::{Descriptor, Digest, Store};

/// The media type of a cache manifest's config.
pub const MEDIA_TYPE_CACHE_CONFIG: &str = "application/vnd.sealbox.step-cache.v1+json";

/// The config of a cache manifest.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CacheConfig {
    /// Step-cache key to entry, as the local cache stores it.
    entries: BTreeMap<String, Value>,
}

/// Pushes `entries` (key to entry) and the blobs they point at to `dest`.
/// Entries whose blob the store no longer has are left out.
pub fn export(
    store: &Store,
    entries: BTreeMap<String, Value>,
    dest: &Reference,
    options: &Options,
) -> Result<TransferReport> {
    let mut kept = BTreeMap::new();
    let mut layers: BTreeMap<Digest, Descriptor> = BTreeMap::new();
    for (key, entry) in entries {
        if let Some(d) = entry.get("digest").and_then(Value::as_str) {
            let Ok(digest) = Digest::parse(d) else { continue };
            let path = store.layout().blob_path(&digest);
            let Ok(meta) = std::fs::metadata(&path) else { continue };
            let media_type = entry.get("mediaType").and_then(Value::as_str).unwrap_or("application/octet-stream");
            layers.insert(digest.clone(), Descriptor::new(media_type, digest, meta.len()));
        }
        kept.insert(key, entry);
    }
    let config = serde_json::to_vec(&CacheConfig { entries: kept })?;
    let config = store.put_blob(MEDIA_TYPE_CACHE_CONFIG, &config)?;
    let manifest = store.put_json(spec::MEDIA_TYPE_MANIFEST, &Manifest::new(config, layers.into_values().collect()))?;
    transfer::push(store, &manifest, dest, options)
}

/// At most this many entries are read from a registry cache; a cache
/// with more is refused whole (a build makes a few hundred).
pub const MAX_ENTRIES: usize = 100_000;

/// A registry cache as fetched: its entries, not yet trusted, and the
/// layers its manifest carries.
pub struct RemoteCache {
    /// Step-cache key to entry, keys checked to be digests and entries to
    /// be objects; nothing else is checked here.
    pub entries: BTreeMap<String, Value>,
    /// The manifest's layers: every one is in the store, its bytes checked
    /// against its digest and size when it was fetched.
    pub layers: Vec<Descriptor>,
}

/// Fetches the cache `src` into `store` (every blob verified against its
/// digest) and returns its entries and layers. Which entries may be used
/// is the step cache's to judge (`pipeline::cache`).
pub fn import(store: &Store, src: &Reference, options: &Options) -> Result<RemoteCache> {
    let (desc, _) = transfer::fetch(store, src, options)?;
    let (_, manifest) = store.layout().manifest_for(&desc, None)?;
    if manifest.config.media_type != MEDIA_TYPE_CACHE_CONFIG {
        bail!("{src} is not a sealbox step cache (its config is {})", manifest.config.media_type);
    }
    // `read_json` checks the config's digest and caps its size.
    let config: CacheConfig = store.layout().read_json(&manifest.config).with_context(|| format!("reading {src}"))?;
    if config.entries.len() > MAX_ENTRIES {
        bail!("{src} has {} entries, more than the {MAX_ENTRIES} a step cache is read with", config.entries.len());
    }
    let mut entries = BTreeMap::new();
    for (key, entry) in config.entries {
        // Keys become file names in the store: only digests are accepted.
        if key.len() != 64 || !key.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            bail!("{src}: {key:?} is not a step-cache key");
        }
        if !entry.is_object() {
            bail!("{src}: the entry of {key} is not an object");
        }
        entries.insert(key, entry);
    }
    Ok(RemoteCache { entries, layers: manifest.layers })
}

#[cfg(test)]
#[path = "cache_tests.rs"]
mod tests;
