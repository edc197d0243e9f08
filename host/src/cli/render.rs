//! `sealbox render`: the build's template step, on a directory.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, ValueEnum};

use super::{StoreArgs, UsageError, parse_key_value};
use crate::pipeline::{self, RenderConfig};

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// A rootfs: `*.tmpl` files under its etc/, charts/, manifests/,
    /// applications/ and application/apps/ are rendered.
    dir: PathBuf,
    /// A template value (repeatable).
    #[arg(long = "env", value_name = "K=V", value_parser = parse_key_value)]
    env: Vec<(String, String)>,
    /// A file of `K=V` lines (`#` comments allowed).
    #[arg(long = "env-file", value_name = "FILE")]
    env_file: Vec<PathBuf>,
    /// Write the rendered files under OUTDIR instead of next to their
    /// templates (the default, as sealer does at deploy time).
    #[arg(short = 'o', long = "output", value_name = "OUTDIR")]
    output: Option<PathBuf>,
    /// What printing a missing key does: `default` is an error naming file,
    /// line, column and key; `zero` prints `<no value>` (Go's and sealer's
    /// behaviour); `error` fails on any use of a missing key.
    #[arg(long = "missing-key", value_enum, default_value = "default")]
    missing_key: MissingKey,
    /// The functions templates may call: `sprig` adds the common sprig
    /// functions to Go's builtins and warns for each template that calls one
    /// sealer's deploy-time renderer lacks; `sealer` offers only what that
    /// renderer has (Go's builtins, b64enc, b64dec), so a template fails
    /// here exactly where `sealer run` would fail on it.
    #[arg(long = "funcs", value_enum, default_value = "sprig")]
    funcs: Funcs,
    /// Say what was changed on the way (set-id and sticky bits dropped
    /// from rendered files).
    #[arg(short = 'v', long)]
    verbose: bool,
    #[command(flatten)]
    common: StoreArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Funcs {
    Sprig,
    Sealer,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum MissingKey {
    Default,
    Zero,
    Error,
}

impl MissingKey {
    pub fn as_str(self) -> &'static str {
        match self {
            MissingKey::Default => "default",
            MissingKey::Zero => "zero",
            MissingKey::Error => "error",
        }
    }
}

pub fn run(args: RenderArgs) -> Result<()> {
    if !args.dir.is_dir() {
        return Err(UsageError(format!("{}: not a directory", args.dir.display())).into());
    }
    let mut env = BTreeMap::new();
    for f in &args.env_file {
        env.extend(super::read_env_file(f)?);
    }
    env.extend(args.env.iter().cloned());
    let dest = args.output.clone().unwrap_or_else(|| args.dir.clone());
    std::fs::create_dir_all(&dest).map_err(|e| UsageError(format!("-o {}: {e}", dest.display())))?;
    let funcs = match args.funcs {
        Funcs::Sprig => "sprig",
        Funcs::Sealer => "sealer",
    };
    let config = RenderConfig {
        env,
        missing_key: args.missing_key.as_str().into(),
        apps: BTreeMap::new(),
        warn_missing: false,
        funcs: funcs.into(),
    };
    let sandbox = args.common.sandbox()?;
    // Rendering reads DIR and writes only the rendered files, offline.
    let paths = crate::confine::Confinement::new().read(&args.dir).read_write(&dest).deny_tcp_connect();
    let (_, _temp) = super::confine(paths, args.common.cache_root().as_deref())?;
    let (count, warnings, notes) =
        pipeline::render_directory(&sandbox, &args.dir, &dest, &config, super::source_date_epoch()?)?;
    for w in warnings {
        eprintln!("warning: {}", crate::text::escape_for_terminal(w.as_bytes()));
    }
    for n in notes.iter().filter(|_| args.verbose) {
        eprintln!("note: {}", crate::text::escape_for_terminal(n.as_bytes()));
    }
    eprintln!("rendered {count} templates into {}", dest.display());
    Ok(())
}
