//! One platform's build, phase by phase. [`Build::run`] reads top to
//! bottom like the README's "What a build does": plan, stage, then the
//! analysis (render, image search, policies, with the pipeline file's
//! stages around it) while the plan's layers are packed, then the last
//! layers, then the config and manifest. Each phase is a method in a file
//! of its own (`plan`, `stage`, `analyse`, `stages`, `pack`, `assemble`);
//! this file only orders them and owns what they share.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Result;
use cap_std::fs::Dir;

use super::cache::StepCache;
use super::options::BuildOptions;
use super::outcome::PlatformOutcome;
use super::precompile;
use super::report::{Progress, Reporter};
use super::stages::ModuleSource;
use super::verdicts::PolicyFinding;
use crate::kubefile::{Kubefile, Platform};
use crate::oci::{Descriptor, Store};
use crate::sandbox::Sandbox;

/// What one platform's build shares between its phases: the build's
/// inputs, its work directory, and its report.
pub(super) struct Build<'a> {
    pub inputs: BuildInputs<'a>,
    pub platform: &'a Platform,
    /// This platform's work directory (staged trees, step outputs).
    pub work: PathBuf,
    pub report: Reporter<'a>,
}

/// What one platform's build produced.
pub(super) struct PlatformBuild {
    pub outcome: PlatformOutcome,
    pub descriptor: Descriptor,
    pub steps: Vec<super::StepReport>,
    pub warnings: Vec<String>,
    pub notes: Vec<String>,
    /// Module path to digest, for `sealbox.lock`.
    pub modules: BTreeMap<String, String>,
    /// Container image reference to resolved digest, for `sealbox.lock`.
    pub images: BTreeMap<String, String>,
    pub verdicts: Vec<PolicyFinding>,
}

/// What the builds of one image's platforms share: its inputs, the store
/// and sandbox they build with, and the step cache.
#[derive(Clone, Copy)]
pub(super) struct BuildInputs<'a> {
    pub sandbox: &'a Sandbox,
    pub store: &'a Store,
    pub options: &'a BuildOptions,
    pub kubefile: &'a Kubefile,
    /// The build context.
    pub ctx: &'a Dir,
    pub cache: &'a StepCache,
}

impl<'a> Build<'a> {
    /// A build of `platform` with a work directory of its own under `work`.
    pub fn new(
        inputs: BuildInputs<'a>,
        platform: &'a Platform,
        work: &std::path::Path,
        progress: &'a mut Progress<'a>,
    ) -> Result<Self> {
        let work = tempfile::Builder::new().prefix("platform-").tempdir_in(work)?.keep();
        let report = Reporter::new(progress);
        Ok(Build { inputs, platform, work, report })
    }

    /// Runs every phase in order.
    pub fn run(self) -> Result<PlatformBuild> {
        // 1. plan: the Kubefile planned, the base image resolved.
        let planned = self.plan()?;
        let cancel = AtomicBool::new(false);
        let (modules, analysed, layers) = std::thread::scope(|scope| {
            // From here on, the pipeline file's modules compile on a
            // thread of their own, ready when their steps come.
            let source = self.inputs.options.pipeline.as_ref().map(|pipeline| ModuleSource {
                pipeline,
                lock: self.inputs.options.lock.as_ref(),
                store: self.inputs.store,
                registry: &self.inputs.options.registry,
            });
            let _precompiling = source.and_then(|source| precompile::start(scope, source, &planned.runner, &cancel));
            let phases = || -> Result<_> {
                // 2. stage: the context's listings, the analysis tree, the
                //    staged rootfs and the `RUN --module` transforms over it.
                let staged = self.stage(&planned)?;
                // 3. analyse: render, image search, policies and the pipeline
                //    file's stages, while the plan's layers are packed; then
                // 4. pack: the pipeline's transforms and the rendered files.
                let (analysed, layers) = self.analyse_while_packing(&planned, staged.trees, staged.layers)?;
                Ok((staged.modules, analysed, layers))
            };
            let result = phases();
            // A failed build does not wait for modules it will not run.
            cancel.store(true, Ordering::Relaxed);
            result
        })?;
        // 5. assemble: config and manifest.
        self.assemble(planned, modules, layers, analysed)
    }
}
