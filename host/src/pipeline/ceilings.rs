//! The operator's ceilings: how much the untrusted input of a build (the
//! pipeline file, module metadata, `ADD` archives) may ask for.
//!
//! The command line is the operator's; the pipeline file and the modules
//! come with the build context and may ask for anything. A grant above a
//! ceiling is refused before any step runs ([`Ceilings::check_pipeline`]),
//! the limits a step gets are clipped to the ceilings ([`Ceilings::clip`]),
//! every step's time is clipped to the whole build's [`Deadline`], and an
//! archive may not expand far beyond what real data compresses to
//! ([`AddRatio`]). Each refusal is a [`CeilingExceeded`], which names the
//! flag that raises the ceiling.

use std::time::{Duration, Instant};

use super::pipeline_file::Pipeline;
use crate::sandbox::{Bytes, Limits};

const MIB: u64 = 1024 * 1024;

/// The flag that raises [`Ceilings::step_memory`].
pub const FLAG_STEP_MEMORY: &str = "--max-step-memory";
/// The flag that raises [`Ceilings::step_timeout`].
pub const FLAG_STEP_TIMEOUT: &str = "--max-step-timeout";
/// The flag that sets the whole build's [`Deadline`].
pub const FLAG_BUILD_TIMEOUT: &str = "--build-timeout";
/// The flag that lets a module see every env value.
pub const FLAG_MODULE_ENV_ALL: &str = "--allow-module-env-all";
/// The flag that sets [`AddRatio::max_ratio`].
pub const FLAG_ADD_RATIO: &str = "--max-add-ratio";
/// The flag that sets [`AddRatio::threshold`].
pub const FLAG_ADD_RATIO_THRESHOLD: &str = "--add-ratio-threshold";

/// What the operator allows the build's input to ask for.
#[derive(Debug, Clone)]
pub struct Ceilings {
    /// The most memory a third-party step (pipeline step, `RUN --module`)
    /// may be granted, in bytes.
    pub step_memory: u64,
    /// The longest wall time a third-party step may be granted.
    pub step_timeout: Duration,
    /// When the whole build must be done; `None` for no deadline.
    pub deadline: Option<Deadline>,
    /// Whether a module chosen by the context may see every env value
    /// (`*`), not only the names its step grants.
    pub module_env_all: bool,
    /// How far an `ADD` archive may expand.
    pub add_ratio: AddRatio,
}

impl Default for Ceilings {
    /// The defaults of `sealbox build`, without a deadline (a library
    /// caller sets one with [`Deadline::after`]).
    fn default() -> Self {
        Ceilings {
            step_memory: 4 << 30,
            step_timeout: Duration::from_secs(600),
            deadline: None,
            module_env_all: false,
            add_ratio: AddRatio::default(),
        }
    }
}

/// An input asked for more than the operator's ceilings allow. The build
/// stops before the step that asked runs; the message names the step or
/// archive, the ceiling and the flag that raises it. A usage error: the
/// operator raises the ceiling or the input is fixed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CeilingExceeded(pub String);

impl Ceilings {
    /// Checks every grant of the pipeline file against the ceilings, before
    /// anything runs; the error lists every grant above one, each as
    /// `FILE:LINE: step NAME: ...`.
    pub fn check_pipeline(&self, pipeline: &Pipeline) -> Result<(), CeilingExceeded> {
        let mut over = Vec::new();
        for step in &pipeline.steps {
            let at = format!("{}:{}: step {}", pipeline.file, step.line, step.name);
            if let Some(mib) = step.grants.memory_mib
                && mib.saturating_mul(MIB) > self.step_memory
            {
                over.push(format!(
                    "{at}: grants.memoryMib {mib} ({}) is above the operator's ceiling of {}; \
                     {FLAG_STEP_MEMORY} {} raises it",
                    Bytes(mib.saturating_mul(MIB)),
                    Bytes(self.step_memory),
                    size_flag(mib.saturating_mul(MIB)),
                ));
            }
            if let Some(timeout) = step.grants.timeout
                && timeout > self.step_timeout
            {
                over.push(format!(
                    "{at}: grants.timeout {} is above the operator's ceiling of {}; {FLAG_STEP_TIMEOUT} {} raises it",
                    human_duration(timeout),
                    human_duration(self.step_timeout),
                    human_duration(timeout),
                ));
            }
            if step.grants.env.contains_key("*") && !self.module_env_all {
                over.push(format!(
                    "{at}: grants.env `*` would hand the module every --env value; only the operator can \
                     allow that, with {FLAG_MODULE_ENV_ALL}"
                ));
            }
        }
        if over.is_empty() { Ok(()) } else { Err(CeilingExceeded(over.join("\n"))) }
    }

    /// `limits` with memory and time no higher than the ceilings: what a
    /// third-party step gets when its grant says nothing, or too much.
    pub fn clip(&self, mut limits: Limits) -> Limits {
        limits.memory = limits.memory.min(self.step_memory);
        limits.timeout = limits.timeout.min(self.step_timeout);
        limits
    }
}

/// When the whole build must be done: steps are not started after it, and
/// a running step's timeout is clipped to the time left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    at: Instant,
    budget: Duration,
}

