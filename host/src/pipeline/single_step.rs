//! One pipeline step run on its own, over a tree the caller supplies,
//! through the very [`StageRunner`] a build's stage uses (the module read
//! and checked as a `sealbox.yaml` step's, the same grants, sandbox and
//! limits). `sealbox module test` runs each of its cases through this.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use sealbox_guest::{ImageInfo, ModuleKind};

use super::ceilings::Ceilings;
use super::listing::LayerEntry;
use super::pipeline_file::{FailureAction, ModuleRef, Pipeline, PipelineStep, Stage, StepGrants};
use super::stages::{OneStep, StageRunner};
use super::staging::StagedTree;
use super::steps::ModuleRunner;
use crate::sandbox::Sandbox;
use crate::tree::{self, WalkOptions};

/// What one case gives the step as its image tree.
pub enum CaseInput {
    /// A directory, copied in as a layer would be (its links stay links,
    /// never followed).
    Dir(PathBuf),
    /// Files written from memory: `(path, content)`.
    Files(Vec<(String, Vec<u8>)>),
}

/// One step to run: the module file, its kind, config and grants, and its tree.
pub struct StepCase<'a> {
    /// The step's name (a case name turned into one) and where it is
    /// written, for messages: `FILE:LINE: step NAME`.
    pub name: String,
    pub file: &'a str,
    pub line: u32,
    /// The `.wasm` file.
    pub module: &'a Path,
    pub kind: ModuleKind,
    pub config: serde_json::Value,
    pub grants: StepGrants,
    pub input: &'a CaseInput,
}

/// Runs single steps: one module runner (each module compiled once), a
/// private store and work directory, the operator's default ceilings.
pub struct SingleStepRunner {
    runner: ModuleRunner,
    store: crate::oci::Store,
    registry: crate::registry::Options,
    ceilings: Ceilings,
    work: PathBuf,
}

impl SingleStepRunner {
    /// A runner over `sandbox` whose requests carry `source_date_epoch`,
    /// working under `work` (which it fills; the caller removes it).
    pub fn new(sandbox: Sandbox, source_date_epoch: u64, work: &Path) -> Result<Self> {
        let image = ImageInfo { source_date_epoch, ..ImageInfo::default() };
        let store = crate::oci::Store::open(&work.join("store")).context("opening a scratch store")?;
        Ok(SingleStepRunner {
            runner: ModuleRunner::new(sandbox, image),
            store,
            registry: crate::registry::Options::default(),
            ceilings: Ceilings::default(),
            work: work.to_path_buf(),
        })
    }

    /// Stages `case.input` as a fresh rootfs and runs the step over it as a
    /// build's stage would; returns the response and a transform's output.
    pub fn run(&self, case: &StepCase<'_>) -> Result<OneStep> {
        let (Some(dir), Some(file)) = (case.module.parent(), case.module.file_name()) else {
            bail!("{}: not a module file", case.module.display());
        };
        let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
        let root = tempfile::Builder::new().prefix("case-").tempdir_in(&self.work)?.keep();
        let rootfs = StagedTree::whole(root).context("staging the case's tree")?;
        stage_input(&rootfs, case.input)?;
        let step = PipelineStep {
            name: case.name.clone(),
            line: case.line,
            stage: Stage::AfterRender,
            module: ModuleRef::File(file.to_string_lossy().into_owned()),
            digest: None,
            kind: case.kind,
            config: case.config.clone(),
            grants: case.grants.clone(),
            failure_action: FailureAction::Enforce,
        };
        let pipeline = Pipeline { file: case.file.to_string(), dir: dir.to_path_buf(), steps: vec![step] };
        let operator_env = BTreeMap::new();
        let stage = StageRunner {
            pipeline: &pipeline,
            steps: &self.runner,
            rootfs: &rootfs,
            also_into: vec![],
            work: &self.work,
            lock: None,
            cache: None,
            store: &self.store,
            registry: &self.registry,
            ceilings: &self.ceilings,
            operator_env: &operator_env,
        };
        let at = format!("{}:{}: case {}", case.file, case.line, case.name);
        stage.run_one(&pipeline.steps[0]).with_context(|| at)
    }
}

/// Fills the staged rootfs with the case's tree.
fn stage_input(rootfs: &StagedTree, input: &CaseInput) -> Result<()> {
    match input {
        CaseInput::Dir(path) => {
            let dir = cap_std::fs::Dir::open_ambient_dir(path, cap_std::ambient_authority())
                .with_context(|| format!("opening input {}", path.display()))?;
            let listing: Vec<LayerEntry> = tree::walk(&dir, &WalkOptions::default())
                .map_err(|e| anyhow::anyhow!("input {}: {e}", path.display()))?
                .into_iter()
                .map(LayerEntry::from)
                .collect();
            rootfs.copy_in(&dir, &listing)
        }
        CaseInput::Files(files) => {
            for (path, content) in files {
                rootfs.write(path, &mut content.as_slice(), 0o644).with_context(|| format!("staging {path}"))?;
            }
            Ok(())
        }
    }
}
