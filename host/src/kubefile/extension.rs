//! The `sealer.image.extension` manifest annotation: sealer's
//! `pkg/define/image/v1/sealer_image.go` `ImageExtension` and
//! `pkg/define/application/v1/application.go` `Application`, with the same
//! field order and the same fields left out when empty, and printed the way
//! Go's `encoding/json` prints it so that the annotation sealer users read is
//! byte for byte what sealer would have written for the same content.

use std::collections::BTreeMap;
use std::io;

use serde::{Deserialize, Serialize};

/// The manifest annotation that holds the [`ImageExtension`] JSON.
pub const ANNOTATION: &str = "sealer.image.extension";

/// The only schema version sealer writes.
pub const SCHEMA_VERSION: &str = "v1alpha1";

/// Where applications live in the image's rootfs: `application/apps/<name>/`.
pub const APP_ROOT: &str = sealbox_formats::layout::APPS;

/// Label naming the builder's version, which `sealer build` sets on every image (its `--label`
/// default); sealbox writes [`BuildClient::sealer_version`] there.
pub const LABEL_SEALER_VERSION: &str = "io.sealer.version";

/// Label set by `KUBEVERSION`.
pub const LABEL_KUBE_VERSION: &str = "app.alpha.sealer.io/supported-kube-version";

/// Label prefix set by `CNI NAME ...` (followed by the name; value `"true"`).
pub const LABEL_CNI_PREFIX: &str = "cluster.alpha.sealer.io/kube-cni-";

/// Label prefix set by `CSI NAME ...` (followed by the name; value `"true"`).
pub const LABEL_CSI_PREFIX: &str = "cluster.alpha.sealer.io/kube-csi-";

/// sealer's image extension. Field order and omission follow sealer's Go
/// struct: `buildClient` and `schemaVersion` are always written, and so is
/// `launch` (Go's `omitempty` never omits a struct), possibly as `{}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageExtension {
    /// The tool that built the image.
    #[serde(rename = "buildClient", default)]
    pub build_client: BuildClient,
    /// Always [`SCHEMA_VERSION`] when sealbox writes it.
    #[serde(rename = "schemaVersion", default)]
    pub schema_version: String,
    /// `kube-installer` or `app-installer`.
    #[serde(rename = "type", default, skip_serializing_if = "String::is_empty")]
    pub image_type: String,
    /// Applications: the base image's first, then the Kubefile's in the order they are defined.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applications: Vec<Application>,
    /// Filled in by `inspect` only; never written at build time.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Global environment from the Kubefile's ENV instructions (not inherited from the base).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// What to launch when the image is run (not inherited from the base).
    #[serde(default)]
    pub launch: Launch,
}

/// Who built the image; sealer writes its own and buildah's versions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildClient {
    /// The builder's version (sealbox writes `sealbox-v<version>`).
    #[serde(rename = "sealerVersion", default)]
    pub sealer_version: String,
    /// The version of buildah that built the layers (empty: sealbox does not use buildah).
    #[serde(rename = "buildahVersion", default)]
    pub buildah_version: String,
}

impl BuildClient {
    /// This build of sealbox.
    pub fn sealbox() -> BuildClient {
        BuildClient {
            sealer_version: format!("sealbox-v{}", env!("CARGO_PKG_VERSION")),
            buildah_version: String::new(),
        }
    }
}

/// One application, as sealer's v1 `Application`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    /// The application's name; its files are in `application/apps/<name>/`.
    pub name: String,
    /// `helm`, `kube`, `shell`, or empty when not detected (then `cmds` says how to launch it).
    #[serde(rename = "type", default, skip_serializing_if = "String::is_empty")]
    pub app_type: String,
    /// Launch files, relative to the application's directory, as sealer lists them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
    /// Always `v1` when sealbox writes it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// Application environment from APPENV.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Launch commands from APPCMDS.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cmds: Vec<String>,
}

/// LAUNCH / CMDS / CMD.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Launch {
    /// Commands from CMDS (or CMD); they win over `app_names` at deploy time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cmds: Vec<String>,
    /// Applications to launch, in order, from LAUNCH.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub app_names: Vec<String>,
}

/// One entry of the `sealer.image.container.images` annotation, as sealer's `ContainerImage`: same field
/// order, `appName` left out when the image belongs to no application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerImage {
    /// The normalised reference.
    pub image: String,
    /// The application whose files name the image.
    #[serde(rename = "appName", default, skip_serializing_if = "Option::is_none")]
    pub app_name: Option<String>,
    /// The platform the image is for.
    pub platform: ContainerImagePlatform,
}

/// sealer's platform of a [`ContainerImage`]: `architecture`, `os`, then `variant` when set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerImagePlatform {
    /// `amd64`, `arm64`...
    pub architecture: String,
    /// `linux`.
    pub os: String,
    /// `v8` for `arm64/v8`, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// The `sealer.image.container.images` annotation value for a list of images in JSON (as the imagelist step
/// answers it), with sealer's key order whatever order the JSON had.
pub fn container_images_json(images: &serde_json::Value) -> serde_json::Result<String> {
    let images = Vec::<ContainerImage>::deserialize(images)?;
    Ok(to_go_json(&images))
}

