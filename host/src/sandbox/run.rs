//! Running one step: a fresh store, a WASI context holding only what the
//! step is granted, the call, and the classification of how it ended.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sealbox_guest::{API_VERSION, FileEntry, Request, Response};
use wasmtime::{ResourceLimiter, Store, Trap};
use wasmtime_wasi::p2::pipe::MemoryInputPipe;
use wasmtime_wasi::{FsPerms, I32Exit, ResourceTable, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::determinism::{FixedWallClock, SeededRandom, TickingMonotonicClock};
use super::engine::EPOCH_TICK;
use super::error::{StepError, StepFailure};
use super::limits::Limits;
use super::pipes::{OutputPipe, Overflow, SharedBuffer};
use super::workers::Finished;
use super::{Inner, Module};
use crate::tree::{self, Hardlinks, TreeError, WalkOptions};

/// How much of serde's message about an invalid response is kept.
const MAX_ERROR_TEXT: usize = 300;

/// Where a packer leaves its response, since its stdout carries the layer.
pub const STREAM_RESPONSE_FILE: &str = "response.json";

/// Largest number of bytes the guest may move to the host in one call.
const HOSTCALL_FUEL: usize = 128 << 20;
/// Largest number of handles a component may hold at once.
const MAX_HANDLES: usize = 100_000;
/// How long past its deadline the host waits for a step stuck in a host
/// call (epochs only interrupt wasm code) before giving up on it.
const GRACE: Duration = Duration::from_secs(2);

/// One run of a module: what it sees and how far it may go.
pub struct Invocation {
    /// The step's name; part of its identity (random seed) and messages.
    pub name: String,
    /// Host directory mounted read-only at `/in`.
    pub input: PathBuf,
    /// Host directory mounted writable at `/out`; must be empty.
    pub output: Option<PathBuf>,
    /// Host directory mounted read-only at `/documents`: the documents view
    /// of the input, for a step granted it.
    pub documents: Option<PathBuf>,
    pub request: Request,
    pub limits: Limits,
    /// For packers: where the module's stdout streams to. The response is
    /// then read from `/out/response.json`.
    pub stdout: Option<Box<dyn Write + Send>>,
}

/// What a successful step produced.
#[derive(Debug)]
pub struct StepOutcome {
    pub response: Response,
    /// The module's stderr, bounded by `Limits::stderr`, raw.
    pub stderr: Vec<u8>,
    pub stderr_truncated: bool,
    pub stdout_bytes: u64,
    /// Everything the module left in `/out`, sorted, checked.
    pub output: Vec<FileEntry>,
    pub elapsed: Duration,
}

#[derive(Clone)]
pub(super) enum Pre {
    Core(wasmtime::InstancePre<CoreState>),
    Component(wasmtime_wasi::p2::bindings::sync::CommandPre<ComponentState>),
}

pub(super) struct CoreState {
    pub(super) wasi: wasmtime_wasi::p1::WasiP1Ctx,
    limiter: StepLimiter,
    /// Bounds the module's sleeps by the step's deadline.
    pub(super) sleep: super::sleep::Bound,
}

pub(super) struct ComponentState {
    ctx: WasiCtx,
    table: ResourceTable,
    limiter: StepLimiter,
    /// Bounds the module's sleeps by the step's deadline.
    pub(super) sleep: super::sleep::Bound,
}

impl WasiView for ComponentState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.ctx, table: &mut self.table }
    }
}

/// Caps the total linear memory of a store, and remembers that it did.
struct StepLimiter {
    limit: u64,
    total: u64,
    exceeded: bool,
}

