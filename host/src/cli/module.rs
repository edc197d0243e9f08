//! `sealbox module …`: run one step module by hand, inspect one, annotate
//! one built by another toolchain.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use sealbox_guest::{API_VERSION, Capabilities, ImageInfo, ModuleKind, ModuleMetadata, Request, Status};

use super::{Failed, UsageError, parse_key_value};
use crate::sandbox::{self, Invocation, Limits, ModuleBinary};
use crate::text::{escape_for_terminal, escape_line};
use crate::tree::{self, WalkOptions};

#[derive(Debug, Subcommand)]
pub enum ModuleCommand {
    /// Run one step module over a directory, as a build would.
    ///
    /// The module sees DIR read-only at /in and an empty --out at /out, the
    /// request (config, granted env values) on stdin, a fixed clock, and
    /// nothing else. Its response is printed on stdout; its stderr is
    /// relayed, bounded and with control characters escaped. Exit status: 0
    /// when the step succeeded, 1 when it failed or was stopped, 2 on a bad
    /// invocation.
    Run(RunArgs),
    /// Show what a module is: core module or component, size, digest,
    /// metadata, imports.
    Inspect(InspectArgs),
    /// Add the `sealbox.module` metadata section to a module built by other
    /// tools (componentize-py, jco, TinyGo…).
    Annotate(AnnotateArgs),
    /// Create a module project (Rust, Python, JavaScript or Go) with fixtures
    /// and a `sealbox-test.yaml` for `sealbox module test`.
    New(super::scaffold::NewArgs),
    /// Run the cases of `sealbox-test.yaml` files: each case's tree,
    /// config and grants through the module as a build step, compared with
    /// the status, findings and output it expects. Exit status 1 when a
    /// case fails, 2 on a bad test file (named with its line).
    Test(super::module_test::TestArgs),
    /// Publish a module to a registry as a one-layer OCI artifact; prints
    /// the `oci://REF@sha256:…` a Kubefile pins it with.
    Push(super::module_push::PushArgs),
    /// Compile modules into the precompiled-module cache ahead of a build
    /// (files, `builtin:NAME`, or pinned `oci://` references), so that the
    /// build loads them at once. The builtins come precompiled in the
    /// binary already.
    Compile(super::module_compile::CompileArgs),
    /// Fetch pinned modules from a registry into the store (each checked
    /// against its pin) and compile them into the precompiled-module cache,
    /// so that builds need neither the registry nor a compile for them.
    Pull(super::module_compile::PullArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The module: a .wasm file, or `builtin:NAME`.
    module: String,
    /// Directory mounted read-only at /in.
    #[arg(long = "in", value_name = "DIR")]
    input: PathBuf,
    /// Directory mounted at /out; created if missing, must be empty.
    #[arg(long = "out", value_name = "DIR")]
    output: PathBuf,
    /// JSON file with the step's config.
    #[arg(long, value_name = "FILE.json")]
    config: Option<PathBuf>,
    /// An environment value to grant the step (repeatable).
    #[arg(long = "env", value_name = "K=V", value_parser = parse_key_value)]
    env: Vec<(String, String)>,
    /// Wall-time limit (e.g. 500ms, 2s, 5m).
    #[arg(long, default_value = "60s", value_parser = sandbox::parse_duration)]
    timeout: Duration,
    /// Memory limit (e.g. 256MiB, 1GiB).
    #[arg(long, default_value = "1GiB", value_parser = sandbox::parse_size)]
    memory: u64,
    /// Stdout limit.
    #[arg(long, default_value = "64MiB", value_parser = sandbox::parse_size)]
    stdout_limit: u64,
    /// Stream the module's stdout into FILE instead of reading a response
    /// from it; the response is then read from `/out/response.json`. This
    /// is how the builtin `pack` writes a layer.
    #[arg(long, value_name = "FILE")]
    stream_to: Option<PathBuf>,
    /// Where precompiled modules are cached (default: $SEALBOX_CACHE or the
    /// XDG cache dir).
    #[arg(long, env = "SEALBOX_CACHE", value_name = "DIR")]
    cache: Option<PathBuf>,
    /// Compile in memory, without the precompiled cache.
    #[arg(long)]
    no_cache: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The module: a .wasm file, or `builtin:NAME`.
    module: String,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

#[derive(Debug, Args)]
pub struct AnnotateArgs {
    /// The module to annotate.
    module: PathBuf,
    /// Where to write the annotated module (default: in place).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// The whole metadata as JSON (`{"name":…,"version":…,"kind":…,
    /// "capabilities":{…}}`), instead of the flags below.
    #[arg(long, value_name = "JSON", conflicts_with_all = ["name", "kind", "env", "write_output", "memory_mib"])]
    metadata: Option<String>,
    #[arg(long, required_unless_present = "metadata")]
    name: Option<String>,
    #[arg(long = "module-version", default_value = "0.1.0")]
    module_version: String,
    #[arg(long, value_enum, required_unless_present = "metadata")]
    kind: Option<KindArg>,
    /// An environment value the module reads (repeatable).
    #[arg(long = "env", value_name = "NAME")]
    env: Vec<String>,
    /// The module writes files to /out that should be applied.
    #[arg(long)]
    write_output: bool,
    /// The most linear memory the module needs, in MiB (a step must grant
    /// at least this much).
    #[arg(long, value_name = "MIB")]
    memory_mib: Option<u64>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum KindArg {
    Transform,
    Policy,
}

pub fn run(cmd: ModuleCommand) -> Result<()> {
    match cmd {
        ModuleCommand::Run(args) => run_module(args),
        ModuleCommand::Inspect(args) => inspect(args),
        ModuleCommand::Annotate(args) => annotate(args),
        ModuleCommand::New(args) => {
            let dir = super::scaffold::new_module(args)?;
            println!("created {}; its README.md says how to build and test it", dir.display());
            Ok(())
        }
        ModuleCommand::Test(args) => super::module_test::run(args),
        ModuleCommand::Push(args) => super::module_push::push(args),
        ModuleCommand::Compile(args) => super::module_compile::compile(args),
        ModuleCommand::Pull(args) => super::module_compile::pull(args),
    }
}

/// Reads a module named on the command line: a file, or `builtin:NAME`.
pub fn read_module(spec: &str) -> Result<ModuleBinary> {
    let (bytes, origin) = if let Some(name) = spec.strip_prefix("builtin:") {
        let bytes = crate::builtins::get(name).ok_or_else(|| {
            let names: Vec<_> = crate::builtins::names().collect();
            UsageError(format!("no builtin module {name:?}; the builtins are {}", names.join(", ")))
        })?;
        (bytes.to_vec(), spec.to_string())
    } else {
        let bytes = std::fs::read(spec).map_err(|e| UsageError(format!("reading module {spec}: {e}")))?;
        (bytes, spec.to_string())
    };
    ModuleBinary::parse(bytes).map_err(|e| UsageError(format!("{origin}: {e}")).into())
}

fn module_file_name(spec: &str) -> String {
    spec.strip_prefix("builtin:")
        .map(str::to_string)
        .or_else(|| Path::new(spec).file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| spec.to_string())
}

fn run_module(args: RunArgs) -> Result<()> {
    let binary = read_module(&args.module)?;
    if !args.input.is_dir() {
        return Err(UsageError(format!("--in {}: not a directory", args.input.display())).into());
    }
    prepare_empty_dir(&args.output)?;
    let config = match &args.config {
        Some(path) => {
            let text =
                std::fs::read(path).map_err(|e| UsageError(format!("reading --config {}: {e}", path.display())))?;
            serde_json::from_slice(&text)
                .map_err(|e| UsageError(format!("--config {}: not valid JSON: {e}", path.display())))?
        }
        None => serde_json::Value::Null,
    };
    let input_dir = cap_std::fs::Dir::open_ambient_dir(&args.input, cap_std::ambient_authority())
        .with_context(|| format!("opening {}", args.input.display()))?;
    // Escaping symlinks are listed, not refused: the module gets to try them
    // and the sandbox refuses to follow them, which is what this command is
    // for testing.
    let walk = WalkOptions { list_escaping_symlinks: true, ..WalkOptions::default() };
    let files = tree::walk(&input_dir, &walk).map_err(|e| UsageError(format!("--in {}: {e}", args.input.display())))?;
    let request = Request {
        api_version: API_VERSION.into(),
        step: "run".into(),
        config,
        env: args.env.into_iter().collect::<BTreeMap<_, _>>(),
        image: ImageInfo { source_date_epoch: super::source_date_epoch()?, ..ImageInfo::default() },
        files,
    };
    let stdout: Option<Box<dyn Write + Send>> = match &args.stream_to {
        Some(path) => Some(Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).map_err(|e| UsageError(format!("creating {}: {e}", path.display())))?,
        ))),
        None => None,
    };
    let cache = if args.no_cache { None } else { args.cache.clone().or_else(sandbox::ModuleCache::default_root) };
    let sandbox = super::open_sandbox(cache.as_deref())?;
    // The module sees --in and --out; the host needs no more, and no network.
    let paths = crate::confine::Confinement::new().read(&args.input).read_write(&args.output).deny_tcp_connect();
    let (_, _temp) = super::confine(paths, cache.as_deref())?;
    let module = sandbox.load(&binary, &module_file_name(&args.module))?;
    let limits = Limits { timeout: args.timeout, memory: args.memory, stdout: args.stdout_limit, ..Limits::default() };
    let step = Invocation {
        name: "run".into(),
        input: args.input.clone(),
        output: Some(args.output.clone()),
        documents: None,
        request,
        limits,
        stdout,
    };
    match sandbox.run(&module, step) {
        Ok(outcome) => {
            relay_stderr(&outcome.stderr, outcome.stderr_truncated);
            println!("{}", serde_json::to_string_pretty(&outcome.response)?);
            if outcome.response.status == Status::Success {
                Ok(())
            } else {
                Err(Failed { message: format!("module {}: step failed", module.name), printed: false }.into())
            }
        }
        Err(failure) => {
            relay_stderr(&failure.stderr, false);
            Err(Failed { message: failure.to_string(), printed: false }.into())
        }
    }
}

