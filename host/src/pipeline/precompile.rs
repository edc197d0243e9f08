//! The pipeline file's modules compiled ahead of their steps. Compiling a
//! third-party module takes from tens of milliseconds to seconds, and none
//! of it needs the staged tree: it runs on a thread of its own while the
//! build stages, renders and searches for images, so that a step finds its
//! module ready instead of compiling it then. Each module is read and
//! checked exactly as its step reads it ([`ModuleSource::read`]): nothing
//! that fails its pin, the lock or its declared kind is compiled.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{Scope, ScopedJoinHandle};

use super::pipeline_file::ModuleRef;
use super::stages::ModuleSource;
use super::steps::ModuleRunner;

/// Starts compiling every third-party module of `source`'s pipeline file,
/// in file order, each once, on a thread of `scope`; stops between modules
/// once `cancel` is set (the build failed). Failures are left to the step
/// that needs the module, which reads and reports it again. `None` when
/// there is nothing to compile.
pub(super) fn start<'scope>(
    scope: &'scope Scope<'scope, '_>,
    source: ModuleSource<'scope>,
    runner: &'scope ModuleRunner,
    cancel: &'scope AtomicBool,
) -> Option<ScopedJoinHandle<'scope, usize>> {
    // Builtins ship precompiled in this binary; only the others need it.
    let steps: Vec<_> = source.pipeline.steps.iter().filter(|s| !matches!(s.module, ModuleRef::Builtin(_))).collect();
    if steps.is_empty() {
        return None;
    }
    let compile_all = move || {
        let mut compiled = 0;
        for step in steps {
            if cancel.load(Ordering::Relaxed) {
                break;
            }
            let shown = step.module.to_string();
            // The same name the step loads it under (stages.rs), so the
            // module is the one the step would have made.
            if let Ok(binary) = source.read(step)
                && runner.load(&binary, &shown).is_ok()
            {
                compiled += 1;
            }
        }
        compiled
    };
    // A thread that cannot start only costs the head start.
    std::thread::Builder::new().name("precompile-modules".into()).spawn_scoped(scope, compile_all).ok()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use sealbox_guest::ImageInfo;
    use sha2::{Digest, Sha256};

    use super::*;
    use crate::pipeline::pipeline_file;
    use crate::sandbox::{ModuleBinary, Sandbox};

    /// A module that does nothing, under `dir/name.wasm`; returns its pin.
    fn module(dir: &Path, name: &str, seed: u32) -> String {
        let wasm = wat::parse_str(format!(
            r#"(module (memory (export "memory") 1) (func (export "_start") (drop (i32.const {seed}))))"#
        ))
        .expect("wat");
        std::fs::write(dir.join(format!("{name}.wasm")), &wasm).expect("write module");
        format!("sha256:{:x}", Sha256::digest(&wasm))
    }

    fn pipeline(dir: &Path, steps: &[(&str, &str)]) -> pipeline_file::Pipeline {
        let mut text = String::from("apiVersion: sealbox.io/v1\nkind: Pipeline\nsteps:\n");
        for (name, pin) in steps {
            text += &format!(
                "  - name: {name}\n    stage: after-copy\n    module: {name}.wasm\n    digest: {pin}\n    kind: policy\n"
            );
        }
        pipeline_file::parse("sealbox.yaml", dir, &text).expect("pipeline")
    }

    fn compile(pipeline: &pipeline_file::Pipeline, runner: &ModuleRunner, cancel: bool) -> Option<usize> {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = crate::oci::Store::open(dir.path()).expect("store");
        let registry = crate::registry::Options::default();
        let source = ModuleSource { pipeline, lock: None, store: &store, registry: &registry };
        let cancel = AtomicBool::new(cancel);
        std::thread::scope(|scope| start(scope, source, runner, &cancel).map(|h| h.join().expect("no panic")))
    }

    #[test]
    fn modules_that_pass_their_checks_are_compiled_once_ahead_of_their_steps() {
        let dir = tempfile::tempdir().expect("tempdir");
        let good = module(dir.path(), "good", 1);
        let other = module(dir.path(), "other", 2);
        // A pin that does not match: never compiled, whatever the bytes.
        let wrong = good.replace(&good[8..12], "0000");
        let p = pipeline(dir.path(), &[("good", &good), ("other", &other), ("also-good", &good), ("bad", &wrong)]);
        std::fs::copy(dir.path().join("good.wasm"), dir.path().join("also-good.wasm")).expect("copy");
        std::fs::copy(dir.path().join("good.wasm"), dir.path().join("bad.wasm")).expect("copy");
        let runner = ModuleRunner::new(Sandbox::new(None).expect("sandbox"), ImageInfo::default());
        assert_eq!(compile(&p, &runner, false), Some(3), "good, other, and good again from the table");

        // The step then gets the very module compiled ahead (same load,
        // not a second compile).
        let bytes = std::fs::read(dir.path().join("good.wasm")).expect("read");
        let binary = ModuleBinary::parse(bytes).expect("binary");
        let first = runner.load(&binary, "good.wasm").expect("load");
        let again = runner.load(&binary, "good.wasm").expect("load");
        assert_eq!(first.load_time, again.load_time, "one compile per digest");
        assert_eq!(first.digest, good);
    }

    #[test]
    fn nothing_to_compile_or_a_cancelled_build_compiles_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let runner = ModuleRunner::new(Sandbox::new(None).expect("sandbox"), ImageInfo::default());
        let builtin_only = pipeline_file::parse(
            "sealbox.yaml",
            dir.path(),
            "apiVersion: sealbox.io/v1\nkind: Pipeline\nsteps:\n  - name: k\n    stage: after-copy\n    \
             module: builtin:kyverno\n    kind: policy\n",
        )
        .expect("pipeline");
        assert_eq!(compile(&builtin_only, &runner, false), None, "builtins ship precompiled");
        let pin = module(dir.path(), "good", 3);
        let p = pipeline(dir.path(), &[("good", &pin)]);
        assert_eq!(compile(&p, &runner, true), Some(0), "cancelled before the first module");
    }
}
