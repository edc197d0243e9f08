//! A module's sleeps, bounded by its step's deadline.
//!
//! Epoch interruption stops wasm code at a step's deadline, but not a host
//! call in progress: WASI preview 1's `poll_oneoff` on a clock sleeps on the
//! step's thread for as long as the module asks (`sleep(1h)`), and a thread
//! cannot be stopped from outside; it could only be abandoned, still
//! sleeping. So sealbox answers `poll_oneoff` itself: a wait on clocks
//! sleeps as asked when it ends before the deadline, and otherwise only
//! until the deadline, then stops the step as timed out. A stream (stdin,
//! stdout, stderr, a file) is always ready in the sandbox, so a poll with
//! one returns at once, as WASI's would; the streams are not checked here
//! (a bad descriptor fails when it is read or written).
//!
//! Components (WASI preview 2) sleep on a pollable from
//! `wasi:clocks/monotonic-clock`: its `subscribe-duration` and
//! `subscribe-instant` are wrapped to fire no later than the deadline, and
//! `wasi:io/poll`'s `poll` and `pollable.block` to stop the step as timed
//! out when they return past it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use wasmtime::component::Resource;
use wasmtime::{Caller, Linker, StoreContextMut, Trap};
use wasmtime_wasi::WasiView;
use wasmtime_wasi::clocks::WasiClocksView;
use wasmtime_wasi::p2::DynPollable;
use wasmtime_wasi::p2::bindings::clocks::monotonic_clock::Host as _;
use wasmtime_wasi::p2::bindings::sync::io::poll::{Host as _, HostPollable as _};

use super::run::{ComponentState, CoreState};

const MODULE: &str = "wasi_snapshot_preview1";
const NAME: &str = "poll_oneoff";
/// The interfaces as wasmtime-wasi links them (every 0.2 import resolves
/// to them by semver).
const MONOTONIC_CLOCK: &str = "wasi:clocks/monotonic-clock@0.2.12";
const POLL: &str = "wasi:io/poll@0.2.12";

/// Size of a preview 1 `subscription`: userdata (u64), the event type tag
/// (u8, padded to 8), then the clock or fd payload.
const SUBSCRIPTION: usize = 48;
/// Size of a preview 1 `event`: userdata (u64), errno (u16), type (u8),
/// then the fd payload (nbytes u64, flags u16).
const EVENT: usize = 32;
const EVENTTYPE_CLOCK: u8 = 0;
const EVENTTYPE_FD_READ: u8 = 1;
const EVENTTYPE_FD_WRITE: u8 = 2;
const CLOCK_REALTIME: u32 = 0;
const CLOCK_MONOTONIC: u32 = 1;
const SUBSCRIPTION_CLOCK_ABSTIME: u16 = 1;
const ERRNO_SUCCESS: i32 = 0;
const ERRNO_FAULT: i32 = 21;
const ERRNO_INVAL: i32 = 28;

/// What a step's `poll_oneoff` needs to bound its sleeps.
pub(super) struct Bound {
    /// When the step's time is up.
    deadline: Instant,
    /// The module's monotonic clock (see determinism.rs), in nanoseconds.
    monotonic: Arc<AtomicU64>,
    /// The module's wall clock, in nanoseconds since the epoch.
    wall: u64,
}

impl Bound {
    /// The bound of a step that started at `started` with `timeout`, whose
    /// module reads `monotonic` and `wall` as its clocks.
    pub(super) fn new(started: Instant, timeout: Duration, monotonic: Arc<AtomicU64>, wall: Duration) -> Bound {
        // A timeout past what the clock can hold is no bound: a week stands in.
        let deadline = started
            .checked_add(timeout)
            .or_else(|| started.checked_add(Duration::from_secs(7 * 24 * 3600)))
            .unwrap_or(started);
        let wall = u64::try_from(wall.as_nanos()).unwrap_or(u64::MAX);
        Bound { deadline, monotonic, wall }
    }
}

/// Replaces WASI's `poll_oneoff` in `linker` (which holds WASI preview 1)
/// with the bounded one.
pub(super) fn wrap(linker: &mut Linker<CoreState>) -> Result<()> {
    linker.allow_shadowing(true);
    linker.func_wrap(MODULE, NAME, bounded_poll).map_err(anyhow::Error::from).context("wrapping poll_oneoff")?;
    linker.allow_shadowing(false);
    Ok(())
}

