//! A progress bar for long pack steps, drawn on stderr when it is a
//! terminal: the packer's stream is counted as it passes to the layer
//! writer, and a ticker redraws one line until the step ends.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// Counts the bytes written through it.
pub struct Counting<W> {
    /// The wrapped writer.
    pub inner: W,
    count: Arc<AtomicU64>,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A bar that redraws itself until dropped. Steps shorter than the first
/// redraw never show one.
pub struct Bar {
    count: Arc<AtomicU64>,
    total: Arc<AtomicU64>,
    done: Arc<AtomicBool>,
    ticker: Option<thread::JoinHandle<()>>,
}

impl Bar {
    /// A bar for `label`, expecting about `total` bytes; drawn only when
    /// `enabled`.
    pub fn new(label: String, total: u64, enabled: bool) -> Bar {
        let count = Arc::new(AtomicU64::new(0));
        let total = Arc::new(AtomicU64::new(total));
        let done = Arc::new(AtomicBool::new(false));
        let ticker = enabled.then(|| {
            let (count, total, done) = (count.clone(), total.clone(), done.clone());
            thread::spawn(move || draw(&label, &total, &count, &done))
        });
        Bar { count, total, done, ticker }
    }

    /// Shows `done` of `total` bytes, for work not counted through a writer.
    pub fn set(&self, done: u64, total: u64) {
        self.total.store(total, Ordering::Relaxed);
        self.count.store(done, Ordering::Relaxed);
    }

    /// Wraps the writer whose bytes the bar shows.
    pub fn counting<W>(&self, inner: W) -> Counting<W> {
        Counting { inner, count: self.count.clone() }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
    }
}

fn draw(label: &str, total: &AtomicU64, count: &AtomicU64, done: &AtomicBool) {
    let started = Instant::now();
    let mut drawn = false;
    while !done.load(Ordering::Relaxed) {
        thread::sleep(Duration::from_millis(100));
        if started.elapsed() < Duration::from_secs(1) {
            continue;
        }
        let n = count.load(Ordering::Relaxed);
        let total = total.load(Ordering::Relaxed);
        let frac = if total == 0 { 0.0 } else { (n as f64 / total as f64).min(1.0) };
        let filled = (frac * 30.0) as usize;
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r\x1b[K{label:<28} [{}{}] {} / {}",
            "#".repeat(filled),
            " ".repeat(30 - filled),
            super::human_size(n),
            super::human_size(total)
        );
        let _ = err.flush();
        drawn = true;
    }
    if drawn {
        let _ = write!(std::io::stderr().lock(), "\r\x1b[K");
    }
}
