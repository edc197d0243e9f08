//! The wasmtime engine every step runs on, configured for untrusted,
//! deterministic code, and the ticker that drives its wall-time deadlines.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result};
use wasmtime::Engine;

/// Builds the engine ([`super::engine_config`]).
pub fn build_engine() -> Result<Engine> {
    super::engine_config::build_engine().map_err(anyhow::Error::from).context("creating the wasm engine")
}

/// How often the epoch advances; deadlines are counted in these ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

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
