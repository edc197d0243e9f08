//! `RUN --module=PATH[@sha256:HEX] ARGS...`: a third-party transform module
//! run over the image rootfs built so far, its `/out` a layer of its own.
//!
//! The module is read from the build context (never from outside it),
//! checked against its pin, its kind and the step's grant before it runs,
//! and sees a private staged copy of the rootfs, never the context itself.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use crate::tree::{Existing, TreeWriter};

use anyhow::{Context, Result, anyhow, bail};
use cap_std::fs::Dir;
use sealbox_guest::{FileEntry, FileKind, ModuleKind};

use super::cache::StepCache;
use super::cache::{CachedLayer, CachedTransform, tree_key};
use super::grants::{self, Grant};
use super::listing::LayerEntry;
use super::lock::Lock;
use super::staging::StagedTree;
use super::steps::{ModuleRunner, RunRequest};
use crate::kubefile::ModuleStep;
use crate::oci::{LayerDescriptor, Store};
use crate::sandbox::ModuleBinary;

/// What a transform module left in its `/out`: the files of its layer.
pub struct TransformOutput {
    /// The module's name (from its metadata).
    pub module: String,
    /// The `/out` directory the layer is packed from.
    pub dir: PathBuf,
    /// The layer listing: the checked output, with modes the host chose.
    pub listing: Vec<LayerEntry>,
    /// Whether the output came from the step cache instead of a run.
    pub cached: bool,
    /// The cache key to remember the packed output under, after a run.
    pub cache_key: Option<String>,
}

/// Where transform modules run: one build's steps, its staged rootfs and
/// work directory, the grant, and the step cache (`None` with `--no-cache`).
pub struct Runner<'a> {
    pub steps: &'a ModuleRunner,
    pub rootfs: &'a StagedTree,
    pub work: &'a Path,
    pub grant: &'a Grant,
    pub store: &'a Store,
    pub cache: Option<&'a StepCache>,
}

/// Reads the module of `step` from the build context and checks that it is
/// the pinned one, the locked one when there is a `lock`, and a transform.
/// `at` is `Kubefile:line`, for messages.
/// A module named `oci://REGISTRY/REPO[:TAG]@sha256:HEX` is fetched from
/// the registry (or the store, once fetched) and must carry its pin.
pub fn load(
    ctx: &Dir,
    step: &ModuleStep,
    lock: Option<&Lock>,
    at: &str,
    store: &Store,
    registry: &crate::registry::Options,
) -> Result<ModuleBinary> {
    let path = step.module.as_str();
    let bytes = if path.starts_with(crate::registry::module::SCHEME) {
        let Some(pin) = &step.digest else {
            bail!("{at}: module {path}: a module from a registry must be pinned: {path}@sha256:HEX");
        };
        crate::registry::module::fetch_module(path, pin, registry, Some(store))
            .with_context(|| format!("{at}: fetching module {path}"))?
    } else {
        if Path::new(path).is_absolute() {
            bail!("{at}: module {path}: a module path is relative to the build context");
        }
        // Resolved by cap-std inside the context: `..` or a symlink leading
        // out of it is an error, not a file of the host.
        ctx.read(path).with_context(|| format!("{at}: reading module {path} in the build context"))?
    };
    let binary = ModuleBinary::parse(bytes).with_context(|| format!("{at}: module {path}"))?;
    if let Some(pin) = &step.digest
        && *pin != binary.digest
    {
        bail!("{at}: module {path} does not match its pin:\n  pinned:  {pin}\n  actual:  {}", binary.digest);
    }
    if let Some(lock) = lock {
        lock.check(path, &binary.digest).map_err(|e| anyhow::anyhow!("{at}: {e}"))?;
    }
    if let Some(needs) = binary.metadata.as_ref().and_then(|m| m.min_host_version.as_deref()) {
        check_host_version(needs, env!("CARGO_PKG_VERSION"))
            .map_err(|e| anyhow::anyhow!("{at}: module {path}: {e}"))?;
    }
    match binary.metadata.as_ref().map(|m| m.kind) {
        Some(ModuleKind::Transform) => Ok(binary),
        Some(kind) => bail!(
            "{at}: module {path} is a {} module; RUN --module runs only transform modules",
            format!("{kind:?}").to_lowercase()
        ),
        None => {
            bail!("{at}: module {path} has no `sealbox.module` metadata; RUN --module needs a module of kind transform")
        }
    }
}

