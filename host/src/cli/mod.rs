//! The command-line interface: argument parsing and the exit-code contract
//! (0 success, 1 the work failed, 2 the invocation was wrong), one file a
//! command. Only flags, messages and exit codes live here: what a build,
//! a module run or a registry call does belongs to `pipeline`, `sandbox`
//! and `registry`.

mod build;
mod chart;
mod imagelist;
mod images;
mod module;
mod module_compile;
mod module_push;
mod module_test;
mod policy;
mod registry;
mod render;
mod scaffold;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Build sealer-style cluster images in which every build step runs as a
/// capability-restricted WASI module.
#[derive(Debug, Parser)]
#[command(name = "sealbox", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build a cluster image from a Kubefile and a build context.
    Build(Box<build::BuildArgs>),
    /// Render a rootfs's `.tmpl` files with Go text/template semantics, as
    /// a build does (in place by default, like sealer at deploy time).
    Render(render::RenderArgs),
    /// Render Helm charts as `helm template` does, in the sandbox with the
    /// build's engine.
    #[command(subcommand)]
    Chart(chart::ChartCommand),
    /// List the container images a directory needs, as a build finds them,
    /// with where each was found.
    Imagelist(imagelist::ImagelistArgs),
    /// List the images in the local store.
    Images(images::ImagesArgs),
    /// Show an image's manifest, config, sealer extension and container
    /// images, as sealer's inspect does.
    Inspect(images::InspectArgs),
    /// Write an image to an archive or OCI layout.
    Save(images::SaveArgs),
    /// Remove images from the local store (and blobs nothing else uses).
    Rmi(images::RmiArgs),
    /// Check every blob in the local store against its digest.
    Fsck(images::FsckArgs),
    /// Run, inspect and annotate step modules.
    #[command(subcommand)]
    Module(module::ModuleCommand),
    /// Test and apply Kyverno policies offline (the Kyverno CLI's `test` and
    /// `apply`), in the sandbox.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Push an image from the local store to a registry.
    Push(registry::PushArgs),
    /// Pull an image from a registry into the local store.
    Pull(registry::PullArgs),
    /// Store credentials for a registry (docker config.json format, mode 0600).
    Login(registry::LoginArgs),
    /// Remove the stored credentials of a registry.
    Logout(registry::LogoutArgs),
}

/// Where images and compiled modules are kept; shared by every command
/// that touches the store.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
    /// The local image store (an OCI image layout). Default: $SEALBOX_ROOT,
    /// else the XDG data dir (~/.local/share/sealbox).
    #[arg(long, env = "SEALBOX_ROOT", value_name = "DIR", global = true)]
    root: Option<std::path::PathBuf>,
    /// Where compiled modules are cached. Default: $SEALBOX_CACHE, else the
    /// XDG cache dir (~/.cache/sealbox). Entries are loaded only when their
    /// MAC verifies under the key in $SEALBOX_CACHE_KEY (default
    /// ~/.config/sealbox/cache.key), kept outside the cache.
    #[arg(long, env = "SEALBOX_CACHE", value_name = "DIR", global = true)]
    cache: Option<std::path::PathBuf>,
}

impl StoreArgs {
    /// Opens (creating) the store.
    pub fn open_store(&self) -> anyhow::Result<crate::oci::Store> {
        let root = match &self.root {
            Some(r) => r.clone(),
            None => dirs::data_dir()
                .map(|d| d.join("sealbox"))
                .ok_or_else(|| UsageError("no home directory: give --root or set SEALBOX_ROOT".into()))?,
        };
        crate::oci::Store::open(&root).map_err(|e| anyhow::anyhow!("opening the store {}: {e}", root.display()))
    }

    /// A sandbox with the precompiled-module cache.
    pub fn sandbox(&self) -> anyhow::Result<crate::sandbox::Sandbox> {
        open_sandbox(self.cache_root().as_deref())
    }

    /// Where the precompiled-module cache lives (`None`: no cache).
    pub fn cache_root(&self) -> Option<std::path::PathBuf> {
        self.cache.clone().or_else(crate::sandbox::ModuleCache::default_root)
    }
}

