//! What a sealer user migrating does first: build on a basefs-shaped base
//! image and customise it with COPY onto paths the base already has,
//! checked on the unpacked image with umoci and skopeo.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

fn fixture(name: &str) -> PathBuf {
    workspace().join("tests/fixtures").join(name)
}

fn read(root: &Path, path: &str) -> String {
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Builds the basefs fixture into `store` as `basefs:v1`.
fn build_basefs(store: &Path) {
    let (code, _, stderr) = build(&fixture("basefs"), store, &["-t", "basefs:v1"]);
    assert_eq!(code, 0, "building the base: {stderr}");
}

#[test]
fn documented_customisations_of_a_basefs_image_land_inside_its_directories() {
    let store = tempfile::tempdir().expect("store");
    build_basefs(store.path());
    let (code, _, stderr) = build(&fixture("basefs-custom"), store.path(), &["-t", "custom:v1"]);
    assert_eq!(code, 0, "{stderr}");
    // The base's template has no value for PodCIDR at build time: a warning, as sealer fills it in
    // at deploy time.
    assert!(stderr.contains("warning: etc/kubeadm.yml.tmpl:1:15: no value for key \"PodCIDR\""), "{stderr}");

    let bundle = tempfile::tempdir().expect("bundle");
    let rootfs = umoci_unpack(store.path(), "custom:v1", &bundle.path().join("b"));
    let custom = fixture("basefs-custom");
    let base = fixture("basefs/rootfs");
    // `COPY kubeadm.yml etc`, `COPY daemon.json etc/`: into the base's etc/, over its files.
    assert!(rootfs.join("etc").is_dir() && !rootfs.join("etc").is_symlink());
    assert_eq!(read(&rootfs, "etc/kubeadm.yml"), read(&custom, "kubeadm.yml"));
    assert_eq!(read(&rootfs, "etc/daemon.json"), read(&custom, "daemon.json"));
    // `COPY imageList manifests`: into the base's manifests/.
    assert_eq!(read(&rootfs, "manifests/imageList"), read(&custom, "imageList"));
    // `COPY file existing-file`: replaces it.
    assert_eq!(read(&rootfs, "Metadata"), read(&custom, "Metadata"));
    // Onto the base's link to etc: into etc, the link kept.
    assert_eq!(std::fs::read_link(rootfs.join("conf")).expect("conf link"), PathBuf::from("etc"));
    assert_eq!(read(&rootfs, "etc/extra.conf"), read(&custom, "extra.conf"));
    // The base's other files survive.
    assert_eq!(read(&rootfs, "etc/registry.yml"), read(&base, "etc/registry.yml"));
    assert_eq!(read(&rootfs, "manifests/README.md"), read(&base, "manifests/README.md"));
    assert_eq!(read(&rootfs, "scripts/init-kube.sh"), read(&base, "scripts/init-kube.sh"));
    assert_eq!(read(&rootfs, "bin/kubeadm"), read(&fixture("basefs/amd64"), "bin/kubeadm"));

    // Templates are rendered for the image search only: the image keeps them, and the files
    // beside them, as sealer's does.
    assert_eq!(read(&rootfs, "etc/kubeadm.yml.tmpl"), read(&base, "etc/kubeadm.yml.tmpl"));
    assert_eq!(read(&rootfs, "manifests/pause.yaml.tmpl"), read(&base, "manifests/pause.yaml.tmpl"));
    assert!(!rootfs.join("manifests/pause.yaml").exists(), "no rendered file in the image");

    // The child's layers are the base's, then one per COPY.
    let inspect = |name: &str| -> serde_json::Value {
        let out = Command::new("skopeo")
            .args(["inspect", "--raw"])
            .arg(format!("oci:{}:{name}", store.path().display()))
            .output()
            .expect("skopeo is not installed: run scripts/setup.sh");
        assert!(out.status.success(), "skopeo: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("manifest json")
    };
    let base_layers = inspect("basefs:v1")["layers"].as_array().expect("layers").clone();
    let layers = inspect("custom:v1")["layers"].as_array().expect("layers").clone();
    assert_eq!(layers.len(), base_layers.len() + 5);
    assert_eq!(layers[..base_layers.len()], base_layers[..]);
    // The image list annotation has sealer's key order, byte for byte.
    let raw = inspect("custom:v1");
    let images = raw["annotations"]["sealer.image.container.images"].as_str().expect("images annotation");
    let entry = r#"{"image":"registry.k8s.io/pause:3.6","platform":{"architecture":"amd64","os":"linux"}}"#;
    assert!(images.contains(entry), "{images}");
    // The image search read the rendered template, with sealer's default registry.
    assert!(images.contains(r#"{"image":"sea.hub:5000/pause:3.6","#), "{images}");

    // Values given at build time reach the search; --render-into-image writes the rendered files
    // into the image too, over the base's.
    let args =
        ["-t", "rendered:v1", "--render-into-image", "--env", "PodCIDR=10.0.0.0/8", "--env", "RegistryURL=reg:5000"];
    let (code, _, stderr) = build(&fixture("basefs-custom"), store.path(), &args);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("PodCIDR"), "{stderr}");
    let raw = inspect("rendered:v1");
    let images = raw["annotations"]["sealer.image.container.images"].as_str().expect("images annotation");
    assert!(images.contains(r#"{"image":"reg:5000/pause:3.6","#), "{images}");
    let rootfs = umoci_unpack(store.path(), "rendered:v1", &bundle.path().join("r"));
    assert_eq!(read(&rootfs, "etc/kubeadm.yml"), "podSubnet: 10.0.0.0/8\nimageRepository: reg:5000\n");
    assert!(read(&rootfs, "manifests/pause.yaml").contains("image: reg:5000/pause:3.6"));
}

#[test]
fn short_from_names_find_the_image_stored_under_the_docker_hub_name() {
    let store = tempfile::tempdir().expect("store");
    for tag in ["docker.io/sealerio/kubernetes:v1.22.15", "docker.io/library/basefs:latest"] {
        let (code, _, stderr) = build(&fixture("basefs"), store.path(), &["-t", tag]);
        assert_eq!(code, 0, "building {tag}: {stderr}");
    }
    for (from, full) in [
        ("sealerio/kubernetes:v1.22.15", "docker.io/sealerio/kubernetes:v1.22.15"),
        ("basefs", "docker.io/library/basefs:latest"),
    ] {
        let ctx = tempfile::tempdir().expect("ctx");
        std::fs::write(ctx.path().join("Kubefile"), format!("FROM {from}\nCOPY a.yml etc\n")).expect("kubefile");
        std::fs::write(ctx.path().join("a.yml"), "a: 1\n").expect("a.yml");
        let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "child:v1"]);
        assert_eq!(code, 0, "FROM {from}: {stderr}");
        assert!(stderr.contains(&format!("FROM {from}: a short name, resolved as sealer does to {full}")), "{stderr}");
        let bundle = tempfile::tempdir().expect("bundle");
        let rootfs = umoci_unpack(store.path(), "child:v1", &bundle.path().join("b"));
        assert_eq!(read(&rootfs, "etc/a.yml"), "a: 1\n");
        assert_eq!(read(&rootfs, "etc/registry.yml"), read(&fixture("basefs/rootfs"), "etc/registry.yml"));
    }
}

#[test]
fn every_kubefile_error_and_an_unknown_architecture_are_reported_and_exit_2() {
    let ctx = tempfile::tempdir().expect("ctx");
    std::fs::write(ctx.path().join("Kubefile"), "FROM scratch\nCOPY\nFROBNICATE x\n").expect("kubefile");
    let store = tempfile::tempdir().expect("store");
    let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "bad"]);
    assert_eq!(code, 2, "{stderr}");
    let copy = stderr.find("Kubefile:2: COPY: expected at least one source").expect(&stderr);
    let unknown = stderr.find("Kubefile:3: unknown instruction \"FROBNICATE\"").expect(&stderr);
    assert!(copy < unknown, "in line order: {stderr}");
    no_images(store.path());

    std::fs::write(ctx.path().join("Kubefile"), "FROM scratch\n").expect("kubefile");
    let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "bad", "--platform", "linux/sparc"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("unknown architecture \"sparc\"; sealer builds amd64 and arm64, and OCI knows"),
        "{stderr}"
    );
    no_images(store.path());
}
