//! The shapes the step hands back: sealer's `sealer.image.container.images`
//! entries and the `manifests/imageList` text.

use serde::Serialize;

/// One entry of the `sealer.image.container.images` annotation. Field order
/// and names follow sealer's JSON (`image`, `appName`, `platform`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ContainerImage {
    /// The normalised reference.
    pub image: String,
    /// The application the image belongs to, when it came from
    /// `application/apps/<app>/`.
    #[serde(rename = "appName", skip_serializing_if = "Option::is_none")]
    pub app_name: Option<String>,
    /// The platform the image is pulled for.
    pub platform: ImagePlatform,
}

/// sealer's platform object: `architecture` before `os`, `variant` only when
/// set.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ImagePlatform {
    /// `amd64`, `arm64`…
    pub architecture: String,
    /// `linux`.
    pub os: String,
    /// `v8` for `arm64/v8`, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl From<&sealbox_guest::Platform> for ImagePlatform {
    fn from(p: &sealbox_guest::Platform) -> Self {
        ImagePlatform { architecture: p.architecture.clone(), os: p.os.clone(), variant: p.variant.clone() }
    }
}

/// The `manifests/imageList` text for a set of entries: each distinct image
/// once, sorted, one per line.
pub fn image_list_text(images: &[ContainerImage]) -> String {
    let unique: std::collections::BTreeSet<&str> = images.iter().map(|i| i.image.as_str()).collect();
    let mut out = String::new();
    for image in unique {
        out.push_str(image);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_like_sealer() {
        let platform = ImagePlatform { architecture: "amd64".into(), os: "linux".into(), variant: None };
        let images = vec![
            ContainerImage {
                image: "docker.io/library/nginx:alpine".into(),
                app_name: Some("web".into()),
                platform: platform.clone(),
            },
            ContainerImage { image: "docker.io/library/busybox:latest".into(), app_name: None, platform },
        ];
        assert_eq!(
            serde_json::to_string(&images).expect("json"),
            r#"[{"image":"docker.io/library/nginx:alpine","appName":"web","platform":{"architecture":"amd64","os":"linux"}},{"image":"docker.io/library/busybox:latest","platform":{"architecture":"amd64","os":"linux"}}]"#
        );
        assert_eq!(image_list_text(&images), "docker.io/library/busybox:latest\ndocker.io/library/nginx:alpine\n");
    }
}
