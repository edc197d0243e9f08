//! OCI image-spec types (descriptor, manifest, index, image config) and
//! their canonical JSON.
//!
//! These are our own structs rather than `oci-spec`'s because that crate
//! keeps annotations in `HashMap`s, whose JSON order changes between runs.
//! Here every struct has a fixed field order and every map is a `BTreeMap`,
//! so [`to_canonical_json`] gives the same bytes for the same value on every
//! run and machine, and digests of manifests and configs are reproducible.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::digest::Digest;
use super::error::{Error, Result};

/// `mediaType` of an OCI image index.
pub const MEDIA_TYPE_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// `mediaType` of an OCI image manifest.
pub const MEDIA_TYPE_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// `mediaType` of an OCI image config.
pub const MEDIA_TYPE_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// `mediaType` of an uncompressed layer.
pub const MEDIA_TYPE_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
/// `mediaType` of a gzip-compressed layer.
pub const MEDIA_TYPE_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// `mediaType` of a zstd-compressed layer.
pub const MEDIA_TYPE_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
/// Docker schema 2 manifest, accepted when reading base images.
pub const MEDIA_TYPE_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list, accepted when reading base images.
pub const MEDIA_TYPE_DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker gzip layer, accepted when reading base images.
pub const MEDIA_TYPE_DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// The annotation that names an image in an OCI layout's `index.json`.
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
/// The annotation that records when an image was created.
pub const ANNOTATION_CREATED: &str = "org.opencontainers.image.created";

/// The `oci-layout` file's content for the layout version we write.
pub const OCI_LAYOUT_FILE: &str = r#"{"imageLayoutVersion":"1.0.0"}"#;

/// Whether a media type names an image index (OCI or Docker list).
pub fn is_index(media_type: &str) -> bool {
    media_type == MEDIA_TYPE_INDEX || media_type == MEDIA_TYPE_DOCKER_LIST
}

/// Whether a media type names an image manifest (OCI or Docker schema 2).
pub fn is_manifest(media_type: &str) -> bool {
    media_type == MEDIA_TYPE_MANIFEST || media_type == MEDIA_TYPE_DOCKER_MANIFEST
}

/// Serialises `value` as compact JSON in the struct's declared field order.
/// With the types of this module (no `HashMap`s) the bytes depend only on
/// the value.
pub fn to_canonical_json<T: Serialize>(value: &T) -> Vec<u8> {
    // Our types contain only strings, numbers, vectors and BTreeMaps with
    // string keys, for which serde_json cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

/// Formats seconds since the epoch as RFC 3339 in UTC (`1970-01-01T00:00:00Z`),
/// the form OCI `created` fields use.
pub fn rfc3339(epoch_seconds: u64) -> String {
    let secs = i64::try_from(epoch_seconds).unwrap_or(i64::MAX);
    sealbox_formats::time::format_rfc3339(sealbox_formats::time::Instant::from_secs(secs))
}

/// Layer compression, with its media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    /// gzip, deterministic header (no name, mtime 0).
    #[default]
    Gzip,
    /// zstd, one frame.
    Zstd,
    /// The plain tar stream.
    None,
}

impl Compression {
    /// The layer media type for this compression.
    pub fn media_type(self) -> &'static str {
        match self {
            Compression::Gzip => MEDIA_TYPE_LAYER_GZIP,
            Compression::Zstd => MEDIA_TYPE_LAYER_ZSTD,
            Compression::None => MEDIA_TYPE_LAYER_TAR,
        }
    }

    /// The compression a layer media type stands for, if it is a layer type
    /// we know (OCI or Docker).
    pub fn from_media_type(media_type: &str) -> Option<Compression> {
        match media_type {
            MEDIA_TYPE_LAYER_GZIP | MEDIA_TYPE_DOCKER_LAYER_GZIP => Some(Compression::Gzip),
            MEDIA_TYPE_LAYER_ZSTD => Some(Compression::Zstd),
            MEDIA_TYPE_LAYER_TAR | "application/vnd.docker.image.rootfs.diff.tar" => Some(Compression::None),
            _ => None,
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::None => "none",
        })
    }
}