impl ResourceLimiter for StepLimiter {
    fn memory_growing(&mut self, current: usize, desired: usize, _max: Option<usize>) -> wasmtime::Result<bool> {
        let total = self.total - current as u64 + desired as u64;
        if total > self.limit {
            self.exceeded = true;
            wasmtime::bail!("memory limit exceeded");
        }
        self.total = total;
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _max: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}

pub(super) fn run(inner: Arc<Inner>, module: Module, step: Invocation) -> Result<StepOutcome, StepFailure> {
    let timeout = step.limits.timeout;
    let name = module.name.clone();
    let runner = inner.clone();
    let fail = |cause| StepFailure { module: name.clone(), cause, stderr: vec![] };
    match inner.workers.run(timeout + GRACE, move || run_here(&runner, &module, step)) {
        Ok(Finished::Done(result)) => result,
        Ok(Finished::TimedOut) => Err(fail(StepError::TimedOut(timeout))),
        Err(e) => Err(fail(StepError::Host(format!("running the step thread: {e}")))),
    }
}

fn run_here(inner: &Inner, module: &Module, step: Invocation) -> Result<StepOutcome, StepFailure> {
    let started = Instant::now();
    let fail = |cause, stderr| StepFailure { module: module.name.clone(), cause, stderr };
    let Invocation { name, input, output, documents, request, limits, stdout } = step;
    let streaming = stdout.is_some();

    let stdout_buf = SharedBuffer::default();
    let stdout_pipe =
        OutputPipe::new(stdout.unwrap_or_else(|| Box::new(stdout_buf.clone())), limits.stdout, Overflow::Trap);
    let stderr_buf = SharedBuffer::default();
    let stderr_pipe = OutputPipe::new(Box::new(stderr_buf.clone()), limits.stderr, Overflow::Truncate);

    let request_json = match serde_json::to_vec(&request) {
        Ok(j) => j,
        Err(e) => return Err(fail(StepError::Host(format!("encoding request: {e}")), vec![])),
    };
    let identity = format!("{}\0{}", module.digest, name);
    let monotonic = TickingMonotonicClock::default();
    let wall = Duration::from_secs(request.image.source_date_epoch);
    let sleep = super::sleep::Bound::new(started, limits.timeout, monotonic.reading(), wall);
    let mut wasi = WasiCtxBuilder::new();
    // Must precede preopened_dir, which captures it: file I/O inline on
    // this thread is several times faster than via a blocking pool.
    wasi.allow_blocking_current_thread(true)
        .stdin(MemoryInputPipe::new(request_json))
        .stdout(stdout_pipe.clone())
        .stderr(stderr_pipe.clone())
        .args(&[module.name.as_str(), "run"])
        .wall_clock(FixedWallClock(wall))
        .monotonic_clock(monotonic)
        .secure_random(SeededRandom::new(identity.as_bytes()))
        .insecure_random(SeededRandom::new(format!("{identity}\0insecure").as_bytes()))
        .insecure_random_seed(u128::from_le_bytes(seed16(&identity)))
        .max_random_size(1 << 20)
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false);
    for (k, v) in &request.env {
        wasi.env(k, v);
    }
    if let Err(e) = wasi.preopened_dir(&input, "/in", FsPerms::ReadOnly) {
        return Err(fail(StepError::Host(format!("opening input {}: {e}", input.display())), vec![]));
    }
    if let Some(view) = &documents
        && let Err(e) = wasi.preopened_dir(view, "/documents", FsPerms::ReadOnly)
    {
        return Err(fail(StepError::Host(format!("opening the documents view {}: {e}", view.display())), vec![]));
    }
    // A step allowed nothing in `/out` (a policy) cannot write there at
    // all, rather than fill the disk before the limits are checked.
    let out_perms =
        if limits.output_files == 0 && limits.output_bytes == 0 { FsPerms::ReadOnly } else { FsPerms::ReadWrite };
    if let Some(out) = &output
        && let Err(e) = wasi.preopened_dir(out, "/out", out_perms)
    {
        return Err(fail(StepError::Host(format!("opening output {}: {e}", out.display())), vec![]));
    }

    let (call, memory_exceeded) = call_module(inner, module, wasi, &limits, sleep);

    let stdout_report = stdout_pipe.finish();
    let stderr_report = stderr_pipe.finish();
    let stderr = stderr_buf.take();
    if let Err(e) = call {
        let cause = if memory_exceeded {
            StepError::MemoryExceeded(limits.memory)
        } else if stdout_report.overflowed {
            StepError::StdoutExceeded(limits.stdout)
        } else if let Some(err) = stdout_report.error {
            StepError::Host(format!("writing the module's output: {err}"))
        } else {
            classify(&e, limits.timeout)
        };
        if !matches!(cause, StepError::Exited(0)) {
            return Err(fail(cause, stderr));
        }
    }