/// Confines this process for the rest of a command (see [`crate::confine`]):
/// to `paths`, what every command needs of the system, the module cache
/// `cache`, and a private temp dir made now, which every temp file of the
/// command goes into and which is removed when the returned handle drops.
/// Call it before the command starts any thread pool or worker.
pub fn confine(
    paths: crate::confine::Confinement,
    cache: Option<&std::path::Path>,
) -> anyhow::Result<(crate::confine::Enforcement, tempfile::TempDir)> {
    use crate::confine::Access;
    use anyhow::Context;
    let temp = crate::confine::private_temp_dir().context("creating a temp directory")?;
    let mut paths = paths.system().read_write(temp.path());
    if let Some(parent) = temp.path().parent() {
        paths = paths.allow(parent, Access::RemoveEmptyDirs);
    }
    if let Some(cache) = cache {
        paths = paths.read_write(cache);
    }
    let enforcement = paths.apply()?;
    Ok((enforcement, temp))
}

/// A sandbox with the precompiled-module cache under `cache` (none when
/// `None`). A cache key that had to be replaced is said on stderr.
pub fn open_sandbox(cache: Option<&std::path::Path>) -> anyhow::Result<crate::sandbox::Sandbox> {
    let sandbox = crate::sandbox::Sandbox::new(cache)?;
    for note in sandbox.take_cache_notes() {
        eprintln!("warning: {}", crate::text::escape_for_terminal(note.as_bytes()));
    }
    Ok(sandbox)
}

/// A wrong invocation: exit status 2, and a message that says what to fix.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// The work ran and failed (a step failed, a policy denied): exit status 1.
/// Its message has already been printed when `printed` is set.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Failed {
    pub message: String,
    pub printed: bool,
}

/// Parses the command line, runs the command, and maps the outcome to an
/// exit status.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Build(args) => build::run(*args),
        Command::Render(args) => render::run(args),
        Command::Chart(cmd) => chart::run(cmd),
        Command::Imagelist(args) => imagelist::run(args),
        Command::Images(args) => images::images(args),
        Command::Inspect(args) => images::inspect(args),
        Command::Save(args) => images::save(args),
        Command::Rmi(args) => images::rmi(args),
        Command::Fsck(args) => images::fsck(args),
        Command::Module(cmd) => module::run(cmd),
        Command::Policy(cmd) => policy::run(cmd),
        Command::Push(args) => registry::push(args),
        Command::Pull(args) => registry::pull(args),
        Command::Login(args) => registry::login(args),
        Command::Logout(args) => registry::logout(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(usage) = e.downcast_ref::<UsageError>() {
                print_error(&usage.to_string());
                return ExitCode::from(2);
            }
            // A Kubefile that does not parse or plan is a wrong invocation
            // too: the user must fix their input, nothing ran.
            if let Some(kubefile) = e.downcast_ref::<crate::kubefile::Error>() {
                print_error(&kubefile.to_string());
                return ExitCode::from(2);
            }
            if let Some(failed) = e.downcast_ref::<Failed>() {
                if !failed.printed {
                    print_error(&failed.message);
                }
                return ExitCode::from(1);
            }
            print_error(&format!("{e:#}"));
            ExitCode::from(1)
        }
    }
}

/// Prints the error that ends the command. Its chain may quote anything
/// input holds (file names, module names and output, serde's view of a
/// document), so it is escaped for the terminal here, once for every path.
fn print_error(message: &str) {
    eprintln!("error: {}", crate::text::escape_for_terminal(message.as_bytes()));
}

/// Parses `K=V` (the value may itself contain `=`).
pub fn parse_key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("{s:?} is not KEY=VALUE")),
    }
}

/// The build's notion of "now": `SOURCE_DATE_EPOCH` from the environment,
/// or 0, so that a build never depends on when it ran.
pub fn source_date_epoch() -> Result<u64, UsageError> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if !v.is_empty() => {
            v.trim().parse().map_err(|_| UsageError(format!("SOURCE_DATE_EPOCH={v:?} is not a number of seconds")))
        }
        _ => Ok(0),
    }
}

/// Reads `K=V` lines; blank lines and `#` comments are skipped.
pub fn read_env_file(path: &std::path::Path) -> anyhow::Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path).map_err(|e| UsageError(format!("--env-file {}: {e}", path.display())))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        out.push(parse_key_value(line).map_err(|e| UsageError(format!("{}:{}: {e}", path.display(), i + 1)))?);
    }
    Ok(out)
}
