//! The `imagelist` builtin outside a build: `sealbox imagelist` (the image
//! search over a directory) and `sealbox chart template` (one chart's
//! manifests), run in the sandbox exactly as the build runs the step.

use std::path::Path;

use anyhow::{Context, Result};
use sealbox_guest::{ImageInfo, Response};

use super::outputs::list_tree;
use super::steps::{ModuleRunner, RunRequest};
use crate::sandbox::Sandbox;

/// Runs the `imagelist` builtin over `dir` with `config` (the step's
/// configuration, as `sealbox-imagelist`'s `Config` reads it) and returns
/// its response; a failed step is an error with its diagnostics.
pub fn run_imagelist(
    sandbox: &Sandbox,
    dir: &Path,
    config: serde_json::Value,
    source_date_epoch: u64,
) -> Result<Response> {
    let work = tempfile::Builder::new().prefix("sealbox-imagelist-").tempdir().context("creating a work directory")?;
    let steps = ModuleRunner::new(sandbox.clone(), ImageInfo { source_date_epoch, ..ImageInfo::default() });
    let module = steps.builtin("imagelist")?;
    let mut req = RunRequest::new(config);
    req.files = list_tree(dir)?;
    let (outcome, _out) = steps.run("imagelist", &module, dir, work.path(), req, None)?;
    Ok(outcome.response)
}
