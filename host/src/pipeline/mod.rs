//! The build pipeline: which steps run, in what order, with what grants.
//!
//! For each platform, a Kubefile plan becomes an image like this:
//!
//! 1. every COPY/ADD/APP/CNI/CSI is resolved against the context into a
//!    layer listing, and the parts the analysis steps read are copied into
//!    a private analysis tree (base image layers first); a `RUN --module`
//!    runs its transform module over a staged copy of the rootfs so far,
//!    within the step's grant, and its output joins the analysis tree;
//! 2. `render` renders the `.tmpl` files of the analysis tree;
//! 3. `imagelist` finds the container images the image needs;
//! 4. `kyverno` checks every manifest against the `--policy` policies;
//! 5. `pack` turns each layer listing, each transform's output, and a last
//!    layer of rendered files and the image list, into layer blobs;
//! 6. the config and manifest are written to the store; several platforms
//!    get an index.
//!
//! Every step runs in the sandbox; the host only lists, copies, hashes and
//! compresses. The sandbox is how a module runs, the store how images are
//! kept; this module only decides.

mod archive;
mod base;
mod cache;
mod ceilings;
mod grants;
mod listing;
mod lock;
mod pipeline_file;
mod plan_layers;
mod progress;
mod small_file;
mod stages;
mod staging;
mod steps;
mod transform;
mod verdicts;

pub use ceilings::{AddRatio, CeilingExceeded, Ceilings, Deadline};
pub use lock::{LOCK_FILE, Lock};
pub use pipeline_file::{PIPELINE_FILE, Pipeline};
pub use steps::{StepReport, format_diagnostic};
pub use verdicts::{PolicyFailure, Verdict, sarif};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, anyhow};
use cap_std::fs::Dir;
use rayon::prelude::*;
use sealbox_guest::{FileEntry, FileKind, ImageInfo};

use crate::kubefile::{self, BaseRef, ImageType, Kubefile, Plan, PlanOptions, Platform};
use crate::oci::spec::{self, ContainerConfig, History, ImageConfig, RootFs};
use crate::oci::{Compression, Descriptor, Digest, Index, LayerDescriptor, LayerWriter, Manifest, Store};
use crate::sandbox::{Limits, Sandbox, SharedWriter};
use crate::tree::{Existing, TreeWriter};
use cache::{HashMemo, KeyBuilder, StepCache};
use grants::Grant;
use staging::AnalysisTree;
use steps::{StepRequest, Steps};

/// The manifest annotation listing the container images an image needs.
pub const ANNOTATION_CONTAINER_IMAGES: &str = "sealer.image.container.images";

/// Everything `sealbox build` was asked for.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The build context directory.
    pub context: PathBuf,
    /// The Kubefile, as the user named it (used in messages).
    pub kubefile: PathBuf,
    pub tags: Vec<String>,
    pub platforms: Vec<Platform>,
    pub build_args: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub image_type: ImageType,
    pub compression: Compression,
    pub source_date_epoch: u64,
    pub no_cache: bool,
    /// Give the layers' files and directories the modes a git checkout can
    /// express (see [`normalized_mode`]).
    pub normalize_modes: bool,
    /// Values given to templates on top of the image's ENV.
    pub render_env: BTreeMap<String, String>,
    /// `default`, `zero` or `error`.
    pub missing_key: String,
    /// With `missing_key` `default`, a template printing a missing key fails the build rather than
    /// being a warning (`--strict-templates`).
    pub strict_templates: bool,
    /// Write rendered templates (and the image list found) into the image, as a last layer, rather
    /// than only into the analysis tree as sealer, which renders at deploy time, would have it.
    pub render_into_image: bool,
    /// Kyverno policy files or directories.
    pub policies: Vec<PathBuf>,
    pub extra_images: Vec<String>,
    pub ignored_images: Vec<String>,
    pub require_digests: bool,
    pub ignore_chart_errors: bool,
    /// Report what the image search skipped, and why.
    pub verbose: bool,
    /// Draw a progress bar on stderr during long pack steps.
    pub progress_bar: bool,
    /// The lock every `RUN --module` must match; `None` when there is no
    /// `sealbox.lock` or the build writes a new one.
    pub lock: Option<Lock>,
    /// The pipeline file's steps (`sealbox.yaml` or `--pipeline`).
    pub pipeline: Option<Pipeline>,
    /// How to reach registries, for a `FROM` or a module in one.
    pub registry: crate::registry::Options,
    /// Registry step caches to seed the local step cache from.
    pub cache_from: Vec<crate::registry::Reference>,
    /// Where to push the step-cache entries this build used or made.
    pub cache_to: Option<crate::registry::Reference>,
    /// What the operator allows the context's grants, modules and archives.
    pub ceilings: Ceilings,
}

/// What a build produced.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildOutcome {
    /// The digest of the image: its manifest, or its index when several
    /// platforms were built.
    pub digest: String,
    #[serde(skip)]
    pub descriptor: Descriptor,
    pub tags: Vec<String>,
    pub platforms: Vec<PlatformOutcome>,
    pub steps: Vec<StepReport>,
    pub warnings: Vec<String>,
    /// Informational findings (`--verbose`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The digest of every `RUN --module` module, by its Kubefile path.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub modules: BTreeMap<String, String>,
    /// Every policy finding (Kyverno and pipeline policy steps).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub verdicts: Vec<Verdict>,
}

/// One platform's image.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlatformOutcome {
    pub platform: String,
    pub manifest: String,
    pub layers: Vec<LayerReport>,
    pub container_images: usize,
}

/// One layer of the result.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LayerReport {
    pub digest: String,
    pub diff_id: String,
    pub size: u64,
    pub media_type: String,
    pub created_by: String,
}

