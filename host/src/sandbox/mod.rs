//! The sandbox: how one step module runs.
//!
//! A [`Sandbox`] owns the wasmtime engine, the linkers and the precompiled
//! module cache. [`Sandbox::load`] turns a wasm file into a ready-to-run
//! [`Module`]; [`Sandbox::run`] runs it once, in a fresh store, over one
//! [`Invocation`]: the input tree at `/in` (read-only), an empty `/out`, the
//! request on stdin, and nothing else — no sockets, no host environment, a
//! fixed clock, seeded randomness, and hard limits on time, memory and
//! output. Which modules run, and with what grants, is the pipeline's
//! business, not this module's.

mod binary;
mod cache;
mod determinism;
mod engine;
mod engine_config;
mod error;
mod limits;
mod pipes;
mod run;
mod sleep;
mod workers;

pub use binary::{BinaryError, BinaryKind, ModuleBinary, sha256_digest, with_metadata};
pub use cache::ModuleCache;
pub use error::{StepError, StepFailure};
pub use limits::{Bytes, Limits, Seconds, parse_duration, parse_size};
pub use pipes::SharedWriter;
pub use run::{Invocation, StepOutcome, parse_response};

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use sealbox_guest::ModuleMetadata;
use wasmtime::Engine;

use run::{ComponentState, CoreState};

/// Runs step modules. Cheap to clone; clones share the engine and cache.
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    core_linker: wasmtime::Linker<CoreState>,
    component_linker: wasmtime::component::Linker<ComponentState>,
    cache: Option<ModuleCache>,
    /// What loading refused or replaced, for `--verbose`.
    notes: std::sync::Mutex<Vec<String>>,
    workers: workers::Workers,
    _ticker: engine::Ticker,
}

/// A compiled module, pre-linked and ready to instantiate.
#[derive(Clone)]
pub struct Module {
    /// The name used in messages: the metadata's name, else the caller's,
    /// escaped to one line ([`crate::text::escape_line`]).
    pub name: String,
    pub digest: String,
    pub kind: BinaryKind,
    pub metadata: Option<ModuleMetadata>,
    /// How long compiling (or loading from the cache) took.
    pub load_time: Duration,
    /// Whether the module was loaded precompiled (embedded in the binary,
    /// or from the cache) rather than compiled.
    pub cached: bool,
    pre: run::Pre,
}

impl Sandbox {
    /// A sandbox whose precompiled cache lives under `cache_root` (no
    /// cache when `None`), authenticated with the key in
    /// [`ModuleCache::default_key_file`].
    pub fn new(cache_root: Option<&Path>) -> Result<Self> {
        match cache_root {
            Some(root) => {
                let key = ModuleCache::default_key_file().context(
                    "no place for the module cache key (no home directory): set SEALBOX_CACHE_KEY to a file outside the cache",
                )?;
                Self::with_cache(Some((root, key.as_path())))
            }
            None => Self::with_cache(None),
        }
    }