/// Replaces the monotonic clock's subscriptions in `linker` (which holds
/// WASI preview 2) with ones that fire no later than the step's deadline.
pub(super) fn wrap_component(linker: &mut wasmtime::component::Linker<ComponentState>) -> Result<()> {
    linker.allow_shadowing(true);
    let mut clock = linker.instance(MONOTONIC_CLOCK).map_err(anyhow::Error::from).context(MONOTONIC_CLOCK)?;
    clock
        .func_wrap("subscribe-duration", |store: StoreContextMut<'_, ComponentState>, (nanos,): (u64,)| {
            subscribe_bounded(store, nanos)
        })
        .map_err(anyhow::Error::from)
        .context("wrapping subscribe-duration")?;
    clock
        .func_wrap("subscribe-instant", |store: StoreContextMut<'_, ComponentState>, (when,): (u64,)| {
            let now = store.data().sleep.monotonic.load(Ordering::Relaxed);
            subscribe_bounded(store, when.saturating_sub(now))
        })
        .map_err(anyhow::Error::from)
        .context("wrapping subscribe-instant")?;
    let mut poll = linker.instance(POLL).map_err(anyhow::Error::from).context(POLL)?;
    poll.func_wrap(
        "poll",
        |mut store: StoreContextMut<'_, ComponentState>, (pollables,): (Vec<Resource<DynPollable>>,)| {
            let ready = store.data_mut().ctx().table.poll(pollables)?;
            in_time(&store)?;
            Ok((ready,))
        },
    )
    .map_err(anyhow::Error::from)
    .context("wrapping poll")?;
    poll.func_wrap(
        "[method]pollable.block",
        |mut store: StoreContextMut<'_, ComponentState>, (pollable,): (Resource<DynPollable>,)| {
            store.data_mut().ctx().table.block(pollable)?;
            in_time(&store)
        },
    )
    .map_err(anyhow::Error::from)
    .context("wrapping pollable.block")?;
    linker.allow_shadowing(false);
    Ok(())
}

/// Stops the step as timed out once its deadline has passed.
fn in_time(store: &StoreContextMut<'_, ComponentState>) -> wasmtime::Result<()> {
    if Instant::now() >= store.data().sleep.deadline {
        return Err(wasmtime::Error::new(Trap::Interrupt));
    }
    Ok(())
}

/// A pollable that fires after `nanos`, or at the deadline if sooner.
fn subscribe_bounded(
    mut store: StoreContextMut<'_, ComponentState>,
    nanos: u64,
) -> wasmtime::Result<(Resource<DynPollable>,)> {
    let left = store.data().sleep.deadline.saturating_duration_since(Instant::now());
    let nanos = nanos.min(u64::try_from(left.as_nanos()).unwrap_or(u64::MAX));
    let pollable = store.data_mut().clocks().subscribe_duration(nanos)?;
    Ok((pollable,))
}

/// One subscription, as read from the module's memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Subscription {
    /// A clock that fires after `wait` nanoseconds.
    Clock { userdata: u64, wait: u64 },
    /// A stream, ready at once.
    Stream { userdata: u64, kind: u8 },
}

/// `poll_oneoff(subs, events, count, nevents) -> errno`.
fn bounded_poll(
    mut caller: Caller<'_, CoreState>,
    subs: i32,
    events: i32,
    count: i32,
    nevents: i32,
) -> wasmtime::Result<i32> {
    let Some(memory) = caller.get_export("memory").and_then(|m| m.into_memory()) else {
        wasmtime::bail!("poll_oneoff: the module exports no memory");
    };
    let (deadline, monotonic, wall) = {
        let bound = &caller.data().sleep;
        (bound.deadline, bound.monotonic.load(Ordering::Relaxed), bound.wall)
    };
    let Some(bytes) = region(memory.data(&caller), subs, count, SUBSCRIPTION) else { return Ok(ERRNO_FAULT) };
    let subscriptions = match parse(bytes, monotonic, wall) {
        Ok(s) if !s.is_empty() => s,
        // No subscription would wait for ever, which WASI refuses too.
        Ok(_) => return Ok(ERRNO_INVAL),
        Err(errno) => return Ok(errno),
    };
    let fired = match wait_for(&subscriptions, deadline) {
        Some(fired) => fired,
        // As if the epoch deadline had struck: the step timed out.
        None => return Err(wasmtime::Error::new(Trap::Interrupt)),
    };
    let data = memory.data_mut(&mut caller);
    let Ok(fired_count) = u32::try_from(fired.len()) else { return Ok(ERRNO_FAULT) };
    let Some(out) = region_mut(data, events, count, EVENT) else { return Ok(ERRNO_FAULT) };
    for (event, sub) in out.chunks_exact_mut(EVENT).zip(&fired) {
        event.fill(0);
        let (userdata, kind) = match *sub {
            Subscription::Clock { userdata, .. } => (userdata, EVENTTYPE_CLOCK),
            Subscription::Stream { userdata, kind } => (userdata, kind),
        };
        event[0..8].copy_from_slice(&userdata.to_le_bytes());
        event[10] = kind;
        if kind != EVENTTYPE_CLOCK {
            // One byte ready, as WASI reports a ready stream of unknown size.
            event[16..24].copy_from_slice(&1u64.to_le_bytes());
        }
    }
    let Some(n) = region_mut(data, nevents, 1, 4) else { return Ok(ERRNO_FAULT) };
    n.copy_from_slice(&fired_count.to_le_bytes());
    Ok(ERRNO_SUCCESS)
}

