//! Phase 4, packing: the analysis runs while the plan's own layers are
//! packed on a thread of their own (`plan_layers`), then the layers that
//! need its results are packed: the pipeline file's transform outputs
//! around a last layer of rendered files and the image list. How one
//! listing becomes one layer blob is `packer`'s.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Result, anyhow};
use cap_std::fs::Dir;
use sealbox_guest::FileKind;

use super::analyse::Analysed;
use super::build::Build;
use super::listing::LayerEntry;
use super::offline_images::OfflineImages;
use super::packer::Packer;
use super::plan::Planned;
use super::plan_layers::{PackedLayers, PlanPacker};
use super::report::human_size;
use super::stage::{PlanLayers, StagedTrees};
use super::stages::StageOutput;
use crate::oci::LayerDescriptor;
use crate::oci::spec::{self, History};

/// The layers of the image, in order, each with its `created_by`, and the
/// history entries (metadata-only instructions among them).
pub(super) struct Layers {
    pub history: Vec<History>,
    pub layers: Vec<(LayerDescriptor, String)>,
    /// What the `registry/` layer holds, pins and images left out.
    pub offline: OfflineImages,
}

impl Build<'_> {
    /// Runs the analysis while the plan's layers are packed on a thread of
    /// their own, then packs the layers that need the analysis' results.
    pub(super) fn analyse_while_packing(
        &self,
        planned: &Planned,
        trees: StagedTrees,
        layers: PlanLayers,
    ) -> Result<(Analysed, Layers)> {
        let pack = planned.runner.lazy_builtin("pack")?;
        let (store, cache, options, work) =
            (self.inputs.store, self.inputs.cache, self.inputs.options, self.work.as_path());
        let packer = Packer { runner: &planned.runner, pack: &pack, store, cache, options, work };
        let cancel = AtomicBool::new(false);
        let plan_packer = PlanPacker { packer: &packer, ctx: self.inputs.ctx, cancel: &cancel };
        let (analysed, packed) = std::thread::scope(|scope| {
            let packing = std::thread::Builder::new()
                .name("pack-layers".into())
                .spawn_scoped(scope, || plan_packer.pack(&planned.plan.steps, layers.listings, layers.transforms));
            let analysed = self.analyse(planned, &trees);
            if analysed.is_err() {
                cancel.store(true, Ordering::Relaxed);
            }
            let packed = match packing {
                Ok(handle) => handle.join().unwrap_or_else(|_| Err(anyhow!("the packing thread panicked"))),
                Err(e) => Err(anyhow!("cannot start the packing thread: {e}")),
            };
            (analysed, packed)
        });
        // The analysis error is the one to show: packing stops because of it.
        let analysed = analysed?;
        let layers = self.pack(&packer, packed?, &analysed)?;
        Ok((analysed, layers))
    }

    /// Reports the plan's packed layers, then packs the pipeline's
    /// transforms: `after-copy` ones under the rendered files, later ones
    /// over them.
    fn pack(&self, packer: &Packer<'_>, packed: PackedLayers, analysed: &Analysed) -> Result<Layers> {
        for r in &packed.reports {
            self.report.step_took(&r.name, &r.module, r.duration, r.cached, &r.what);
        }
        let mut layers = Layers { history: packed.history, layers: packed.layers, offline: OfflineImages::default() };
        self.pack_outputs(packer, &analysed.early_outputs, &mut layers)?;
        let last_dir = Dir::open_ambient_dir(&analysed.last_layer, cap_std::ambient_authority())?;
        let last_listing: Vec<LayerEntry> = crate::tree::walk(&last_dir, &crate::tree::WalkOptions::default())?
            .into_iter()
            .map(LayerEntry::from)
            .collect();
        if last_listing.iter().any(|e| e.kind != FileKind::Dir) {
            let started = Instant::now();
            let (desc, cached) =
                packer.layer(&last_dir, &analysed.last_layer, Arc::new(last_listing), &Default::default())?;
            let created_by = "sealbox: rendered templates and image list".to_string();
            layers.history.push(self.history_entry(&created_by));
            self.report.step("rendered files", packer.pack.name, started, cached, &human_size(desc.size));
            layers.layers.push((desc, created_by));
        }
        self.pack_outputs(packer, &analysed.late_outputs, &mut layers)?;
        // Last, as sealer's commit layer: the container images themselves.
        let mut offline = self.offline_images(&analysed.images)?;
        if let Some((desc, created_by)) = offline.layer.take() {
            layers.history.push(self.history_entry(&created_by));
            layers.layers.push((desc, created_by));
        }
        layers.offline = offline;
        Ok(layers)
    }

    /// Packs each transform step's output as a layer, in order, with its
    /// history entry and report line.
    fn pack_outputs(&self, packer: &Packer<'_>, outputs: &[StageOutput], layers: &mut Layers) -> Result<()> {
        for output in outputs {
            let started = Instant::now();
            let dir = Dir::open_ambient_dir(&output.dir, cap_std::ambient_authority())?;
            let (desc, cached) =
                packer.layer(&dir, &output.dir, Arc::new(output.listing.clone()), &Default::default())?;
            let size = human_size(desc.size);
            self.report.step(&output.created_by, packer.pack.name, started, cached, &size);
            layers.history.push(self.history_entry(&output.created_by));
            layers.layers.push((desc, output.created_by.clone()));
        }
        Ok(())
    }

    fn history_entry(&self, created_by: &str) -> History {
        History {
            created: Some(spec::rfc3339(self.inputs.options.source_date_epoch)),
            created_by: Some(created_by.to_string()),
            ..History::default()
        }
    }
}
