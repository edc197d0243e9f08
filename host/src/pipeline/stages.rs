//! Running the pipeline file's steps at their stage: each module read
//! through cap-std from the pipeline file's directory, checked against its
//! pin, the lock, its declared kind and its grant before it runs, then run
//! once over the granted sub-tree of the staged rootfs.
//!
//! A policy step's verdict joins the build's report; its `/out` is thrown
//! away. A transform step's `/out` is mapped to the granted sub-path and
//! becomes a layer of its own, so it cannot write anywhere else.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use cap_std::fs::Dir;
use sealbox_guest::{FileEntry, FileKind, ModuleKind, Response};

use super::cache::{CachedOutput, KeyBuilder, StepCache, tree_key};
use super::ceilings::Ceilings;
use super::documents::ViewMaker;
use super::grants::{self, Grant};
use super::listing::LayerEntry;
use super::lock::Lock;
use super::outputs::{list_rootfs, list_tree};
use super::pipeline_file::{ModuleRef, Pipeline, PipelineStep, Stage};
use super::report::Reporter;
use super::staging::StagedTree;
use super::steps::{ModuleRunner, RunRequest};
use super::verdicts::{self, PolicyFinding};
use crate::sandbox::{Limits, ModuleBinary};

const MIB: u64 = 1024 * 1024;

/// What one stage's transform step wrote, ready to be packed as a layer.
pub struct StageOutput {
    /// `sealbox.yaml: step NAME`, the layer's history entry.
    pub created_by: String,
    /// The directory holding the files (under the granted sub-path's names).
    pub dir: PathBuf,
    /// The layer listing: image paths, each read from `source` under `dir`.
    pub listing: Vec<LayerEntry>,
}

/// The results of one stage.
#[derive(Default)]
pub struct StageResults {
    pub verdicts: Vec<PolicyFinding>,
    pub outputs: Vec<StageOutput>,
    /// Warnings of the steps (a policy's Audit findings among them).
    pub warnings: Vec<String>,
    /// Module path to digest, for `sealbox.lock`.
    pub modules: BTreeMap<String, String>,
}

/// The pipeline steps of one build and platform.
pub struct StageRunner<'a> {
    pub pipeline: &'a Pipeline,
    pub steps: &'a ModuleRunner,
    /// The staged rootfs every step reads (a sub-path of it).
    pub rootfs: &'a StagedTree,
    /// Trees that also receive a transform's output (the analysis tree).
    pub also_into: Vec<&'a StagedTree>,
    pub work: &'a Path,
    pub lock: Option<&'a Lock>,
    pub cache: Option<&'a StepCache>,
    /// Where `oci://` modules are fetched into, and how registries are reached.
    pub store: &'a crate::oci::Store,
    pub registry: &'a crate::registry::Options,
    /// The operator's ceilings every grant is held to.
    pub ceilings: &'a Ceilings,
    /// The operator's `--env` values, which a step granted `env: "*"` gets.
    pub operator_env: &'a BTreeMap<String, String>,
}

