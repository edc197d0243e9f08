//! Offline images (`--build-mode all`): a source registry (Debian's
//! `docker-registry` on 127.0.0.1) seeded with test images made by sealbox
//! — one by tag, a two-platform index by tag and by digest, one by digest —
//! a context naming them, and the built image's `registry/` served by a
//! second `docker-registry` whose storage root is that directory, as
//! basefs's `init-registry.sh` serves it at deploy time. skopeo reads
//! every image from it, byte for byte the source's.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;
use crate::registry::{PASSWORD, Registry, USER, build_image, noise, ok, sb};

/// `skopeo inspect --raw` of `reference` over plain HTTP: the manifest bytes.
fn raw(reference: &str) -> Vec<u8> {
    let out = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false", &format!("docker://{reference}")])
        .output()
        .expect("running skopeo (scripts/setup.sh installs it)");
    assert!(out.status.success(), "skopeo inspect {reference}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// `skopeo copy` of `reference` (the linux/amd64 image) into a `dir:`
/// directory; its files, sorted.
fn copy(reference: &str, dest: &Path) -> Vec<(String, Vec<u8>)> {
    let out = Command::new("skopeo")
        .args(["copy", "--src-tls-verify=false", "--override-arch", "amd64", "--override-os", "linux"])
        .arg(format!("docker://{reference}"))
        .arg(format!("dir:{}", dest.display()))
        .output()
        .expect("running skopeo (scripts/setup.sh installs it)");
    assert!(out.status.success(), "skopeo copy {reference}: {}", String::from_utf8_lossy(&out.stderr));
    snapshot(dest)
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes)))
}

/// Logs the store `store` in to `host`.
fn login(store: &Path, host: &str) {
    let (code, stderr) = crate::registry::login(store, host, PASSWORD);
    assert_eq!(code, Some(0), "login: {stderr}");
}

/// A context whose `apps/web` application names `images` in a Deployment.
fn context(dir: &Path, images: &[String]) -> PathBuf {
    let ctx = dir.join("ctx");
    std::fs::create_dir_all(ctx.join("apps/web")).expect("mkdir");
    std::fs::write(ctx.join("Kubefile"), "FROM scratch\nAPP web local://apps/web\nLAUNCH [\"web\"]\n")
        .expect("Kubefile");
    let mut yaml = String::from(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n",
    );
    for (i, image) in images.iter().enumerate() {
        yaml.push_str(&format!("        - name: c{i}\n          image: {image}\n"));
    }
    std::fs::write(ctx.join("apps/web/deployment.yaml"), yaml).expect("yaml");
    ctx
}

/// Builds `ctx` into `store` with the images inside; returns the digest
/// and stderr.
fn build_all(store: &Path, ctx: &Path, extra: &[&str]) -> (String, String) {
    let (out, stdout, stderr) = run(sb(store)
        .arg("build")
        .arg(ctx)
        .args(["-t", "c/offline:v1", "--build-mode", "all", "--insecure"])
        .args(extra));
    assert!(out.status.success(), "build failed:\n{stderr}");
    (stdout.trim().to_string(), stderr)
}

/// The source registry's test images: (references the context names,
/// the amd64 manifest digest of the two-platform index).
struct Seeded {
    web: String,
    multi: String,
    multi_by_digest: String,
    pinned: String,
    multi_amd64: String,
}

fn seed(src: &Registry, store: &Path) -> Seeded {
    let host = src.host();
    build_image(store, "src/web:v1", &[("web.bin", noise(300_000, 1)), ("shared", noise(100_000, 9))], &[]);
    let index = build_image(
        store,
        "src/multi:v1",
        &[("multi.bin", noise(200_000, 2)), ("shared", noise(100_000, 9))],
        &["--platform", "linux/amd64,linux/arm64"],
    );
    let pinned = build_image(store, "src/pinned:v2", &[("pinned.txt", b"by digest\n".to_vec())], &[]);
    for (local, remote) in
        [("src/web:v1", "team/web:v1"), ("src/multi:v1", "team/multi:v1"), ("src/pinned:v2", "team/pinned:v2")]
    {
        ok(sb(store).args(["push", local, &format!("{host}/{remote}"), "--insecure"]));
    }
    let index_json: serde_json::Value = serde_json::from_slice(&raw(&format!("{host}/team/multi:v1"))).expect("index");
    let multi_amd64 = index_json["manifests"]
        .as_array()
        .expect("an index")
        .iter()
        .find(|m| m["platform"]["architecture"] == "amd64")
        .and_then(|m| m["digest"].as_str())
        .expect("an amd64 manifest")
        .to_string();
    Seeded {
        web: format!("{host}/team/web:v1"),
        multi: format!("{host}/team/multi:v1"),
        multi_by_digest: format!("{host}/team/multi@{index}"),
        pinned: format!("{host}/team/pinned@{pinned}"),
        multi_amd64,
    }
}

