//! Which entries of a registry cache (`--cache-from`) the step cache takes
//! in, and in what form.
//!
//! Whoever can push to a registry cache can write anything under any key,
//! and a key is an opaque digest: the host cannot tell from it which step
//! it belongs to. So entries are judged by shape, parsed strictly (no
//! unknown field) and stored re-serialized, never as sent:
//!
//! - A layer entry (a pack step's layer, or a `RUN --module` transform's
//!   layer and listing) is taken in only when its blob is one of the cache
//!   manifest's layers, with the same size and media type (so it was
//!   checked against its digest when fetched), and when that blob
//!   decompresses to exactly the `diffId` and size the entry claims.
//!   Transform layers are then unpacked by the host's own writer.
//! - An output entry (a response and small files) has the same shape for a
//!   pipeline transform step, a pipeline policy step and the image list. It
//!   is taken in marked [`IMPORTED`]; only the pipeline transform step reads
//!   such an entry (its files are written into a fresh directory and later
//!   policies see them). A policy's verdict and the image list are never
//!   taken from a remote cache: those steps run again.
//! - A documents view (`pipeline::documents`) is refused: policies read
//!   it, so it is made on this machine.
//! - Anything else is refused.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Component, Path};

use serde_json::Value;

use sealbox_guest::Response;

use crate::pipeline::listing::LayerEntry;

use crate::oci::{Compression, Descriptor, Digest, Store};

/// The field that marks an entry taken in from a registry cache.
pub const IMPORTED: &str = "imported";

/// A layer entry exactly as the step cache writes one.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CachedLayerEntry {
    media_type: String,
    digest: String,
    size: u64,
    diff_id: String,
    uncompressed_size: u64,
    /// A transform's layer listing; absent for a pack step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    listing: Option<Vec<LayerEntry>>,
    /// Set on entries this cache imported; ignored here (always set anew).
    #[serde(default, skip_serializing, rename = "imported")]
    _imported: Option<serde::de::IgnoredAny>,
}

/// An output entry exactly as the step cache writes one.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct OutputEntry {
    response: Response,
    files: BTreeMap<String, Vec<u8>>,
    #[serde(default, skip_serializing, rename = "imported")]
    _imported: Option<serde::de::IgnoredAny>,
}

/// Judges the entries of one registry cache.
pub struct Admission<'a> {
    store: &'a Store,
    /// The cache manifest's layers, by digest.
    layers: HashMap<Digest, &'a Descriptor>,
    /// Layers already decompressed: their diff ID and size, or why not.
    checked: HashMap<Digest, Result<(Digest, u64), String>>,
}

impl<'a> Admission<'a> {
    /// Judges entries against the layers of the cache manifest they came
    /// with (each already in `store`, verified).
    pub fn new(store: &'a Store, layers: &'a [Descriptor]) -> Self {
        Admission { store, layers: layers.iter().map(|d| (d.digest.clone(), d)).collect(), checked: HashMap::new() }
    }

    /// The entry to store for the remote `entry`, or why it is refused.
    pub fn admit(&mut self, entry: &Value) -> Result<Value, String> {
        let has = |field: &str| entry.get(field).is_some();
        let media_type = entry.get("mediaType").and_then(Value::as_str);
        if media_type == Some(crate::pipeline::documents::MEDIA_TYPE) {
            return Err("a documents view is made on this machine only: policies read it".into());
        }
        let mut admitted = if has("digest") {
            let layer: CachedLayerEntry =
                serde_json::from_value(entry.clone()).map_err(|e| format!("not a layer entry: {e}"))?;
            self.check_layer(&layer)?;
            serde_json::to_value(&layer)
        } else if has("response") {
            let output: OutputEntry =
                serde_json::from_value(entry.clone()).map_err(|e| format!("not an output entry: {e}"))?;
            check_output(&output)?;
            serde_json::to_value(&output)
        } else {
            return Err("neither a layer nor an output entry".into());
        }
        .map_err(|e| format!("re-serializing: {e}"))?;
        if let Some(map) = admitted.as_object_mut() {
            map.insert(IMPORTED.into(), Value::Bool(true));
        }
        Ok(admitted)
    }

    fn check_layer(&mut self, layer: &CachedLayerEntry) -> Result<(), String> {
        let digest = Digest::parse(&layer.digest).map_err(|e| format!("digest {:?}: {e}", layer.digest))?;
        let diff_id = Digest::parse(&layer.diff_id).map_err(|e| format!("diffId {:?}: {e}", layer.diff_id))?;
        if Compression::from_media_type(&layer.media_type).is_none() {
            return Err(format!("layer {digest} has an unknown media type {:?}", layer.media_type));
        }
        let Some(desc) = self.layers.get(&digest) else {
            return Err(format!("layer {digest} is not one of the cache's layers"));
        };
        if desc.size != layer.size || desc.media_type != layer.media_type {
            return Err(format!(
                "layer {digest}: the entry says {} bytes of {}, the cache manifest {} bytes of {}",
                layer.size, layer.media_type, desc.size, desc.media_type
            ));
        }
        if let Some(listing) = &layer.listing {
            for e in listing {
                for path in [Some(&e.path), e.source.as_ref(), e.hardlink.as_ref()].into_iter().flatten() {
                    if !is_plain_path(path) {
                        return Err(format!("layer {digest}: listing path {path:?} is not a plain relative path"));
                    }
                }
            }
        }
        let (store, desc) = (self.store, *desc);
        let (actual, size) = self
            .checked
            .entry(digest.clone())
            .or_insert_with(|| uncompressed(store, desc, layer.uncompressed_size))
            .clone()?;
        if actual != diff_id || size != layer.uncompressed_size {
            return Err(format!(
                "layer {digest} decompresses to {actual} ({size} bytes), the entry says {diff_id} ({} bytes)",
                layer.uncompressed_size
            ));
        }
        Ok(())
    }
}

/// The digest and size of the uncompressed stream of `desc`, reading at
/// most one byte more than the `claimed` size.
fn uncompressed(store: &Store, desc: &Descriptor, claimed: u64) -> Result<(Digest, u64), String> {
    let reader = crate::oci::layer::open_uncompressed(store.layout(), desc).map_err(|e| e.to_string())?;
    let mut hasher = crate::oci::digest::Hasher::new();
    let size = std::io::copy(&mut reader.take(claimed.saturating_add(1)), &mut hasher)
        .map_err(|e| format!("layer {}: decompressing: {e}", desc.digest))?;
    Ok((hasher.finish(), size))
}

fn check_output(output: &OutputEntry) -> Result<(), String> {
    let total: u64 = output.files.values().map(|f| f.len() as u64).sum();
    if total > super::CachedOutput::MAX_BYTES {
        return Err(format!("its files hold {total} bytes, more than a cache entry keeps"));
    }
    match output.files.keys().find(|p| !is_plain_path(p)) {
        Some(p) => Err(format!("file {p:?} is not a plain relative path")),
        None => Ok(()),
    }
}

/// A non-empty relative path of plain names only (no `.`, `..`, root or
/// NUL).
fn is_plain_path(path: &str) -> bool {
    !path.is_empty()
        && !path.contains('\0')
        && Path::new(path).components().all(|c| matches!(c, Component::Normal(_)))
        && !path.split('/').any(|part| part.is_empty() || part == "." || part == "..")
}

#[cfg(test)]
mod tests;
