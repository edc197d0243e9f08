//! Step modules as OCI artifacts: a manifest with one layer, the `.wasm`
//! bytes as they are (`application/vnd.wasm.content.layer.v1+wasm`), and the
//! module's `sealbox.module` metadata in an annotation, so a registry UI
//! or `skopeo inspect` shows what the module is.
//!
//! A pipeline names such a module `oci://REGISTRY/REPO:TAG@sha256:HEX`,
//! where the pin is the digest of the wasm bytes (the same pin a module in
//! the build context has). The layer's digest is that same digest, so the
//! module is fetched as a blob by its pin and checked before it is used;
//! the tag only says where to look.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};

use anyhow::{Context, Result, anyhow, bail};

use super::client::{Access, Client, Options, Payload};
use super::reference::Reference;
use crate::oci::spec::{self, Descriptor};
use crate::oci::{Digest, Store};
use crate::sandbox::ModuleBinary;

/// The media type of the wasm layer (the CNCF wasm OCI artifact layout).
pub const MEDIA_TYPE_WASM_LAYER: &str = "application/vnd.wasm.content.layer.v1+wasm";
/// The media type of the artifact's config.
pub const MEDIA_TYPE_WASM_CONFIG: &str = "application/vnd.wasm.config.v0+json";
/// The manifest annotation holding the module's metadata as JSON.
pub const ANNOTATION_MODULE: &str = "dev.sealbox.module";
/// The scheme that marks a module reference as a registry artifact.
pub const SCHEME: &str = "oci://";

/// What a module push did.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModulePush {
    /// The artifact's manifest digest.
    pub manifest: String,
    /// The wasm bytes' digest: the pin to use in `oci://REF@PIN`.
    pub module: String,
    /// `oci://REF@PIN`, ready to paste into a Kubefile.
    pub reference: String,
}

/// Publishes the module `bytes` at `dest` as a one-layer artifact.
pub fn push_module(bytes: Vec<u8>, file_name: &str, dest: &Reference, options: &Options) -> Result<ModulePush> {
    let binary = ModuleBinary::parse(bytes).context("not a module sealbox can run")?;
    let layer_digest = Digest::parse(&binary.digest)?;
    let mut layer = Descriptor::new(MEDIA_TYPE_WASM_LAYER, layer_digest.clone(), binary.bytes.len() as u64);
    layer.annotations.insert("org.opencontainers.image.title".into(), file_name.into());
    let os = match binary.kind {
        crate::sandbox::BinaryKind::Component => "wasip2",
        crate::sandbox::BinaryKind::Core => "wasip1",
    };
    let config = serde_json::json!({
        "architecture": "wasm",
        "os": os,
        "layerDigests": [binary.digest],
    });
    let config_bytes = serde_json::to_vec(&config)?;
    let config_desc = Descriptor::new(MEDIA_TYPE_WASM_CONFIG, Digest::of(&config_bytes), config_bytes.len() as u64);
    let mut annotations = BTreeMap::new();
    if let Some(meta) = &binary.metadata {
        annotations.insert(ANNOTATION_MODULE.to_string(), serde_json::to_string(meta)?);
    }
    let manifest = spec::Manifest {
        schema_version: 2,
        media_type: Some(spec::MEDIA_TYPE_MANIFEST.into()),
        config: config_desc.clone(),
        layers: vec![layer.clone()],
        annotations,
    };
    let manifest_bytes = spec::to_canonical_json(&manifest);
    let manifest_digest = Digest::of(&manifest_bytes);

    let client = Client::new(dest, options, Access::Push)?;
    client.ping()?;
    for (desc, bytes) in [(&config_desc, &config_bytes), (&layer, &binary.bytes)] {
        if !client.blob_exists(&desc.digest)? {
            client.upload_blob(desc, &Payload::Bytes(bytes), None)?;
        }
    }
    let reported = client.put_manifest(&dest.manifest_ref(), spec::MEDIA_TYPE_MANIFEST, &manifest_bytes)?;
    if let Some(d) = reported
        && d != manifest_digest.to_string()
    {
        bail!("{dest} reports manifest digest {d} after the push, not {manifest_digest}");
    }
    let mut plain = dest.clone();
    plain.digest = None;
    Ok(ModulePush {
        manifest: manifest_digest.to_string(),
        module: binary.digest.clone(),
        reference: format!("{SCHEME}{plain}@{}", binary.digest),
    })
}

/// Fetches the module `reference` (`REGISTRY/REPO[:TAG]`, with or without
/// `oci://`) pinned to `digest` (`sha256:HEX` of the wasm bytes), from the
/// local `store` when it has those bytes, else from the registry (and then
/// keeps them in `store`). The bytes returned always hash to `digest`.
pub fn fetch_module(reference: &str, digest: &str, options: &Options, store: Option<&Store>) -> Result<Vec<u8>> {
    let pin = Digest::parse(digest).with_context(|| format!("module pin {digest:?}"))?;
    let reference = reference.strip_prefix(SCHEME).unwrap_or(reference);
    let parsed = Reference::parse(reference)?;
    if let Some(store) = store
        && store.layout().has_blob(&pin)
        && let Ok(bytes) = read_verified(store, &pin)
    {
        return Ok(bytes);
    }
    let client = Client::new(&parsed, options, Access::Pull)?;
    client.ping()?;
    if !client.blob_exists(&pin)? {
        // Say what the tag holds now, the likely cause of a stale pin.
        let now = artifact_layer(&client, &parsed.manifest_ref()).ok();
        return Err(match now {
            Some(d) => anyhow!(
                "{parsed} holds module {} now; no module {pin} is in {}: update the pin or push that module",
                d.digest,
                parsed.repository
            ),
            None => anyhow!("no module {pin} in {}/{}", parsed.registry, parsed.repository),
        });
    }
    let mut bytes = Vec::new();
    client
        .get_blob(&pin)?
        .take(crate::oci::layout::MAX_JSON_BLOB * 4)
        .read_to_end(&mut bytes)
        .with_context(|| format!("downloading module {pin} from {parsed}"))?;
    let actual = Digest::of(&bytes);
    if actual != pin {
        bail!("{parsed} sent module bytes hashing to {actual}, not the pinned {pin}: refusing them");
    }
    if let Some(store) = store {
        // Not `put_blob`: it keeps a blob already present, and the copy
        // present may be the damaged one `read_verified` refused above.
        let mut writer = store.blob_writer()?;
        writer.write_all(&bytes).with_context(|| format!("keeping module {pin} in the store"))?;
        writer.commit_expecting(&pin)?;
    }
    Ok(bytes)
}

fn read_verified(store: &Store, pin: &Digest) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let path = store.layout().blob_path(pin);
    std::fs::File::open(&path)?.read_to_end(&mut bytes)?;
    if Digest::of(&bytes) != *pin {
        bail!("{} is damaged", path.display());
    }
    Ok(bytes)
}

/// The wasm layer of the artifact `reference` points at.
fn artifact_layer(client: &Client, reference: &str) -> Result<Descriptor> {
    let (raw, _) = client.get_manifest(reference)?;
    let m: spec::Manifest = serde_json::from_slice(&raw)?;
    m.layers
        .into_iter()
        .find(|l| l.media_type == MEDIA_TYPE_WASM_LAYER)
        .ok_or_else(|| anyhow!("{reference} is not a wasm artifact"))
}

#[cfg(test)]
#[path = "module_tests.rs"]
mod tests;
