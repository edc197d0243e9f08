//! `sealbox build`, checked with the tools users check images with:
//! skopeo and umoci.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

fn fixture(name: &str) -> PathBuf {
    workspace().join("tests/fixtures").join(name)
}

/// A copy of a fixture in a temp dir, so tests can change it.
fn copy_of(src: &Path) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tmp");
    let status = Command::new("cp").arg("-a").arg(format!("{}/.", src.display())).arg(tmp.path()).status().expect("cp");
    assert!(status.success());
    tmp
}

fn tool(cmd: &str) -> Option<Command> {
    let found = Command::new("sh").arg("-c").arg(format!("command -v {cmd}")).output().ok()?.status.success();
    if !found {
        // CI installs skopeo and umoci (scripts/setup.sh); a developer
        // machine without them must say so, not pass quietly.
        panic!("{cmd} is not installed: run scripts/setup.sh");
    }
    Some(Command::new(cmd))
}

fn json(cmd: &mut Command) -> serde_json::Value {
    let out = cmd.output().expect("running tool");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("json")
}

#[test]
fn cmds_context_gives_sealers_metadata_and_a_valid_oci_image() {
    let store = tempfile::tempdir().expect("store");
    let (code, stdout, stderr) = build(&fixture("cmds"), store.path(), &["-t", "cmds:v1"]);
    assert_eq!(code, 0, "{stderr}");
    let digest = stdout.lines().last().expect("digest line");
    assert!(digest.starts_with("sha256:") && digest.len() == 71, "{stdout}");
    assert!(stderr.contains("latest"), "the floating busybox tag is flagged: {stderr}");

    let inspect =
        json(tool("skopeo").expect("skopeo").args(["inspect"]).arg(format!("oci:{}:cmds:v1", store.path().display())));
    assert_eq!(inspect["Digest"], digest);
    let raw = json(
        tool("skopeo")
            .expect("skopeo")
            .args(["inspect", "--raw"])
            .arg(format!("oci:{}:cmds:v1", store.path().display())),
    );
    let ext: serde_json::Value =
        serde_json::from_str(raw["annotations"]["sealer.image.extension"].as_str().expect("extension")).expect("json");
    assert_eq!(ext["schemaVersion"], "v1alpha1");
    assert_eq!(ext["type"], "kube-installer");
    assert_eq!(ext["launch"], serde_json::json!({"cmds": ["kubectl apply -f manifests/app.yaml"]}));
    assert!(ext.get("applications").is_none());
    let images: serde_json::Value =
        serde_json::from_str(raw["annotations"]["sealer.image.container.images"].as_str().expect("images"))
            .expect("json");
    assert_eq!(
        images,
        serde_json::json!([
            {"image": "docker.io/library/busybox:latest", "platform": {"architecture": "amd64", "os": "linux"}},
            {"image": "docker.io/library/nginx:alpine", "platform": {"architecture": "amd64", "os": "linux"}}
        ])
    );

    // umoci checks every layer's diff_id while unpacking.
    let bundle = tempfile::tempdir().expect("bundle");
    let rootfs = umoci_unpack(store.path(), "cmds:v1", &bundle.path().join("b"));
    assert_eq!(
        std::fs::read(rootfs.join("manifests/app.yaml")).expect("app"),
        std::fs::read(fixture("cmds/app.yaml")).expect("src")
    );
    // The image list is the context's, as sealer leaves it: the images found are in the annotation.
    assert_eq!(
        std::fs::read(rootfs.join("manifests/imageList")).expect("imageList"),
        std::fs::read(fixture("cmds/imageList")).expect("src")
    );

    // And a docker archive that `docker load` reads (converting to a
    // Docker manifest necessarily changes the digest).
    let archive = store.path().join("cmds.tar");
    let out = tool("skopeo")
        .expect("skopeo")
        .args(["copy"])
        .arg(format!("oci:{}:cmds:v1", store.path().display()))
        .arg(format!("docker-archive:{}:cmds:v1", archive.display()))
        .output()
        .expect("skopeo copy");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn appcmds_context_detects_app_types_and_launch() {
    let store = tempfile::tempdir().expect("store");
    let (code, _, stderr) = build(&fixture("appcmds"), store.path(), &["-t", "apps"]);
    assert_eq!(code, 0, "{stderr}");
    let (out, stdout, _) = run(sealbox().args(["inspect", "apps", "--root"]).arg(store.path()));
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    let ext = &v["imageExtension"];
    assert_eq!(
        ext["applications"],
        serde_json::json!([
            {"name": "yamlapp", "type": "kube", "files": ["/a.yaml", "/b.yaml", "/c.yaml"], "version": "v1"},
            {"name": "shellapp", "type": "shell", "files": ["/a.sh", "/b.sh", "/c.sh"], "version": "v1"},
            {"name": "mixedapp", "version": "v1", "cmds": ["kubectl apply -f app.yaml"]}
        ])
    );
    assert_eq!(ext["launch"], serde_json::json!({"app_names": ["mixedapp", "shellapp"]}));
    assert_eq!(
        v["containerImageList"],
        serde_json::json!([{"image": "docker.io/library/nginx:alpine", "appName": "mixedapp", "platform": {"architecture": "amd64", "os": "linux"}}])
    );
}

#[test]
fn same_inputs_give_the_same_digest_whatever_the_file_times_and_cache() {
    let a = copy_of(&workspace().join("examples/cluster-app"));
    let b = copy_of(&workspace().join("examples/cluster-app"));
    // Different mtimes and a different order of creation in the copy.
    let status = Command::new("find")
        .arg(b.path())
        .args(["-exec", "touch", "-d", "2001-02-03 04:05:06", "{}", "+"])
        .status()
        .expect("touch");
    assert!(status.success());
    let (s1, s2) = (tempfile::tempdir().expect("s1"), tempfile::tempdir().expect("s2"));
    let (c1, d1, e1) = build(a.path(), s1.path(), &["-t", "x"]);
    assert_eq!(c1, 0, "{e1}");
    let (c2, d2, e2) = build(b.path(), s2.path(), &["-t", "x", "--no-cache"]);
    assert_eq!(c2, 0, "{e2}");
    assert_eq!(d1.lines().last(), d2.lines().last());
    // An unchanged rebuild reuses every layer and the image search.
    let (c3, d3, e3) = build(a.path(), s1.path(), &["-t", "x"]);
    assert_eq!(c3, 0);
    assert_eq!(d1, d3);
    // The imagelist and the three context layers (the templates are rendered for the search only).
    assert_eq!(e3.matches("cached").count(), 4, "{e3}");
    assert!(e3.lines().any(|l| l.starts_with("imagelist") && l.contains("cached")), "{e3}");
    // A different SOURCE_DATE_EPOCH is a different image.
    let (_, d4, _) = build(a.path(), s1.path(), &["--source-date-epoch", "1700000000"]);
    assert_ne!(d1.lines().last(), d4.lines().last());
}

#[test]
fn zstd_and_uncompressed_layers_and_json_output() {
    for compression in ["zstd", "none"] {
        let store = tempfile::tempdir().expect("store");
        let (code, stdout, stderr) =
            build(&fixture("cmds"), store.path(), &["--compression", compression, "--format", "json", "-t", "c"]);
        assert_eq!(code, 0, "{stderr}");
        let v: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON object");
        let media = v["platforms"][0]["layers"][0]["mediaType"].as_str().expect("media type").to_string();
        let want = if compression == "zstd" {
            "application/vnd.oci.image.layer.v1.tar+zstd"
        } else {
            "application/vnd.oci.image.layer.v1.tar"
        };
        assert_eq!(media, want);
        assert!(v["steps"].as_array().is_some_and(|s| s.len() >= 4));
        let inspect =
            json(tool("skopeo").expect("skopeo").args(["inspect"]).arg(format!("oci:{}:c", store.path().display())));
        assert_eq!(inspect["Digest"], v["digest"]);
    }
}

#[test]
fn multi_platform_build_makes_an_index_with_arch_expanded() {
    let store = tempfile::tempdir().expect("store");
    let (code, stdout, stderr) =
        build(&fixture("multiarch"), store.path(), &["--platform", "linux/amd64,linux/arm64", "-t", "multi"]);
    assert_eq!(code, 0, "{stderr}");
    let raw = json(
        tool("skopeo").expect("skopeo").args(["inspect", "--raw"]).arg(format!("oci:{}:multi", store.path().display())),
    );
    assert_eq!(raw["mediaType"], "application/vnd.oci.image.index.v1+json");
    let arches: Vec<&str> = raw["manifests"]
        .as_array()
        .expect("manifests")
        .iter()
        .filter_map(|m| m["platform"]["architecture"].as_str())
        .collect();
    assert_eq!(arches, ["amd64", "arm64"]);
    assert!(stdout.trim().starts_with("sha256:"));
    for arch in ["amd64", "arm64"] {
        let image = format!("oci:{}:multi", store.path().display());
        // Each platform's config says its architecture.
        let config =
            json(tool("skopeo").expect("skopeo").args(["inspect", "--config", "--override-arch", arch]).arg(&image));
        assert_eq!(config["architecture"], arch);
        assert_eq!(config["os"], "linux");
        // Each platform's layer holds its own files. umoci before 0.5 has
        // no --platform, so skopeo first picks the platform's manifest out
        // of the index into a one-image layout that any umoci unpacks.
        let work = tempfile::tempdir().expect("work");
        let single = work.path().join("single");
        let copied = tool("skopeo")
            .expect("skopeo")
            .args(["copy", "--override-arch", arch, &image])
            .arg(format!("oci:{}:one", single.display()))
            .output()
            .expect("skopeo copy");
        assert!(copied.status.success(), "{}", String::from_utf8_lossy(&copied.stderr));
        let bundle = work.path().join("b");
        let out = tool("umoci")
            .expect("umoci")
            .args(["unpack", "--rootless", "--image"])
            .arg(format!("{}:one", single.display()))
            .arg(&bundle)
            .output()
            .expect("umoci unpack");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let hello = std::fs::read_to_string(bundle.join("rootfs/bin/hello")).expect("hello");
        let want = std::fs::read_to_string(fixture("multiarch").join(arch).join("bin/hello")).expect("fixture hello");
        assert_eq!(hello, want, "{arch}");
    }
    let (out, stdout, _) =
        run(sealbox().args(["inspect", "multi", "--platform", "linux/arm64", "--root"]).arg(store.path()));
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(v["ociv1"]["architecture"], "arm64");
}

#[test]
fn exports_to_oci_dir_oci_archive_and_docker_archive() {
    let store = tempfile::tempdir().expect("store");
    let out = tempfile::tempdir().expect("out");
    let oci = out.path().join("layout");
    let oci_archive = out.path().join("image.oci.tar");
    let docker = out.path().join("image.docker.tar");
    let (code, stdout, stderr) = build(
        &fixture("cmds"),
        store.path(),
        &[
            "-t",
            "exp:1",
            "-o",
            &format!("oci:{}:exp", oci.display()),
            "-o",
            &format!("oci-archive:{}", oci_archive.display()),
            "-o",
            &format!("docker-archive:{}", docker.display()),
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let digest = stdout.lines().last().expect("digest");
    for reference in [format!("oci:{}:exp", oci.display()), format!("oci-archive:{}", oci_archive.display())] {
        let v = json(tool("skopeo").expect("skopeo").arg("inspect").arg(&reference));
        assert_eq!(v["Digest"], digest, "{reference}");
    }
    let v = json(tool("skopeo").expect("skopeo").arg("inspect").arg(format!("docker-archive:{}", docker.display())));
    assert_eq!(v["Os"], "linux");
    // `podman load` takes the docker archive (no daemon needed), into a
    // private storage root.
    let podroot = tempfile::tempdir().expect("podman root");
    let podman = |args: &[&str]| {
        let mut cmd = tool("podman").expect("podman");
        cmd.args(["--storage-driver", "vfs", "--root"]).arg(podroot.path().join("root"));
        cmd.arg("--runroot").arg(podroot.path().join("run")).args(args);
        cmd
    };
    let loaded = podman(&["load", "-i", &docker.display().to_string()]).output().expect("podman load");
    assert!(loaded.status.success(), "podman load: {}", String::from_utf8_lossy(&loaded.stderr));
    let inspect = json(&mut podman(&["image", "inspect", "exp:1"]));
    let labels = &inspect[0]["Labels"];
    assert!(inspect[0]["RootFS"]["Layers"].as_array().is_some_and(|l| !l.is_empty()), "{inspect}");
    assert_eq!(inspect[0]["Os"], "linux", "{labels}");
    // save writes the same image again.
    let saved = out.path().join("saved.tar");
    let (o, _, e) = run(sealbox().args(["save", "exp:1", "-o"]).arg(&saved).arg("--root").arg(store.path()));
    assert!(o.status.success(), "{e}");
    let v = json(tool("skopeo").expect("skopeo").arg("inspect").arg(format!("oci-archive:{}", saved.display())));
    assert_eq!(v["Digest"], digest);
}

#[test]
fn kubefile_errors_name_the_line_and_exit_2() {
    let cases: &[(&str, &str)] = &[
        ("FROM scratch\nRUN apt-get install -y curl\n", "Kubefile:2"),
        ("FROM scratch\nFROBNICATE x\n", "Kubefile:2"),
        ("FROM scratch\nCOPY ../secret .\n", "Kubefile:2"),
        ("FROM scratch\nCOPY /etc/passwd .\n", "Kubefile:2"),
        ("FROM scratch\nAPP a local://x\nAPPCMDS b [\"x\"]\n", "Kubefile:3"),
        ("FROM scratch\nLAUNCH [\"a\"\n", "Kubefile:2"),
        ("FROM scratch\nADD https://example.com/x.tar .\n", "Kubefile:2"),
    ];
    for (kubefile, want) in cases {
        let ctx = tempfile::tempdir().expect("ctx");
        std::fs::create_dir(ctx.path().join("x")).expect("x");
        std::fs::write(ctx.path().join("x/a.yaml"), "a: 1\n").expect("a");
        std::fs::write(ctx.path().join("Kubefile"), kubefile).expect("kubefile");
        let store = tempfile::tempdir().expect("store");
        let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "bad"]);
        assert_eq!(code, 2, "{kubefile:?}: {stderr}");
        assert!(stderr.contains(want), "{kubefile:?}: {stderr}");
        let (_, listed, _) = run(sealbox().arg("images").arg("--json").arg("--root").arg(store.path()));
        assert_eq!(listed.trim(), "[]", "a failed build leaves no image");
    }
}

#[test]
fn hostile_contexts_fail_cleanly_and_leave_no_image() {
    let outside = tempfile::tempdir().expect("outside");
    std::fs::write(outside.path().join("secret"), "host secret").expect("secret");
    type Setup<'a> = Box<dyn Fn(&Path) + 'a>;
    let mut multiplying_args = format!("ARG A0={}\n", "x".repeat(64));
    for i in 1..7 {
        multiplying_args.push_str(&format!("ARG A{i}={}\n", format!("${{A{}}}", i - 1).repeat(64)));
    }
    let deep_substitution = format!("COPY {}rootfs{} .", "${A:-".repeat(100_000), "}".repeat(100_000));
    let setups: Vec<(&str, Setup, &str)> = vec![
        (
            "symlink out of the context as a source",
            Box::new(|ctx: &Path| {
                std::os::unix::fs::symlink(outside.path().join("secret"), ctx.join("rootfs/link")).expect("link")
            }),
            "COPY rootfs/link .",
        ),
        (
            "fifo in a copied directory",
            Box::new(|ctx: &Path| {
                let p = ctx.join("rootfs/fifo");
                let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).expect("cstr");
                // SAFETY: a plain mkfifo on a path we own.
                assert_eq!(unsafe { libc_mkfifo(c.as_ptr(), 0o644) }, 0);
            }),
            "COPY rootfs .",
        ),
        (
            "file name that is not UTF-8",
            Box::new(|ctx: &Path| {
                use std::os::unix::ffi::OsStrExt;
                std::fs::write(ctx.join("rootfs").join(std::ffi::OsStr::from_bytes(b"bad\xffname")), "x")
                    .expect("write");
            }),
            "COPY rootfs .",
        ),
        (
            "lock file linked to /dev/zero",
            Box::new(|ctx: &Path| std::os::unix::fs::symlink("/dev/zero", ctx.join("sealbox.lock")).expect("link")),
            "COPY rootfs .",
        ),
        // Each ARG 64 times the last: terabytes by the sixth line.
        ("ARGs that multiply each other", Box::new(|_: &Path| {}), &multiplying_args),
        ("substitutions nested 100000 deep", Box::new(|_: &Path| {}), &deep_substitution),
    ];
    for (what, setup, copy) in setups {
        let ctx = tempfile::tempdir().expect("ctx");
        std::fs::create_dir(ctx.path().join("rootfs")).expect("rootfs");
        std::fs::write(ctx.path().join("rootfs/ok"), "ok").expect("ok");
        setup(ctx.path());
        std::fs::write(ctx.path().join("Kubefile"), format!("FROM scratch\n{copy}\n")).expect("kubefile");
        let store = tempfile::tempdir().expect("store");
        let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "bad"]);
        assert!(code == 1 || code == 2, "{what}: exit {code}: {stderr}");
        assert!(stderr.lines().count() < 20 && !stderr.contains("panicked"), "{what}: {stderr}");
        assert!(!stderr.contains("host secret"));
        let (_, listed, _) = run(sealbox().arg("images").arg("--json").arg("--root").arg(store.path()));
        assert_eq!(listed.trim(), "[]", "{what}: a failed build leaves no image");
        let (o, _, e) = run(sealbox().arg("fsck").arg("--root").arg(store.path()));
        assert!(o.status.success(), "{what}: {e}");
    }
}