#[test]
fn the_registry_layer_serves_every_image_byte_for_byte_and_rebuilds_offline() {
    let mut src = Registry::start(false);
    let work = tempfile::tempdir().expect("work");
    let seeder = work.path().join("seeder");
    let s = seed(&src, &seeder);
    let images = vec![s.web.clone(), s.multi.clone(), s.multi_by_digest.clone(), s.pinned.clone()];
    let ctx = context(work.path(), &images);

    let store = work.path().join("store");
    let (digest, stderr) = build_all(&store, &ctx, &[]);
    assert!(stderr.contains("4 images"), "{stderr}");
    let m = manifest(&store, "c/offline:v1");
    let layers = m["layers"].as_array().expect("layers");
    let last = layers.last().expect("a layer");
    assert_eq!(
        last["mediaType"], "application/vnd.oci.image.layer.v1.tar",
        "the registry layer is not compressed again"
    );
    let listed = m["annotations"]["sealer.image.container.images"].as_str().expect("the image list");
    for image in &images {
        assert!(listed.contains(image.as_str()), "{image} in {listed}");
    }

    // `sealbox inspect` says what is inside and how big it is.
    let inspect: serde_json::Value =
        serde_json::from_str(&ok(sb(&store).args(["inspect", "c/offline:v1"]))).expect("inspect JSON");
    let inside = &inspect["offlineImages"];
    let mut named: Vec<&str> =
        inside["images"].as_array().expect("images").iter().filter_map(|i| i["image"].as_str()).collect();
    named.sort();
    let mut want: Vec<&str> = images.iter().map(String::as_str).collect();
    want.sort();
    assert_eq!(named, want, "{inside}");
    let size = inside["size"].as_u64().expect("size");
    assert!(size > 500_000 && size < last["size"].as_u64().expect("layer size"), "{inside}");
    assert_eq!(inside["layer"], last["digest"]);

    // The image's registry/, served as init-registry.sh serves it.
    let bundle = work.path().join("bundle");
    let rootfs = umoci_unpack(&store, "c/offline:v1", &bundle);
    let v2 = rootfs.join("registry/docker/registry/v2");
    assert!(v2.join("repositories/team/web/_manifests/tags/v1/current/link").is_file());
    assert!(v2.join("repositories/team/web/_uploads").is_dir());
    assert!(!v2.join("repositories/team/pinned/_manifests/tags").exists(), "a digest reference has no tag");
    let served = Registry::serve(&rootfs.join("registry"));
    let dst = served.host();
    let src_host = src.host();
    let at = |host: &str, image: &str| image.replacen(&src_host, host, 1);

    // Byte for byte: a reference names what it names at the source, a tag
    // or digest of an index the whole index, as sealer's save keeps it; of
    // the index's manifests only the built platform's is inside.
    assert_eq!(raw(&at(&dst, &s.web)), raw(&s.web));
    assert_eq!(raw(&at(&dst, &s.multi)), raw(&s.multi));
    let amd64 = format!("{src_host}/team/multi@{}", s.multi_amd64);
    assert_eq!(raw(&at(&dst, &amd64)), raw(&amd64));
    let source_index: serde_json::Value = serde_json::from_slice(&raw(&s.multi)).expect("source index");
    let arm64 = source_index["manifests"]
        .as_array()
        .expect("manifests")
        .iter()
        .find(|m| m["platform"]["architecture"] == "arm64")
        .and_then(|m| m["digest"].as_str())
        .expect("an arm64 manifest");
    let other = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{dst}/team/multi@{arm64}"))
        .output()
        .expect("skopeo");
    assert!(!other.status.success(), "another platform's manifest is not inside, as in sealer's registry/");
    let index = raw(&at(&dst, &s.multi_by_digest));
    assert_eq!(index, raw(&s.multi_by_digest));
    assert_eq!(sha256(&index), s.multi_by_digest.rsplit('@').next().expect("digest"));
    assert_eq!(raw(&at(&dst, &s.pinned)), raw(&s.pinned));
    for (i, image) in images.iter().enumerate() {
        let from_src = copy(image, &work.path().join(format!("copy-src-{i}")));
        let from_dst = copy(&at(&dst, image), &work.path().join(format!("copy-dst-{i}")));
        assert_eq!(from_dst, from_src, "skopeo copy of {image} from the image's registry/ and from the source");
    }

    // The source gone, the rebuild needs nothing from it: same image.
    src.kill();
    let (again, stderr) = build_all(&store, &ctx, &[]);
    assert_eq!(again, digest, "{stderr}");
    assert!(stderr.contains(", 0 fetched"), "an unchanged rebuild fetches nothing: {stderr}");
    // Another store cannot: the error names the image, its app and the cause.
    let (out, _, stderr) =
        run(sb(&work.path().join("cold")).arg("build").arg(&ctx).args(["--build-mode", "all", "--insecure"]));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("image {} (app web)", s.web)), "{stderr}");
}

