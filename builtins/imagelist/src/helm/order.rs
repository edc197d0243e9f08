//! `helm template`'s output text: the rendered templates split into YAML
//! documents, ordinary documents sorted by kind in helm's install order,
//! then hooks, each under `---` and `# Source: NAME`, with the chart's CRDs
//! first when asked (`--include-crds`). Follows helm 3.17's
//! `releaseutil.SortManifests`, `action.renderResources` and `helm
//! template`'s printing, so the text can be compared byte for byte.

use serde_json::Value as Json;

use super::{ChartError, RenderedManifest};

/// Kinds in the order helm installs them (helm's `InstallOrder`); kinds not
/// listed come after, alphabetically.
pub const INSTALL_ORDER: &[&str] = &[
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
];

/// The hook events helm knows; a document naming another is dropped.
const HOOK_EVENTS: &[&str] = &[
    "pre-install",
    "post-install",
    "pre-delete",
    "post-delete",
    "pre-upgrade",
    "post-upgrade",
    "pre-rollback",
    "post-rollback",
    "test",
    "test-success",
];

/// One document of the output, under its template's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// The `# Source:` name.
    pub name: String,
    /// The document, trimmed as helm trims it.
    pub content: String,
    /// Its `kind`, empty when it has none.
    pub kind: String,
}

/// A chart's CRD file, printed whole (`--include-crds`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crd {
    /// `chart/crds/x.yaml` (with `charts/sub/` for a sub-chart's).
    pub name: String,
    /// The file's text.
    pub text: String,
}

/// The text `helm template` prints for `manifests` (in template-name
/// order) and `crds`.
pub fn template_output(manifests: &[RenderedManifest], crds: &[Crd]) -> Result<String, ChartError> {
    let (generic, hooks) = sort_manifests(manifests)?;
    let mut main = String::new();
    for crd in crds {
        main.push_str(&format!("---\n# Source: {}\n{}\n", crd.name, crd.text));
    }
    for d in &generic {
        main.push_str(&format!("---\n# Source: {}\n{}\n", d.name, d.content));
    }
    let mut out = format!("{}\n", main.trim());
    for h in &hooks {
        out.push_str(&format!("---\n# Source: {}\n{}\n", h.name, h.content));
    }
    Ok(out)
}

/// The ordinary documents and the hooks, each sorted by kind (stable), as
/// helm's `SortManifests` returns them.
pub fn sort_manifests(manifests: &[RenderedManifest]) -> Result<(Vec<Document>, Vec<Document>), ChartError> {
    let mut sorted: Vec<&RenderedManifest> = manifests.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let (mut generic, mut hooks) = (Vec::new(), Vec::new());
    for m in sorted {
        let base = m.name.rsplit('/').next().unwrap_or_default();
        if base.starts_with('_') || m.text.trim().is_empty() {
            continue;
        }
        for content in split_manifests(&m.text) {
            let head = head(&content).map_err(|message| ChartError {
                file: Some(m.template.clone()),
                line: None,
                message: format!("YAML parse error on {}: {message}", m.name),
            })?;
            let kind = head.get("kind").map(scalar_text).unwrap_or_default();
            let doc = Document { name: m.name.clone(), content, kind };
            match head.pointer("/metadata/annotations/helm.sh~1hook").map(scalar_text).as_deref() {
                None => generic.push(doc),
                Some(events) => {
                    let known = events.split(',').all(|e| HOOK_EVENTS.contains(&e.trim().to_lowercase().as_str()));
                    if known {
                        hooks.push(doc);
                    }
                }
            }
        }
    }
    generic.sort_by(|a, b| by_kind(&a.kind, &b.kind));
    hooks.sort_by(|a, b| by_kind(&a.kind, &b.kind));
    Ok((generic, hooks))
}

