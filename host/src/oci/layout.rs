//! Read-only access to an OCI image layout directory (`oci-layout`,
//! `index.json`, `blobs/sha256/…`): ours, or one a user points `FROM oci:DIR`
//! at. Nothing here writes, locks or creates files.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use super::digest::{Digest, Hasher};
use super::error::{Error, IoContext, Result};
use super::spec::{self, Descriptor, Index, Manifest, Platform};

/// The largest JSON blob (index, manifest, config) we read into memory.
pub const MAX_JSON_BLOB: u64 = 64 << 20;

/// An OCI image layout on disk, opened for reading.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    /// Opens the layout at `root`, checking its `oci-layout` file names a
    /// 1.x layout version.
    pub fn open(root: &Path) -> Result<Layout> {
        let marker = root.join("oci-layout");
        let bytes = std::fs::read(&marker).at("read", &marker)?;
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct OciLayout {
            image_layout_version: String,
        }
        let parsed: OciLayout =
            serde_json::from_slice(&bytes).map_err(|e| Error::json(marker.display().to_string(), e))?;
        if !parsed.image_layout_version.starts_with("1.") {
            return Err(Error::Invalid(format!(
                "{}: unsupported image layout version {:?}",
                marker.display(),
                parsed.image_layout_version
            )));
        }
        Ok(Layout { root: root.to_path_buf() })
    }

    /// A layout at `root` whose files may not exist yet (the store creates them).
    pub(crate) fn unchecked(root: &Path) -> Layout {
        Layout { root: root.to_path_buf() }
    }

    /// The layout's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory holding sha256 blobs.
    pub fn blob_dir(&self) -> PathBuf {
        self.root.join("blobs").join("sha256")
    }

    /// Where the blob with `digest` lives (whether or not it exists).
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.blob_dir().join(digest.hex())
    }

    /// Whether a blob with `digest` is present.
    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// Opens the blob `desc` points at, checking its size on disk matches.
    pub fn open_blob(&self, desc: &Descriptor) -> Result<File> {
        let path = self.blob_path(&desc.digest);
        let file = File::open(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                Error::NotFound(format!("blob {} is missing from {}", desc.digest, self.root.display()))
            }
            _ => Error::io("open", &path, e),
        })?;
        let len = file.metadata().at("stat", &path)?.len();
        if len != desc.size {
            return Err(Error::Corrupt {
                digest: desc.digest.to_string(),
                detail: format!("{} has {len} bytes, its descriptor says {}", path.display(), desc.size),
            });
        }
        Ok(file)
    }

    /// Reads a small blob whole and checks its digest.
    pub fn read_blob(&self, desc: &Descriptor) -> Result<Vec<u8>> {
        if desc.size > MAX_JSON_BLOB {
            return Err(Error::Invalid(format!(
                "blob {} is {} bytes, more than the {MAX_JSON_BLOB} read into memory",
                desc.digest, desc.size
            )));
        }
        let path = self.blob_path(&desc.digest);
        let mut bytes = Vec::with_capacity(desc.size as usize);
        self.open_blob(desc)?.take(desc.size + 1).read_to_end(&mut bytes).at("read", &path)?;
        let actual = Digest::of(&bytes);
        if actual != desc.digest || bytes.len() as u64 != desc.size {
            return Err(Error::Corrupt {
                digest: desc.digest.to_string(),
                detail: format!("content hashes to {actual}"),
            });
        }
        Ok(bytes)
    }

    /// Reads and parses a JSON blob (index, manifest, config).
    pub fn read_json<T: DeserializeOwned>(&self, desc: &Descriptor) -> Result<T> {
        let bytes = self.read_blob(desc)?;
        serde_json::from_slice(&bytes).map_err(|e| Error::json(format!("blob {}", desc.digest), e))
    }

    /// Hashes the blob `desc` points at and compares with its digest.
    pub fn verify_blob(&self, desc: &Descriptor) -> Result<()> {
        let path = self.blob_path(&desc.digest);
        let mut hasher = Hasher::new();
        std::io::copy(&mut self.open_blob(desc)?, &mut hasher).at("read", &path)?;
        let actual = hasher.finish();
        if actual != desc.digest {
            return Err(Error::Corrupt {
                digest: desc.digest.to_string(),
                detail: format!("content hashes to {actual}"),
            });
        }
        Ok(())
    }

    /// The layout's `index.json`.
    pub fn index(&self) -> Result<Index> {
        let path = self.root.join("index.json");
        let bytes = std::fs::read(&path).at("read", &path)?;
        serde_json::from_slice(&bytes).map_err(|e| Error::json(path.display().to_string(), e))
    }

    /// Every named entry of `index.json`, as `(name, descriptor)`, sorted by name.
    pub fn images(&self) -> Result<Vec<(String, Descriptor)>> {
        let mut out: Vec<_> = self
            .index()?
            .manifests
            .into_iter()
            .filter_map(|d| d.ref_name().map(str::to_string).map(|n| (n, d)))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.digest.cmp(&b.1.digest)));
        Ok(out)
    }

    /// The `index.json` entry named `reference`, or, when `reference` is a
    /// digest (`sha256:…`), the entry with that digest. An empty reference
    /// picks the only entry when there is exactly one.
    pub fn resolve(&self, reference: &str) -> Result<Descriptor> {
        let index = self.index()?;
        let found = if reference.is_empty() {
            match index.manifests.as_slice() {
                [only] => Some(only.clone()),
                [] => return Err(Error::NotFound(format!("{} holds no image", self.root.display()))),
                _ => {
                    return Err(Error::Invalid(format!(
                        "{} holds {} images: name one",
                        self.root.display(),
                        index.manifests.len()
                    )));
                }
            }
        } else if reference.starts_with("sha256:") {
            let digest = Digest::parse(reference)?;
            index.manifests.into_iter().find(|d| d.digest == digest)
        } else {
            index.manifests.into_iter().find(|d| d.ref_name() == Some(reference))
        };
        found.ok_or_else(|| Error::NotFound(format!("no image {reference:?} in {}", self.root.display())))
    }

    /// The descriptors `desc` refers to directly: an index's manifests, a
    /// manifest's config and layers; nothing for other blobs.
    pub fn children(&self, desc: &Descriptor) -> Result<Vec<Descriptor>> {
        if spec::is_index(&desc.media_type) {
            Ok(self.read_json::<Index>(desc)?.manifests)
        } else if spec::is_manifest(&desc.media_type) {
            let m: Manifest = self.read_json(desc)?;
            let mut out = Vec::with_capacity(m.layers.len() + 1);
            out.push(m.config);
            out.extend(m.layers);
            Ok(out)
        } else {
            Ok(vec![])
        }
    }

    /// Every descriptor reachable from `desc`, itself first, each digest
    /// once, in a deterministic depth-first order.
    pub fn closure(&self, desc: &Descriptor) -> Result<Vec<Descriptor>> {
        let mut seen = BTreeSet::new();
        let mut out = vec![];
        let mut stack = vec![desc.clone()];
        while let Some(d) = stack.pop() {
            if !seen.insert(d.digest.clone()) {
                continue;
            }
            let children = self.children(&d)?;
            out.push(d);
            stack.extend(children.into_iter().rev());
        }
        Ok(out)
    }

    /// The manifest `desc` stands for on `platform`: `desc` itself when it
    /// is a manifest, the index entry matching `platform` when it is an index
    /// (the only entry when `platform` is `None` and there is one).
    pub fn manifest_for(&self, desc: &Descriptor, platform: Option<&Platform>) -> Result<(Descriptor, Manifest)> {
        if spec::is_manifest(&desc.media_type) {
            return Ok((desc.clone(), self.read_json(desc)?));
        }
        if !spec::is_index(&desc.media_type) {
            return Err(Error::Invalid(format!("{} is a {}, not an image", desc.digest, desc.media_type)));
        }
        let index: Index = self.read_json(desc)?;
        let entries: Vec<&Descriptor> = index.manifests.iter().filter(|d| spec::is_manifest(&d.media_type)).collect();
        let chosen = match platform {
            Some(p) => entries.iter().find(|d| d.platform.as_ref().is_some_and(|dp| platform_matches(dp, p))),
            None if entries.len() == 1 => entries.first(),
            None => {
                return Err(Error::Invalid(format!(
                    "image index {} has {} platforms: choose one",
                    desc.digest,
                    entries.len()
                )));
            }
        };
        let chosen = chosen.ok_or_else(|| {
            let want = platform.map(ToString::to_string).unwrap_or_default();
            Error::NotFound(format!("image index {} has no manifest for {want}", desc.digest))
        })?;
        Ok(((*chosen).clone(), self.read_json(chosen)?))
    }
}

/// Whether an index entry's platform satisfies a wanted one (a wanted
/// platform without variant accepts any variant).
fn platform_matches(have: &Platform, want: &Platform) -> bool {
    have.os == want.os
        && have.architecture == want.architecture
        && (want.variant.is_none() || have.variant == want.variant)
}
