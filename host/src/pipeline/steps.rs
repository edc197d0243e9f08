//! Running a build's modules in the sandbox ([`ModuleRunner`]), each with
//! exactly the grants its job needs, and reading their responses
//! (failures, warnings, notes). Which module runs when is the phases'
//! business; how a module is confined is the sandbox's.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, anyhow, bail};
use sealbox_guest::{API_VERSION, Diagnostic, FileEntry, ImageInfo, Request, Response, Severity, Status};

use super::ceilings::Deadline;
use super::compile_once::CompileOnce;
use crate::sandbox::{Invocation, Limits, Module, ModuleBinary, Sandbox, StepError, StepOutcome};

/// A module being compiled or compiled (or why it did not compile).
type CompileSlot = CompileOnce<Result<Module, String>>;

/// A builtin known by name and digest, loaded on first use.
pub struct LazyBuiltin<'a> {
    runner: &'a ModuleRunner,
    /// The builtin's name, as reports show it.
    pub name: &'static str,
    /// The digest of its wasm.
    pub digest: String,
}

impl LazyBuiltin<'_> {
    /// The module, loaded (once per build) if it was not yet.
    pub fn module(&self) -> Result<Module> {
        self.runner.builtin(self.name)
    }
}

/// Runs builtin modules for one build; loads each module once.
pub struct ModuleRunner {
    sandbox: Sandbox,
    loaded: Mutex<HashMap<&'static str, Module>>,
    /// Third-party modules by digest, each compiled once: a second caller
    /// (the step itself, after the build compiled its module ahead of it)
    /// waits for the first instead of compiling again.
    compiled: Mutex<HashMap<String, Arc<CompileSlot>>>,
    /// Image facts every request carries.
    pub image: ImageInfo,
    /// The whole build's deadline, which every step's time is clipped to.
    deadline: Option<Deadline>,
}

impl ModuleRunner {
    pub fn new(sandbox: Sandbox, image: ImageInfo) -> Self {
        ModuleRunner {
            sandbox,
            loaded: Mutex::new(HashMap::new()),
            compiled: Mutex::new(HashMap::new()),
            image,
            deadline: None,
        }
    }

    /// These steps under the build's `deadline`: none starts after it, and
    /// none runs past it.
    pub fn with_deadline(mut self, deadline: Option<Deadline>) -> Self {
        self.deadline = deadline;
        self
    }

    /// The builtin called `name`, compiled or from the cache.
    pub fn builtin(&self, name: &'static str) -> Result<Module> {
        let mut loaded = self.loaded.lock().map_err(|_| anyhow!("module table poisoned"))?;
        if let Some(m) = loaded.get(name) {
            return Ok(m.clone());
        }
        let bytes = crate::builtins::get(name).with_context(|| format!("no builtin module {name}"))?;
        let binary = ModuleBinary::parse(bytes.to_vec()).with_context(|| format!("builtin {name}"))?;
        let module = self.sandbox.load(&binary, name).with_context(|| format!("loading builtin {name}"))?;
        loaded.insert(name, module.clone());
        Ok(module)
    }