impl Deadline {
    /// The deadline `budget` from now.
    pub fn after(budget: Duration) -> Deadline {
        // A budget too large for the clock is as good as none: a week
        // from now stands in for it.
        let at = Instant::now()
            .checked_add(budget)
            .or_else(|| Instant::now().checked_add(Duration::from_secs(7 * 24 * 3600)))
            .unwrap_or_else(Instant::now);
        Deadline { at, budget }
    }

    /// The time left; zero once it has passed.
    pub fn left(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    /// The whole build's budget, as the operator gave it.
    pub fn budget(&self) -> Duration {
        self.budget
    }

    /// `step`'s limits with the timeout clipped to the time left, and
    /// whether it was clipped; an error naming the step when no time is
    /// left to start it.
    pub fn clip(&self, step: &str, mut limits: Limits) -> Result<(Limits, bool), String> {
        let left = self.left();
        if left.is_zero() {
            return Err(format!("step {step} was not started: {}", self.passed()));
        }
        if left < limits.timeout {
            limits.timeout = left;
            return Ok((limits, true));
        }
        Ok((limits, false))
    }

    /// Why a step stops at the deadline, naming the flag that moves it.
    pub fn passed(&self) -> String {
        format!(
            "the build ran past its deadline of {} ({FLAG_BUILD_TIMEOUT}); {FLAG_BUILD_TIMEOUT} DURATION gives it longer",
            human_duration(self.budget)
        )
    }
}

/// The decompression-ratio guard of `ADD` archives: an archive may unpack
/// to `threshold` bytes whatever its size, and beyond that to at most
/// `max_ratio` times its own (compressed) size. Real data rarely
/// compresses past 10:1; gigabytes at 100:1 are zeros or a bomb.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddRatio {
    /// The most unpacked bytes per archive byte; 0 turns the guard off.
    pub max_ratio: u64,
    /// How much any archive may unpack to before the ratio applies.
    pub threshold: u64,
}

impl Default for AddRatio {
    fn default() -> Self {
        AddRatio { max_ratio: 100, threshold: 1 << 30 }
    }
}

impl AddRatio {
    /// The most bytes an archive of `archive_bytes` may unpack to.
    pub fn allowed(&self, archive_bytes: u64) -> u64 {
        if self.max_ratio == 0 {
            return u64::MAX;
        }
        self.threshold.max(self.max_ratio.saturating_mul(archive_bytes))
    }

    /// Checks that `archive`, of `archive_bytes`, unpacked to no more than
    /// it may.
    pub fn check(&self, archive: &str, archive_bytes: u64, unpacked: u64) -> Result<(), CeilingExceeded> {
        if unpacked <= self.allowed(archive_bytes) {
            return Ok(());
        }
        Err(self.exceeded(archive, archive_bytes, Some(unpacked)))
    }

    /// The refusal of `archive`, of `archive_bytes`, which unpacked to
    /// `unpacked` bytes (`None`: the unpacker stopped at the limit).
    pub fn exceeded(&self, archive: &str, archive_bytes: u64, unpacked: Option<u64>) -> CeilingExceeded {
        let shown = match unpacked {
            Some(n) => format!("unpacks to {}", Bytes(n)),
            None => format!("unpacks to more than {}", Bytes(self.allowed(archive_bytes))),
        };
        CeilingExceeded(format!(
            "ADD {archive}: the archive {shown} from {}, over {}:1 past the first {}: refused as a likely \
             decompression bomb; {FLAG_ADD_RATIO} RATIO allows more ({FLAG_ADD_RATIO} 0: no ratio limit), \
             {FLAG_ADD_RATIO_THRESHOLD} SIZE moves where the ratio starts",
            Bytes(archive_bytes),
            self.max_ratio,
            Bytes(self.threshold),
        ))
    }
}

/// `1h`, `10m`, `30s` or `1500ms`: a duration as the flags take it.
pub fn human_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 || !ms.is_multiple_of(1000) {
        return format!("{ms}ms");
    }
    let s = ms / 1000;
    if s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// A size as a flag takes it: `8GiB`, `512MiB`.
