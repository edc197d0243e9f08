//! The pipeline file (`sealbox.yaml`): third-party policy and transform
//! modules at their stages, pinned, within their grants, their verdicts in
//! the build's one report.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use sha2::Digest as _;

use crate::common::*;

const KUBEFILE: &str = "FROM scratch\nCOPY rootfs .\n";

const CONFIGMAP: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n";

/// A deployment whose `web` container has limits when `limited`; without
/// them the example policy points at line 9 (the container).
fn deployment(limited: bool) -> String {
    let limits = if limited { "\n          resources:\n            limits: {cpu: 100m, memory: 64Mi}" } else { "" };
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      \
         containers:\n        - name: web\n          image: nginx:1.27{limits}\n"
    )
}

/// The example Rust policy module, built once per test run.
pub(crate) fn example_module(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    let target = target_dir().join("example-modules");
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--release", "--quiet", "--target", "wasm32-wasip1", "-p", "rust-require-limits"])
            .arg("--manifest-path")
            .arg(workspace().join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&target)
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .status()
            .expect("running cargo for the example modules");
        assert!(status.success(), "building the example modules failed");
    });
    target.join("wasm32-wasip1/release").join(format!("{name}.wasm"))
}

fn digest_of(path: &Path) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(std::fs::read(path).expect("module"))))
}

/// A build context: `rootfs/manifests/{cm,deploy}.yaml`, `rootfs/etc/other.yaml`,
/// the Kubefile, and each `(file name, module path)` copied to `modules/`.
pub(crate) fn context(modules: &[(&str, PathBuf)], limited: bool) -> tempfile::TempDir {
    let ctx = tempfile::tempdir().expect("ctx");
    let manifests = ctx.path().join("rootfs/manifests");
    std::fs::create_dir_all(&manifests).expect("manifests");
    std::fs::create_dir_all(ctx.path().join("rootfs/etc")).expect("etc");
    std::fs::write(manifests.join("cm.yaml"), CONFIGMAP).expect("cm");
    std::fs::write(manifests.join("deploy.yaml"), deployment(limited)).expect("deploy");
    std::fs::write(ctx.path().join("rootfs/etc/other.yaml"), "other: true\n").expect("other");
    std::fs::write(ctx.path().join("Kubefile"), KUBEFILE).expect("kubefile");
    std::fs::create_dir(ctx.path().join("modules")).expect("modules dir");
    for (name, path) in modules {
        std::fs::copy(path, ctx.path().join(format!("modules/{name}.wasm"))).expect("copying module");
    }
    ctx
}

/// One step of a pipeline file, over module `modules/NAME.wasm` pinned to
/// its digest in `ctx`, with `extra` lines (already indented by 4).
pub(crate) fn step(ctx: &Path, name: &str, module: &str, stage: &str, kind: &str, extra: &str) -> String {
    let digest = digest_of(&ctx.join(format!("modules/{module}.wasm")));
    format!(
        "  - name: {name}\n    stage: {stage}\n    module: modules/{module}.wasm\n    digest: {digest}\n    \
         kind: {kind}\n{extra}"
    )
}

pub(crate) fn write_pipeline(ctx: &Path, steps: &[String]) {
    let text = format!("apiVersion: sealbox.io/v1\nkind: Pipeline\nsteps:\n{}", steps.concat());
    std::fs::write(ctx.join("sealbox.yaml"), text).expect("sealbox.yaml");
}

pub(crate) fn limits() -> (&'static str, PathBuf) {
    ("require-limits", example_module("rust-require-limits"))
}

/// The image's layers, each as the paths GNU tar lists.
fn layers(store: &Path, name: &str) -> Vec<(String, Vec<String>)> {
    let manifest = manifest(store, name);
    manifest["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .map(|l| {
            let path = blob_path(store, l["digest"].as_str().expect("layer digest"));
            let out = Command::new("tar").arg("-tzf").arg(&path).output().expect("tar");
            let paths = String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect();
            (path.display().to_string(), paths)
        })
        .collect()
}

