//! `sealbox build`: a Kubefile and a build context become an image.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};

use super::{UsageError, parse_key_value};
use crate::confine::{Access, Confinement};
use crate::kubefile::{self, ImageType};
use crate::oci::Compression;
use crate::oci::export::{ExportTarget, export};
use crate::pipeline::{self, AddRatio, BuildOptions, Ceilings, Deadline};
use crate::sandbox::{parse_duration, parse_size};

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
    /// What a template printing a missing key does: `default` warns
    /// (naming file, line and key) and prints `<no value>` as sealer does at
    /// deploy time, or fails the build with --strict-templates; `zero`
    /// prints `<no value>` without a word; `error` fails on any use of a
    /// missing key.
    #[arg(long = "missing-key", value_enum, default_value = "default")]
    missing_key: super::render::MissingKey,
    /// A template printing a missing key fails the build (naming file,
    /// line and key) instead of warning.
    #[arg(long)]
    strict_templates: bool,
    /// Write the rendered templates and the image list found into the image
    /// (a last layer). By default they go only where the image search and
    /// the policies read, and the image keeps its templates and the files
    /// beside them, as sealer's does: sealer renders at deploy time.
    #[arg(long)]
    render_into_image: bool,
    /// Kyverno policies (files or directories, repeatable) every manifest
    /// must satisfy; an Enforce failure fails the build.
    #[arg(long = "policy", value_name = "PATH")]
    policies: Vec<PathBuf>,
    /// A file of extra container images (one per line) the image needs.
    #[arg(long = "image-list", value_name = "FILE")]
    image_list: Option<PathBuf>,
    /// sealer's image list with auth: a YAML list of `{registry, username,
    /// password, images}`; the images join the list, the credentials are
    /// used for their registry.
    #[arg(long = "image-list-with-auth", value_name = "FILE")]
    image_list_with_auth: Option<PathBuf>,
    /// A file of container images (one per line) to leave out of the list.
    #[arg(long = "ignored-image-list", value_name = "FILE")]
    ignored_image_list: Option<PathBuf>,
    /// Fail the build if any container image is not pinned by digest.
    #[arg(long)]
    require_digests: bool,
    /// sealer's build mode: `all` fetches every container image of the
    /// image list (for each platform built) into the image's `registry/`,
    /// which sealer's local registry serves at deploy time; `lite` records
    /// the list only.
    #[arg(long = "build-mode", value_enum, default_value = "all", env = "SEALBOX_BUILD_MODE")]
    build_mode: BuildModeArg,
    /// With `--build-mode all`, an image that cannot be fetched is a
    /// warning and left out of `registry/` (named in the
    /// `io.sealbox.image.missing-images` annotation), not an error.
    #[arg(long)]
    ignore_missing_images: bool,
    /// Ask a mirror first for the container images of a registry, with the
    /// same repository paths (repeatable, tried in order, then the
    /// registry itself): `docker.io=mirror.example.com`, or
    /// `docker.io=http://127.0.0.1:5000` for a plain-HTTP mirror.
    #[arg(long = "registry-mirror", value_name = "REGISTRY=[http://]HOST")]
    registry_mirrors: Vec<String>,
    /// Also show every value the image search looked at and did not take as
    /// an image, and why; and whether Landlock confines the build
    /// (`SEALBOX_LANDLOCK=off` turns that off).
    #[arg(long, short = 'v')]
    verbose: bool,
    /// Build even when a Helm chart cannot be rendered (its images are then
    /// missing from the list).
    #[arg(long)]
    ignore_chart_errors: bool,
    /// Give every file in the layers this build makes mode 0644, or 0755
    /// when any execute bit is set, and every directory 0755: what a git
    /// checkout can express, so checkouts made under different umasks build
    /// one digest. Files that must stay private (keys) lose their modes.
    #[arg(long, env = "SEALBOX_NORMALIZE_MODES", value_parser = clap::builder::BoolishValueParser::new())]
    normalize_modes: bool,
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
    /// Ceiling on the memory the pipeline file may grant a step
    /// (`grants.memoryMib`, e.g. 512MiB, 4GiB); a grant above it fails the
    /// build (exit 2) before any step runs. `RUN --module` modules and steps
    /// granted nothing get the 1GiB default, or this ceiling when lower.
    #[arg(long, value_name = "SIZE", default_value = "4GiB", value_parser = parse_ceiling_size)]
    max_step_memory: u64,
    /// Ceiling on the wall time the pipeline file may grant a step
    /// (`grants.timeout`, e.g. 30s, 10m, 1h); a grant above it fails the
    /// build (exit 2) before any step runs. `RUN --module` modules and steps
    /// granted nothing get the 60s default, or this ceiling when lower.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration)]
    max_step_timeout: std::time::Duration,
    /// The whole build's deadline (e.g. 30m, 1h, 2h): no step starts after
    /// it, and a running step is stopped at it.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration)]
    build_timeout: std::time::Duration,
    /// Let a module of the build context (`RUN --module`, a pipeline step)
    /// that asks for every env value (`*`, in its metadata or as the step's
    /// `grants.env`) see them all. Without it such a build fails (exit 2);
    /// a module sees only the env names it is granted by name.
    #[arg(long)]
    allow_module_env_all: bool,
    /// Decompression-bomb guard: past --add-ratio-threshold, an ADD archive
    /// may unpack to at most RATIO times its own size; more fails the build
    /// (exit 2). 0 turns the guard off.
    #[arg(long, value_name = "RATIO", default_value = "100")]
    max_add_ratio: u64,
    /// How much an ADD archive may unpack to, at any ratio, before
    /// --max-add-ratio applies.
    #[arg(long, value_name = "SIZE", default_value = "1GiB", value_parser = parse_size)]
    add_ratio_threshold: u64,
    #[command(flatten)]
    registry: super::registry::RegistryArgs,
    #[command(flatten)]
    common: super::StoreArgs,
}