/// Relays a module's stderr to ours, escaped so it cannot drive the terminal.
pub fn relay_stderr(stderr: &[u8], truncated: bool) {
    if stderr.is_empty() {
        return;
    }
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(escape_for_terminal(stderr).as_bytes());
    if !stderr.ends_with(b"\n") {
        let _ = err.write_all(b"\n");
    }
    if truncated {
        let _ = writeln!(err, "[stderr truncated]");
    }
}

/// Makes `dir` exist and be empty; refuses to touch a non-empty one.
pub fn prepare_empty_dir(dir: &Path) -> Result<()> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(UsageError(format!("--out {}: directory is not empty", dir.display())).into());
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
        }
        Err(e) => Err(UsageError(format!("--out {}: {e}", dir.display())).into()),
    }
}

fn inspect(args: InspectArgs) -> Result<()> {
    let binary = read_module(&args.module)?;
    let imports = binary.imports().map_err(|e| UsageError(format!("{}: {e}", args.module)))?;
    let report = serde_json::json!({
        "module": args.module,
        "kind": binary.kind,
        "size": binary.bytes.len(),
        "digest": binary.digest,
        "metadata": binary.metadata,
        "imports": imports,
    });
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Format::Text => {
            let kind = match binary.kind {
                sandbox::BinaryKind::Core => "core module (wasm32-wasip1)",
                sandbox::BinaryKind::Component => "component (wasm32-wasip2)",
            };
            println!("module:   {}", args.module);
            println!("kind:     {kind}");
            println!("size:     {} bytes", binary.bytes.len());
            println!("digest:   {}", binary.digest);
            // Metadata and import names are the module's own words.
            match &binary.metadata {
                Some(m) => {
                    println!("name:     {}", escape_line(&m.name));
                    println!("version:  {}", escape_line(&m.version));
                    println!("step:     {}", serde_json::to_value(m.kind)?.as_str().unwrap_or("?"));
                    if !m.capabilities.env.is_empty() {
                        println!("env:      {}", escape_line(&m.capabilities.env.join(", ")));
                    }
                    if m.capabilities.write_output {
                        println!("writes:   /out");
                    }
                }
                None => println!("metadata: none (annotate it with `sealbox module annotate`)"),
            }
            println!("imports:");
            for i in imports {
                println!("  {}", escape_line(&i));
            }
        }
    }
    Ok(())
}