fn size_flag(bytes: u64) -> String {
    Bytes(bytes).to_string().replace(' ', "")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn pipeline(grants: &str) -> Pipeline {
        let text = format!(
            "apiVersion: sealbox.io/v1\nkind: Pipeline\nsteps:\n  - name: big\n    stage: after-copy\n    \
             module: builtin:render\n    kind: transform\n    grants: {grants}\n"
        );
        super::super::pipeline_file::parse("sealbox.yaml", Path::new("."), &text).expect("valid pipeline")
    }

    #[test]
    fn a_grant_above_a_ceiling_names_the_step_its_line_the_ceiling_and_the_flag() {
        let ceilings = Ceilings::default();
        let err = ceilings.check_pipeline(&pipeline("{memoryMib: 65536}")).unwrap_err().to_string();
        assert_eq!(
            err,
            "sealbox.yaml:4: step big: grants.memoryMib 65536 (64 GiB) is above the operator's ceiling of 4 GiB; \
             --max-step-memory 64GiB raises it"
        );
        let err = ceilings.check_pipeline(&pipeline("{timeout: 2h}")).unwrap_err().to_string();
        assert!(err.starts_with("sealbox.yaml:4: step big: grants.timeout 2h is above"), "{err}");
        assert!(err.contains("ceiling of 10m; --max-step-timeout 2h raises it"), "{err}");
        // Both at once: every problem is reported.
        let err = ceilings.check_pipeline(&pipeline("{timeout: 2h, memoryMib: 8192}")).unwrap_err().to_string();
        assert_eq!(err.lines().count(), 2, "{err}");
    }

    #[test]
    fn a_grant_at_a_ceiling_passes_and_a_raised_ceiling_lets_more_through() {
        let ceilings = Ceilings::default();
        assert_eq!(ceilings.check_pipeline(&pipeline("{memoryMib: 4096, timeout: 10m}")), Ok(()));
        assert!(ceilings.check_pipeline(&pipeline("{memoryMib: 4097}")).is_err());
        let raised = Ceilings { step_memory: 64 << 30, step_timeout: Duration::from_secs(7200), ..Ceilings::default() };
        assert_eq!(raised.check_pipeline(&pipeline("{memoryMib: 65536, timeout: 2h}")), Ok(()));
    }

    #[test]
    fn every_env_value_needs_the_operators_consent() {
        let asks_all = pipeline("{env: {\"*\": \"\", TEAM: a}}");
        let err = Ceilings::default().check_pipeline(&asks_all).unwrap_err().to_string();
        assert!(err.contains("step big: grants.env `*`") && err.contains("--allow-module-env-all"), "{err}");
        let consented = Ceilings { module_env_all: true, ..Ceilings::default() };
        assert_eq!(consented.check_pipeline(&asks_all), Ok(()));
        assert_eq!(Ceilings::default().check_pipeline(&pipeline("{env: {TEAM: a}}")), Ok(()));
    }

    #[test]
    fn clipping_lowers_limits_to_the_ceilings_and_never_raises_them() {
        let low = Ceilings { step_memory: 256 * MIB, step_timeout: Duration::from_secs(5), ..Ceilings::default() };
        let clipped = low.clip(Limits::default());
        assert_eq!((clipped.memory, clipped.timeout), (256 * MIB, Duration::from_secs(5)));
        let high = Ceilings::default();
        assert_eq!(high.clip(Limits::default()), Limits::default());
    }

    #[test]
    fn a_deadline_clips_a_step_and_refuses_one_after_it() {
        let far = Deadline::after(Duration::from_secs(3600));
        let (limits, clipped) = far.clip("x", Limits::default()).expect("time left");
        assert_eq!((limits.timeout, clipped), (Limits::default().timeout, false));
        let near = Deadline::after(Duration::from_secs(5));
        let (limits, clipped) = near.clip("x", Limits::default()).expect("time left");
        assert!(clipped && limits.timeout <= Duration::from_secs(5), "{limits:?}");
        let passed = Deadline::after(Duration::from_millis(1));
        std::thread::sleep(Duration::from_millis(5));
        let err = passed.clip("render", Limits::default()).unwrap_err();
        assert!(err.starts_with("step render was not started: the build ran past its deadline of 1ms"), "{err}");
        assert!(err.contains("--build-timeout"), "{err}");
        assert_eq!(Deadline::after(Duration::MAX).budget(), Duration::MAX, "no overflow");
    }

    #[test]
    fn the_ratio_guard_allows_real_data_and_refuses_a_bomb() {
        let guard = AddRatio::default();
        // Below the threshold, any ratio is fine: a small file of zeros.
        assert_eq!(guard.check("zeros.tar.gz", 1024, 512 << 20), Ok(()));
        // Past it, up to 100:1 of the archive's size.
        assert_eq!(guard.check("big.tar.gz", 20 << 20, 2000 << 20), Ok(()));
        // 4 GiB from 4 MiB is 1024:1.
        let err = guard.check("bomb.tar.gz", 4 << 20, 4 << 30).unwrap_err().to_string();
        assert!(err.starts_with("ADD bomb.tar.gz: the archive unpacks to 4 GiB from 4 MiB, over 100:1"), "{err}");
        assert!(err.contains("--max-add-ratio") && err.contains("--add-ratio-threshold"), "{err}");
        let err = guard.exceeded("bomb.tar.gz", 4 << 20, None).to_string();
        assert!(err.contains("unpacks to more than 1 GiB"), "{err}");
        assert_eq!(guard.allowed(u64::MAX), u64::MAX, "no overflow");
        let off = AddRatio { max_ratio: 0, ..guard };
        assert_eq!(off.check("bomb.tar.gz", 4 << 20, 4 << 30), Ok(()));
    }

    #[test]
    fn durations_print_as_the_flags_take_them() {
        let d = |s| human_duration(Duration::from_secs(s));
        assert_eq!((d(3600).as_str(), d(600).as_str(), d(90).as_str()), ("1h", "10m", "90s"));
        assert_eq!(human_duration(Duration::from_millis(1500)), "1500ms");
    }
}
