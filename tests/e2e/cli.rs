//! `sealbox render` and `sealbox policy test|apply`.

use std::io::Write;
use std::process::Stdio;

use crate::common::*;

#[test]
fn render_in_place_and_into_another_directory() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::create_dir_all(dir.path().join("etc")).expect("etc");
    std::fs::write(
        dir.path().join("etc/a.conf.tmpl"),
        "cidr={{ .PodCIDR }} reg={{ or .RegistryURL \"sea.hub:5000\" }}\n",
    )
    .expect("tmpl");
    let (out, _, stderr) = run(sealbox().arg("render").arg(dir.path()).args(["--env", "PodCIDR=10.0.0.0/8"]));
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("etc/a.conf")).expect("rendered"),
        "cidr=10.0.0.0/8 reg=sea.hub:5000\n"
    );
    assert!(dir.path().join("etc/a.conf.tmpl").exists(), "the template is kept");

    let other = tempfile::tempdir().expect("other");
    let env_file = other.path().join("env");
    std::fs::write(&env_file, "# cluster values\nPodCIDR=192.168.0.0/16\nRegistryURL=reg.local:5000\n").expect("env");
    let (out, _, stderr) = run(sealbox()
        .arg("render")
        .arg(dir.path())
        .arg("--env-file")
        .arg(&env_file)
        .arg("-o")
        .arg(other.path().join("o")));
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(other.path().join("o/etc/a.conf")).expect("rendered"),
        "cidr=192.168.0.0/16 reg=reg.local:5000\n"
    );

    let (out, _, stderr) = run(sealbox().arg("render").arg(dir.path()));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("etc/a.conf.tmpl:1:9: no value for key \"PodCIDR\""), "{stderr}");
    let (out, _, stderr) = run(sealbox().arg("render").arg(dir.path()).args(["--missing-key", "zero"]));
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("etc/a.conf")).expect("rendered"),
        "cidr=<no value> reg=sea.hub:5000\n"
    );
}

/// sealer renders an image's templates again at deploy time with Go's
/// builtins and b64enc/b64dec only: `render --funcs sealer` fails where
/// `sealer run` would, and a build (or a plain render) says so as a warning.
#[test]
fn a_template_sealer_cannot_render_is_named_by_render_and_build() {
    let ctx = tempfile::tempdir().expect("ctx");
    let etc = ctx.path().join("rootfs/etc");
    std::fs::create_dir_all(&etc).expect("etc");
    std::fs::write(etc.join("ok.conf.tmpl"), "a={{ .A | b64enc }}\n").expect("tmpl");
    std::fs::write(etc.join("sprig.conf.tmpl"), "# values\nb={{ .B | default \"x\" | upper }}\n").expect("tmpl");
    let rootfs = ctx.path().join("rootfs");

    let (out, _, stderr) = run(sealbox().arg("render").arg(&rootfs).args(["--funcs", "sealer", "--env", "A=1"]));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("etc/sprig.conf.tmpl:2:") && stderr.contains("\"default\" not defined"), "{stderr}");
    assert!(!etc.join("sprig.conf").exists());

    let (out, _, stderr) = run(sealbox().arg("render").arg(&rootfs).args(["--env", "A=1"]));
    assert!(out.status.success(), "{stderr}");
    assert_eq!(std::fs::read_to_string(etc.join("sprig.conf")).expect("rendered"), "# values\nb=X\n");
    let warning = stderr.lines().find(|l| l.contains("etc/sprig.conf.tmpl:2:")).unwrap_or_else(|| panic!("{stderr}"));
    assert!(warning.starts_with("warning: ") && warning.contains("sealer run"), "{warning}");
    assert!(!stderr.contains("ok.conf.tmpl"), "b64enc is sealer's own: {stderr}");

    std::fs::remove_file(etc.join("sprig.conf")).expect("rm");
    std::fs::remove_file(etc.join("ok.conf")).expect("rm");
    std::fs::write(ctx.path().join("Kubefile"), "FROM scratch\nENV A=1\nCOPY rootfs .\n").expect("Kubefile");
    let store = tempfile::tempdir().expect("store");
    let (out, _, stderr) =
        run(sealbox().arg("build").arg("--root").arg(store.path()).args(["-t", "t"]).arg(ctx.path()));
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("etc/sprig.conf.tmpl:2:") && stderr.contains("\"default\" not defined"), "{stderr}");
}

