//! The `--policy` check: the operator's Kyverno policies and the rendered
//! charts copied into the analysis tree, the `kyverno` step run over its
//! manifests, and its findings turned into verdicts. Pipeline file policy
//! steps are run by `stages`; both kinds of finding are `verdicts`.

use std::path::Path;

use anyhow::{Context, Result};
use cap_std::fs::Dir;
use sealbox_guest::FileKind;

use super::options::BuildOptions;
use super::outputs::list_tree;
use super::staging::StagedTree;
use super::steps::{self, ModuleRunner, RunRequest};
use super::verdicts::{self, PolicyFinding};

/// Evaluates the `--policy` policies over the analysis tree's manifests.
pub fn run_policies(
    steps: &ModuleRunner,
    options: &BuildOptions,
    analysis: &StagedTree,
    work: &Path,
    charts: &[serde_json::Value],
) -> Result<(String, Vec<String>, Vec<PolicyFinding>)> {
    // Policies are the operator's files; copy them into the tree so the
    // step reads them through its one read-only mount.
    let policy_root = ".sealbox/policies";
    for (i, p) in options.policies.iter().enumerate() {
        copy_policy(p, analysis, &format!("{policy_root}/{i}"))?;
    }
    for (i, c) in charts.iter().enumerate() {
        if let Some(m) = c.get("manifest").and_then(|m| m.as_str()) {
            analysis.write(&format!(".sealbox/charts/{i}.yaml"), &mut m.as_bytes(), 0o644)?;
        }
    }
    let resources: Vec<&str> = ["manifests", "applications", "application/apps", "etc", ".sealbox/charts"]
        .into_iter()
        .filter(|d| analysis.root().join(d).is_dir())
        .collect();
    let kyverno = steps.builtin("kyverno")?;
    let mut req = RunRequest::new(serde_json::json!({
        "mode": "apply",
        "policies": [policy_root],
        "resources": resources,
        // Stray YAML under etc/ or raw chart templates are not resources;
        // the step warns about them instead of failing the build.
        "skipInvalid": true,
    }));
    req.files = list_tree(analysis.root())?;
    let (outcome, _) = steps.run_unchecked("policy", &kyverno, analysis.root(), work, req, None)?;
    let found = verdicts::from_kyverno(&outcome.response);
    // A failure that is no rule's (a policy that does not load) is the
    // step's own, not a finding.
    if outcome.response.status == sealbox_guest::Status::Failure && !found.iter().any(PolicyFinding::fails_build) {
        anyhow::bail!("{}", steps::failure_message("policy", &outcome.response));
    }
    let summary = outcome.response.data.get("summary").cloned().unwrap_or_default();
    let count = |k: &str| summary.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
    let text = format!("{} pass, {} fail, {} warn", count("pass"), count("fail"), count("warn"));
    Ok((text, steps::warnings(&outcome.response), found))
}

fn copy_policy(path: &Path, analysis: &StagedTree, dest: &str) -> Result<()> {
    for_each_yaml(path, &mut |rel, content| analysis.write(&format!("{dest}/{rel}"), content, 0o644))
}

/// Calls `each` with every YAML or JSON document file of `path` — the file
/// itself, or every such file under the directory, read without following
/// links — and its path relative to `path` (its name, for a file).
pub fn for_each_yaml(path: &Path, each: &mut dyn FnMut(&str, &mut dyn std::io::Read) -> Result<()>) -> Result<()> {
    let meta = std::fs::metadata(path).with_context(|| format!("{}", path.display()))?;
    if meta.is_file() {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("input.yaml");
        let mut f = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
        return each(name, &mut f);
    }
    let dir = Dir::open_ambient_dir(path, cap_std::ambient_authority())
        .with_context(|| format!("opening {}", path.display()))?;
    let entries =
        crate::tree::walk(&dir, &crate::tree::WalkOptions::default()).with_context(|| format!("{}", path.display()))?;
    for e in entries {
        let is_doc = [".yaml", ".yml", ".json"].iter().any(|ext| e.path.ends_with(ext));
        if e.kind == FileKind::File && is_doc {
            let mut f = dir.open(&e.path).with_context(|| format!("reading {}/{}", path.display(), e.path))?;
            each(&e.path, &mut f)?;
        }
    }
    Ok(())
}
