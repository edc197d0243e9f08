//! Puts the pieces together: reads every source [`crate::walk`] finds,
//! extracts images, applies the configured extra and ignored lists, and
//! produces the sorted, de-duplicated list with its diagnostics.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use sealbox_guest::{Diagnostic, Platform, Severity};
use serde::Serialize;

use crate::config::Config;
use crate::extract::{Extraction, classify, extract_each_document, extract_yaml};
use crate::helm;
use crate::imagelist_file::{ListEntry, parse_config_list, parse_list};
use crate::output::{ContainerImage, ImagePlatform, image_list_text};
use crate::reference::Reference;
use crate::walk::{Source, SourceKind, discover};
use crate::yaml;

/// Where an image was seen first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Origin {
    /// Path under the input root (or `config:extraImages`).
    pub file: String,
    /// 1-based line, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
}

/// An image whose tag floats: `latest`, or no tag and no digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FloatingImage {
    /// The normalised reference.
    pub image: String,
    /// `latest` when the tag was written as `latest`, `untagged` when absent.
    pub reason: &'static str,
    /// Where it was seen first.
    #[serde(flatten)]
    pub origin: Origin,
}

/// A value considered and not taken as an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedValue {
    /// The value as written.
    pub value: String,
    /// Why it is not an image.
    pub reason: String,
    /// The object and field it sat in.
    pub field: String,
    /// Where it was.
    #[serde(flatten)]
    pub origin: Origin,
}

/// One manifest a chart rendered to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RenderedChartManifest {
    /// The chart, as a path under the input root.
    pub chart: String,
    /// The application the chart belongs to, if any.
    #[serde(rename = "appName", skip_serializing_if = "Option::is_none")]
    pub app_name: Option<String>,
    /// Helm's template name (`chart/templates/x.yaml`).
    pub name: String,
    /// The template's path under the input root.
    pub template: String,
    /// The rendered YAML.
    pub manifest: String,
}

/// Everything the step found.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// The annotation entries, sorted by image then application.
    pub images: Vec<ContainerImage>,
    /// Images that should be pinned.
    pub floating: Vec<FloatingImage>,
    /// Values that were not taken, in the order they were met, when the
    /// config asks for `verbose`.
    pub skipped: Vec<SkippedValue>,
    /// Errors, warnings and (when verbose) notes, in the order they arose.
    pub diagnostics: Vec<Diagnostic>,
    /// Whether the input had a `manifests/imageList` of its own.
    pub had_image_list: bool,
    /// Every rendered chart manifest, when the configuration asks for them
    /// (`renderedCharts`), so that policies can check what charts deploy.
    pub rendered: Vec<RenderedChartManifest>,
    /// Where each image was found (every occurrence), when the config asks
    /// for `origins` (`sealbox imagelist`).
    pub origins: Vec<ImageOrigin>,
}

/// One place an image was found: a file and line, or a chart's template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageOrigin {
    /// The image as recorded.
    pub image: String,
    /// The application it belongs to, if any.
    #[serde(rename = "appName", skip_serializing_if = "Option::is_none")]
    pub app_name: Option<String>,
    /// The file (a chart's template for chart images) and line.
    #[serde(flatten)]
    pub origin: Origin,
}

impl Outcome {
    /// The `manifests/imageList` text the image should carry.
    pub fn image_list_text(&self) -> String {
        image_list_text(&self.images)
    }

    /// Whether any diagnostic is an error.
    pub fn failed(&self) -> bool {
        self.diagnostics.iter().any(|d| d.severity == Severity::Error)
    }

    /// The response's `data`: `images` (the annotation value), `imageList`
    /// (the file text), `floating`, `skipped` when `verbose`, and
    /// `renderedCharts` when manifests were kept.
    pub fn data(&self, verbose: bool) -> serde_json::Value {
        let mut data = serde_json::json!({
            "images": self.images,
            "imageList": self.image_list_text(),
            "floating": self.floating,
        });
        if verbose && let Some(map) = data.as_object_mut() {
            map.insert("skipped".into(), serde_json::json!(self.skipped));
        }
        if !self.rendered.is_empty()
            && let Some(map) = data.as_object_mut()
        {
            map.insert("renderedCharts".into(), serde_json::json!(self.rendered));
        }
        if !self.origins.is_empty()
            && let Some(map) = data.as_object_mut()
        {
            map.insert("origins".into(), serde_json::json!(self.origins));
        }
        data
    }
}