/// helm's `lessByKind` as an ordering: known kinds by install order,
/// unknown ones after, alphabetically (a stable sort keeps the rest).
fn by_kind(a: &str, b: &str) -> std::cmp::Ordering {
    let pos = |k: &str| INSTALL_ORDER.iter().position(|o| *o == k);
    match (pos(a), pos(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

/// helm's `SplitManifests`: the text trimmed, split where a line starts
/// with `---` (the separator eats the whitespace around it), each piece
/// trimmed, empty pieces dropped.
pub fn split_manifests(text: &str) -> Vec<String> {
    let text = text.trim();
    let mut docs = Vec::new();
    let mut start = 0;
    let mut i = 0;
    let bytes = text.as_bytes();
    // A separator is `---` at the very start, or after a newline (with any
    // whitespace before that newline), followed by any whitespace.
    while i < bytes.len() {
        let at_start = i == 0 && text.starts_with("---");
        let after_newline = bytes[i] == b'\n' && text[i + 1..].starts_with("---");
        if at_start || after_newline {
            let mut cut = i;
            while cut > start && text[..cut].ends_with(|c: char| c.is_ascii_whitespace()) {
                cut -= 1;
            }
            docs.push(&text[start..cut]);
            let mut next = if at_start { 3 } else { i + 4 };
            while next < bytes.len() && bytes[next].is_ascii_whitespace() {
                next += 1;
            }
            start = next;
            i = next;
            continue;
        }
        i += 1;
    }
    docs.push(&text[start..]);
    docs.into_iter().filter(|d| !d.is_empty()).map(|d| d.trim().to_string()).collect()
}

/// The document's head (`kind`, `metadata`) as helm's `SimpleHead` reads
/// it: a map or nothing; another value is an error, as in helm.
fn head(content: &str) -> Result<Json, String> {
    let docs = crate::yaml::load_json(content).map_err(|e| format!("line {}: {}", e.line, e.message))?;
    let head = match docs.into_iter().next() {
        None | Some(Json::Null) => return Ok(Json::Null),
        Some(v @ Json::Object(_)) => v,
        Some(other) => return Err(format!("cannot unmarshal {} into a manifest head", kind_name(&other))),
    };
    // helm's reader turns scalars into the strings its `SimpleHead` wants,
    // and refuses a list or map for apiVersion, kind, metadata.name or an
    // annotation, and a metadata that is not a map.
    let scalar = |v: Option<&Json>| !matches!(v, Some(Json::Array(_) | Json::Object(_)));
    let fits = scalar(head.get("apiVersion"))
        && scalar(head.get("kind"))
        && match head.get("metadata") {
            None | Some(Json::Null) => true,
            Some(Json::Object(m)) => {
                scalar(m.get("name"))
                    && match m.get("annotations") {
                        None | Some(Json::Null) => true,
                        Some(Json::Object(a)) => a.values().all(|v| scalar(Some(v))),
                        Some(_) => false,
                    }
            }
            Some(_) => false,
        };
    if fits { Ok(head) } else { Err("apiVersion, kind, metadata.name and annotations must be scalars".into()) }
}

/// A scalar as the string helm's reader makes of it (null is empty).
fn scalar_text(v: &Json) -> String {
    match v {
        Json::Null => String::new(),
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn kind_name(v: &Json) -> &'static str {
    match v {
        Json::Array(_) => "array",
        Json::String(_) => "string",
        Json::Number(_) => "number",
        Json::Bool(_) => "bool",
        _ => "value",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(name: &str, text: &str) -> RenderedManifest {
        RenderedManifest { name: name.into(), template: name.into(), text: text.into(), lookup: false }
    }

    #[test]
    fn splits_like_helm() {
        assert_eq!(split_manifests("\n---\na: 1\n  \n---  \nb: 2\n---\n"), ["a: 1", "b: 2"]);
        assert_eq!(split_manifests("a: 1\n--- # c\nb: 2"), ["a: 1", "# c\nb: 2"]);
        assert_eq!(split_manifests("   \n"), Vec::<String>::new());
    }

    #[test]
    fn orders_by_kind_then_hooks() {
        let out = template_output(
            &[
                m("c/templates/b.yaml", "kind: Deployment\n---\nkind: Zeta\n---\nkind: Alpha\n"),
                m("c/templates/a.yaml", "kind: Service\n---\nkind: ConfigMap\n"),
                m(
                    "c/templates/h.yaml",
                    "kind: Job\nmetadata:\n  annotations:\n    helm.sh/hook: pre-install\n---\nkind: Pod\nmetadata:\n  annotations:\n    helm.sh/hook: nope\n",
                ),
            ],
            &[Crd { name: "c/crds/x.yaml".into(), text: "kind: CustomResourceDefinition\n".into() }],
        )
        .expect("valid");
        let kinds: Vec<&str> = out.lines().filter(|l| l.starts_with("kind:")).collect();
        assert_eq!(
            kinds,
            [
                "kind: CustomResourceDefinition",
                "kind: ConfigMap",
                "kind: Service",
                "kind: Deployment",
                "kind: Alpha",
                "kind: Zeta",
                "kind: Job"
            ]
        );
        assert!(out.starts_with("---\n# Source: c/crds/x.yaml\nkind: CustomResourceDefinition\n\n---\n"), "{out}");
        assert!(template_output(&[m("c/templates/s.yaml", "just text")], &[]).is_err());
        let weight = "kind: Job\nmetadata:\n  annotations:\n    helm.sh/hook-weight: 5\n";
        assert!(template_output(&[m("c/templates/j.yaml", weight)], &[]).is_ok(), "a number reads as a string");
        let map = "kind: Job\nmetadata:\n  annotations:\n    x: {a: 1}\n";
        assert!(template_output(&[m("c/templates/j.yaml", map)], &[]).is_err(), "helm refuses a map");
        assert!(template_output(&[m("c/templates/j.yaml", "kind: [Job]\n")], &[]).is_err());
    }
}
