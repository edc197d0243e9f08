//! The base image a FROM names: its metadata for the planner, its layers and
//! history for the new image, and its analysable files for the analysis tree.

use std::path::{Component, Path};

use anyhow::{Context, Result, bail};

use super::staging::StagedTree;
use crate::kubefile::{self, BaseImage, BaseRef, ImageExtension, Node, Platform, RootfsTree};
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
    let mut resolved = None;
    let desc = match base {
        BaseRef::Scratch => bail!("scratch has no base image"),
        BaseRef::Store(name) if Reference::is_remote(name) => remote(store, name, registry)?,
        BaseRef::Store(name) => match store.resolve(name) {
            Ok(desc) => desc,
            Err(_) => {
                let (desc, full) = short_name(store, name, registry)?;
                resolved = Some(full);
                desc
            }
        },
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
        tree: tree(layout, &manifest).context("listing the base image's files")?,
        resolved,
    };
    Ok(Base { info, manifest, config })
}

/// A short name the store does not hold as written (`sealerio/kubernetes:v1.22.15`, `busybox`),
/// resolved as sealer resolves it: on Docker Hub, a single name under `library/`. The store is
/// asked for the full name first (also with `:latest` when no tag is given, as sealer names what
/// it pulls), then the registry. Returns the image and the full name it was found under.
fn short_name(store: &Store, name: &str, registry: &RegistryOptions) -> Result<(Descriptor, String)> {
    let reference = Reference::parse(name).with_context(|| format!("FROM {name}"))?;
    let full = reference.to_string();
    let mut candidates = vec![full.clone()];
    if reference.tag.is_none() && reference.digest.is_none() {
        candidates.push(reference.with_tag("latest").to_string());
    }
    for candidate in candidates {
        if let Ok(desc) = store.resolve(&candidate) {
            return Ok((desc, candidate));
        }
    }
    let desc = remote(store, &full, registry).with_context(|| {
        format!("base image {name} is not in the local store (see `sealbox images`) under that name or as {full}")
    })?;
    Ok((desc, full))
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

/// The most paths a base image's tree may hold: far more than any cluster
/// image has, few enough that the planner's copy of it stays small.
const MAX_BASE_PATHS: usize = 1_000_000;

/// The base image's whole tree, its layers applied in order with their
/// whiteouts, from the tar headers alone.
fn tree(layout: &Layout, manifest: &Manifest) -> Result<RootfsTree> {
    let mut tree = RootfsTree::default();
    for layer in &manifest.layers {
        let reader = crate::oci::layer::open_uncompressed(layout, layer)
            .with_context(|| format!("reading base layer {}", layer.digest))?;
        let mut archive = tar::Archive::new(reader);
        for entry in archive.entries().with_context(|| format!("reading base layer {}", layer.digest))? {
            let entry = entry.with_context(|| format!("reading base layer {}", layer.digest))?;
            let raw = entry.path()?.into_owned();
            let Some(parts) = layer_path(&raw) else { continue };
            let Some((name, dirs)) = parts.split_last() else { continue };
            let dir: std::path::PathBuf = dirs.iter().collect();
            match name.strip_prefix(".wh.") {
                Some(".wh..opq") => tree.remove_below(&dir),
                Some(hidden) => tree.remove(&dir.join(hidden)),
                None => {
                    let kind = entry.header().entry_type();
                    let node = if kind.is_dir() {
                        Node::Dir
                    } else if kind.is_symlink() {
                        Node::Symlink(entry.link_name()?.map(|t| t.into_owned()).unwrap_or_default())
                    } else {
                        Node::File
                    };
                    tree.insert(&dir.join(name), node);
                }
            }
            if tree.len() > MAX_BASE_PATHS {
                bail!("the base image holds more than {MAX_BASE_PATHS} paths");
            }
        }
    }
    Ok(tree)
}

/// A layer entry's path as plain relative names, or `None` for anything
/// else (`..`, a prefix, names that are not UTF-8), which is skipped, never
/// interpreted.
fn layer_path(raw: &Path) -> Option<Vec<&str>> {
    raw.components()
        .filter(|c| !matches!(c, Component::CurDir | Component::RootDir))
        .map(|c| match c {
            Component::Normal(s) => s.to_str(),
            _ => None,
        })
        .collect()
}

/// Unpacks the base layers' analysable files into the analysis tree, in
/// layer order, honouring whiteouts.
pub fn stage_into(store: &Store, base: &Base, analysis: &StagedTree) -> Result<()> {
    for layer in &base.manifest.layers {
        stage_layer(store.layout(), layer, analysis).with_context(|| format!("reading base layer {}", layer.digest))?;
    }
    Ok(())
}

fn stage_layer(layout: &Layout, layer: &Descriptor, analysis: &StagedTree) -> Result<()> {
    let reader = crate::oci::layer::open_uncompressed(layout, layer)?;
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let raw = entry.path()?.into_owned();
        let parts = layer_path(&raw).unwrap_or_default();
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A base layer whose links lead out of the staged tree, then entries
    /// and whiteouts that would go through them.
    fn hostile_layer(sentinel: &Path) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, target) in [("etc", sentinel.display().to_string()), ("manifests", "../sentinel".to_string())] {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            h.set_mode(0o777);
            b.append_link(&mut h, path, target).expect("link");
        }
        // Through an absolute link and a relative one, then whiteouts below
        // a link and an opaque directory where a link was.
        for path in ["etc/secret.yaml", "manifests/sub/config.yaml", "manifests/.wh.secret", "etc/.wh..wh..opq"] {
            let body: &[u8] = if path.contains(".wh.") { b"" } else { b"owned: true\n" };
            let mut h = tar::Header::new_gnu();
            h.set_size(body.len() as u64);
            h.set_mode(0o4755);
            b.append_data(&mut h, path, body).expect("file");
        }
        b.into_inner().expect("tar")
    }

    /// A layer of (path, kind) entries: `d` a directory, `f` a file, `l:TARGET` a symlink.
    fn layer_of(entries: &[(&str, &str)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, kind) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(0);
            h.set_mode(0o755);
            match *kind {
                "d" => {
                    h.set_entry_type(tar::EntryType::Directory);
                    b.append_data(&mut h, path, &b""[..]).expect("dir");
                }
                "f" => b.append_data(&mut h, path, &b""[..]).expect("file"),
                link => {
                    h.set_entry_type(tar::EntryType::Symlink);
                    b.append_link(&mut h, path, link.trim_start_matches("l:")).expect("link");
                }
            }
        }
        b.into_inner().expect("tar")
    }

    #[test]
    fn the_base_tree_applies_layers_in_order_with_their_whiteouts() {
        let tmp = tempfile::tempdir().expect("tmp");
        let store = Store::open(&tmp.path().join("store")).expect("store");
        let first = layer_of(&[
            ("etc/", "d"),
            ("etc/a", "f"),
            ("etc/b", "f"),
            ("manifests/x", "f"),
            ("conf", "l:/etc"),
            ("old/", "d"),
            ("old/z", "f"),
        ]);
        let second =
            layer_of(&[("etc/.wh.a", "f"), ("manifests/.wh..wh..opq", "f"), ("manifests/y", "f"), ("old", "f")]);
        let layers = [first, second].map(|l| store.put_blob(spec::MEDIA_TYPE_LAYER_TAR, &l).expect("blob"));
        let config = store.put_blob(spec::MEDIA_TYPE_CONFIG, b"{}").expect("config");
        let manifest = Manifest::new(config, layers.to_vec());
        let tree = tree(store.layout(), &manifest).expect("tree");
        let node = |p: &str| tree.get(Path::new(p)).cloned();
        assert_eq!(node("etc"), Some(Node::Dir));
        assert_eq!(node("etc/a"), None, "whited out");
        assert_eq!(node("etc/b"), Some(Node::File));
        assert_eq!(node("manifests/x"), None, "hidden by the opaque directory");
        assert_eq!(node("manifests/y"), Some(Node::File));
        assert_eq!(node("conf"), Some(Node::Symlink("/etc".into())));
        assert_eq!(node("old"), Some(Node::File), "a file over a directory");
        assert_eq!(node("old/z"), None);
        assert_eq!(tree.len(), 6, "nothing else: {tree:?}");
    }

    #[test]
    fn a_base_layer_cannot_write_or_white_out_through_its_own_links() {
        let tmp = tempfile::tempdir().expect("tmp");
        let sentinel = tmp.path().join("sentinel");
        std::fs::create_dir_all(sentinel.join("sub")).expect("sentinel");
        std::fs::write(sentinel.join("secret"), "keep\n").expect("secret");
        std::fs::write(sentinel.join("secret.yaml"), "keep\n").expect("secret.yaml");
        let store = Store::open(&tmp.path().join("store")).expect("store");
        let desc = store.put_blob(spec::MEDIA_TYPE_LAYER_TAR, &hostile_layer(&sentinel)).expect("blob");
        let root = tmp.path().join("tree");
        std::fs::create_dir(&root).expect("tree");
        let tree = StagedTree::whole(root.clone()).expect("tree");
        stage_layer(store.layout(), &desc, &tree).expect("staged");
        for (file, content) in [("secret", "keep\n"), ("secret.yaml", "keep\n")] {
            assert_eq!(std::fs::read_to_string(sentinel.join(file)).expect(file), content, "{file}");
        }
        assert!(!sentinel.join("sub/config.yaml").exists(), "written through a relative link");
        // The later entries replaced the links, as unpacking in order would.
        let meta = std::fs::symlink_metadata(root.join("manifests")).expect("manifests");
        assert!(meta.is_dir());
        assert_eq!(std::fs::read_to_string(root.join("manifests/sub/config.yaml")).expect("config"), "owned: true\n");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(root.join("manifests/sub/config.yaml")).expect("mode").permissions().mode();
        assert_eq!(mode & 0o7777, 0o755, "no set-id bits on a host file");
    }
}

#[cfg(test)]
#[path = "base_tests.rs"]
mod resolve_tests;