#[test]
fn policy_test_runs_kyverno_test_files() {
    let fixtures = workspace().join("builtins/kyverno/tests/fixtures/pattern");
    let (out, stdout, stderr) = run(sealbox().args(["policy", "test"]).arg(&fixtures));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("Total:") && stdout.contains(" 0 fail"), "{stdout}");
    let (out, stdout, _) = run(sealbox().args(["policy", "test", "--output", "json"]).arg(&fixtures));
    assert!(out.status.success());
    let rows: Vec<serde_json::Value> =
        stdout.lines().map(|l| serde_json::from_str(l).expect("a JSON row per line")).collect();
    assert!(!rows.is_empty());
    for r in &rows {
        for field in ["policy", "rule", "resource", "expected", "actual", "outcome"] {
            assert!(r.get(field).is_some(), "row lacks {field}: {r}");
        }
    }
}

#[test]
fn policy_apply_reads_stdin_and_fails_on_enforce_violations() {
    let policies = workspace().join("examples/cluster-app/policies");
    let bad = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: nolimits\nspec:\n  containers:\n    - name: c\n      image: nginx:1.25\n";
    let mut child = sealbox()
        .args(["policy", "apply", "-p"])
        .arg(&policies)
        .args(["--output", "json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child.stdin.take().expect("stdin").write_all(bad.as_bytes()).expect("write");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("require-limits") && stdout.contains("nolimits"), "{stdout}");

    let (out, stdout, stderr) = run(sealbox()
        .args(["policy", "apply", "-p"])
        .arg(&policies)
        .arg("-r")
        .arg(workspace().join("examples/cluster-app/apps/web")));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for format in ["sarif", "junit", "policy-report"] {
        let (out, stdout, _) = run(sealbox()
            .args(["policy", "apply", "--output", format, "-p"])
            .arg(&policies)
            .arg("-r")
            .arg(workspace().join("examples/cluster-app/apps/web")));
        assert!(out.status.success(), "{format}");
        assert!(!stdout.trim().is_empty(), "{format} output is empty");
    }
}

#[test]
fn policy_test_refuses_a_directory_without_test_files() {
    let empty = tempfile::tempdir().expect("dir");
    std::fs::write(empty.path().join("policy.yaml"), "kind: ClusterPolicy\n").expect("policy");
    let (out, stdout, stderr) = run(sealbox().args(["policy", "test"]).arg(empty.path()));
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(stderr.contains(&format!("{}: no kyverno-test.yaml found", empty.path().display())), "{stderr}");
    // One good directory does not excuse an empty one beside it.
    let fixtures = workspace().join("builtins/kyverno/tests/fixtures/pattern");
    let (out, _, stderr) = run(sealbox().args(["policy", "test"]).arg(&fixtures).arg(empty.path()));
    assert_eq!(out.status.code(), Some(2), "{stderr}");
}

#[test]
fn build_with_a_missing_policy_path_fails_before_any_step() {
    let ctx = tempfile::tempdir().expect("ctx");
    std::fs::write(ctx.path().join("Kubefile"), "FROM scratch\nCOPY . .\n").expect("kubefile");
    std::fs::write(ctx.path().join("a.yaml.tmpl"), "x: {{ .Missing }}\n").expect("template");
    let store = tempfile::tempdir().expect("store");
    let missing = ctx.path().join("no-such-policies");
    let (code, stdout, stderr) =
        build(ctx.path(), store.path(), &["-t", "p:1", "--policy", missing.to_str().expect("utf-8")]);
    assert_eq!(code, 2, "{stdout}\n{stderr}");
    assert!(stderr.contains(&format!("--policy {}: no such file or directory", missing.display())), "{stderr}");
    // Before any step: the template with a missing key was never rendered.
    assert!(!stderr.contains("Missing"), "a step ran: {stderr}");
    no_images(store.path());
}

#[test]
fn policy_apply_evaluates_validate_cel_rules() {
    let dir = tempfile::tempdir().expect("dir");
    let policy = dir.path().join("cel.yaml");
    std::fs::write(
        &policy,
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: cel-team\nspec:\n  rules:\n  - name: team\n    \
         match:\n      any:\n      - resources:\n          kinds: [Pod]\n    validate:\n      failureAction: Enforce\n      \
         cel:\n        expressions:\n        - expression: \"object.metadata.?labels[?'team'].hasValue()\"\n          \
         message: a team label is required\n",
    )
    .expect("policy");
    let pods = dir.path().join("pods.yaml");
    std::fs::write(&pods, "apiVersion: v1\nkind: Pod\nmetadata:\n  name: orphan\nspec:\n  containers: []\n")
        .expect("pods");
    let (out, stdout, stderr) =
        run(sealbox().args(["policy", "apply", "--output", "json", "-p"]).arg(&policy).arg("-r").arg(&pods));
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("a team label is required") && stdout.contains("orphan"), "{stdout}");
    std::fs::write(
        &pods,
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: owned\n  labels: {team: a}\nspec:\n  containers: []\n",
    )
    .expect("pods");
    let (out, stdout, stderr) = run(sealbox().args(["policy", "apply", "-p"]).arg(&policy).arg("-r").arg(&pods));
    assert!(out.status.success(), "{stdout}\n{stderr}");
}

#[test]
fn policy_apply_evaluates_json_payloads() {
    let dir = tempfile::tempdir().expect("dir");
    let policy = dir.path().join("plan-policy.yaml");
    std::fs::write(
        &policy,
        "apiVersion: policies.kyverno.io/v1\nkind: ValidatingPolicy\nmetadata:\n  name: no-public-buckets\nspec:\n  \
         evaluation:\n    mode: JSON\n  validations:\n  - expression: \"object.buckets.all(b, !b.public)\"\n    \
         message: buckets must not be public\n",
    )
    .expect("policy");
    let public = dir.path().join("public.json");
    std::fs::write(&public, r#"{"buckets": [{"name": "logs", "public": false}, {"name": "www", "public": true}]}"#)
        .expect("payload");
    let private = dir.path().join("private.json");
    std::fs::write(&private, r#"{"buckets": [{"name": "logs", "public": false}]}"#).expect("payload");

    let (out, stdout, stderr) =
        run(sealbox().args(["policy", "apply", "--output", "json", "-p"]).arg(&policy).arg("--json").arg(&public));
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    let rows: Vec<serde_json::Value> = serde_json::from_str(&stdout).expect("a JSON array of rows");
    assert_eq!(rows.len(), 1, "{stdout}");
    assert_eq!(rows[0]["policy"], "no-public-buckets");
    assert_eq!(rows[0]["status"], "fail");
    assert_eq!(rows[0]["message"], "buckets must not be public");
    assert!(rows[0]["resource"].as_str().is_some_and(|r| r.ends_with("public.json")), "{stdout}");

    let (out, stdout, stderr) = run(sealbox().args(["policy", "apply", "-p"]).arg(&policy).arg("--json").arg(&private));
    assert!(out.status.success(), "{stdout}\n{stderr}");

    // --json takes a file, not a directory.
    let (out, _, stderr) = run(sealbox().args(["policy", "apply", "-p"]).arg(&policy).arg("--json").arg(dir.path()));
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("not a file"), "{stderr}");
}
