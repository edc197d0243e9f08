//! Finds container images in Kubernetes YAML by structure, not by lines.
//!
//! Two rules, applied to every document of a stream:
//!
//! 1. **Pod specs, anywhere.** Any mapping with a `containers`,
//!    `initContainers` or `ephemeralContainers` list contributes the `image`
//!    of every entry. This covers Pod, Deployment, StatefulSet, DaemonSet,
//!    ReplicaSet, Job, CronJob, ReplicationController and any custom resource
//!    that embeds a pod template, at whatever depth it sits. A container's
//!    environment variables named `RELATED_IMAGE_*` or `*_IMAGE` (how
//!    operators are told which images to start) count too when their value
//!    has a registry, path, tag or digest.
//! 2. **Image fields of custom resources.** In documents whose `apiVersion` is
//!    not a built-in Kubernetes group, fields named `image`, `images`, or
//!    ending in `Image`/`-image`/`_image` contribute their value when it is an
//!    image reference: a string; a `{repository, tag}` map (`registry` and
//!    `digest` honoured, a `tag` starting with `sha256:` taken as a digest);
//!    a list of those; for `images`, also a map whose values are those.
//!    The map form is accepted because it is how operators and Helm values
//!    spell images; it is safe because the composed string must still parse
//!    as a reference. A `baseImage` without a tag is combined with the
//!    `version` beside it, as the operators that use it do, and is no image
//!    without one. `metadata`, `status`, labels and annotations are not
//!    searched. Built-in kinds (ConfigMaps, CRDs with their schemas) get only
//!    rule 1, so a ConfigMap key named `image` is not an image.
//!
//! A value is an image only if it parses as a reference
//! ([`crate::reference`]) and is not a placeholder: template leftovers
//! (`{{ … }}`, `<no value>`, `${…}`), schema type names (`string`) and bare
//! dotted field paths (`parameter.image`) are skipped with a reason, which is
//! what sealer's line scanner got wrong (sealer issue #1913).

use crate::reference::Reference;
use std::io::Read;
use std::ops::ControlFlow;

use crate::yaml::{Error as YamlError, Limits, Node, NodeValue as Value, for_each_document, for_each_document_in};

/// An image found in a document.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// The parsed reference.
    pub reference: Reference,
    /// The value as written.
    pub raw: String,
    /// Where: `Kind/name` and the field path, for messages.
    pub field: String,
    /// The 1-based line of the value.
    pub line: u32,
}

/// A value that looked like it could be an image and was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The value as written (or composed, for `{repository, tag}` maps).
    pub raw: String,
    /// Where: `Kind/name` and the field path.
    pub field: String,
    /// The 1-based line of the value.
    pub line: u32,
    /// Why it is not an image.
    pub reason: String,
}

/// What one YAML stream yielded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extraction {
    /// Images, in document order.
    pub found: Vec<Found>,
    /// Values that were considered and rejected, in document order.
    pub skipped: Vec<Skipped>,
}

/// Extracts images from every document of a YAML stream, one document at
/// a time: memory follows the largest document, not the stream, and a
/// manifest file of many small documents is not held to one document's
/// node cap.
pub fn extract_yaml(source: &str) -> Result<Extraction, YamlError> {
    let mut out = Extraction::default();
    for_each_document(source, Limits::default(), &mut |doc| {
        extract_document(&doc.root, &mut out);
        ControlFlow::Continue(())
    })?;
    Ok(out)
}

/// Calls `each` with what each document of the YAML stream `reader` holds
/// yields, reading the text as the parser needs it: neither the text nor
/// what it yields is held whole, so a manifest file of 100,000 objects
/// costs what its largest object does.
pub fn extract_each_document(reader: &mut dyn Read, each: &mut dyn FnMut(Extraction)) -> Result<(), YamlError> {
    for_each_document_in(reader, Limits::default(), &mut |doc| {
        let mut out = Extraction::default();
        extract_document(&doc.root, &mut out);
        each(out);
        ControlFlow::Continue(())
    })
}

/// Extracts images from one parsed document (and the items of a `*List`).
pub fn extract_document(doc: &Node, out: &mut Extraction) {
    let kind = doc.get("kind").and_then(Node::text).unwrap_or("");
    if kind.ends_with("List")
        && let Some(Value::Seq(items)) = doc.get("items").map(|n| &n.value)
    {
        for item in items {
            extract_document(item, out);
        }
        return;
    }
    let api_version = doc.get("apiVersion").and_then(Node::text).unwrap_or("");
    let name = doc.get("metadata").and_then(|m| m.get("name")).and_then(Node::text).unwrap_or("");
    let object = match (kind, name) {
        ("", _) => String::new(),
        (k, "") => format!("{k} "),
        (k, n) => format!("{k}/{n} "),
    };
    let mut walker = Walker { object, custom: !is_builtin_group(api_version), out };
    walker.walk(doc, &mut Vec::new(), true);
}

