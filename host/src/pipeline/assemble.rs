//! Phase 5, assembly: the image config (its rootfs diff IDs and history,
//! base image first) and the manifest with its annotations, written to the
//! store, and this platform's outcome. Nothing runs in the sandbox here;
//! an index over several platforms is the caller's.

use std::collections::BTreeMap;

use anyhow::{Context, Result};

use super::analyse::Analysed;
use super::build::{Build, PlatformBuild};
use super::outcome::{ANNOTATION_CONTAINER_IMAGES, LayerReport, PlatformOutcome};
use super::pack::Layers;
use super::plan::Planned;
use crate::kubefile;
use crate::oci::spec::{self, ContainerConfig, ImageConfig, RootFs};
use crate::oci::{Descriptor, Digest, Manifest};

impl Build<'_> {
    /// Writes the config and manifest of this platform's image.
    pub(super) fn assemble(
        self,
        planned: Planned,
        mut modules: BTreeMap<String, String>,
        layers: Layers,
        analysed: Analysed,
    ) -> Result<PlatformBuild> {
        let (options, platform, plan) = (self.inputs.options, self.platform, &planned.plan);
        let mut all_layers: Vec<Descriptor> = Vec::new();
        let mut diff_ids: Vec<Digest> = Vec::new();
        let mut history = Vec::new();
        if let Some(base) = &planned.base {
            all_layers.extend(base.manifest.layers.iter().cloned());
            diff_ids.extend(base.config.rootfs.diff_ids.iter().cloned());
            history.extend(base.config.history.iter().cloned());
        }
        history.extend(layers.history);
        let mut layer_reports = Vec::new();
        for (desc, created_by) in &layers.layers {
            all_layers.push(desc.descriptor());
            diff_ids.push(desc.diff_id.clone());
            layer_reports.push(LayerReport {
                digest: desc.digest.to_string(),
                diff_id: desc.diff_id.to_string(),
                size: desc.size,
                media_type: desc.media_type.to_string(),
                created_by: created_by.clone(),
            });
        }
        let config = ImageConfig {
            created: Some(spec::rfc3339(options.source_date_epoch)),
            author: plan.config.author.clone(),
            architecture: platform.architecture.clone(),
            os: platform.os.clone(),
            variant: platform.variant.clone(),
            config: Some(ContainerConfig {
                env: plan.config.env.clone(),
                labels: planned.labels,
                ..ContainerConfig::default()
            }),
            rootfs: RootFs { kind: "layers".into(), diff_ids },
            history,
        };
        let config_desc = self.inputs.store.put_json(spec::MEDIA_TYPE_CONFIG, &config)?;
        let mut manifest = Manifest::new(config_desc, all_layers);
        manifest.annotations.insert(kubefile::ANNOTATION.to_string(), plan.extension.to_json());
        if analysed.image_count > 0 {
            let images = kubefile::container_images_json(&analysed.images).context("the imagelist step's images")?;
            manifest.annotations.insert(ANNOTATION_CONTAINER_IMAGES.to_string(), images);
        }
        if let Some(summary) = &layers.offline.summary {
            let summary = kubefile::to_go_json(summary);
            manifest.annotations.insert(super::ANNOTATION_OFFLINE_IMAGES.to_string(), summary);
        }
        if !layers.offline.missing.is_empty() {
            let missing = kubefile::to_go_json(&layers.offline.missing);
            manifest.annotations.insert(super::ANNOTATION_MISSING_IMAGES.to_string(), missing);
        }
        manifest.annotations.extend(options.annotations.clone());
        let mut descriptor = self.inputs.store.put_json(spec::MEDIA_TYPE_MANIFEST, &manifest)?;
        descriptor.platform =
            Some(spec::Platform::new(&platform.os, &platform.architecture, platform.variant.as_deref()));
        // The pipeline file's warnings come after the image's own.
        let piped = analysed.piped;
        self.report.warn(piped.warnings);
        modules.extend(piped.modules);
        let reported = self.report.finish();
        Ok(PlatformBuild {
            outcome: PlatformOutcome {
                platform: platform.to_string(),
                manifest: descriptor.digest.to_string(),
                layers: layer_reports,
                container_images: analysed.image_count,
            },
            descriptor,
            steps: reported.steps,
            warnings: reported.warnings,
            notes: reported.notes,
            modules,
            images: layers.offline.pins,
            verdicts: piped.verdicts,
        })
    }
}
