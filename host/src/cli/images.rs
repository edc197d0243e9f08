//! `sealbox images|inspect|save|rmi|fsck`: the local store.

use anyhow::{Context, Result};
use clap::Args;

use super::{Failed, StoreArgs, UsageError};
use crate::kubefile;
use crate::oci::export::{ExportTarget, export};
use crate::oci::spec::{self, ImageConfig};
use crate::pipeline::ANNOTATION_CONTAINER_IMAGES;

#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    common: StoreArgs,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The image name (or `sha256:` digest).
    name: String,
    /// For a multi-platform image, which platform to show.
    #[arg(long, default_value = "linux/amd64")]
    platform: String,
    #[command(flatten)]
    common: StoreArgs,
}

#[derive(Debug, Args)]
pub struct SaveArgs {
    /// The image name.
    name: String,
    /// The file to write (an oci-archive), or `oci:DIR`, `oci-archive:FILE`,
    /// `docker-archive:FILE`.
    #[arg(short = 'o', long = "output")]
    output: String,
    #[command(flatten)]
    common: StoreArgs,
}

#[derive(Debug, Args)]
pub struct RmiArgs {
    /// Image names to remove.
    #[arg(required = true)]
    names: Vec<String>,
    #[command(flatten)]
    common: StoreArgs,
}

#[derive(Debug, Args)]
pub struct FsckArgs {
    /// Remove blobs that are corrupt (they are fetched or built again later).
    #[arg(long)]
    repair: bool,
    #[command(flatten)]
    common: StoreArgs,
}

pub fn images(args: ImagesArgs) -> Result<()> {
    let store = args.common.open_store()?;
    let images = store.images()?;
    if args.json {
        let list: Vec<_> = images
            .iter()
            .map(|(name, d)| serde_json::json!({"name": name, "digest": d.digest.to_string(), "mediaType": d.media_type, "size": d.size}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    println!("{:<48} {:<20} TYPE", "NAME", "DIGEST");
    for (name, d) in images {
        let kind = if spec::is_index(&d.media_type) { "index" } else { "image" };
        let short: String = d.digest.to_string().chars().take(19).collect();
        println!("{name:<48} {short:<20} {kind}");
    }
    Ok(())
}

pub fn inspect(args: InspectArgs) -> Result<()> {
    let store = args.common.open_store()?;
    let desc = store.resolve(&args.name).map_err(|e| UsageError(format!("{}: {e}", args.name)))?;
    let platform = kubefile::parse_platform(&args.platform).map_err(|e| UsageError(format!("--platform {e}")))?;
    let oci_platform = spec::Platform::new(&platform.os, &platform.architecture, platform.variant.as_deref());
    let (mdesc, manifest) = store.layout().manifest_for(&desc, Some(&oci_platform))?;
    let config: ImageConfig = store.layout().read_json(&manifest.config)?;
    let extension = manifest
        .annotations
        .get(kubefile::ANNOTATION)
        .map(|j| serde_json::from_str::<serde_json::Value>(j))
        .transpose()
        .context("the sealer.image.extension annotation is not valid JSON")?;
    let Some(mut extension) = extension else {
        return Err(Failed {
            message: format!("{} is not a sealer image (no {} annotation)", args.name, kubefile::ANNOTATION),
            printed: false,
        }
        .into());
    };
    // As sealer's inspect does, show the image's labels in the extension, the CNI and CSI ones
    // folded into lists.
    if let (Some(obj), Some(labels)) = (extension.as_object_mut(), config.config.as_ref().map(|c| &c.labels))
        && !labels.is_empty()
    {
        obj.insert("labels".into(), serde_json::to_value(kubefile::inspect_labels(labels))?);
    }
    let images = manifest
        .annotations
        .get(ANNOTATION_CONTAINER_IMAGES)
        .map(|j| serde_json::from_str::<serde_json::Value>(j))
        .transpose()
        .context("the sealer.image.container.images annotation is not valid JSON")?;
    // What the `registry/` layer holds (`--build-mode all`), and what
    // the build left out.
    let offline = match manifest.annotations.get(crate::pipeline::ANNOTATION_OFFLINE_IMAGES) {
        Some(j) => Some(
            serde_json::from_str::<crate::pipeline::OfflineSummary>(j)
                .context("the io.sealbox.image.offline-images annotation is not valid")?,
        ),
        None => None,
    };
    let missing = manifest
        .annotations
        .get(crate::pipeline::ANNOTATION_MISSING_IMAGES)
        .map(|j| serde_json::from_str::<Vec<String>>(j))
        .transpose()
        .context("the io.sealbox.image.missing-images annotation is not valid")?
        .unwrap_or_default();
    let offline_images = serde_json::json!({
        "images": offline.as_ref().map(|o| o.images.clone()).unwrap_or_default(),
        "size": offline.as_ref().map_or(0, |o| o.size),
        "humanSize": crate::pipeline::human_size(offline.as_ref().map_or(0, |o| o.size)),
        "layer": offline.as_ref().map(|o| o.layer.clone()),
        "missing": missing,
    });
    let out = serde_json::json!({
        "id": manifest.config.digest.to_string(),
        "name": args.name,
        "digest": mdesc.digest.to_string(),
        "manifestv1": manifest,
        "ociv1": config,
        "imageExtension": extension,
        "containerImageList": images.unwrap_or(serde_json::Value::Array(vec![])),
        "offlineImages": offline_images,
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

pub fn save(args: SaveArgs) -> Result<()> {
    let store = args.common.open_store()?;
    let desc = store.resolve(&args.name).map_err(|e| UsageError(format!("{}: {e}", args.name)))?;
    let target = if args.output.contains(':') {
        args.output.parse::<ExportTarget>().map_err(|e| UsageError(format!("-o {}: {e}", args.output)))?
    } else {
        ExportTarget::OciArchive(args.output.clone().into())
    };
    export(&store, &desc, Some(&args.name), None, &target)?;
    Ok(())
}

pub fn rmi(args: RmiArgs) -> Result<()> {
    let store = args.common.open_store()?;
    for name in &args.names {
        let removed = store.remove(name).map_err(|e| UsageError(format!("{name}: {e}")))?;
        println!("removed {name} ({})", removed.digest);
    }
    // Blobs that neither an image nor the step cache uses go now, unless
    // another sealbox has the store open (a build may be writing blobs it
    // has not named yet).
    let keep = crate::pipeline::cached_blobs(store.root());
    match store.try_gc(&keep)? {
        Some(report) => {
            eprintln!("freed {} blobs, {}", report.removed.len(), crate::pipeline::human_size(report.bytes))
        }
        None => eprintln!("the store is in use; unused blobs stay until the next rmi"),
    }
    Ok(())
}

pub fn fsck(args: FsckArgs) -> Result<()> {
    let store = args.common.open_store()?;
    let report = store.fsck(args.repair)?;
    for issue in &report.issues {
        println!("{issue}");
    }
    if report.is_ok() {
        println!("store {} is consistent", store.root().display());
        Ok(())
    } else {
        Err(Failed {
            message: format!("{} problems in {}", report.issues.len(), store.root().display()),
            printed: false,
        }
        .into())
    }
}
