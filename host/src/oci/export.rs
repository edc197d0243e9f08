//! Writing an image out of the store: `oci:DIR[:REF]`, `oci-archive:FILE`
//! and `docker-archive:FILE`.
//!
//! Every output appears whole or not at all: archives are written to a temp
//! file beside the target and renamed over it; a new OCI directory is built
//! beside its target and renamed into place; an existing OCI layout gets
//! its blobs first and its `index.json` entry last, through [`Store`].
//! Archive bytes depend only on the image (sorted entries, mtime 0, uid 0).

use std::collections::BTreeMap;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Serialize;

use super::digest::{Digest, Hasher};
use super::error::{Error, IoContext, Result};
use super::layer::open_uncompressed;
use super::layout::Layout;
use super::spec::{self, Descriptor, ImageConfig, Index, OCI_LAYOUT_FILE, Platform};
use super::store::{Store, validate_ref_name};
use super::tar_writer::TarWriter;

/// Where `-o` sends an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportTarget {
    /// An OCI image layout directory, created or added to; the image gets
    /// `reference` (or the image's own name) as its ref name.
    OciDir {
        /// The layout directory.
        dir: PathBuf,
        /// The name inside the layout.
        reference: Option<String>,
    },
    /// A tar of an OCI image layout.
    OciArchive(PathBuf),
    /// A `docker save` archive (one image).
    DockerArchive(PathBuf),
}

impl FromStr for ExportTarget {
    type Err = Error;

    /// Parses `oci:DIR[:REF]`, `oci-archive:FILE` or `docker-archive:FILE`
    /// (the transport names `skopeo` uses).
    fn from_str(s: &str) -> Result<ExportTarget> {
        let empty = || Error::Invalid(format!("output {s:?} names no path"));
        if let Some(rest) = s.strip_prefix("oci:") {
            let (dir, reference) = match rest.split_once(':') {
                Some((dir, r)) => (dir, Some(r.to_string()).filter(|r| !r.is_empty())),
                None => (rest, None),
            };
            if dir.is_empty() {
                return Err(empty());
            }
            if let Some(r) = &reference {
                validate_ref_name(r)?;
            }
            Ok(ExportTarget::OciDir { dir: dir.into(), reference })
        } else if let Some(file) = s.strip_prefix("oci-archive:") {
            if file.is_empty() {
                return Err(empty());
            }
            Ok(ExportTarget::OciArchive(file.into()))
        } else if let Some(file) = s.strip_prefix("docker-archive:") {
            if file.is_empty() {
                return Err(empty());
            }
            Ok(ExportTarget::DockerArchive(file.into()))
        } else {
            Err(Error::Invalid(format!("unknown output {s:?}: use oci:DIR, oci-archive:FILE or docker-archive:FILE")))
        }
    }
}

/// Writes the image `desc` (a manifest or an index) from `store` to
/// `target`. `name` is the image's name (recorded as ref name or docker
/// tag). `platform` picks the image of an index for `docker-archive`, which
/// holds one image; it may be `None` when the index has one platform.
pub fn export(
    store: &Store,
    desc: &Descriptor,
    name: Option<&str>,
    platform: Option<&Platform>,
    target: &ExportTarget,
) -> Result<()> {
    match target {
        ExportTarget::OciDir { dir, reference } => {
            export_oci_dir(store.layout(), desc, reference.as_deref().or(name), dir)
        }
        ExportTarget::OciArchive(file) => {
            write_atomically(file, |out| write_oci_archive(store.layout(), desc, name, out))
        }
        ExportTarget::DockerArchive(file) => {
            write_atomically(file, |out| write_docker_archive(store.layout(), desc, name, platform, out))
        }
    }
}