#[test]
fn a_lock_pins_the_images_when_their_tag_moves() {
    let src = Registry::start(false);
    let work = tempfile::tempdir().expect("work");
    let seeder = work.path().join("seeder");
    let s = seed(&src, &seeder);
    let ctx = context(work.path(), &[s.web.clone(), s.multi.clone()]);

    let (locked, _) = build_all(&work.path().join("a"), &ctx, &["--lock"]);
    let lock: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ctx.join("sealbox.lock")).expect("sealbox.lock")).expect("lock JSON");
    let web_digest = sha256(&raw(&s.web));
    assert_eq!(lock["images"][&s.web], web_digest.as_str(), "{lock}");
    assert!(lock["images"][&s.multi].as_str().is_some_and(|d| d.starts_with("sha256:")), "{lock}");

    // The tag moves to another image.
    build_image(&seeder, "src/web:v2", &[("web.bin", noise(1000, 77))], &[]);
    ok(sb(&seeder).args(["push", "src/web:v2", &s.web, "--insecure"]));
    assert_ne!(sha256(&raw(&s.web)), web_digest);

    // A new store, the lock beside the Kubefile: the locked image.
    let (pinned, _) = build_all(&work.path().join("b"), &ctx, &[]);
    assert_eq!(pinned, locked, "a moved tag does not change a locked build");
    // Without the lock, the tag's new image.
    std::fs::remove_file(ctx.join("sealbox.lock")).expect("rm lock");
    let (moved, _) = build_all(&work.path().join("c"), &ctx, &[]);
    assert_ne!(moved, locked);
}

#[test]
fn missing_and_denied_images_are_named_and_can_be_left_out() {
    let src = Registry::start(true);
    let work = tempfile::tempdir().expect("work");
    let seeder = work.path().join("seeder");
    login(&seeder, &src.host());
    build_image(&seeder, "src/web:v1", &[("web.bin", noise(1000, 3))], &[]);
    let web = format!("{}/team/web:v1", src.host());
    ok(sb(&seeder).args(["push", "src/web:v1", &web, "--insecure"]));
    let nope = format!("{}/team/nope:v1", src.host());
    let ctx = context(work.path(), &[web.clone(), nope.clone()]);

    // Without credentials: denied, said with the registry's answer.
    let (out, _, stderr) =
        run(sb(&work.path().join("anonymous")).arg("build").arg(&ctx).args(["--build-mode", "all", "--insecure"]));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("image {web} (app web)")) && stderr.contains("requires authentication"),
        "{stderr}"
    );

    // sealer's image list with auth: the image joins the list, fetched
    // with the file's credentials, no login.
    let auth_list = work.path().join("imageListWithAuth.yaml");
    let yaml =
        format!("- registry: {}\n  username: {USER}\n  password: {PASSWORD}\n  images:\n    - {web}\n", src.host());
    std::fs::write(&auth_list, yaml).expect("auth list");
    let plain = work.path().join("plain");
    std::fs::create_dir_all(&plain).expect("mkdir");
    std::fs::write(plain.join("Kubefile"), "FROM scratch\nCOPY Kubefile .\n").expect("Kubefile");
    let with_auth = work.path().join("with-auth");
    let flag = auth_list.to_str().expect("utf-8");
    let (_, stderr) = build_all(&with_auth, &plain, &["--image-list-with-auth", flag]);
    assert!(stderr.contains("1 images"), "{stderr}");
    let m = manifest(&with_auth, "c/offline:v1");
    assert!(m["annotations"]["io.sealbox.image.offline-images"].as_str().expect("inside").contains(&web), "{m}");

    let store = work.path().join("store");
    login(&store, &src.host());
    let (out, _, stderr) = run(sb(&store).arg("build").arg(&ctx).args(["--build-mode", "all", "--insecure"]));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("image {nope} (app web)")) && stderr.contains("no manifest v1"), "{stderr}");
    assert!(!stderr.contains(&format!("image {web} ")), "only the missing image is named: {stderr}");

    let (_, stderr) = build_all(&store, &ctx, &["--ignore-missing-images"]);
    assert!(stderr.contains("warning: left out of registry/: image") && stderr.contains(&nope), "{stderr}");
    let m = manifest(&store, "c/offline:v1");
    let missing = m["annotations"]["io.sealbox.image.missing-images"].as_str().expect("the missing images");
    assert_eq!(missing, format!("[\"{nope}\"]"));
    assert!(m["annotations"]["sealer.image.container.images"].as_str().expect("list").contains(&nope));

    // A platform the image lacks is named too.
    let (out, _, stderr) =
        run(sb(&store).arg("build").arg(&ctx).args(["--build-mode", "all", "--insecure", "--platform", "linux/arm64"]));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("image {web} (app web): the image is for linux/amd64, not linux/arm64")),
        "{stderr}"
    );

    // Lite: the list only, no registry layer, no request.
    let (out, _, stderr) =
        run(sb(&work.path().join("lite")).arg("build").arg(&ctx).args(["-t", "c/lite:v1", "--build-mode", "lite"]));
    assert!(out.status.success(), "{stderr}");
    let m = manifest(&work.path().join("lite"), "c/lite:v1");
    assert_eq!(m["layers"].as_array().expect("layers").len(), 1, "the APP layer only: {m}");
}

