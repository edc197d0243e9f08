//! `sealbox imagelist DIR`: the build's image search over a directory (a
//! rootfs or build context), with where each image was found, without
//! building. Runs the `imagelist` builtin in the sandbox.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, ValueEnum};

use super::{StoreArgs, UsageError};
use crate::pipeline;
use crate::text::escape_for_terminal;

#[derive(Debug, Args)]
pub struct ImagelistArgs {
    /// The directory to search (manifests/, charts/, application/apps/…).
    dir: PathBuf,
    /// `text`: one image a line, with its origins; `json`: the step's
    /// images, origins and warnings.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Turn chart rendering failures into warnings.
    #[arg(long = "ignore-chart-errors")]
    ignore_chart_errors: bool,
    /// Also print notes: each chart template that called `lookup` (it finds
    /// nothing offline) and each value that looked like an image but was not taken.
    #[arg(short = 'v', long)]
    verbose: bool,
    #[command(flatten)]
    common: StoreArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

pub fn run(args: ImagelistArgs) -> Result<()> {
    if !args.dir.is_dir() {
        return Err(UsageError(format!("{}: not a directory", args.dir.display())).into());
    }
    let config = serde_json::json!({
        "origins": true,
        "ignoreChartErrors": args.ignore_chart_errors,
        "verbose": args.verbose,
    });
    let sandbox = args.common.sandbox()?;
    let paths = crate::confine::Confinement::new().read(&args.dir).deny_tcp_connect();
    let (_, _temp) = super::confine(paths, args.common.cache_root().as_deref())?;
    let response = pipeline::run_imagelist(&sandbox, &args.dir, config, super::source_date_epoch()?)?;
    for d in &response.diagnostics {
        let label = if d.severity == sealbox_guest::Severity::Info { "note" } else { "warning" };
        eprintln!("{label}: {}", escape_for_terminal(pipeline::format_diagnostic(d).as_bytes()));
    }
    let data = &response.data;
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            let json = serde_json::json!({
                "images": data.get("images").cloned().unwrap_or_default(),
                "origins": data.get("origins").cloned().unwrap_or_else(|| serde_json::json!([])),
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&json)?)?;
        }
        Format::Text => {
            for (image, origins) in origins_by_image(data) {
                writeln!(
                    out,
                    "{}\t{}",
                    escape_for_terminal(image.as_bytes()),
                    escape_for_terminal(origins.join(", ").as_bytes())
                )?;
            }
        }
    }
    Ok(())
}

/// Each image with its origins as `file:line` (or the chart's template).
fn origins_by_image(data: &serde_json::Value) -> BTreeMap<String, Vec<String>> {
    let mut by_image: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for image in data.get("images").and_then(|i| i.as_array()).into_iter().flatten() {
        if let Some(name) = image.get("image").and_then(|n| n.as_str()) {
            by_image.entry(name.to_string()).or_default();
        }
    }
    for origin in data.get("origins").and_then(|i| i.as_array()).into_iter().flatten() {
        let (Some(image), Some(file)) =
            (origin.get("image").and_then(|n| n.as_str()), origin.get("file").and_then(|n| n.as_str()))
        else {
            continue;
        };
        let place = match origin.get("line").and_then(|l| l.as_u64()) {
            Some(line) => format!("{file}:{line}"),
            None => file.to_string(),
        };
        let places = by_image.entry(image.to_string()).or_default();
        if !places.contains(&place) {
            places.push(place);
        }
    }
    by_image
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_origins_by_image() {
        let data = serde_json::json!({
            "images": [{"image": "nginx:1"}, {"image": "redis:7"}],
            "origins": [{"image": "nginx:1", "file": "manifests/a.yaml", "line": 3},
                        {"image": "nginx:1", "file": "charts/web/templates/d.yaml"}],
        });
        let got = origins_by_image(&data);
        assert_eq!(got["nginx:1"], ["manifests/a.yaml:3", "charts/web/templates/d.yaml"]);
        assert!(got["redis:7"].is_empty());
    }
}
