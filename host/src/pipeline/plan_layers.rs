//! Packing the layers the plan itself makes: one per COPY/ADD/APP/CNI/CSI
//! and one per `RUN --module` that wrote something, in Kubefile order,
//! with the history entries of the metadata-only instructions between
//! them.
//!
//! Everything these layers hold is fixed once the context is listed and
//! the modules have run, before rendering and the image search. So the
//! build packs them on a thread of their own while the analysis steps
//! run: on a build dominated by packing, the analysis costs no wall time.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use cap_std::fs::Dir;

use super::listing::LayerEntry;
use super::packer::Packer;
use super::report::human_size;
use super::transform::{self, TransformOutput};
use crate::kubefile::{self, LayerStep};
use crate::oci::LayerDescriptor;
use crate::oci::spec::{self, History};
use crate::tree::FileStats;

/// A Kubefile layer's listing, and the staging dir that replaces the
/// context as its source (an ADD of an archive), if any.
pub struct Listed {
    pub layer: LayerStep,
    /// Shared with the analysis tree's copies (`StagedTrees::to_analyse`).
    pub listing: Arc<Vec<LayerEntry>>,
    /// The metadata the listing read of the context's files (empty for a
    /// staged archive).
    pub stats: FileStats,
    pub staged: Option<PathBuf>,
}

/// What packing the plan's layers produced, in plan order.
pub struct PackedLayers {
    pub history: Vec<History>,
    pub layers: Vec<(LayerDescriptor, String)>,
    pub reports: Vec<PackReport>,
}

/// One pack step, for the build's step lines.
pub struct PackReport {
    pub name: String,
    pub module: String,
    pub duration: Duration,
    pub cached: bool,
    pub what: String,
}

/// Packs the plan's layers; shared by reference with the packing thread.
pub struct PlanPacker<'a> {
    pub packer: &'a Packer<'a>,
    /// The build context, which the listings are read from.
    pub ctx: &'a Dir,
    /// Set when the rest of the build failed: no further layer is started.
    pub cancel: &'a AtomicBool,
}

impl PlanPacker<'_> {
    /// Packs every layer of `plan_steps` from `listings` and `transforms`
    /// (both in plan order).
    pub fn pack(
        &self,
        plan_steps: &[kubefile::PlanStep],
        listings: Vec<Listed>,
        transforms: Vec<TransformOutput>,
    ) -> Result<PackedLayers> {
        let sde = self.packer.options.source_date_epoch;
        let kubefile = self.packer.options.kubefile.display();
        let mut out = PackedLayers { history: Vec::new(), layers: Vec::new(), reports: Vec::new() };
        let mut listings = listings.into_iter();
        let mut transforms = transforms.into_iter();
        let entry = || History { created: Some(spec::rfc3339(sde)), ..History::default() };
        for step in plan_steps {
            if self.cancel.load(Ordering::Relaxed) {
                bail!("packing cancelled");
            }
            match step {
                kubefile::PlanStep::Layer(_) => {
                    let Listed { layer, listing, stats, staged } =
                        listings.next().ok_or_else(|| anyhow!("layer listing out of step"))?;
                    let started = Instant::now();
                    let staged_ctx =
                        staged.as_ref().map(|d| Dir::open_ambient_dir(d, cap_std::ambient_authority())).transpose()?;
                    let (source, source_dir) = match (&staged_ctx, &staged) {
                        (Some(c), Some(d)) => (c, d.as_path()),
                        _ => (self.ctx, self.packer.options.context.as_path()),
                    };
                    let (desc, cached) = self.packer.layer(source, source_dir, listing, &stats)?;
                    let created_by = layer.created_by(desc.diff_id.hex());
                    out.history.push(History { created_by: Some(created_by.clone()), ..entry() });
                    let name = format!("{kubefile}:{} {}", layer.line, layer.instruction.as_str());
                    out.reports.push(self.report(name, started, cached, &desc));
                    out.layers.push((desc, created_by));
                }
                kubefile::PlanStep::Metadata(m) => {
                    out.history.push(History { created_by: Some(m.created_by.clone()), empty_layer: true, ..entry() })
                }
                kubefile::PlanStep::Module(m) => {
                    let output = transforms.next().ok_or_else(|| anyhow!("transform output out of step"))?;
                    if output.listing.is_empty() {
                        // Nothing written: a history entry without a layer,
                        // as for ENV or LABEL.
                        out.history.push(History {
                            created_by: Some(m.created_by.clone()),
                            empty_layer: true,
                            ..entry()
                        });
                        continue;
                    }
                    let started = Instant::now();
                    let dir = Dir::open_ambient_dir(&output.dir, cap_std::ambient_authority())?;
                    let (desc, cached) =
                        self.packer.layer(&dir, &output.dir, Arc::new(output.listing.clone()), &FileStats::new())?;
                    transform::remember(self.packer.cache, &output, &desc)?;
                    out.history.push(History { created_by: Some(m.created_by.clone()), ..entry() });
                    out.reports.push(self.report(format!("{kubefile}:{} RUN", m.line), started, cached, &desc));
                    out.layers.push((desc, m.created_by.clone()));
                }
            }
        }
        Ok(out)
    }

    fn report(&self, name: String, started: Instant, cached: bool, desc: &LayerDescriptor) -> PackReport {
        PackReport {
            name,
            module: self.packer.pack.name.to_string(),
            duration: started.elapsed(),
            cached,
            what: human_size(desc.size),
        }
    }
}
