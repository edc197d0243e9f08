//! The step contract glue: reads the config of a sealbox request, runs
//! `test` or `apply` over files under the input root, and builds the
//! Response (results in `data`, failures as Diagnostics).

use std::ops::ControlFlow;
use std::path::{Component, Path, PathBuf};

use sealbox_guest::{Diagnostic, Request, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::apply;
use crate::apply_report;
use crate::engine::{Engine, EvalOptions};
use crate::jmes::Clock;
use crate::loader::{self, LoadedPolicies};
use crate::policy::FailureAction;
use crate::report;
use crate::response::RuleStatus;
use crate::testfile::{self, RowOutcome};
use crate::values::Values;

/// The step's `config`.
#[derive(Debug, Deserialize)]
#[serde(tag = "mode", rename_all = "lowercase", deny_unknown_fields)]
pub enum Config {
    /// Run every `kyverno-test.yaml` under `paths`.
    Test {
        paths: Vec<String>,
        /// Rows with no response fail unless they expect `skip`.
        #[serde(default)]
        strict: bool,
        /// Also render a table into `data.rendered` (`table`; `json` adds nothing).
        #[serde(default)]
        output: Option<String>,
    },
    /// Evaluate `policies` over `resources`.
    Apply(ApplyInputs),
}

/// Resolves `rel` under `root`, refusing absolute paths and `..`.
fn resolve(root: &Path, rel: &str) -> Result<PathBuf, String> {
    let p = Path::new(rel);
    if p.components().any(|c| !matches!(c, Component::Normal(_) | Component::CurDir)) {
        return Err(format!("path {rel:?} must be relative to the input root and must not contain `..`"));
    }
    Ok(root.join(p))
}

fn display(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).to_string_lossy().replace('\\', "/")
}

/// Runs the step for `req` with its input tree at `root` (`/in` in the sandbox).
pub fn run(req: &Request, root: &Path) -> Response {
    let config: Config = match serde_json::from_value(req.config.clone()) {
        Ok(c) => c,
        Err(e) => return Response::failure(format!("kyverno: invalid config: {e}")),
    };
    let epoch = i64::try_from(req.image.source_date_epoch).unwrap_or(i64::MAX);
    let engine = Engine::new(Clock { now: epoch, seed: req.image.source_date_epoch });
    let result = match config {
        Config::Test { paths, strict, output } => {
            run_test(&engine, root, &paths, strict, output.as_deref() == Some("table"))
        }
        // The report needs somewhere to stream to: see [`run_streaming`].
        Config::Apply(inputs) if inputs.stream => Err("a streamed apply runs through run_streaming".into()),
        Config::Apply(inputs) => run_apply(&engine, root, &inputs),
    };
    result.unwrap_or_else(|e| Response::failure(format!("kyverno: {e}")))
}

fn run_test(engine: &Engine, root: &Path, paths: &[String], strict: bool, table: bool) -> Result<Response, String> {
    let roots = paths.iter().map(|p| resolve(root, p)).collect::<Result<Vec<_>, _>>()?;
    let files = testfile::find_test_files(&roots)?;
    let show = |p: &Path| display(root, p);
    let reports: Vec<_> = files.iter().flat_map(|f| testfile::run_test_file(engine, f, &show)).collect();
    let mut diags = Vec::new();
    for r in &reports {
        if let Some(e) = &r.error {
            diags.push(Diagnostic::error(e.clone()).at(r.test_file.clone(), None, None));
        }
        for row in &r.rows {
            let failed = row.outcome == RowOutcome::Fail
                || (strict && row.outcome == RowOutcome::Excluded && !row.expected.eq_ignore_ascii_case("skip"));
            if failed {
                let mut d = Diagnostic::error(format!(
                    "{} {}: expected {}, got {}{}",
                    row.kind,
                    row.resource,
                    row.expected,
                    if row.actual.is_empty() { "no response" } else { &row.actual },
                    if row.reason.is_empty() { String::new() } else { format!(" ({})", row.reason) }
                ))
                .at(row.test_file.clone(), None, None);
                d.rule = Some(format!("{}/{}", row.policy, row.rule));
                diags.push(d);
            }
        }
    }
    let summary = testfile::summarize(&reports);
    let mut data = json!({"mode": "test", "summary": summary, "files": reports});
    if table {
        data["rendered"] = Value::String(report::test_table(&reports));
    }
    Ok(Response { data, ..Response::success() }.with_diagnostics(diags))
}

