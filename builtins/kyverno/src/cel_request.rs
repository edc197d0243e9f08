//! The admission request CEL policies see offline: `object`, `oldObject`,
//! `request` and `namespaceObject`, built as Kyverno's CLI builds them.

use serde_json::{Value, json};

use crate::cel::Activation;
use crate::cel_match;
use crate::resource::Resource;

/// The admission request a CEL policy sees, offline.
pub struct CelRequest<'a> {
    pub resource: &'a Resource,
    pub operation: &'a str,
    pub namespace_labels: Option<&'a serde_json::Map<String, Value>>,
    pub user: Option<&'a crate::matching::UserInfo>,
    /// The values file's Namespace object for the resource's namespace.
    pub namespace_object: Option<&'a Value>,
    /// ClusterPolicy CEL sees a name-only Namespace stub (no cluster to ask).
    pub namespace_stub: bool,
}

impl CelRequest<'_> {
    /// Binds `object`, `oldObject`, `request` and `namespaceObject` (only
    /// `object` in JSON mode).
    pub fn bind(&self, act: &mut Activation, json_mode: bool) {
        let r = self.resource;
        // Kyverno's CLI puts a namespaced resource without a namespace in
        // `default`, and CEL sees it there.
        let defaulted;
        let value = if !json_mode && r.namespace().is_empty() && !cel_match::is_cluster_scoped(r.kind()) {
            let mut v = r.value.clone();
            if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
                meta.insert("namespace".into(), Value::String("default".into()));
            }
            defaulted = v;
            &defaulted
        } else {
            &r.value
        };
        let delete = self.operation == "DELETE";
        act.bind_json("object", if delete { &Value::Null } else { value });
        if json_mode {
            return;
        }
        let old = if matches!(self.operation, "UPDATE" | "DELETE") { value } else { &Value::Null };
        act.bind_json("oldObject", old);
        act.bind_json("request", &self.request_json());
        act.bind_json("namespaceObject", &self.namespace_object());
    }

    fn namespace(&self) -> &str {
        let ns = self.resource.namespace();
        if ns.is_empty() && !cel_match::is_cluster_scoped(self.resource.kind()) { "default" } else { ns }
    }

    fn request_json(&self) -> Value {
        let r = self.resource;
        let (group, version) = r.group_version();
        let resource = cel_match::resource_of_kind(r.kind());
        let mut user = json!({});
        if let Some(u) = self.user {
            user = json!({"username": u.username, "groups": u.groups});
        }
        json!({
            "operation": self.operation,
            "name": r.name(),
            "namespace": self.namespace(),
            "kind": {"group": group, "version": version, "kind": r.kind()},
            "resource": {"group": group, "version": version, "resource": resource},
            "requestKind": {"group": group, "version": version, "kind": r.kind()},
            "requestResource": {"group": group, "version": version, "resource": resource},
            "userInfo": user,
            "dryRun": false,
        })
    }

    /// The resource's Namespace: named, with the values file's labels;
    /// null for cluster-scoped resources and when nothing is known of it.
    fn namespace_object(&self) -> Value {
        if cel_match::is_cluster_scoped(self.resource.kind()) {
            return Value::Null;
        }
        if self.namespace_stub {
            return json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.namespace()}});
        }
        if let Some(ns) = self.namespace_object {
            return ns.clone();
        }
        match self.namespace_labels {
            Some(labels) => json!({"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": self.namespace(), "labels": labels}}),
            None => Value::Null,
        }
    }
}
