//! The host's write side against hostile input, end to end: link chains
//! planted by a transform module, carried in by the build context, or
//! waiting in a directory `sealbox render` writes into. Each test puts a
//! sentinel file outside the build where the links lead, and checks that
//! it is untouched whatever the build did.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::Digest as _;

use crate::common::*;

/// A file outside every tree the build touches.
struct Sentinel {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

const SENTINEL: &str = "[core]\n\trepositoryformatversion = 0\n";

impl Sentinel {
    fn new() -> Sentinel {
        let dir = tempfile::tempdir().expect("sentinel dir");
        let path = dir.path().join("config");
        std::fs::write(&path, SENTINEL).expect("sentinel");
        Sentinel { _dir: dir, path }
    }

    fn assert_untouched(&self) {
        let now = std::fs::read_to_string(&self.path).expect("the sentinel is still there");
        assert_eq!(now, SENTINEL, "a file outside the build was written through a link");
    }
}

/// The links of the chain from issue 12: `z/s -> ..`, `z/u1 -> s/..`, …,
/// `z/u9 -> u8/..` (nine levels up: `/` from any temp dir), then
/// `etc/victim.txt -> ../z/u9/<sentinel>`; as `(path, target)`.
fn chain(sentinel: &Path) -> Vec<(String, String)> {
    let mut links = vec![("z/s".to_string(), "..".to_string())];
    for i in 1..=9 {
        let prev = if i == 1 { "s".to_string() } else { format!("u{}", i - 1) };
        links.push((format!("z/u{i}"), format!("{prev}/..")));
    }
    links.push(("etc/victim.txt".into(), format!("../z/u9{}", sentinel.display())));
    links
}

/// `tar -tvzf` of every layer of the image tagged `name`, one string.
fn layer_listings(store: &Path, name: &str) -> Vec<String> {
    let manifest = manifest(store, name);
    manifest["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .map(|l| {
            let digest = l["digest"].as_str().expect("layer digest");
            let out = Command::new("tar").arg("-tvzf").arg(blob_path(store, digest)).output().expect("tar");
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8_lossy(&out.stdout).into_owned()
        })
        .collect()
}

#[test]
fn a_link_chain_planted_by_a_transform_is_refused_and_nothing_outside_is_written() {
    let sentinel = Sentinel::new();
    let ctx = tempfile::tempdir().expect("ctx");
    std::fs::create_dir_all(ctx.path().join("rootfs/etc")).expect("etc");
    std::fs::write(ctx.path().join("rootfs/etc/victim.txt.tmpl"), "owned = true\n").expect("template");
    std::fs::create_dir(ctx.path().join("modules")).expect("modules");
    std::fs::copy(p1("linkchain"), ctx.path().join("modules/linkchain.wasm")).expect("module");
    let args: Vec<String> = chain(&sentinel.path).iter().map(|(p, t)| format!("{p}={t}")).collect();
    let kubefile = format!("FROM scratch\nCOPY rootfs .\nRUN --module=modules/linkchain.wasm {}\n", args.join(" "));
    std::fs::write(ctx.path().join("Kubefile"), kubefile).expect("Kubefile");
    let before = snapshot(ctx.path());
    let store = tempfile::tempdir().expect("store");

    let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "chain"]);
    assert_ne!(code, 0, "{stderr}");
    assert!(stderr.contains("etc/victim.txt: symlink to"), "the refusal names the link: {stderr}");
    assert!(stderr.contains("points outside the tree (through the link z/u1)"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    sentinel.assert_untouched();
    assert_eq!(snapshot(ctx.path()), before, "the build changed its context");
    no_images(store.path());
}

#[test]
fn a_link_chain_in_the_context_is_packed_as_links_and_rendering_replaces_never_follows_it() {
    let sentinel = Sentinel::new();
    let ctx = tempfile::tempdir().expect("ctx");
    let rootfs = ctx.path().join("rootfs");
    std::fs::create_dir_all(rootfs.join("z")).expect("z");
    std::fs::create_dir_all(rootfs.join("etc")).expect("etc");
    for (path, target) in chain(&sentinel.path) {
        symlink(target, rootfs.join(path)).expect("link");
    }
    std::fs::write(rootfs.join("etc/victim.txt.tmpl"), "owned = true\n").expect("template");
    std::fs::write(ctx.path().join("Kubefile"), "FROM scratch\nCOPY rootfs .\n").expect("Kubefile");
    // A pipeline step makes the host stage the whole rootfs, links
    // included, and render into it too.
    std::fs::create_dir(ctx.path().join("modules")).expect("modules");
    let module = ctx.path().join("modules/noop.wasm");
    std::fs::copy(p1("noop"), &module).expect("module");
    let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(std::fs::read(&module).expect("module"))));
    std::fs::write(
        ctx.path().join("sealbox.yaml"),
        format!(
            "apiVersion: sealbox.io/v1\nkind: Pipeline\nsteps:\n  - name: look\n    stage: after-render\n    \
             module: modules/noop.wasm\n    digest: {digest}\n    kind: policy\n"
        ),
    )
    .expect("sealbox.yaml");
    let before = snapshot(ctx.path());
    let store = tempfile::tempdir().expect("store");

    let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "chain", "--render-into-image"]);
    assert_eq!(code, 0, "{stderr}");
    sentinel.assert_untouched();
    assert_eq!(snapshot(ctx.path()), before, "the build changed its context");
    let layers = layer_listings(store.path(), "chain");
    let copied = &layers[0];
    assert!(copied.contains("etc/victim.txt -> ../z/u9/"), "the COPY layer keeps the link as a link:\n{copied}");
    assert!(copied.contains("z/u9 -> u8/.."), "{copied}");
    let rendered = layers.last().expect("rendered layer");
    let line = rendered.lines().find(|l| l.ends_with(" etc/victim.txt")).unwrap_or_else(|| panic!("{rendered}"));
    assert!(line.starts_with('-'), "the rendered file is a regular file in its own layer: {line}");
}

#[test]
fn render_refuses_to_write_through_a_link_chain_in_its_directory() {
    let sentinel = Sentinel::new();
    let dir = tempfile::tempdir().expect("dir");
    std::fs::create_dir_all(dir.path().join("z")).expect("z");
    std::fs::create_dir_all(dir.path().join("etc")).expect("etc");
    for (path, target) in chain(&sentinel.path) {
        symlink(target, dir.path().join(path)).expect("link");
    }
    std::fs::write(dir.path().join("etc/victim.txt.tmpl"), "owned = true\n").expect("template");
    let before = snapshot(dir.path());
    let (out, _, stderr) = run(sealbox().arg("render").arg(dir.path()));
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("etc/victim.txt: symlink to"), "{stderr}");
    sentinel.assert_untouched();
    assert_eq!(snapshot(dir.path()), before, "a refused render changed its directory");

    // The same template rendered into an output directory whose `etc` is
    // a link out: refused, naming the link.
    let clean = tempfile::tempdir().expect("clean");
    std::fs::create_dir(clean.path().join("etc")).expect("etc");
    std::fs::write(clean.path().join("etc/victim.txt.tmpl"), "owned = true\n").expect("template");
    let out_dir = tempfile::tempdir().expect("out");
    symlink(sentinel.path.parent().expect("parent"), out_dir.path().join("etc")).expect("etc link");
    let (out, _, stderr) = run(sealbox().arg("render").arg(clean.path()).arg("-o").arg(out_dir.path()));
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("/etc: is a symlink"), "{stderr}");
    assert!(!sentinel.path.with_file_name("victim.txt").exists(), "rendered through the link");
    sentinel.assert_untouched();
}