    let raw_response = if streaming {
        match read_stream_response(output.as_deref()) {
            Ok(r) => r,
            Err(msg) => return Err(fail(StepError::InvalidResponse(msg), stderr)),
        }
    } else {
        stdout_buf.take()
    };
    let response = match parse_response(&raw_response) {
        Ok(r) => r,
        Err(msg) => return Err(fail(StepError::InvalidResponse(msg), stderr)),
    };
    let output_entries = match &output {
        Some(dir) => match scan_output(dir, &limits) {
            Ok(entries) => entries,
            Err(cause) => return Err(fail(cause, stderr)),
        },
        None => vec![],
    };
    Ok(StepOutcome {
        response,
        stderr,
        stderr_truncated: stderr_report.overflowed,
        stdout_bytes: stdout_report.written,
        output: output_entries,
        elapsed: started.elapsed(),
    })
}

/// Instantiates `module` over `wasi` within `limits` and runs it to the
/// end: `_start` of a core module, `wasi:cli/run` of a component. Returns
/// how the call ended and whether the memory limit was hit.
fn call_module(
    inner: &Inner,
    module: &Module,
    mut wasi: WasiCtxBuilder,
    limits: &Limits,
    sleep: super::sleep::Bound,
) -> (wasmtime::Result<()>, bool) {
    let limiter = StepLimiter { limit: limits.memory, total: 0, exceeded: false };
    let deadline_ticks = (limits.timeout.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64 + 1;
    let (call, memory_exceeded) = match &module.pre {
        Pre::Core(pre) => {
            let mut store = Store::new(&inner.engine, CoreState { wasi: wasi.build_p1(), limiter, sleep });
            store.limiter(|s| &mut s.limiter);
            store.set_epoch_deadline(deadline_ticks);
            store.set_hostcall_fuel(HOSTCALL_FUEL);
            let call = pre.instantiate(&mut store).and_then(|instance| {
                let start = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
                start.call(&mut store, ())
            });
            (call, store.data().limiter.exceeded)
        }
        Pre::Component(pre) => {
            let mut table = ResourceTable::new();
            table.set_max_capacity(MAX_HANDLES);
            let mut store = Store::new(&inner.engine, ComponentState { ctx: wasi.build(), table, limiter, sleep });
            store.limiter(|s| &mut s.limiter);
            store.set_epoch_deadline(deadline_ticks);
            store.set_hostcall_fuel(HOSTCALL_FUEL);
            let call = pre.instantiate(&mut store).and_then(|cmd| match cmd.wasi_cli_run().call_run(&mut store)? {
                Ok(()) => Ok(()),
                Err(()) => Err(wasmtime::Error::new(I32Exit(1))),
            });
            (call, store.data().limiter.exceeded)
        }
    };
    (call, memory_exceeded)
}

fn seed16(identity: &str) -> [u8; 16] {
    let digest = super::binary::sha256_digest(identity.as_bytes());
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest.as_bytes()[7..23]);
    out
}

/// Turns a failed call into the cause a user should read.
fn classify(e: &wasmtime::Error, timeout: Duration) -> StepError {
    if let Some(exit) = e.downcast_ref::<I32Exit>() {
        return StepError::Exited(exit.0);
    }
    match e.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => StepError::TimedOut(timeout),
        Some(Trap::StackOverflow) => StepError::StackOverflow,
        Some(trap) => StepError::Trapped(trap.to_string()),
        None => {
            // Instantiation and linking errors, host errors raised inside a
            // call: keep the first line, the rest is a wasm backtrace. It
            // may quote the module's import names: keep it short.
            let text = format!("{e:#}");
            StepError::Trapped(crate::text::shorten(text.lines().next().unwrap_or("unknown error"), MAX_ERROR_TEXT))
        }
    }
}

fn read_stream_response(output: Option<&std::path::Path>) -> Result<Vec<u8>, String> {
    let Some(dir) = output else {
        return Err("a streaming step needs an /out directory for its response".into());
    };
    let dir = cap_std::fs::Dir::open_ambient_dir(dir, cap_std::ambient_authority()).map_err(|e| e.to_string())?;
    let meta = dir
        .symlink_metadata(STREAM_RESPONSE_FILE)
        .map_err(|_| format!("no /out/{STREAM_RESPONSE_FILE} (a packer writes its response there)"))?;
    if !meta.is_file() || meta.len() > 16 << 20 {
        return Err(format!("/out/{STREAM_RESPONSE_FILE} is not a regular file of at most 16 MiB"));
    }
    let bytes = dir.read(STREAM_RESPONSE_FILE).map_err(|e| e.to_string())?;
    dir.remove_file(STREAM_RESPONSE_FILE).map_err(|e| e.to_string())?;
    Ok(bytes)
}

