//! `.Capabilities` as `helm template` reports it without a cluster.

use std::collections::BTreeMap;

use sealbox_render::engine::Value;

use super::render::HELM_VERSION;

/// The API group versions helm 3.17.1 assumes offline (its client
/// library's scheme), in the order it lists them; kinds are not included,
/// so `.Capabilities.APIVersions.Has "apps/v1/Deployment"` is false, as in
/// helm.
const GROUP_VERSIONS: [&str; 56] = [
    "v1",
    "admissionregistration.k8s.io/v1",
    "admissionregistration.k8s.io/v1alpha1",
    "admissionregistration.k8s.io/v1beta1",
    "internal.apiserver.k8s.io/v1alpha1",
    "apps/v1",
    "apps/v1beta1",
    "apps/v1beta2",
    "authentication.k8s.io/v1",
    "authentication.k8s.io/v1alpha1",
    "authentication.k8s.io/v1beta1",
    "authorization.k8s.io/v1",
    "authorization.k8s.io/v1beta1",
    "autoscaling/v1",
    "autoscaling/v2",
    "autoscaling/v2beta1",
    "autoscaling/v2beta2",
    "batch/v1",
    "batch/v1beta1",
    "certificates.k8s.io/v1",
    "certificates.k8s.io/v1beta1",
    "certificates.k8s.io/v1alpha1",
    "coordination.k8s.io/v1alpha2",
    "coordination.k8s.io/v1beta1",
    "coordination.k8s.io/v1",
    "discovery.k8s.io/v1",
    "discovery.k8s.io/v1beta1",
    "events.k8s.io/v1",
    "events.k8s.io/v1beta1",
    "extensions/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1",
    "flowcontrol.apiserver.k8s.io/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1beta2",
    "flowcontrol.apiserver.k8s.io/v1beta3",
    "networking.k8s.io/v1",
    "networking.k8s.io/v1alpha1",
    "networking.k8s.io/v1beta1",
    "node.k8s.io/v1",
    "node.k8s.io/v1alpha1",
    "node.k8s.io/v1beta1",
    "policy/v1",
    "policy/v1beta1",
    "rbac.authorization.k8s.io/v1",
    "rbac.authorization.k8s.io/v1beta1",
    "rbac.authorization.k8s.io/v1alpha1",
    "resource.k8s.io/v1beta1",
    "resource.k8s.io/v1alpha3",
    "scheduling.k8s.io/v1alpha1",
    "scheduling.k8s.io/v1beta1",
    "scheduling.k8s.io/v1",
    "storage.k8s.io/v1beta1",
    "storage.k8s.io/v1",
    "storage.k8s.io/v1alpha1",
    "storagemigration.k8s.io/v1alpha1",
    "apiextensions.k8s.io/v1beta1",
    "apiextensions.k8s.io/v1",
];

/// `.Capabilities` for Kubernetes `kube_version` (`v1.32.0`).
pub fn capabilities(kube_version: &str) -> Value {
    let versions = GROUP_VERSIONS.iter().map(|s| Value::String((*s).to_string())).collect();
    let mut parts = kube_version.trim_start_matches('v').split('.');
    let major = parts.next().unwrap_or("1").to_string();
    let minor = parts.next().unwrap_or("0").to_string();
    Value::map(BTreeMap::from([
        (
            "KubeVersion".to_string(),
            Value::map(BTreeMap::from([
                ("Version".to_string(), Value::String(kube_version.into())),
                ("GitVersion".to_string(), Value::String(kube_version.into())),
                ("Major".to_string(), Value::String(major)),
                ("Minor".to_string(), Value::String(minor)),
            ])),
        ),
        ("APIVersions".to_string(), Value::list(versions)),
        (
            "HelmVersion".to_string(),
            Value::map(BTreeMap::from([("Version".to_string(), Value::String(HELM_VERSION.into()))])),
        ),
    ]))
}