    /// A sandbox whose precompiled cache lives under the first path of
    /// `cache`, its entries authenticated with the key in the second.
    pub fn with_cache(cache: Option<(&Path, &Path)>) -> Result<Self> {
        let engine = engine::build_engine()?;
        let mut core_linker = wasmtime::Linker::new(&engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut core_linker, |s: &mut CoreState| &mut s.wasi)
            .map_err(anyhow::Error::from)
            .context("linking WASI preview 1")?;
        sleep::wrap(&mut core_linker)?;
        let mut component_linker = wasmtime::component::Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut component_linker)
            .map_err(anyhow::Error::from)
            .context("linking WASI preview 2")?;
        sleep::wrap_component(&mut component_linker)?;
        let cache = match cache {
            Some((root, key)) => Some(ModuleCache::open(root, key, &engine)?),
            None => None,
        };
        let ticker = engine::Ticker::start(&engine);
        Ok(Sandbox {
            inner: Arc::new(Inner {
                engine,
                core_linker,
                component_linker,
                cache,
                notes: Default::default(),
                workers: workers::Workers::default(),
                _ticker: ticker,
            }),
        })
    }

    /// Compiles `binary` (or loads it from the precompiled cache) and links
    /// it. `fallback_name` names the module when it carries no metadata.
    pub fn load(&self, binary: &ModuleBinary, fallback_name: &str) -> Result<Module> {
        // The metadata is the module's own word: kept to one escaped line,
        // its name cannot drive a terminal or fake a line of a message.
        let name = binary.metadata.as_ref().map_or(fallback_name, |m| m.name.as_str());
        let name = crate::text::escape_line(name);
        let started = Instant::now();
        let (pre, cached) =
            match binary.kind {
                BinaryKind::Core => {
                    let (m, cached) = self.compile(
                        binary,
                        |e, b| wasmtime::Module::new(e, b),
                        |e, b| {
                            // SAFETY: `b` is this engine's own output that
                            // never left memory, an artifact embedded in this
                            // binary when it was built (builtins.rs), or a
                            // cache entry whose MAC verified, read once into
                            // memory (cache.rs). wasmtime itself refuses an
                            // artifact of another version or configuration.
                            unsafe { wasmtime::Module::deserialize(e, b) }
                        },
                        |e, b| e.precompile_module(b),
                    )?;
                    let pre =
                        self.inner.core_linker.instantiate_pre(&m).map_err(anyhow::Error::from).with_context(|| {
                            format!("module {name}: linking (it may import something other than WASI)")
                        })?;
                    (run::Pre::Core(pre), cached)
                }
                BinaryKind::Component => {
                    let (c, cached) = self.compile(
                        binary,
                        |e, b| wasmtime::component::Component::new(e, b),
                        |e, b| {
                            // SAFETY: as above.
                            unsafe { wasmtime::component::Component::deserialize(e, b) }
                        },
                        |e, b| e.precompile_component(b),
                    )?;
                    let pre =
                        self.inner.component_linker.instantiate_pre(&c).map_err(anyhow::Error::from).with_context(
                            || format!("module {name}: linking (it may import something other than WASI)"),
                        )?;
                    let pre = wasmtime_wasi::p2::bindings::sync::CommandPre::new(pre)
                        .map_err(anyhow::Error::from)
                        .with_context(|| {
                            format!("module {name}: not a WASI command component (no wasi:cli/run export)")
                        })?;
                    (run::Pre::Component(pre), cached)
                }
            };
        Ok(Module {
            name,
            digest: binary.digest.clone(),
            kind: binary.kind,
            metadata: binary.metadata.clone(),
            load_time: started.elapsed(),
            cached,
            pre,
        })
    }

    /// Compiles `binary`, or takes it precompiled: embedded in this binary
    /// when it is a builtin, else from the cache when an entry verifies. Returns the module and whether it came from the
    /// cache.
    fn compile<T>(
        &self,
        binary: &ModuleBinary,
        fresh: impl Fn(&Engine, &[u8]) -> wasmtime::Result<T>,
        from_bytes: impl Fn(&Engine, &[u8]) -> wasmtime::Result<T>,
        precompile: impl Fn(&Engine, &[u8]) -> wasmtime::Result<Vec<u8>>,
    ) -> Result<(T, bool)> {
        let engine = &self.inner.engine;
        if let Some(artifact) = crate::builtins::precompiled(&binary.digest) {
            match from_bytes(engine, artifact) {
                Ok(m) => return Ok((m, true)),
                // Another CPU than the one that built the binary (or an
                // engine that fell back to another configuration): compile,
                // once, through the cache like any module.
                Err(e) => self.note(format!(
                    "the precompiled builtin {} does not fit this machine ({e}); compiled instead",
                    binary.digest
                )),
            }
        }
        let compile_err = |e: wasmtime::Error| anyhow::anyhow!("compiling: {e}");
        let Some(cache) = &self.inner.cache else {
            return Ok((fresh(engine, &binary.bytes).map_err(compile_err)?, false));
        };
        match cache.load(&binary.digest) {
            cache::Lookup::Hit(entry) => match from_bytes(engine, entry.artifact()) {
                Ok(m) => return Ok((m, true)),
                // Verified but refused by wasmtime (another build of it):
                // compile again.
                Err(e) => self.note(format!(
                    "precompiled module {} was not loaded ({e}); compiled again",
                    cache.path_for(&binary.digest).display()
                )),
            },
            cache::Lookup::Miss => {}
            cache::Lookup::Refused(why) => self.note(format!("precompiled module not loaded: {why}; compiled again")),
        }
        let bytes = precompile(engine, &binary.bytes).map_err(compile_err)?;
        cache.store(&binary.digest, &bytes)?;
        // The bytes just made, not the file just written: nothing on disk
        // is trusted between the two.
        Ok((from_bytes(engine, &bytes).map_err(|e| anyhow::anyhow!("loading the module just compiled: {e}"))?, false))
    }

    /// What the precompiled cache refused or replaced since the last call
    /// (entries that did not verify, a key that was not private, a builtin
    /// artifact that did not fit this machine), for `--verbose`.
    pub fn take_cache_notes(&self) -> Vec<String> {
        let mut notes = self.inner.cache.as_ref().map(ModuleCache::take_notes).unwrap_or_default();
        notes.extend(self.inner.notes.lock().map(|mut n| std::mem::take(&mut *n)).unwrap_or_default());
        notes
    }

    fn note(&self, note: String) {
        if let Ok(mut notes) = self.inner.notes.lock() {
            notes.push(note);
        }
    }

    /// Runs `module` once over `step`. The host survives whatever the
    /// module does; every way the step can go wrong is a [`StepFailure`].
    pub fn run(&self, module: &Module, step: Invocation) -> Result<StepOutcome, StepFailure> {
        run::run(self.inner.clone(), module.clone(), step)
    }

    /// How many step threads are busy: 0 between steps, unless a step
    /// overran its deadline stuck where the host cannot stop it.
    pub fn busy_threads(&self) -> usize {
        self.inner.workers.busy()
    }

    /// The engine, for benchmarks and inspection.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }
}
