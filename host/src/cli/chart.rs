//! `sealbox chart template`: a chart's manifests as the build sees them,
//! printed as `helm template` prints them, rendered in the sandbox by the
//! same `imagelist` builtin the build uses.

use std::io::{Read, Write};
use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};

use super::{StoreArgs, UsageError};
use crate::pipeline;

#[derive(Debug, Subcommand)]
pub enum ChartCommand {
    /// Render a chart (a directory or `.tgz`) like `helm template`: values
    /// files and `--set` over its defaults, sub-charts, `tpl`, `include`.
    /// Documents are printed each under `# Source:`, in helm's order (by
    /// kind, hooks last); `lookup` finds nothing, as without a cluster.
    Template(TemplateArgs),
}

#[derive(Debug, Args)]
pub struct TemplateArgs {
    /// The chart: a directory with Chart.yaml, or a chart archive.
    chart: PathBuf,
    /// A values file, merged over the chart's defaults (repeatable, in order).
    #[arg(short = 'f', long = "values", value_name = "FILE")]
    values: Vec<PathBuf>,
    /// A value (`a.b=1,c={x,y}`), over every values file (repeatable).
    #[arg(long = "set", value_name = "K=V")]
    set: Vec<String>,
    /// A value that stays a string (`a.b=007`), after `--set` (repeatable).
    #[arg(long = "set-string", value_name = "K=V")]
    set_string: Vec<String>,
    /// A value that is a file's text (`a.b=path`), after `--set-string` (repeatable).
    #[arg(long = "set-file", value_name = "K=FILE")]
    set_file: Vec<String>,
    /// JSON values (`a.b={"x":1}`), before `--set` as in helm (repeatable).
    #[arg(long = "set-json", value_name = "K=JSON")]
    set_json: Vec<String>,
    /// Print the charts' `crds/` files first, as `helm template --include-crds`.
    #[arg(long = "include-crds", overrides_with = "include_crds")]
    include_crds: bool,
    /// Name, on stderr, each template that called `lookup` (it finds
    /// nothing without a cluster, so an install may render differently).
    #[arg(short = 'v', long)]
    verbose: bool,
    /// `.Release.Namespace`.
    #[arg(short = 'n', long, default_value = "default")]
    namespace: String,
    /// `.Release.Name`.
    #[arg(long = "release-name", default_value = "release-name")]
    release_name: String,
    /// The Kubernetes version `.Capabilities` reports (default v1.32.0, as helm 3.17).
    #[arg(long = "kube-version", value_name = "VERSION")]
    kube_version: Option<String>,
    #[command(flatten)]
    common: StoreArgs,
}

/// The largest values file read.
const MAX_VALUES_FILE: u64 = 16 << 20;

pub fn run(cmd: ChartCommand) -> Result<()> {
    let ChartCommand::Template(args) = cmd;
    let (input, chart) = if args.chart.is_dir() {
        (args.chart.clone(), ".".to_string())
    } else if args.chart.is_file() {
        let name = args
            .chart
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| UsageError(format!("{}: the archive's name is not UTF-8", args.chart.display())))?;
        let parent = args.chart.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
        (parent.to_path_buf(), name.to_string())
    } else {
        return Err(UsageError(format!("{}: no such chart directory or archive", args.chart.display())).into());
    };
    let mut values = Vec::new();
    for file in &args.values {
        values.push((file.display().to_string(), read_capped(file, "-f")?));
    }
    let mut set_file_values = Vec::new();
    for arg in &args.set_file {
        let (key, file) =
            arg.split_once('=').ok_or_else(|| UsageError(format!("--set-file {arg:?}: expected KEY=FILE")))?;
        set_file_values.push((key.to_string(), read_capped(std::path::Path::new(file), "--set-file")?));
    }
    let config = serde_json::json!({"template": {
        "chart": chart,
        "releaseName": args.release_name,
        "namespace": args.namespace,
        "kubeVersion": args.kube_version,
        "values": values,
        "set": args.set,
        "setString": args.set_string,
        "setJson": args.set_json,
        "setFileValues": set_file_values,
        "includeCrds": args.include_crds,
    }});
    let sandbox = args.common.sandbox()?;
    let paths = crate::confine::Confinement::new().read(&input).deny_tcp_connect();
    let (_, _temp) = super::confine(paths, args.common.cache_root().as_deref())?;
    let response = pipeline::run_imagelist(&sandbox, &input, config, super::source_date_epoch()?)?;
    if args.verbose {
        for name in response.data.get("lookups").and_then(|l| l.as_array()).into_iter().flatten() {
            eprintln!(
                "note: {} calls `lookup`, which finds nothing without a cluster (rendered as if the objects did not exist)",
                name.as_str().unwrap_or_default()
            );
        }
    }
    let output = response.data.get("output").and_then(|o| o.as_str()).unwrap_or_default();
    let mut out = std::io::stdout().lock();
    out.write_all(output.as_bytes())?;
    Ok(())
}

/// A values file's text (`flag` names it in errors), at most [`MAX_VALUES_FILE`] bytes.
fn read_capped(file: &std::path::Path, flag: &str) -> Result<String> {
    let mut text = String::new();
    std::fs::File::open(file)
        .and_then(|f| f.take(MAX_VALUES_FILE + 1).read_to_string(&mut text))
        .map_err(|e| UsageError(format!("{flag} {}: {e}", file.display())))?;
    if text.len() as u64 > MAX_VALUES_FILE {
        return Err(UsageError(format!("{flag} {}: larger than {MAX_VALUES_FILE} bytes", file.display())).into());
    }
    Ok(text)
}
