//! The host confines itself with Landlock before a build runs anything: a
//! broken writer in the host (the debug binary's test hook) cannot write
//! outside what the build needs, and a normal build still writes its image,
//! outputs, report and lock.

use std::path::Path;
use std::process::Command;

use crate::common::*;

/// A copy of `examples/cluster-app` that tests may write into.
fn context() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tmp");
    let src = workspace().join("examples/cluster-app");
    let status = Command::new("cp").arg("-a").arg(format!("{}/.", src.display())).arg(tmp.path()).status().expect("cp");
    assert!(status.success());
    tmp
}

/// `sealbox build --verbose` with its own store and temp dir; the test
/// hook writes to `victims` (joined as a path list) when given. Returns the
/// exit code, stderr, and whether the temp dir was left empty.
fn build(ctx: &Path, store: &Path, victims: &[&Path], args: &[&str]) -> (i32, String, bool) {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut cmd = sealbox();
    cmd.arg("build").arg(ctx).arg("--root").arg(store).arg("--verbose").args(args).env("TMPDIR", tmp.path());
    if !victims.is_empty() {
        cmd.env("SEALBOX_TEST_BROKEN_WRITER", std::env::join_paths(victims).expect("path list"));
    }
    let (out, _, stderr) = run(&mut cmd);
    let clean = std::fs::read_dir(tmp.path()).expect("tmp").next().is_none();
    (out.status.code().unwrap_or(-1), stderr, clean)
}

#[test]
fn a_broken_writer_in_the_host_cannot_write_outside_the_build() {
    let ctx = context();
    let store = tempfile::tempdir().expect("store");
    let outside = tempfile::tempdir().expect("outside");
    // Beside the build (a directory it never uses) and inside the context,
    // which the build only reads.
    let victims = [outside.path().join("victim"), ctx.path().join("etc-victim")];
    let victims: Vec<&Path> = victims.iter().map(|p| p.as_path()).collect();
    let (code, stderr, clean) = build(ctx.path(), store.path(), &victims, &["-t", "x:1"]);
    assert!(stderr.contains("note: landlock: enforced"), "this test needs a kernel with Landlock: {stderr}");
    for v in &victims {
        assert!(!v.exists(), "{} was written: {stderr}", v.display());
    }
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("the broken writer could not write"), "{stderr}");
    assert!(stderr.contains("Permission denied"), "{stderr}");
    assert!(clean, "the private temp dir is removed on failure too");
}

#[test]
fn without_landlock_the_broken_writer_gets_through() {
    // The control experiment: the hook really writes, so the test above
    // fails if confinement stops working.
    let ctx = context();
    let store = tempfile::tempdir().expect("store");
    let outside = tempfile::tempdir().expect("outside");
    let victim = outside.path().join("victim");
    let mut cmd = sealbox();
    cmd.arg("build").arg(ctx.path()).arg("--root").arg(store.path()).arg("--verbose");
    cmd.env("SEALBOX_TEST_BROKEN_WRITER", &victim).env("SEALBOX_LANDLOCK", "off");
    let (out, _, stderr) = run(&mut cmd);
    assert!(stderr.contains("note: landlock: not enforced: turned off by SEALBOX_LANDLOCK=off"), "{stderr}");
    assert!(victim.exists(), "the hook wrote nothing: {stderr}");
    assert!(out.status.success(), "{stderr}");
}

#[test]
fn a_confined_build_writes_its_image_outputs_report_and_lock() {
    let ctx = context();
    let store = tempfile::tempdir().expect("store");
    let out = tempfile::tempdir().expect("out");
    // Output directories that do not exist yet are made before confinement.
    let archive = out.path().join("new/dir/image.tar");
    let layout = out.path().join("layout");
    let report = out.path().join("reports/findings.sarif");
    let policies = ctx.path().join("policies");
    let (code, stderr, clean) = build(
        ctx.path(),
        store.path(),
        &[],
        &[
            "-t",
            "confined:1",
            "--lock",
            "--policy",
            policies.to_str().expect("utf-8"),
            "-o",
            &format!("oci-archive:{}", archive.display()),
            "-o",
            &format!("oci:{}:confined", layout.display()),
            "--report",
            &format!("sarif:{}", report.display()),
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("note: landlock: enforced"), "{stderr}");
    assert!(std::fs::metadata(&archive).expect("archive").len() > 0);
    assert!(layout.join("index.json").is_file(), "oci layout written");
    let sarif: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).expect("report")).expect("json");
    assert_eq!(sarif["version"], "2.1.0");
    assert!(ctx.path().join("sealbox.lock").is_file(), "lock written beside the Kubefile");
    assert!(clean, "the private temp dir the build worked in is removed");
}