/// A memory ceiling: a size above zero.
fn parse_ceiling_size(s: &str) -> Result<u64, String> {
    match parse_size(s)? {
        0 => Err(format!("{s:?}: a ceiling of nothing lets no step run; give e.g. 512MiB")),
        n => Ok(n),
    }
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
fn write_report(report: &(ReportFormat, PathBuf), verdicts: &[pipeline::PolicyFinding]) -> Result<()> {
    let value = match report.0 {
        ReportFormat::Sarif => pipeline::sarif(verdicts),
        ReportFormat::Json => serde_json::json!({ "verdicts": verdicts }),
    };
    let mut text = serde_json::to_string_pretty(&value)?;
    text.push('\n');
    std::fs::write(&report.1, text).with_context(|| format!("writing --report {}", report.1.display()))
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum BuildModeArg {
    All,
    Lite,
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
    // The whole build counts from here.
    let deadline = Deadline::after(args.build_timeout);
    let Checked { options, outputs, lock_path } = check(&args, deadline)?;
    let store = args.common.open_store()?;
    let sandbox = args.common.sandbox()?;
    // From here on the process touches only what the build needs; the
    // step workers and thread pools it starts later inherit that.
    let (enforcement, _temp) =
        super::confine(confinement(&args, &options, store.root(), &outputs)?, args.common.cache_root().as_deref())?;
    if args.verbose {
        eprintln!("note: {enforcement}");
    }
    #[cfg(debug_assertions)]
    crate::confine::broken_writer_hook().map_err(anyhow::Error::msg)?;
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
            // A progress line is one line; the module names and paths in it
            // come from the context and module metadata.
            eprintln!("{}", crate::text::escape_line(line));
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
    let outcome = outcome_or_error(built, json)?;
    for w in &outcome.warnings {
        eprintln!("warning: {}", crate::text::escape_for_terminal(w.as_bytes()));
    }
    for n in &outcome.notes {
        eprintln!("note: {}", crate::text::escape_for_terminal(n.as_bytes()));
    }
    if args.lock {
        pipeline::Lock::new(outcome.modules.clone()).with_images(outcome.images.clone()).write(&lock_path)?;
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

/// The arguments checked and turned into the build's options, before
/// anything is opened: a mistake here is a usage error.
struct Checked {
    options: BuildOptions,
    /// The `-o` targets.
    outputs: Vec<ExportTarget>,
    /// Where `sealbox.lock` is read from and, with `--lock`, written.
    lock_path: PathBuf,
}

fn check(args: &BuildArgs, deadline: Deadline) -> Result<Checked> {
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
    // Checked before any step runs: a missing policy path would otherwise
    // surface as a raw OS error after rendering.
    for p in &args.policies {
        if std::fs::metadata(p).is_err() {
            return Err(UsageError(format!("--policy {}: no such file or directory", p.display())).into());
        }
    }
    let mut platforms = Vec::new();
    for p in &args.platform {
        let parsed = kubefile::parse_platform(p.trim()).map_err(|e| UsageError(format!("--platform {e}")))?;
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
    let with_auth = match &args.image_list_with_auth {
        Some(p) => crate::registry::image_list_auth::read(p)
            .map_err(|e| UsageError(format!("--image-list-with-auth {e:#}")))?,
        None => Default::default(),
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
        normalize_modes: args.normalize_modes,
        render_env,
        missing_key: args.missing_key.as_str().into(),
        strict_templates: args.strict_templates,
        render_into_image: args.render_into_image,
        policies: args.policies.clone(),
        extra_images: read_list(&args.image_list, "--image-list")?.into_iter().chain(with_auth.images).collect(),
        ignored_images: read_list(&args.ignored_image_list, "--ignored-image-list")?,
        build_mode: match args.build_mode {
            BuildModeArg::All => pipeline::BuildMode::All,
            BuildModeArg::Lite => pipeline::BuildMode::Lite,
        },
        ignore_missing_images: args.ignore_missing_images,
        registry_mirrors: args
            .registry_mirrors
            .iter()
            .map(|m| {
                crate::registry::offline::Mirror::parse(m).map_err(|e| UsageError(format!("--registry-mirror {e:#}")))
            })
            .collect::<Result<_, _>>()?,
        require_digests: args.require_digests,
        ignore_chart_errors: args.ignore_chart_errors,
        verbose: args.verbose,
        progress_bar: std::io::stderr().is_terminal() && matches!(args.format, super::module::Format::Text),
        lock,
        pipeline: pipeline_file,
        registry: crate::registry::Options { credentials: with_auth.credentials, ..args.registry.options() },
        cache_from: args
            .cache_from
            .iter()
            .map(|r| super::registry::parse_reference("--cache-from", r))
            .collect::<Result<_>>()?,
        cache_to: args.cache_to.as_deref().map(|r| super::registry::parse_reference("--cache-to", r)).transpose()?,
        ceilings: Ceilings {
            step_memory: args.max_step_memory,
            step_timeout: args.max_step_timeout,
            deadline: Some(deadline),
            module_env_all: args.allow_module_env_all,
            add_ratio: AddRatio { max_ratio: args.max_add_ratio, threshold: args.add_ratio_threshold },
        },
    };
    Ok(Checked { options, outputs, lock_path })
}

/// The outcome of a build, or the error to exit with: a ceiling exceeded
/// is a usage error, and a policy failure prints its findings first.
fn outcome_or_error(built: Result<pipeline::BuildOutcome>, json: bool) -> Result<pipeline::BuildOutcome> {
    match built {
        Ok(outcome) => Ok(outcome),
        // The input asked for more than the operator allows: the operator
        // raises a ceiling or the input changes, as with a usage error.
        Err(e) if e.downcast_ref::<pipeline::CeilingExceeded>().is_some() => Err(UsageError(format!("{e:#}")).into()),
        Err(e) => {
            if let Some(failure) = e.downcast_ref::<pipeline::PolicyFailure>() {
                for v in failure.verdicts.iter().filter(|v| !v.fails_build()) {
                    eprintln!("warning: {}", crate::text::escape_for_terminal(v.to_text().as_bytes()));
                }
                if json {
                    let report = serde_json::json!({"error": failure.to_string(), "verdicts": failure.verdicts});
                    println!("{}", serde_json::to_string_pretty(&report)?);
                }
            }
            Err(e)
        }
    }
}

/// What a build may touch once it has started: it reads the context, the
/// Kubefile, the pipeline file's directory (its modules), the policies and
/// the registry credentials, and reads and writes the store; it writes the
/// `-o` outputs, the `--report` and, with `--lock`, the lock, each beside
/// its target (temp file, then rename), so their directories are made now.
/// [`super::confine`] adds the system, the module cache and the temp dir.
fn confinement(
    args: &BuildArgs,
    options: &BuildOptions,
    store: &Path,
    outputs: &[ExportTarget],
) -> Result<Confinement> {
    let registry = &options.registry;
    let mut c = Confinement::new().read(&options.context).read(&options.kubefile).read_write(store);
    let reads = options.policies.iter().chain(&registry.ca_file).chain(options.pipeline.as_ref().map(|p| &p.dir));
    for p in reads.cloned().chain(crate::registry::auth::search_path(registry.auth_file.as_deref())) {
        c = c.read(p);
    }
    let beside = |p: &Path| p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
    let mut writes: Vec<(PathBuf, Access)> = outputs
        .iter()
        .map(|t| match t {
            ExportTarget::OciDir { dir, .. } => (beside(dir), Access::ReadWrite),
            ExportTarget::OciArchive(f) | ExportTarget::DockerArchive(f) => (beside(f), Access::ReplaceFiles),
        })
        .collect();
    writes.extend(args.report.as_ref().map(|(_, f)| (beside(f), Access::ReplaceFiles)));
    if args.lock {
        writes.push((beside(&options.kubefile), Access::ReplaceFiles));
    }
    for (dir, access) in writes {
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        c = c.allow(dir, access);
    }
    Ok(c)
}