unsafe extern "C" {
    #[link_name = "mkfifo"]
    fn libc_mkfifo(path: *const std::ffi::c_char, mode: u32) -> i32;
}

#[test]
fn template_with_a_missing_key_warns_or_with_strict_templates_fails_the_build_with_its_location() {
    let ctx = tempfile::tempdir().expect("ctx");
    std::fs::create_dir_all(ctx.path().join("rootfs/etc")).expect("etc");
    std::fs::write(ctx.path().join("rootfs/etc/kubeadm.yml.tmpl"), "a: 1\npodSubnet: {{ .PodCIDR }}\n").expect("tmpl");
    std::fs::write(ctx.path().join("Kubefile"), "FROM scratch\nCOPY rootfs .\n").expect("kubefile");
    let store = tempfile::tempdir().expect("store");
    let location = "etc/kubeadm.yml.tmpl:2:15: no value for key \"PodCIDR\"";
    for strict in [&["--strict-templates"][..], &["--missing-key", "error"]] {
        let (code, _, stderr) = build(ctx.path(), store.path(), &[&["-t", "t"][..], strict].concat());
        assert_eq!(code, 1, "{strict:?}: {stderr}");
        assert!(stderr.contains("etc/kubeadm.yml.tmpl:2:15: "), "{strict:?}: {stderr}");
        assert!(stderr.contains("key \"PodCIDR\""), "{strict:?}: {stderr}");
        no_images(store.path());
    }
    // By default it is a warning, as sealer renders at deploy time.
    let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "t"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains(&format!("warning: {location}")), "{stderr}");
    assert!(stderr.contains("rendered as `<no value>`, as sealer renders a missing value at deploy time"), "{stderr}");
    // Given the value, it renders; with --missing-key=zero it renders as sealer would.
    let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "t", "--env", "PodCIDR=10.0.0.0/8"]);
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "t", "--missing-key", "zero"]);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn enforced_policy_failure_fails_the_build_and_names_the_resource() {
    let ctx = copy_of(&workspace().join("examples/cluster-app"));
    let deployment = ctx.path().join("apps/web/deployment.yaml");
    let text = std::fs::read_to_string(&deployment).expect("deployment");
    // Drop the web container's limits.
    let cut = text.rfind("          resources:").expect("resources");
    std::fs::write(&deployment, &text[..cut]).expect("write");
    let store = tempfile::tempdir().expect("store");
    let policies = workspace().join("examples/cluster-app/policies");
    let (code, _, stderr) =
        build(ctx.path(), store.path(), &["-t", "p", "--policy", policies.to_str().expect("utf-8")]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("require-limits"), "{stderr}");
    assert!(stderr.contains("deployment.yaml"), "{stderr}");
    let (_, listed, _) = run(sealbox().arg("images").arg("--json").arg("--root").arg(store.path()));
    assert_eq!(listed.trim(), "[]");
}

