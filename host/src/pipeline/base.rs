//! The base image a FROM names: its metadata for the planner, its layers and
//! history for the new image, and its analysable files for the analysis tree.

use std::path::{Component, Path};

use anyhow::{Context, Result, bail};

use super::staging::AnalysisTree;
use crate::kubefile::{self, BaseImage, BaseRef, ImageExtension, Platform};
use crate::oci::layout::Layout;
use crate::oci::spec::{self, ImageConfig};
use crate::oci::{Descriptor, Manifest, Store};
use crate::registry::{Options as RegistryOptions, Reference};

/// A resolved base image, already in the store.
#[derive(Debug, Clone)]
pub struct Base {
    /// What the planner needs.
    pub info: BaseImage,
    pub manifest: Manifest,
    pub config: ImageConfig,
}

/// Finds the base image for `platform`, importing an `oci:DIR` base into
/// the store first (verifying every blob's digest as it copies), and
/// pulling a `REGISTRY/REPO[:TAG][@DIGEST]` base the store lacks.
pub fn resolve(store: &Store, base: &BaseRef, platform: &Platform, registry: &RegistryOptions) -> Result<Base> {
    let desc = match base {
        BaseRef::Scratch => bail!("scratch has no base image"),
        BaseRef::Store(name) if Reference::is_remote(name) => remote(store, name, registry)?,
        BaseRef::Store(name) => store
            .resolve(name)
            .with_context(|| format!("base image {name} is not in the local store (see `sealbox images`)"))?,
        BaseRef::OciLayout { path, reference } => {
            let layout = Layout::open(Path::new(path)).with_context(|| format!("opening OCI layout {path}"))?;
            let desc = layout.resolve(reference.as_deref().unwrap_or("")).with_context(|| format!("in {path}"))?;
            store.import(&layout, &desc).with_context(|| format!("importing the base image from {path}"))?;
            desc
        }
    };
    let oci_platform = spec::Platform::new(&platform.os, &platform.architecture, platform.variant.as_deref());
    let layout = store.layout();
    let (_, manifest) = layout.manifest_for(&desc, Some(&oci_platform))?;
    let config: ImageConfig = layout.read_json(&manifest.config)?;
    let applications = match manifest.annotations.get(kubefile::ANNOTATION) {
        Some(json) => {
            serde_json::from_str::<ImageExtension>(json)
                .context("the base image's sealer.image.extension annotation is not valid")?
                .applications
        }
        None => vec![],
    };
    let cc = config.config.clone().unwrap_or_default();
    let info = BaseImage {
        env: cc.env,
        labels: cc.labels,
        author: config.author.clone(),
        applications,
        directories: Default::default(),
    };
    Ok(Base { info, manifest, config })
}

/// The base image `name` in a registry: from the store when it holds that
/// name (or, pinned, that digest), else pulled into it. A tag once pulled
/// is not looked up again, so builds work offline and stay reproducible;
/// `sealbox pull` refreshes it.
fn remote(store: &Store, name: &str, registry: &RegistryOptions) -> Result<Descriptor> {
    let reference = Reference::parse(name).with_context(|| format!("FROM {name}"))?;
    if let Ok(desc) = store.resolve(name)
        && reference.digest.as_ref().is_none_or(|d| *d == desc.digest)
    {
        return Ok(desc);
    }
    let (desc, _) =
        crate::registry::pull(store, &reference, registry).with_context(|| format!("pulling the base image {name}"))?;
    Ok(desc)
}

/// Unpacks the base layers' analysable files into the analysis tree, in
/// layer order, honouring whiteouts.
pub fn stage_into(store: &Store, base: &Base, analysis: &AnalysisTree) -> Result<()> {
    for layer in &base.manifest.layers {
        stage_layer(store.layout(), layer, analysis).with_context(|| format!("reading base layer {}", layer.digest))?;
    }
    Ok(())
}

fn stage_layer(layout: &Layout, layer: &Descriptor, analysis: &AnalysisTree) -> Result<()> {
    let reader = crate::oci::layer::open_uncompressed(layout, layer)?;
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let raw = entry.path()?.into_owned();
        // Only plain relative paths; anything else in a layer is skipped,
        // never interpreted.
        let parts: Vec<&str> = raw
            .components()
            .filter(|c| !matches!(c, Component::CurDir | Component::RootDir))
            .map(|c| match c {
                Component::Normal(s) => s.to_str(),
                _ => None,
            })
            .collect::<Option<_>>()
            .unwrap_or_default();
        let Some((name, dirs)) = parts.split_last() else { continue };
        let path = parts.join("/");
        if let Some(hidden) = name.strip_prefix(".wh.") {
            if hidden == ".wh..opq" {
                // An opaque directory hides what the layers below put in it.
                if !dirs.is_empty() {
                    analysis.remove(&dirs.join("/"))?;
                }
            } else {
                let mut victim = dirs.to_vec();
                victim.push(hidden);
                analysis.remove(&victim.join("/"))?;
            }
            continue;
        }
        if entry.header().entry_type().is_symlink()
            && let Some(target) = entry.link_name()?
        {
            analysis.symlink(&path, &target.to_string_lossy())?;
            continue;
        }
        if entry.header().entry_type().is_file() && analysis.wants(&path) {
            let mode = entry.header().mode()?;
            analysis.write(&path, &mut entry, mode)?;
        }
    }
    Ok(())
}
