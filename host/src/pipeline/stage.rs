//! Phase 2, staging: each COPY/ADD/APP/CNI/CSI resolved against the
//! context into a layer listing (an ADD of an archive unpacked in the
//! sandbox first), the base image copied into the analysis tree and, when
//! a module will read it, into a staged rootfs, and each `RUN --module`
//! run over the rootfs as the layers before it left it. Packing and the
//! analysis steps come later; this phase only lists, copies and runs
//! transforms.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, anyhow};
use cap_std::fs::Dir;
use sealbox_guest::FileKind;

use super::base::{self, Base};
use super::build::Build;
use super::grants::Grant;
use super::listing::LayerEntry;
use super::plan::Planned;
use super::plan_layers::Listed;
use super::staging::StagedTree;
use super::transform::{self, TransformOutput};
use super::{archive, listing};
use crate::kubefile::{self, Plan};
use crate::oci::Store;

/// The trees the analysis reads.
pub(super) struct StagedTrees {
    /// The analysis tree (base image files so far; the context's are
    /// copied in by the analysis phase, see `to_analyse`).
    pub analysis: StagedTree,
    /// The staged rootfs, when a transform or pipeline step reads one.
    pub rootfs: Option<StagedTree>,
    /// What the analysis tree copies, in plan order: from the context
    /// (`None`) or from a staging or output dir.
    pub to_analyse: Vec<(Option<PathBuf>, Arc<Vec<LayerEntry>>)>,
}

/// What the plan's own layers are packed from, in plan order.
pub(super) struct PlanLayers {
    pub listings: Vec<Listed>,
    pub transforms: Vec<TransformOutput>,
}

/// What staging gave the later phases.
pub(super) struct Staged {
    pub trees: StagedTrees,
    pub layers: PlanLayers,
    /// The digest of every `RUN --module` module, by its Kubefile path.
    pub modules: BTreeMap<String, String>,
}

