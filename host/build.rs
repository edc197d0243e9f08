//! Builds the builtin step modules for wasm32-wasip1 and embeds them, so an
//! installed `sealbox` binary needs nothing beside it.
//!
//! The modules are built by a nested cargo in its own target directory
//! (`target/wasm-builtins`): sharing the outer build's directory would
//! deadlock on cargo's lock, and one directory shared by every profile
//! means clippy, test and release builds compile the modules once.

use std::env;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

const BUILTINS: &[&str] = &["pack", "render", "kyverno", "imagelist", "unpack", "documents"];

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let workspace = manifest_dir.parent().expect("host/ lives in the workspace").to_path_buf();
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let target_dir = env::var_os("SEALBOX_WASM_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| outer_target_dir(&out_dir, &workspace).join("wasm-builtins"));

    for path in ["builtins", "guest-sdk", "Cargo.lock", "Cargo.toml"] {
        println!("cargo:rerun-if-changed={}", workspace.join(path).display());
    }
    println!("cargo:rerun-if-env-changed=SEALBOX_WASM_TARGET_DIR");

    println!("cargo:rerun-if-env-changed=SEALBOX_PREBUILT_BUILTINS");
    // Packagers (and developers whose builtins are mid-edit) may supply the
    // modules ready-made: a directory holding `<name>.wasm` for each.
    let wasm_dir = match env::var_os("SEALBOX_PREBUILT_BUILTINS") {
        Some(dir) => PathBuf::from(dir),
        None => {
            build_builtins(&workspace, &target_dir);
            target_dir.join("wasm32-wasip1/release")
        }
    };

    // Precompiled artifacts only for a build that runs where it is built:
    // a cross-compiled binary would carry code for the wrong machine.
    println!("cargo:rerun-if-env-changed=SEALBOX_PRECOMPILE_BUILTINS");
    let native = env::var("TARGET").ok() == env::var("HOST").ok();
    let precompile = native && env::var_os("SEALBOX_PRECOMPILE_BUILTINS").is_none_or(|v| v != "0");
    for b in BUILTINS {
        let wasm = wasm_dir.join(format!("{b}.wasm"));
        let dest = out_dir.join(format!("{b}.wasm"));
        std::fs::copy(&wasm, &dest).unwrap_or_else(|e| panic!("copying {}: {e}", wasm.display()));
    }
    if precompile {
        precompile_builtins(&workspace, &target_dir, &out_dir);
    }

    let mut table = String::from(
        "/// The builtin modules: name, wasm bytes, and — when built for the machine\n\
         /// that built them — the digest of the wasm and its precompiled artifact.\n\
         pub const EMBEDDED: &[Builtin] = &[\n",
    );
    for b in BUILTINS {
        let wasm = out_dir.join(format!("{b}.wasm"));
        let precompiled = if precompile {
            let digest = std::fs::read_to_string(out_dir.join(format!("{b}.sha256")))
                .unwrap_or_else(|e| panic!("reading the digest of {b}: {e}"));
            let cwasm = out_dir.join(format!("{b}.cwasm"));
            format!("Some(({digest:?}, include_bytes!({:?})))", cwasm.display().to_string())
        } else {
            "None".to_string()
        };
        writeln!(
            table,
            "    Builtin {{ name: {b:?}, wasm: include_bytes!({:?}), precompiled: {precompiled} }},",
            wasm.display().to_string()
        )
        .expect("writing to a String");
    }
    table.push_str("];\n");
    std::fs::write(out_dir.join("builtins.rs"), table).expect("writing builtins.rs");
}

/// Builds `builtins/precompile` for this machine (in the same nested target
/// directory as the modules, so every profile shares it) and runs it over
/// the modules in `out_dir`.
fn precompile_builtins(workspace: &Path, target_dir: &Path, out_dir: &Path) {
    println!("cargo:rerun-if-changed={}", workspace.join("host/src/sandbox/engine_config.rs").display());
    let mut cmd = nested_cargo(workspace, target_dir);
    cmd.args(["--profile", "precompile", "-p", "sealbox-precompile"]);
    let status = cmd.status().expect("running cargo to build the precompiler");
    if !status.success() {
        panic!("building builtins/precompile failed");
    }
    let tool = target_dir.join("precompile").join("sealbox-precompile");
    let mut run = Command::new(&tool);
    run.arg(out_dir);
    for b in BUILTINS {
        run.arg(out_dir.join(format!("{b}.wasm")));
    }
    let status = run.status().unwrap_or_else(|e| panic!("running {}: {e}", tool.display()));
    if !status.success() {
        panic!("precompiling the builtin modules failed (set SEALBOX_PRECOMPILE_BUILTINS=0 to embed them uncompiled)");
    }
}

fn build_builtins(workspace: &Path, target_dir: &Path) {
    let mut cmd = nested_cargo(workspace, target_dir);
    cmd.args(["--release", "--target", "wasm32-wasip1"]);
    for b in BUILTINS {
        cmd.args(["-p", &format!("sealbox-{b}")]);
    }
    let status = cmd.status().expect("running cargo to build the builtin modules");
    if !status.success() {
        panic!(
            "building the builtin modules for wasm32-wasip1 failed (is the target installed? `rustup target add wasm32-wasip1`)"
        );
    }
}

/// `cargo build --locked --target-dir TARGET_DIR` in the workspace, cleared
/// of the outer build's settings.
fn nested_cargo(workspace: &Path, target_dir: &Path) -> Command {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace).args(["build", "--locked", "--target-dir"]).arg(target_dir);
    // The outer build's settings are for the host binary, not for these:
    // a clippy wrapper or host RUSTFLAGS must not leak into the modules,
    // whose bytes should depend only on their source and the toolchain.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_PROFILE_RELEASE_DEBUG",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// The outer target directory: OUT_DIR is `<target>/<profile>/build/<pkg>/out`
/// (or `<target>/<triple>/<profile>/...`); fall back to `<workspace>/target`.
fn outer_target_dir(out_dir: &Path, workspace: &Path) -> PathBuf {
    out_dir
        .ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "build"))
        .and_then(|build| build.parent())
        .and_then(|profile| profile.parent())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| workspace.join("target"))
}