fn load_values(root: &Path, v: Option<&Value>) -> Result<Option<Values>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(path)) => {
            let file = resolve(root, path)?;
            let text = loader::read_text(&file)?;
            let docs = loader::documents(&display(root, &file), &text)?;
            let doc = docs.first().ok_or_else(|| format!("{path}: empty values file"))?;
            Values::from_document(doc).map(Some).map_err(|e| format!("{path}: {e}"))
        }
        Some(inline) => Values::from_document(inline).map(Some),
    }
}

/// The config of `apply`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplyInputs {
    policies: Vec<String>,
    #[serde(default)]
    resources: Vec<String>,
    /// JSON payload files (plain JSON or one-document YAML objects), which
    /// JSON-mode policies evaluate.
    #[serde(default)]
    payloads: Vec<String>,
    /// A values file path, or the values document inline.
    #[serde(default)]
    values: Option<Value>,
    #[serde(default, rename = "auditWarn")]
    audit_warn: bool,
    /// Files or directories holding `PolicyException` documents.
    #[serde(default)]
    exceptions: Vec<String>,
    /// Render the rows into `data.rendered` in this format.
    #[serde(default)]
    output: Option<report::Format>,
    /// List passing rows in `data.results` too (they are always counted).
    #[serde(default, rename = "includePasses")]
    include_passes: bool,
    /// Skip, with a warning, resource files that do not parse and
    /// documents that are not Kubernetes objects (a build's `etc/` may
    /// hold other YAML); otherwise they are errors.
    #[serde(default, rename = "skipInvalid")]
    skip_invalid: bool,
    /// Write the rendered rows to the module's stdout as they are found
    /// (see [`run_streaming`]); only `summary` stays in `data`.
    #[serde(default)]
    stream: bool,
}

fn load_docs(root: &Path, paths: &[String]) -> Result<Vec<(String, Vec<Value>)>, String> {
    Ok(load_located(root, paths)?
        .into_iter()
        .map(|(shown, docs)| (shown, docs.into_iter().map(|d| d.value).collect()))
        .collect())
}

fn load_located(root: &Path, paths: &[String]) -> Result<Vec<(String, Vec<crate::yaml::Document>)>, String> {
    let mut out = Vec::new();
    for p in paths {
        for file in loader::yaml_files(&resolve(root, p)?)? {
            let shown = display(root, &file);
            let docs = loader::located_documents(&shown, &loader::read_text(&file)?)?;
            out.push((shown, docs));
        }
    }
    Ok(out)
}

/// What every `apply` needs before the resources: the prepared policies,
/// the exceptions, the values, and warnings about the policies.
struct ApplySetup {
    prepared: Vec<crate::engine::PreparedPolicy>,
    exceptions: Vec<Value>,
    values: Option<Values>,
    diags: Vec<Diagnostic>,
}

fn apply_setup(root: &Path, inputs: &ApplyInputs) -> Result<ApplySetup, String> {
    let mut loaded = LoadedPolicies::default();
    for (shown, docs) in load_docs(root, &inputs.policies)? {
        loader::collect_policies(&mut loaded, &shown, &docs)?;
    }
    let exceptions: Vec<Value> = load_docs(root, &inputs.exceptions)?
        .into_iter()
        .flat_map(|(_, docs)| docs)
        .filter(|d| d.get("kind").and_then(Value::as_str) == Some("PolicyException"))
        .collect();
    let values = load_values(root, inputs.values.as_ref())?;
    let mut diags = Vec::new();
    for (name, kind, file) in &loaded.unsupported {
        diags.push(
            Diagnostic::warning(format!("policy {name}: {kind} policies are not supported yet; not evaluated")).at(
                file.clone(),
                None,
                None,
            ),
        );
    }
    for p in &loaded.policies {
        if let Some(reason) = &p.invalid {
            diags.push(Diagnostic::error(format!("policy {} is invalid: {reason}", p.name)).at(
                p.file.clone(),
                None,
                None,
            ));
        }
    }
    Ok(ApplySetup { prepared: loader::prepare(loaded), exceptions, values, diags })
}

