//! The threads steps run on, kept for reuse.
//!
//! A step runs off the caller's thread so that a module blocked inside a
//! host call (which epochs cannot interrupt) still cannot hold the caller
//! past its deadline. Starting a thread per step, and wasmtime's per-thread
//! set-up on it, cost more than a small step itself, so finished workers
//! wait for the next step; a worker whose step overran is abandoned.

use std::io;
use std::sync::Mutex;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;

type Job = Box<dyn FnOnce() + Send>;

struct Worker {
    jobs: mpsc::Sender<Job>,
}

impl Worker {
    fn spawn() -> io::Result<Worker> {
        let (jobs, queue) = mpsc::channel::<Job>();
        thread::Builder::new().name("sealbox-step".into()).spawn(move || {
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
            None => Worker::spawn()?,
        };
        let (tx, rx) = mpsc::sync_channel(1);
        let job: Job = Box::new(move || {
            let _ = tx.send(job());
        });
        if let Err(mpsc::SendError(job)) = worker.jobs.send(job) {
            // The idle worker's thread is gone; a fresh one takes the job.
            let fresh = Worker::spawn()?;
            fresh.jobs.send(job).map_err(|_| io::Error::other("step thread exited at start"))?;
            return self.wait(fresh, &rx, timeout);
        }
        self.wait(worker, &rx, timeout)
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
