//! Phase 3, the analysis: the analysis tree filled from the context
//! and the transforms' outputs, then the pipeline file's `after-copy`
//! steps, `render` (into the analysis tree, the last layer and the rootfs
//! pipeline steps read), `imagelist`, the `--policy` check, and the
//! `after-render` and `before-pack` steps. It runs while the plan's layers
//! are packed, so it reads only the analysis tree and the rootfs, never
//! what the packer reads. Packing its results is the `pack` phase's job.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use cap_std::fs::Dir;

use super::build::Build;
use super::cache::{CachedOutput, tree_key};
use super::outputs::{apply_output, list_tree};
use super::pipeline_file::Stage;
use super::plan::Planned;
use super::render::{RenderConfig, run_render};
use super::stage::StagedTrees;
use super::stages::{StageOutput, StageResults, StageRunner};
use super::steps::{self, RunRequest};
use super::{policies, stages};
use crate::tree::{Existing, TreeWriter};

/// What the analysis gave the later phases.
pub(super) struct Analysed {
    /// The pipeline file's findings, warnings and modules.
    pub piped: StageResults,
    /// Transform outputs of `after-copy` steps (packed under the rendered files).
    pub early_outputs: Vec<StageOutput>,
    /// Transform outputs of `after-render` and `before-pack` steps (packed over them).
    pub late_outputs: Vec<StageOutput>,
    /// The container images the image needs (a JSON array).
    pub images: serde_json::Value,
    pub image_count: usize,
    /// The directory of the last layer: rendered files and the image list.
    pub last_layer: PathBuf,
}