impl FromStr for Compression {
    type Err = Error;
    fn from_str(s: &str) -> Result<Compression> {
        match s {
            "gzip" => Ok(Compression::Gzip),
            "zstd" => Ok(Compression::Zstd),
            "none" | "uncompressed" => Ok(Compression::None),
            _ => Err(Error::Invalid(format!("unknown compression {s:?}: expected gzip, zstd or none"))),
        }
    }
}

/// An OCI platform (`os`/`architecture`/`variant`), as used in index entries
/// and image configs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Platform {
    /// CPU architecture (`amd64`, `arm64`).
    pub architecture: String,
    /// Operating system (`linux`).
    pub os: String,
    /// Operating system version.
    #[serde(rename = "os.version", default, skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    /// Required OS features.
    #[serde(rename = "os.features", default, skip_serializing_if = "Vec::is_empty")]
    pub os_features: Vec<String>,
    /// CPU variant (`v8`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    /// The platform `os/architecture[/variant]`.
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Platform {
        Platform {
            architecture: architecture.into(),
            os: os.into(),
            os_version: None,
            os_features: vec![],
            variant: variant.map(Into::into),
        }
    }
}

impl From<&sealbox_guest::Platform> for Platform {
    fn from(p: &sealbox_guest::Platform) -> Platform {
        Platform::new(&p.os, &p.architecture, p.variant.as_deref())
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// A content descriptor: what a blob is, its digest and size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// The blob's media type.
    pub media_type: String,
    /// The blob's digest.
    pub digest: Digest,
    /// The blob's size in bytes.
    pub size: u64,
    /// Annotations (sorted by key).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// The platform of the manifest this descriptor points at (index entries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

impl Descriptor {
    /// A descriptor without annotations or platform.
    pub fn new(media_type: impl Into<String>, digest: Digest, size: u64) -> Descriptor {
        Descriptor { media_type: media_type.into(), digest, size, annotations: BTreeMap::new(), platform: None }
    }

    /// The `org.opencontainers.image.ref.name` annotation, if set.
    pub fn ref_name(&self) -> Option<&str> {
        self.annotations.get(ANNOTATION_REF_NAME).map(String::as_str)
    }
}

/// An OCI image manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Always 2.
    pub schema_version: u32,
    /// [`MEDIA_TYPE_MANIFEST`] for the manifests we write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The image config.
    pub config: Descriptor,
    /// The layers, base first.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    /// Manifest annotations (sorted by key).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Manifest {
    /// A manifest for `config` and `layers`, with no annotations.
    pub fn new(config: Descriptor, layers: Vec<Descriptor>) -> Manifest {
        Manifest {
            schema_version: 2,
            media_type: Some(MEDIA_TYPE_MANIFEST.into()),
            config,
            layers,
            annotations: BTreeMap::new(),
        }
    }
}

/// An OCI image index (also the shape of a layout's `index.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    /// Always 2.
    pub schema_version: u32,
    /// [`MEDIA_TYPE_INDEX`] for the indexes we write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The manifests (or nested indexes).
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    /// Index annotations (sorted by key).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Index {
    /// An index over `manifests`, with no annotations.
    pub fn new(manifests: Vec<Descriptor>) -> Index {
        Index { schema_version: 2, media_type: Some(MEDIA_TYPE_INDEX.into()), manifests, annotations: BTreeMap::new() }
    }
}

impl Default for Index {
    fn default() -> Index {
        Index::new(vec![])
    }
}

/// A JSON `{}`, the value type of `ExposedPorts` and `Volumes`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

/// The execution parameters of an image config (`config` field).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    /// User to run as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Exposed ports (`80/tcp`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub exposed_ports: BTreeMap<String, Empty>,
    /// Environment, `KEY=value`, in image order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    /// Entrypoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// Default command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    /// Volumes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub volumes: BTreeMap<String, Empty>,
    /// Working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Labels (sorted by key).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Stop signal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
}

/// The `rootfs` field of an image config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The uncompressed digests of the layers, base first.
    #[serde(default)]
    pub diff_ids: Vec<Digest>,
}

