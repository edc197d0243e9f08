//! `validate.podSecurity`: the Kubernetes Pod Security Standards checks
//! (baseline and restricted, latest version) over a pod spec, with
//! Kyverno's `exclude` entries by control name and container images.
//! Exclusions by `restrictedField`/`values` are reported as unsupported.

use serde_json::Value;

use sealbox_formats::glob;

/// A PSS control that a pod or container violates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub control: &'static str,
    /// The offending container's image; `None` for pod-level fields.
    pub image: Option<String>,
    pub detail: String,
}

const BASELINE_CAPS: [&str; 13] = [
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];
const SAFE_SYSCTLS: [&str; 10] = [
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];
const SELINUX_TYPES: [&str; 5] = ["", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"];
const RESTRICTED_VOLUMES: [&str; 8] =
    ["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"];

/// The pod spec and metadata of a Pod or pod controller (CronJob included).
pub fn pod_template(resource: &Value) -> Option<(&Value, &Value)> {
    let kind = resource.get("kind").and_then(Value::as_str).unwrap_or("");
    let base = match kind {
        "Pod" => Some(resource),
        "CronJob" => resource.pointer("/spec/jobTemplate/spec/template"),
        _ => resource.pointer("/spec/template"),
    }?;
    let spec = base.get("spec")?;
    static EMPTY: Value = Value::Null;
    Some((spec, base.get("metadata").unwrap_or(&EMPTY)))
}

fn containers(spec: &Value) -> impl Iterator<Item = &Value> {
    ["initContainers", "containers", "ephemeralContainers"]
        .into_iter()
        .flat_map(move |k| spec.get(k).and_then(Value::as_array).into_iter().flatten())
}

fn s<'a>(v: &'a Value, ptr: &str) -> Option<&'a str> {
    v.pointer(ptr).and_then(Value::as_str)
}

fn b(v: &Value, ptr: &str) -> Option<bool> {
    v.pointer(ptr).and_then(Value::as_bool)
}