/// The blobs the step cache refers to; `rmi` keeps them so that a later
/// build can still reuse its cached layers.
pub fn cached_blobs(store_root: &Path) -> Vec<Digest> {
    StepCache::blobs(store_root)
}

/// A sink for progress lines (one per step).
pub type Progress<'a> = dyn FnMut(&str) + 'a;

/// Builds the image described by `options` into `store`.
pub fn build(
    sandbox: &Sandbox,
    store: &Store,
    options: &BuildOptions,
    progress: &mut Progress<'_>,
) -> Result<BuildOutcome> {
    // The pipeline file asks; the operator's ceilings answer, before anything runs.
    if let Some(pipeline) = &options.pipeline {
        options.ceilings.check_pipeline(pipeline)?;
    }
    let kubefile_name = options.kubefile.display().to_string();
    let bytes = small_file::read(&options.kubefile).with_context(|| format!("reading {kubefile_name}"))?;
    let parsed = kubefile::parse_all(&kubefile_name, &bytes)?;
    let ctx = Dir::open_ambient_dir(&options.context, cap_std::ambient_authority())
        .with_context(|| format!("opening build context {}", options.context.display()))?;
    let work = tempfile::Builder::new().prefix("sealbox-build-").tempdir().context("creating a work directory")?;
    let cache = StepCache::new(store.root(), !options.no_cache);

    let mut reports = Vec::new();
    let mut warnings = Vec::new();
    let mut notes = Vec::new();
    let mut modules = BTreeMap::new();
    let mut verdicts = Vec::new();
    let mut manifests = Vec::new();
    let mut platforms = Vec::new();
    for from in &options.cache_from {
        // A missing or unreachable cache costs time, not the build.
        match cache.import_remote(store, from, &options.registry) {
            Ok(got) => {
                // Said now, not with the warnings at the end: a build the
                // refused entries would have changed may well fail.
                let refused = match got.refused.len() {
                    0 => String::new(),
                    n => format!(", {n} refused (damaged or forged: those steps run here)"),
                };
                progress(&format!("cache-from {from}: {} of {} entries new here{refused}", got.new, got.total));
                if options.verbose {
                    for why in &got.refused {
                        // The reason quotes the remote's text.
                        let why = crate::text::escape_for_terminal(why.as_bytes());
                        progress(&format!("cache-from {from}: refused {why}"));
                    }
                }
            }
            Err(e) => warnings.push(format!("--cache-from {from}: {e:#}")),
        }
    }
    for platform in &options.platforms {
        let built = build_platform(sandbox, store, options, &parsed, &ctx, platform, work.path(), &cache, progress);
        let built =
            if options.platforms.len() > 1 { built.with_context(|| format!("building {platform}"))? } else { built? };
        reports.extend(built.steps);
        warnings.extend(built.warnings);
        notes.extend(built.notes);
        modules.extend(built.modules);
        verdicts.extend(built.verdicts);
        platforms.push(built.outcome);
        manifests.push(built.descriptor);
    }

    let descriptor = if manifests.len() == 1 {
        manifests.remove(0)
    } else {
        store.put_json(spec::MEDIA_TYPE_INDEX, &Index::new(manifests))?
    };
    cache.save()?;
    if options.verbose {
        notes.extend(sandbox.take_cache_notes());
    }
    if let Some(to) = &options.cache_to {
        let pushed = cache.export_remote(store, to, &options.registry).with_context(|| format!("--cache-to {to}"))?;
        progress(&format!("cache-to {to}: {pushed} entries"));
    }
    if options.tags.is_empty() {
        store.add_unnamed(&descriptor)?;
    }
    for tag in &options.tags {
        store.tag(tag, &descriptor).with_context(|| format!("tagging {tag}"))?;
    }
    Ok(BuildOutcome {
        digest: descriptor.digest.to_string(),
        descriptor,
        tags: options.tags.clone(),
        platforms,
        steps: reports,
        warnings,
        notes,
        modules,
        verdicts,
    })
}

struct PlatformBuild {
    outcome: PlatformOutcome,
    descriptor: Descriptor,
    steps: Vec<StepReport>,
    warnings: Vec<String>,
    notes: Vec<String>,
    /// Module path to digest, for `sealbox.lock`.
    modules: BTreeMap<String, String>,
    verdicts: Vec<Verdict>,
}

