//! Helm charts, rendered like `helm template` so that images chosen by
//! values and templates are found.
//!
//! The template engine is `sealbox-render`'s Go `text/template`; this module
//! adds what Helm brings: chart loading with sub-charts and `.tgz` archives
//! ([`chart`]), values coalescing, globals, conditions and tags
//! ([`values`], [`render`]), Helm's functions and the sprig functions charts
//! use ([`funcs`], [`semver`], [`files`]), and Helm's object methods
//! (`.Files.Get`, `.Capabilities.APIVersions.Has`) via [`methods`].
//!
//! Rendering uses the chart's default values under the user's
//! ([`release::Release`]: values files, `--set…`), release name
//! `release-name` (the application's name for charts under
//! `application/apps/`), namespace `default`, Kubernetes
//! [`render::KUBE_VERSION`], `.helmignore` ([`helmignore`]) and helm 3.17's
//! whole function map ([`more_funcs`]); `lookup` returns an empty
//! map, as without a cluster. As in Helm, partials (`_*`) and `NOTES.txt`
//! produce no manifest, library charts only lend their definitions, `crds/`
//! is not rendered (printed as is with `--include-crds`, [`order`]), and a
//! dependency missing from `charts/` is an error. [`order`] prints the
//! documents in helm's order (by kind, hooks last).
//!
//! Known differences from Helm: template values are immutable, so `set`,
//! `unset` and `merge` return the changed map and rebind only the variable
//! they were given (charts that rely on the side effect through another
//! reference see the old map); random, clock and certificate functions return fixed
//! values. `values.schema.json` is checked as helm checks it ([`schema`]),
//! with the validator's wording for each failure.

pub mod capabilities;
pub mod chart;
pub mod files;
pub mod funcs;
pub mod helmignore;
pub mod methods;
pub mod more_funcs;
pub mod order;
pub mod release;
pub mod render;
pub mod schema;
pub mod semver;
pub mod values;

use std::path::Path;

/// One rendered manifest of a chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedManifest {
    /// Helm's name for the template (`chart/charts/sub/templates/x.yaml`),
    /// as `helm template` prints it after `# Source:`.
    pub name: String,
    /// The template it came from, as a path under the input root (an
    /// archive's inner path follows `!/`).
    pub template: String,
    /// The rendered text.
    pub text: String,
    /// Whether rendering called `lookup` (which finds nothing offline, so
    /// the text may differ from an install's).
    pub lookup: bool,
}

/// Why a chart could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartError {
    /// The file at fault, as a path under the input root, when known.
    pub file: Option<String>,
    /// The 1-based line in that file, when known.
    pub line: Option<u32>,
    /// What went wrong.
    pub message: String,
}

impl std::fmt::Display for ChartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "{file}:{line}: {}", self.message),
            (Some(file), None) => write!(f, "{file}: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ChartError {}

/// The release name `helm template` uses when none is given.
pub const DEFAULT_RELEASE: &str = "release-name";

/// Loads the chart at `chart` (a directory or `.tgz`, relative to `root`).
pub fn load_chart(root: &Path, chart: &str) -> Result<chart::Chart, ChartError> {
    let path = root.join(chart);
    if path.is_dir() {
        chart::load_dir(&path, chart)
    } else {
        let bytes = std::fs::read(&path).map_err(|e| ChartError {
            file: Some(chart.to_string()),
            line: None,
            message: format!("cannot read chart archive: {e}"),
        })?;
        chart::load_archive(&bytes, chart)
    }
}

/// Renders the chart at `chart` (a directory or `.tgz`, relative to `root`)
/// as `release` says.
pub fn render_chart(root: &Path, chart: &str, release: &release::Release) -> Result<Vec<RenderedManifest>, ChartError> {
    render::render(&load_chart(root, chart)?, release)
}

/// What `helm template` prints for the chart at `chart` (relative to
/// `root`): the documents in helm's order under `# Source:` headers, the
/// CRD files first when `include_crds`; and the templates that called
/// `lookup` (which finds nothing offline).
pub fn template_text(
    root: &Path,
    chart: &str,
    release: &release::Release,
    include_crds: bool,
) -> Result<(String, Vec<String>), ChartError> {
    let loaded = load_chart(root, chart)?;
    let manifests = render::render(&loaded, release)?;
    let crds = if include_crds { render::crd_objects(&loaded, release) } else { Vec::new() };
    let lookups = manifests.iter().filter(|m| m.lookup).map(|m| m.name.clone()).collect();
    Ok((order::template_output(&manifests, &crds)?, lookups))
}