/// Runs an `apply` request whose config asks for `stream`: documents are
/// read one at a time and each row is written to `out` in the requested
/// output format as soon as it is found, so memory follows the largest
/// document and a bounded batch of rows, not the input. The response holds
/// the summary and the warnings that are not rows; it fails when a row
/// would fail a build (an Enforce failure or an error).
pub fn run_streaming(req: &Request, root: &Path, out: &mut dyn std::io::Write) -> Response {
    let inputs = match serde_json::from_value(req.config.clone()) {
        Ok(Config::Apply(inputs)) => inputs,
        Ok(Config::Test { .. }) => return Response::failure("kyverno: only apply streams its rows"),
        Err(e) => return Response::failure(format!("kyverno: invalid config: {e}")),
    };
    let epoch = i64::try_from(req.image.source_date_epoch).unwrap_or(i64::MAX);
    let engine = Engine::new(Clock { now: epoch, seed: req.image.source_date_epoch });
    stream_apply(&engine, root, &inputs, out).unwrap_or_else(|e| Response::failure(format!("kyverno: {e}")))
}

fn stream_apply(
    engine: &Engine,
    root: &Path,
    inputs: &ApplyInputs,
    out: &mut dyn std::io::Write,
) -> Result<Response, String> {
    let format = inputs.output.unwrap_or(report::Format::Table);
    let write_err = |e: std::io::Error| format!("writing the report: {e}");
    let mut report = apply_report::ApplyReport::new(out, format).map_err(write_err)?;
    let walked = apply_each(engine, root, inputs, keep_passes(inputs, Some(format)), &mut |row| report.row(row))?;
    report.finish(&walked.summary).map_err(write_err)?;
    let mut response = Response { data: json!({"mode": "apply", "summary": walked.summary}), ..Response::success() };
    if walked.blocking {
        response.status = sealbox_guest::Status::Failure;
    }
    Ok(response.with_diagnostics(walked.diags))
}

fn run_apply(engine: &Engine, root: &Path, inputs: &ApplyInputs) -> Result<Response, String> {
    let mut rows = Vec::new();
    let walked = apply_each(engine, root, inputs, keep_passes(inputs, inputs.output), &mut |row| {
        rows.push(row);
        Ok(())
    })?;
    let (summary, mut diags) = (walked.summary, walked.diags);
    for row in &rows {
        let message = || {
            format!(
                "policy {} rule {}: {} ({} document {}): {}",
                row.policy, row.rule, row.resource, row.file, row.document, row.message
            )
        };
        let diag = match (row.status, row.failure_action) {
            (RuleStatus::Fail, FailureAction::Enforce) | (RuleStatus::Error, _) => Some(Diagnostic::error(message())),
            (RuleStatus::Fail, FailureAction::Audit) | (RuleStatus::Warn, _) | (RuleStatus::Unsupported, _) => {
                Some(Diagnostic::warning(message()))
            }
            _ => None,
        };
        if let Some(mut d) = diag {
            d.file = Some(row.file.clone());
            d.line = u32::try_from(row.line).ok().filter(|l| *l > 0);
            d.rule = Some(format!("{}/{}", row.policy, row.rule));
            diags.push(d);
        }
    }
    let listed: Vec<&apply::ApplyRow> =
        rows.iter().filter(|r| inputs.include_passes || r.status != RuleStatus::Pass).collect();
    let mut data = json!({"mode": "apply", "summary": summary, "results": listed});
    if let Some(format) = inputs.output {
        data["rendered"] = Value::String(apply_report::apply_output(&rows, &summary, format));
    }
    Ok(Response { data, ..Response::success() }.with_diagnostics(diags))
}

/// Whether rows that pass are kept: reports that list every result need
/// them.
fn keep_passes(inputs: &ApplyInputs, format: Option<report::Format>) -> bool {
    inputs.include_passes
        || matches!(format, Some(report::Format::Junit | report::Format::PolicyReport | report::Format::Json))
}

/// What a walk over the resources found besides its rows.
struct Walked {
    summary: apply::ApplySummary,
    /// A row would fail a build (an Enforce failure or an error).
    blocking: bool,
    /// Warnings and errors that are not rows.
    diags: Vec<Diagnostic>,
}