/// The images found so far, folded as they are found: memory follows the
/// number of distinct images (and the places, only when origins are asked
/// for), not the number of objects that name them.
#[derive(Default)]
struct Images {
    /// Each image as recorded, with its first occurrence and the
    /// applications it belongs to.
    seen: BTreeMap<String, Seen>,
    /// Every occurrence, when the config asks for `origins`.
    origins: Vec<ImageOrigin>,
}

/// An image's first occurrence (what messages about it point at) and the
/// applications it was found in.
struct Seen {
    reference: Reference,
    origin: Origin,
    apps: BTreeSet<Option<String>>,
}

impl Images {
    /// Records one occurrence. `origin` is built only for an image not seen
    /// before or when origins are kept: most occurrences repeat an image.
    fn add(&mut self, reference: Reference, app: &Option<String>, origins: bool, origin: impl FnOnce() -> Origin) {
        // Recorded as sealer records it: an untagged image stays untagged (it
        // is pulled as `latest`, and flagged as floating at the end).
        let image = reference.sealer_name();
        if origins {
            let origin = origin();
            self.origins.push(ImageOrigin { image: image.clone(), app_name: app.clone(), origin: origin.clone() });
            self.note(image, reference, app, || origin);
        } else {
            self.note(image, reference, app, origin);
        }
    }

    /// Counts `image` under `app`, keeping where it was seen first.
    fn note(&mut self, image: String, reference: Reference, app: &Option<String>, origin: impl FnOnce() -> Origin) {
        match self.seen.get_mut(&image) {
            Some(seen) => {
                if !seen.apps.contains(app) {
                    seen.apps.insert(app.clone());
                }
            }
            None => {
                let apps = BTreeSet::from([app.clone()]);
                self.seen.insert(image, Seen { reference, origin: origin(), apps });
            }
        }
    }

    /// Adds what `later` found after what this set found: first
    /// occurrences stay first.
    fn merge(&mut self, later: Images) {
        for (image, seen) in later.seen {
            match self.seen.get_mut(&image) {
                Some(earlier) => earlier.apps.extend(seen.apps),
                None => {
                    self.seen.insert(image, seen);
                }
            }
        }
        self.origins.extend(later.origins);
    }
}

/// What one file yielded, taken into the outcome only when the whole file
/// was read: a file that is not YAML past some document contributes
/// nothing, as its diagnostic says.
#[derive(Default)]
struct FileFindings {
    images: Images,
    skipped: Vec<SkippedValue>,
    notes: Vec<Diagnostic>,
}

/// Reads the tree at `root` and returns the image list for `platform`.
pub fn collect(root: &Path, config: &Config, platform: &Platform) -> Outcome {
    // The ignored list is known before the tree is read, so that ignored
    // images are dropped as they are found; its warnings come last, as
    // the list is applied last.
    let (ignored, ignored_warnings) = ignored_images(config);
    let mut c = Collector { root, config, ignored, images: Images::default(), outcome: Outcome::default() };
    match discover(root) {
        Ok(sources) => {
            for source in &sources {
                c.source(source);
            }
        }
        Err(e) => c.outcome.diagnostics.push(Diagnostic::error(e.to_string()).at(e.path.clone(), None, None)),
    }
    let extra = parse_config_list(&config.extra_images);
    c.list("config:extraImages", &extra, None);
    c.outcome.diagnostics.extend(ignored_warnings);
    c.finish(platform);
    c.outcome
}

