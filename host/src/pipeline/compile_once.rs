//! A value made once by whichever thread asks first, the others waiting
//! for it: how a build compiles each third-party module once, whether the
//! compile-ahead thread or a step gets there first.
//!
//! Waiting must not simply block a rayon worker. wasmtime compiles in
//! rayon's global pool, and the compile-ahead thread is not one of its
//! workers: if every worker waited here for that compile, no worker would
//! be left to run its jobs and the build would hang (seen with ten
//! uncompiled pipeline modules on a 2-core machine). A worker that waits
//! runs the pool's pending jobs meanwhile.

use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

/// A slot holding a value made at most once.
pub struct CompileOnce<T> {
    state: Mutex<State<T>>,
    ready: Condvar,
}

enum State<T> {
    Empty,
    Making,
    Made(T),
}

impl<T: Clone> Default for CompileOnce<T> {
    fn default() -> Self {
        CompileOnce { state: Mutex::new(State::Empty), ready: Condvar::new() }
    }
}

impl<T: Clone> CompileOnce<T> {
    /// The value, made now by `make` if no thread has started making it,
    /// else the one another thread makes (waited for as described above).
    pub fn get_or_make(&self, make: impl FnOnce() -> T) -> T {
        {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            match &*state {
                State::Made(value) => return value.clone(),
                State::Making => {}
                State::Empty => {
                    *state = State::Making;
                    drop(state);
                    let value = make();
                    let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
                    *state = State::Made(value.clone());
                    self.ready.notify_all();
                    return value;
                }
            }
        }
        loop {
            let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            if let State::Made(value) = &*state {
                return value.clone();
            }
            if rayon::current_thread_index().is_some() {
                // A worker: run someone's pending job (perhaps the very
                // compile awaited) rather than hold the thread idle.
                drop(state);
                if rayon::yield_now() != Some(rayon::Yield::Executed) {
                    std::thread::sleep(Duration::from_millis(1));
                }
            } else {
                let _ = self.ready.wait_timeout(state, Duration::from_millis(50));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn made_once_whoever_asks_first() {
        let slot = Arc::new(CompileOnce::<usize>::default());
        let made = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let (slot, made) = (slot.clone(), made.clone());
                std::thread::spawn(move || {
                    slot.get_or_make(|| {
                        std::thread::sleep(Duration::from_millis(20));
                        made.fetch_add(1, Ordering::SeqCst) + 41
                    })
                })
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().expect("no panic"), 41);
        }
        assert_eq!(made.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_worker_waiting_for_a_value_whose_making_needs_the_pool_does_not_hang() {
        // One worker; a thread outside the pool makes the value with a job
        // that must run on that worker, while the worker waits for the value.
        let pool = Arc::new(rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("pool"));
        let slot = Arc::new(CompileOnce::<u32>::default());
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let maker = {
            let (pool, slot) = (pool.clone(), slot.clone());
            std::thread::spawn(move || {
                slot.get_or_make(|| {
                    started_tx.send(()).expect("send");
                    // Give the worker time to start waiting first.
                    std::thread::sleep(Duration::from_millis(50));
                    pool.install(|| rayon::join(|| 20, || 22)).0 + 22
                })
            })
        };
        started_rx.recv().expect("the maker started");
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let waiter = slot.clone();
        pool.spawn(move || {
            done_tx.send(waiter.get_or_make(|| unreachable!("made by the other thread"))).expect("send")
        });
        assert_eq!(done_rx.recv_timeout(Duration::from_secs(20)), Ok(42), "the worker ran the job it waited on");
        assert_eq!(maker.join().expect("no panic"), 42);
    }
}