    /// The builtin called `name` by its digest, loaded only when it runs:
    /// an unchanged rebuild needs its builtins' digests for the cache keys
    /// and nothing else of them.
    pub fn lazy_builtin(&self, name: &'static str) -> Result<LazyBuiltin<'_>> {
        let digest = crate::builtins::digest(name).with_context(|| format!("no builtin module {name}"))?;
        Ok(LazyBuiltin { runner: self, name, digest })
    }

    /// Compiles a third-party module (or loads it from the precompiled
    /// cache), once per digest for this build; `fallback_name` names it
    /// when it carries no metadata.
    pub fn load(&self, binary: &ModuleBinary, fallback_name: &str) -> Result<Module> {
        let slot = {
            let mut compiled = self.compiled.lock().map_err(|_| anyhow!("module table poisoned"))?;
            compiled.entry(binary.digest.clone()).or_default().clone()
        };
        slot.get_or_make(|| self.sandbox.load(binary, fallback_name).map_err(|e| format!("{e:#}")))
            .map_err(|e| anyhow!(e))
    }

    /// Runs `module` over `input` with a fresh `/out` in `work`, and turns
    /// every way it can fail into an error naming the step.
    pub fn run(
        &self,
        step_name: &str,
        module: &Module,
        input: &Path,
        work: &Path,
        request: RunRequest,
        stdout: Option<Box<dyn std::io::Write + Send>>,
    ) -> Result<(StepOutcome, std::path::PathBuf)> {
        let (outcome, out) = self.run_unchecked(step_name, module, input, work, request, stdout)?;
        if outcome.response.status == Status::Failure {
            bail!("{}", failure_message(step_name, &outcome.response));
        }
        Ok((outcome, out))
    }

    /// Like [`ModuleRunner::run`], but a response with status `failure` is
    /// returned, not an error: a policy's verdict is the caller's to judge.
    pub fn run_unchecked(
        &self,
        step_name: &str,
        module: &Module,
        input: &Path,
        work: &Path,
        request: RunRequest,
        stdout: Option<Box<dyn std::io::Write + Send>>,
    ) -> Result<(StepOutcome, std::path::PathBuf)> {
        let (limits, clipped) = match &self.deadline {
            Some(deadline) => deadline.clip(step_name, request.limits).map_err(|e| anyhow!(e))?,
            None => (request.limits, false),
        };
        let out = tempfile::Builder::new()
            .prefix(&format!("{step_name}-out-"))
            .tempdir_in(work)
            .context("creating a step output directory")?
            .keep();
        let req = Request {
            api_version: API_VERSION.into(),
            step: step_name.into(),
            config: request.config,
            env: request.env,
            image: self.image.clone(),
            files: request.files,
        };
        let step = Invocation {
            name: step_name.into(),
            input: input.to_path_buf(),
            output: Some(out.clone()),
            documents: request.documents,
            request: req,
            limits,
            stdout,
        };
        match self.sandbox.run(module, step) {
            Ok(outcome) => Ok((outcome, out)),
            Err(failure) if clipped && matches!(failure.cause, StepError::TimedOut(_)) => {
                let passed = self.deadline.as_ref().map(Deadline::passed).unwrap_or_default();
                bail!("step {step_name} (module {}) was stopped: {passed}", failure.module)
            }
            Err(failure) => {
                let log = crate::text::escape_for_terminal(&failure.stderr);
                let tail: Vec<&str> = log.lines().rev().take(20).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                if tail.is_empty() {
                    bail!("step {step_name}: {failure}")
                }
                bail!("step {step_name}: {failure}\n  its last output:\n    {}", tail.join("\n    "))
            }
        }
    }
}

/// The parts of a request a pipeline step chooses.
pub struct RunRequest {
    pub config: serde_json::Value,
    pub env: BTreeMap<String, String>,
    pub files: Vec<FileEntry>,
    pub limits: Limits,
    /// The documents view to mount at `/documents`, for a step granted it.
    pub documents: Option<std::path::PathBuf>,
}

impl RunRequest {
    pub fn new(config: serde_json::Value) -> Self {
        RunRequest { config, env: BTreeMap::new(), files: vec![], limits: Limits::default(), documents: None }
    }
}

/// `file:line:col: message` for one diagnostic, as compilers print them.
pub fn format_diagnostic(d: &Diagnostic) -> String {
    let mut loc = String::new();
    if let Some(f) = &d.file {
        loc.push_str(f);
        if let Some(l) = d.line {
            loc.push_str(&format!(":{l}"));
            if let Some(c) = d.column {
                loc.push_str(&format!(":{c}"));
            }
        }
        loc.push_str(": ");
    }
    let rule = d.rule.as_deref().map(|r| format!(" [{r}]")).unwrap_or_default();
    format!("{loc}{}{rule}", d.message)
}

pub(super) fn failure_message(step: &str, response: &Response) -> String {
    let errors: Vec<String> =
        response.diagnostics.iter().filter(|d| d.severity == Severity::Error).map(format_diagnostic).collect();
    if errors.is_empty() {
        format!("step {step} failed (it gave no reason)")
    } else {
        format!("step {step} failed:\n  {}", errors.join("\n  "))
    }
}

/// The warnings of a response, formatted.
pub fn warnings(response: &Response) -> Vec<String> {
    response.diagnostics.iter().filter(|d| d.severity == Severity::Warning).map(format_diagnostic).collect()
}

/// The informational diagnostics of a response, formatted.
pub fn notes(response: &Response) -> Vec<String> {
    response.diagnostics.iter().filter(|d| d.severity == Severity::Info).map(format_diagnostic).collect()
}