/// Parses and checks a response: exactly one JSON document of the right
/// apiVersion, surrounded by nothing but white space.
pub fn parse_response(bytes: &[u8]) -> Result<Response, String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err("no response on stdout".into());
    }
    // serde's message may quote the module's text: cut it on a character
    // boundary (it is escaped where it is printed).
    let response: Response =
        serde_json::from_slice(bytes).map_err(|e| crate::text::shorten(&e.to_string(), MAX_ERROR_TEXT))?;
    if response.api_version != API_VERSION {
        let shown = crate::text::shorten(&response.api_version, 64);
        return Err(format!("apiVersion is {shown:?}, expected {API_VERSION:?}"));
    }
    Ok(response)
}

/// Walks `/out` on the host side without following links, so that nothing
/// a module planted there reaches the next consumer.
fn scan_output(dir: &std::path::Path, limits: &Limits) -> Result<Vec<FileEntry>, StepError> {
    let root = cap_std::fs::Dir::open_ambient_dir(dir, cap_std::ambient_authority())
        .map_err(|e| StepError::Host(format!("opening {}: {e}", dir.display())))?;
    let options = WalkOptions {
        max_entries: limits.output_files,
        max_bytes: limits.output_bytes,
        hardlinks: Hardlinks::Refuse,
        ..WalkOptions::default()
    };
    tree::walk(&root, &options).map_err(|e| match e {
        TreeError::SymlinkEscape { .. } => StepError::OutputEscape(e.to_string()),
        other => StepError::OutputRefused(other.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn long_multi_byte_garbage_is_an_error_not_a_panic() {
        // serde quotes the offending value in its message (`invalid type:
        // string "…"`); cutting that message inside a character must not
        // bring the host down. The ASCII pads move the cut through every
        // byte of the 3- and 4-byte characters.
        for pad in 0..4 {
            for c in ["日", "🦀", "é"] {
                let garbage = format!("\"{}{}\"", "x".repeat(pad), c.repeat(400));
                let err = parse_response(garbage.as_bytes()).unwrap_err();
                assert!(err.starts_with("invalid type: string"), "{err}");
                assert!(err.len() <= MAX_ERROR_TEXT + '…'.len_utf8(), "{} bytes: {err}", err.len());
            }
        }
        let unterminated = format!("{{\"{}", "日".repeat(500));
        assert!(parse_response(unterminated.as_bytes()).is_err());
    }

    /// Longest error text `parse_response` may give: serde's message cut
    /// to `MAX_ERROR_TEXT`, or an apiVersion of 64 bytes quoted with
    /// escapes of up to 10 bytes a character.
    const MAX_MESSAGE: usize = 1024;

    proptest! {
        #[test]
        fn any_bytes_are_an_answer_or_a_short_error(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            if let Err(msg) = parse_response(&bytes) {
                prop_assert!(msg.len() <= MAX_MESSAGE);
            }
        }

        #[test]
        fn any_text_in_any_field_is_an_answer_or_a_short_error(text in "(?s).{0,400}") {
            let quoted = serde_json::to_string(&text).expect("a string is JSON");
            let documents = [
                format!(r#"{{"apiVersion": {quoted}, "status": "success"}}"#),
                format!(r#"{{"apiVersion": "{API_VERSION}", "status": {quoted}}}"#),
                format!(r#"{{"apiVersion": "{API_VERSION}", "status": "success", "diagnostics": [{{"severity": {quoted}}}]}}"#),
                quoted.clone(),
                text.clone(),
            ];
            for doc in documents {
                match parse_response(doc.as_bytes()) {
                    Ok(r) => prop_assert_eq!(r.api_version, API_VERSION),
                    Err(msg) => prop_assert!(msg.len() <= MAX_MESSAGE, "{} bytes", msg.len()),
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "run_tests.rs"]
mod output_tests;