impl Build<'_> {
    /// Lists the context's layers, stages the trees and runs the transforms.
    pub(super) fn stage(&self, planned: &Planned) -> Result<Staged> {
        let (options, plan) = (self.inputs.options, &planned.plan);
        let analysis_root = self.work.join("analysis");
        std::fs::create_dir(&analysis_root)?;
        let analysis = StagedTree::analysis(analysis_root)?;
        // Base image: its files join the analysis (its layers come first).
        if let Some(base) = &planned.base {
            base::stage_into(self.inputs.store, base, &analysis)?;
        }
        let pipeline_trees: Option<Vec<String>> = options
            .pipeline
            .as_ref()
            .filter(|p| !p.steps.is_empty())
            .map(|p| p.steps.iter().map(|s| s.grants.tree.clone()).collect());
        let rootfs = stage_rootfs(self.inputs.store, plan, planned.base.as_ref(), &self.work, pipeline_trees)?;
        let grant = Grant::transform(options.render_env.clone()).within(&options.ceilings);
        let mut staged = Staged {
            trees: StagedTrees { analysis, rootfs, to_analyse: Vec::new() },
            layers: PlanLayers { listings: Vec::new(), transforms: Vec::new() },
            modules: BTreeMap::new(),
        };
        for step in &plan.steps {
            match step {
                kubefile::PlanStep::Layer(layer) => self.list_layer(planned, layer, &mut staged)?,
                kubefile::PlanStep::Metadata(_) => {}
                kubefile::PlanStep::Module(m) => self.run_transform(planned, m, &grant, &mut staged)?,
            }
        }
        Ok(staged)
    }

    /// Lists one COPY/ADD/APP/CNI/CSI layer and copies it into the rootfs.
    fn list_layer(&self, planned: &Planned, layer: &kubefile::LayerStep, staged: &mut Staged) -> Result<()> {
        let (options, plan, ctx) = (self.inputs.options, &planned.plan, self.inputs.ctx);
        let at = format!("{}:{}", options.kubefile.display(), layer.line);
        // An ADD of an archive is unpacked in the sandbox into a
        // staging dir, which then stands in for the context.
        let ratio = &options.ceilings.add_ratio;
        let archived = archive::stage(&planned.runner, ctx, &layer.entries, &plan.ignore, &self.work, ratio)
            .with_context(|| at.clone())?;
        let (listing, stats, staged_dir) = match archived {
            Some(s) => (s.listing, Default::default(), Some(s.dir)),
            None => {
                let (listing, stats) =
                    listing::layer_listing_with_stats(ctx, &layer.entries, &plan.ignore).with_context(|| at.clone())?;
                (listing, stats, None)
            }
        };
        let staged_ctx =
            staged_dir.as_ref().map(|d| Dir::open_ambient_dir(d, cap_std::ambient_authority())).transpose()?;
        let source = staged_ctx.as_ref().unwrap_or(ctx);
        let listing = Arc::new(listing);
        staged.trees.to_analyse.push((staged_dir.clone(), Arc::clone(&listing)));
        if let Some(rootfs) = &staged.trees.rootfs {
            rootfs.copy_in(source, &listing)?;
        }
        staged.layers.listings.push(Listed { layer: layer.clone(), listing, stats, staged: staged_dir });
        Ok(())
    }

    /// Runs one `RUN --module` over the rootfs so far; its output joins the
    /// rootfs and, later, the analysis tree.
    fn run_transform(
        &self,
        planned: &Planned,
        m: &kubefile::ModuleStep,
        grant: &Grant,
        staged: &mut Staged,
    ) -> Result<()> {
        let options = self.inputs.options;
        let rootfs = staged.trees.rootfs.as_ref().ok_or_else(|| anyhow!("no staged rootfs for RUN --module"))?;
        let started = Instant::now();
        let at = format!("{}:{}", options.kubefile.display(), m.line);
        let binary =
            transform::load(self.inputs.ctx, m, options.lock.as_ref(), &at, self.inputs.store, &options.registry)?;
        staged.modules.insert(m.module.clone(), binary.digest.clone());
        let runner = transform::Runner {
            steps: &planned.runner,
            rootfs,
            work: &self.work,
            grant,
            store: self.inputs.store,
            cache: (!options.no_cache).then_some(self.inputs.cache),
        };
        let output = runner.run(&binary, m, &at)?;
        let out = Dir::open_ambient_dir(&output.dir, cap_std::ambient_authority())?;
        rootfs.copy_in(&out, &output.listing)?;
        staged.trees.to_analyse.push((Some(output.dir.clone()), Arc::new(output.listing.clone())));
        let files = output.listing.iter().filter(|e| e.kind != FileKind::Dir).count();
        self.report.step(&format!("{at} RUN"), &output.module, started, output.cached, &format!("{files} files"));
        staged.layers.transforms.push(output);
        Ok(())
    }
}

/// A private copy of every file of the base image, for the transform
/// modules and pipeline steps to read (only the granted sub-trees' files
/// when pipeline steps are all it is for); `None` when the build runs
/// neither (copying a rootfs costs more than the rest of most builds).
fn stage_rootfs(
    store: &Store,
    plan: &Plan,
    base: Option<&Base>,
    work: &Path,
    pipeline_trees: Option<Vec<String>>,
) -> Result<Option<StagedTree>> {
    let run_modules = plan.steps.iter().any(|s| matches!(s, kubefile::PlanStep::Module(_)));
    if pipeline_trees.is_none() && !run_modules {
        return Ok(None);
    }
    let root = work.join("rootfs");
    std::fs::create_dir(&root).with_context(|| format!("creating {}", root.display()))?;
    // Pipeline steps granted sub-trees only need those copied.
    let tree = match pipeline_trees {
        Some(trees) if !run_modules && !trees.iter().any(|t| t == ".") => StagedTree::under(root, trees)?,
        _ => StagedTree::whole(root)?,
    };
    if let Some(base) = base {
        base::stage_into(store, base, &tree)?;
    }
    Ok(Some(tree))
}
