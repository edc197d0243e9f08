//! What a build tells its operator, in one place: a line per step as it
//! ends (with how long it took or that it came from the cache), the step
//! reports, warnings and notes the outcome carries, human sizes, and the
//! progress bar of a long pack step (`bar`). The phases call it; nothing
//! here decides anything about the build.

pub mod bar;

use std::cell::RefCell;
use std::time::{Duration, Instant};

/// A sink for progress lines (one per step).
pub type Progress<'a> = dyn FnMut(&str) + 'a;

/// What one step did, for the build report.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepReport {
    pub name: String,
    pub module: String,
    #[serde(serialize_with = "seconds")]
    pub duration: Duration,
    pub cached: bool,
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
}

/// One platform's report as its build runs: prints each step's line as it
/// ends and keeps its report, warnings and notes. Shared by reference
/// between the phases (they run one at a time on the build's thread).
pub struct Reporter<'p> {
    progress: RefCell<&'p mut Progress<'p>>,
    steps: RefCell<Vec<StepReport>>,
    /// The pipeline file's steps, listed after the image's own steps.
    pipeline_steps: RefCell<Vec<StepReport>>,
    warnings: RefCell<Vec<String>>,
    notes: RefCell<Vec<String>>,
}

/// What a [`Reporter`] kept, in the order the outcome lists it.
pub struct Reported {
    pub steps: Vec<StepReport>,
    pub warnings: Vec<String>,
    pub notes: Vec<String>,
}

impl<'p> Reporter<'p> {
    /// A report that prints its lines to `progress`.
    pub fn new(progress: &'p mut Progress<'p>) -> Self {
        Reporter {
            progress: RefCell::new(progress),
            steps: RefCell::default(),
            pipeline_steps: RefCell::default(),
            warnings: RefCell::default(),
            notes: RefCell::default(),
        }
    }

    /// Prints the line of a step that started at `started` and keeps its report.
    pub fn step(&self, name: &str, module: &str, started: Instant, cached: bool, what: &str) {
        self.step_took(name, module, started.elapsed(), cached, what);
    }

    /// Prints the line of a step that took `duration` and keeps its report.
    pub fn step_took(&self, name: &str, module: &str, duration: Duration, cached: bool, what: &str) {
        let report = self.line(name, module, duration, cached, what);
        self.steps.borrow_mut().push(report);
    }

    /// Prints the line of a pipeline file step and keeps its report, which
    /// the outcome lists after the image's own steps.
    pub fn pipeline_step(&self, name: &str, module: &str, duration: Duration, cached: bool, what: &str) {
        let report = self.line(name, module, duration, cached, what);
        self.pipeline_steps.borrow_mut().push(report);
    }

    /// Keeps warnings for the outcome.
    pub fn warn(&self, warnings: impl IntoIterator<Item = String>) {
        self.warnings.borrow_mut().extend(warnings);
    }

    /// Keeps notes (`--verbose`) for the outcome.
    pub fn note(&self, notes: impl IntoIterator<Item = String>) {
        self.notes.borrow_mut().extend(notes);
    }

    /// Everything kept, the pipeline file's step reports last.
    pub fn finish(self) -> Reported {
        let mut steps = self.steps.into_inner();
        steps.extend(self.pipeline_steps.into_inner());
        Reported { steps, warnings: self.warnings.into_inner(), notes: self.notes.into_inner() }
    }

    fn line(&self, name: &str, module: &str, duration: Duration, cached: bool, what: &str) -> StepReport {
        let how = if cached { "cached".to_string() } else { format!("{:.2}s", duration.as_secs_f64()) };
        (self.progress.borrow_mut())(&format!("{name:<28} {module:<10} {how:>8}  {what}"));
        StepReport { name: name.to_string(), module: module.to_string(), duration, cached }
    }
}

/// `12.3 MiB`.
pub fn human_size(bytes: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < units.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 { format!("{bytes} B") } else { format!("{v:.1} {}", units[i]) }
}
