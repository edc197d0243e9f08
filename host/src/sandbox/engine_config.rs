//! The engine configuration every step runs under: Cranelift, epoch
//! interruption, NaN canonicalisation, deterministic relaxed SIMD, no
//! threads, a bounded stack, and the pooling allocator.
//!
//! This file is compiled twice: into the host, and into
//! `builtins/precompile` (by `#[path]`), which precompiles the builtin
//! modules when the host is built. wasmtime loads a precompiled module only
//! under the configuration that made it, so the two must be one source;
//! it therefore uses nothing but `wasmtime` and `std`.

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// The largest linear memory any step may be granted (all of wasm32).
const MAX_MEMORY: usize = 4 << 30;

/// Guest stack bound. Deep but finite recursion traps with a stack
/// overflow instead of exhausting the host's stack.
const MAX_WASM_STACK: usize = 1 << 20;

/// Builds the engine, with the pooling allocator when the system allows
/// its address-space reservation.
pub fn build_engine() -> wasmtime::Result<Engine> {
    match Engine::new(&config(true)) {
        Ok(engine) => Ok(engine),
        // Pooling reserves address space up front; some systems (small
        // vm.overcommit or ulimit -v) refuse it. On-demand allocation is
        // slower to instantiate, just as safe, and compiles the same code.
        Err(_) => Engine::new(&config(false)),
    }
}

/// The configuration, with or without the pooling allocator (which some
/// systems refuse for its address-space reservation).
pub fn config(pooling: bool) -> Config {
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