fn layer_file(layer: &str, path: &str) -> String {
    let out = Command::new("tar").arg("-xzOf").arg(layer).arg(path).output().expect("tar");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_policy_module_passes_a_good_build_and_fails_a_bad_one() {
    let ctx = context(&[limits()], true);
    let store = tempfile::tempdir().expect("store");
    write_pipeline(ctx.path(), &[step(ctx.path(), "limits", "require-limits", "after-render", "policy", "")]);
    let (code, stdout, stderr) = build(ctx.path(), store.path(), &["-t", "good"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.trim().starts_with("sha256:"), "{stdout}");
    assert!(stderr.contains("after-render limits") && stderr.contains("rust-require-limits"), "{stderr}");

    let bad = context(&[limits()], false);
    write_pipeline(bad.path(), &[step(bad.path(), "limits", "require-limits", "after-render", "policy", "")]);
    let store = tempfile::tempdir().expect("store");
    let sarif = store.path().join("report.sarif");
    let report = format!("sarif:{}", sarif.display());
    let (code, stdout, stderr) =
        build(bad.path(), store.path(), &["-t", "bad", "--report", &report, "--format", "json"]);
    assert_eq!(code, 1, "{stderr}");
    let want = "limits (modules/require-limits.wasm): manifests/deploy.yaml:9: Deployment/web: container web has no \
                cpu, memory limit [require-limits]";
    assert!(stderr.contains(want), "{stderr}");
    no_images(store.path());
    // --format json prints the findings even when the build fails.
    let printed: serde_json::Value = serde_json::from_str(&stdout).expect("json on stdout");
    assert_eq!(printed["verdicts"][0]["source"], "limits");
    assert_eq!(printed["verdicts"][0]["action"], "Enforce");
    assert_eq!(printed["verdicts"][0]["line"], 9);
    let log: serde_json::Value = serde_json::from_slice(&std::fs::read(&sarif).expect("sarif")).expect("sarif json");
    let result = &log["runs"][0]["results"][0];
    assert_eq!(result["ruleId"], "limits/require-limits");
    assert_eq!(result["level"], "error");
    assert_eq!(result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], "manifests/deploy.yaml");
    assert_eq!(result["locations"][0]["physicalLocation"]["region"]["startLine"], 9);
}

#[test]
fn an_audit_policy_failure_is_a_warning_and_the_build_goes_on() {
    let ctx = context(&[limits()], false);
    let audit = step(ctx.path(), "limits", "require-limits", "after-render", "policy", "    failureAction: Audit\n");
    write_pipeline(ctx.path(), &[audit]);
    let store = tempfile::tempdir().expect("store");
    let (code, stdout, stderr) = build(ctx.path(), store.path(), &["-t", "audited", "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("warning: limits (modules/require-limits.wasm): manifests/deploy.yaml:9:"), "{stderr}");
    let outcome: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(outcome["verdicts"][0]["action"], "Audit");
    assert_eq!(outcome["verdicts"][0]["severity"], "error");
    assert!(outcome["digest"].as_str().is_some_and(|d| d.starts_with("sha256:")), "{outcome}");

    // Run again (no cache): the same findings, byte for byte.
    let reports = [0, 1].map(|i| {
        let path = store.path().join(format!("report-{i}.json"));
        let arg = format!("json:{}", path.display());
        let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "audited", "--no-cache", "--report", &arg]);
        assert_eq!(code, 0, "{stderr}");
        std::fs::read(&path).expect("report")
    });
    assert_eq!(reports[0], reports[1]);
    assert!(String::from_utf8_lossy(&reports[0]).contains("container web has no cpu, memory limit"));
}

#[test]
fn module_verdicts_and_kyverno_results_make_one_report_and_one_exit_status() {
    let ctx = context(&[limits()], false);
    write_pipeline(ctx.path(), &[step(ctx.path(), "limits", "require-limits", "after-render", "policy", "")]);
    // A Kyverno policy of our own: every ConfigMap needs a `team` label.
    let policy = ctx.path().join("team-label.yaml");
    std::fs::write(
        &policy,
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: team-label\nspec:\n  \
         validationFailureAction: Enforce\n  rules:\n    - name: has-team\n      match:\n        any:\n          \
         - resources:\n              kinds: [ConfigMap]\n      validate:\n        message: a team label is required\n        \
         pattern:\n          metadata:\n            labels:\n              team: \"?*\"\n",
    )
    .expect("policy");
    let store = tempfile::tempdir().expect("store");
    let report = store.path().join("report.json");
    let args = ["-t", "x", "--policy", policy.to_str().expect("utf-8"), "--report"];
    let (code, _, stderr) =
        build(ctx.path(), store.path(), &[&args[..], &[&format!("json:{}", report.display())]].concat());
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("policy checks failed (2 enforced)"), "{stderr}");
    assert!(stderr.contains("kyverno: manifests/cm.yaml") && stderr.contains("[team-label/has-team]"), "{stderr}");
    assert!(stderr.contains("limits (modules/require-limits.wasm): manifests/deploy.yaml:9:"), "{stderr}");
    let written: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).expect("report")).expect("json");
    let sources: Vec<&str> =
        written["verdicts"].as_array().expect("verdicts").iter().filter_map(|v| v["source"].as_str()).collect();
    assert_eq!(sources, ["kyverno", "limits"]);
    no_images(store.path());
}

