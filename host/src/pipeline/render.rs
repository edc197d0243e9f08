//! Rendering templates: the `render` step over a tree, its output copied
//! with its templates' modes into the trees that receive it, for a build
//! and for `sealbox render`. Which files are templates is the module's
//! business (the host knows only that they are named `*.tmpl`, to skip
//! the step for a tree with none); where the results go is the caller's.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use sealbox_guest::{FileKind, ImageInfo};

use super::outputs::{apply_output, list_tree};
use super::steps::{self, ModuleRunner, RunRequest};
use crate::sandbox::Sandbox;
use crate::tree::{Existing, TreeWriter};

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
    /// The functions templates may call: `sprig` (warning for each one
    /// sealer's deploy-time renderer lacks) or `sealer` (only those).
    pub funcs: String,
}

/// Runs the render step over `input` and copies the rendered files, with
/// their templates' modes, into each of `dests`. Returns how many files
/// were rendered and the step's warnings.
pub fn run_render(
    steps: &ModuleRunner,
    input: &Path,
    work: &Path,
    dests: &[&TreeWriter],
    config: &RenderConfig,
) -> Result<(usize, Vec<String>, Vec<String>)> {
    let files = list_tree(input)?;
    // The module renders only `*.tmpl` files (of some directories), and
    // names only those in its warnings: a tree with no such name has
    // nothing for it, and no sandbox needs starting.
    if !files.iter().any(|f| f.path.ends_with(".tmpl")) {
        return Ok((0, Vec::new(), Vec::new()));
    }
    let render = steps.builtin("render")?;
    let request = |missing_key: &str| {
        let mut req =
            RunRequest::new(serde_json::json!({"missingKey": missing_key, "apps": config.apps, "funcs": config.funcs}));
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
    let steps = ModuleRunner::new(sandbox.clone(), ImageInfo { source_date_epoch, ..ImageInfo::default() });
    let dest = TreeWriter::open(dest, Existing::Refuse)?;
    run_render(&steps, dir, work.path(), &[&dest], config)
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