/// The `count` records of `size` bytes at `ptr`, when they lie in memory.
fn region(data: &[u8], ptr: i32, count: i32, size: usize) -> Option<&[u8]> {
    let start = ptr as u32 as usize;
    let len = (count as u32 as usize).checked_mul(size)?;
    data.get(start..start.checked_add(len)?)
}

fn region_mut(data: &mut [u8], ptr: i32, count: i32, size: usize) -> Option<&mut [u8]> {
    let start = ptr as u32 as usize;
    let len = (count as u32 as usize).checked_mul(size)?;
    data.get_mut(start..start.checked_add(len)?)
}

/// The subscriptions in `bytes`, clocks read against the module's clocks;
/// an errno for one WASI does not know.
fn parse(bytes: &[u8], monotonic_now: u64, wall_now: u64) -> Result<Vec<Subscription>, i32> {
    let mut out = Vec::with_capacity(bytes.len() / SUBSCRIPTION);
    for sub in bytes.chunks_exact(SUBSCRIPTION) {
        let word = |at: usize| u64::from_le_bytes(sub[at..at + 8].try_into().unwrap_or_default());
        let userdata = word(0);
        match sub[8] {
            EVENTTYPE_CLOCK => {
                let id = u32::from_le_bytes(sub[16..20].try_into().unwrap_or_default());
                let timeout = word(24);
                let absolute =
                    u16::from_le_bytes(sub[40..42].try_into().unwrap_or_default()) & SUBSCRIPTION_CLOCK_ABSTIME != 0;
                let wait = match (id, absolute) {
                    (CLOCK_MONOTONIC | CLOCK_REALTIME, false) => timeout,
                    (CLOCK_MONOTONIC, true) => timeout.saturating_sub(monotonic_now),
                    (CLOCK_REALTIME, true) => timeout.saturating_sub(wall_now),
                    _ => return Err(ERRNO_INVAL),
                };
                out.push(Subscription::Clock { userdata, wait });
            }
            kind @ (EVENTTYPE_FD_READ | EVENTTYPE_FD_WRITE) => out.push(Subscription::Stream { userdata, kind }),
            _ => return Err(ERRNO_INVAL),
        }
    }
    Ok(out)
}