/// Adds the image to the OCI layout at `dir`, creating the layout if `dir`
/// does not exist or is empty.
pub fn export_oci_dir(from: &Layout, desc: &Descriptor, name: Option<&str>, dir: &Path) -> Result<()> {
    if dir.join("oci-layout").exists() {
        let dest = Store::open(dir)?;
        dest.import(from, desc)?;
        return tag_or_add(&dest, name, desc);
    }
    if dir.exists() && std::fs::read_dir(dir).at("list", dir)?.next().is_some() {
        return Err(Error::Invalid(format!("{} exists and is not an OCI image layout", dir.display())));
    }
    let (parent, file_name) = split_target(dir)?;
    std::fs::create_dir_all(&parent).at("create directory", &parent)?;
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{file_name}.sealbox-"))
        .tempdir_in(&parent)
        .at("create temp directory in", &parent)?;
    {
        let dest = Store::open(staging.path())?;
        dest.import(from, desc)?;
        tag_or_add(&dest, name, desc)?;
    }
    // The staging store was ours alone: its lock and temp dir can go.
    let state = staging.path().join(".sealbox");
    std::fs::remove_dir_all(&state).at("remove", &state)?;
    let staged = staging.keep();
    if let Err(e) = std::fs::rename(&staged, dir) {
        let _ = std::fs::remove_dir_all(&staged);
        return Err(Error::io("rename into place", dir, e));
    }
    Ok(())
}

fn tag_or_add(dest: &Store, name: Option<&str>, desc: &Descriptor) -> Result<()> {
    match name {
        Some(name) => dest.tag(name, desc),
        None => dest.add_unnamed(desc),
    }
}

/// Writes a tar of an OCI layout holding only the image `desc` (named
/// `name` in its `index.json`).
pub fn write_oci_archive(from: &Layout, desc: &Descriptor, name: Option<&str>, out: &mut dyn Write) -> Result<()> {
    let blobs = from.closure(desc)?;
    let mut entry = desc.clone();
    if let Some(name) = name {
        validate_ref_name(name)?;
        entry.annotations.insert(spec::ANNOTATION_REF_NAME.into(), name.into());
    }
    let index = spec::to_canonical_json(&Index::new(vec![entry]));
    let mut tar = TarWriter::new(out);
    tar.file("oci-layout", OCI_LAYOUT_FILE.as_bytes())?;
    tar.file("index.json", &index)?;
    tar.dir("blobs/")?;
    tar.dir("blobs/sha256/")?;
    for d in &blobs {
        let file = from.open_blob(d)?;
        tar.stream(&format!("blobs/sha256/{}", d.digest.hex()), d.size, file, &from.blob_path(&d.digest))?;
    }
    tar.finish()
}

/// The entry of `manifest.json` in a docker archive.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifestEntry {
    config: String,
    repo_tags: Vec<String>,
    layers: Vec<String>,
}

/// The per-layer `json` file of the legacy docker archive layout.
#[derive(Serialize)]
struct LegacyLayerJson<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    created: Option<&'a str>,
}

