//! `sealbox module compile MODULE…`: compiles step modules into the
//! precompiled-module cache ahead of a build, as `kwctl` does for policies,
//! so that the build itself loads them at once; and `sealbox module pull
//! REF@PIN…`, which fetches pinned modules into the store and compiles
//! them the same way (what a CI machine does before it is cut off from
//! the registry, or to pay the compile before the build starts).

use anyhow::{Context, Result};
use clap::Args;
use rayon::prelude::*;

use super::StoreArgs;
use super::UsageError;
use super::registry::RegistryArgs;
use crate::registry::module::{SCHEME, fetch_module};
use crate::sandbox::{ModuleBinary, Sandbox};

#[derive(Debug, Args)]
pub struct CompileArgs {
    /// The modules: `.wasm` files, `builtin:NAME`, or
    /// `oci://REGISTRY/REPO[:TAG]@sha256:HEX` (fetched into the store first,
    /// then checked against the pin).
    #[arg(required = true, value_name = "MODULE")]
    modules: Vec<String>,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    registry: RegistryArgs,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// The modules, pinned: `oci://REGISTRY/REPO[:TAG]@sha256:HEX`, as
    /// `sealbox module push` printed them.
    #[arg(required = true, value_name = "oci://REF@sha256:HEX")]
    modules: Vec<String>,
    /// Only fetch into the store; do not compile.
    #[arg(long)]
    no_compile: bool,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    registry: RegistryArgs,
}

/// Reads every module, then compiles them at once (each into the cache
/// under its digest), and prints one line per module: its digest and
/// whether it was compiled now, already in the cache, or built into the
/// binary.
pub fn compile(args: CompileArgs) -> Result<()> {
    let binaries =
        args.modules.iter().map(|spec| read(spec, &args.store, &args.registry)).collect::<Result<Vec<_>>>()?;
    compile_all(&args.store, binaries)
}

/// Fetches pinned registry modules into the store (each checked against
/// its pin), then compiles them as `compile` does unless told not to.
pub fn pull(args: PullArgs) -> Result<()> {
    if let Some(spec) = args.modules.iter().find(|m| !m.starts_with(SCHEME)) {
        return Err(UsageError(format!("{spec}: `module pull` takes registry modules, {SCHEME}REF@sha256:HEX")).into());
    }
    let binaries =
        args.modules.iter().map(|spec| read(spec, &args.store, &args.registry)).collect::<Result<Vec<_>>>()?;
    if args.no_compile {
        for (spec, binary) in &binaries {
            println!("{spec}\t{}\tin the store", binary.digest);
        }
        return Ok(());
    }
    compile_all(&args.store, binaries)
}

fn compile_all(store: &StoreArgs, binaries: Vec<(String, ModuleBinary)>) -> Result<()> {
    let Some(cache) = store.cache_root() else {
        return Err(UsageError("no place for the module cache: give --cache or set SEALBOX_CACHE".into()).into());
    };
    let sandbox = super::open_sandbox(Some(&cache))?;
    let results: Vec<Result<String>> =
        binaries.par_iter().map(|(spec, binary)| compile_one(&sandbox, spec, binary)).collect();
    let mut failed = 0;
    for result in results {
        match result {
            Ok(line) => println!("{line}"),
            Err(e) => {
                eprintln!("error: {e:#}");
                failed += 1;
            }
        }
    }
    for note in sandbox.take_cache_notes() {
        eprintln!("note: {}", crate::text::escape_for_terminal(note.as_bytes()));
    }
    if failed > 0 {
        return Err(super::Failed { message: format!("{failed} module(s) did not compile"), printed: true }.into());
    }
    Ok(())
}

fn read(spec: &str, store: &StoreArgs, registry: &RegistryArgs) -> Result<(String, ModuleBinary)> {
    let binary = if let Some(pinned) = spec.strip_prefix(SCHEME) {
        let Some((reference, digest)) = pinned.rsplit_once('@') else {
            return Err(
                UsageError(format!("{spec}: a module from a registry must be pinned: {spec}@sha256:HEX")).into()
            );
        };
        let store = store.open_store()?;
        let bytes = fetch_module(reference, digest, &registry.options(), Some(&store))
            .with_context(|| format!("fetching module {spec}"))?;
        ModuleBinary::parse(bytes).with_context(|| format!("module {spec}"))?
    } else {
        super::module::read_module(spec)?
    };
    Ok((spec.to_string(), binary))
}

fn compile_one(sandbox: &Sandbox, spec: &str, binary: &ModuleBinary) -> Result<String> {
    let builtin = crate::builtins::precompiled(&binary.digest).is_some();
    let module = sandbox.load(binary, spec).with_context(|| format!("compiling {spec}"))?;
    let how = match (module.cached, builtin) {
        (true, true) => "precompiled in the sealbox binary".to_string(),
        (true, false) => "already in the cache".to_string(),
        (false, _) => format!("compiled in {} ms", module.load_time.as_millis()),
    };
    Ok(format!("{spec}\t{}\t{how}", binary.digest))
}