/// The files a single-layer image's layer holds, as GNU tar lists them.
fn layer_paths(store: &Path, name: &str) -> Vec<String> {
    let raw =
        json(tool("skopeo").expect("skopeo").args(["inspect", "--raw"]).arg(format!("oci:{}:{name}", store.display())));
    let digest = raw["layers"][0]["digest"].as_str().expect("layer").trim_start_matches("sha256:").to_string();
    let out = Command::new("tar").arg("-tzf").arg(store.join("blobs/sha256").join(digest)).output().expect("tar");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect()
}

#[test]
fn a_hundred_thousand_empty_files_and_very_long_paths_pack_correctly() {
    let ctx = tempfile::tempdir().expect("ctx");
    let rootfs = ctx.path().join("rootfs");
    for d in 0..100 {
        let dir = rootfs.join(format!("d{d:03}"));
        std::fs::create_dir_all(&dir).expect("dir");
        for f in 0..1000 {
            std::fs::File::create(dir.join(format!("f{f:04}"))).expect("file");
        }
    }
    // A path of about 3,000 bytes: needs PAX headers in the tar.
    let mut deep = rootfs.clone();
    for i in 0..14 {
        deep.push(format!("{i:02}{}", "x".repeat(200)));
    }
    std::fs::create_dir_all(&deep).expect("deep");
    std::fs::write(deep.join("leaf.txt"), "deep").expect("leaf");
    std::fs::write(ctx.path().join("Kubefile"), "FROM scratch\nCOPY rootfs .\n").expect("kubefile");
    let store = tempfile::tempdir().expect("store");
    let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "many"]);
    assert_eq!(code, 0, "{stderr}");
    let paths = layer_paths(store.path(), "many");
    assert_eq!(paths.iter().filter(|p| p.contains("/f")).count(), 100_000);
    let leaf = paths.iter().find(|p| p.ends_with("leaf.txt")).expect("the deep file is in the layer");
    assert!(leaf.len() > 2800, "{leaf}");
}

