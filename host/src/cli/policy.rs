//! `sealbox policy test|apply`: Kyverno policies, offline, in the sandbox.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use sealbox_guest::{API_VERSION, ImageInfo, Request, Response, Status};

use super::{Failed, StoreArgs, UsageError};
use crate::sandbox::{Invocation, Limits, ModuleBinary, Sandbox, SharedWriter};
use crate::text::{TerminalSafe, escape_for_terminal};
use crate::tree::{self, WalkOptions};

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Run Kyverno test files (`kyverno-test.yaml`) found under each DIR.
    ///
    /// Prints a table per test and a total; exits 1 if any row fails. A row
    /// whose policy gave no response for its resource is shown as
    /// `excluded`, never as a pass (Kyverno passes such rows silently).
    /// Files a test names must lie inside the DIR given.
    Test(TestArgs),
    /// Evaluate policies against resources (files, directories, multi-document
    /// YAML, or `-` for stdin, e.g. `helm template . | sealbox policy apply -p pol.yaml -`).
    Apply(ApplyArgs),
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// Directories to search for kyverno-test.yaml files.
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
    /// `table` for people, `json` for one JSON object per result row.
    #[arg(long, short = 'o', value_enum, default_value = "table")]
    output: TestOutput,
    /// Make `excluded` rows failures unless they expect `skip`.
    #[arg(long)]
    strict: bool,
    #[command(flatten)]
    common: StoreArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum TestOutput {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Policy files or directories (repeatable).
    #[arg(short = 'p', long = "policy", required = true)]
    policies: Vec<PathBuf>,
    /// Resource files or directories (repeatable); `-` reads stdin.
    #[arg(short = 'r', long = "resource")]
    resources: Vec<PathBuf>,
    /// Resources given without -r (`-` for stdin).
    #[arg(value_name = "RESOURCE")]
    more: Vec<PathBuf>,
    /// A JSON payload (repeatable): a file holding one JSON object (or one
    /// YAML document), not a Kubernetes resource, such as a Terraform plan
    /// or a Dockerfile parsed to JSON. Only ValidatingPolicies with
    /// `evaluation.mode: JSON` and DeletingPolicies evaluate payloads, as
    /// with `kyverno apply --json`; rows name the payload's file.
    #[arg(long = "json", value_name = "FILE")]
    json: Vec<PathBuf>,
    /// A values file (Kyverno's `Values` format) for variables.
    #[arg(long)]
    values: Option<PathBuf>,
    /// Report Audit failures as warnings.
    #[arg(long)]
    audit_warn: bool,
    /// Output format. Results are printed as they are found, so memory
    /// stays flat however many resources there are: a table fixes its
    /// column widths from the first 1,000 rows, SARIF and PolicyReport put
    /// their rule list and summary after the results, and JUnit holds one
    /// `<testsuite>` per 1,000 rows.
    #[arg(long, short = 'o', value_enum, default_value = "table")]
    output: ApplyOutput,
    #[command(flatten)]
    common: StoreArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ApplyOutput {
    Table,
    Json,
    Sarif,
    Junit,
    PolicyReport,
}

pub fn run(cmd: PolicyCommand) -> Result<()> {
    match cmd {
        PolicyCommand::Test(args) => test(args),
        PolicyCommand::Apply(args) => apply(args),
    }
}

/// Runs the kyverno builtin once over `input` with `config`.
fn run_kyverno(common: &StoreArgs, input: &Path, config: serde_json::Value) -> Result<Response> {
    run_kyverno_to(common, input, config, None)
}

/// [`run_kyverno`], with the module's stdout streamed to `stdout` when
/// given (the config asks the builtin to stream); the response is then
/// read from its `/out/response.json`.
fn run_kyverno_to(
    common: &StoreArgs,
    input: &Path,
    config: serde_json::Value,
    stdout: Option<Box<dyn Write + Send>>,
) -> Result<Response> {
    let sandbox: Sandbox = common.sandbox()?;
    let bytes = crate::builtins::get("kyverno").context("the kyverno builtin is missing")?;
    let binary = ModuleBinary::parse(bytes.to_vec())?;
    let module = sandbox.load(&binary, "kyverno")?;
    let dir = cap_std::fs::Dir::open_ambient_dir(input, cap_std::ambient_authority())
        .with_context(|| format!("opening {}", input.display()))?;
    let walk = WalkOptions { list_escaping_symlinks: true, ..WalkOptions::default() };
    let files = tree::walk(&dir, &walk).map_err(|e| UsageError(format!("{}: {e}", input.display())))?;
    let out = tempfile::tempdir().context("creating a scratch directory")?;
    let request = Request {
        api_version: API_VERSION.into(),
        step: "policy".into(),
        config,
        env: Default::default(),
        image: ImageInfo { source_date_epoch: super::source_date_epoch()?, ..ImageInfo::default() },
        files,
    };
    // A streamed report may be as long as the input is; a captured
    // response is held in memory, so it is capped.
    let stdout_cap = if stdout.is_some() { u64::MAX } else { 1 << 30 };
    let limits = Limits { timeout: std::time::Duration::from_secs(600), stdout: stdout_cap, ..Limits::default() };
    let step = Invocation {
        name: "policy".into(),
        input: input.to_path_buf(),
        output: Some(out.path().into()),
        documents: None,
        request,
        limits,
        stdout,
    };
    match sandbox.run(&module, step) {
        Ok(outcome) => {
            super::module::relay_stderr(&outcome.stderr, outcome.stderr_truncated);
            Ok(outcome.response)
        }
        Err(failure) => {
            super::module::relay_stderr(&failure.stderr, false);
            Err(Failed { message: failure.to_string(), printed: false }.into())
        }
    }
}

fn test(args: TestArgs) -> Result<()> {
    let mut failed = false;
    let mut totals = [0u64; 5];
    for dir in &args.dirs {
        if !dir.is_dir() {
            return Err(UsageError(format!("{}: not a directory", dir.display())).into());
        }
        let config = serde_json::json!({"mode": "test", "paths": ["."], "strict": args.strict, "output": "table"});
        let response = run_kyverno(&args.common, dir, config)?;
        // A directory without test files would print `0 pass` and succeed,
        // so a typo in a CI script would pass: refuse it instead.
        let found = response.data.get("files").and_then(|f| f.as_array()).is_some_and(|f| !f.is_empty());
        if !found {
            return Err(UsageError(format!("{}: no kyverno-test.yaml found", dir.display())).into());
        }
        failed |= response.status == Status::Failure;
        match args.output {
            TestOutput::Table => {
                if let Some(t) = response.data.get("rendered").and_then(|r| r.as_str()) {
                    println!("{}", escape_for_terminal(t.as_bytes()));
                }
            }
            TestOutput::Json => {
                for file in response.data.get("files").and_then(|f| f.as_array()).into_iter().flatten() {
                    for row in file.get("rows").and_then(|r| r.as_array()).into_iter().flatten() {
                        println!("{}", serde_json::to_string(row)?);
                    }
                }
            }
        }
        let summary = response.data.get("summary").cloned().unwrap_or_default();
        for (i, k) in ["pass", "fail", "excluded", "unsupported", "errors"].iter().enumerate() {
            totals[i] += summary.get(*k).and_then(|v| v.as_u64()).unwrap_or(0);
        }
        for d in &response.diagnostics {
            if d.severity == sealbox_guest::Severity::Error && d.rule.is_none() {
                eprintln!("error: {}", escape_for_terminal(crate::pipeline::format_diagnostic(d).as_bytes()));
            }
        }
    }
    if matches!(args.output, TestOutput::Table) && args.dirs.len() > 1 {
        println!(
            "Total: {} pass, {} fail, {} excluded, {} unsupported, {} errors",
            totals[0], totals[1], totals[2], totals[3], totals[4]
        );
    }
    if failed {
        return Err(Failed { message: format!("{} rows failed", totals[1] + totals[4]), printed: true }.into());
    }
    Ok(())
}

fn apply(args: ApplyArgs) -> Result<()> {
    let stage = tempfile::tempdir().context("creating a staging directory")?;
    let root = stage.path();
    for (i, p) in args.policies.iter().enumerate() {
        copy_in(p, &root.join(format!("policies/{i}")))?;
    }
    let mut resources: Vec<&PathBuf> = args.resources.iter().chain(args.more.iter()).collect();
    if resources.is_empty() && args.json.is_empty() {
        return Err(UsageError(
            "no resources: give -r FILE or DIR, `-` to read stdin, or --json FILE for a JSON payload".into(),
        )
        .into());
    }
    let mut payloads = Vec::new();
    for (i, p) in args.json.iter().enumerate() {
        if !p.is_file() {
            return Err(UsageError(format!("--json {}: not a file", p.display())).into());
        }
        // Staged as policies and resources are; the step is told the name
        // the copy got.
        let dir = format!("payloads/{i}");
        payloads.extend(copy_in(p, &root.join(&dir))?.into_iter().map(|name| format!("{dir}/{name}")));
    }
    resources.dedup();
    for (i, r) in resources.iter().enumerate() {
        if r.as_os_str() == "-" {
            std::fs::create_dir_all(root.join(format!("resources/{i}")))?;
            let mut file = std::fs::File::create(root.join(format!("resources/{i}/stdin.yaml")))?;
            std::io::copy(&mut std::io::stdin().lock(), &mut file).context("reading resources from stdin")?;
        } else {
            copy_in(r, &root.join(format!("resources/{i}")))?;
        }
    }
    let mut config = serde_json::json!({
        "mode": "apply",
        "policies": ["policies"],
        "resources": if resources.is_empty() { vec![] } else { vec!["resources"] },
        "payloads": payloads,
        "auditWarn": args.audit_warn,
        // Rows are printed as they are found: memory stays flat however
        // many resources there are.
        "stream": true,
        "output": match args.output {
            ApplyOutput::Table => "table",
            ApplyOutput::Json => "json",
            ApplyOutput::Sarif => "sarif",
            ApplyOutput::Junit => "junit",
            ApplyOutput::PolicyReport => "policy-report",
        },
    });
    if let Some(values) = &args.values {
        std::fs::copy(values, root.join("values.yaml"))
            .map_err(|e| UsageError(format!("--values {}: {e}", values.display())))?;
        config["values"] = "values.yaml".into();
    }
    let report = SharedWriter::new(TerminalSafe::new(std::io::stdout()));
    let response = run_kyverno_to(&args.common, root, config, Some(Box::new(report.clone())))?;
    report.into_inner().context("the policy step still holds the report")?.finish().context("writing the report")?;
    for d in &response.diagnostics {
        if d.rule.is_none() {
            eprintln!("{:?}: {}", d.severity, escape_for_terminal(crate::pipeline::format_diagnostic(d).as_bytes()));
        }
    }
    if response.status == Status::Failure {
        return Err(Failed { message: "policy violations (fail or error results)".into(), printed: true }.into());
    }
    Ok(())
}

/// Copies a file, or a directory's YAML files, under `dest`; returns the
/// paths the copies got under `dest`.
fn copy_in(src: &Path, dest: &Path) -> Result<Vec<String>> {
    if !src.exists() {
        return Err(UsageError(format!("{}: no such file or directory", src.display())).into());
    }
    let mut copied = Vec::new();
    crate::pipeline::for_each_yaml(src, &mut |rel, content| {
        copied.push(rel.to_string());
        let to = dest.join(rel);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        let mut f = std::fs::File::create(&to).with_context(|| format!("writing {}", to.display()))?;
        std::io::copy(content, &mut f).with_context(|| format!("writing {}", to.display()))?;
        Ok(())
    })?;
    Ok(copied)
}
