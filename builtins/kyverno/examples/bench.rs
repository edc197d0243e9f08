//! Apply throughput: 20 policies over 10,000 generated resources, reported
//! as resource-policy evaluations per second (single thread).
//!
//! Policies come from `$SEALBOX_SHARED/kyverno/policies/{pod-security,best-practices}`
//! when present, else from this crate's test fixtures.

use std::path::PathBuf;
use std::time::Instant;

use sealbox_kyverno::apply;
use sealbox_kyverno::engine::{Engine, EvalOptions};
use sealbox_kyverno::jmes::Clock;
use sealbox_kyverno::loader::{self, LoadedPolicies};
use sealbox_kyverno::resource::Resource;
use serde_json::json;

fn main() {
    let base = std::env::var("SEALBOX_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    // `SEALBOX_BENCH_DIRS=pod-security-cel,pod-security-vpol` picks other library directories.
    let picked = std::env::var("SEALBOX_BENCH_DIRS").unwrap_or_else(|_| "pod-security,best-practices".into());
    let mut dirs: Vec<PathBuf> = picked.split(',').map(|d| base.join("kyverno/policies").join(d)).collect();
    if !dirs[0].is_dir() {
        dirs = vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")];
    }
    let mut loaded = LoadedPolicies::default();
    for dir in &dirs {
        for file in loader::yaml_files(dir).unwrap_or_default() {
            let name = file.strip_prefix(dir).unwrap_or(&file).display().to_string();
            if name.contains("kyverno-test") || name.starts_with('.') || name.contains("/.") || name.ends_with(".yml") {
                continue;
            }
            let Ok(text) = loader::read_text(&file) else { continue };
            let Ok(docs) = loader::documents(&name, &text) else { continue };
            let _ = loader::collect_policies(&mut loaded, &name, &docs);
        }
    }
    loaded.policies.retain(|p| p.rules().iter().all(|r| sealbox_kyverno::engine::unsupported_feature(r).is_none()));
    loaded.policies.truncate(20);
    let names: Vec<&str> = loaded.policies.iter().map(|p| p.name.as_str()).collect();
    println!("policies ({}): {}", names.len(), names.join(", "));
    let policies = loader::prepare(loaded);
    let resources: Vec<Resource> = (0..10_000)
        .map(|i| {
            let value = if i % 2 == 0 {
                json!({"apiVersion": "v1", "kind": "Pod",
                       "metadata": {"name": format!("pod-{i}"), "namespace": "default", "labels": {"app": "web"}},
                       "spec": {"containers": [{"name": "c", "image": if i % 3 == 0 { "nginx:latest" } else { "nginx:1.25" },
                                                "resources": {"limits": {"memory": "128Mi", "cpu": "100m"}},
                                                "securityContext": {"runAsNonRoot": true}}]}})
            } else {
                json!({"apiVersion": "apps/v1", "kind": "Deployment",
                       "metadata": {"name": format!("deploy-{i}"), "namespace": "default"},
                       "spec": {"replicas": 2, "template": {"metadata": {"labels": {"app": "api"}},
                                "spec": {"hostNetwork": i % 5 == 0, "containers": [{"name": "c", "image": "ghcr.io/acme/api:1"}]}}}})
            };
            Resource { value, file: "generated.yaml".into(), document: i, line: 0 }
        })
        .collect();
    let engine = Engine::new(Clock { now: 1_700_000_000, seed: 1 });
    let opts = EvalOptions::default();
    let started = Instant::now();
    let (rows, summary) = apply::apply_counted(
        &apply::Applier { engine: &engine, policies: &policies, opts: &opts, audit_warn: false, keep_passes: false },
        &resources,
    );
    let secs = started.elapsed().as_secs_f64();
    let evaluations = policies.len() * resources.len();
    println!(
        "{evaluations} resource-policy evaluations ({} non-passing rule results) in {secs:.2}s: {:.0} evaluations/s",
        rows.len(),
        evaluations as f64 / secs
    );
    println!("{summary:?}");
}
