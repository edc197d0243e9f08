//! The offline-images layer (`--build-mode all`, the default, as sealer's):
//! every container image of the final image list, for the platform being
//! built, fetched by the host (`registry::offline`) and written under
//! `registry/` as a registry's filesystem storage
//! (`oci::distribution_layout`), the directory basefs's `init-registry.sh`
//! serves at deploy time. No module runs here: fetching is network I/O
//! and the layer holds only bytes checked against their digests.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{Result, bail};

use super::build::Build;
use super::cache::{CachedLayer, KeyBuilder};
use super::options::BuildMode;
use super::report::human_size;
use crate::kubefile::ContainerImage;
use crate::oci::distribution_layout::{self, RepositoryImage};
use crate::oci::{LayerDescriptor, spec};
use crate::registry::offline::{self, Wanted};

/// The directory of the rootfs sealer's registry serves.
pub const REGISTRY_DIR: &str = "registry";

/// The annotation listing the images of the image list left out of the
/// `registry/` layer (`--ignore-missing-images`), as a JSON array.
pub const ANNOTATION_MISSING_IMAGES: &str = "io.sealbox.image.missing-images";

/// The annotation saying what the `registry/` layer holds: the layer's
/// digest, the bytes of its distinct blobs, and each image with the digest
/// it is stored by (JSON; `sealbox inspect` shows it).
pub const ANNOTATION_OFFLINE_IMAGES: &str = "io.sealbox.image.offline-images";

/// The value of [`ANNOTATION_OFFLINE_IMAGES`].
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct OfflineSummary {
    /// The `registry/` layer.
    pub layer: String,
    /// Bytes of the distinct manifests and blobs inside.
    pub size: u64,
    pub images: Vec<OfflineImage>,
}

/// One image of an [`OfflineSummary`].
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct OfflineImage {
    /// The reference as the image list has it.
    pub image: String,
    /// The image manifest of the built platform it carries (the reference
    /// may name an index holding it).
    pub digest: String,
}

/// What the offline-images step gave the image.
#[derive(Debug, Default)]
pub(super) struct OfflineImages {
    /// The layer and its history line, when any image is inside.
    pub layer: Option<(LayerDescriptor, String)>,
    /// Listed reference to what it resolved to, for `sealbox.lock`.
    pub pins: BTreeMap<String, String>,
    /// Images left out (`--ignore-missing-images`).
    pub missing: Vec<String>,
    /// What the layer holds, for the annotation.
    pub summary: Option<OfflineSummary>,
}

impl Build<'_> {
    /// Fetches the images of `images` (the image list, as the annotation
    /// has it) and writes the `registry/` layer.
    pub(super) fn offline_images(&self, images: &serde_json::Value) -> Result<OfflineImages> {
        let options = self.inputs.options;
        if options.build_mode == BuildMode::Lite {
            return Ok(OfflineImages::default());
        }
        let listed: Vec<ContainerImage> = serde_json::from_value(images.clone())?;
        if listed.is_empty() {
            return Ok(OfflineImages::default());
        }
        let started = Instant::now();
        let wanted: Vec<Wanted> =
            listed.iter().map(|i| Wanted { image: i.image.clone(), app: i.app_name.clone() }).collect();
        let pins = options.lock.as_ref().map(|l| l.images.clone()).unwrap_or_default();
        let platform =
            spec::Platform::new(&self.platform.os, &self.platform.architecture, self.platform.variant.as_deref());
        let request = offline::Request {
            store: self.inputs.store,
            images: &wanted,
            platform: &platform,
            pins: &pins,
            options: &options.registry,
            mirrors: &options.registry_mirrors,
            refresh: options.no_cache,
            progress: None,
        };
        // Blobs arrive on several connections at once: the bar shows the
        // bytes of those done, against all that must come.
        let bar = super::report::bar::Bar::new("fetching images".into(), 0, options.progress_bar);
        let show = |done: u64, total: u64| bar.set(done, total);
        let request = offline::Request { progress: Some(&show), ..request };
        let fetched = offline::fetch(&request)?;
        drop(bar);
        let mut missing = Vec::new();
        if !fetched.missing.is_empty() {
            let lines: Vec<String> = fetched.missing.iter().map(ToString::to_string).collect();
            if !options.ignore_missing_images {
                bail!(
                    "{} of {} container images cannot be fetched for {}:\n  {}\n(--ignore-missing-images leaves \
                     them out with a warning; --build-mode lite carries the image list only)",
                    lines.len(),
                    wanted.len(),
                    self.platform,
                    lines.join("\n  ")
                );
            }
            self.report.warn(lines.iter().map(|l| format!("left out of {REGISTRY_DIR}/: {l}")).collect::<Vec<_>>());
            missing = fetched.missing.iter().map(|m| m.image.clone()).collect();
        }
        let pins = fetched.images.iter().map(|f| (f.image.clone(), f.resolved.to_string())).collect();
        let stored: Vec<RepositoryImage> = fetched.images.iter().map(|f| f.stored.clone()).collect();
        let fetched_what = format!(
            "{} images, {} fetched ({}), {} blobs from the store",
            stored.len(),
            fetched.requests,
            human_size(fetched.bytes),
            fetched.reused
        );
        self.report.step("fetch images", "host", started, fetched.requests == 0, &fetched_what);
        if stored.is_empty() {
            return Ok(OfflineImages { layer: None, pins, missing, summary: None });
        }
        let started = Instant::now();
        let sde = options.source_date_epoch;
        let key = distribution_layout::layer_key(REGISTRY_DIR, &stored, sde)?;
        let key = KeyBuilder::new("offline-images").part(key.to_string()).finish();
        let cached = self
            .inputs
            .cache
            .get::<CachedLayer>(&key)
            .and_then(|c| c.descriptor())
            .filter(|d| self.inputs.store.layout().has_blob(&d.digest));
        let (desc, hit) = match cached {
            Some(desc) => (desc, true),
            None => {
                let desc = distribution_layout::write_layer(self.inputs.store, REGISTRY_DIR, &stored, sde)?;
                if !options.no_cache {
                    self.inputs.cache.put(&key, &CachedLayer::from(&desc))?;
                }
                (desc, false)
            }
        };
        self.report.step(&format!("{REGISTRY_DIR}/"), "host", started, hit, &human_size(desc.size));
        let created_by = format!("sealbox: {} container images in {REGISTRY_DIR}/", stored.len());
        let mut distinct = BTreeMap::new();
        for d in stored.iter().flat_map(|s| s.manifests.iter().chain(&s.blobs)) {
            distinct.insert(d.digest.clone(), d.size);
        }
        let summary = OfflineSummary {
            layer: desc.digest.to_string(),
            size: distinct.values().sum(),
            images: fetched
                .images
                .iter()
                .filter_map(|f| {
                    let image = f.stored.manifests.last()?;
                    Some(OfflineImage { image: f.image.clone(), digest: image.digest.to_string() })
                })
                .collect(),
        };
        Ok(OfflineImages { layer: Some((desc, created_by)), pins, missing, summary: Some(summary) })
    }
}
