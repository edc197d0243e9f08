//! One listing into one layer blob through the `pack` module, reused from
//! the step cache when its content is unchanged ([`Packer`]), with the
//! modes `--normalize-modes` gives. Which layers an image has, and in what
//! order, is the `pack` and `plan_layers` phases' business.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Result, anyhow};
use cap_std::fs::Dir;
use sealbox_guest::FileKind;

use super::cache::{CachedLayer, StepCache, layer_key};
use super::listing::LayerEntry;
use super::options::BuildOptions;
use super::report::bar;
use super::steps::{LazyBuiltin, ModuleRunner, RunRequest};
use crate::oci::{LayerDescriptor, LayerWriter, Store};
use crate::sandbox::{Limits, SharedWriter};
use crate::tree::FileStats;

/// What packing one layer needs; shared by reference with the thread that
/// packs the plan's layers.
pub struct Packer<'a> {
    pub runner: &'a ModuleRunner,
    /// The `pack` module, loaded when a layer is not in the cache.
    pub pack: &'a LazyBuiltin<'a>,
    pub store: &'a Store,
    pub cache: &'a StepCache,
    pub options: &'a BuildOptions,
    pub work: &'a Path,
}

impl Packer<'_> {
    /// Packs one layer listing read from `source_dir`, or reuses the cached
    /// result for the same content. Says whether it came from the cache.
    /// `stats` holds what the listing already read of the source's files,
    /// by source path (files missing from it are stated here).
    pub fn layer(
        &self,
        source: &Dir,
        source_dir: &Path,
        listing: Arc<Vec<LayerEntry>>,
        stats: &FileStats,
    ) -> Result<(LayerDescriptor, bool)> {
        let options = self.options;
        // Shared with the analysis, which copies from it: copied here only
        // to be changed, or to be handed to the packer on a cache miss.
        let listing = if options.normalize_modes {
            let mut listing = Arc::unwrap_or_clone(listing);
            for e in &mut listing {
                e.mode = normalized_mode(e.kind, e.mode);
            }
            Arc::new(listing)
        } else {
            listing
        };
        let key =
            // Only the context's files outlive the build: remembering the
            // digests of files in the build's own temp trees would only grow the
            // memo by a layer's worth of dead entries per build.
            if options.no_cache {
                None
            } else {
                let memo = (source_dir == options.context.as_path()).then(|| self.cache.memo());
                Some(layer_key(&self.pack.digest, options.compression, options.source_date_epoch, memo, source, &listing, stats)?)
            };
        if let Some(key) = &key
            && let Some(cached) = self.cache.get_shared::<CachedLayer>(key)
            && let Some(desc) = cached.descriptor()
            && self.store.layout().has_blob(&desc.digest)
        {
            return Ok((desc, true));
        }
        // The tar stream is about the files' bytes plus a block per entry.
        let expected: u64 = listing.iter().map(|e| e.size + 512).sum();
        let bar = bar::Bar::new("packing".into(), expected, options.progress_bar);
        let writer = SharedWriter::new(bar.counting(LayerWriter::new(self.store, options.compression)?));
        let (files, sources) = LayerEntry::split(Arc::unwrap_or_clone(listing));
        let mut req = RunRequest::new(if sources.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::json!({ "sources": sources })
        });
        req.files = files;
        req.limits = Limits { stdout: u64::MAX, timeout: std::time::Duration::from_secs(3600), ..Limits::default() };
        let pack = self.pack.module()?;
        let result = self.runner.run("pack", &pack, source_dir, self.work, req, Some(Box::new(writer.clone())));
        let (_outcome, _out) = result?;
        drop(bar);
        let layer_writer = writer.into_inner().ok_or_else(|| anyhow!("the packer still holds the layer writer"))?;
        let desc = layer_writer.inner.finish()?;
        if let Some(key) = &key {
            self.cache.put(key, &CachedLayer::from(&desc))?;
        }
        Ok((desc, false))
    }
}

/// The mode `--normalize-modes` gives an entry: what a git checkout can
/// express, whatever the umask it was made under. Links keep theirs.
pub fn normalized_mode(kind: FileKind, mode: u32) -> u32 {
    match kind {
        FileKind::Dir => 0o755,
        FileKind::File if mode & 0o111 != 0 => 0o755,
        FileKind::File => 0o644,
        FileKind::Symlink => mode,
    }
}