impl StageRunner<'_> {
    /// Runs every step of `stage` in file order, applying each transform's
    /// output before the next step runs.
    pub fn run(&self, stage: Stage, report: &Reporter<'_>) -> Result<StageResults> {
        use rayon::prelude::*;
        let mut results = StageResults::default();
        let steps: Vec<&PipelineStep> = self.pipeline.at(stage).collect();
        let mut next = 0;
        while next < steps.len() {
            // Consecutive policy steps only read the tree: they run at the
            // same time. A transform changes it, so it runs alone.
            let policies = steps[next..].iter().take_while(|s| s.kind == ModuleKind::Policy).count();
            let batch = &steps[next..next + policies.max(1)];
            next += batch.len();
            // Steps of a batch over the same sub-tree share its listing and
            // content digest: the tree does not change within a batch.
            let mut views: BTreeMap<&str, Result<TreeView, String>> = BTreeMap::new();
            // The documents view of a sub-tree is made once for the batch,
            // when one of its steps asks for it.
            for step in batch {
                let tree = step.grants.tree.as_str();
                if !views.contains_key(tree) {
                    let documents = batch.iter().any(|s| s.grants.tree == tree && s.grants.documents);
                    views.insert(tree, self.view(tree, documents).map_err(|e| format!("{e:#}")));
                }
            }
            let ran: Vec<Result<(String, StepResult, std::time::Duration)>> = batch
                .par_iter()
                .map(|step| {
                    let started = Instant::now();
                    let at = format!("{}:{}: step {}", self.pipeline.file, step.line, step.name);
                    let binary = self.load(step).with_context(|| at.clone())?;
                    let view = match views.get(step.grants.tree.as_str()) {
                        Some(Ok(view)) => view,
                        Some(Err(e)) => bail!("{at}: {e}"),
                        None => bail!("{at}: no view of {}", step.grants.tree),
                    };
                    let ran = self.run_step(step, &binary, view).with_context(|| at.clone())?;
                    Ok((binary.digest, ran, started.elapsed()))
                })
                .collect();
            for (step, ran) in batch.iter().zip(ran) {
                let (digest, ran, took) = ran?;
                if step.kind == ModuleKind::Transform && ran.response.status == sealbox_guest::Status::Failure {
                    let name = format!("{} (module {})", step.name, step.module);
                    let at = format!("{}:{}: step {}", self.pipeline.file, step.line, step.name);
                    bail!("{at}: {}", super::steps::failure_message(&name, &ran.response));
                }
                if let Some(path) = step.module.lock_name() {
                    results.modules.insert(path, digest);
                }
                let what = self.record(step, ran.response, ran.output, &mut results)?;
                let name = format!("{} {}", stage.as_str(), step.name);
                report.pipeline_step(&name, &ran.module_name, took, ran.cached, &what);
            }
        }
        Ok(results)
    }

    /// Runs one step over the granted sub-tree exactly as [`StageRunner::run`]
    /// would (same checks, grants and sandbox), without applying its output:
    /// the step's response and, for a transform that succeeded, what it wrote.
    /// `sealbox module test` runs its cases through this.
    pub fn run_one(&self, step: &PipelineStep) -> Result<OneStep> {
        let binary = self.load(step)?;
        let view = self.view(&step.grants.tree, step.grants.documents)?;
        let ran = self.run_step(step, &binary, &view)?;
        Ok(OneStep { response: ran.response, output: ran.output, module_name: ran.module_name })
    }

    /// Adds what a step gave to `results`: a policy's verdicts, a
    /// transform's output (applied to the trees later steps read). Returns
    /// the summary for its report line.
    fn record(
        &self,
        step: &PipelineStep,
        response: Response,
        output: Option<StageOutput>,
        results: &mut StageResults,
    ) -> Result<String> {
        if step.kind == ModuleKind::Policy {
            let module = step.module.to_string();
            let found = verdicts::from_response(&step.name, &module, &step.grants.tree, step.failure_action, &response);
            let errors = found.iter().filter(|v| v.severity == sealbox_guest::Severity::Error).count();
            results.warnings.extend(found.iter().filter(|v| !v.fails_build()).map(PolicyFinding::to_text));
            results.verdicts.extend(found);
            return Ok(format!("{errors} failed ({:?})", step.failure_action));
        }
        results.warnings.extend(super::steps::warnings(&response));
        let Some(output) = output else { return Ok("0 files".into()) };
        let files = output.listing.iter().filter(|e| e.kind != FileKind::Dir).count();
        let dir = Dir::open_ambient_dir(&output.dir, cap_std::ambient_authority())?;
        self.rootfs.copy_in(&dir, &output.listing)?;
        for tree in &self.also_into {
            tree.copy_in(&dir, &output.listing)?;
        }
        if !output.listing.is_empty() {
            results.outputs.push(output);
        }
        Ok(format!("{files} files"))
    }

    /// Reads the step's module and checks it ([`read_module`]).
    fn load(&self, step: &PipelineStep) -> Result<ModuleBinary> {
        let source =
            ModuleSource { pipeline: self.pipeline, lock: self.lock, store: self.store, registry: self.registry };
        source.read(step)
    }

    /// The grant of a step: its env, output only for a transform, and its
    /// limits over the sandbox defaults, within the operator's ceilings
    /// (the build checked the pipeline file against them before it began;
    /// clipping here keeps that true for any caller).
    fn grant(&self, step: &PipelineStep) -> Grant {
        let mut limits = Limits::default();
        if let Some(t) = step.grants.timeout {
            limits.timeout = t;
        }
        if let Some(m) = step.grants.memory_mib {
            limits.memory = m.saturating_mul(MIB);
        }
        let write_output = step.kind == ModuleKind::Transform;
        if !write_output {
            // A policy's `/out` is thrown away: it gets none to fill (the
            // sandbox mounts it read-only).
            limits.output_files = 0;
            limits.output_bytes = 0;
        }
        let mut env = BTreeMap::new();
        if step.grants.env.contains_key("*") && self.ceilings.module_env_all {
            env.clone_from(self.operator_env);
        }
        env.extend(step.grants.env.iter().filter(|(k, _)| *k != "*").map(|(k, v)| (k.clone(), v.clone())));
        Grant { env, write_output, limits, env_all: false }.within(self.ceilings)
    }

    /// The directory the step sees as `/in`: its granted sub-path of the
    /// rootfs, which must be a real directory (no link on the way).
    fn input(&self, tree: &str) -> Result<PathBuf> {
        let mut dir = self.rootfs.root().to_path_buf();
        if tree == "." {
            return Ok(dir);
        }
        for c in Path::new(tree).components() {
            let Component::Normal(name) = c else { bail!("grants.tree {tree:?} is not a plain relative path") };
            dir.push(name);
            let meta = std::fs::symlink_metadata(&dir);
            if !meta.is_ok_and(|m| m.is_dir()) {
                bail!("grants.tree {tree:?}: the image has no directory {tree} (or it is a link)");
            }
        }
        Ok(dir)
    }

    /// The granted sub-tree's directory, listing, (with the cache on)
    /// content digest and, when asked for, its documents view.
    fn view(&self, tree: &str, documents: bool) -> Result<TreeView> {
        let input = self.input(tree)?;
        let files: Vec<FileEntry> = list_rootfs(&input)?
            .into_iter()
            .map(|e| if e.kind == FileKind::Dir { FileEntry { mode: 0o755, ..e } } else { e })
            .collect();
        let digest = match self.cache {
            Some(_) => {
                Some(tree_key("pipeline-tree", "", &serde_json::Value::Null, &self.steps.image, &input, &files, None)?)
            }
            None => None,
        };
        let documents = if documents {
            let maker = ViewMaker { steps: self.steps, cache: self.cache, store: self.store, work: self.work };
            Some(maker.view(&input, &files, digest.as_deref()).context("making the documents view")?)
        } else {
            None
        };
        Ok(TreeView { input, files, digest, documents })
    }

    fn run_step(&self, step: &PipelineStep, binary: &ModuleBinary, view: &TreeView) -> Result<StepResult> {
        let grant = self.grant(step);
        let shown = step.module.to_string();
        grants::check(binary.metadata.as_ref(), &grant)
            .map_err(|refusal| refusal.into_error(format!("module {shown} refused before it ran")))?;
        let capabilities = binary.metadata.as_ref().map(|m| m.capabilities.clone()).unwrap_or_default();
        let env = grant.env_for(&capabilities);
        let module_name = binary.metadata.as_ref().map_or_else(|| shown.clone(), |m| m.name.clone());
        let (input, files) = (&view.input, &view.files);
        let key = match &view.digest {
            Some(tree) => {
                let config = serde_json::json!({
                    "config": step.config, "env": env, "tree": step.grants.tree, "kind": kind_name(step.kind),
                    "documents": step.grants.documents,
                });
                let key = KeyBuilder::new("pipeline-step").part(&binary.digest).part(serde_json::to_vec(&config)?);
                Some(key.part(tree).finish())
            }
            None => None,
        };
        // A transform's output may come from a registry cache (later
        // policies see it); a policy's verdict only from this machine.
        if let (Some(key), Some(cache)) = (&key, self.cache)
            && let Some(hit) = match step.kind {
                ModuleKind::Transform => cache.get_shared::<CachedOutput>(key),
                _ => cache.get::<CachedOutput>(key),
            }
        {
            let output = match step.kind {
                ModuleKind::Transform => {
                    let dir = tempfile::Builder::new().prefix("pipeline-cached-").tempdir_in(self.work)?.keep();
                    hit.write_into(&[&crate::tree::TreeWriter::open(&dir, crate::tree::Existing::Replace)?])?;
                    let written = list_tree(&dir)?;
                    Some(self.output(step, dir, &written, files))
                }
                _ => None,
            };
            return Ok(StepResult { response: hit.response, output, module_name, cached: true });
        }
        let module = self.steps.load(binary, &shown).with_context(|| format!("loading module {shown}"))?;
        let mut req = RunRequest::new(step.config.clone());
        req.env = env;
        req.files = files.clone();
        req.limits = grant.limits;
        if step.grants.documents {
            let Some(view) = &view.documents else { bail!("step {}: no documents view was made", step.name) };
            req.documents = Some(view.clone());
        }
        let (outcome, out) = self
            .steps
            .run_unchecked(&step.name, &module, input, self.work, req, None)
            .with_context(|| format!("module {shown}"))?;
        if step.kind == ModuleKind::Transform && outcome.response.status == sealbox_guest::Status::Failure {
            // Neither cached nor applied: the caller fails the build with
            // its reasons (`sealbox module test` compares them instead).
            return Ok(StepResult { response: outcome.response, output: None, module_name, cached: false });
        }
        if let (Some(key), Some(cache)) = (&key, self.cache) {
            let written = if step.kind == ModuleKind::Transform { outcome.output.as_slice() } else { &[] };
            if let Some(entry) = CachedOutput::capture(&out, written, &outcome.response)? {
                cache.put(key, &entry)?;
            }
        }
        let output = match step.kind {
            ModuleKind::Transform => Some(self.output(step, out, &outcome.output, files)),
            _ => None,
        };
        Ok(StepResult { response: outcome.response, output, module_name, cached: false })
    }

    /// A transform's `/out` as a layer: every path under the granted
    /// sub-path (with that path's directories), read from `/out`. Modes
    /// come from the rootfs for rewritten files, else 0644 and 0755.
    fn output(&self, step: &PipelineStep, dir: PathBuf, written: &[FileEntry], before: &[FileEntry]) -> StageOutput {
        let tree = step.grants.tree.as_str();
        let prefix = |p: &str| if tree == "." { p.to_string() } else { format!("{tree}/{p}") };
        let modes: BTreeMap<&str, u32> = before.iter().map(|e| (e.path.as_str(), e.mode)).collect();
        let mut listing = Vec::new();
        if tree != "." && !written.is_empty() {
            let mut parent = String::new();
            for part in tree.split('/') {
                parent = if parent.is_empty() { part.to_string() } else { format!("{parent}/{part}") };
                listing.push(LayerEntry::dir(&parent, 0o755));
            }
        }
        for e in written {
            let mode = match e.kind {
                FileKind::Dir => 0o755,
                FileKind::File => modes.get(e.path.as_str()).copied().unwrap_or(0o644),
                FileKind::Symlink => 0o777,
            };
            let source = (tree != ".").then(|| e.path.clone());
            listing.push(LayerEntry { path: prefix(&e.path), mode, source, ..LayerEntry::from(e.clone()) });
        }
        // The file's name only: a host path in the image history would make
        // the image depend on where the context lies.
        let file = Path::new(&self.pipeline.file)
            .file_name()
            .map_or(self.pipeline.file.clone(), |n| n.to_string_lossy().into_owned());
        StageOutput { created_by: format!("{file}: step {}", step.name), dir, listing }
    }
}