#[allow(clippy::too_many_arguments)]
fn build_platform(
    sandbox: &Sandbox,
    store: &Store,
    options: &BuildOptions,
    parsed: &Kubefile,
    ctx: &Dir,
    platform: &Platform,
    work: &Path,
    cache: &StepCache,
    progress: &mut Progress<'_>,
) -> Result<PlatformBuild> {
    let mut plan_options = PlanOptions::new(platform.clone());
    plan_options.build_args = options.build_args.clone();
    plan_options.image_type = options.image_type;
    let mut base_image = None;
    let plan: Plan = {
        let mut resolve = |base: &BaseRef, _platform_flag: Option<&str>| -> std::result::Result<_, String> {
            let b = base::resolve(store, base, platform, &options.registry).map_err(|e| format!("{e:#}"))?;
            let info = b.info.clone();
            base_image = Some(b);
            Ok(info)
        };
        kubefile::plan(&options.kubefile.display().to_string(), parsed, ctx, &plan_options, &mut resolve)?
    };
    let mut warnings = plan.warnings.clone();
    let sde = options.source_date_epoch;
    let image_env: BTreeMap<String, String> = plan
        .config
        .env
        .iter()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut labels = plan.config.labels.clone();
    labels.extend(options.labels.clone());
    let steps = Steps::new(
        sandbox.clone(),
        ImageInfo {
            platform: platform.clone(),
            source_date_epoch: sde,
            env: image_env.clone(),
            labels: labels.clone(),
        },
    )
    .with_deadline(options.ceilings.deadline);
    let mut reports = Vec::new();

    let platform_work = tempfile::Builder::new().prefix("platform-").tempdir_in(work)?.keep();
    let analysis_root = platform_work.join("analysis");
    std::fs::create_dir(&analysis_root)?;
    let analysis = AnalysisTree::new(analysis_root.clone())?;

    // Base image: its layers come first, and its files join the analysis.
    let mut layers: Vec<(LayerDescriptor, String)> = Vec::new();
    let mut history: Vec<History> = Vec::new();
    if let Some(base) = &base_image {
        base::stage_into(store, base, &analysis)?;
        history.extend(base.config.history.iter().cloned());
    }

    // 1. Listings, the analysis tree, and the transform modules, each over
    //    the rootfs as the layers before it left it.
    let pipeline_trees: Option<Vec<String>> = options
        .pipeline
        .as_ref()
        .filter(|p| !p.steps.is_empty())
        .map(|p| p.steps.iter().map(|s| s.grants.tree.clone()).collect());
    let pipeline_steps = pipeline_trees.is_some();
    let rootfs = stage_rootfs(store, &plan, base_image.as_ref(), &platform_work, pipeline_trees)?;
    let grant = Grant::transform(options.render_env.clone()).within(&options.ceilings);
    let mut listings = Vec::new();
    let mut transforms = Vec::new();
    // What the analysis tree copies, in plan order: from the context
    // (`None`) or from a staging or output dir.
    let mut to_analyse: Vec<(Option<PathBuf>, Vec<FileEntry>)> = Vec::new();
    let mut modules = BTreeMap::new();
    for step in &plan.steps {
        match step {
            kubefile::Step::Layer(layer) => {
                let at = format!("{}:{}", options.kubefile.display(), layer.line);
                // An ADD of an archive is unpacked in the sandbox into a
                // staging dir, which then stands in for the context.
                let ratio = &options.ceilings.add_ratio;
                let staged = archive::stage(&steps, ctx, &layer.entries, &plan.ignore, &platform_work, ratio)
                    .with_context(|| at.clone())?;
                let (listing, staged_dir) = match staged {
                    Some(s) => (s.listing, Some(s.dir)),
                    None => {
                        (listing::layer_listing(ctx, &layer.entries, &plan.ignore).with_context(|| at.clone())?, None)
                    }
                };
                let staged_ctx =
                    staged_dir.as_ref().map(|d| Dir::open_ambient_dir(d, cap_std::ambient_authority())).transpose()?;
                let source = staged_ctx.as_ref().unwrap_or(ctx);
                to_analyse.push((staged_dir.clone(), listing.clone()));
                if let Some(rootfs) = &rootfs {
                    rootfs.add_from_context(source, &listing)?;
                }
                listings.push(plan_layers::Listed { layer: layer.clone(), listing, staged: staged_dir });
            }
            kubefile::Step::Metadata(_) => {}
            kubefile::Step::Module(m) => {
                let rootfs = rootfs.as_ref().ok_or_else(|| anyhow!("no staged rootfs for RUN --module"))?;
                let started = Instant::now();
                let at = format!("{}:{}", options.kubefile.display(), m.line);
                let binary = transform::load(ctx, m, options.lock.as_ref(), &at, store, &options.registry)?;
                modules.insert(m.module.clone(), binary.digest.clone());
                let runner = transform::Runner {
                    steps: &steps,
                    rootfs,
                    work: &platform_work,
                    grant: &grant,
                    store,
                    cache: (!options.no_cache).then_some(cache),
                };
                let output = runner.run(&binary, m, &at)?;
                let out = Dir::open_ambient_dir(&output.dir, cap_std::ambient_authority())?;
                rootfs.add_from_context(&out, &output.listing)?;
                to_analyse.push((Some(output.dir.clone()), output.listing.clone()));
                let files = output.listing.iter().filter(|e| e.kind != FileKind::Dir).count();
                let what = format!("{files} files");
                reports.push(report(progress, &format!("{at} RUN"), &output.module, started, output.cached, &what));
                transforms.push(output);
            }
        }
    }

    let last_layer = platform_work.join("last-layer");
    std::fs::create_dir(&last_layer)?;
    let last_layer_writer = TreeWriter::open(&last_layer, Existing::Replace)?;
    // 2–4 run while the plan's layers are packed on a thread of their own
    // (see plan_layers): they read only the analysis tree and the rootfs.
    let pack = steps.builtin("pack")?;
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let packer = plan_layers::PlanPacker {
        steps: &steps,
        pack: &pack,
        store,
        cache,
        options,
        ctx,
        work: &platform_work,
        cancel: &cancel,
    };
    let (analysed, packed) = std::thread::scope(|scope| {
        let packing = std::thread::Builder::new()
            .name("pack-layers".into())
            .spawn_scoped(scope, || packer.pack(&plan.steps, listings, transforms));
        let analysed = (|| -> Result<_> {
            // The analysis copies are made here, in plan order, beside the
            // packing thread's first stats and reads rather than before them.
            for (dir, listing) in &to_analyse {
                match dir {
                    Some(dir) => {
                        let dir = Dir::open_ambient_dir(dir, cap_std::ambient_authority())?;
                        analysis.add_from_context(&dir, listing)?;
                    }
                    None => analysis.add_from_context(ctx, listing)?,
                }
            }
            let stage_runner =
                rootfs.as_ref().zip(options.pipeline.as_ref()).map(|(rootfs, pipeline)| stages::StageRunner {
                    pipeline,
                    steps: &steps,
                    rootfs,
                    also_into: vec![&analysis],
                    work: &platform_work,
                    lock: options.lock.as_ref(),
                    cache: (!options.no_cache).then_some(cache),
                    store,
                    registry: &options.registry,
                    ceilings: &options.ceilings,
                    operator_env: &options.render_env,
                });
            let mut piped = stages::StageResults::default();
            let early_outputs =
                stages::run_stage(stage_runner.as_ref(), pipeline_file::Stage::AfterCopy, progress, &mut piped)?;
            // 2. render, into the analysis tree, so that the image search and the policies see
            //    what the cluster gets; the image keeps its templates and the files beside them,
            //    as sealer's does (it renders at deploy time), unless asked to render into it.
            // Pipeline steps after rendering read the rendered rootfs.
            let mut render_dests: Vec<&TreeWriter> = vec![analysis.writer()];
            if options.render_into_image {
                render_dests.push(&last_layer_writer);
            }
            render_dests.extend(rootfs.as_ref().filter(|_| pipeline_steps).map(|r| r.writer()));
            let started = Instant::now();
            let apps: BTreeMap<String, BTreeMap<String, String>> = plan
                .extension
                .applications
                .iter()
                .filter(|a| !a.env.is_empty())
                .map(|a| (a.name.clone(), a.env.clone()))
                .collect();
            let render_config = RenderConfig {
                env: options.render_env.clone(),
                missing_key: options.missing_key.clone(),
                apps,
                warn_missing: !options.strict_templates && options.missing_key == "default",
            };
            let (rendered, render_warnings, render_notes) =
                run_render(&steps, &analysis_root, &platform_work, &render_dests, &render_config)?;
            warnings.extend(render_warnings);
            reports.push(report(progress, "render", "render", started, false, &format!("{rendered} templates")));

            // 3. imagelist, reused from the cache when the analysis tree is unchanged.
            let started = Instant::now();
            let imagelist = steps.builtin("imagelist")?;
            let mut req = StepRequest::new(serde_json::json!({
                "extraImages": options.extra_images,
                "ignoredImages": options.ignored_images,
                "requireDigests": options.require_digests,
                "ignoreChartErrors": options.ignore_chart_errors,
                "verbose": options.verbose,
                "renderedCharts": !options.policies.is_empty(),
            }));
            req.files = list_tree(&analysis_root)?;
            let key = if options.no_cache {
                None
            } else {
                Some(tree_key(
                    "imagelist",
                    &imagelist.digest,
                    &req.config,
                    &steps.image,
                    &analysis_root,
                    &req.files,
                    Some((&analysis, cache.memo())),
                )?)
            };
            let hit = key.as_deref().and_then(|k| cache.get::<CachedOutput>(k));
            let cached = hit.is_some();
            let response = match hit {
                Some(hit) => {
                    hit.write_into(&render_dests)?;
                    hit.response
                }
                None => {
                    let (outcome, out) =
                        steps.run("imagelist", &imagelist, &analysis_root, &platform_work, req, None)?;
                    apply_output(&out, &outcome.output, &render_dests, &BTreeMap::new(), &mut Vec::new())?;
                    if let Some(key) = &key
                        && let Some(entry) = CachedOutput::capture(&out, &outcome.output, &outcome.response)?
                    {
                        cache.put(key, &entry)?;
                    }
                    outcome.response
                }
            };
            warnings.extend(steps::warnings(&response));
            let mut notes = render_notes;
            notes.extend(steps::notes(&response));
            let images = response.data.get("images").cloned().unwrap_or(serde_json::Value::Array(vec![]));
            let image_count = images.as_array().map_or(0, Vec::len);
            reports.push(report(
                progress,
                "imagelist",
                &imagelist.name,
                started,
                cached,
                &format!("{image_count} images"),
            ));

            // 4. policies.
            if !options.policies.is_empty() {
                let started = Instant::now();
                let charts =
                    response.data.get("renderedCharts").and_then(|c| c.as_array()).cloned().unwrap_or_default();
                let (results, policy_warnings, kyverno) =
                    run_policies(&steps, options, &analysis, &platform_work, &charts)?;
                warnings.extend(policy_warnings);
                piped.verdicts.extend(kyverno);
                reports.push(report(progress, "policy", "kyverno", started, false, &results));
            }
            let mut late_outputs =
                stages::run_stage(stage_runner.as_ref(), pipeline_file::Stage::AfterRender, progress, &mut piped)?;
            late_outputs.extend(stages::run_stage(
                stage_runner.as_ref(),
                pipeline_file::Stage::BeforePack,
                progress,
                &mut piped,
            )?);
            Ok((piped, early_outputs, late_outputs, notes, images, image_count))
        })();
        if analysed.is_err() {
            cancel.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        let packed = match packing {
            Ok(handle) => handle.join().unwrap_or_else(|_| Err(anyhow!("the packing thread panicked"))),
            Err(e) => Err(anyhow!("cannot start the packing thread: {e}")),
        };
        (analysed, packed)
    });
    // The analysis error is the one to show: packing stops because of it.
    let (piped, early_outputs, late_outputs, notes, images, image_count) = analysed?;
    let packed = packed?;
    history.extend(packed.history);
    layers.extend(packed.layers);
    for r in packed.reports {
        reports.push(report_line(progress, &r.name, &r.module, r.duration, r.cached, &r.what));
    }
    let mut layer_reports = Vec::new();
    // The pipeline's transforms: after-copy ones under the rendered files,
    // later ones over them.
    let packer = stages::LayerPacker { steps: &steps, pack: &pack, store, cache, options, work: &platform_work };
    packer.pack_all(early_outputs, progress, &mut history, &mut reports, &mut layers)?;
    let last_dir = Dir::open_ambient_dir(&last_layer, cap_std::ambient_authority())?;
    let last_listing = crate::tree::walk(&last_dir, &crate::tree::WalkOptions::default())?;
    if last_listing.iter().any(|e| e.kind != FileKind::Dir) {
        let started = Instant::now();
        let (desc, cached) =
            pack_layer(&steps, &pack, store, cache, options, &last_dir, &last_layer, last_listing, &platform_work)?;
        let created_by = "sealbox: rendered templates and image list".to_string();
        history.push(History {
            created: Some(spec::rfc3339(sde)),
            created_by: Some(created_by.clone()),
            ..History::default()
        });
        reports.push(report(progress, "rendered files", &pack.name, started, cached, &human_size(desc.size)));
        layers.push((desc, created_by));
    }
    packer.pack_all(late_outputs, progress, &mut history, &mut reports, &mut layers)?;
    reports.extend(piped.reports);
    warnings.extend(piped.warnings);
    modules.extend(piped.modules);

    // 6. config and manifest.
    let mut all_layers: Vec<Descriptor> = Vec::new();
    let mut diff_ids: Vec<Digest> = Vec::new();
    if let Some(base) = &base_image {
        all_layers.extend(base.manifest.layers.iter().cloned());
        diff_ids.extend(base.config.rootfs.diff_ids.iter().cloned());
    }
    for (desc, created_by) in &layers {
        all_layers.push(desc.descriptor());
        diff_ids.push(desc.diff_id.clone());
        layer_reports.push(LayerReport {
            digest: desc.digest.to_string(),
            diff_id: desc.diff_id.to_string(),
            size: desc.size,
            media_type: desc.media_type.to_string(),
            created_by: created_by.clone(),
        });
    }
    let config = ImageConfig {
        created: Some(spec::rfc3339(sde)),
        author: plan.config.author.clone(),
        architecture: platform.architecture.clone(),
        os: platform.os.clone(),
        variant: platform.variant.clone(),
        config: Some(ContainerConfig { env: plan.config.env.clone(), labels, ..ContainerConfig::default() }),
        rootfs: RootFs { kind: "layers".into(), diff_ids },
        history,
    };
    let config_desc = store.put_json(spec::MEDIA_TYPE_CONFIG, &config)?;
    let mut manifest = Manifest::new(config_desc, all_layers);
    manifest.annotations.insert(kubefile::ANNOTATION.to_string(), plan.extension.to_json());
    if image_count > 0 {
        let json = kubefile::container_images_json(&images).context("the imagelist step's images")?;
        manifest.annotations.insert(ANNOTATION_CONTAINER_IMAGES.to_string(), json);
    }
    manifest.annotations.extend(options.annotations.clone());
    let mut descriptor = store.put_json(spec::MEDIA_TYPE_MANIFEST, &manifest)?;
    descriptor.platform = Some(spec::Platform::new(&platform.os, &platform.architecture, platform.variant.as_deref()));
    Ok(PlatformBuild {
        outcome: PlatformOutcome {
            platform: platform.to_string(),
            manifest: descriptor.digest.to_string(),
            layers: layer_reports,
            container_images: image_count,
        },
        descriptor,
        steps: reports,
        warnings,
        notes,
        modules,
        verdicts: piped.verdicts,
    })
}

/// A private copy of every file of the base image, for the transform
/// modules and pipeline steps to read (only the granted sub-trees' files
/// when pipeline steps are all it is for); `None` when the build runs
/// neither (copying a rootfs costs more than the rest of most builds).
fn stage_rootfs(
    store: &Store,
    plan: &Plan,
    base: Option<&base::Base>,
    work: &Path,
    pipeline_trees: Option<Vec<String>>,
) -> Result<Option<AnalysisTree>> {
    let run_modules = plan.steps.iter().any(|s| matches!(s, kubefile::Step::Module(_)));
    if pipeline_trees.is_none() && !run_modules {
        return Ok(None);
    }
    let root = work.join("rootfs");
    std::fs::create_dir(&root).with_context(|| format!("creating {}", root.display()))?;
    // Pipeline steps granted sub-trees only need those copied.
    let tree = match pipeline_trees {
        Some(trees) if !run_modules && !trees.iter().any(|t| t == ".") => AnalysisTree::under(root, trees)?,
        _ => AnalysisTree::whole(root)?,
    };
    if let Some(base) = base {
        base::stage_into(store, base, &tree)?;
    }
    Ok(Some(tree))
}

/// Packs one layer listing read from `source_dir`, or reuses the cached
/// result for the same content.
#[allow(clippy::too_many_arguments)]
fn pack_layer(
    steps: &Steps,
    pack: &crate::sandbox::Module,
    store: &Store,
    cache: &StepCache,
    options: &BuildOptions,
    source: &Dir,
    source_dir: &Path,
    mut listing: Vec<FileEntry>,
    work: &Path,
) -> Result<(LayerDescriptor, bool)> {
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
            let memo = (source_dir == options.context.as_path()).then(|| cache.memo());
            Some(layer_key(&pack.digest, options, memo, source, &listing)?)
        };
    if let Some(key) = &key
        && let Some(cached) = cache.get_shared::<CachedLayer>(key)
        && let Some(desc) = cached.descriptor()
        && store.layout().has_blob(&desc.digest)
    {
        return Ok((desc, true));
    }
    // The tar stream is about the files' bytes plus a block per entry.
    let expected: u64 = listing.iter().map(|e| e.size + 512).sum();
    let bar = progress::Bar::new("packing".into(), expected, options.progress_bar);
    let writer = SharedWriter::new(bar.counting(LayerWriter::new(store, options.compression)?));
    let mut req = StepRequest::new(serde_json::Value::Null);
    req.files = listing;
    req.limits = Limits { stdout: u64::MAX, timeout: std::time::Duration::from_secs(3600), ..Limits::default() };
    let result = steps.run("pack", pack, source_dir, work, req, Some(Box::new(writer.clone())));
    let (_outcome, _out) = result?;
    drop(bar);
    let layer_writer = writer.into_inner().ok_or_else(|| anyhow!("the packer still holds the layer writer"))?;
    let desc = layer_writer.inner.finish()?;
    if let Some(key) = &key {
        cache.put(key, &CachedLayer::from(&desc))?;
    }
    Ok((desc, false))
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

/// A pack result as the cache keeps it.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct CachedLayer {
    media_type: String,
    digest: String,
    size: u64,
    diff_id: String,
    uncompressed_size: u64,
}

