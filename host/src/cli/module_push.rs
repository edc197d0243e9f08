//! `sealbox module push FILE.wasm REF`: publishes a step module to a
//! registry as a one-layer OCI artifact.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use super::UsageError;
use super::module::Format;
use super::registry::{RegistryArgs, parse_reference};
use crate::registry::Reference;
use crate::registry::module::push_module;

#[derive(Debug, Args)]
pub struct PushArgs {
    /// The module file (`.wasm`, core module or component).
    module: PathBuf,
    /// Where to push it, `REGISTRY/REPOSITORY[:TAG]`.
    reference: String,
    /// `text` prints the `oci://REF@sha256:…` to use in a Kubefile; `json`
    /// prints the manifest and module digests too.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    #[command(flatten)]
    registry: RegistryArgs,
}

pub fn push(args: PushArgs) -> Result<()> {
    let reference = args.reference.strip_prefix(crate::registry::module::SCHEME).unwrap_or(&args.reference);
    let dest = parse_reference("module push", reference)?;
    if !Reference::is_remote(reference) {
        return Err(UsageError(format!("{reference:?} names no registry: give REGISTRY/REPOSITORY[:TAG]")).into());
    }
    let bytes =
        std::fs::read(&args.module).map_err(|e| UsageError(format!("module {}: {e}", args.module.display())))?;
    let name = args.module.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let pushed = push_module(bytes, &name, &dest, &args.registry.options())
        .with_context(|| format!("pushing module {} to {dest}", args.module.display()))?;
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&pushed)?),
        Format::Text => {
            eprintln!("pushed module {} (manifest {})", pushed.module, pushed.manifest);
            println!("{}", pushed.reference);
        }
    }
    Ok(())
}