/// The configured `ignoredImages`, normalised, and a warning for each
/// entry that cannot match anything.
fn ignored_images(config: &Config) -> (BTreeSet<String>, Vec<Diagnostic>) {
    let mut set = BTreeSet::new();
    let mut warnings = Vec::new();
    for entry in parse_config_list(&config.ignored_images) {
        match classify(&entry.value) {
            Ok(r) => {
                set.insert(r.normalized());
            }
            Err(reason) => warnings.push(
                Diagnostic::warning(format!("ignored image {:?} matches nothing: {reason}", entry.value)).at(
                    "config:ignoredImages",
                    Some(entry.line),
                    None,
                ),
            ),
        }
    }
    (set, warnings)
}

/// Whether `file` holds only bare text ([`yaml::is_bare_text`]), read in
/// pieces and left rewound. Such files (a README, a licence, generated
/// prose under `manifests/`) would otherwise cost the YAML parser a
/// core-second per 30 MB. One over the stream size cap is not skipped, so
/// that the parser refuses it as it refuses any other.
fn holds_only_bare_text(file: &mut std::fs::File) -> std::io::Result<bool> {
    use std::io::{Read, Seek};
    let mut piece = vec![0u8; 64 << 10];
    let mut total = 0usize;
    let bare = loop {
        let n = match file.read(&mut piece) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            break total <= yaml::Limits::default().max_bytes;
        }
        total += n;
        if !yaml::is_bare_text(&piece[..n]) {
            break false;
        }
    };
    file.rewind()?;
    Ok(bare)
}

struct Collector<'a> {
    root: &'a Path,
    config: &'a Config,
    ignored: BTreeSet<String>,
    images: Images,
    outcome: Outcome,
}