#[test]
fn ignore_file_keeps_files_out_of_copied_directories() {
    let ctx = tempfile::tempdir().expect("ctx");
    std::fs::create_dir_all(ctx.path().join("rootfs/etc")).expect("etc");
    std::fs::write(ctx.path().join("rootfs/etc/keep.conf"), "k").expect("keep");
    std::fs::write(ctx.path().join("rootfs/etc/secret.key"), "s").expect("secret");
    std::fs::write(ctx.path().join(".dockerignore"), "**/*.key\n").expect("ignore");
    std::fs::write(ctx.path().join("Kubefile"), "FROM scratch\nCOPY rootfs .\n").expect("kubefile");
    let store = tempfile::tempdir().expect("store");
    let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "ign"]);
    assert_eq!(code, 0, "{stderr}");
    let paths = layer_paths(store.path(), "ign");
    assert!(paths.iter().any(|p| p.ends_with("etc/keep.conf")), "{paths:?}");
    assert!(!paths.iter().any(|p| p.ends_with("secret.key")), "{paths:?}");
}

/// A file that grows while the build reads it (a log being written into
/// the context): the build either packs a consistent image or fails with
/// a message naming the file, and never leaves a half-written image.
#[test]
fn a_file_growing_during_the_build_is_packed_whole_or_refused() {
    use std::io::Write;
    use std::sync::atomic::{AtomicBool, Ordering};
    let ctx = tempfile::tempdir().expect("ctx");
    std::fs::create_dir(ctx.path().join("rootfs")).expect("rootfs");
    let log = ctx.path().join("rootfs/app.log");
    std::fs::write(&log, vec![b'x'; 8 << 20]).expect("log");
    std::fs::write(ctx.path().join("Kubefile"), "FROM scratch\nCOPY rootfs .\n").expect("kubefile");
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let writer = {
        let (stop, log) = (stop.clone(), log.clone());
        std::thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new().append(true).open(&log).expect("open log");
            let mut appended = 0u64;
            while !stop.load(Ordering::Relaxed) && appended < 256 << 20 {
                f.write_all(&[b'y'; 64 << 10]).expect("append");
                appended += 64 << 10;
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
        })
    };
    let store = tempfile::tempdir().expect("store");
    let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "growing:v1", "--no-cache"]);
    stop.store(true, Ordering::Relaxed);
    writer.join().expect("writer");
    if code == 0 {
        // umoci checks the layer's diff_id; the file is one of the sizes
        // it had, made of the bytes written so far.
        let bundle = tempfile::tempdir().expect("bundle");
        let rootfs = umoci_unpack(store.path(), "growing:v1", &bundle.path().join("b"));
        let packed = std::fs::read(rootfs.join("app.log")).expect("packed log");
        assert!(packed.len() >= 8 << 20);
        assert!(packed[..8 << 20].iter().all(|&b| b == b'x') && packed[8 << 20..].iter().all(|&b| b == b'y'));
    } else {
        assert!(stderr.contains("app.log") && stderr.contains("grew"), "{stderr}");
        let (out, stdout, err) = run(sealbox().arg("images").arg("--root").arg(store.path()));
        assert!(out.status.success(), "{err}");
        assert!(!stdout.contains("growing"), "no image was tagged: {stdout}");
    }
    let (out, _, err) = run(sealbox().arg("fsck").arg("--root").arg(store.path()));
    assert!(out.status.success(), "fsck: {err}");
}

