//! The threads steps run on, kept for reuse.
//!
//! A step runs off the caller's thread so that a module blocked inside a
//! host call (which epochs cannot interrupt) still cannot hold the caller
//! past its deadline. Starting a thread per step, and wasmtime's per-thread
//! set-up on it, cost more than a small step itself, so finished workers
//! wait for the next step; a worker whose step overran is abandoned (its
//! thread ends when the step does; sleep.rs makes sure a step does not
//! sleep past its deadline).

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

type Job = Box<dyn FnOnce() + Send>;

struct Worker {
    jobs: mpsc::Sender<Job>,
}

/// Counts a live step thread until it ends.
struct Alive(Arc<AtomicUsize>);

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Worker {
    fn spawn(live: &Arc<AtomicUsize>) -> io::Result<Worker> {
        let (jobs, queue) = mpsc::channel::<Job>();
        live.fetch_add(1, Ordering::SeqCst);
        let alive = Alive(live.clone());
        thread::Builder::new().name("sealbox-step".into()).spawn(move || {
            let _alive = alive;
            for job in queue {
                job();
            }
        })?;
        Ok(Worker { jobs })
    }
}

/// A pool of idle step threads.
#[derive(Default)]
pub struct Workers {
    idle: Mutex<Vec<Worker>>,
    /// Step threads that exist: idle, running a step, or abandoned.
    live: Arc<AtomicUsize>,
}

/// How a job on a worker ended.
pub enum Finished<T> {
    Done(T),
    /// The job did not finish in time; it goes on, abandoned, on its thread.
    TimedOut,
}

impl Workers {
    /// Runs `job` on a worker and waits at most `timeout` for its result.
    pub fn run<T: Send + 'static>(
        &self,
        timeout: Duration,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> io::Result<Finished<T>> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let worker = match idle {
            Some(w) => w,
            None => Worker::spawn(&self.live)?,
        };
        let (tx, rx) = mpsc::sync_channel(1);
        let job: Job = Box::new(move || {
            let _ = tx.send(job());
        });
        if let Err(mpsc::SendError(job)) = worker.jobs.send(job) {
            // The idle worker's thread is gone; a fresh one takes the job.
            let fresh = Worker::spawn(&self.live)?;
            fresh.jobs.send(job).map_err(|_| io::Error::other("step thread exited at start"))?;
            return self.wait(fresh, &rx, timeout);
        }
        self.wait(worker, &rx, timeout)
    }

    /// How many step threads are running a step (or were abandoned
    /// running one) rather than waiting, idle, for the next.
    pub fn busy(&self) -> usize {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).len();
        self.live.load(Ordering::SeqCst).saturating_sub(idle)
    }

    fn wait<T>(&self, worker: Worker, rx: &mpsc::Receiver<T>, timeout: Duration) -> io::Result<Finished<T>> {
        match rx.recv_timeout(timeout) {
            Ok(value) => {
                self.idle.lock().unwrap_or_else(|p| p.into_inner()).push(worker);
                Ok(Finished::Done(value))
            }
            Err(RecvTimeoutError::Timeout) => Ok(Finished::TimedOut),
            Err(RecvTimeoutError::Disconnected) => Err(io::Error::other("step thread stopped without a result")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finished_worker_is_reused_and_an_overrunning_one_counted_until_it_ends() {
        let workers = Workers::default();
        assert!(matches!(workers.run(Duration::from_secs(5), || 1), Ok(Finished::Done(1))));
        assert_eq!(workers.busy(), 0, "the worker went back to the pool");
        assert!(matches!(workers.run(Duration::from_secs(5), || 2), Ok(Finished::Done(2))));
        assert_eq!(workers.live.load(Ordering::SeqCst), 1, "the same thread ran both");

        let (release, wait) = mpsc::channel::<()>();
        let overrun = workers.run(Duration::from_millis(50), move || wait.recv().ok());
        assert!(matches!(overrun, Ok(Finished::TimedOut)));
        assert_eq!(workers.busy(), 1, "the abandoned thread still runs");
        release.send(()).expect("the job waits");
        let started = std::time::Instant::now();
        while workers.busy() > 0 && started.elapsed() < Duration::from_secs(5) {
            thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(workers.busy(), 0, "an abandoned thread ends with its job");
    }
}
