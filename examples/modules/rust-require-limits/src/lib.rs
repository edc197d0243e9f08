//! A policy: every container of every workload must set resource limits
//! (by default `cpu` and `memory`; `config.require` lists others).
//!
//! The logic is a plain function, tested natively; `main.rs` only hands it
//! to [`sealbox_guest::policy`].

use sealbox_guest::{Resource, Severity, Verdict};
use serde_json::Value;

/// Where each kind keeps its pod spec.
fn pod_spec_path(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "Pod" => &["spec"],
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => &["spec", "template", "spec"],
        "CronJob" => &["spec", "jobTemplate", "spec", "template", "spec"],
        _ => return None,
    })
}

/// The verdict on one resource: a finding for every container missing a
/// required limit, at the container's line.
pub fn check(resource: &Resource<'_>, config: &Value) -> Verdict {
    let Some(spec_path) = pod_spec_path(resource.kind()) else { return Verdict::pass() };
    let required: Vec<&str> = match config.get("require").and_then(Value::as_array) {
        Some(list) => list.iter().filter_map(Value::as_str).collect(),
        None => vec!["cpu", "memory"],
    };
    let pointer: String = spec_path.iter().map(|p| format!("/{p}")).collect();
    let Some(spec) = resource.value.pointer(&pointer) else { return Verdict::pass() };
    let mut verdict = Verdict::pass();
    for list in ["initContainers", "containers"] {
        for (i, container) in spec.get(list).and_then(Value::as_array).into_iter().flatten().enumerate() {
            let limits = container.pointer("/resources/limits");
            let missing: Vec<&str> =
                required.iter().copied().filter(|r| limits.and_then(|l| l.get(r)).is_none()).collect();
            if missing.is_empty() {
                continue;
            }
            let name = container.get("name").and_then(Value::as_str).unwrap_or("?");
            let index = i.to_string();
            let at: Vec<&str> = spec_path.iter().copied().chain([list, index.as_str()]).collect();
            let message = format!("{}: container {name} has no {} limit", resource.id(), missing.join(", "));
            verdict = verdict.and(Severity::Error, message, resource.line_of(&at));
        }
    }
    verdict.rule("require-limits")
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use sealbox_guest::{Request, Status};

    #[test]
    fn containers_without_limits_fail_at_their_line() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
        let response = sealbox_guest::policy::evaluate(&root, &Request::default(), super::check);
        assert_eq!(response.status, Status::Failure);
        let found: Vec<String> = response
            .diagnostics
            .iter()
            .map(|d| format!("{}:{}: {}", d.file.as_deref().unwrap_or(""), d.line.unwrap_or(0), d.message))
            .collect();
        assert_eq!(
            found,
            [
                "workloads.yaml:25: Deployment/web: container sidecar has no memory limit",
                "workloads.yaml:41: CronJob/report: container report has no cpu, memory limit",
            ]
        );
        assert_eq!(response.data["resources"], 4);
    }

    #[test]
    fn the_required_limits_come_from_the_config() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
        let req = Request { config: serde_json::json!({"require": ["cpu"]}), ..Request::default() };
        let response = sealbox_guest::policy::evaluate(&root, &req, super::check);
        assert_eq!(response.diagnostics.len(), 1, "{:?}", response.diagnostics);
        assert!(response.diagnostics[0].message.contains("CronJob/report"));
    }
}