/// Checks that this sealbox (`host`) is at least the `minHostVersion` a
/// module declares.
pub(super) fn check_host_version(needs: &str, host: &str) -> Result<(), String> {
    let needs_version =
        semver::Version::parse(needs).map_err(|e| format!("its minHostVersion {needs:?} is not a version: {e}"))?;
    let host_version = semver::Version::parse(host).map_err(|e| format!("sealbox version {host:?}: {e}"))?;
    if host_version < needs_version {
        return Err(format!("it needs sealbox {needs} or newer; this is sealbox {host}"));
    }
    Ok(())
}

impl Runner<'_> {
    /// Runs `binary` as the transform step `step` over the staged rootfs,
    /// with exactly the grant, or takes its output from the cache when the
    /// module, its arguments, env, image facts and the whole rootfs are
    /// unchanged. Refuses the module, naming the capability, when its
    /// metadata asks for more than the grant, before it runs.
    pub fn run(&self, binary: &ModuleBinary, step: &ModuleStep, at: &str) -> Result<TransformOutput> {
        grants::check(binary.metadata.as_ref(), self.grant)
            .map_err(|refusal| refusal.into_error(format!("{at}: module {} refused before it ran", step.module)))?;
        let capabilities = binary.metadata.as_ref().map(|m| m.capabilities.clone()).unwrap_or_default();
        let env = self.grant.env_for(&capabilities);
        let name = binary.metadata.as_ref().map_or_else(|| step.module.clone(), |m| m.name.clone());
        let root = self.rootfs.root();
        // Directories were made with the umask's mode; the module sees the
        // same listing on every machine.
        let files: Vec<FileEntry> = super::outputs::list_rootfs(root)?
            .into_iter()
            .map(|e| if e.kind == FileKind::Dir { FileEntry { mode: 0o755, ..e } } else { e })
            .collect();
        let key = match self.cache {
            Some(_) => Some(self.key(binary, step, &env, &files)?),
            None => None,
        };
        if let Some(key) = &key
            && let Some((dir, listing)) = self.cached(key)
        {
            return Ok(TransformOutput { module: name, dir, listing, cached: true, cache_key: None });
        }
        let module =
            self.steps.load(binary, &step.module).with_context(|| format!("{at}: loading module {}", step.module))?;
        let mut req = RunRequest::new(serde_json::json!({ "args": step.args }));
        req.env = env;
        req.files = files.clone();
        req.limits = self.grant.limits;
        let (outcome, dir) =
            self.steps.run("run", &module, root, self.work, req, None).with_context(|| at.to_string())?;
        let listing = layer_listing(&outcome.output, &files);
        Ok(TransformOutput { module: module.name, dir, listing, cached: false, cache_key: key })
    }

    /// The cache key of a run: everything its output can depend on.
    fn key(
        &self,
        binary: &ModuleBinary,
        step: &ModuleStep,
        env: &BTreeMap<String, String>,
        files: &[FileEntry],
    ) -> Result<String> {
        let config = serde_json::json!({"args": step.args, "env": env});
        tree_key("transform", &binary.digest, &config, &self.steps.image, self.rootfs.root(), files, None)
    }

    /// The output of an earlier run with the same key, unpacked from its
    /// layer into a fresh directory. Anything missing or damaged is a miss:
    /// the module then runs again.
    fn cached(&self, key: &str) -> Option<(PathBuf, Vec<LayerEntry>)> {
        // Shared: the layer was verified on import and is unpacked here.
        let hit: CachedTransform = self.cache?.get_shared(key)?;
        let desc = hit.layer.descriptor()?;
        if !self.store.layout().has_blob(&desc.digest) {
            return None;
        }
        let dir = tempfile::Builder::new().prefix("run-cached-").tempdir_in(self.work).ok()?.keep();
        unpack(self.store, &desc, &dir).ok()?;
        Some((dir, hit.listing))
    }
}

/// Remembers the layer a run's output was packed into, under the run's key.
pub fn remember(cache: &StepCache, output: &TransformOutput, layer: &LayerDescriptor) -> Result<()> {
    if let Some(key) = &output.cache_key {
        cache.put(key, &CachedTransform { layer: CachedLayer::from(layer), listing: output.listing.clone() })?;
    }
    Ok(())
}