/// Every violation of `level` (`baseline` or `restricted`) in the pod.
pub fn violations(level: &str, spec: &Value, metadata: &Value) -> Vec<Violation> {
    let mut out = Vec::new();
    let pod = |control: &'static str, detail: String| Violation { control, image: None, detail };
    let ctr = |control: &'static str, c: &Value, detail: String| Violation {
        control,
        image: Some(c.get("image").and_then(Value::as_str).unwrap_or("").to_string()),
        detail,
    };
    let name = |c: &Value| c.get("name").and_then(Value::as_str).unwrap_or("").to_string();
    if level == "privileged" {
        return out;
    }
    // Baseline.
    if b(spec, "/securityContext/windowsOptions/hostProcess") == Some(true) {
        out.push(pod("HostProcess", "securityContext.windowsOptions.hostProcess=true".into()));
    }
    for f in ["hostNetwork", "hostPID", "hostIPC"] {
        if spec.get(f).and_then(Value::as_bool) == Some(true) {
            out.push(pod("Host Namespaces", format!("{f}=true")));
        }
    }
    for v in spec.get("volumes").and_then(Value::as_array).into_iter().flatten() {
        if v.get("hostPath").is_some() {
            out.push(pod("HostPath Volumes", format!("volume {} uses hostPath", name(v))));
        }
    }
    if let Some(Value::Object(ann)) = metadata.get("annotations") {
        for (k, v) in ann {
            let v = v.as_str().unwrap_or("");
            if k.starts_with("container.apparmor.security.beta.kubernetes.io/")
                && v != "runtime/default"
                && !v.starts_with("localhost/")
            {
                out.push(pod("AppArmor", format!("annotation {k}={v}")));
            }
        }
    }
    if s(spec, "/securityContext/appArmorProfile/type") == Some("Unconfined") {
        out.push(pod("AppArmor", "securityContext.appArmorProfile.type=Unconfined".into()));
    }
    let selinux_bad = |sc: Option<&Value>| {
        sc.and_then(|x| x.get("seLinuxOptions")).is_some_and(|o| {
            !SELINUX_TYPES.contains(&o.get("type").and_then(Value::as_str).unwrap_or(""))
                || !o.get("user").and_then(Value::as_str).unwrap_or("").is_empty()
                || !o.get("role").and_then(Value::as_str).unwrap_or("").is_empty()
        })
    };
    if selinux_bad(spec.get("securityContext")) {
        out.push(pod("SELinux", "securityContext.seLinuxOptions".into()));
    }
    if s(spec, "/securityContext/seccompProfile/type") == Some("Unconfined") {
        out.push(pod("Seccomp", "securityContext.seccompProfile.type=Unconfined".into()));
    }
    for sysctl in spec.pointer("/securityContext/sysctls").and_then(Value::as_array).into_iter().flatten() {
        let n = sysctl.get("name").and_then(Value::as_str).unwrap_or("");
        if !SAFE_SYSCTLS.contains(&n) {
            out.push(pod("Sysctls", format!("sysctl {n}")));
        }
    }
    for c in containers(spec) {
        let sc = c.get("securityContext");
        let n = name(c);
        if b(c, "/securityContext/windowsOptions/hostProcess") == Some(true) {
            out.push(ctr("HostProcess", c, format!("container {n} hostProcess=true")));
        }
        if b(c, "/securityContext/privileged") == Some(true) {
            out.push(ctr("Privileged Containers", c, format!("container {n} privileged=true")));
        }
        let adds: Vec<&str> = c
            .pointer("/securityContext/capabilities/add")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if let Some(bad) = adds.iter().find(|a| !BASELINE_CAPS.contains(a)) {
            out.push(ctr("Capabilities", c, format!("container {n} adds {bad}")));
        }
        for p in c.get("ports").and_then(Value::as_array).into_iter().flatten() {
            if p.get("hostPort").and_then(Value::as_i64).is_some_and(|h| h != 0) {
                out.push(ctr("Host Ports", c, format!("container {n} uses a hostPort")));
            }
        }
        if s(c, "/securityContext/appArmorProfile/type") == Some("Unconfined") {
            out.push(ctr("AppArmor", c, format!("container {n} appArmorProfile Unconfined")));
        }
        if selinux_bad(sc) {
            out.push(ctr("SELinux", c, format!("container {n} seLinuxOptions")));
        }
        if s(c, "/securityContext/procMount").is_some_and(|p| p != "Default") {
            out.push(ctr("/proc Mount Type", c, format!("container {n} procMount")));
        }
        if s(c, "/securityContext/seccompProfile/type") == Some("Unconfined") {
            out.push(ctr("Seccomp", c, format!("container {n} seccompProfile Unconfined")));
        }
    }
    if level != "restricted" {
        return out;
    }
    // Restricted.
    let windows = s(spec, "/os/name") == Some("windows");
    for v in spec.get("volumes").and_then(Value::as_array).into_iter().flatten() {
        let allowed =
            v.as_object().is_some_and(|m| m.keys().all(|k| k == "name" || RESTRICTED_VOLUMES.contains(&k.as_str())));
        if !allowed {
            out.push(pod("Volume Types", format!("volume {} has a restricted type", name(v))));
        }
    }
    let pod_non_root = b(spec, "/securityContext/runAsNonRoot");
    if pod_non_root == Some(false) {
        out.push(pod("Running as Non-root", "securityContext.runAsNonRoot=false".into()));
    }
    if spec.pointer("/securityContext/runAsUser").and_then(Value::as_i64) == Some(0) {
        out.push(pod("Running as Non-root user", "securityContext.runAsUser=0".into()));
    }
    let pod_seccomp = s(spec, "/securityContext/seccompProfile/type");
    let seccomp_ok = |t: Option<&str>| matches!(t, Some("RuntimeDefault" | "Localhost"));
    for c in containers(spec) {
        let n = name(c);
        if !windows && b(c, "/securityContext/allowPrivilegeEscalation") != Some(false) {
            out.push(ctr("Privilege Escalation", c, format!("container {n} must set allowPrivilegeEscalation=false")));
        }
        match b(c, "/securityContext/runAsNonRoot") {
            Some(false) => out.push(ctr("Running as Non-root", c, format!("container {n} runAsNonRoot=false"))),
            None if pod_non_root != Some(true) => {
                out.push(ctr("Running as Non-root", c, format!("container {n} must set runAsNonRoot=true")))
            }
            _ => {}
        }
        if c.pointer("/securityContext/runAsUser").and_then(Value::as_i64) == Some(0) {
            out.push(ctr("Running as Non-root user", c, format!("container {n} runAsUser=0")));
        }
        if !windows {
            let t = s(c, "/securityContext/seccompProfile/type");
            let ok = match t {
                Some(_) => seccomp_ok(t),
                None => seccomp_ok(pod_seccomp),
            };
            if !ok && t != Some("Unconfined") {
                out.push(ctr(
                    "Seccomp",
                    c,
                    format!("container {n} must set seccompProfile RuntimeDefault or Localhost"),
                ));
            }
            let drops: Vec<&str> = c
                .pointer("/securityContext/capabilities/drop")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if !drops.contains(&"ALL") {
                out.push(ctr("Capabilities", c, format!("container {n} must drop ALL capabilities")));
            }
            let adds = c.pointer("/securityContext/capabilities/add").and_then(Value::as_array);
            if adds.into_iter().flatten().filter_map(Value::as_str).any(|a| a != "NET_BIND_SERVICE") {
                out.push(ctr("Capabilities", c, format!("container {n} may only add NET_BIND_SERVICE")));
            }
        }
    }
    out
}