impl Build<'_> {
    /// Fills the analysis tree and runs the analysis steps and the
    /// pipeline file's stages over it.
    pub(super) fn analyse(&self, planned: &Planned, trees: &StagedTrees) -> Result<Analysed> {
        let options = self.inputs.options;
        let last_layer = self.work.join("last-layer");
        std::fs::create_dir(&last_layer)?;
        let last_layer_writer = TreeWriter::open(&last_layer, Existing::Replace)?;
        // The analysis copies are made here, in plan order, beside the
        // packing thread's first stats and reads rather than before them.
        for (dir, listing) in &trees.to_analyse {
            match dir {
                Some(dir) => {
                    let dir = Dir::open_ambient_dir(dir, cap_std::ambient_authority())?;
                    trees.analysis.copy_in(&dir, listing)?;
                }
                None => trees.analysis.copy_in(self.inputs.ctx, listing)?,
            }
        }
        let stage_runner = trees.rootfs.as_ref().zip(options.pipeline.as_ref()).map(|(rootfs, pipeline)| StageRunner {
            pipeline,
            steps: &planned.runner,
            rootfs,
            also_into: vec![&trees.analysis],
            work: &self.work,
            lock: options.lock.as_ref(),
            cache: (!options.no_cache).then_some(self.inputs.cache),
            store: self.inputs.store,
            registry: &options.registry,
            ceilings: &options.ceilings,
            operator_env: &options.render_env,
        });
        let runner = stage_runner.as_ref();
        let mut piped = StageResults::default();
        let early_outputs = stages::run_stage(runner, Stage::AfterCopy, &self.report, &mut piped)?;
        // Render into the analysis tree, so that the image search and the policies see what the
        // cluster gets; the image keeps its templates and the files beside them, as sealer's does
        // (it renders at deploy time), unless asked to render into it. Pipeline steps after
        // rendering read the rendered rootfs.
        let pipeline_steps = options.pipeline.as_ref().is_some_and(|p| !p.steps.is_empty());
        let mut render_dests: Vec<&TreeWriter> = vec![trees.analysis.writer()];
        if options.render_into_image {
            render_dests.push(&last_layer_writer);
        }
        render_dests.extend(trees.rootfs.as_ref().filter(|_| pipeline_steps).map(|r| r.writer()));
        self.render(planned, trees, &render_dests)?;
        let response = self.image_search(planned, trees, &render_dests)?;
        let images = response.data.get("images").cloned().unwrap_or(serde_json::Value::Array(vec![]));
        let image_count = images.as_array().map_or(0, Vec::len);
        if !options.policies.is_empty() {
            let started = Instant::now();
            let charts = response.data.get("renderedCharts").and_then(|c| c.as_array()).cloned().unwrap_or_default();
            let (results, policy_warnings, kyverno) =
                policies::run_policies(&planned.runner, options, &trees.analysis, &self.work, &charts)?;
            self.report.warn(policy_warnings);
            piped.verdicts.extend(kyverno);
            self.report.step("policy", "kyverno", started, false, &results);
        }
        let mut late_outputs = stages::run_stage(runner, Stage::AfterRender, &self.report, &mut piped)?;
        late_outputs.extend(stages::run_stage(runner, Stage::BeforePack, &self.report, &mut piped)?);
        Ok(Analysed { piped, early_outputs, late_outputs, images, image_count, last_layer })
    }

    /// Renders the analysis tree's templates into `dests`.
    fn render(&self, planned: &Planned, trees: &StagedTrees, dests: &[&TreeWriter]) -> Result<()> {
        let started = Instant::now();
        let apps: BTreeMap<String, BTreeMap<String, String>> = planned
            .plan
            .extension
            .applications
            .iter()
            .filter(|a| !a.env.is_empty())
            .map(|a| (a.name.clone(), a.env.clone()))
            .collect();
        let config = RenderConfig {
            env: self.inputs.options.render_env.clone(),
            missing_key: self.inputs.options.missing_key.clone(),
            apps,
            warn_missing: !self.inputs.options.strict_templates && self.inputs.options.missing_key == "default",
            // A build renders for the analysis with what sealbox has, and
            // warns for each template `sealer run` could not render.
            funcs: "sprig".into(),
        };
        let (rendered, warnings, notes) =
            run_render(&planned.runner, trees.analysis.root(), &self.work, dests, &config)?;
        self.report.warn(warnings);
        self.report.note(notes);
        self.report.step("render", "render", started, false, &format!("{rendered} templates"));
        Ok(())
    }

    /// Finds the container images the image needs, reused from the cache
    /// when the analysis tree is unchanged; its output goes into `dests`.
    fn image_search(
        &self,
        planned: &Planned,
        trees: &StagedTrees,
        dests: &[&TreeWriter],
    ) -> Result<sealbox_guest::Response> {
        let (options, cache, runner) = (self.inputs.options, self.inputs.cache, &planned.runner);
        let analysis_root = trees.analysis.root();
        let started = Instant::now();
        let imagelist = runner.lazy_builtin("imagelist")?;
        let mut req = RunRequest::new(serde_json::json!({
            "extraImages": options.extra_images,
            "ignoredImages": options.ignored_images,
            "requireDigests": options.require_digests,
            "ignoreChartErrors": options.ignore_chart_errors,
            "verbose": options.verbose,
            "renderedCharts": !options.policies.is_empty(),
            // Charts an APPCMDS `helm install` names render with its values.
            "charts": super::app_charts::chart_releases(&planned.plan.extension.applications),
        }));
        req.files = list_tree(analysis_root)?;
        let key = if options.no_cache {
            None
        } else {
            let copies = Some((&trees.analysis, cache.memo()));
            Some(tree_key(
                "imagelist",
                &imagelist.digest,
                &req.config,
                &runner.image,
                analysis_root,
                &req.files,
                copies,
            )?)
        };
        let hit = key.as_deref().and_then(|k| cache.get::<CachedOutput>(k));
        let cached = hit.is_some();
        let response = match hit {
            Some(hit) => {
                hit.write_into(dests)?;
                hit.response
            }
            None => {
                let (outcome, out) =
                    runner.run("imagelist", &imagelist.module()?, analysis_root, &self.work, req, None)?;
                apply_output(&out, &outcome.output, dests, &BTreeMap::new(), &mut Vec::new())?;
                if let Some(key) = &key
                    && let Some(entry) = CachedOutput::capture(&out, &outcome.output, &outcome.response)?
                {
                    cache.put(key, &entry)?;
                }
                outcome.response
            }
        };
        self.report.warn(steps::warnings(&response));
        self.report.note(steps::notes(&response));
        let count = response.data.get("images").and_then(|i| i.as_array()).map_or(0, Vec::len);
        self.report.step("imagelist", imagelist.name, started, cached, &format!("{count} images"));
        Ok(response)
    }
}