#[test]
fn a_module_that_does_not_match_its_digest_is_refused_showing_both() {
    let ctx = context(&[limits()], true);
    let actual = digest_of(&ctx.path().join("modules/require-limits.wasm"));
    let wrong = format!("sha256:{}", "ab".repeat(32));
    let text = step(ctx.path(), "limits", "require-limits", "after-render", "policy", "").replace(&actual, &wrong);
    write_pipeline(ctx.path(), &[text]);
    let store = tempfile::tempdir().expect("store");
    let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "x"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("sealbox.yaml:4: step limits"), "{stderr}");
    assert!(
        stderr.contains(&format!("pinned:  {wrong}")) && stderr.contains(&format!("actual:  {actual}")),
        "{stderr}"
    );
    no_images(store.path());
}

#[test]
fn a_module_asking_for_more_than_its_grant_is_refused_before_it_runs() {
    let ctx = context(
        &[("envlabel", p1("envlabel")), ("greedypolicy", p1("greedypolicy")), ("bigmem", p1("bigmem")), limits()],
        true,
    );
    let cases = [
        (
            step(ctx.path(), "env", "envlabel", "after-copy", "transform", "    grants: {env: {TEAM: a}}\n"),
            "CLUSTER_NAME (capability `env`)",
        ),
        (step(ctx.path(), "greedy", "greedypolicy", "after-render", "policy", ""), "capability `writeOutput`"),
        (
            step(ctx.path(), "mem", "bigmem", "before-pack", "transform", "    grants: {memoryMib: 256}\n"),
            "4096 MiB of memory (capability `memoryMib`), above this step's limit of 256 MiB",
        ),
        (
            step(ctx.path(), "kind", "require-limits", "after-copy", "transform", ""),
            "is a policy module; the step declares kind transform",
        ),
    ];
    for (text, want) in cases {
        write_pipeline(ctx.path(), &[text]);
        let store = tempfile::tempdir().expect("store");
        let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "x"]);
        assert_eq!(code, 1, "{stderr}");
        assert!(stderr.contains(want), "want {want:?} in\n{stderr}");
        let refusal = !want.contains("declares kind");
        assert_eq!(stderr.contains("refused before it ran"), refusal, "{stderr}");
        no_images(store.path());
    }
}

#[test]
fn a_transform_cannot_write_outside_its_granted_sub_tree() {
    let ctx = context(&[("escaper", p1("escaper"))], true);
    let grant = "    grants: {tree: manifests}\n";
    write_pipeline(ctx.path(), &[step(ctx.path(), "escape", "escaper", "before-pack", "transform", grant)]);
    let store = tempfile::tempdir().expect("store");
    let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "x"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("escaped"), "a write outside /out worked:\n{stderr}");
    let layers = layers(store.path(), "x");
    let (last, paths) = layers.last().expect("a layer");
    assert_eq!(paths, &["manifests/", "manifests/ok.yaml"], "the step's layer holds only its sub-tree");
    assert_eq!(layer_file(last, "manifests/ok.yaml"), "kind: Ok\n");
    assert!(!ctx.path().join("escaped").exists() && !ctx.path().join("rootfs/escaped").exists());
}

#[test]
fn a_step_sees_only_its_granted_sub_tree() {
    let ctx = context(&[("treeseer", p1("treeseer"))], true);
    let grant = "    failureAction: Audit\n    grants: {tree: manifests}\n";
    write_pipeline(ctx.path(), &[step(ctx.path(), "seer", "treeseer", "after-copy", "policy", grant)]);
    let store = tempfile::tempdir().expect("store");
    let report = store.path().join("report.json");
    let (code, _, stderr) =
        build(ctx.path(), store.path(), &["-t", "x", "--report", &format!("json:{}", report.display())]);
    assert_eq!(code, 0, "{stderr}");
    let written: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).expect("report")).expect("json");
    let seen: Vec<&str> =
        written["verdicts"].as_array().expect("verdicts").iter().filter_map(|v| v["message"].as_str()).collect();
    assert_eq!(seen, ["sees cm.yaml", "sees deploy.yaml"], "{stderr}");

    // The whole rootfs by default, and still nothing of the context beside it.
    let whole = "    failureAction: Audit\n";
    write_pipeline(ctx.path(), &[step(ctx.path(), "seer", "treeseer", "after-copy", "policy", whole)]);
    let (code, _, stderr) =
        build(ctx.path(), store.path(), &["-t", "y", "--report", &format!("json:{}", report.display())]);
    assert_eq!(code, 0, "{stderr}");
    let written: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).expect("report")).expect("json");
    let seen: Vec<&str> =
        written["verdicts"].as_array().expect("verdicts").iter().filter_map(|v| v["message"].as_str()).collect();
    assert_eq!(
        seen,
        ["sees etc", "sees etc/other.yaml", "sees manifests", "sees manifests/cm.yaml", "sees manifests/deploy.yaml"]
    );
}

