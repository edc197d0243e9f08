//! How a step can fail, in words a user can act on.

use std::time::Duration;

use super::limits::{Bytes, Seconds};

/// The cause of a step failure. Each displays as a short clause that reads
/// after the module's name: `module loop: timed out after 2s`.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error("timed out after {}", Seconds(*.0))]
    TimedOut(Duration),
    #[error("exceeded memory limit {}", Bytes(*.0))]
    MemoryExceeded(u64),
    #[error("overflowed its stack")]
    StackOverflow,
    #[error("exited with status {0}")]
    Exited(i32),
    #[error("crashed: {0}")]
    Trapped(String),
    #[error("wrote more than {} to stdout", Bytes(*.0))]
    StdoutExceeded(u64),
    #[error("wrote invalid response: {0}")]
    InvalidResponse(String),
    #[error("tried to write outside /out: {0}")]
    OutputEscape(String),
    #[error("left something in /out that is not allowed: {0}")]
    OutputRefused(String),
    #[error("could not be instantiated: {0}")]
    Instantiate(String),
    #[error("needs a capability its step does not grant: {0}")]
    NotGranted(String),
    #[error("host error: {0}")]
    Host(String),
}

/// A step that did not produce a usable response.
#[derive(Debug, thiserror::Error)]
#[error("module {module}: {cause}")]
pub struct StepFailure {
    /// The module's name (from its metadata, else its file name).
    pub module: String,
    pub cause: StepError,
    /// What the module wrote to stderr (bounded, raw).
    pub stderr: Vec<u8>,
}