impl Default for RootFs {
    fn default() -> RootFs {
        RootFs { kind: "layers".into(), diff_ids: vec![] }
    }
}

/// One `history` entry of an image config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// When the step ran (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The instruction that made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Author.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// Comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// True when the step added no layer.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

/// An OCI image config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfig {
    /// When the image was created (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Author.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// CPU architecture.
    pub architecture: String,
    /// Operating system.
    pub os: String,
    /// CPU variant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// Execution parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ContainerConfig>,
    /// The layers' diff_ids.
    #[serde(default)]
    pub rootfs: RootFs,
    /// One entry per build step, layered or not.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<History>,
}

impl ImageConfig {
    /// An empty config for `platform`.
    pub fn new(platform: &Platform) -> ImageConfig {
        ImageConfig {
            created: None,
            author: None,
            architecture: platform.architecture.clone(),
            os: platform.os.clone(),
            variant: platform.variant.clone(),
            config: None,
            rootfs: RootFs::default(),
            history: vec![],
        }
    }

    /// The config's platform.
    pub fn platform(&self) -> Platform {
        Platform::new(&self.os, &self.architecture, self.variant.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_json_is_canonical_and_round_trips() {
        let config = Descriptor::new(MEDIA_TYPE_CONFIG, Digest::of(b"{}"), 2);
        let mut layer = Descriptor::new(MEDIA_TYPE_LAYER_GZIP, Digest::of(b"l"), 1);
        layer.annotations.insert("z".into(), "1".into());
        layer.annotations.insert("a".into(), "2".into());
        let mut m = Manifest::new(config, vec![layer]);
        m.annotations.insert("sealer.image.extension".into(), "{}".into());
        m.annotations.insert("b".into(), "x".into());
        let json = String::from_utf8(to_canonical_json(&m)).unwrap();
        let expected = format!(
            concat!(
                r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","#,
                r#""config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":2}},"#,
                r#""layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{}","size":1,"#,
                r#""annotations":{{"a":"2","z":"1"}}}}],"annotations":{{"b":"x","sealer.image.extension":"{{}}"}}}}"#
            ),
            Digest::of(b"{}"),
            Digest::of(b"l")
        );
        assert_eq!(json, expected);
        let back: Manifest = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
        assert_eq!(to_canonical_json(&back), json.as_bytes());
    }

    #[test]
    fn config_json_field_names_follow_the_spec() {
        let mut c = ImageConfig::new(&Platform::new("linux", "arm64", Some("v8")));
        c.created = Some(rfc3339(0));
        let mut cc = ContainerConfig { env: vec!["A=1".into()], ..Default::default() };
        cc.labels.insert("k".into(), "v".into());
        cc.exposed_ports.insert("80/tcp".into(), Empty {});
        c.config = Some(cc);
        c.rootfs.diff_ids.push(Digest::of(b""));
        c.history.push(History { created_by: Some("COPY . .".into()), ..Default::default() });
        c.history.push(History { empty_layer: true, ..Default::default() });
        let v: serde_json::Value = serde_json::from_slice(&to_canonical_json(&c)).unwrap();
        assert_eq!(v["config"]["Env"][0], "A=1");
        assert_eq!(v["config"]["ExposedPorts"]["80/tcp"], serde_json::json!({}));
        assert_eq!(v["config"]["Labels"]["k"], "v");
        assert_eq!(v["rootfs"]["type"], "layers");
        assert_eq!(v["rootfs"]["diff_ids"][0], Digest::of(b"").to_string());
        assert_eq!(v["history"][0]["created_by"], "COPY . .");
        assert!(v["history"][0].get("empty_layer").is_none());
        assert_eq!(v["history"][1]["empty_layer"], true);
        assert_eq!(v["variant"], "v8");
        assert_eq!(c.platform().to_string(), "linux/arm64/v8");
    }

    #[test]
    fn compression_names_and_media_types() {
        for c in [Compression::Gzip, Compression::Zstd, Compression::None] {
            assert_eq!(c.to_string().parse::<Compression>().unwrap(), c);
            assert_eq!(Compression::from_media_type(c.media_type()), Some(c));
        }
        assert!("brotli".parse::<Compression>().is_err());
    }
}