/// Writes a `docker save` archive of one image: its config, each layer
/// uncompressed as `<id>/layer.tar` (docker and podman load these
/// everywhere; compressed and zstd layers are not), `manifest.json` and
/// `repositories`. Every layer's content is checked against the config's
/// diff_ids on the way.
pub fn write_docker_archive(
    from: &Layout,
    desc: &Descriptor,
    name: Option<&str>,
    platform: Option<&Platform>,
    out: &mut dyn Write,
) -> Result<()> {
    let (_, manifest) = match platform {
        Some(p) => from.manifest_for(desc, Some(p))?,
        None => first_manifest(from, desc)?,
    };
    let config_bytes = from.read_blob(&manifest.config)?;
    let config: ImageConfig = serde_json::from_slice(&config_bytes)
        .map_err(|e| Error::json(format!("config {}", manifest.config.digest), e))?;
    if config.rootfs.diff_ids.len() != manifest.layers.len() {
        return Err(Error::Invalid(format!(
            "image {} has {} layers but {} diff_ids",
            desc.digest,
            manifest.layers.len(),
            config.rootfs.diff_ids.len()
        )));
    }
    let repo_tag = name.and_then(docker_repo_tag);

    let mut tar = TarWriter::new(out);
    let config_name = format!("{}.json", manifest.config.digest.hex());
    tar.file(&config_name, &config_bytes)?;
    let mut layer_names = vec![];
    let mut chain: Option<Digest> = None;
    for (layer, diff_id) in manifest.layers.iter().zip(&config.rootfs.diff_ids) {
        // The layer's id is its chain ID (image-spec), unique per position.
        let id = match &chain {
            None => diff_id.clone(),
            Some(parent) => Digest::of(format!("{parent} {diff_id}").as_bytes()),
        };
        let parent_hex = chain.as_ref().map(|p| p.hex().to_string());
        let legacy =
            LegacyLayerJson { id: id.hex(), parent: parent_hex.as_deref(), created: config.created.as_deref() };
        tar.dir(&format!("{}/", id.hex()))?;
        tar.file(&format!("{}/VERSION", id.hex()), b"1.0")?;
        tar.file(&format!("{}/json", id.hex()), &spec::to_canonical_json(&legacy))?;
        // One pass to learn the size (tar headers come first) and check the
        // content, one to copy.
        let (actual, size) = {
            let mut hasher = Hasher::new();
            io::copy(&mut open_uncompressed(from, layer)?, &mut hasher)
                .map_err(|e| Error::io("decompress", &from.blob_path(&layer.digest), e))?;
            let size = hasher.len();
            (hasher.finish(), size)
        };
        if &actual != diff_id {
            return Err(Error::Corrupt {
                digest: layer.digest.to_string(),
                detail: format!("uncompressed content hashes to {actual}, the config says {diff_id}"),
            });
        }
        let layer_name = format!("{}/layer.tar", id.hex());
        tar.stream(&layer_name, size, open_uncompressed(from, layer)?, &from.blob_path(&layer.digest))?;
        layer_names.push(layer_name);
        chain = Some(id);
    }
    let entry = DockerManifestEntry {
        config: config_name,
        repo_tags: repo_tag.iter().map(|(r, t)| format!("{r}:{t}")).collect(),
        layers: layer_names,
    };
    tar.file("manifest.json", &spec::to_canonical_json(&[entry]))?;
    if let (Some((repo, tag)), Some(top)) = (&repo_tag, &chain) {
        let repositories = BTreeMap::from([(repo.clone(), BTreeMap::from([(tag.clone(), top.hex().to_string())]))]);
        tar.file("repositories", &spec::to_canonical_json(&repositories))?;
    }
    tar.finish()
}

/// The manifest of an image, or the first manifest of an index (the first
/// platform built), for outputs that hold one image.
fn first_manifest(from: &Layout, desc: &Descriptor) -> Result<(Descriptor, spec::Manifest)> {
    if spec::is_index(&desc.media_type) {
        let index: Index = from.read_json(desc)?;
        let first = index.manifests.into_iter().find(|d| spec::is_manifest(&d.media_type));
        let first = first.ok_or_else(|| Error::Invalid(format!("image index {} holds no image", desc.digest)))?;
        return from.manifest_for(&first, None);
    }
    from.manifest_for(desc, None)
}

/// Splits an image name into docker's repository and tag (`latest` when
/// none); `None` for digest references, which docker archives cannot tag.
fn docker_repo_tag(name: &str) -> Option<(String, String)> {
    if name.contains('@') {
        return None;
    }
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    match name[last_slash..].rfind(':') {
        Some(i) => Some((name[..last_slash + i].to_string(), name[last_slash + i + 1..].to_string())),
        None => Some((name.to_string(), "latest".to_string())),
    }
}

/// The parent directory and file name of an output path.
fn split_target(path: &Path) -> Result<(PathBuf, String)> {
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::Invalid(format!("output path {} has no usable file name", path.display())))?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((parent, file_name.to_string()))
}