/// Whether `apiVersion` belongs to Kubernetes itself: the core group, the
/// dot-less groups (`apps`, `batch`, `policy`…) and `*.k8s.io`.
fn is_builtin_group(api_version: &str) -> bool {
    if api_version.is_empty() {
        return false;
    }
    match api_version.split_once('/') {
        None => true,
        Some((group, _)) => !group.contains('.') || group.ends_with(".k8s.io"),
    }
}

const POD_CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

fn is_image_key(key: &str) -> bool {
    key == "image" || key == "images" || key.ends_with("Image") || key.ends_with("-image") || key.ends_with("_image")
}

/// One step of a field path, borrowed from the document so that walking
/// allocates nothing until a value is recorded.
#[derive(Clone, Copy)]
enum Seg<'n> {
    Key(&'n str),
    Index(usize),
}

struct Walker<'a> {
    object: String,
    custom: bool,
    out: &'a mut Extraction,
}

impl Walker<'_> {
    fn walk<'n>(&mut self, node: &'n Node, path: &mut Vec<Seg<'n>>, top: bool) {
        match &node.value {
            Value::Map(entries) => {
                for (k, v) in entries {
                    let Some(key) = k.text() else { continue };
                    if (top && matches!(key, "metadata" | "status")) || matches!(key, "labels" | "annotations") {
                        continue;
                    }
                    path.push(Seg::Key(key));
                    if POD_CONTAINER_LISTS.contains(&key)
                        && let Value::Seq(items) = &v.value
                    {
                        self.containers(items, path);
                    } else if self.custom && key == "baseImage" {
                        self.base_image(v, entries, path);
                    } else if self.custom && is_image_key(key) {
                        self.image_field(key, v, path);
                    } else {
                        self.walk(v, path, false);
                    }
                    path.pop();
                }
            }
            Value::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    path.push(Seg::Index(i));
                    self.walk(item, path, false);
                    path.pop();
                }
            }
            Value::Scalar { .. } => {}
        }
    }

    fn containers<'n>(&mut self, items: &'n [Node], path: &mut Vec<Seg<'n>>) {
        for (i, item) in items.iter().enumerate() {
            path.push(Seg::Index(i));
            if let Value::Map(entries) = &item.value {
                for (k, v) in entries {
                    let Some(key) = k.text() else { continue };
                    path.push(Seg::Key(key));
                    if key == "image" {
                        self.candidate_node(v, path);
                    } else if key == "env"
                        && let Value::Seq(vars) = &v.value
                    {
                        self.image_env(vars, path);
                    } else {
                        self.walk(v, path, false);
                    }
                    path.pop();
                }
            }
            path.pop();
        }
    }

    /// Operators name the images they start in environment variables
    /// (`RELATED_IMAGE_*` by the Operator Lifecycle Manager's convention,
    /// often `*_IMAGE`). Such a value counts when it names a registry, path,
    /// tag or digest, so that flags like `USE_IMAGE=true` are not images.
    fn image_env<'n>(&mut self, vars: &'n [Node], path: &mut Vec<Seg<'n>>) {
        for (i, var) in vars.iter().enumerate() {
            let Some(name) = var.get("name").and_then(Node::text) else { continue };
            if !(name.starts_with("RELATED_IMAGE_") || name.ends_with("_IMAGE")) {
                continue;
            }
            let Some(value) = var.get("value") else { continue };
            let Some(text) = value.text() else { continue };
            path.push(Seg::Index(i));
            path.push(Seg::Key("value"));
            if text.contains(['/', ':', '@']) {
                self.candidate(text, value.line, path);
            } else {
                self.skip(text, value.line, path, format!("{name} holds no registry, path or tag"));
            }
            path.truncate(path.len() - 2);
        }
    }

    fn image_field<'n>(&mut self, key: &str, node: &'n Node, path: &mut Vec<Seg<'n>>) {
        match &node.value {
            Value::Scalar { .. } => self.candidate_node(node, path),
            Value::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    path.push(Seg::Index(i));
                    match &item.value {
                        Value::Scalar { .. } => self.candidate_node(item, path),
                        _ => self.image_field("image", item, path),
                    }
                    path.pop();
                }
            }
            Value::Map(entries) => {
                if let Some(composed) = compose_repository_map(node) {
                    self.candidate(&composed, node.line, path);
                } else if key == "images" {
                    for (k, v) in entries {
                        let Some(k) = k.text() else { continue };
                        path.push(Seg::Key(k));
                        self.image_field("image", v, path);
                        path.pop();
                    }
                } else {
                    self.walk(node, path, false);
                }
            }
        }
    }

    /// Operators that take a `baseImage` (Prometheus's, for one) start `baseImage:version`, the
    /// `version` a field beside it: an untagged `baseImage` is an image only with that version.
    fn base_image<'n>(&mut self, node: &'n Node, siblings: &'n [(Node, Node)], path: &mut Vec<Seg<'n>>) {
        let Some(text) = node.as_str() else {
            self.image_field("baseImage", node, path);
            return;
        };
        let version = siblings.iter().find(|(k, _)| k.key_string() == "version").and_then(|(_, v)| v.as_str());
        match classify(text) {
            Ok(r) if r.tag.is_some() || r.digest.is_some() => self.candidate(text, node.line, path),
            Ok(_) => match version {
                Some(version) => self.candidate(&format!("{text}:{version}"), node.line, path),
                None => self.skip(
                    text,
                    node.line,
                    path,
                    "a baseImage without a `version` beside it names no image (the operator adds the version)".into(),
                ),
            },
            Err(reason) => self.skip(text, node.line, path, reason),
        }
    }

    fn candidate_node(&mut self, node: &Node, path: &[Seg<'_>]) {
        match &node.value {
            Value::Scalar(serde_json::Value::String(text)) => self.candidate(text, node.line, path),
            Value::Scalar(serde_json::Value::Null) => {}
            // A number or boolean as Kubernetes reads it (`1.20`, `yes`): the API server would refuse it.
            Value::Scalar(_) => self.skip(node.text().unwrap_or_default(), node.line, path, "not a string".into()),
            Value::Map(_) => match compose_repository_map(node) {
                Some(composed) => self.candidate(&composed, node.line, path),
                None => self.skip("<map>", node.line, path, "a map without a `repository` string".into()),
            },
            Value::Seq(_) => self.skip("<list>", node.line, path, "a list where one image was expected".into()),
        }
    }

    fn candidate(&mut self, raw: &str, line: u32, path: &[Seg<'_>]) {
        match classify(raw) {
            Ok(reference) => {
                self.out.found.push(Found { reference, raw: raw.to_string(), field: self.field(path), line })
            }
            Err(reason) => self.skip(raw, line, path, reason),
        }
    }

    fn skip(&mut self, raw: &str, line: u32, path: &[Seg<'_>], reason: String) {
        let field = self.field(path);
        self.out.skipped.push(Skipped { raw: raw.to_string(), field, line, reason });
    }

    fn field(&self, path: &[Seg<'_>]) -> String {
        let mut s = self.object.clone();
        for (i, seg) in path.iter().enumerate() {
            match seg {
                Seg::Key(k) => {
                    if i > 0 {
                        s.push('.');
                    }
                    s.push_str(k);
                }
                Seg::Index(n) => {
                    s.push('[');
                    s.push_str(&n.to_string());
                    s.push(']');
                }
            }
        }
        s
    }
}

/// Composes `[registry/]repository[:tag][@digest]` from a Helm-values style
/// image map; `None` unless `repository` is a non-empty string.
fn compose_repository_map(node: &Node) -> Option<String> {
    let repository = node.get("repository").and_then(Node::text).filter(|s| !s.is_empty())?;
    let mut out = String::new();
    if let Some(registry) = node.get("registry").and_then(Node::text).filter(|s| !s.is_empty()) {
        out.push_str(registry.trim_end_matches('/'));
        out.push('/');
    }
    out.push_str(repository);
    if let Some(tag) = node.get("tag").and_then(Node::text).filter(|s| !s.is_empty()) {
        if tag.starts_with("sha256:") {
            out.push('@');
        } else {
            out.push(':');
        }
        out.push_str(tag);
    }
    if let Some(digest) = node.get("digest").and_then(Node::text).filter(|s| !s.is_empty()) {
        out.push('@');
        out.push_str(digest);
    }
    Some(out)
}

/// Words that are schema types, not image names, when written bare.
const TYPE_NAMES: [&str; 10] =
    ["string", "integer", "int", "number", "float", "boolean", "bool", "object", "array", "null"];

/// Decides whether `raw` is an image reference, or says why not.
pub fn classify(raw: &str) -> Result<Reference, String> {
    if raw.trim().is_empty() {
        return Err("empty value".into());
    }
    if raw.contains("{{")
        || raw.contains("}}")
        || raw.contains("${")
        || raw.contains("<no value>")
        || raw.contains("%!")
    {
        return Err("template leftover".into());
    }
    let bare = !raw.contains(['/', ':', '@']);
    if bare && TYPE_NAMES.contains(&raw) {
        return Err(format!("{raw:?} is a type name, not an image"));
    }
    if bare && raw.contains('.') {
        return Err(format!("{raw:?} looks like a field path, not an image"));
    }
    Reference::parse_normalized(raw).map_err(|e| format!("not an image reference: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn images(src: &str) -> Vec<String> {
        extract_yaml(src).expect("valid yaml").found.iter().map(|f| f.reference.normalized()).collect()
    }

    #[test]
    fn finds_images_in_every_workload_kind() {
        let src = r#"
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  initContainers: [{name: i, image: busybox:1.36}]
  containers: [{name: c, image: nginx}]
  ephemeralContainers: [{name: e, image: "registry.k8s.io/debug:v1"}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: cj}
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers:
            - name: c
              image: quay.io/prometheus/busybox:glibc
---
apiVersion: v1
kind: ReplicationController
metadata: {name: rc}
spec:
  template:
    spec:
      containers:
        - {name: c, image: "gcr.io/google-samples/hello-app:1.0"}
"#;
        assert_eq!(
            images(src),
            [
                "docker.io/library/busybox:1.36",
                "docker.io/library/nginx:latest",
                "registry.k8s.io/debug:v1",
                "quay.io/prometheus/busybox:glibc",
                "gcr.io/google-samples/hello-app:1.0",
            ]
        );
    }

    /// A manifest file of many small documents (a bundle of 130,000 Pods
    /// here, 1,040,000 nodes) is read one document at a time: the node cap
    /// is a document's, not the file's, which refused such a file before.
    #[test]
    fn a_stream_may_hold_more_nodes_than_one_document_may() {
        let pods = "spec: {containers: [{image: nginx:1}]}\n---\n".repeat(130_000);
        let found = extract_yaml(&pods).expect("every document is small").found;
        assert_eq!(found.len(), 130_000);
        assert_eq!(found[129_999].line, 2 * 129_999 + 1);
    }

    #[test]
    fn a_base_image_is_an_image_with_its_version_only() {
        let src = r#"
apiVersion: monitoring.coreos.com/v1
kind: Alertmanager
metadata: {name: main}
spec:
  baseImage: quay.io/prometheus/alertmanager
  version: v0.25.0
---
apiVersion: monitoring.coreos.com/v1
kind: Prometheus
metadata: {name: k8s}
spec:
  baseImage: quay.io/prometheus/prometheus
---
apiVersion: monitoring.coreos.com/v1
kind: ThanosRuler
metadata: {name: t}
spec:
  baseImage: quay.io/thanos/thanos:v0.31.0
"#;
        let out = extract_yaml(src).expect("valid yaml");
        let found: Vec<_> = out.found.iter().map(|f| f.reference.normalized()).collect();
        assert_eq!(found, ["quay.io/prometheus/alertmanager:v0.25.0", "quay.io/thanos/thanos:v0.31.0"]);
        assert_eq!(out.skipped.len(), 1, "{:?}", out.skipped);
        assert_eq!(out.skipped[0].raw, "quay.io/prometheus/prometheus");
        assert!(out.skipped[0].reason.contains("without a `version`"), "{:?}", out.skipped);
    }

    #[test]
    fn finds_images_in_custom_resources() {
        let src = r#"
apiVersion: monitoring.coreos.com/v1
kind: Prometheus
metadata:
  name: k8s
  annotations: {image: "not/this:one"}
spec:
  image: quay.io/prometheus/prometheus:v2.45.0
  configReloaderImage: "quay.io/prometheus-operator/prometheus-config-reloader:v0.66.0"
  images:
    thanos: quay.io/thanos/thanos:v0.31.0
    proxy: {repository: quay.io/oauth2-proxy/oauth2-proxy, tag: v7.5.1}
  sidecars:
    - image: {registry: ghcr.io, repository: acme/sidecar, tag: 1.20}
  extra:
    images: [docker.io/library/redis:7, "string", {repository: docker.io/library/memcached, tag: "1.6"}]
  useCustomImage: true
status:
  image: not/this:either
"#;
        let out = extract_yaml(src).expect("valid yaml");
        let found: Vec<_> = out.found.iter().map(|f| f.reference.normalized()).collect();
        assert_eq!(
            found,
            [
                "quay.io/prometheus/prometheus:v2.45.0",
                "quay.io/prometheus-operator/prometheus-config-reloader:v0.66.0",
                "quay.io/thanos/thanos:v0.31.0",
                "quay.io/oauth2-proxy/oauth2-proxy:v7.5.1",
                "ghcr.io/acme/sidecar:1.20",
                "docker.io/library/redis:7",
                "docker.io/library/memcached:1.6",
            ]
        );
        assert_eq!(out.found[4].field, "Prometheus/k8s spec.sidecars[0].image");
        let reasons: Vec<_> = out.skipped.iter().map(|s| (s.raw.as_str(), s.field.as_str())).collect();
        assert_eq!(
            reasons,
            [("string", "Prometheus/k8s spec.extra.images[1]"), ("true", "Prometheus/k8s spec.useCustomImage")]
        );
    }

    #[test]
    fn reads_byte_order_marks_and_crlf_line_ends() {
        let src = "\u{feff}apiVersion: v1\r\nkind: Pod\r\nspec:\r\n  containers:\r\n    - image: nginx:1.25\r\n";
        assert_eq!(images(src), ["docker.io/library/nginx:1.25"]);
    }

    #[test]
    fn operator_image_variables_count() {
        let src = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: operator}
spec:
  template:
    spec:
      containers:
        - name: manager
          image: quay.io/acme/operator:v1.2.0
          env:
            - {name: RELATED_IMAGE_DB, value: "quay.io/acme/db:15@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa"}
            - {name: AGENT_IMAGE, value: quay.io/acme/agent:v1.2.0}
            - {name: USE_IMAGE, value: "true"}
            - {name: LOG_LEVEL, value: quay.io/not/an-image-var:1}
            - {name: SIDECAR_IMAGE, valueFrom: {configMapKeyRef: {name: x, key: y}}}
"#;
        let out = extract_yaml(src).expect("valid yaml");
        let found: Vec<_> = out.found.iter().map(|f| f.reference.normalized()).collect();
        assert_eq!(
            found,
            [
                "quay.io/acme/operator:v1.2.0",
                "quay.io/acme/db:15@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa",
                "quay.io/acme/agent:v1.2.0",
            ]
        );
        assert_eq!(out.found[2].field, "Deployment/operator spec.template.spec.containers[0].env[1].value");
        assert_eq!(out.skipped.len(), 1);
        assert_eq!(out.skipped[0].raw, "true");
    }

    #[test]
    fn builtin_kinds_only_give_pod_spec_images() {
        let src = r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: cm}
data:
  image: nginx:1.0
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: crd}
spec:
  versions:
    - schema:
        openAPIV3Schema:
          properties:
            image: {type: string}
"#;
        assert!(images(src).is_empty());
    }

    #[test]
    fn skips_template_leftovers_and_placeholders_with_reasons() {
        let src = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec:
  template:
    spec:
      containers:
        - {name: a, image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"}
        - {name: b, image: parameter.image}
        - {name: c, image: string}
        - {name: d, image: ""}
        - {name: e, image: "repo:<no value>"}
        - {name: f, image: "Bad Image"}
        - {name: g, image: nginx:1.25}
"#;
        let out = extract_yaml(src).expect("valid yaml");
        assert_eq!(out.found.len(), 1);
        assert_eq!(out.found[0].reference.normalized(), "docker.io/library/nginx:1.25");
        assert_eq!(out.found[0].line, 15);
        let reasons: Vec<_> = out.skipped.iter().map(|s| s.reason.as_str()).collect();
        assert_eq!(reasons[0], "template leftover");
        assert!(reasons[1].contains("field path"), "{reasons:?}");
        assert!(reasons[2].contains("type name"), "{reasons:?}");
        assert_eq!(reasons[3], "empty value");
        assert_eq!(reasons[4], "template leftover");
        assert!(reasons[5].starts_with("not an image reference"), "{reasons:?}");
        assert_eq!(out.skipped[1].field, "Deployment/d spec.template.spec.containers[1].image");
        assert_eq!(out.skipped[1].line, 10);
    }

    #[test]
    fn walks_list_items_and_embedded_pod_templates() {
        let src = r#"
apiVersion: v1
kind: List
items:
  - apiVersion: argoproj.io/v1alpha1
    kind: Rollout
    metadata: {name: r}
    spec:
      template:
        spec:
          containers: [{name: c, image: "argoproj/rollouts-demo:blue"}]
"#;
        assert_eq!(images(src), ["docker.io/argoproj/rollouts-demo:blue"]);
    }
}
