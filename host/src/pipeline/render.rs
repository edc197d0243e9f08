//! Rendering templates: the `render` step over a tree, its output copied
//! with its templates' modes into the trees that receive it, for a build
//! and for `sealbox render`. Which files are templates is the module's
//! business; where the results go is the caller's.

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
    let render = steps.builtin("render")?;
    let mut req = RunRequest::new(serde_json::json!({"missingKey": config.missing_key, "apps": config.apps}));
    req.env = config.env.clone();
    req.files = list_tree(input)?;
    let (outcome, out) = steps.run("render", &render, input, work, req, None)?;
    let modes = rendered_modes(&outcome.response.data);
    let mut notes = Vec::new();
    apply_output(&out, &outcome.output, dests, &modes, &mut notes)?;
    let rendered = outcome.output.iter().filter(|e| e.kind == FileKind::File).count();
    Ok((rendered, steps::warnings(&outcome.response), notes))
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
