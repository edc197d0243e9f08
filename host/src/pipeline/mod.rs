//! The build pipeline: which steps run, in what order, with what grants.
//!
//! For each platform a [`build::Build`] turns the Kubefile into an image,
//! one phase a file, in this order:
//!
//! 1. `plan`: the Kubefile planned, its base image resolved;
//! 2. `stage`: every COPY/ADD/APP/CNI/CSI resolved against the context
//!    into a layer listing, the base image copied into the analysis tree
//!    (and a staged rootfs when a module reads one), and each
//!    `RUN --module` run over the rootfs so far, within its grant;
//! 3. `analyse`: the analysis tree filled, then `render` renders its
//!    `.tmpl` files, `imagelist` finds the container images, and `kyverno`
//!    checks every manifest against the `--policy` policies (`policies`);
//!    the pipeline file's steps run at their stages around these
//!    (`stages`); meanwhile the plan's layers are packed (`plan_layers`)
//!    and, from phase 2 on, the pipeline file's modules are compiled
//!    ahead of their steps (`precompile`);
//! 4. `pack`: the pipeline's transform outputs and a last layer of
//!    rendered files and the image list become layer blobs;
//!    then `offline_images` fetches the image list's container images
//!    (host network I/O, no module) into a `registry/` layer;
//! 5. `assemble`: the config and manifest are written to the store;
//!    several platforms get an index (here).
//!
//! Every step runs in the sandbox; the host only lists, copies, hashes and
//! compresses. The sandbox is how a module runs, the store how images are
//! kept; this module only decides. Progress lines and step reports go
//! through `report`; cache keys and entries live in `cache`.

mod analyse;
mod app_charts;
mod archive;
mod assemble;
mod base;
mod build;
mod cache;
mod ceilings;
mod compile_once;
mod documents;
mod grants;
mod imagelist_run;
mod listing;
mod lock;
mod offline_images;
mod options;
mod outcome;
mod outputs;
mod pack;
mod packer;
mod pipeline_file;
mod plan;
mod plan_layers;
mod policies;
mod precompile;
mod render;
mod report;
mod single_step;
mod small_file;
mod stage;
mod stages;
mod staging;
mod steps;
mod transform;
mod verdicts;

pub use ceilings::{AddRatio, CeilingExceeded, Ceilings, Deadline};
pub use imagelist_run::run_imagelist;
pub use lock::{LOCK_FILE, Lock};
pub use offline_images::{
    ANNOTATION_MISSING_IMAGES, ANNOTATION_OFFLINE_IMAGES, OfflineImage, OfflineSummary, REGISTRY_DIR,
};
pub use options::{BuildMode, BuildOptions};
pub use outcome::{ANNOTATION_CONTAINER_IMAGES, BuildOutcome, LayerReport, PlatformOutcome};
pub use packer::normalized_mode;
/// The pipeline file's field readers, for files of the same style (`sealbox-test.yaml`).
pub(crate) use pipeline_file::{Fail, check_keys, mapping, parse_grants, required, string};
pub use pipeline_file::{PIPELINE_FILE, Pipeline, StepGrants};
pub use policies::for_each_yaml;
pub use render::{RenderConfig, render_directory};
pub use report::{Progress, StepReport, human_size};
pub use single_step::{CaseInput, SingleStepRunner, StepCase};
pub use stages::{OneStep, StageOutput};
pub use steps::format_diagnostic;
pub use verdicts::{PolicyFailure, PolicyFinding, sarif};

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use cap_std::fs::Dir;

use crate::kubefile;
use crate::oci::spec;
use crate::oci::{Digest, Index, Store};
use crate::sandbox::Sandbox;
use build::{Build, BuildInputs};
use cache::StepCache;

/// Seeds the step cache from each `--cache-from` registry cache, saying
/// how many entries each gave. A missing or unreachable cache costs time,
/// not the build: it is a warning.
fn seed_cache(
    cache: &StepCache,
    store: &Store,
    options: &BuildOptions,
    progress: &mut Progress<'_>,
    warnings: &mut Vec<String>,
) {
    for from in &options.cache_from {
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
}

/// The blobs the step cache refers to and those of the container images
/// fetched for builds; `rmi` keeps them so that a later build can still
/// reuse its cached layers and images.
pub fn cached_blobs(store_root: &Path) -> Vec<Digest> {
    let mut blobs = StepCache::blobs(store_root);
    // The container images fetched for `registry/` layers, so a rebuild
    // after `rmi` need not fetch them again.
    blobs.extend(crate::registry::offline::kept_blobs(store_root));
    blobs
}

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
    let mut images = BTreeMap::new();
    let mut verdicts = Vec::new();
    let mut manifests = Vec::new();
    let mut platforms = Vec::new();
    seed_cache(&cache, store, options, progress, &mut warnings);
    let inputs = BuildInputs { sandbox, store, options, kubefile: &parsed, ctx: &ctx, cache: &cache };
    for platform in &options.platforms {
        let build = Build::new(inputs, platform, work.path(), &mut *progress);
        let built = build.and_then(Build::run);
        let built =
            if options.platforms.len() > 1 { built.with_context(|| format!("building {platform}"))? } else { built? };
        reports.extend(built.steps);
        warnings.extend(built.warnings);
        notes.extend(built.notes);
        modules.extend(built.modules);
        images.extend(built.images);
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
        images,
        verdicts,
    })
}
