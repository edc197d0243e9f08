//! The wasmtime engine every step runs on, configured for untrusted,
//! deterministic code, and the ticker that drives its wall-time deadlines.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances; deadlines are counted in these ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The largest linear memory any step may be granted (all of wasm32).
const MAX_MEMORY: usize = 4 << 30;

/// Guest stack bound. Deep but finite recursion traps with a stack
/// overflow instead of exhausting the host's stack.
pub const MAX_WASM_STACK: usize = 1 << 20;

/// Builds the engine: Cranelift, epoch interruption, NaN canonicalisation,
/// deterministic relaxed SIMD, no threads, bounded stack, and the pooling
/// allocator when the system allows its address-space reservation.
pub fn build_engine() -> Result<Engine> {
    match Engine::new(&config(true)) {
        Ok(engine) => Ok(engine),
        // Pooling reserves address space up front; some systems (small
        // vm.overcommit or ulimit -v) refuse it. On-demand allocation is
        // slower to instantiate but just as safe.
        Err(_) => Engine::new(&config(false)).map_err(anyhow::Error::from).context("creating the wasm engine"),
    }
}

fn config(pooling: bool) -> Config {
    let mut c = Config::new();
    c.epoch_interruption(true)
        .cranelift_nan_canonicalization(true)
        .relaxed_simd_deterministic(true)
        .wasm_threads(false)
        .wasm_shared_everything_threads(false)
        .max_wasm_stack(MAX_WASM_STACK)
        // A trap deep in a recursion would otherwise walk every frame.
        .wasm_backtrace_max_frames(std::num::NonZeroUsize::new(32))
        .memory_init_cow(true)
        .parallel_compilation(true);
    if pooling {
        let mut pool = PoolingAllocationConfig::default();
        // Steps run one or a few at a time; the pool needs only a few slots.
        pool.total_core_instances(64)
            .total_component_instances(32)
            .total_memories(64)
            .total_tables(64)
            .total_stacks(32)
            .max_memories_per_module(1)
            .max_memories_per_component(8)
            .max_core_instances_per_component(32)
            .max_tables_per_component(16)
            .max_memory_size(MAX_MEMORY)
            .table_elements(100_000)
            .max_core_instance_size(16 << 20)
            .max_component_instance_size(16 << 20)
            .linear_memory_keep_resident(1 << 20);
        c.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    c
}

/// Advances an engine's epoch every [`EPOCH_TICK`] until dropped.
pub struct Ticker {
    stop: Arc<AtomicBool>,
}

impl Ticker {
    /// Starts the ticker thread for `engine`.
    pub fn start(engine: &Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let engine = engine.clone();
        let flag = stop.clone();
        // A detached thread: it holds only a clone of the engine and exits
        // on the next tick after the flag is set.
        thread::Builder::new()
            .name("sealbox-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .ok();
        Ticker { stop }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
