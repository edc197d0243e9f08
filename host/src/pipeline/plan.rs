//! Phase 1, the plan: the Kubefile planned for one platform, with its base
//! image resolved (from the store or a registry), and the step runner that
//! carries the image's facts to every module. Nothing is staged or run here.

use std::collections::BTreeMap;

use anyhow::Result;
use sealbox_guest::ImageInfo;

use super::base::{self, Base};
use super::build::Build;
use super::steps::ModuleRunner;
use crate::kubefile::{self, BaseRef, Plan, PlanOptions};

/// What planning gave the later phases.
pub(super) struct Planned {
    pub plan: Plan,
    /// The `FROM` image, unless it is `scratch`.
    pub base: Option<Base>,
    /// Runs this platform's modules; every request carries the image facts.
    pub runner: ModuleRunner,
    /// The image's labels: the Kubefile's, then `--label`.
    pub labels: BTreeMap<String, String>,
}

impl Build<'_> {
    /// Plans the Kubefile for this platform, resolving its base image.
    pub(super) fn plan(&self) -> Result<Planned> {
        let options = self.inputs.options;
        let mut plan_options = PlanOptions::new(self.platform.clone());
        plan_options.build_args = options.build_args.clone();
        plan_options.image_type = options.image_type;
        let mut base_image = None;
        let plan: Plan = {
            let mut resolve = |base: &BaseRef, _platform_flag: Option<&str>| -> std::result::Result<_, String> {
                let b = base::resolve(self.inputs.store, base, self.platform, &options.registry)
                    .map_err(|e| format!("{e:#}"))?;
                let info = b.info.clone();
                base_image = Some(b);
                Ok(info)
            };
            let name = options.kubefile.display().to_string();
            kubefile::plan(&name, self.inputs.kubefile, self.inputs.ctx, &plan_options, &mut resolve)?
        };
        self.report.warn(plan.warnings.clone());
        let image_env: BTreeMap<String, String> = plan
            .config
            .env
            .iter()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut labels = plan.config.labels.clone();
        labels.extend(options.labels.clone());
        let image = ImageInfo {
            platform: self.platform.clone(),
            source_date_epoch: options.source_date_epoch,
            env: image_env,
            labels: labels.clone(),
        };
        let runner = ModuleRunner::new(self.inputs.sandbox.clone(), image).with_deadline(options.ceilings.deadline);
        Ok(Planned { plan, base: base_image, runner, labels })
    }
}