impl Collector<'_> {
    fn source(&mut self, source: &Source) {
        match source.kind {
            SourceKind::Yaml | SourceKind::UnrenderedTemplate => self.yaml_file(source),
            SourceKind::ImageList => {
                self.outcome.had_image_list = true;
                let Some(text) = self.read(&source.path) else { return };
                let entries = parse_list(&text);
                self.list(&source.path, &entries, source.app.clone());
            }
            SourceKind::Chart => self.chart(source),
        }
    }

    /// A manifest file, read one document at a time.
    fn yaml_file(&mut self, source: &Source) {
        let mut file = match std::fs::File::open(self.root.join(&source.path)) {
            Ok(file) => file,
            Err(e) => return self.cannot_read(&source.path, &e),
        };
        match holds_only_bare_text(&mut file) {
            // One plain scalar at most: no field can name an image.
            Ok(true) => return,
            Ok(false) => {}
            Err(e) => return self.cannot_read(&source.path, &e),
        }
        let mut findings = FileFindings::default();
        let read = extract_each_document(&mut file, &mut |extraction| {
            self.take(&mut findings, extraction, &source.path, &source.app, false);
        });
        match read {
            Ok(()) => self.keep(findings),
            Err(e) if source.kind == SourceKind::UnrenderedTemplate => self.outcome.diagnostics.push(
                Diagnostic::warning(format!(
                    "unrendered template is not YAML, images in it are not listed: {}",
                    e.message
                ))
                .at(&source.path, Some(e.line), Some(e.column)),
            ),
            Err(e) => self.outcome.diagnostics.push(Diagnostic::error(format!("cannot parse YAML: {}", e.message)).at(
                &source.path,
                Some(e.line),
                Some(e.column),
            )),
        }
    }

    /// The release the build renders a chart as: the Kubefile's values for
    /// it when the build passed them, else helm's defaults.
    fn release_for(&self, source: &Source) -> Result<helm::release::Release, helm::ChartError> {
        let name = source.app.as_deref().unwrap_or(helm::DEFAULT_RELEASE);
        match self.config.charts.iter().find(|c| c.chart == source.path) {
            Some(c) => helm::release::from_config(self.root, c, name).map_err(|message| helm::ChartError {
                file: Some(source.path.clone()),
                line: None,
                message,
            }),
            None => Ok(helm::release::Release::named(name)),
        }
    }

    fn chart(&mut self, source: &Source) {
        let rendered = match self.release_for(source).and_then(|r| helm::render_chart(self.root, &source.path, &r)) {
            Ok(rendered) => rendered,
            Err(e) => {
                let message = format!("cannot render chart {}: {}", source.path, e.message);
                let d = if self.config.ignore_chart_errors {
                    Diagnostic::warning(message)
                } else {
                    Diagnostic::error(message)
                };
                self.outcome.diagnostics.push(d.at(e.file.unwrap_or_else(|| source.path.clone()), e.line, None));
                return;
            }
        };
        for manifest in rendered {
            if manifest.lookup && self.config.verbose {
                self.outcome.diagnostics.push(
                    Diagnostic {
                        severity: Severity::Info,
                        rule: Some("imagelist/helm-lookup".into()),
                        ..Diagnostic::error(format!(
                            "chart {} template {} calls `lookup`, which finds nothing without a cluster: \
                             rendered as if the objects did not exist",
                            source.path, manifest.name
                        ))
                    }
                    .at(&manifest.template, None, None),
                );
            }
            if self.config.rendered_charts {
                self.outcome.rendered.push(RenderedChartManifest {
                    chart: source.path.clone(),
                    app_name: source.app.clone(),
                    name: manifest.name.clone(),
                    template: manifest.template.clone(),
                    manifest: manifest.text.clone(),
                });
            }
            match extract_yaml(&manifest.text) {
                Ok(extraction) => {
                    let mut findings = FileFindings::default();
                    self.take(&mut findings, extraction, &manifest.template, &source.app, true);
                    self.keep(findings);
                }
                Err(e) => {
                    let message = format!(
                        "chart {} rendered invalid YAML in {}: line {} of the output: {}",
                        source.path, manifest.template, e.line, e.message
                    );
                    let d = if self.config.ignore_chart_errors {
                        Diagnostic::warning(message)
                    } else {
                        Diagnostic::error(message)
                    };
                    self.outcome.diagnostics.push(d.at(&manifest.template, None, None));
                }
            }
        }
    }

    fn read(&mut self, path: &str) -> Option<String> {
        match std::fs::read(self.root.join(path)) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => Some(text),
                Err(e) => {
                    self.outcome.diagnostics.push(
                        Diagnostic::error(format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()))
                            .at(path, None, None),
                    );
                    None
                }
            },
            Err(e) => {
                self.cannot_read(path, &e);
                None
            }
        }
    }

    /// Reports a file the step could not read.
    fn cannot_read(&mut self, path: &str, e: &std::io::Error) {
        self.outcome.diagnostics.push(Diagnostic::error(format!("cannot read: {e}")).at(path, None, None));
    }

    /// Records what one document (or a chart's rendered manifest) yielded.
    /// For a chart's rendered output, lines are lines of the output, not of
    /// `file` (the template), so they go into the field description instead
    /// of the location.
    fn take(&self, into: &mut FileFindings, extraction: Extraction, file: &str, app: &Option<String>, rendered: bool) {
        // The location's line: a rendered output's lines are not `file`'s.
        let at = |line: u32| (!rendered).then_some(line);
        for found in extraction.found {
            let line = at(found.line);
            self.found(&mut into.images, found.reference, app, || Origin { file: file.to_string(), line });
        }
        // Values not taken are reported only when verbose: kept always,
        // they would grow with every templated manifest of a large tree.
        if !self.config.verbose {
            return;
        }
        for skipped in extraction.skipped {
            let (line, field) = match at(skipped.line) {
                Some(line) => (Some(line), skipped.field),
                None => (None, format!("{} (line {} of the rendered output)", skipped.field, skipped.line)),
            };
            into.notes.push(
                Diagnostic {
                    severity: Severity::Info,
                    rule: Some("imagelist/skipped".into()),
                    ..Diagnostic::error(format!("{:?} at {field} is not an image: {}", skipped.raw, skipped.reason))
                }
                .at(file, line, None),
            );
            into.skipped.push(SkippedValue {
                value: skipped.raw,
                reason: skipped.reason,
                field,
                origin: Origin { file: file.to_string(), line },
            });
        }
    }

    /// Records an image found at `origin`, unless the config ignores it.
    fn found(&self, into: &mut Images, reference: Reference, app: &Option<String>, origin: impl FnOnce() -> Origin) {
        if !self.ignored.contains(&reference.normalized()) {
            into.add(reference, app, self.config.origins, origin);
        }
    }

    /// Takes what a file yielded into the outcome.
    fn keep(&mut self, findings: FileFindings) {
        self.images.merge(findings.images);
        self.outcome.skipped.extend(findings.skipped);
        self.outcome.diagnostics.extend(findings.notes);
    }

    /// Explicit lists: an entry that is not a reference is left out with a warning naming its line
    /// (sealer drops it without a word).
    fn list(&mut self, file: &str, entries: &[ListEntry], app: Option<String>) {
        let mut images = Images::default();
        for entry in entries {
            match Reference::parse_normalized(&entry.value) {
                Ok(reference) => self
                    .found(&mut images, reference, &app, || Origin { file: file.to_string(), line: Some(entry.line) }),
                Err(e) => self.outcome.diagnostics.push(
                    Diagnostic::warning(format!(
                        "{:?} in an image list is not an image reference, left out as sealer leaves it out: {e}",
                        entry.value
                    ))
                    .at(file, Some(entry.line), None),
                ),
            }
        }
        self.images.merge(images);
    }

    /// Flags floating and undigested images at their first occurrence and
    /// writes the sorted list.
    fn finish(&mut self, platform: &Platform) {
        let platform = ImagePlatform::from(platform);
        let images = std::mem::take(&mut self.images);
        self.outcome.origins = images.origins;
        for (image, seen) in images.seen {
            let r = &seen.reference;
            let loc = |d: Diagnostic| d.at(&seen.origin.file, seen.origin.line, None);
            if r.is_floating_latest() {
                let reason = if r.tag.is_none() { "untagged" } else { "latest" };
                let what = if r.tag.is_none() {
                    "has no tag, so it floats with `latest`"
                } else {
                    "uses the floating tag `latest`"
                };
                self.outcome.diagnostics.push(loc(Diagnostic {
                    rule: Some("imagelist/floating-tag".into()),
                    ..Diagnostic::warning(format!(
                        "image {image} {what}; pin a version or digest for a reproducible cluster image"
                    ))
                }));
                self.outcome.floating.push(FloatingImage { image: image.clone(), reason, origin: seen.origin.clone() });
            }
            if self.config.require_digests && r.digest.is_none() {
                self.outcome.diagnostics.push(loc(Diagnostic {
                    rule: Some("imagelist/require-digests".into()),
                    ..Diagnostic::error(format!("image {image} has no digest and digests are required"))
                }));
            }
            for app_name in seen.apps {
                self.outcome.images.push(ContainerImage { image: image.clone(), app_name, platform: platform.clone() });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempTree;

    const DEPLOY: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n        - {name: web, image: \"nginx:1.25\"}\n";

    fn images(outcome: &Outcome) -> Vec<(String, Option<String>)> {
        outcome.images.iter().map(|i| (i.image.clone(), i.app_name.clone())).collect()
    }

    #[test]
    fn merges_manifests_lists_apps_and_config() {
        let tree = TempTree::new(&[
            ("manifests/web.yaml", DEPLOY),
            ("manifests/imageList", "# pinned\nbusybox:1.36\n\"nginx:1.25\"\nbusybox:1.36\n\nredis\n"),
            ("application/apps/web/web.yaml", DEPLOY),
        ]);
        let config = Config { extra_images: vec!["quay.io/a/b:1\n# c".into()], ..Config::default() };
        let out = collect(tree.path(), &config, &Platform::default());
        assert!(!out.failed(), "{:?}", out.diagnostics);
        assert_eq!(
            images(&out),
            [
                ("docker.io/library/busybox:1.36".into(), None),
                ("docker.io/library/nginx:1.25".into(), None),
                ("docker.io/library/nginx:1.25".into(), Some("web".into())),
                // Untagged, it is recorded untagged, as sealer records it.
                ("docker.io/library/redis".into(), None),
                ("quay.io/a/b:1".into(), None),
            ]
        );
        assert_eq!(
            out.image_list_text(),
            "docker.io/library/busybox:1.36\ndocker.io/library/nginx:1.25\ndocker.io/library/redis\nquay.io/a/b:1\n"
        );
        assert!(out.had_image_list);
        assert_eq!(out.floating.len(), 1);
        assert_eq!(out.floating[0].reason, "untagged");
        assert_eq!(out.floating[0].origin, Origin { file: "manifests/imageList".into(), line: Some(6) });
        let warnings: Vec<_> = out.diagnostics.iter().filter(|d| d.severity == Severity::Warning).collect();
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].message.contains("redis"), "{:?}", warnings[0]);
    }

    /// Images are folded as documents are read, but a file counts whole:
    /// one that is not YAML past its first document lists nothing.
    #[test]
    fn a_file_broken_after_its_first_document_lists_none_of_its_images() {
        let broken = format!("{DEPLOY}---\nkind: Pod\nspec: {{containers: [{{image: redis:7}}]}}\n---\nbad: [\n");
        let tree = TempTree::new(&[
            ("manifests/broken.yaml", &broken),
            ("manifests/ok.yaml", "kind: Pod\nspec: {containers: [{image: busybox:1.36}]}\n"),
        ]);
        let out = collect(tree.path(), &Config::default(), &Platform::default());
        assert_eq!(images(&out), [("docker.io/library/busybox:1.36".into(), None)]);
        let at = |d: &Diagnostic| (d.severity, d.file.clone().unwrap_or_default(), d.line);
        let located: Vec<_> = out.diagnostics.iter().map(at).collect();
        assert!(located.contains(&(Severity::Error, "manifests/broken.yaml".into(), Some(14))), "{located:?}");
        assert!(out.diagnostics.iter().any(|d| d.message.starts_with("cannot parse YAML")), "{:?}", out.diagnostics);
    }

    /// The same image in thousands of objects is one entry, first seen
    /// where it first appears, in whichever file; `origins` still names
    /// every place, in the order they were read.
    #[test]
    fn repeated_images_fold_into_their_first_occurrence() {
        let pods = "kind: Pod\nspec: {containers: [{image: nginx}]}\n---\n".repeat(5_000);
        let tree = TempTree::new(&[("manifests/a.yaml", &pods), ("manifests/b.yaml", &pods)]);
        let out = collect(tree.path(), &Config::default(), &Platform::default());
        assert_eq!(images(&out), [("docker.io/library/nginx".into(), None)]);
        assert_eq!(out.floating.len(), 1);
        assert_eq!(out.floating[0].origin, Origin { file: "manifests/a.yaml".into(), line: Some(2) });
        assert!(out.origins.is_empty());
        let config = Config { origins: true, ..Config::default() };
        let traced = collect(tree.path(), &config, &Platform::default());
        assert_eq!(traced.origins.len(), 10_000);
        assert_eq!(traced.origins[5_000].origin, Origin { file: "manifests/b.yaml".into(), line: Some(2) });
        assert_eq!(traced.origins[9_999].origin.line, Some(3 * 4_999 + 2));
    }

    /// Bare text (a README under `manifests/`) is skipped unparsed; text
    /// with YAML syntax after a long bare start is still parsed, rewound
    /// to its first byte.
    #[test]
    fn bare_text_files_are_skipped_and_others_read_from_the_start() {
        let prose = "just some words\n".repeat(10_000);
        let late = format!("{prose}---\nkind: Pod\nspec: {{containers: [{{image: busybox:1.36}}]}}\n");
        let early = format!("kind: Pod\nspec: {{containers: [{{image: redis:7}}]}}\n---\n{prose}");
        let tree = TempTree::new(&[
            ("manifests/prose.yaml", &prose),
            ("manifests/late.yaml", &late),
            ("manifests/early.yaml", &early),
        ]);
        let out = collect(tree.path(), &Config::default(), &Platform::default());
        assert!(out.diagnostics.is_empty(), "{:?}", out.diagnostics);
        assert_eq!(
            images(&out),
            [("docker.io/library/busybox:1.36".into(), None), ("docker.io/library/redis:7".into(), None)]
        );
        let config = Config { origins: true, ..Config::default() };
        let origins = collect(tree.path(), &config, &Platform::default()).origins;
        assert_eq!(origins[0].origin, Origin { file: "manifests/early.yaml".into(), line: Some(2) });
        assert_eq!(origins[1].origin, Origin { file: "manifests/late.yaml".into(), line: Some(10_003) });
    }

    #[test]
    fn ignored_images_are_matched_after_normalisation() {
        let tree = TempTree::new(&[("manifests/imageList", "busybox\nnginx:1.25\ndocker.io/library/redis:7\n")]);
        let config = Config {
            ignored_images: vec!["docker.io/library/busybox:latest".into(), "redis:7".into(), "{{ bad }}".into()],
            ..Config::default()
        };
        let out = collect(tree.path(), &config, &Platform::default());
        assert_eq!(images(&out), [("docker.io/library/nginx:1.25".into(), None)]);
        assert!(out.floating.is_empty(), "an ignored image is not flagged");
        let warning = out.diagnostics.iter().find(|d| d.severity == Severity::Warning).expect("warning for bad ignore");
        assert_eq!(warning.file.as_deref(), Some("config:ignoredImages"));
        assert_eq!(warning.line, Some(3));
    }

    #[test]
    fn require_digests_fails_undigested_images() {
        let digest = "sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa";
        let tree = TempTree::new(&[("manifests/imageList", &format!("busybox@{digest}\nnginx:1.25\n"))]);
        let config = Config { require_digests: true, ..Config::default() };
        let out = collect(tree.path(), &config, &Platform::default());
        let errors: Vec<_> = out.diagnostics.iter().filter(|d| d.severity == Severity::Error).collect();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].message.contains("docker.io/library/nginx:1.25"));
        assert_eq!((errors[0].file.as_deref(), errors[0].line), (Some("manifests/imageList"), Some(2)));
        assert!(out.failed());
    }

    #[test]
    fn bad_inputs_become_located_diagnostics() {
        let tree = TempTree::new(&[
            ("manifests/bad.yaml", "a: [1\n"),
            ("manifests/imageList", "nginx:1\nnot an image\n"),
            ("manifests/env.yaml.tmpl", "image: {{ .Registry }}/x\n  bad: [\n"),
        ]);
        let out = collect(tree.path(), &Config::default(), &Platform::default());
        let located: Vec<_> =
            out.diagnostics.iter().map(|d| (d.severity, d.file.clone().unwrap_or_default(), d.line)).collect();
        assert!(located.contains(&(Severity::Error, "manifests/bad.yaml".into(), Some(2))), "{located:?}");
        // A bad image list line is left out, as sealer does, with a warning rather than a failure.
        assert!(located.contains(&(Severity::Warning, "manifests/imageList".into(), Some(2))), "{located:?}");
        assert!(
            located.iter().any(|(s, f, _)| *s == Severity::Warning && f == "manifests/env.yaml.tmpl"),
            "{located:?}"
        );
        assert_eq!(images(&out), [("docker.io/library/nginx:1".into(), None)]);
    }

    #[test]
    fn chart_errors_fail_unless_ignored() {
        let tree = TempTree::new(&[
            ("charts/broken/Chart.yaml", "apiVersion: v2\nname: broken\nversion: 0.1.0\n"),
            ("charts/broken/templates/pod.yaml", "image: {{ required \"image is required\" .Values.image }}\n"),
            ("charts/ok/Chart.yaml", "apiVersion: v2\nname: ok\nversion: 0.1.0\n"),
            ("charts/ok/values.yaml", "image: nginx:1.25\n"),
            (
                "charts/ok/templates/pod.yaml",
                "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n    - image: {{ .Values.image }}\n",
            ),
        ]);
        let strict = collect(tree.path(), &Config::default(), &Platform::default());
        assert!(strict.failed());
        let error = strict.diagnostics.iter().find(|d| d.severity == Severity::Error).expect("error");
        assert_eq!((error.file.as_deref(), error.line), (Some("charts/broken/templates/pod.yaml"), Some(1)));
        assert!(error.message.contains("charts/broken") && error.message.contains("image is required"), "{error:?}");
        let lenient =
            collect(tree.path(), &Config { ignore_chart_errors: true, ..Config::default() }, &Platform::default());
        assert!(!lenient.failed());
        assert_eq!(lenient.diagnostics[0].severity, Severity::Warning);
        assert_eq!(images(&lenient), [("docker.io/library/nginx:1.25".into(), None)]);
    }

    #[test]
    fn a_corrupt_chart_archive_is_a_located_error() {
        let tree = TempTree::new(&[("charts/bad-1.0.0.tgz", "not gzip at all")]);
        let out = collect(tree.path(), &Config::default(), &Platform::default());
        let error = out.diagnostics.iter().find(|d| d.severity == Severity::Error).expect("error");
        assert_eq!(error.file.as_deref(), Some("charts/bad-1.0.0.tgz"));
        assert!(error.message.contains("cannot read chart archive"), "{error:?}");
    }

    #[test]
    fn app_charts_render_with_the_app_name_as_release() {
        let tree = TempTree::new(&[
            ("application/apps/shop/Chart.yaml", "apiVersion: v2\nname: shop\nversion: 0.1.0\n"),
            (
                "application/apps/shop/templates/pod.yaml",
                "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n    - image: registry.local/{{ .Release.Name }}:1\n    - image: \"{{ \"{{\" }} .Values.leftover }}\"\n",
            ),
        ]);
        let out = collect(tree.path(), &Config::default(), &Platform::default());
        assert_eq!(images(&out), [("registry.local/shop:1".into(), Some("shop".into()))]);
        assert_eq!(out.floating.len(), 0);
        assert!(out.skipped.is_empty(), "values not taken are kept only when verbose");
        let verbose = collect(tree.path(), &Config { verbose: true, ..Config::default() }, &Platform::default());
        let skipped = &verbose.skipped[0];
        assert_eq!(
            (skipped.origin.file.as_str(), skipped.origin.line),
            ("application/apps/shop/templates/pod.yaml", None)
        );
        assert_eq!(skipped.field, "Pod spec.containers[1].image (line 6 of the rendered output)");
        assert!(out.data(false).get("renderedCharts").is_none());
        let kept = collect(tree.path(), &Config { rendered_charts: true, ..Config::default() }, &Platform::default());
        let rendered = &kept.data(false)["renderedCharts"][0];
        assert_eq!(rendered["chart"], "application/apps/shop");
        assert_eq!(rendered["appName"], "shop");
        assert_eq!(rendered["name"], "shop/templates/pod.yaml");
        assert_eq!(rendered["template"], "application/apps/shop/templates/pod.yaml");
        assert!(rendered["manifest"].as_str().is_some_and(|m| m.contains("registry.local/shop:1")));
    }

    #[test]
    fn verbose_reports_skipped_values() {
        let src = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - {name: a, image: \"{{ .Values.image }}\"}\n";
        let tree = TempTree::new(&[("manifests/pod.yaml", src)]);
        let quiet = collect(tree.path(), &Config::default(), &Platform::default());
        assert!(quiet.diagnostics.is_empty());
        assert!(quiet.data(false).get("skipped").is_none());
        let loud = collect(tree.path(), &Config { verbose: true, ..Config::default() }, &Platform::default());
        assert_eq!(loud.diagnostics.len(), 1);
        assert_eq!(loud.diagnostics[0].severity, Severity::Info);
        assert_eq!(loud.diagnostics[0].line, Some(6));
        let skipped = &loud.data(true)["skipped"][0];
        assert_eq!(skipped["reason"], "template leftover");
        assert_eq!(skipped["file"], "manifests/pod.yaml");
    }
}
