//! What the step cache keeps for each kind of step: a packed layer, a
//! transform's layer and listing, an analysis or pipeline step's response
//! and small files. Keys are computed in `keys`; entries from a registry
//! cache are judged in `foreign` before they join these.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use sealbox_guest::{FileEntry, FileKind};

use crate::pipeline::listing::LayerEntry;

use crate::oci::{Compression, Digest, LayerDescriptor};
use crate::tree::TreeWriter;

/// An analysis step's response and the (small) files it wrote, as the
/// cache keeps them.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct CachedOutput {
    pub response: sealbox_guest::Response,
    pub files: BTreeMap<String, Vec<u8>>,
}

impl CachedOutput {
    /// Largest output worth keeping in a cache entry.
    pub const MAX_BYTES: u64 = 1 << 20;

    /// Captures a step's regular-file output, or `None` if it is too large
    /// or holds anything but files and directories.
    pub fn capture(out: &Path, entries: &[FileEntry], response: &sealbox_guest::Response) -> Result<Option<Self>> {
        let total: u64 = entries.iter().map(|e| e.size).sum();
        if total > Self::MAX_BYTES || entries.iter().any(|e| e.kind == FileKind::Symlink) {
            return Ok(None);
        }
        let mut files = BTreeMap::new();
        for e in entries.iter().filter(|e| e.kind == FileKind::File) {
            files.insert(
                e.path.clone(),
                std::fs::read(out.join(&e.path)).with_context(|| format!("reading {}", e.path))?,
            );
        }
        Ok(Some(CachedOutput { response: response.clone(), files }))
    }

    /// Writes the captured files into each tree, as the step's output would
    /// have been.
    pub fn write_into(&self, dests: &[&TreeWriter]) -> Result<()> {
        for (path, content) in &self.files {
            for dest in dests {
                dest.write(path, &mut content.as_slice(), OUTPUT_FILE_MODE)?;
            }
        }
        Ok(())
    }
}

/// The mode of an output file the step reported no mode for.
pub const OUTPUT_FILE_MODE: u32 = 0o644;

/// A pack result as the cache keeps it.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CachedLayer {
    media_type: String,
    digest: String,
    size: u64,
    diff_id: String,
    uncompressed_size: u64,
}

impl CachedLayer {
    /// The layer it names, or `None` when the entry is damaged.
    pub fn descriptor(&self) -> Option<LayerDescriptor> {
        let media_type = Compression::from_media_type(&self.media_type)?.media_type();
        Some(LayerDescriptor {
            media_type,
            digest: Digest::parse(&self.digest).ok()?,
            size: self.size,
            diff_id: Digest::parse(&self.diff_id).ok()?,
            uncompressed_size: self.uncompressed_size,
        })
    }
}

impl From<&LayerDescriptor> for CachedLayer {
    fn from(d: &LayerDescriptor) -> Self {
        CachedLayer {
            media_type: d.media_type.to_string(),
            digest: d.digest.to_string(),
            size: d.size,
            diff_id: d.diff_id.to_string(),
            uncompressed_size: d.uncompressed_size,
        }
    }
}

/// A transform's result as the step cache keeps it: the layer its output
/// was packed into (its top-level `digest` keeps the blob from garbage
/// collection) and the layer listing.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct CachedTransform {
    #[serde(flatten)]
    pub layer: CachedLayer,
    pub listing: Vec<LayerEntry>,
}
