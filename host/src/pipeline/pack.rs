//! Packing layers: one listing into one layer blob through the `pack`
//! module, reused from the step cache when its content is unchanged
//! ([`Packer`]), and phase 4, the layers packed after the analysis: the
//! pipeline file's transform outputs around a last layer of rendered
//! files and the image list. The plan's own layers are packed, earlier
//! and on a thread of their own, by `plan_layers`.

use std::path::Path;
use std::time::Instant;

use anyhow::{Result, anyhow};
use cap_std::fs::Dir;
use sealbox_guest::{FileEntry, FileKind};

use super::BuildOptions;
use super::analyse::Analysed;
use super::build::Build;
use super::cache::{CachedLayer, StepCache, layer_key};
use super::plan_layers::PackedLayers;
use super::report::{bar, human_size};
use super::stages::StageOutput;
use super::steps::{ModuleRunner, RunRequest};
use crate::oci::spec::{self, History};
use crate::oci::{LayerDescriptor, LayerWriter, Store};
use crate::sandbox::{Limits, Module, SharedWriter};

/// What packing one layer needs; shared by reference with the thread that
/// packs the plan's layers.
pub struct Packer<'a> {
    pub runner: &'a ModuleRunner,
    /// The `pack` module.
    pub pack: &'a Module,
    pub store: &'a Store,
    pub cache: &'a StepCache,
    pub options: &'a BuildOptions,
    pub work: &'a Path,
}

impl<'a> Packer<'a> {
    pub fn new(
        runner: &'a ModuleRunner,
        pack: &'a Module,
        store: &'a Store,
        cache: &'a StepCache,
        options: &'a BuildOptions,
        work: &'a Path,
    ) -> Self {
        Packer { runner, pack, store, cache, options, work }
    }

    /// Packs one layer listing read from `source_dir`, or reuses the cached
    /// result for the same content. Says whether it came from the cache.
    pub fn layer(
        &self,
        source: &Dir,
        source_dir: &Path,
        mut listing: Vec<FileEntry>,
    ) -> Result<(LayerDescriptor, bool)> {
        let options = self.options;
        if options.normalize_modes {
            for e in &mut listing {
                e.mode = normalized_mode(e.kind, e.mode);
            }
        }
        let key =
            // Only the context's files outlive the build: remembering the
            // digests of files in the build's own temp trees would only grow the
            // memo by a layer's worth of dead entries per build.
            if options.no_cache {
                None
            } else {
                let memo = (source_dir == options.context.as_path()).then(|| self.cache.memo());
                Some(layer_key(&self.pack.digest, options.compression, options.source_date_epoch, memo, source, &listing)?)
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
        let mut req = RunRequest::new(serde_json::Value::Null);
        req.files = listing;
        req.limits = Limits { stdout: u64::MAX, timeout: std::time::Duration::from_secs(3600), ..Limits::default() };
        let result = self.runner.run("pack", self.pack, source_dir, self.work, req, Some(Box::new(writer.clone())));
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

/// The layers of the image, in order, each with its `created_by`, and the
/// history entries (metadata-only instructions among them).
pub(super) struct Layers {
    pub history: Vec<History>,
    pub layers: Vec<(LayerDescriptor, String)>,
}

impl Build<'_> {
    /// Reports the plan's packed layers, then packs the pipeline's
    /// transforms: `after-copy` ones under the rendered files, later ones
    /// over them.
    pub(super) fn pack(&self, packer: &Packer<'_>, packed: PackedLayers, analysed: &Analysed) -> Result<Layers> {
        for r in &packed.reports {
            self.report.step_took(&r.name, &r.module, r.duration, r.cached, &r.what);
        }
        let mut layers = Layers { history: packed.history, layers: packed.layers };
        self.pack_outputs(packer, &analysed.early_outputs, &mut layers)?;
        let last_dir = Dir::open_ambient_dir(&analysed.last_layer, cap_std::ambient_authority())?;
        let last_listing = crate::tree::walk(&last_dir, &crate::tree::WalkOptions::default())?;
        if last_listing.iter().any(|e| e.kind != FileKind::Dir) {
            let started = Instant::now();
            let (desc, cached) = packer.layer(&last_dir, &analysed.last_layer, last_listing)?;
            let created_by = "sealbox: rendered templates and image list".to_string();
            layers.history.push(self.history_entry(&created_by));
            self.report.step("rendered files", &packer.pack.name, started, cached, &human_size(desc.size));
            layers.layers.push((desc, created_by));
        }
        self.pack_outputs(packer, &analysed.late_outputs, &mut layers)?;
        Ok(layers)
    }

    /// Packs each transform step's output as a layer, in order, with its
    /// history entry and report line.
    fn pack_outputs(&self, packer: &Packer<'_>, outputs: &[StageOutput], layers: &mut Layers) -> Result<()> {
        for output in outputs {
            let started = Instant::now();
            let dir = Dir::open_ambient_dir(&output.dir, cap_std::ambient_authority())?;
            let (desc, cached) = packer.layer(&dir, &output.dir, output.listing.clone())?;
            let size = human_size(desc.size);
            self.report.step(&output.created_by, &packer.pack.name, started, cached, &size);
            layers.history.push(self.history_entry(&output.created_by));
            layers.layers.push((desc, output.created_by.clone()));
        }
        Ok(())
    }

    fn history_entry(&self, created_by: &str) -> History {
        History {
            created: Some(spec::rfc3339(self.options.source_date_epoch)),
            created_by: Some(created_by.to_string()),
            ..History::default()
        }
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
