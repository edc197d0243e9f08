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
    /// Documents are printed each under `# Source:`, in template-name order
    /// (helm orders by kind); `lookup` finds nothing, as without a cluster.
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
        let mut text = String::new();
        std::fs::File::open(file)
            .and_then(|f| f.take(MAX_VALUES_FILE + 1).read_to_string(&mut text))
            .map_err(|e| UsageError(format!("-f {}: {e}", file.display())))?;
        if text.len() as u64 > MAX_VALUES_FILE {
            return Err(UsageError(format!("-f {}: larger than {MAX_VALUES_FILE} bytes", file.display())).into());
        }
        values.push((file.display().to_string(), text));
    }
    let config = serde_json::json!({"template": {
        "chart": chart,
        "releaseName": args.release_name,
        "namespace": args.namespace,
        "kubeVersion": args.kube_version,
        "values": values,
        "set": args.set,
    }});
    let sandbox = args.common.sandbox()?;
    let paths = crate::confine::Confinement::new().read(&input).deny_tcp_connect();
    let (_, _temp) = super::confine(paths, args.common.cache_root().as_deref())?;
    let response = pipeline::run_imagelist(&sandbox, &input, config, super::source_date_epoch()?)?;
    let mut out = std::io::stdout().lock();
    out.write_all(helm_style(&response.data).as_bytes())?;
    Ok(())
}

/// The manifests of the step's `data.manifests` as `helm template` prints
/// them: each YAML document under `---` and `# Source: NAME`.
fn helm_style(data: &serde_json::Value) -> String {
    let mut text = String::new();
    let manifests = data.get("manifests").and_then(|m| m.as_array()).cloned().unwrap_or_default();
    for m in manifests {
        let name = m.get("name").and_then(|n| n.as_str()).unwrap_or_default();
        let body = m.get("text").and_then(|n| n.as_str()).unwrap_or_default();
        for doc in split_documents(body) {
            text.push_str(&format!("---\n# Source: {name}\n{}\n", doc.trim_end()));
        }
    }
    text
}

/// The documents of a rendered template, as helm splits them: at lines
/// that are `---`, dropping the empty ones.
fn split_documents(body: &str) -> Vec<String> {
    let mut docs = vec![String::new()];
    for line in body.lines() {
        if line.trim_end() == "---" || line.starts_with("--- ") {
            docs.push(String::new());
        } else if let Some(doc) = docs.last_mut() {
            doc.push_str(line);
            doc.push('\n');
        }
    }
    docs.into_iter().filter(|d| !d.trim().is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_each_document_under_its_source() {
        let data =
            serde_json::json!({"manifests": [{"name": "c/templates/a.yaml", "text": "a: 1\n---\n\n---\nb: 2\n"}]});
        assert_eq!(
            helm_style(&data),
            "---\n# Source: c/templates/a.yaml\na: 1\n---\n# Source: c/templates/a.yaml\nb: 2\n"
        );
    }
}