impl CachedLayer {
    fn descriptor(&self) -> Option<LayerDescriptor> {
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

/// The cache key of a pack step: the packer, the layer settings, and the
/// listing with the SHA-256 of every file's content.
fn layer_key(
    pack_digest: &str,
    options: &BuildOptions,
    memo: Option<&HashMemo>,
    source: &Dir,
    listing: &[FileEntry],
) -> Result<String> {
    // Files are stated through their directory, opened once: a nested
    // path costs cap-std a checked open of its parent per call, and an
    // unchanged rebuild is mostly these stats.
    let mut by_dir: BTreeMap<&str, Vec<(usize, &str)>> = BTreeMap::new();
    for (i, e) in listing.iter().enumerate() {
        if e.kind == FileKind::File && e.hardlink.is_none() {
            let from = e.source.as_deref().unwrap_or(&e.path);
            let (dir, name) = from.rsplit_once('/').unwrap_or(("", from));
            by_dir.entry(dir).or_default().push((i, name));
        }
    }
    let groups: Vec<(&str, Vec<(usize, &str)>)> = by_dir.into_iter().collect();
    let digests: Vec<Vec<(usize, String)>> = groups
        .par_iter()
        .map(|(dir_path, files)| -> Result<Vec<(usize, String)>> {
            use cap_fs_ext::DirExt;
            let dir = if dir_path.is_empty() {
                source.try_clone().context("opening the build context")?
            } else {
                source.open_dir_nofollow(dir_path).with_context(|| format!("opening {dir_path}"))?
            };
            files
                .iter()
                .map(|&(i, name)| {
                    let meta = dir.symlink_metadata(name).with_context(|| format!("reading {dir_path}/{name}"))?;
                    let digest = match memo {
                        Some(memo) => memo.digest(&meta, || content_digest(&dir, name, listing[i].size))?,
                        None => content_digest(&dir, name, listing[i].size)?,
                    };
                    Ok((i, digest))
                })
                .collect()
        })
        .collect::<Result<_>>()?;
    let mut hashes = vec![String::new(); listing.len()];
    for (i, digest) in digests.into_iter().flatten() {
        hashes[i] = digest;
    }
    let mut key = KeyBuilder::new("pack")
        .part(pack_digest)
        .part(options.compression.to_string())
        .part(options.source_date_epoch.to_le_bytes());
    for (e, h) in listing.iter().zip(hashes) {
        key = key.part(serde_json::to_vec(e)?).part(h);
    }
    Ok(key.finish())
}

/// The cache key of a step that reads a tree the host staged (the image
/// search, a `RUN --module` transform): the module, its config, the image
/// facts, and the tree, content included.
fn tree_key(
    step: &str,
    module_digest: &str,
    config: &serde_json::Value,
    image: &ImageInfo,
    root: &Path,
    files: &[FileEntry],
    copies: Option<(&AnalysisTree, &HashMemo)>,
) -> Result<String> {
    let dir = Dir::open_ambient_dir(root, cap_std::ambient_authority())?;
    let hashes: Vec<String> = files
        .par_iter()
        .map(|e| {
            if e.kind != FileKind::File {
                return Ok(String::new());
            }
            // An untouched copy from the context has its source's digest,
            // which the memo knows from packing: no second read.
            match copies.and_then(|(tree, memo)| Some((tree.origin(&e.path)?, memo))) {
                Some((origin, memo)) => memo.digest(&origin, || content_digest(&dir, &e.path, e.size)),
                None => content_digest(&dir, &e.path, e.size),
            }
        })
        .collect::<Result<_>>()?;
    let mut key =
        KeyBuilder::new(step).part(module_digest).part(serde_json::to_vec(config)?).part(serde_json::to_vec(image)?);
    for (e, h) in files.iter().zip(hashes) {
        key = key.part(serde_json::to_vec(e)?).part(h);
    }
    Ok(key.finish())
}

/// An analysis step's response and the (small) files it wrote, as the
/// cache keeps them.
#[derive(serde::Serialize, serde::Deserialize)]
struct CachedOutput {
    response: sealbox_guest::Response,
    files: BTreeMap<String, Vec<u8>>,
}

impl CachedOutput {
    /// Largest output worth keeping in a cache entry.
    const MAX_BYTES: u64 = 1 << 20;

    /// Captures a step's regular-file output, or `None` if it is too large
    /// or holds anything but files and directories.
    fn capture(out: &Path, entries: &[FileEntry], response: &sealbox_guest::Response) -> Result<Option<Self>> {
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
    fn write_into(&self, dests: &[&TreeWriter]) -> Result<()> {
        for (path, content) in &self.files {
            for dest in dests {
                dest.write(path, &mut content.as_slice(), OUTPUT_FILE_MODE)?;
            }
        }
        Ok(())
    }
}

/// The SHA-256 of the first `size` bytes of `path` under `dir`, read
/// without following links.
fn content_digest(dir: &Dir, path: &str, size: u64) -> Result<String> {
    let f = crate::tree::open_nofollow(dir, path).with_context(|| format!("reading {path}"))?;
    let mut h = crate::oci::digest::Hasher::new();
    std::io::copy(&mut std::io::Read::take(f, size), &mut h).with_context(|| format!("reading {path}"))?;
    Ok(h.finish().to_string())
}

/// The mode of an output file the step reported no mode for.
const OUTPUT_FILE_MODE: u32 = 0o644;

/// Copies a step's checked output into each destination tree, files with
/// the mode `modes` gives them (set-id and sticky bits dropped, and said
/// in `notes`). Links in the output are not copied; links in a
/// destination are replaced, never written through.
fn apply_output(
    out: &Path,
    entries: &[FileEntry],
    dests: &[&TreeWriter],
    modes: &BTreeMap<String, u32>,
    notes: &mut Vec<String>,
) -> Result<()> {
    let out = Dir::open_ambient_dir(out, cap_std::ambient_authority())
        .with_context(|| format!("opening the step's output {}", out.display()))?;
    for e in entries {
        let mode = modes.get(&e.path).copied().unwrap_or(OUTPUT_FILE_MODE);
        if e.kind == FileKind::File && mode & !crate::tree::PERMISSION_BITS != 0 {
            notes.push(format!("{}: set-id and sticky bits dropped (mode {mode:o})", e.path));
        }
        for dest in dests {
            match e.kind {
                FileKind::Dir => dest.create_dir(&e.path, crate::tree::IMPLICIT_DIR_MODE)?,
                FileKind::File => {
                    let mut from = crate::tree::open_nofollow(&out, &e.path)
                        .with_context(|| format!("reading {} in the step's output", e.path))?
                        .into_std();
                    dest.write(&e.path, &mut from, mode)?;
                }
                FileKind::Symlink => {}
            }
        }
    }
    Ok(())
}

/// The modes the render step reports for its outputs (`data.rendered`).
fn rendered_modes(data: &serde_json::Value) -> BTreeMap<String, u32> {
    data.get("rendered")
        .and_then(|r| r.as_array())
        .map(|items| {
            items
                .iter()
                .filter_map(|i| Some((i.get("path")?.as_str()?.to_string(), i.get("mode")?.as_u64()? as u32)))
                .collect()
        })
        .unwrap_or_default()
}

/// What templates are rendered with.
#[derive(Debug, Clone, Default)]
pub struct RenderConfig {
    /// Values over the image's ENV (`--env`, `--env-file`).
    pub env: BTreeMap<String, String>,
    /// `default`, `zero` or `error`.
    pub missing_key: String,
    /// Per-application values (APPENV).
    pub apps: BTreeMap<String, BTreeMap<String, String>>,
    /// With `missing_key` `default`: a missing key printed is a warning naming file, line and key,
    /// and the file is rendered as sealer renders it at deploy time (`<no value>`), not an error.
    pub warn_missing: bool,
}

/// Runs the render step over `input` and copies the rendered files, with
/// their templates' modes, into each of `dests`. Returns how many files
/// were rendered and the step's warnings.
fn run_render(
    steps: &Steps,
    input: &Path,
    work: &Path,
    dests: &[&TreeWriter],
    config: &RenderConfig,
) -> Result<(usize, Vec<String>, Vec<String>)> {
    let render = steps.builtin("render")?;
    let files = list_tree(input)?;
    let request = |missing_key: &str| {
        let mut req = StepRequest::new(serde_json::json!({"missingKey": missing_key, "apps": config.apps}));
        req.env = config.env.clone();
        req.files = files.clone();
        req
    };
    let (mut outcome, mut out) =
        steps.run_unchecked("render", &render, input, work, request(&config.missing_key), None)?;
    let mut warnings = Vec::new();
    if outcome.response.status == sealbox_guest::Status::Failure {
        let errors: Vec<_> =
            outcome.response.diagnostics.iter().filter(|d| d.severity == sealbox_guest::Severity::Error).collect();
        let only_missing = !errors.is_empty() && errors.iter().all(|d| d.rule.as_deref() == Some("render/missing-key"));
        if !(config.warn_missing && only_missing) {
            anyhow::bail!("{}", steps::failure_message("render", &outcome.response));
        }
        // sealer renders at deploy time, with the cluster's values; here a value may well be
        // missing, and sealer's renderer prints `<no value>` for it.
        warnings.extend(errors.iter().map(|d| {
            format!(
                "{}; rendered as `<no value>`, as sealer renders a missing value at deploy time \
                 (--strict-templates makes this an error)",
                steps::format_diagnostic(d)
            )
        }));
        (outcome, out) = steps.run("render", &render, input, work, request("zero"), None)?;
    }
    let modes = rendered_modes(&outcome.response.data);
    let mut notes = Vec::new();
    apply_output(&out, &outcome.output, dests, &modes, &mut notes)?;
    let rendered = outcome.output.iter().filter(|e| e.kind == FileKind::File).count();
    warnings.extend(steps::warnings(&outcome.response));
    Ok((rendered, warnings, notes))
}

/// `sealbox render`: renders the templates of a rootfs directory, as a
/// build does, writing the results into `dest` (which may be `dir` itself).
/// `dest` is the operator's: a link or directory where a rendered file
/// goes is refused, never written through or replaced. Returns how many
/// files were rendered, the step's warnings, and notes for `--verbose`.
pub fn render_directory(
    sandbox: &Sandbox,
    dir: &Path,
    dest: &Path,
    config: &RenderConfig,
    source_date_epoch: u64,
) -> Result<(usize, Vec<String>, Vec<String>)> {
    let work = tempfile::Builder::new().prefix("sealbox-render-").tempdir().context("creating a work directory")?;
    let steps = Steps::new(sandbox.clone(), ImageInfo { source_date_epoch, ..ImageInfo::default() });
    let dest = TreeWriter::open(dest, Existing::Refuse)?;
    run_render(&steps, dir, work.path(), &[&dest], config)
}

/// Lists a tree for a step to read, refusing links that lead out of it.
fn list_tree(root: &Path) -> Result<Vec<FileEntry>> {
    let dir = Dir::open_ambient_dir(root, cap_std::ambient_authority())?;
    Ok(crate::tree::walk(&dir, &crate::tree::WalkOptions::default())?)
}

/// Lists a staged rootfs for a module to read. Its links are the image's,
/// kept as data: one that leads out (an absolute `etc/localtime`, or a
/// context's chain) is listed, and the sandbox refuses to follow it.
fn list_rootfs(root: &Path) -> Result<Vec<FileEntry>> {
    let dir = Dir::open_ambient_dir(root, cap_std::ambient_authority())?;
    let options = crate::tree::WalkOptions { list_escaping_symlinks: true, ..crate::tree::WalkOptions::default() };
    Ok(crate::tree::walk(&dir, &options)?)
}

/// Evaluates the `--policy` policies over the analysis tree's manifests.
fn run_policies(
    steps: &Steps,
    options: &BuildOptions,
    analysis: &AnalysisTree,
    work: &Path,
    charts: &[serde_json::Value],
) -> Result<(String, Vec<String>, Vec<Verdict>)> {
    // Policies are the operator's files; copy them into the tree so the
    // step reads them through its one read-only mount.
    let policy_root = ".sealbox/policies";
    for (i, p) in options.policies.iter().enumerate() {
        copy_policy(p, analysis, &format!("{policy_root}/{i}"))?;
    }
    for (i, c) in charts.iter().enumerate() {
        if let Some(m) = c.get("manifest").and_then(|m| m.as_str()) {
            analysis.write(&format!(".sealbox/charts/{i}.yaml"), &mut m.as_bytes(), 0o644)?;
        }
    }
    let resources: Vec<&str> = ["manifests", "applications", "application/apps", "etc", ".sealbox/charts"]
        .into_iter()
        .filter(|d| analysis.root().join(d).is_dir())
        .collect();
    let kyverno = steps.builtin("kyverno")?;
    let mut req = StepRequest::new(serde_json::json!({
        "mode": "apply",
        "policies": [policy_root],
        "resources": resources,
        // Stray YAML under etc/ or raw chart templates are not resources;
        // the step warns about them instead of failing the build.
        "skipInvalid": true,
    }));
    req.files = list_tree(analysis.root())?;
    let (outcome, _) = steps.run_unchecked("policy", &kyverno, analysis.root(), work, req, None)?;
    let found = verdicts::from_kyverno(&outcome.response);
    // A failure that is no rule's (a policy that does not load) is the
    // step's own, not a finding.
    if outcome.response.status == sealbox_guest::Status::Failure && !found.iter().any(Verdict::fails_build) {
        anyhow::bail!("{}", steps::failure_message("policy", &outcome.response));
    }
    let summary = outcome.response.data.get("summary").cloned().unwrap_or_default();
    let count = |k: &str| summary.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
    let text = format!("{} pass, {} fail, {} warn", count("pass"), count("fail"), count("warn"));
    Ok((text, steps::warnings(&outcome.response), found))
}

fn copy_policy(path: &Path, analysis: &AnalysisTree, dest: &str) -> Result<()> {
    for_each_yaml(path, &mut |rel, content| analysis.write(&format!("{dest}/{rel}"), content, 0o644))
}

/// Calls `each` with every YAML or JSON document file of `path` — the file
/// itself, or every such file under the directory, read without following
/// links — and its path relative to `path` (its name, for a file).
pub fn for_each_yaml(path: &Path, each: &mut dyn FnMut(&str, &mut dyn std::io::Read) -> Result<()>) -> Result<()> {
    let meta = std::fs::metadata(path).with_context(|| format!("{}", path.display()))?;
    if meta.is_file() {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("input.yaml");
        let mut f = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
        return each(name, &mut f);
    }
    let dir = Dir::open_ambient_dir(path, cap_std::ambient_authority())
        .with_context(|| format!("opening {}", path.display()))?;
    let entries =
        crate::tree::walk(&dir, &crate::tree::WalkOptions::default()).with_context(|| format!("{}", path.display()))?;
    for e in entries {
        let is_doc = [".yaml", ".yml", ".json"].iter().any(|ext| e.path.ends_with(ext));
        if e.kind == FileKind::File && is_doc {
            let mut f = dir.open(&e.path).with_context(|| format!("reading {}/{}", path.display(), e.path))?;
            each(&e.path, &mut f)?;
        }
    }
    Ok(())
}

fn report(
    progress: &mut Progress<'_>,
    name: &str,
    module: &str,
    started: Instant,
    cached: bool,
    what: &str,
) -> StepReport {
    report_line(progress, name, module, started.elapsed(), cached, what)
}

/// Prints one step's line and gives its report.
fn report_line(
    progress: &mut Progress<'_>,
    name: &str,
    module: &str,
    duration: std::time::Duration,
    cached: bool,
    what: &str,
) -> StepReport {
    let how = if cached { "cached".to_string() } else { format!("{:.2}s", duration.as_secs_f64()) };
    progress(&format!("{name:<28} {module:<10} {how:>8}  {what}"));
    StepReport { name: name.to_string(), module: module.to_string(), duration, cached }
}

/// `12.3 MiB`.
pub fn human_size(bytes: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < units.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 { format!("{bytes} B") } else { format!("{v:.1} {}", units[i]) }
}
