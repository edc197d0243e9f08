//! `sealbox module test`: runs the cases of `sealbox-test.yaml` files, each
//! as a pipeline step of a build would run (see
//! [`crate::pipeline::SingleStepRunner`]), and compares what the module
//! answered with what the case expects.
//!
//! A case passes only when the module gave a valid response whose status,
//! findings and (for a transform) output all match: a module that crashed,
//! answered nothing or answered something that is not a response is an
//! error, never a pass.

mod check;
mod file;
mod report;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use sealbox_guest::{Diagnostic, FileKind, ModuleKind, Severity};

use super::{Failed, UsageError};
use crate::pipeline::{OneStep, SingleStepRunner, StepCase};

pub use file::TEST_FILE;

/// Parses a test file's text, for callers that write one (the scaffold's tests).
#[cfg(test)]
pub fn parse_test_file(file: &str, dir: &Path, text: &str) -> Result<(), String> {
    file::parse(file, dir, text).map(|_| ()).map_err(|e| e.to_string())
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// Test files, or directories holding a `sealbox-test.yaml` (default: `.`).
    paths: Vec<PathBuf>,
    /// Run this module instead of the one the test file names (for a module
    /// built elsewhere, such as under `$CARGO_TARGET_DIR`).
    #[arg(long, value_name = "FILE.wasm")]
    module: Option<PathBuf>,
    /// How to print the results.
    #[arg(long, value_enum, default_value = "text")]
    output: OutputFormat,
    /// Where precompiled modules are cached (default: $SEALBOX_CACHE or the
    /// XDG cache dir).
    #[arg(long, env = "SEALBOX_CACHE", value_name = "DIR")]
    cache: Option<PathBuf>,
    /// Compile in memory, without the precompiled cache.
    #[arg(long)]
    no_cache: bool,
}

/// How `sealbox module test` prints its results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// A table, then each failing case's differences.
    Text,
    Json,
    /// JUnit XML, for CI systems.
    Junit,
}

/// How one case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    /// The module answered, not as expected.
    Fail,
    /// The module did not answer usably (crashed, no response, refused).
    Error,
}

/// One case's result.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CaseResult {
    pub file: String,
    pub case: String,
    pub line: u32,
    pub outcome: Outcome,
    /// The differences (a failure) or the error, as readable text.
    pub problems: Vec<String>,
    /// What the module found (warnings and errors).
    pub findings: Vec<Diagnostic>,
    #[serde(serialize_with = "report::seconds")]
    pub took: Duration,
}

/// Runs `sealbox module test`; exit status 1 when a case did not pass.
pub fn run(args: TestArgs) -> Result<()> {
    let paths = if args.paths.is_empty() { vec![PathBuf::from(".")] } else { args.paths.clone() };
    let mut files = Vec::new();
    for path in &paths {
        let path = if path.is_dir() { path.join(TEST_FILE) } else { path.clone() };
        files.push(file::read(&path).map_err(|e| UsageError(e.to_string()))?);
    }
    let cache =
        if args.no_cache { None } else { args.cache.clone().or_else(crate::sandbox::ModuleCache::default_root) };
    let sandbox = super::open_sandbox(cache.as_deref())?;
    // The test files' directories (inputs, modules, expected trees) and
    // the module given; nothing else, and no network.
    let mut confinement = crate::confine::Confinement::new().deny_tcp_connect();
    for path in &paths {
        let dir = if path.is_dir() { path.as_path() } else { path.parent().unwrap_or(Path::new(".")) };
        confinement = confinement.read(if dir.as_os_str().is_empty() { Path::new(".") } else { dir });
    }
    if let Some(module) = &args.module {
        confinement = confinement.read(module);
    }
    let (_, work) = super::confine(confinement, cache.as_deref())?;
    let runner = SingleStepRunner::new(sandbox, super::source_date_epoch()?, work.path())?;
    let mut results = Vec::new();
    for test in &files {
        let Some(module) = args.module.as_deref().or(test.module.as_deref()) else {
            let m = format!("{}: names no module: add `module: PATH.wasm`, or give --module FILE", test.file);
            return Err(UsageError(m).into());
        };
        let kind = module_kind(module, test)?;
        for case in &test.cases {
            results.push(run_case(&runner, test, module, kind, case));
        }
    }
    let mut out = std::io::stdout().lock();
    match args.output {
        OutputFormat::Text => report::text(&mut out, &results)?,
        OutputFormat::Json => report::json(&mut out, &results)?,
        OutputFormat::Junit => report::junit(&mut out, &results)?,
    }
    let failed = results.iter().filter(|r| r.outcome != Outcome::Pass).count();
    if failed > 0 {
        return Err(
            Failed { message: format!("{failed} of {} cases did not pass", results.len()), printed: true }.into()
        );
    }
    Ok(())
}