/// Runs `write` on a temp file beside `path`, syncs it and renames it to
/// `path`; on any error the temp file is removed and `path` is untouched.
pub fn write_atomically(path: &Path, write: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    let (parent, file_name) = split_target(path)?;
    std::fs::create_dir_all(&parent).at("create directory", &parent)?;
    // An export is for others to read, like a file `cp` or skopeo writes:
    // 0666 less the umask, not a temp file's 0600.
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{file_name}.sealbox-"))
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(&parent)
        .at("create temp file in", &parent)?;
    let mut out = BufWriter::with_capacity(1 << 20, tmp.as_file().try_clone().at("open", tmp.path())?);
    write(&mut out)?;
    out.flush().at("write", tmp.path())?;
    out.get_ref().sync_all().at("sync", tmp.path())?;
    drop(out);
    tmp.persist(path).map_err(|e| Error::io("rename into place", path, e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    use crate::oci::spec::{Compression, Manifest};
    use crate::oci::testutil::{fixture_image, fixture_index, fixture_tar, run_tool};

    fn amd64() -> Platform {
        Platform::new("linux", "amd64", None)
    }

    fn arm64() -> Platform {
        Platform::new("linux", "arm64", Some("v8"))
    }

    /// The entries of a tar, as (path, bytes).
    fn untar(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
        let mut a = tar::Archive::new(bytes);
        a.entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let path = e.path().unwrap().to_string_lossy().into_owned();
                let mut data = vec![];
                e.read_to_end(&mut data).unwrap();
                (path, data)
            })
            .collect()
    }

    fn skopeo_inspect(reference: &str) -> serde_json::Value {
        let out = run_tool("skopeo", &["inspect", reference]);
        assert!(out.status.success(), "skopeo inspect {reference}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    #[test]
    fn targets_parse_like_skopeo_transports() {
        assert_eq!(
            "oci:out/dir".parse::<ExportTarget>().unwrap(),
            ExportTarget::OciDir { dir: "out/dir".into(), reference: None }
        );
        assert_eq!(
            "oci:d:app:v1".parse::<ExportTarget>().unwrap(),
            ExportTarget::OciDir { dir: "d".into(), reference: Some("app:v1".into()) }
        );
        assert_eq!("oci-archive:x.tar".parse::<ExportTarget>().unwrap(), ExportTarget::OciArchive("x.tar".into()));
        assert_eq!(
            "docker-archive:/t/x.tar".parse::<ExportTarget>().unwrap(),
            ExportTarget::DockerArchive("/t/x.tar".into())
        );
        for bad in ["oci:", "oci-archive:", "docker-archive:", "tar:x", "x.tar", "oci:d:bad name"] {
            assert!(bad.parse::<ExportTarget>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_store_itself_is_readable_by_skopeo_and_umoci() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("store");
        let store = Store::open(&root).unwrap();
        let image = fixture_image(&store, &amd64(), Compression::Gzip);
        store.tag("example.com/app:v1", &image).unwrap();
        let info = skopeo_inspect(&format!("oci:{}:example.com/app:v1", root.display()));
        assert_eq!(info["Digest"], image.digest.to_string());
        assert_eq!(info["Architecture"], "amd64");
        let bundle = dir.path().join("bundle");
        let out = run_tool(
            "umoci",
            &[
                "unpack",
                "--rootless",
                "--image",
                &format!("{}:example.com/app:v1", root.display()),
                bundle.to_str().unwrap(),
            ],
        );
        assert!(out.status.success(), "umoci unpack: {}", String::from_utf8_lossy(&out.stderr));
        let rootfs = bundle.join("rootfs");
        assert_eq!(std::fs::read_to_string(rootfs.join("etc/config.yaml")).unwrap(), "name: linux/amd64\n");
        assert_eq!(std::fs::read_link(rootfs.join("etc/link")).unwrap(), Path::new("config.yaml"));
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        assert_eq!(std::fs::metadata(rootfs.join("run.sh")).unwrap().permissions().mode() & 0o777, 0o755);
        assert_eq!(
            std::fs::metadata(rootfs.join("etc/hard.yaml")).unwrap().ino(),
            std::fs::metadata(rootfs.join("etc/config.yaml")).unwrap().ino()
        );
    }

    #[test]
    fn oci_dir_export_creates_a_clean_layout_then_adds_to_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store")).unwrap();
        let gz = fixture_image(&store, &amd64(), Compression::Gzip);
        let plain = fixture_image(&store, &arm64(), Compression::None);
        let out = dir.path().join("out/layout");
        export(&store, &gz, Some("app:gz"), None, &format!("oci:{}", out.display()).parse().unwrap()).unwrap();
        assert!(!out.join(".sealbox").exists(), "bookkeeping leaked into a fresh export");
        let siblings: Vec<_> =
            std::fs::read_dir(dir.path().join("out")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(siblings, ["layout"]);
        let layout = Layout::open(&out).unwrap();
        assert_eq!(layout.resolve("app:gz").unwrap().digest, gz.digest);
        // An existing layout gets a second image, by the reference in the target.
        let target = format!("oci:{}:other:1", out.display()).parse().unwrap();
        export(&store, &plain, Some("ignored:name"), None, &target).unwrap();
        let names: Vec<_> = layout.images().unwrap().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["app:gz", "other:1"]);
        let dest = Store::open(&out).unwrap();
        assert!(dest.fsck(false).unwrap().is_ok());
        assert_eq!(skopeo_inspect(&format!("oci:{}:other:1", out.display()))["Architecture"], "arm64");
        // Not a layout and not empty: refused, untouched.
        std::fs::create_dir_all(dir.path().join("busy")).unwrap();
        std::fs::write(dir.path().join("busy/file"), b"x").unwrap();
        let busy = format!("oci:{}", dir.path().join("busy").display()).parse().unwrap();
        assert!(export(&store, &gz, None, None, &busy).is_err());
        assert_eq!(std::fs::read_dir(dir.path().join("busy")).unwrap().count(), 1);
    }

    #[test]
    fn oci_archive_holds_the_closure_and_is_deterministic() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store")).unwrap();
        let index = fixture_index(&store, &[amd64(), arm64()]);
        let file = dir.path().join("image.tar");
        let target = ExportTarget::OciArchive(file.clone());
        export(&store, &index, Some("multi:v1"), None, &target).unwrap();
        let first = std::fs::read(&file).unwrap();
        export(&store, &index, Some("multi:v1"), None, &target).unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), first);
        let entries = untar(&first);
        let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names[..4], ["oci-layout", "index.json", "blobs/", "blobs/sha256/"]);
        // index + 2 manifests + 2 configs + 2 layers
        assert_eq!(names.len(), 4 + 7);
        for (name, data) in &entries[4..] {
            assert_eq!(format!("blobs/sha256/{}", Digest::of(data).hex()), *name);
        }
        let idx: Index = serde_json::from_slice(&entries[1].1).unwrap();
        assert_eq!(idx.manifests[0].digest, index.digest);
        assert_eq!(idx.manifests[0].ref_name(), Some("multi:v1"));
        let out = run_tool("skopeo", &["inspect", "--raw", &format!("oci-archive:{}:multi:v1", file.display())]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let raw: Index = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(raw.manifests.len(), 2);
    }

    #[test]
    fn docker_archive_has_uncompressed_layers_matching_diff_ids() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store")).unwrap();
        let index = fixture_index(&store, &[amd64(), arm64()]);
        let file = dir.path().join("docker.tar");
        let target = ExportTarget::DockerArchive(file.clone());
        // Two platforms, none chosen: the first one.
        export(&store, &index, Some("app"), None, &target).unwrap();
        let entries: BTreeMap<String, Vec<u8>> = untar(&std::fs::read(&file).unwrap()).into_iter().collect();
        let manifest: serde_json::Value = serde_json::from_slice(&entries["manifest.json"]).unwrap();
        let config: ImageConfig = serde_json::from_slice(&entries[manifest[0]["Config"].as_str().unwrap()]).unwrap();
        assert_eq!(config.architecture, "amd64");
        assert_eq!(manifest[0]["RepoTags"], serde_json::json!(["app:latest"]));
        // A platform the index lacks: refused, the previous file untouched.
        let before = std::fs::read(&file).unwrap();
        let s390x = Platform::new("linux", "s390x", None);
        assert!(export(&store, &index, Some("app"), Some(&s390x), &target).is_err());
        assert_eq!(std::fs::read(&file).unwrap(), before);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);

        export(&store, &index, Some("example.com/team/app"), Some(&arm64()), &target).unwrap();
        let entries: BTreeMap<String, Vec<u8>> = untar(&std::fs::read(&file).unwrap()).into_iter().collect();
        let manifest: serde_json::Value = serde_json::from_slice(&entries["manifest.json"]).unwrap();
        assert_eq!(manifest[0]["RepoTags"], serde_json::json!(["example.com/team/app:latest"]));
        let config_name = manifest[0]["Config"].as_str().unwrap();
        let config: ImageConfig = serde_json::from_slice(&entries[config_name]).unwrap();
        assert_eq!(config.architecture, "arm64");
        assert_eq!(config_name, format!("{}.json", Digest::of(&entries[config_name]).hex()));
        let layer_name = manifest[0]["Layers"][0].as_str().unwrap();
        let layer = &entries[layer_name];
        assert_eq!(Digest::of(layer), config.rootfs.diff_ids[0]);
        assert_eq!(*layer, fixture_tar("linux/arm64/v8"));
        let top = layer_name.trim_end_matches("/layer.tar");
        let repositories: serde_json::Value = serde_json::from_slice(&entries["repositories"]).unwrap();
        assert_eq!(repositories, serde_json::json!({"example.com/team/app": {"latest": top}}));
        let info = skopeo_inspect(&format!("docker-archive:{}", file.display()));
        assert_eq!(info["Architecture"], "arm64");
        assert_eq!(info["Layers"][0], config.rootfs.diff_ids[0].to_string());
        // skopeo copies the archive into a layout and umoci unpacks it: the
        // layer comes back as the same tree.
        let layout = dir.path().join("copied");
        let out = run_tool(
            "skopeo",
            &["copy", &format!("docker-archive:{}", file.display()), &format!("oci:{}:c", layout.display())],
        );
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let bundle = dir.path().join("bundle");
        let image = format!("{}:c", layout.display());
        let out = run_tool("umoci", &["unpack", "--rootless", "--image", &image, bundle.to_str().unwrap()]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let config = std::fs::read_to_string(bundle.join("rootfs/etc/config.yaml")).unwrap();
        assert_eq!(config, "name: linux/arm64/v8\n");
    }

    #[test]
    fn docker_tags_split_repository_and_tag() {
        assert_eq!(docker_repo_tag("app"), Some(("app".into(), "latest".into())));
        assert_eq!(docker_repo_tag("app:v1"), Some(("app".into(), "v1".into())));
        assert_eq!(docker_repo_tag("reg:5000/app"), Some(("reg:5000/app".into(), "latest".into())));
        assert_eq!(docker_repo_tag("reg:5000/a/app:v2"), Some(("reg:5000/a/app".into(), "v2".into())));
        assert_eq!(docker_repo_tag("app@sha256:00"), None);
    }

    #[test]
    fn a_failed_export_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.tar");
        std::fs::write(&target, b"previous").unwrap();
        let err = write_atomically(&target, |out| {
            out.write_all(b"half").unwrap();
            Err(Error::Invalid("boom".into()))
        });
        assert!(err.is_err());
        assert_eq!(std::fs::read(&target).unwrap(), b"previous");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

        // A corrupt layer makes the docker export fail before renaming.
        let store = Store::open(&dir.path().join("store")).unwrap();
        let image = fixture_image(&store, &amd64(), Compression::None);
        let m: Manifest = store.layout().read_json(&image).unwrap();
        let path = store.layout().blob_path(&m.layers[0].digest);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[600] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        let err = export(&store, &image, Some("x"), None, &ExportTarget::DockerArchive(target.clone())).unwrap_err();
        assert!(matches!(err, Error::Corrupt { .. }), "{err}");
        assert_eq!(std::fs::read(&target).unwrap(), b"previous");
    }
}
