//! `sealbox imagelist DIR`: the build's image search over a directory (a
//! rootfs or build context), with where each image was found, without
//! building. Runs the `imagelist` builtin in the sandbox.

use std::collections::{BTreeMap, HashSet};
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
    /// `text`: one image a line, with its first origins (`file:line`);
    /// `json`: the step's images, all their origins and warnings.
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
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match args.format {
        Format::Json => {
            // Borrowed and written as it is serialised: with an origin per
            // object, a copy of the list would be a copy of the input.
            #[derive(serde::Serialize)]
            struct Listing<'a> {
                images: &'a serde_json::Value,
                origins: &'a serde_json::Value,
            }
            let empty = serde_json::json!([]);
            let images = data.get("images").unwrap_or(&empty);
            let origins = data.get("origins").unwrap_or(&empty);
            serde_json::to_writer_pretty(&mut out, &Listing { images, origins })?;
            writeln!(out)?;
        }
        Format::Text => {
            for (image, origins) in origins_by_image(data) {
                writeln!(
                    out,
                    "{}\t{}",
                    escape_for_terminal(image.as_bytes()),
                    escape_for_terminal(shown_origins(&origins).as_bytes())
                )?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

/// How many origins of an image the text output names: an image used by
/// thousands of manifests would otherwise make a line of megabytes.
const SHOWN_ORIGINS: usize = 10;

/// The first [`SHOWN_ORIGINS`] origins, and how many more there are.
fn shown_origins(origins: &[String]) -> String {
    let shown = origins.iter().take(SHOWN_ORIGINS).map(String::as_str).collect::<Vec<_>>().join(", ");
    match origins.len().saturating_sub(SHOWN_ORIGINS) {
        0 => shown,
        more => format!("{shown}, and {more} more (--format json lists them all)"),
    }
}

/// Each image with its origins as `file:line` (or the chart's template),
/// each once, in the order the search found them.
fn origins_by_image(data: &serde_json::Value) -> BTreeMap<String, Vec<String>> {
    let mut by_image: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut seen: HashSet<(String, String)> = HashSet::new();
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
        if seen.insert((image.to_string(), place.clone())) {
            by_image.entry(image.to_string()).or_default().push(place);
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

    #[test]
    fn text_names_the_first_origins_and_counts_the_rest() {
        let origins: Vec<serde_json::Value> = (1..=12)
            .chain([1])
            .map(|line| serde_json::json!({"image": "nginx:1", "file": "a.yaml", "line": line}))
            .collect();
        let got = origins_by_image(&serde_json::json!({"images": [], "origins": origins}));
        assert_eq!(got["nginx:1"].len(), 12, "a repeated origin is named once");
        let line = shown_origins(&got["nginx:1"]);
        assert!(line.starts_with("a.yaml:1, a.yaml:2, "), "{line}");
        assert!(line.ends_with("a.yaml:10, and 2 more (--format json lists them all)"), "{line}");
        assert_eq!(shown_origins(&got["nginx:1"][..3]), "a.yaml:1, a.yaml:2, a.yaml:3");
    }
}