#[test]
fn a_policy_module_answering_garbage_or_nothing_or_trapping_fails_naming_step_and_module() {
    let modules = ["garbage", "silent", "deeprec", "exit3"];
    let ctx = context(&modules.map(|m| (m, p1(m))), true);
    for module in modules {
        write_pipeline(ctx.path(), &[step(ctx.path(), "judge", module, "after-render", "policy", "")]);
        let store = tempfile::tempdir().expect("store");
        let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "x"]);
        assert_eq!(code, 1, "{stderr}");
        assert!(stderr.contains("step judge") && stderr.contains(&format!("modules/{module}.wasm")), "{stderr}");
        no_images(store.path());
    }
}

#[test]
fn the_same_pipeline_twice_gives_byte_identical_images_and_a_rebuild_is_cached() {
    // Two contexts with the same content in different places.
    let contexts = [0, 1].map(|_| {
        let ctx = context(&[("stamp", p1("stamp")), limits()], true);
        let stamp = step(
            ctx.path(),
            "stamp",
            "stamp",
            "after-copy",
            "transform",
            "    grants:\n      tree: manifests\n      env: {TEAM: platform, OTHER: x}\n",
        );
        let check =
            step(ctx.path(), "limits", "require-limits", "before-pack", "policy", "    config: {require: [cpu]}\n");
        write_pipeline(ctx.path(), &[stamp, check]);
        ctx
    });
    let ctx = &contexts[0];
    let one = tempfile::tempdir().expect("store");
    let two = tempfile::tempdir().expect("store");
    let (code, first, stderr) = build(ctx.path(), one.path(), &["-t", "x", "--no-cache"]);
    assert_eq!(code, 0, "{stderr}");
    let (code, second, stderr) = build(contexts[1].path(), two.path(), &["-t", "x", "--no-cache"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(first, second, "same inputs, same image");

    let layers = layers(one.path(), "x");
    let (stamped, paths) = &layers[1];
    assert_eq!(paths, &["manifests/", "manifests/cm.yaml", "manifests/deploy.yaml"]);
    assert_eq!(layer_file(stamped, "manifests/cm.yaml"), format!("# team: platform\n{CONFIGMAP}"));

    // Into a store that has run it with the cache on, the steps come from
    // the cache, and the image is the same.
    let (code, third, stderr) = build(ctx.path(), one.path(), &["-t", "x"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("cached"), "{stderr}");
    let (code, fourth, stderr) = build(ctx.path(), one.path(), &["-t", "x"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!((&first, &first), (&third, &fourth));
    let cached: Vec<&str> = stderr.lines().filter(|l| l.contains("cached")).collect();
    assert!(cached.iter().any(|l| l.contains("after-copy stamp")), "{stderr}");
    assert!(cached.iter().any(|l| l.contains("before-pack limits")), "{stderr}");
}

#[test]
fn build_lock_covers_pipeline_modules() {
    let ctx = context(&[limits(), ("treeseer", p1("treeseer"))], true);
    write_pipeline(ctx.path(), &[step(ctx.path(), "limits", "require-limits", "after-render", "policy", "")]);
    let store = tempfile::tempdir().expect("store");
    let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "x", "--lock"]);
    assert_eq!(code, 0, "{stderr}");
    let lock: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ctx.path().join("sealbox.lock")).expect("lock")).expect("lock json");
    let locked = digest_of(&ctx.path().join("modules/require-limits.wasm"));
    assert_eq!(lock["modules"]["modules/require-limits.wasm"], locked.as_str());
    // Another module under the same path, re-pinned in the pipeline file,
    // is not what the lock says.
    std::fs::copy(p1("treeseer"), ctx.path().join("modules/require-limits.wasm")).expect("swap");
    write_pipeline(ctx.path(), &[step(ctx.path(), "limits", "require-limits", "after-render", "policy", "")]);
    let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "x"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("does not match sealbox.lock") && stderr.contains(&format!("locked:  {locked}")),
        "{stderr}"
    );
}

