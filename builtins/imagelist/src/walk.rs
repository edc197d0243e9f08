//! Finds the places a cluster image's rootfs keeps what its applications run,
//! where sealer looks for them:
//!
//! - `manifests/**`: YAML (`.yaml`, `.yml`) and `.tmpl` files, and the image
//!   list `manifests/imageList`;
//! - `charts/**`: Helm charts (a directory with a `Chart.yaml`, or a
//!   packaged `.tgz`);
//! - `application/apps/<app>/`: a Helm chart when the directory has a
//!   `Chart.yaml`, else its YAML files and any charts below it, all recorded
//!   with the application's name.
//!
//! A directory holding a `Chart.yaml` anywhere in these trees is a chart and
//! is not read as plain YAML (its templates are not YAML until rendered).
//! A `.tmpl` file whose rendered twin (same name without `.tmpl`) exists is
//! covered by that twin; an unrendered one is read as YAML when it is YAML.
//! Symbolic links are not followed. Entries are visited in byte order of
//! their names, so the result does not depend on the file system.

use sealbox_formats::layout;
use std::fs;
use std::path::{Path, PathBuf};

/// What a source is, and so how it is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceKind {
    /// A YAML stream of Kubernetes objects.
    Yaml,
    /// A `.tmpl` file with no rendered twin: YAML if it parses, else skipped.
    UnrenderedTemplate,
    /// A one-reference-per-line image list.
    ImageList,
    /// A Helm chart directory.
    Chart,
}

/// One place to read images from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Path relative to the root, `/`-separated.
    pub path: String,
    /// How to read it.
    pub kind: SourceKind,
    /// The application it belongs to (`application/apps/<app>/`).
    pub app: Option<String>,
}

/// A directory that could not be listed.
#[derive(Debug)]
pub struct WalkError {
    /// Path relative to the root.
    pub path: String,
    /// What the file system said.
    pub source: std::io::Error,
}

impl std::fmt::Display for WalkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot list {}: {}", self.path, self.source)
    }
}

impl std::error::Error for WalkError {}

/// Lists every source under `root`, in a stable order: manifests, charts,
/// then applications by name.
pub fn discover(root: &Path) -> Result<Vec<Source>, WalkError> {
    let mut out = Vec::new();
    let manifests = root.join(layout::MANIFESTS);
    if manifests.is_dir() {
        walk_tree(root, &manifests, None, true, &mut out)?;
    }
    let charts = root.join(layout::CHARTS);
    if charts.is_dir() {
        walk_tree(root, &charts, None, false, &mut out)?;
    }
    let apps = root.join(layout::APPS);
    if apps.is_dir() {
        for (name, path) in sorted_entries(root, &apps)? {
            if !is_real_dir(&path) {
                continue;
            }
            walk_tree(root, &path, Some(name), true, &mut out)?;
        }
    }
    Ok(out)
}

/// Walks one tree; `yaml` says whether loose YAML files count (they do in
/// `manifests/` and apps, not in `charts/`).
fn walk_tree(root: &Path, dir: &Path, app: Option<String>, yaml: bool, out: &mut Vec<Source>) -> Result<(), WalkError> {
    if dir.join("Chart.yaml").is_file() {
        out.push(Source { path: relative(root, dir), kind: SourceKind::Chart, app });
        return Ok(());
    }
    let entries = sorted_entries(root, dir)?;
    for (name, path) in &entries {
        let Ok(meta) = fs::symlink_metadata(path) else { continue };
        if meta.is_dir() {
            walk_tree(root, path, app.clone(), yaml, out)?;
            continue;
        }
        if !meta.is_file() {
            continue;
        }
        let rel = relative(root, path);
        if !yaml {
            // Under charts/, packaged charts count too (`helm package` output).
            if name.ends_with(".tgz") {
                out.push(Source { path: rel, kind: SourceKind::Chart, app: app.clone() });
            }
            continue;
        }
        let kind = if name == "imageList" && rel == "manifests/imageList" {
            SourceKind::ImageList
        } else if name.ends_with(".yaml") || name.ends_with(".yml") {
            SourceKind::Yaml
        } else if let Some(rendered) = name.strip_suffix(".tmpl") {
            if entries.iter().any(|(n, _)| n == rendered) {
                continue;
            }
            SourceKind::UnrenderedTemplate
        } else {
            continue;
        };
        out.push(Source { path: rel, kind, app: app.clone() });
    }
    Ok(())
}

fn is_real_dir(path: &Path) -> bool {
    fs::symlink_metadata(path).map(|m| m.is_dir()).unwrap_or(false)
}

/// The entries of `dir` with UTF-8 names, sorted by name.
fn sorted_entries(root: &Path, dir: &Path) -> Result<Vec<(String, PathBuf)>, WalkError> {
    let read = fs::read_dir(dir).map_err(|source| WalkError { path: relative(root, dir), source })?;
    let mut entries = Vec::new();
    for entry in read {
        let entry = entry.map_err(|source| WalkError { path: relative(root, dir), source })?;
        if let Ok(name) = entry.file_name().into_string() {
            entries.push((name, entry.path()));
        }
    }
    entries.sort();
    Ok(entries)
}

/// `path` relative to `root`, `/`-separated.
pub fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempTree;

    #[test]
    fn finds_sources_like_sealer() {
        let tree = TempTree::new(&[
            ("manifests/app.yaml", "a: 1"),
            ("manifests/imageList", "nginx"),
            ("manifests/README.md", "no"),
            ("manifests/sub/x.yml", "a: 1"),
            ("manifests/kubeadm.yaml.tmpl", "a: {{ .X }}"),
            ("manifests/kubeadm.yaml", "a: 1"),
            ("manifests/raw.yaml.tmpl", "a: 1"),
            ("manifests/chart/Chart.yaml", "name: c"),
            ("manifests/chart/templates/d.yaml", "{{ bad yaml"),
            ("charts/one/Chart.yaml", "name: one"),
            ("charts/one/charts/sub/Chart.yaml", "name: sub"),
            ("charts/loose.yaml", "a: 1"),
            ("charts/packaged-1.0.0.tgz", "gz"),
            ("application/apps/web/Chart.yaml", "name: web"),
            ("application/apps/kube/b.yaml", "a: 1"),
            ("application/apps/kube/a.yaml", "a: 1"),
            ("application/apps/kube/run.sh", "echo"),
        ]);
        let found: Vec<_> = discover(tree.path()).expect("walk").into_iter().map(|s| (s.path, s.kind, s.app)).collect();
        use SourceKind::*;
        assert_eq!(
            found,
            [
                ("manifests/app.yaml".into(), Yaml, None),
                ("manifests/chart".into(), Chart, None),
                ("manifests/imageList".into(), ImageList, None),
                ("manifests/kubeadm.yaml".into(), Yaml, None),
                ("manifests/raw.yaml.tmpl".into(), UnrenderedTemplate, None),
                ("manifests/sub/x.yml".into(), Yaml, None),
                ("charts/one".into(), Chart, None),
                ("charts/packaged-1.0.0.tgz".into(), Chart, None),
                ("application/apps/kube/a.yaml".into(), Yaml, Some("kube".into())),
                ("application/apps/kube/b.yaml".into(), Yaml, Some("kube".into())),
                ("application/apps/web".into(), Chart, Some("web".into())),
            ]
        );
    }
}