/// Removes the violations an exclusion covers: by control name for
/// pod-level fields (no `images`), and per container image otherwise.
pub fn apply_exclusions(violations: Vec<Violation>, exclude: &[Value]) -> Result<Vec<Violation>, String> {
    for e in exclude {
        if e.get("restrictedField").is_some() || e.get("values").is_some() {
            return Err("podSecurity exclusions by restrictedField/values are not supported yet".into());
        }
    }
    Ok(violations
        .into_iter()
        .filter(|v| {
            !exclude.iter().any(|e| {
                let control = e.get("controlName").and_then(Value::as_str).unwrap_or("");
                if !control.eq_ignore_ascii_case(v.control) {
                    return false;
                }
                let images = e.get("images").and_then(Value::as_array);
                match (&v.image, images) {
                    (None, None) => true,
                    (Some(image), Some(list)) => {
                        list.iter().filter_map(Value::as_str).any(|p| glob::wildcard(p, image))
                    }
                    _ => false,
                }
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn controls(level: &str, pod: Value) -> Vec<&'static str> {
        let (spec, meta) = pod_template(&pod).unwrap();
        violations(level, spec, meta).into_iter().map(|v| v.control).collect()
    }

    #[test]
    fn baseline_and_restricted() {
        let good = json!({"kind": "Pod", "spec": {"securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "c", "image": "x", "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}]}});
        assert!(controls("restricted", good.clone()).is_empty());
        let bad = json!({"kind": "Pod", "spec": {"hostNetwork": true, "volumes": [{"name": "h", "hostPath": {"path": "/"}}],
            "containers": [{"name": "c", "image": "x", "securityContext": {"privileged": true, "capabilities": {"add": ["SYS_ADMIN"]}}}]}});
        assert_eq!(
            controls("baseline", bad.clone()),
            ["Host Namespaces", "HostPath Volumes", "Privileged Containers", "Capabilities"]
        );
        assert!(controls("restricted", bad).contains(&"Privilege Escalation"));
        let deploy = json!({"kind": "Deployment", "spec": {"template": {"spec": {"hostPID": true, "containers": []}}}});
        assert_eq!(controls("baseline", deploy), ["Host Namespaces"]);
    }

    #[test]
    fn exclusions_by_control_and_image() {
        let pod = json!({"kind": "Pod", "spec": {"securityContext": {"seccompProfile": {"type": "Unconfined"}},
            "containers": [{"name": "c", "image": "nginx", "securityContext": {"seccompProfile": {"type": "Unconfined"}}}]}});
        let (spec, meta) = pod_template(&pod).unwrap();
        let v = violations("baseline", spec, meta);
        assert_eq!(v.len(), 2);
        let pod_only = apply_exclusions(v.clone(), &[json!({"controlName": "Seccomp"})]).unwrap();
        assert_eq!(pod_only.len(), 1);
        let both = apply_exclusions(
            v.clone(),
            &[json!({"controlName": "Seccomp"}), json!({"controlName": "Seccomp", "images": ["ngin*"]})],
        )
        .unwrap();
        assert!(both.is_empty());
        assert!(apply_exclusions(v, &[json!({"controlName": "Seccomp", "restrictedField": "x"})]).is_err());
    }
}