/// Waits for the first of `subscriptions` and returns those that fired;
/// `None` when that would be after `deadline` (having slept until it).
fn wait_for(subscriptions: &[Subscription], deadline: Instant) -> Option<Vec<Subscription>> {
    let streams = subscriptions.iter().any(|s| matches!(s, Subscription::Stream { .. }));
    let earliest = if streams {
        0
    } else {
        subscriptions
            .iter()
            .filter_map(|s| if let Subscription::Clock { wait, .. } = s { Some(*wait) } else { None })
            .min()?
    };
    let left = deadline.saturating_duration_since(Instant::now());
    let wait = Duration::from_nanos(earliest);
    if wait > left {
        std::thread::sleep(left);
        return None;
    }
    std::thread::sleep(wait);
    Some(
        subscriptions
            .iter()
            .filter(|s| match s {
                Subscription::Clock { wait, .. } => *wait <= earliest,
                Subscription::Stream { .. } => true,
            })
            .copied()
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::{Invocation, Limits, ModuleBinary, Sandbox, StepError};

    /// A module that sleeps (one relative monotonic clock subscription)
    /// for `nanos`, then returns without an answer.
    fn sleeper(nanos: u64) -> Vec<u8> {
        wat::parse_str(format!(
            r#"(module
                (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
                (memory (export "memory") 1)
                (func (export "_start")
                  (i32.store (i32.const 16) (i32.const 1))
                  (i64.store (i32.const 24) (i64.const {nanos}))
                  (drop (call $poll (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 200)))))"#
        ))
        .expect("valid wat")
    }

    /// A component that subscribes to the monotonic clock for `nanos` and
    /// waits on it with `wasi:io/poll.poll`, then returns without an answer.
    fn component_sleeper(nanos: u64) -> Vec<u8> {
        wat::parse_str(format!(
            r#"(component
                (import "wasi:io/poll@0.2.12" (instance $poll
                  (export "pollable" (type (sub resource)))
                  (export "poll" (func (param "in" (list (borrow 0))) (result (list u32))))))
                (alias export $poll "pollable" (type $pollable))
                (import "wasi:clocks/monotonic-clock@0.2.12" (instance $clock
                  (alias outer 1 $pollable (type))
                  (export "pollable" (type (eq 0)))
                  (type (own 1))
                  (export "subscribe-duration" (func (param "when" u64) (result 2)))))
                (core module $libc
                  (memory (export "mem") 1)
                  (func (export "realloc") (param i32 i32 i32 i32) (result i32) (i32.const 256)))
                (core instance $libc (instantiate $libc))
                (alias core export $libc "mem" (core memory $mem))
                (alias core export $libc "realloc" (core func $realloc))
                (core func $subscribe (canon lower (func $clock "subscribe-duration")))
                (core func $wait (canon lower (func $poll "poll") (memory $mem) (realloc $realloc)))
                (core module $main
                  (import "libc" "mem" (memory 1))
                  (import "host" "subscribe" (func $subscribe (param i64) (result i32)))
                  (import "host" "poll" (func $poll (param i32 i32 i32)))
                  (func (export "run") (result i32)
                    (i32.store (i32.const 0) (call $subscribe (i64.const {nanos})))
                    (call $poll (i32.const 0) (i32.const 1) (i32.const 8))
                    (i32.const 0)))
                (core instance $main (instantiate $main
                  (with "libc" (instance $libc))
                  (with "host" (instance (export "subscribe" (func $subscribe)) (export "poll" (func $wait))))))
                (func $run (result (result)) (canon lift (core func $main "run")))
                (instance $run (export "run" (func $run)))
                (export "wasi:cli/run@0.2.12" (instance $run)))"#
        ))
        .expect("valid wat")
    }

    /// A module that never returns: an infinite loop in wasm code.
    fn spinner() -> Vec<u8> {
        wat::parse_str(r#"(module (memory (export "memory") 1) (func (export "_start") (loop (br 0))))"#)
            .expect("valid wat")
    }

    fn run(sandbox: &Sandbox, wasm: Vec<u8>, timeout: Duration) -> (Result<(), StepError>, Duration) {
        let binary = ModuleBinary::parse(wasm).expect("module");
        let module = sandbox.load(&binary, "hostile").expect("loads");
        let input = tempfile::tempdir().expect("input");
        let request = sealbox_guest::Request {
            api_version: sealbox_guest::API_VERSION.into(),
            step: "hostile".into(),
            config: serde_json::Value::Null,
            env: Default::default(),
            image: Default::default(),
            files: vec![],
        };
        let step = Invocation {
            name: "hostile".into(),
            input: input.path().to_path_buf(),
            output: None,
            documents: None,
            request,
            limits: Limits { timeout, ..Limits::default() },
            stdout: None,
        };
        let started = Instant::now();
        let result = sandbox.run(&module, step).map(drop).map_err(|f| f.cause);
        (result, started.elapsed())
    }

    #[test]
    fn a_step_sleeping_past_its_deadline_times_out_and_its_thread_is_reclaimed() {
        let sandbox = Sandbox::new(None).expect("sandbox");
        let (result, took) = run(&sandbox, sleeper(3_600_000_000_000), Duration::from_millis(300));
        assert!(matches!(result, Err(StepError::TimedOut(_))), "{result:?}");
        // Back within the grace the host gives a stuck step: the thread
        // came back rather than being left asleep for an hour.
        assert!(took < Duration::from_millis(1500), "{took:?}");
        assert_eq!(sandbox.busy_threads(), 0, "no step thread left running");
        // A short sleep is WASI's own, and ends in time.
        let (result, _) = run(&sandbox, sleeper(10_000_000), Duration::from_secs(5));
        assert!(matches!(result, Err(StepError::InvalidResponse(_))), "slept and returned: {result:?}");
        assert_eq!(sandbox.busy_threads(), 0);
    }

    #[test]
    fn a_component_waiting_past_its_deadline_times_out_and_its_thread_is_reclaimed() {
        let sandbox = Sandbox::new(None).expect("sandbox");
        let (result, took) = run(&sandbox, component_sleeper(3_600_000_000_000), Duration::from_millis(300));
        assert!(matches!(result, Err(StepError::TimedOut(_))), "{result:?}");
        assert!(took < Duration::from_millis(1500), "{took:?}");
        assert_eq!(sandbox.busy_threads(), 0, "no step thread left running");
        // A short wait is WASI's own, and ends in time.
        let (result, _) = run(&sandbox, component_sleeper(10_000_000), Duration::from_secs(5));
        assert!(matches!(result, Err(StepError::InvalidResponse(_))), "waited and returned: {result:?}");
    }

    #[test]
    fn a_step_spinning_past_its_deadline_times_out_and_its_thread_is_reclaimed() {
        let sandbox = Sandbox::new(None).expect("sandbox");
        let (result, took) = run(&sandbox, spinner(), Duration::from_millis(300));
        assert!(matches!(result, Err(StepError::TimedOut(_))), "{result:?}");
        assert!(took < Duration::from_millis(1500), "{took:?}");
        assert_eq!(sandbox.busy_threads(), 0, "no step thread left running");
    }

    fn clock(id: u32, timeout: u64, absolute: bool) -> [u8; SUBSCRIPTION] {
        let mut s = [0u8; SUBSCRIPTION];
        s[8] = EVENTTYPE_CLOCK;
        s[16..20].copy_from_slice(&id.to_le_bytes());
        s[24..32].copy_from_slice(&timeout.to_le_bytes());
        s[40..42].copy_from_slice(&u16::from(absolute).to_le_bytes());
        s
    }

    #[test]
    fn clocks_are_read_against_the_modules_clocks_and_the_earliest_fires() {
        let hour = 3_600_000_000_000u64;
        let subs = [clock(CLOCK_MONOTONIC, hour, false), clock(CLOCK_REALTIME, 5_000, false)].concat();
        let parsed = parse(&subs, 0, 0).expect("clocks");
        assert_eq!(parsed[1], Subscription::Clock { userdata: 0, wait: 5_000 });
        let fired = wait_for(&parsed, Instant::now() + Duration::from_secs(5)).expect("in time");
        assert_eq!(fired, vec![parsed[1]], "only the earliest fired");
        // Absolute times count from the module's own clocks.
        let abs = parse(&clock(CLOCK_MONOTONIC, 10_000, true), 4_000, 0).expect("clock");
        assert_eq!(abs, vec![Subscription::Clock { userdata: 0, wait: 6_000 }]);
        let abs = parse(&clock(CLOCK_REALTIME, 1_000, true), 0, 5_000).expect("clock");
        assert_eq!(abs, vec![Subscription::Clock { userdata: 0, wait: 0 }]);
        // An unknown clock or event type is WASI's EINVAL.
        assert_eq!(parse(&clock(2, hour, false), 0, 0), Err(ERRNO_INVAL));
        let mut odd = clock(CLOCK_MONOTONIC, hour, false);
        odd[8] = 9;
        assert_eq!(parse(&odd, 0, 0), Err(ERRNO_INVAL));
    }

    #[test]
    fn a_stream_is_ready_at_once_and_a_wait_past_the_deadline_is_cut_short() {
        let hour = 3_600_000_000_000u64;
        let mut read = clock(CLOCK_MONOTONIC, 0, false);
        read[8] = EVENTTYPE_FD_READ;
        let parsed = parse(&[clock(CLOCK_MONOTONIC, hour, false), read].concat(), 0, 0).expect("subs");
        let started = Instant::now();
        let fired = wait_for(&parsed, Instant::now() + Duration::from_secs(5)).expect("ready");
        assert_eq!(fired, vec![parsed[1]]);
        assert!(started.elapsed() < Duration::from_secs(1));
        let started = Instant::now();
        let late = wait_for(&[parsed[0]], Instant::now() + Duration::from_millis(100));
        assert_eq!(late, None);
        assert!(started.elapsed() < Duration::from_secs(2), "slept until the deadline only");
    }
}
