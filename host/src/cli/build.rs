//! `sealbox build`: a Kubefile and a build context become an image.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};

use super::{UsageError, parse_key_value};
use crate::kubefile::{self, ImageType};
use crate::oci::Compression;
use crate::oci::export::{ExportTarget, export};
use crate::pipeline::{self, BuildOptions};

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The build context: the directory COPY sources are relative to.
    #[arg(default_value = ".")]
    context: PathBuf,
    /// The Kubefile (default: CONTEXT/Kubefile).
    #[arg(short = 'f', long = "file", value_name = "KUBEFILE")]
    file: Option<PathBuf>,
    /// Name the image (repeatable), e.g. `-t my/cluster:v1`.
    #[arg(short = 't', long = "tag", value_name = "NAME")]
    tags: Vec<String>,
    /// Platforms to build, comma separated (`linux/amd64,linux/arm64`); more
    /// than one makes an image index.
    #[arg(long, value_delimiter = ',', default_value = "linux/amd64")]
    platform: Vec<String>,
    /// Override an ARG (repeatable); the value may contain `=`.
    #[arg(long = "build-arg", value_name = "K=V", value_parser = parse_key_value)]
    build_args: Vec<(String, String)>,
    /// Add an image label (repeatable).
    #[arg(long = "label", value_name = "K=V", value_parser = parse_key_value)]
    labels: Vec<(String, String)>,
    /// Add a manifest annotation (repeatable).
    #[arg(long = "annotation", value_name = "K=V", value_parser = parse_key_value)]
    annotations: Vec<(String, String)>,
    /// The sealer image type.
    #[arg(long = "type", value_enum, default_value = "kube-installer")]
    image_type: TypeArg,
    /// Layer compression.
    #[arg(long, value_enum, default_value = "gzip")]
    compression: CompressionArg,
    /// The build's "now", in seconds since the epoch: file times in layers,
    /// `created` fields, the clock every step sees. Default: the
    /// SOURCE_DATE_EPOCH environment variable, else 0.
    #[arg(long, value_name = "SECONDS")]
    source_date_epoch: Option<u64>,
    /// Run every step again, even when its inputs are unchanged.
    #[arg(long)]
    no_cache: bool,
    /// Write `sealbox.lock` beside the Kubefile with the digest of every
    /// module the build ran (`RUN --module` and pipeline steps). Without
    /// it, an existing lock file is obeyed: each module must be in it, with
    /// that digest.
    #[arg(long)]
    lock: bool,
    /// A value for `.tmpl` templates (repeatable), over the image's ENV.
    #[arg(long = "env", value_name = "K=V", value_parser = parse_key_value)]
    env: Vec<(String, String)>,
    /// A file of `K=V` lines for templates (`#` comments allowed).
    #[arg(long = "env-file", value_name = "FILE")]
    env_file: Vec<PathBuf>,
    /// What a template printing a missing key does: `default` fails the
    /// build (naming file, line and key), `zero` prints `<no value>` as
    /// sealer does, `error` fails on any use of a missing key.
    #[arg(long = "missing-key", value_enum, default_value = "default")]
    missing_key: super::render::MissingKey,
    /// Kyverno policies (files or directories, repeatable) every manifest
    /// must satisfy; an Enforce failure fails the build.
    #[arg(long = "policy", value_name = "PATH")]
    policies: Vec<PathBuf>,
    /// A file of extra container images (one per line) the image needs.
    #[arg(long = "image-list", value_name = "FILE")]
    image_list: Option<PathBuf>,
    /// A file of container images (one per line) to leave out of the list.
    #[arg(long = "ignored-image-list", value_name = "FILE")]
    ignored_image_list: Option<PathBuf>,
    /// Fail the build if any container image is not pinned by digest.
    #[arg(long)]
    require_digests: bool,
    /// Also show every value the image search looked at and did not take as
    /// an image, and why.
    #[arg(long, short = 'v')]
    verbose: bool,
    /// Build even when a Helm chart cannot be rendered (its images are then
    /// missing from the list).
    #[arg(long)]
    ignore_chart_errors: bool,
    /// Also write the image to `oci:DIR[:REF]`, `oci-archive:FILE` or
    /// `docker-archive:FILE` (repeatable).
    #[arg(short = 'o', long = "output", value_name = "DEST")]
    outputs: Vec<String>,
    /// The pipeline file of extra steps (default: `sealbox.yaml` beside the
    /// Kubefile, when there is one).
    #[arg(long, value_name = "FILE")]
    pipeline: Option<PathBuf>,
    /// Also write the policy findings (Kyverno and pipeline policy steps) to
    /// FILE as SARIF 2.1.0 (`sarif:FILE`) or JSON (`json:FILE`), whether or
    /// not the build passes.
    #[arg(long, value_name = "FORMAT:FILE", value_parser = parse_report)]
    report: Option<(ReportFormat, PathBuf)>,
    /// `text` prints a line per step and the digest last; `json` prints one
    /// JSON object.
    #[arg(long, value_enum, default_value = "text")]
    format: super::module::Format,
    /// Seed the step cache from a registry cache (repeatable), as another
    /// machine's `--cache-to` left it; a missing one is a warning. Layers
    /// and transform outputs are taken (checked); policy verdicts and the
    /// image list never are: those steps run again.
    #[arg(long = "cache-from", value_name = "REF")]
    cache_from: Vec<String>,
    /// Push the step results this build used or made to a registry cache,
    /// `REGISTRY/REPOSITORY:TAG`, for other machines' `--cache-from`.
    #[arg(long = "cache-to", value_name = "REF")]
    cache_to: Option<String>,
    #[command(flatten)]
    registry: super::registry::RegistryArgs,
    #[command(flatten)]
    common: super::StoreArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReportFormat {
    Sarif,
    Json,
}