/// What a step sees: its `/in` on the host, the listing sent with the
/// request, and the digest of its content (`None` with the cache off).
struct TreeView {
    input: PathBuf,
    files: Vec<FileEntry>,
    digest: Option<String>,
    /// The directory holding its documents view, when a step asked for it.
    documents: Option<PathBuf>,
}

/// What [`StageRunner::run_one`] gave: the module's response, and for a
/// transform that succeeded its output, not yet applied to any tree.
pub struct OneStep {
    pub response: Response,
    pub output: Option<StageOutput>,
    /// The module's name (from its metadata, else as the step names it).
    pub module_name: String,
}

/// What running one step gave.
struct StepResult {
    response: Response,
    output: Option<StageOutput>,
    module_name: String,
    cached: bool,
}

/// Where a pipeline step's module comes from and what it is held to: the
/// pipeline file's directory, the lock, and the registries of `oci://`
/// modules (fetched into the store).
#[derive(Clone, Copy)]
pub struct ModuleSource<'a> {
    pub pipeline: &'a Pipeline,
    pub lock: Option<&'a Lock>,
    pub store: &'a crate::oci::Store,
    pub registry: &'a crate::registry::Options,
}

impl ModuleSource<'_> {
    /// Reads the step's module and checks its pin, the lock, its kind and
    /// the host version it needs.
    pub fn read(&self, step: &PipelineStep) -> Result<ModuleBinary> {
        let binary = match &step.module {
            ModuleRef::File(path) => {
                let dir = Dir::open_ambient_dir(&self.pipeline.dir, cap_std::ambient_authority())
                    .with_context(|| format!("opening {}", self.pipeline.dir.display()))?;
                // Resolved by cap-std: a symlink leading out of the pipeline
                // file's directory is an error, not a host file.
                let bytes = dir.read(path).with_context(|| format!("reading module {path}"))?;
                ModuleBinary::parse(bytes).with_context(|| format!("module {path}"))?
            }
            ModuleRef::Builtin(name) => {
                let bytes = crate::builtins::get(name).ok_or_else(|| anyhow!("no builtin module {name}"))?;
                ModuleBinary::parse(bytes.to_vec()).with_context(|| format!("builtin:{name}"))?
            }
            ModuleRef::Oci(reference) => {
                // The parser requires the pin; the bytes come back checked
                // against it, before anything compiles them.
                let pin = step.digest.as_deref().ok_or_else(|| anyhow!("module {} has no pin", step.module))?;
                let bytes = crate::registry::module::fetch_module(reference, pin, self.registry, Some(self.store))
                    .with_context(|| format!("fetching module {}", step.module))?;
                ModuleBinary::parse(bytes).with_context(|| format!("module {}", step.module))?
            }
        };
        let shown = step.module.to_string();
        if let Some(pin) = &step.digest
            && *pin != binary.digest
        {
            bail!("module {shown} does not match its pin:\n  pinned:  {pin}\n  actual:  {}", binary.digest);
        }
        if let Some(lock) = self.lock
            && let Some(path) = step.module.lock_name()
        {
            lock.check(&path, &binary.digest).map_err(|e| anyhow!("{e}"))?;
        }
        if let Some(meta) = &binary.metadata {
            if meta.kind != step.kind {
                bail!(
                    "module {shown} is a {} module; the step declares kind {}",
                    kind_name(meta.kind),
                    kind_name(step.kind)
                );
            }
            if let Some(needs) = meta.min_host_version.as_deref() {
                super::transform::check_host_version(needs, env!("CARGO_PKG_VERSION"))
                    .map_err(|e| anyhow!("module {shown}: {e}"))?;
            }
        }
        Ok(binary)
    }
}

fn kind_name(kind: ModuleKind) -> &'static str {
    match kind {
        ModuleKind::Policy => "policy",
        ModuleKind::Transform => "transform",
    }
}

/// Runs the steps of `stage` when the build has a pipeline, adding what
/// they found to `results`, then fails the build when an Enforce policy
/// failed, in this stage or before (with every finding so far). Returns the transforms' outputs.
pub fn run_stage(
    runner: Option<&StageRunner<'_>>,
    stage: Stage,
    report: &Reporter<'_>,
    results: &mut StageResults,
) -> Result<Vec<StageOutput>> {
    let mut outputs = vec![];
    if let Some(runner) = runner {
        let done = runner.run(stage, report)?;
        results.warnings.extend(done.warnings);
        results.modules.extend(done.modules);
        results.verdicts.extend(done.verdicts);
        outputs = done.outputs;
    }
    verdicts::enforce(&results.verdicts)?;
    Ok(outputs)
}

#[cfg(test)]
#[path = "stages_tests.rs"]
mod tests;
