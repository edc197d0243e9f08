//! Bounded output streams for a module's stdout and stderr.
//!
//! A module's output is hostile: it may be endless, or (for packers) be a
//! multi-gigabyte layer that must be streamed, not buffered. [`OutputPipe`]
//! forwards what the module writes to a host sink and stops the module with a
//! trap the moment it exceeds its budget.

use std::io::{self, Write};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

/// How much the module may write in one call; small enough that a guest
/// cannot make the host allocate much per call.
const WRITE_PERMIT: usize = 64 * 1024;

/// What a pipe does with bytes beyond its budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// Stop the module (stdout: its output would be incomplete).
    Trap,
    /// Drop the excess and let the module go on (stderr: it is only a log).
    Truncate,
}

struct PipeState {
    sink: Box<dyn Write + Send>,
    written: u64,
    limit: u64,
    overflow: Overflow,
    overflowed: bool,
    error: Option<io::Error>,
}

/// A clonable handle to one output stream of a module.
#[derive(Clone)]
pub struct OutputPipe {
    state: Arc<Mutex<PipeState>>,
}

/// What a pipe saw once the module is done.
#[derive(Debug)]
pub struct PipeReport {
    pub written: u64,
    pub overflowed: bool,
    pub error: Option<io::Error>,
}

impl OutputPipe {
    /// A pipe forwarding up to `limit` bytes to `sink`.
    pub fn new(sink: Box<dyn Write + Send>, limit: u64, overflow: Overflow) -> Self {
        let state = PipeState { sink, written: 0, limit, overflow, overflowed: false, error: None };
        OutputPipe { state: Arc::new(Mutex::new(state)) }
    }

    /// Flushes the sink and reports what happened.
    pub fn finish(&self) -> PipeReport {
        let mut s = lock(&self.state);
        if s.error.is_none()
            && let Err(e) = s.sink.flush()
        {
            s.error = Some(e);
        }
        PipeReport { written: s.written, overflowed: s.overflowed, error: s.error.take() }
    }

    fn write_bytes(&self, bytes: &[u8]) -> Result<(), StreamError> {
        let mut s = lock(&self.state);
        if s.error.is_some() {
            return Err(StreamError::Closed);
        }
        let room = s.limit.saturating_sub(s.written);
        let (keep, over) = if (bytes.len() as u64) > room { (room as usize, true) } else { (bytes.len(), false) };
        if keep > 0 {
            if let Err(e) = s.sink.write_all(&bytes[..keep]) {
                let msg = e.to_string();
                s.error = Some(e);
                return Err(StreamError::Trap(wasmtime::format_err!("host output sink failed: {msg}")));
            }
            s.written += keep as u64;
        }
        if over {
            s.overflowed = true;
            if s.overflow == Overflow::Trap {
                return Err(StreamError::Trap(wasmtime::format_err!("output limit exceeded")));
            }
        }
        Ok(())
    }
}

fn lock(state: &Mutex<PipeState>) -> std::sync::MutexGuard<'_, PipeState> {
    // A poisoned lock only means another writer panicked mid-write; the
    // counters are still meaningful.
    state.lock().unwrap_or_else(|p| p.into_inner())
}

impl IsTerminal for OutputPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for OutputPipe {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for OutputPipe {
    async fn ready(&mut self) {}
}

impl OutputStream for OutputPipe {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.write_bytes(&bytes)
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        if lock(&self.state).error.is_some() { Err(StreamError::Closed) } else { Ok(WRITE_PERMIT) }
    }
}

impl tokio::io::AsyncWrite for OutputPipe {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(match self.write_bytes(buf) {
            Ok(()) => Ok(buf.len()),
            Err(e) => Err(io::Error::other(e.to_string())),
        })
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A `Write` that collects into a shared buffer the host reads afterwards.
#[derive(Clone, Default)]
pub struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl SharedBuffer {
    /// Takes what was written so far.
    pub fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A `Write` handle to a writer the caller gets back after the step:
/// clone it, hand one clone to [`Invocation::stdout`](super::Step), and call
/// [`SharedWriter::into_inner`] on the other once the step is done.
pub struct SharedWriter<W>(Arc<Mutex<W>>);

impl<W> Clone for SharedWriter<W> {
    fn clone(&self) -> Self {
        SharedWriter(self.0.clone())
    }
}

impl<W: Write> SharedWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        SharedWriter(Arc::new(Mutex::new(inner)))
    }

    /// The writer, once every other clone is gone; `None` if one is still
    /// alive (a step that outlived its deadline may hold one).
    pub fn into_inner(self) -> Option<W> {
        Arc::into_inner(self.0).map(|m| m.into_inner().unwrap_or_else(|p| p.into_inner()))
    }
}

impl<W: Write> Write for SharedWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncating_pipe_keeps_the_budget() {
        let buf = SharedBuffer::default();
        let pipe = OutputPipe::new(Box::new(buf.clone()), 4, Overflow::Truncate);
        assert!(pipe.write_bytes(b"abc").is_ok());
        assert!(pipe.write_bytes(b"def").is_ok());
        let report = pipe.finish();
        assert!(report.overflowed);
        assert_eq!(buf.take(), b"abcd");
    }

    #[test]
    fn trapping_pipe_stops_the_writer() {
        let pipe = OutputPipe::new(Box::new(io::sink()), 2, Overflow::Trap);
        assert!(pipe.write_bytes(b"abc").is_err());
        assert!(pipe.finish().overflowed);
    }
}
