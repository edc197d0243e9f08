//! `ADD` of local archives: unpacked by the `unpack` builtin in the
//! sandbox, checked against what GNU tar extracts from the same archive.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use crate::common::*;

fn sh(script: &str, dir: &Path) {
    let out = Command::new("sh").arg("-ec").arg(script).current_dir(dir).output().expect("sh");
    assert!(out.status.success(), "{script}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A tree with modes, an empty dir, a symlink and a hard link.
fn make_tree(root: &Path) {
    sh(
        "mkdir -p app/bin app/etc app/empty && printf '#!/bin/sh\\necho hi\\n' > app/bin/run && chmod 0750 app/bin/run \
         && echo 'port: 80' > app/etc/conf.yaml && chmod 0600 app/etc/conf.yaml && ln -s ../etc/conf.yaml app/bin/conf \
         && ln app/bin/run app/bin/run2",
        root,
    );
}

/// Paths, kinds, modes, link targets and contents under `dir`.
fn describe(dir: &Path) -> Vec<String> {
    snapshot(dir)
        .into_iter()
        .map(|(path, content)| {
            let meta = std::fs::symlink_metadata(dir.join(path.trim_end_matches('/'))).expect("meta");
            format!("{path} {:o} {}", meta.permissions().mode() & 0o7777, String::from_utf8_lossy(&content))
        })
        .collect()
}

#[test]
fn archives_in_every_compression_unpack_like_gnu_tar() {
    let ctx = tempfile::tempdir().expect("ctx");
    make_tree(ctx.path());
    sh(
        "tar -cf app.tar app && gzip -c app.tar > app.tar.gz && xz -c app.tar > app.tar.xz \
         && bzip2 -c app.tar > app.tar.bz2 && zstd -q -c app.tar > app.tar.zst && echo extra > extra.txt",
        ctx.path(),
    );
    std::fs::write(
        ctx.path().join("Kubefile"),
        "FROM scratch\nADD app.tar.gz /opt/gz\nADD app.tar.xz /opt/xz\nADD app.tar.bz2 /opt/bz2\n\
         ADD app.tar.zst extra.txt /opt/zst/\nADD app.tar /opt/plain\n",
    )
    .expect("kubefile");
    let store = tempfile::tempdir().expect("store");
    let (code, stdout, stderr) = build(ctx.path(), store.path(), &["-t", "add:v1"]);
    assert_eq!(code, 0, "{stderr}");

    let expected = tempfile::tempdir().expect("expected");
    sh(&format!("tar -xpf {}/app.tar", ctx.path().display()), expected.path());
    let want = describe(&expected.path().join("app"));
    let bundle = tempfile::tempdir().expect("bundle");
    let rootfs = umoci_unpack(store.path(), "add:v1", &bundle.path().join("b"));
    for kind in ["gz", "xz", "bz2", "zst", "plain"] {
        assert_eq!(describe(&rootfs.join("opt").join(kind).join("app")), want, "ADD of the {kind} archive");
    }
    assert_eq!(std::fs::read_to_string(rootfs.join("opt/zst/extra.txt")).expect("extra"), "extra\n");
    // The hard link is kept as one (umoci recreates it).
    let run = std::fs::metadata(rootfs.join("opt/gz/app/bin/run")).expect("run");
    let run2 = std::fs::metadata(rootfs.join("opt/gz/app/bin/run2")).expect("run2");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(run.ino(), run2.ino());

    // Reproducible: the same digest from scratch, without the cache.
    let store2 = tempfile::tempdir().expect("store2");
    let (code, again, stderr) = build(ctx.path(), store2.path(), &["-t", "add:v1", "--no-cache"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(again.lines().last(), stdout.lines().last());
}

/// A tar whose one member has the raw name `name` (which `tar` the tool
/// and the `tar` crate would refuse to write).
fn raw_member_tar(name: &[u8]) -> Vec<u8> {
    let mut h = tar::Header::new_old();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mode(0o644);
    h.set_size(5);
    h.as_old_mut().name[..name.len()].copy_from_slice(name);
    h.set_cksum();
    let mut out = h.as_bytes().to_vec();
    out.extend_from_slice(b"pwned");
    out.resize(512 * 4, 0);
    out
}

#[test]
fn a_hostile_archive_fails_cleanly_and_writes_nothing_outside() {
    let outer = tempfile::tempdir().expect("outer");
    let ctx = outer.path().join("ctx");
    std::fs::create_dir(&ctx).expect("ctx");
    std::fs::write(ctx.join("evil.tar"), raw_member_tar(b"../../../escaped")).expect("tar");
    std::fs::write(ctx.join("Kubefile"), "FROM scratch\nADD evil.tar /opt\n").expect("kubefile");
    let before = snapshot(outer.path());
    let store = tempfile::tempdir().expect("store");
    let (code, _, stderr) = build(&ctx, store.path(), &["-t", "evil:v1"]);
    assert_ne!(code, 0);
    assert!(stderr.contains("Kubefile:2") && stderr.contains("escaped") && stderr.contains(".."), "{stderr}");
    assert_eq!(snapshot(outer.path()), before, "the context and its parent are unchanged");
    let (out, _, err) = run(sealbox().arg("images").arg("--root").arg(store.path()));
    assert!(out.status.success(), "{err}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("evil"), "no image was tagged");
    let (out, _, err) = run(sealbox().arg("fsck").arg("--root").arg(store.path()));
    assert!(out.status.success(), "fsck: {err}");
}

#[test]
fn a_member_below_a_planted_symlink_is_refused() {
    let ctx = tempfile::tempdir().expect("ctx");
    sh("mkdir t && ln -s /etc t/link && tar -cf a.tar -C t link", ctx.path());
    // A second archive writing through the link the first planted.
    sh("mkdir -p u/link && echo x > u/link/passwd && tar -cf b.tar -C u link/passwd", ctx.path());
    std::fs::write(ctx.path().join("Kubefile"), "FROM scratch\nADD a.tar b.tar /opt/\n").expect("kubefile");
    let store = tempfile::tempdir().expect("store");
    let (code, _, stderr) = build(ctx.path(), store.path(), &[]);
    assert_ne!(code, 0);
    assert!(stderr.contains("opt/link") && stderr.contains("symlink"), "{stderr}");
}

#[test]
fn an_archive_expanding_far_beyond_its_size_is_refused_naming_it_and_the_flag() {
    // 8 MiB of zeros gzip to about 8 KiB: 1000:1.
    let ctx = tempfile::tempdir().expect("ctx");
    sh("head -c 8388608 /dev/zero > zeros && tar -czf zeros.tar.gz zeros && rm zeros", ctx.path());
    std::fs::write(ctx.path().join("Kubefile"), "FROM scratch\nADD zeros.tar.gz /opt/\n").expect("kubefile");
    let store = tempfile::tempdir().expect("store");
    // The ratio starts at 1 GiB by default; here at 1 MiB.
    let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "bomb", "--add-ratio-threshold", "1MiB"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("Kubefile:2: ADD zeros.tar.gz: the archive unpacks to more than"), "{stderr}");
    assert!(stderr.contains("over 100:1 past the first 1 MiB") && stderr.contains("--max-add-ratio"), "{stderr}");
    let index = std::fs::read_to_string(store.path().join("index.json")).unwrap_or_default();
    assert!(!index.contains("bomb"), "a refused build tags no image: {index}");

    // A ratio it stays within, no ratio limit, or the default threshold: it builds.
    for args in [
        &["--add-ratio-threshold", "1MiB", "--max-add-ratio", "5000"][..],
        &["--add-ratio-threshold", "1MiB", "--max-add-ratio", "0"],
        &[],
    ] {
        let (code, _, stderr) = build(ctx.path(), store.path(), &[&["-t", "zeros"][..], args].concat());
        assert_eq!(code, 0, "{args:?}: {stderr}");
    }
}
