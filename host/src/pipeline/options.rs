//! What `sealbox build` was asked for, as the CLI hands it to the
//! pipeline. Only the options live here; checking flags is the CLI's job
//! and acting on them the phases'.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::ceilings::Ceilings;
use super::lock::Lock;
use super::pipeline_file::Pipeline;
use crate::kubefile::{ImageType, Platform};
use crate::oci::Compression;

/// `--build-mode`, sealer's flag: `all` carries the container images in
/// the image (`registry/`), `lite` only their list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BuildMode {
    #[default]
    All,
    Lite,
}

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
    /// express (see [`super::normalized_mode`]).
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
    /// Whether the image list's images go into the image (`registry/`).
    pub build_mode: BuildMode,
    /// An image that cannot be fetched is a warning and left out, not an error.
    pub ignore_missing_images: bool,
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
    /// Mirrors asked first for the container images of `registry/`.
    pub registry_mirrors: Vec<crate::registry::offline::Mirror>,
    /// Registry step caches to seed the local step cache from.
    pub cache_from: Vec<crate::registry::Reference>,
    /// Where to push the step-cache entries this build used or made.
    pub cache_to: Option<crate::registry::Reference>,
    /// What the operator allows the context's grants, modules and archives.
    pub ceilings: Ceilings,
}
