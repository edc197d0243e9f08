//! What a build produced, as `--format json` prints it: the image's
//! digest, each platform's manifest and layers, the step reports,
//! warnings, notes, module digests and policy findings. Only the shapes
//! live here; the phases fill them.

use std::collections::BTreeMap;

use super::report::StepReport;
use super::verdicts::PolicyFinding;
use crate::oci::Descriptor;

/// The manifest annotation listing the container images an image needs.
pub const ANNOTATION_CONTAINER_IMAGES: &str = "sealer.image.container.images";

/// What a build produced.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildOutcome {
    /// The digest of the image: its manifest, or its index when several
    /// platforms were built.
    pub digest: String,
    #[serde(skip)]
    pub descriptor: Descriptor,
    pub tags: Vec<String>,
    pub platforms: Vec<PlatformOutcome>,
    pub steps: Vec<StepReport>,
    pub warnings: Vec<String>,
    /// Informational findings (`--verbose`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The digest of every `RUN --module` module, by its Kubefile path.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub modules: BTreeMap<String, String>,
    /// The digest every container image of `registry/` resolved to, by
    /// its reference (for `sealbox.lock`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub images: BTreeMap<String, String>,
    /// Every policy finding (Kyverno and pipeline policy steps).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub verdicts: Vec<PolicyFinding>,
}

/// One platform's image.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlatformOutcome {
    pub platform: String,
    pub manifest: String,
    pub layers: Vec<LayerReport>,
    pub container_images: usize,
}

/// One layer of the result.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LayerReport {
    pub digest: String,
    pub diff_id: String,
    pub size: u64,
    pub media_type: String,
    pub created_by: String,
}
