//! The sealer cluster image's rootfs layout: the directory names that the
//! image search, the renderer, the analysis staging and the Kubefile's
//! `APP` instruction all have to agree on. Names come from sealer's code
//! (`pkg/imagedistributor`, `build/layerutils`, `pkg/define/application`)
//! and its rootfs documentation.

/// Configuration files (`etc/kubeadm.yml`, `etc/daemon.json`…).
pub const ETC: &str = "etc";
/// Helm charts, one directory each.
pub const CHARTS: &str = "charts";
/// Kubernetes manifests applied by the image.
pub const MANIFESTS: &str = "manifests";
/// The image list sealer reads beside the manifests.
pub const IMAGE_LIST: &str = "manifests/imageList";
/// Where `APP` instructions put applications, one directory per app.
pub const APPS: &str = "application/apps";
/// The top-level directory holding [`APPS`].
pub const APPLICATION: &str = "application";
/// The applications directory of sealer's rootfs documentation, read too.
pub const APPLICATIONS: &str = "applications";

/// Directories whose `*.tmpl` files are rendered with the cluster's values
/// (sealer's `renderRootfs` covers `etc`, `charts` and `manifests`).
pub const TEMPLATE_DIRS: [&str; 4] = [ETC, CHARTS, MANIFESTS, APPLICATIONS];

/// Directories read whole by the analysis steps (a chart's templates,
/// helpers and `.Files`; an application's scripts).
pub const WHOLE_DIRS: [&str; 2] = [CHARTS, APPLICATION];

/// Directories whose manifest-like files (`.yaml`, `.yml`, `.json`, `.tmpl`,
/// `imageList`) the analysis steps read.
pub const MANIFEST_DIRS: [&str; 3] = [MANIFESTS, ETC, APPLICATIONS];

#[cfg(test)]
mod tests {
    use super::*;

    /// (path, where it comes from)
    const TABLE: &[(&str, &str)] = &[
        (IMAGE_LIST, "sealer build/layerutils: manifests/imageList"),
        (APPS, "sealer pkg/define/application: application/apps/<name>"),
        (ETC, "sealer basefs: etc/kubeadm.yml"),
        (CHARTS, "sealer build/layerutils/charts"),
    ];

    #[test]
    fn layout_names_nest_as_sealer_lays_them_out() {
        for &(path, source) in TABLE {
            let top = path.split('/').next().unwrap_or(path);
            assert!(
                TEMPLATE_DIRS.contains(&top) || WHOLE_DIRS.contains(&top),
                "{path} ({source}) lies in a directory sealbox reads"
            );
        }
        assert_eq!(IMAGE_LIST.strip_prefix(MANIFESTS), Some("/imageList"));
        assert_eq!(APPS.split('/').next(), Some(APPLICATION));
    }
}
