//! The `images` context variable: every container image of a Pod or pod
//! template, broken into registry, path, name, tag and digest as Kyverno does.

use serde_json::{Map, Value, json};

/// The parts of an image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    pub registry: String,
    pub path: String,
    pub name: String,
    pub tag: String,
    pub digest: String,
}

impl ImageInfo {
    /// Parses `image`, defaulting the registry to `docker.io` and the tag to `latest`.
    pub fn parse(image: &str) -> Option<ImageInfo> {
        if image.is_empty() || image.contains(char::is_whitespace) {
            return None;
        }
        let (rest, digest) = match image.split_once('@') {
            Some((r, d)) => (r, d.to_string()),
            None => (image, String::new()),
        };
        let (repo, tag) = match rest.rfind(':') {
            Some(i) if !rest[i..].contains('/') => (&rest[..i], rest[i + 1..].to_string()),
            _ => (rest, String::new()),
        };
        let (registry, path) = match repo.split_once('/') {
            Some((first, p)) if first.contains('.') || first.contains(':') || first == "localhost" => {
                (first.to_string(), p.to_string())
            }
            _ => ("docker.io".to_string(), repo.to_string()),
        };
        if path.is_empty() {
            return None;
        }
        let name = path.rsplit('/').next().unwrap_or(&path).to_string();
        let tag = if tag.is_empty() && digest.is_empty() { "latest".to_string() } else { tag };
        Some(ImageInfo { registry, path, name, tag, digest })
    }

    fn to_json(&self) -> Value {
        let base = format!("{}/{}", self.registry, self.path);
        let reference =
            if self.digest.is_empty() { format!("{base}:{}", self.tag) } else { format!("{base}@{}", self.digest) };
        let with_tag = if self.tag.is_empty() { base.clone() } else { format!("{base}:{}", self.tag) };
        json!({
            "registry": self.registry, "path": self.path, "name": self.name, "tag": self.tag,
            "digest": self.digest, "reference": reference, "referenceWithTag": with_tag,
        })
    }
}

/// Where the pod spec sits in a resource of `kind`.
fn pod_spec<'a>(kind: &str, resource: &'a Value) -> Option<&'a Value> {
    match kind {
        "Pod" => resource.get("spec"),
        "CronJob" => resource.pointer("/spec/jobTemplate/spec/template/spec"),
        _ => resource.pointer("/spec/template/spec"),
    }
}

/// The `images` document for `resource`, or `None` when it has no containers.
pub fn images_context(resource: &Value) -> Option<Value> {
    let kind = resource.get("kind").and_then(Value::as_str).unwrap_or("");
    let spec = pod_spec(kind, resource)?;
    let mut out = Map::new();
    for section in ["containers", "initContainers", "ephemeralContainers"] {
        let Some(Value::Array(containers)) = spec.get(section) else { continue };
        let mut by_name = Map::new();
        for c in containers {
            let (Some(name), Some(image)) =
                (c.get("name").and_then(Value::as_str), c.get("image").and_then(Value::as_str))
            else {
                continue;
            };
            if let Some(info) = ImageInfo::parse(image) {
                by_name.insert(name.to_string(), info.to_json());
            }
        }
        if !by_name.is_empty() {
            out.insert(section.to_string(), Value::Object(by_name));
        }
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_references() {
        let i = ImageInfo::parse("nginx").unwrap();
        assert_eq!((i.registry.as_str(), i.path.as_str(), i.tag.as_str()), ("docker.io", "nginx", "latest"));
        let i = ImageInfo::parse("ghcr.io/kyverno/kyverno:v1.9@sha256:abc").unwrap();
        assert_eq!((i.registry.as_str(), i.path.as_str(), i.name.as_str()), ("ghcr.io", "kyverno/kyverno", "kyverno"));
        assert_eq!((i.tag.as_str(), i.digest.as_str()), ("v1.9", "sha256:abc"));
        let i = ImageInfo::parse("localhost:5000/app").unwrap();
        assert_eq!(i.registry, "localhost:5000");
    }
}