/// The module's kind: its metadata's, else the test file's `moduleKind`.
fn module_kind(module: &Path, test: &file::TestFile) -> Result<ModuleKind> {
    // Read as the step will read it: through its directory, no link followed out.
    let not_read = |e: &dyn std::fmt::Display| {
        UsageError(format!("{}: module {}: {e} (build it first, or give --module FILE)", test.file, module.display()))
    };
    let dir = module.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = module.file_name().ok_or_else(|| not_read(&"not a file name"))?;
    let bytes = cap_std::fs::Dir::open_ambient_dir(dir, cap_std::ambient_authority())
        .and_then(|d| d.read(name))
        .map_err(|e| not_read(&e))?;
    let binary = crate::sandbox::ModuleBinary::parse(bytes)
        .map_err(|e| UsageError(format!("{}: module {}: {e}", test.file, module.display())))?;
    match (binary.metadata.map(|m| m.kind), test.module_kind) {
        (Some(kind), _) | (None, Some(kind)) => Ok(kind),
        (None, None) => Err(UsageError(format!(
            "{}: module {} carries no metadata: add `moduleKind: policy` (or transform) to the test file",
            test.file,
            module.display()
        ))
        .into()),
    }
}

/// Runs one case and judges it.
fn run_case(
    runner: &SingleStepRunner,
    test: &file::TestFile,
    module: &Path,
    kind: ModuleKind,
    case: &file::Case,
) -> CaseResult {
    let started = Instant::now();
    let step = StepCase {
        name: step_name(&case.name),
        file: &test.file,
        line: case.line,
        module,
        kind,
        config: case.config.clone(),
        grants: case.grants.clone(),
        input: &case.input,
    };
    let result = |outcome, problems, findings| CaseResult {
        file: test.file.clone(),
        case: case.name.clone(),
        line: case.line,
        outcome,
        problems,
        findings,
        took: started.elapsed(),
    };
    let ran = match runner.run(&step) {
        Ok(ran) => ran,
        Err(e) => return result(Outcome::Error, vec![format!("{e:#}")], vec![]),
    };
    // Files are named by image path, under the granted tree, as the
    // build's report names them.
    let mut response = ran.response.clone();
    let tree = case.grants.tree.as_str();
    for d in response.diagnostics.iter_mut().filter(|_| tree != ".") {
        d.file = d.file.take().map(|f| format!("{tree}/{f}"));
    }
    let findings: Vec<Diagnostic> =
        response.diagnostics.iter().filter(|d| d.severity != Severity::Info).cloned().collect();
    let output = match written(&ran) {
        Ok(output) => output,
        Err(e) => return result(Outcome::Error, vec![format!("reading the step's output: {e:#}")], findings),
    };
    let problems = check::differences(&case.expect, &check::Actual { response: &response, output });
    let outcome = if problems.is_empty() { Outcome::Pass } else { Outcome::Fail };
    result(outcome, problems, findings)
}

/// A step name made of a case name: lowercase letters, digits and dashes.
fn step_name(case: &str) -> String {
    let name: String =
        case.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    let name = name.trim_matches('-');
    if name.is_empty() { "case".into() } else { crate::text::truncate_at_char_boundary(name, 60).to_string() }
}

/// What a transform wrote, by image path (a link as `-> TARGET`); `None`
/// for a policy or a failed transform.
fn written(ran: &OneStep) -> Result<Option<BTreeMap<String, Vec<u8>>>> {
    let Some(output) = &ran.output else { return Ok(None) };
    let dir = cap_std::fs::Dir::open_ambient_dir(&output.dir, cap_std::ambient_authority())
        .with_context(|| format!("opening {}", output.dir.display()))?;
    let mut files = BTreeMap::new();
    for entry in &output.listing {
        let from = entry.source_path();
        match entry.kind {
            FileKind::Dir => {}
            FileKind::File => {
                files.insert(entry.path.clone(), dir.read(from).with_context(|| format!("reading {from}"))?);
            }
            FileKind::Symlink => {
                let target = entry.link.clone().unwrap_or_default();
                files.insert(entry.path.clone(), format!("-> {target}").into_bytes());
            }
        }
    }
    Ok(Some(files))
}