fn annotate(args: AnnotateArgs) -> Result<()> {
    let bytes = std::fs::read(&args.module)
        .map_err(|e| UsageError(format!("reading module {}: {e}", args.module.display())))?;
    let metadata = match (&args.metadata, args.name, args.kind) {
        (Some(json), _, _) => {
            let mut metadata: ModuleMetadata =
                serde_json::from_str(json).map_err(|e| UsageError(format!("--metadata: {e}")))?;
            metadata.min_host_version.get_or_insert_with(|| env!("CARGO_PKG_VERSION").to_string());
            metadata
        }
        (None, Some(name), Some(kind)) => ModuleMetadata {
            name,
            version: args.module_version,
            kind: match kind {
                KindArg::Transform => ModuleKind::Transform,
                KindArg::Policy => ModuleKind::Policy,
            },
            capabilities: Capabilities { env: args.env, write_output: args.write_output, memory_mib: args.memory_mib },
            min_host_version: Some(env!("CARGO_PKG_VERSION").to_string()),
        },
        _ => return Err(UsageError("give --metadata JSON, or --name and --kind".into()).into()),
    };
    let parsed =
        ModuleBinary::parse(bytes.clone()).map_err(|e| UsageError(format!("{}: {e}", args.module.display())))?;
    if let Some(existing) = parsed.metadata {
        return Err(UsageError(format!(
            "{}: already carries `sealbox.module` metadata (name {:?}); annotating it again would leave more than one \
             `sealbox.module` section: annotate the module as it was built",
            args.module.display(),
            existing.name
        ))
        .into());
    }
    let annotated =
        sandbox::with_metadata(&bytes, &metadata).map_err(|e| UsageError(format!("{}: {e}", args.module.display())))?;
    let dest = args.output.unwrap_or_else(|| args.module.clone());
    let parent = dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(parent).with_context(|| format!("writing {}", dest.display()))?;
    // A temporary file is created 0600; the module keeps the mode it had.
    let mode = std::fs::metadata(&args.module)
        .with_context(|| format!("reading module {}", args.module.display()))?
        .permissions();
    tmp.as_file().set_permissions(mode).with_context(|| format!("writing {}", dest.display()))?;
    tmp.write_all(&annotated)?;
    tmp.persist(&dest).with_context(|| format!("writing {}", dest.display()))?;
    println!("{}", sandbox::sha256_digest(&annotated));
    Ok(())
}