/// The labels as `sealer inspect` shows them in the extension: each `kube-cni-<name>` and
/// `kube-csi-<name>` label folded into one `cluster.alpha.sealer.io/kube-cni` (`kube-csi`) label
/// whose value is the sorted names as a JSON list; the others as they are.
pub fn inspect_labels(labels: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut cni = Vec::new();
    let mut csi = Vec::new();
    for (key, value) in labels {
        if let Some(name) = key.strip_prefix(LABEL_CNI_PREFIX) {
            cni.push(name);
        } else if let Some(name) = key.strip_prefix(LABEL_CSI_PREFIX) {
            csi.push(name);
        } else {
            out.insert(key.clone(), value.clone());
        }
    }
    for (names, prefix) in [(cni, LABEL_CNI_PREFIX), (csi, LABEL_CSI_PREFIX)] {
        if !names.is_empty() {
            // The map is sorted, so the names already are, as sealer sorts them.
            out.insert(prefix.trim_end_matches('-').to_owned(), to_go_json(&names));
        }
    }
    out
}

impl ImageExtension {
    /// The annotation value: compact JSON escaped as Go's `json.Marshal` escapes it.
    pub fn to_json(&self) -> String {
        to_go_json(self)
    }
}

/// Compact JSON with `<`, `>`, `&`, U+2028 and U+2029 escaped as Go's `encoding/json` does.
pub fn to_go_json<T: Serialize>(value: &T) -> String {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, GoFormatter);
    // Serializing these plain structs and maps of strings into a Vec cannot fail.
    if value.serialize(&mut ser).is_err() {
        return String::new();
    }
    String::from_utf8(out).unwrap_or_default()
}

struct GoFormatter;

impl serde_json::ser::Formatter for GoFormatter {
    fn write_string_fragment<W: ?Sized + io::Write>(&mut self, writer: &mut W, fragment: &str) -> io::Result<()> {
        let mut start = 0;
        for (at, c) in fragment.char_indices() {
            let escaped = match c {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            writer.write_all(&fragment.as_bytes()[start..at])?;
            writer.write_all(escaped.as_bytes())?;
            start = at + c.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_fields_are_left_out_as_sealer_does() {
        let ext = ImageExtension {
            build_client: BuildClient { sealer_version: "v0.11.0".into(), buildah_version: "1.27.1".into() },
            schema_version: SCHEMA_VERSION.into(),
            image_type: "kube-installer".into(),
            applications: vec![Application {
                name: "mixedapp".into(),
                app_type: String::new(),
                files: vec![],
                version: "v1".into(),
                env: BTreeMap::new(),
                cmds: vec!["kubectl apply -f app.yaml".into()],
            }],
            labels: BTreeMap::new(),
            env: BTreeMap::new(),
            launch: Launch::default(),
        };
        assert_eq!(
            ext.to_json(),
            r#"{"buildClient":{"sealerVersion":"v0.11.0","buildahVersion":"1.27.1"},"schemaVersion":"v1alpha1","type":"kube-installer","applications":[{"name":"mixedapp","version":"v1","cmds":["kubectl apply -f app.yaml"]}],"launch":{}}"#
        );
    }

    #[test]
    fn strings_are_escaped_like_go() {
        let launch = Launch { cmds: vec!["a && b > c <d>\u{2028}\"\\".into()], app_names: vec![] };
        assert_eq!(to_go_json(&launch), r#"{"cmds":["a \u0026\u0026 b \u003e c \u003cd\u003e\u2028\"\\"]}"#);
    }

    #[test]
    fn reads_what_sealer_writes() {
        let json = r#"{"buildClient":{"sealerVersion":"v0.11.0","buildahVersion":"1.27.1"},"schemaVersion":"v1alpha1","type":"kube-installer","applications":[{"name":"yamlapp","type":"kube","files":["/a.yaml"],"version":"v1"}],"launch":{"app_names":["yamlapp"]}}"#;
        let ext: ImageExtension = serde_json::from_str(json).unwrap();
        assert_eq!(ext.applications[0].files, ["/a.yaml"]);
        assert_eq!(ext.to_json(), json);
    }

    #[test]
    fn inspect_folds_cni_and_csi_labels_as_sealer_does() {
        let labels: BTreeMap<String, String> = [
            ("cluster.alpha.sealer.io/kube-cni-flannel", "true"),
            ("cluster.alpha.sealer.io/kube-cni-calico", "true"),
            ("cluster.alpha.sealer.io/kube-csi-alibaba-csi", "true"),
            ("key1", "value1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let folded = inspect_labels(&labels);
        let expected: BTreeMap<String, String> = [
            ("cluster.alpha.sealer.io/kube-cni", r#"["calico","flannel"]"#),
            ("cluster.alpha.sealer.io/kube-csi", r#"["alibaba-csi"]"#),
            ("key1", "value1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(folded, expected);
        assert!(inspect_labels(&BTreeMap::new()).is_empty());
    }

    #[test]
    fn container_images_keep_sealers_key_order() {
        let value = serde_json::json!([
            {"appName": "web", "image": "docker.io/library/nginx:alpine",
             "platform": {"os": "linux", "variant": "v8", "architecture": "arm64"}},
            {"image": "docker.io/library/busybox", "platform": {"os": "linux", "architecture": "amd64"}}
        ]);
        assert_eq!(
            container_images_json(&value).unwrap(),
            r#"[{"image":"docker.io/library/nginx:alpine","appName":"web","platform":{"architecture":"arm64","os":"linux","variant":"v8"}},{"image":"docker.io/library/busybox","platform":{"architecture":"amd64","os":"linux"}}]"#
        );
        assert!(container_images_json(&serde_json::json!([{"image": 1}])).is_err());
    }
}