#[test]
fn a_mirror_serves_the_images_of_a_registry_it_stands_for() {
    let mirror = Registry::start(false);
    let work = tempfile::tempdir().expect("work");
    let seeder = work.path().join("seeder");
    build_image(&seeder, "src/web:v1", &[("web.bin", noise(5000, 4))], &[]);
    ok(sb(&seeder).args(["push", "src/web:v1", &format!("{}/team/web:v1", mirror.host()), "--insecure"]));
    // `registry.invalid` resolves nowhere: only the mirror can answer.
    let image = "registry.invalid/team/web:v1".to_string();
    let ctx = context(work.path(), std::slice::from_ref(&image));
    let store = work.path().join("store");
    let flag = format!("registry.invalid=http://{}", mirror.host());
    let (out, _, stderr) = run(sb(&store).arg("build").arg(&ctx).args([
        "-t",
        "c/m:v1",
        "--build-mode",
        "all",
        "--registry-mirror",
        &flag,
    ]));
    assert!(out.status.success(), "{stderr}");
    let bundle = work.path().join("bundle");
    let rootfs = umoci_unpack(&store, "c/m:v1", &bundle);
    let link = rootfs.join("registry/docker/registry/v2/repositories/team/web/_manifests/tags/v1/current/link");
    let digest = std::fs::read_to_string(link).expect("the tag's link");
    assert_eq!(digest, sha256(&raw(&format!("{}/team/web:v1", mirror.host()))));

    // Without the mirror, the registry's own answer is the error.
    let (out, _, stderr) = run(sb(&work.path().join("bare")).arg("build").arg(&ctx).args(["--build-mode", "all"]));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("image {image} (app web)")), "{stderr}");
    let (out, _, stderr) = run(sb(&store).arg("build").arg(&ctx).args(["--registry-mirror", "nonsense"]));
    assert_eq!(out.status.code(), Some(2), "a bad mirror is a usage error: {stderr}");
}

#[test]
fn each_platform_built_carries_its_own_manifest_of_a_multi_platform_image() {
    let src = Registry::start(false);
    let work = tempfile::tempdir().expect("work");
    let s = seed(&src, &work.path().join("seeder"));
    let ctx = context(work.path(), std::slice::from_ref(&s.multi));
    let store = work.path().join("store");
    build_all(&store, &ctx, &["--platform", "linux/amd64,linux/arm64"]);
    let top = manifest(&store, "c/offline:v1");
    assert_eq!(top["manifests"][1]["platform"]["architecture"], "arm64", "{top}");
    let arm64_image = blob_json(&store, top["manifests"][1]["digest"].as_str().expect("arm64"));
    let inside = arm64_image["annotations"]["io.sealbox.image.offline-images"].as_str().expect("inside");
    let summary: serde_json::Value = serde_json::from_str(inside).expect("summary JSON");
    let source: serde_json::Value = serde_json::from_slice(&raw(&s.multi)).expect("source index");
    let arm64 = source["manifests"]
        .as_array()
        .expect("manifests")
        .iter()
        .find(|m| m["platform"]["architecture"] == "arm64")
        .and_then(|m| m["digest"].as_str())
        .expect("an arm64 manifest");
    assert_eq!(summary["images"][0]["digest"], arm64, "the arm64 image carries the arm64 manifest: {summary}");
    assert_ne!(arm64, s.multi_amd64);
}