fn parse_report(s: &str) -> Result<(ReportFormat, PathBuf), String> {
    match s.split_once(':') {
        Some(("sarif", f)) if !f.is_empty() => Ok((ReportFormat::Sarif, f.into())),
        Some(("json", f)) if !f.is_empty() => Ok((ReportFormat::Json, f.into())),
        _ => Err(format!("{s:?}: expected sarif:FILE or json:FILE")),
    }
}

/// Writes the policy findings to the `--report` file.
fn write_report(report: &(ReportFormat, PathBuf), verdicts: &[pipeline::Verdict]) -> Result<()> {
    let value = match report.0 {
        ReportFormat::Sarif => pipeline::sarif(verdicts),
        ReportFormat::Json => serde_json::json!({ "verdicts": verdicts }),
    };
    let mut text = serde_json::to_string_pretty(&value)?;
    text.push('\n');
    std::fs::write(&report.1, text).with_context(|| format!("writing --report {}", report.1.display()))
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum TypeArg {
    KubeInstaller,
    AppInstaller,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum CompressionArg {
    Gzip,
    Zstd,
    None,
}

pub fn run(args: BuildArgs) -> Result<()> {
    let kubefile = args.file.clone().unwrap_or_else(|| args.context.join("Kubefile"));
    if !args.context.is_dir() {
        return Err(UsageError(format!("build context {}: not a directory", args.context.display())).into());
    }
    if !kubefile.is_file() {
        return Err(UsageError(format!("{}: no such Kubefile (give one with -f)", kubefile.display())).into());
    }
    if args.no_cache && (args.cache_to.is_some() || !args.cache_from.is_empty()) {
        return Err(
            UsageError("--cache-from and --cache-to share the step cache, which --no-cache turns off".into()).into()
        );
    }
    let mut platforms = Vec::new();
    for p in &args.platform {
        let parsed = kubefile::parse_platform(p.trim())
            .ok_or_else(|| UsageError(format!("--platform {p:?}: expected OS/ARCH[/VARIANT], e.g. linux/arm64")))?;
        if !platforms.contains(&parsed) {
            platforms.push(parsed);
        }
    }
    let outputs = args
        .outputs
        .iter()
        .map(|o| o.parse::<ExportTarget>().map_err(|e| UsageError(format!("-o {o}: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    for t in &args.tags {
        crate::oci::store::validate_ref_name(t).map_err(|e| UsageError(format!("-t {t}: {e}")))?;
    }
    let mut render_env = BTreeMap::new();
    for f in &args.env_file {
        render_env.extend(super::read_env_file(f)?);
    }
    render_env.extend(args.env.iter().cloned());
    let read_list = |p: &Option<PathBuf>, flag: &str| -> Result<Vec<String>> {
        match p {
            Some(p) => Ok(std::fs::read_to_string(p)
                .map_err(|e| UsageError(format!("{flag} {}: {e}", p.display())))?
                .lines()
                .map(str::to_string)
                .collect()),
            None => Ok(vec![]),
        }
    };
    let source_date_epoch = match args.source_date_epoch {
        Some(s) => s,
        None => super::source_date_epoch()?,
    };
    let lock_path = pipeline::Lock::path_for(&kubefile);
    let lock = if args.lock { None } else { pipeline::Lock::read(&lock_path)? };
    // A pipeline file that does not parse is the user's to fix: exit 2.
    let pipeline_file =
        pipeline::Pipeline::find(args.pipeline.as_deref(), &kubefile).map_err(|e| UsageError(e.to_string()))?;
    let options = BuildOptions {
        context: args.context.clone(),
        kubefile,
        tags: args.tags.clone(),
        platforms,
        build_args: args.build_args.iter().cloned().collect(),
        labels: args.labels.iter().cloned().collect(),
        annotations: args.annotations.iter().cloned().collect(),
        image_type: match args.image_type {
            TypeArg::KubeInstaller => ImageType::KubeInstaller,
            TypeArg::AppInstaller => ImageType::AppInstaller,
        },
        compression: match args.compression {
            CompressionArg::Gzip => Compression::Gzip,
            CompressionArg::Zstd => Compression::Zstd,
            CompressionArg::None => Compression::None,
        },
        source_date_epoch,
        no_cache: args.no_cache,
        render_env,
        missing_key: args.missing_key.as_str().into(),
        policies: args.policies.clone(),
        extra_images: read_list(&args.image_list, "--image-list")?,
        ignored_images: read_list(&args.ignored_image_list, "--ignored-image-list")?,
        require_digests: args.require_digests,
        ignore_chart_errors: args.ignore_chart_errors,
        verbose: args.verbose,
        progress_bar: std::io::stderr().is_terminal() && matches!(args.format, super::module::Format::Text),
        lock,
        pipeline: pipeline_file,
        registry: args.registry.options(),
        cache_from: args
            .cache_from
            .iter()
            .map(|r| super::registry::parse_reference("--cache-from", r))
            .collect::<Result<_>>()?,
        cache_to: args.cache_to.as_deref().map(|r| super::registry::parse_reference("--cache-to", r)).transpose()?,
    };
    let store = args.common.open_store()?;
    let sandbox = args.common.sandbox()?;
    let json = matches!(args.format, super::module::Format::Json);
    let tty = std::io::stderr().is_terminal();
    let bar = options.progress_bar;
    let mut progress = |line: &str| {
        if !json || tty {
            // Layers are packed while other steps run, so a pack step's bar
            // may be on the current line: clear it first.
            if bar {
                eprint!("\r\x1b[2K");
            }
            eprintln!("{line}");
        }
    };
    let built = pipeline::build(&sandbox, &store, &options, &mut progress);
    let verdicts = match &built {
        Ok(outcome) => Some(outcome.verdicts.as_slice()),
        Err(e) => e.downcast_ref::<pipeline::PolicyFailure>().map(|f| f.verdicts.as_slice()),
    };
    if let (Some(report), Some(verdicts)) = (&args.report, verdicts) {
        write_report(report, verdicts)?;
    }
    let outcome = match built {
        Ok(outcome) => outcome,
        Err(e) => {
            if let Some(failure) = e.downcast_ref::<pipeline::PolicyFailure>() {
                for v in failure.verdicts.iter().filter(|v| !v.fails_build()) {
                    eprintln!("warning: {}", crate::sandbox::escape_for_terminal(v.to_text().as_bytes()));
                }
                if json {
                    let report = serde_json::json!({"error": failure.to_string(), "verdicts": failure.verdicts});
                    println!("{}", serde_json::to_string_pretty(&report)?);
                }
            }
            return Err(e);
        }
    };
    for w in &outcome.warnings {
        eprintln!("warning: {}", crate::sandbox::escape_for_terminal(w.as_bytes()));
    }
    for n in &outcome.notes {
        eprintln!("note: {}", crate::sandbox::escape_for_terminal(n.as_bytes()));
    }
    if args.lock {
        pipeline::Lock::new(outcome.modules.clone()).write(&lock_path)?;
    }
    for target in &outputs {
        export(&store, &outcome.descriptor, args.tags.first().map(String::as_str), None, target)
            .with_context(|| format!("writing the image to {target:?}"))?;
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&outcome)?);
    } else {
        println!("{}", outcome.digest);
    }
    Ok(())
}