#[test]
fn a_bad_pipeline_file_is_a_usage_error_naming_its_line() {
    let ctx = context(&[], true);
    std::fs::write(
        ctx.path().join("sealbox.yaml"),
        "apiVersion: sealbox.io/v1\nkind: Pipeline\nsteps:\n  - name: x\n    stage: whenever\n",
    )
    .expect("write");
    let store = tempfile::tempdir().expect("store");
    let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "x"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("sealbox.yaml:5: step x: stage \"whenever\" is not one of"), "{stderr}");
    // --pipeline names another file, whose errors carry its own name.
    let other = ctx.path().join("other.yaml");
    std::fs::write(&other, "apiVersion: sealbox.io/v1\nkind: Pipeline\nsteps: {}\n").expect("write");
    let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "x", "--pipeline", other.to_str().expect("utf-8")]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("other.yaml:3: steps must be a list"), "{stderr}");
    no_images(store.path());
}

#[test]
fn a_step_is_stopped_at_its_granted_timeout() {
    let ctx = context(&[("spin", p1("spin"))], true);
    write_pipeline(
        ctx.path(),
        &[step(ctx.path(), "loop", "spin", "after-copy", "policy", "    grants: {timeout: 1s}\n")],
    );
    let store = tempfile::tempdir().expect("store");
    let started = std::time::Instant::now();
    let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "x"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("step loop") && stderr.contains("timed out after 1s"), "{stderr}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "the 60 s default was not used");
    no_images(store.path());
}

#[test]
fn findings_reach_the_terminal_escaped_and_the_reports_as_data() {
    let ctx = context(&[("evilpolicy", p1("evilpolicy"))], true);
    write_pipeline(ctx.path(), &[step(ctx.path(), "evil", "evilpolicy", "after-render", "policy", "")]);
    let store = tempfile::tempdir().expect("store");
    let sarif = store.path().join("report.sarif");
    let report = format!("sarif:{}", sarif.display());
    let (code, stdout, stderr) = build(ctx.path(), store.path(), &["-t", "x", "--format", "json", "--report", &report]);
    assert_eq!(code, 1, "{stderr}");
    let raw = |c: char| (c.is_control() && c != '\n') || c == '\u{202e}';
    assert!(!stderr.chars().any(raw), "{stderr:?}");
    assert!(stderr.contains("x\\x1b[31m.yaml:1: denied\\x1b[2J\\x1b]0;pwned\\x07 [r\\u{202e}ule]"), "{stderr}");
    assert!(stderr.contains("warning: evil (modules/evilpolicy.wasm): careful\\x1b[8mhidden\\x1b[0m"), "{stderr}");
    // JSON and SARIF are data: the text is kept, with JSON's own escapes.
    assert!(!stdout.contains('\x1b') && stdout.contains("\\u001b[2J"), "{stdout}");
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(json["verdicts"][0]["message"], "denied\x1b[2J\x1b]0;pwned\x07");
    let sarif: serde_json::Value = serde_json::from_slice(&std::fs::read(&sarif).expect("sarif")).expect("sarif json");
    let results = &sarif["runs"][0]["results"];
    assert_eq!(results[0]["message"]["text"], "denied\x1b[2J\x1b]0;pwned\x07");
    assert_eq!(results[0]["ruleId"], "evil/r\u{202e}ule");
    no_images(store.path());
}