/// Evaluates the policies over every resource document, one document at a
/// time, read as it goes, and hands each row to `sink`: memory follows the
/// largest document, not the input. With `skip_invalid`, an unreadable
/// file, a document that is not a Kubernetes object and the rest of a file
/// after a YAML error are warnings; otherwise errors.
fn apply_each(
    engine: &Engine,
    root: &Path,
    inputs: &ApplyInputs,
    keep_passes: bool,
    sink: &mut dyn FnMut(apply::ApplyRow) -> std::io::Result<()>,
) -> Result<Walked, String> {
    let ApplySetup { prepared, exceptions, values, mut diags } = apply_setup(root, inputs)?;
    let opts =
        EvalOptions { values: values.as_ref(), user: None, operation: None, exceptions: &exceptions, mocks: None };
    let applier =
        apply::Applier { engine, policies: &prepared, opts: &opts, audit_warn: inputs.audit_warn, keep_passes };
    let mut summary = apply::ApplySummary::default();
    let mut rows = RowSink { sink, blocking: false, written: Ok(()) };
    for p in &inputs.resources {
        for file in loader::yaml_files(&resolve(root, p)?)? {
            let shown = display(root, &file);
            let mut reader = match std::fs::File::open(&file) {
                Ok(f) => f,
                Err(e) if inputs.skip_invalid => {
                    diags.push(Diagnostic::warning(format!("skipped: {shown}: {e}")).at(shown, None, None));
                    continue;
                }
                Err(e) => return Err(format!("{shown}: {e}")),
            };
            let mut failed = Ok(());
            let read = crate::yaml::for_each_located(&shown, &mut reader, &mut |doc| {
                let is_object = doc.value.get("apiVersion").is_some_and(Value::is_string)
                    && doc.value.get("kind").is_some_and(Value::is_string);
                if inputs.skip_invalid && !is_object {
                    let msg = format!("{shown}: document {}: skipped, not a Kubernetes object", doc.index);
                    diags.push(Diagnostic::warning(msg).at(shown.clone(), u32::try_from(doc.line).ok(), None));
                    return ControlFlow::Continue(());
                }
                let mut resources = Vec::new();
                if let Err(e) = loader::collect_resources(&mut resources, &shown, vec![doc]) {
                    failed = Err(e);
                    return ControlFlow::Break(());
                }
                for resource in &resources {
                    applier.resource(resource, &mut summary, &mut |row| rows.push(row));
                }
                if rows.written.is_err() { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
            });
            rows.check()?;
            failed?;
            match read {
                Ok(()) => {}
                Err(e) if inputs.skip_invalid => {
                    let msg = format!("skipped the rest of {shown}: {e}");
                    diags.push(Diagnostic::warning(msg).at(shown.clone(), None, None));
                }
                Err(e) => return Err(e.to_string()),
            }
        }
    }
    // JSON payloads (`policy apply --json`): one object per file.
    for p in &inputs.payloads {
        let file = resolve(root, p)?;
        let payload = loader::payload(&file, &display(root, &file))?;
        applier.payload(&payload, &mut summary, &mut |row| rows.push(row));
        rows.check()?;
    }
    Ok(Walked { summary, blocking: rows.blocking, diags })
}

/// Where [`apply_each`] hands rows: the caller's sink, remembering whether
/// a row would block a build and the first write error (after which rows
/// are dropped and the walk stops).
struct RowSink<'s> {
    sink: &'s mut dyn FnMut(apply::ApplyRow) -> std::io::Result<()>,
    blocking: bool,
    written: std::io::Result<()>,
}

impl RowSink<'_> {
    fn push(&mut self, row: apply::ApplyRow) {
        self.blocking |= matches!(
            (row.status, row.failure_action),
            (RuleStatus::Fail, FailureAction::Enforce) | (RuleStatus::Error, _)
        );
        if self.written.is_ok() {
            self.written = (self.sink)(row);
        }
    }

    fn check(&self) -> Result<(), String> {
        self.written.as_ref().map(|_| ()).map_err(|e| format!("writing the report: {e}"))
    }
}