/// Unpacks a cached transform layer into `dest`: directories, files and
/// symlinks at plain relative paths, anything else an error. The layer may
/// come from a shared cache, so it is written like any untrusted tree:
/// through a [`TreeWriter`], its links stored as links, never followed.
fn unpack(store: &Store, layer: &LayerDescriptor, dest: &Path) -> Result<()> {
    let writer = TreeWriter::open(dest, Existing::Replace)?;
    let reader = crate::oci::layer::open_uncompressed(store.layout(), &layer.descriptor())?;
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let raw = entry.path()?.into_owned();
        let path = raw
            .components()
            .filter(|c| !matches!(c, Component::CurDir))
            .map(|c| match c {
                Component::Normal(s) => s.to_str(),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .filter(|parts| !parts.is_empty())
            .map(|parts| parts.join("/"))
            .ok_or_else(|| anyhow!("layer {}: {} is not a plain relative path", layer.digest, raw.display()))?;
        let mode = entry.header().mode()?;
        match entry.header().entry_type() {
            // The host writes into its directories later, whatever the layer says.
            tar::EntryType::Directory => writer.create_dir(&path, mode | 0o700)?,
            tar::EntryType::Regular => {
                writer.write(&path, &mut entry, mode)?;
            }
            tar::EntryType::Symlink => {
                let link = entry.link_name()?.ok_or_else(|| anyhow!("{path}: symlink without a target"))?;
                let target = link.to_str().ok_or_else(|| anyhow!("{path}: symlink target is not UTF-8"))?;
                writer.symlink(&path, target)?;
            }
            other => bail!("layer {}: {path} has an unexpected type {other:?}", layer.digest),
        }
    }
    Ok(())
}

/// The layer listing of a transform's output. WASI cannot set modes, so the
/// host chooses them: a file the module rewrote keeps the permission bits it
/// had in the rootfs (never set-id or sticky bits), a new file gets 0644
/// and a directory 0755, whatever the umask made of them on disk.
fn layer_listing(output: &[FileEntry], rootfs: &[FileEntry]) -> Vec<LayerEntry> {
    let before: BTreeMap<&str, u32> = rootfs.iter().map(|e| (e.path.as_str(), e.mode)).collect();
    output
        .iter()
        .map(|e| {
            let mode = match e.kind {
                FileKind::Dir => 0o755,
                // A rewrite of a set-id file must not plant set-id content.
                FileKind::File => before.get(e.path.as_str()).map_or(0o644, |m| m & crate::tree::PERMISSION_BITS),
                FileKind::Symlink => 0o777,
            };
            LayerEntry { mode, ..LayerEntry::from(e.clone()) }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, kind: FileKind, mode: u32) -> FileEntry {
        FileEntry { path: path.into(), kind, mode, size: 0, link: None, hardlink: None }
    }

    #[test]
    fn a_module_needing_a_newer_sealbox_is_refused() {
        assert_eq!(check_host_version("0.1.0", "0.1.0"), Ok(()));
        assert_eq!(check_host_version("0.1.0", "0.2.0"), Ok(()));
        let newer = check_host_version("1.2.0", "0.9.9").unwrap_err();
        assert!(newer.contains("needs sealbox 1.2.0 or newer; this is sealbox 0.9.9"), "{newer}");
        assert!(check_host_version("one", "0.1.0").unwrap_err().contains("not a version"));
    }

    #[test]
    fn output_modes_come_from_the_rootfs_not_the_umask() {
        let rootfs = [
            entry("bin/run.sh", FileKind::File, 0o755),
            entry("bin/su", FileKind::File, 0o4755),
            entry("manifests/a.yaml", FileKind::File, 0o600),
        ];
        let output = [
            entry("bin", FileKind::Dir, 0o700),
            entry("bin/run.sh", FileKind::File, 0o600),
            entry("bin/su", FileKind::File, 0o600),
            entry("manifests/new.yaml", FileKind::File, 0o666),
        ];
        let modes: Vec<u32> = layer_listing(&output, &rootfs).iter().map(|e| e.mode).collect();
        assert_eq!(modes, [0o755, 0o755, 0o755, 0o644], "set-id bits are dropped from a rewritten file");
    }
}