#[test]
fn a_grant_above_an_operator_ceiling_is_a_usage_error_until_the_operator_raises_it() {
    let ctx = context(&[("treeseer", p1("treeseer"))], true);
    let grant = "    failureAction: Audit\n    grants: {memoryMib: 8192}\n";
    write_pipeline(ctx.path(), &[step(ctx.path(), "big", "treeseer", "after-copy", "policy", grant)]);
    let store = tempfile::tempdir().expect("store");
    let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "x"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(
            "sealbox.yaml:4: step big: grants.memoryMib 8192 (8 GiB) is above the operator's ceiling of 4 GiB; \
             --max-step-memory 8GiB raises it"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("after-copy big"), "the step ran:\n{stderr}");
    no_images(store.path());
    let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "x", "--max-step-memory", "8GiB"]);
    assert_eq!(code, 0, "{stderr}");

    // Time the same way; a lower ceiling refuses what the default allows.
    let grant = "    failureAction: Audit\n    grants: {timeout: 2m}\n";
    write_pipeline(ctx.path(), &[step(ctx.path(), "slow", "treeseer", "after-copy", "policy", grant)]);
    let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "y", "--max-step-timeout", "30s"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("step slow: grants.timeout 2m is above the operator's ceiling of 30s; --max-step-timeout 2m"),
        "{stderr}"
    );
    let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "y"]);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn every_env_value_is_the_operators_to_give() {
    let ctx = context(&[("envlabel", p1("envlabel"))], true);
    let env = ["--env", "CLUSTER_NAME=prod", "--env", "TOKEN=secret"];
    // A pipeline grant of `*` asks for every --env value.
    let grant = "    grants: {env: \"*\"}\n";
    write_pipeline(ctx.path(), &[step(ctx.path(), "env", "envlabel", "after-copy", "transform", grant)]);
    let store = tempfile::tempdir().expect("store");
    let (code, _, stderr) = build(ctx.path(), store.path(), &[&["-t", "x"][..], &env].concat());
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("sealbox.yaml:4: step env: grants.env `*`"), "{stderr}");
    assert!(stderr.contains("--allow-module-env-all"), "{stderr}");
    no_images(store.path());
    // With consent it gets them, and its module still sees only the name it asked for.
    let (code, _, stderr) =
        build(ctx.path(), store.path(), &[&["-t", "x", "--allow-module-env-all"][..], &env].concat());
    assert_eq!(code, 0, "{stderr}");
    let built = layers(store.path(), "x");
    let (env_layer, _) =
        built.iter().find(|(_, paths)| paths.iter().any(|p| p == "etc/cluster-env")).expect("its layer");
    assert_eq!(layer_file(env_layer, "etc/cluster-env"), "CLUSTER_NAME=prod\n");

    // A module whose metadata asks for `*`, chosen by the Kubefile.
    std::fs::remove_file(ctx.path().join("sealbox.yaml")).expect("no pipeline");
    std::fs::copy(p1("envall"), ctx.path().join("modules/envall.wasm")).expect("envall");
    std::fs::write(ctx.path().join("Kubefile"), format!("{KUBEFILE}RUN --module=modules/envall.wasm\n"))
        .expect("kubefile");
    let (code, _, stderr) = build(ctx.path(), store.path(), &[&["-t", "y"][..], &env].concat());
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("Kubefile:3: module modules/envall.wasm refused before it ran: it asks for every env value"),
        "{stderr}"
    );
    assert!(stderr.contains("--allow-module-env-all"), "{stderr}");
    let (code, _, stderr) =
        build(ctx.path(), store.path(), &[&["-t", "y", "--allow-module-env-all"][..], &env].concat());
    assert_eq!(code, 0, "{stderr}");
    let built = layers(store.path(), "y");
    let (env_layer, _) =
        built.iter().find(|(_, paths)| paths.iter().any(|p| p == "etc/cluster-env")).expect("its layer");
    assert_eq!(layer_file(env_layer, "etc/cluster-env"), "CLUSTER_NAME=prod\nTOKEN=secret\n");
}

#[test]
fn the_build_deadline_stops_a_step_granted_longer() {
    let ctx = context(&[("spin", p1("spin"))], true);
    write_pipeline(
        ctx.path(),
        &[step(ctx.path(), "loop", "spin", "after-copy", "policy", "    grants: {timeout: 5m}\n")],
    );
    let store = tempfile::tempdir().expect("store");
    let started = std::time::Instant::now();
    let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "x", "--build-timeout", "4s"]);
    assert_eq!(code, 1, "{stderr}");
    // Stopped while it ran, or (on a slow machine) refused before it started.
    assert!(stderr.contains("step loop"), "{stderr}");
    assert!(
        stderr.contains("the build ran past its deadline of 4s (--build-timeout); --build-timeout DURATION gives it"),
        "{stderr}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(60), "the step's 5m grant was not clipped");
    no_images(store.path());
}

#[test]
fn a_policy_step_cannot_write_to_its_discarded_out() {
    // outpolicy fails the build if it can write to /out, and warns why not.
    let ctx = context(&[("outpolicy", p1("outpolicy"))], true);
    write_pipeline(ctx.path(), &[step(ctx.path(), "judge", "outpolicy", "after-copy", "policy", "")]);
    let store = tempfile::tempdir().expect("store");
    let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "x"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("no /out to fill"), "{stderr}");
}
