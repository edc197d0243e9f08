//! "Same inputs, same image digest, on any machine": the bundled example,
//! with its policies, built under every difference a builder's machine
//! can bring (umask, time zone, locale, CPU count, file system, owner,
//! path, store, module cache, step cache) gives one digest; and
//! `--normalize-modes` makes a checkout made under another umask agree.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

/// A copy of `examples/cluster-app` under `parent` (a fresh temp dir when
/// `None`), with modes as the repository has them.
fn example_copy(parent: Option<&Path>) -> (tempfile::TempDir, PathBuf) {
    let tmp = match parent {
        Some(p) => tempfile::tempdir_in(p).expect("tmp"),
        None => tempfile::tempdir().expect("tmp"),
    };
    let dest = tmp.path().join("some/deeper/path/cluster-app");
    std::fs::create_dir_all(&dest).expect("dest");
    let src = workspace().join("examples/cluster-app");
    let status = Command::new("cp").arg("-a").arg(format!("{}/.", src.display())).arg(&dest).status().expect("cp");
    assert!(status.success());
    (tmp, dest)
}

/// How one build of the matrix differs from the first.
struct Variant {
    name: &'static str,
    umask: u32,
    env: Vec<(&'static str, String)>,
    args: Vec<&'static str>,
    wrapper: Option<Vec<&'static str>>,
}

impl Variant {
    fn new(name: &'static str) -> Variant {
        Variant { name, umask: 0o022, env: Vec::new(), args: Vec::new(), wrapper: None }
    }
}

/// Builds `ctx` (with its policies) into a fresh store; returns the digest.
fn digest(ctx: &Path, variant: &Variant) -> String {
    let store = tempfile::tempdir().expect("store");
    let reference = sealbox();
    let mut cmd = match &variant.wrapper {
        Some(w) => {
            let mut c = Command::new(w[0]);
            c.args(&w[1..]).arg(reference.get_program());
            c
        }
        None => Command::new(reference.get_program()),
    };
    for (k, v) in reference.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd.arg("build").arg(ctx).arg("--root").arg(store.path()).arg("-t").arg("repro");
    cmd.arg("--policy").arg(ctx.join("policies")).args(&variant.args);
    for (k, v) in &variant.env {
        cmd.env(k, v);
    }
    let umask = variant.umask;
    // SAFETY: umask is async-signal-safe and touches no memory.
    unsafe {
        cmd.pre_exec(move || {
            libc::umask(umask as libc::mode_t);
            Ok(())
        });
    }
    let (out, stdout, stderr) = run(&mut cmd);
    assert!(out.status.success(), "{}: {stderr}", variant.name);
    stdout.lines().last().unwrap_or_else(|| panic!("{}: no digest printed", variant.name)).to_string()
}

#[test]
fn one_digest_whatever_the_builders_machine() {
    let (_a, ctx) = example_copy(None);
    let baseline = digest(&ctx, &Variant::new("umask 022"));
    let cold_cache = tempfile::tempdir().expect("cold cache");
    let mut variants = vec![
        Variant { umask: 0o002, ..Variant::new("umask 002") },
        Variant { umask: 0o077, ..Variant::new("umask 077") },
        Variant {
            env: vec![("TZ", "Pacific/Chatham".into()), ("LC_ALL", "C.utf8".into()), ("LANG", "tr_TR.UTF-8".into())],
            ..Variant::new("time zone and locale")
        },
        Variant { wrapper: Some(vec!["taskset", "-c", "0"]), ..Variant::new("one CPU") },
        Variant { args: vec!["--no-cache"], ..Variant::new("--no-cache") },
        Variant {
            env: vec![("SEALBOX_CACHE", cold_cache.path().display().to_string())],
            ..Variant::new("a cold module cache")
        },
    ];
    for v in &mut variants {
        assert_eq!(digest(&ctx, v), baseline, "{}", v.name);
    }

    // The context elsewhere: on tmpfs, owned by another user, at another path.
    let (_b, on_tmpfs) = example_copy(Some(Path::new("/dev/shm")));
    assert_eq!(digest(&on_tmpfs, &Variant::new("context on tmpfs")), baseline);
    let (_c, other_owner) = example_copy(None);
    let status = Command::new("chown").args(["-R", "65534:65534"]).arg(&other_owner).status().expect("chown");
    assert!(status.success(), "chown (the tests run as root in CI)");
    assert_eq!(digest(&other_owner, &Variant::new("context owned by another user")), baseline);
}

#[test]
fn normalize_modes_makes_a_checkout_under_another_umask_agree() {
    let (_a, ctx) = example_copy(None);
    let (_b, group_writable) = example_copy(None);
    // What a checkout under umask 002 gives: group-writable files and dirs.
    let status = Command::new("chmod").args(["-R", "g+w"]).arg(&group_writable).status().expect("chmod");
    assert!(status.success());
    let plain = Variant::new("as checked out");
    assert_ne!(
        digest(&ctx, &plain),
        digest(&group_writable, &plain),
        "without --normalize-modes the modes are part of the image"
    );
    let flag = Variant { args: vec!["--normalize-modes"], ..Variant::new("--normalize-modes") };
    let normalized = digest(&ctx, &flag);
    assert_eq!(digest(&group_writable, &flag), normalized);
    let env =
        Variant { env: vec![("SEALBOX_NORMALIZE_MODES", "1".into())], ..Variant::new("SEALBOX_NORMALIZE_MODES=1") };
    assert_eq!(digest(&group_writable, &env), normalized);
}