#[test]
fn cel_policies_deny_fails_the_build_and_audit_warns() {
    let ctx = copy_of(&workspace().join("examples/cluster-app"));
    let policies = tempfile::tempdir().expect("policies");
    let policy = |actions: &str| {
        format!(
            "apiVersion: policies.kyverno.io/v1\nkind: ValidatingPolicy\nmetadata:\n  name: reserved-names\nspec:\n  \
             validationActions: [{actions}]\n  matchConstraints:\n    resourceRules:\n    - apiGroups: [apps]\n      \
             apiVersions: [v1]\n      operations: [CREATE, UPDATE]\n      resources: [deployments]\n  validations:\n  \
             - expression: \"object.spec.replicas >= 1\"\n  - expression: \"object.metadata.name != 'web'\"\n    \
             messageExpression: \"'the name ' + object.metadata.name + ' is reserved'\"\n"
        )
    };
    let file = policies.path().join("reserved.yaml");
    std::fs::write(&file, policy("Deny")).expect("policy");
    let store = tempfile::tempdir().expect("store");
    let arg = policies.path().to_str().expect("utf-8");
    let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "p", "--policy", arg]);
    assert_eq!(code, 1, "{stderr}");
    for want in ["reserved-names/validations[1]", "the name web is reserved", "deployment.yaml"] {
        assert!(stderr.contains(want), "{want}: {stderr}");
    }
    no_images(store.path());
    std::fs::write(&file, policy("Audit, Warn")).expect("policy");
    let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "p", "--policy", arg]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("warning") && stderr.contains("the name web is reserved"), "{stderr}");
}
