//! Precompiles the builtin modules for the machine that builds sealbox.
//!
//! `host/build.rs` runs this after building the builtins for wasm32, and
//! embeds what it writes, so that a fresh machine loads the builtins as if
//! from a warm cache instead of compiling them on every first run. It is
//! not a step module and never runs on untrusted input: its inputs are the
//! workspace's own freshly built modules.
//!
//! Usage: `sealbox-precompile OUT_DIR NAME.wasm…` writes, for each module,
//! `OUT_DIR/NAME.cwasm` (the artifact) and `OUT_DIR/NAME.sha256` (the
//! digest of the wasm it was made from, in `sha256:HEX` form).

// The host's own engine configuration, compiled in from the one source.
#[path = "../../../host/src/sandbox/engine_config.rs"]
mod engine_config;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use sha2::{Digest, Sha256};

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let Some(out_dir) = args.next().map(PathBuf::from) else {
        eprintln!("usage: sealbox-precompile OUT_DIR NAME.wasm...");
        return ExitCode::from(2);
    };
    let engine = match engine_config::build_engine() {
        Ok(engine) => engine,
        Err(e) => {
            eprintln!("sealbox-precompile: creating the engine: {e}");
            return ExitCode::FAILURE;
        }
    };
    for wasm in args.map(PathBuf::from) {
        if let Err(e) = precompile(&engine, &wasm, &out_dir) {
            eprintln!("sealbox-precompile: {}: {e}", wasm.display());
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

fn precompile(engine: &wasmtime::Engine, wasm: &Path, out_dir: &Path) -> Result<(), String> {
    let name = wasm.file_stem().ok_or("no file name")?;
    let bytes = std::fs::read(wasm).map_err(|e| format!("reading: {e}"))?;
    // Builtins are core modules; a component would need precompile_component
    // and the host's loader would refuse the artifact's kind.
    let artifact = engine.precompile_module(&bytes).map_err(|e| format!("compiling: {e}"))?;
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
    let out = out_dir.join(name);
    std::fs::write(out.with_extension("cwasm"), artifact).map_err(|e| format!("writing the artifact: {e}"))?;
    std::fs::write(out.with_extension("sha256"), digest).map_err(|e| format!("writing the digest: {e}"))?;
    Ok(())
}
