//! `RUN --module` in a Kubefile: a third-party transform module read from
//! the build context, pinned, checked against its grant, and run over the
//! rootfs so far, its output a layer of its own.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::Digest as _;

use crate::common::*;

/// A build context with one manifest under `rootfs/manifests`, the test
/// modules `modules` under `modules/`, and `kubefile`.
fn context(modules: &[&str], kubefile: &str) -> tempfile::TempDir {
    let ctx = tempfile::tempdir().expect("ctx");
    let manifests = ctx.path().join("rootfs/manifests");
    std::fs::create_dir_all(&manifests).expect("manifests");
    std::fs::write(manifests.join("cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n")
        .expect("manifest");
    std::fs::create_dir(ctx.path().join("modules")).expect("modules dir");
    for m in modules {
        std::fs::copy(p1(m), ctx.path().join(format!("modules/{m}.wasm"))).expect("copying module");
    }
    std::fs::write(ctx.path().join("Kubefile"), kubefile).expect("kubefile");
    ctx
}

fn digest_of(path: &Path) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(std::fs::read(path).expect("module"))))
}

/// The digest of layer `i` of the image tagged `name`.
fn layer(store: &Path, name: &str, i: usize) -> String {
    manifest(store, name)["layers"][i]["digest"].as_str().expect("layer digest").to_string()
}

/// The paths of a layer blob, as GNU tar lists them.
fn layer_paths(store: &Path, digest: &str) -> Vec<String> {
    let out = Command::new("tar").arg("-tzf").arg(blob_path(store, digest)).output().expect("tar");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect()
}

/// The content of `path` in a layer blob.
fn layer_file(store: &Path, digest: &str, path: &str) -> String {
    let out = Command::new("tar").arg("-xzOf").arg(blob_path(store, digest)).arg(path).output().expect("tar");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const LABELER: &str = "FROM scratch\nCOPY rootfs .\nRUN --module=modules/labeler.wasm team=platform\n";

#[test]
fn run_module_output_is_a_layer_of_its_own() {
    let ctx = context(&["labeler"], LABELER);
    // A mode the umask would not give: the rewritten file keeps it.
    use std::os::unix::fs::PermissionsExt;
    let cm = ctx.path().join("rootfs/manifests/cm.yaml");
    std::fs::set_permissions(&cm, std::fs::Permissions::from_mode(0o750)).expect("chmod");
    let store = tempfile::tempdir().expect("store");
    let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "labelled"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("Kubefile:3 RUN") && stderr.contains("labeler"), "{stderr}");

    let manifest = manifest(store.path(), "labelled");
    assert_eq!(manifest["layers"].as_array().expect("layers").len(), 2, "{manifest}");
    let copied = layer(store.path(), "labelled", 0);
    let transformed = layer(store.path(), "labelled", 1);
    assert_eq!(layer_paths(store.path(), &transformed), ["manifests/", "manifests/cm.yaml"]);
    assert_eq!(
        layer_file(store.path(), &transformed, "manifests/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  labels:\n    team: \"platform\"\n  name: settings\n"
    );
    let verbose = Command::new("tar").arg("-tvzf").arg(blob_path(store.path(), &transformed)).output().expect("tar");
    let verbose = String::from_utf8_lossy(&verbose.stdout).into_owned();
    assert!(verbose.lines().any(|l| l.starts_with("-rwxr-x--- ") && l.ends_with("manifests/cm.yaml")), "{verbose}");
    // The layer below is the COPY, untouched.
    assert!(!layer_file(store.path(), &copied, "manifests/cm.yaml").contains("team"));

    let config = blob_json(store.path(), manifest["config"]["digest"].as_str().expect("config"));
    let history = config["history"].as_array().expect("history");
    let last = history.last().expect("history entry");
    let created_by = last["created_by"].as_str().expect("created_by");
    assert!(created_by.contains("RUN --module=modules/labeler.wasm team=platform"), "{created_by}");
    assert_eq!(last.get("empty_layer"), None, "{last}");
    assert_eq!(config["rootfs"]["diff_ids"].as_array().expect("diff_ids").len(), 2);
    // The module is read from the context, not copied into the image.
    assert!(!layer_paths(store.path(), &copied).iter().any(|p| p.contains("labeler")));
}

#[test]
fn a_module_matching_its_pin_runs_and_a_wrong_pin_fails_showing_both_digests() {
    let ctx = context(&["labeler"], "");
    let actual = digest_of(&ctx.path().join("modules/labeler.wasm"));
    let store = tempfile::tempdir().expect("store");

    let pinned = format!("FROM scratch\nCOPY rootfs .\nRUN --module=modules/labeler.wasm@{actual} team=a\n");
    std::fs::write(ctx.path().join("Kubefile"), pinned).expect("kubefile");
    let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "pinned"]);
    assert_eq!(code, 0, "{stderr}");

    let wrong = format!("sha256:{}", "0".repeat(64));
    let mispinned = format!("FROM scratch\nCOPY rootfs .\nRUN --module=modules/labeler.wasm@{wrong} team=a\n");
    std::fs::write(ctx.path().join("Kubefile"), mispinned).expect("kubefile");
    let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "mispinned"]);
    assert_ne!(code, 0, "a wrong pin must fail the build");
    assert!(stderr.contains("Kubefile:3"), "{stderr}");
    assert!(stderr.contains(&format!("pinned:  {wrong}")), "{stderr}");
    assert!(stderr.contains(&format!("actual:  {actual}")), "{stderr}");
    assert!(!stderr.contains("RUN labeler"), "the module must not run: {stderr}");
}

#[test]
fn a_module_asking_for_an_ungranted_env_value_is_refused_before_it_runs() {
    let kubefile = "FROM scratch\nCOPY rootfs .\nRUN --module=modules/envlabel.wasm\n";
    let ctx = context(&["envlabel"], kubefile);
    let store = tempfile::tempdir().expect("store");
    let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "refused"]);
    assert_ne!(code, 0, "{stderr}");
    assert!(stderr.contains("Kubefile:3: module modules/envlabel.wasm refused before it ran"), "{stderr}");
    assert!(stderr.contains("CLUSTER_NAME") && stderr.contains("capability `env`"), "{stderr}");

    // Granted with --env, it runs, and sees only the value it asked for.
    let args = ["-t", "granted", "--env", "CLUSTER_NAME=prod", "--env", "OTHER=not-for-the-module"];
    let (code, _, stderr) = build(ctx.path(), store.path(), &args);
    assert_eq!(code, 0, "{stderr}");
    let transformed = layer(store.path(), "granted", 1);
    assert_eq!(layer_file(store.path(), &transformed, "etc/cluster-env"), "CLUSTER_NAME=prod\n");
}

#[test]
fn a_module_that_writes_outside_out_is_refused() {
    let kubefile = "FROM scratch\nCOPY rootfs .\nRUN --module=modules/outwriter.wasm in\n";
    let ctx = context(&["outwriter"], kubefile);
    let before = snapshot(ctx.path());
    let store = tempfile::tempdir().expect("store");
    let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "evil"]);
    assert_ne!(code, 0, "{stderr}");
    assert!(stderr.contains("writing /in/manifests/evil.yaml"), "{stderr}");
    assert_eq!(snapshot(ctx.path()), before, "the module changed the build context");

    let kubefile = "FROM scratch\nCOPY rootfs .\nRUN --module=modules/outwriter.wasm link\n";
    std::fs::write(ctx.path().join("Kubefile"), kubefile).expect("kubefile");
    let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "evil"]);
    assert_ne!(code, 0, "{stderr}");
    assert!(stderr.contains("tried to write outside /out: passwd"), "{stderr}");
    let index = std::fs::read_to_string(store.path().join("index.json")).unwrap_or_default();
    assert!(!index.contains("evil"), "a refused build must not tag an image: {index}");
}

#[test]
fn only_a_transform_module_from_inside_the_context_runs() {
    let outside = tempfile::tempdir().expect("outside");
    std::fs::copy(p1("labeler"), outside.path().join("labeler.wasm")).expect("copy");
    let ctx = context(&["noop"], "");
    std::os::unix::fs::symlink(outside.path().join("labeler.wasm"), ctx.path().join("modules/link.wasm"))
        .expect("symlink");
    let store = tempfile::tempdir().expect("store");
    let escape = format!("../{}/labeler.wasm", outside.path().file_name().expect("name").to_string_lossy());
    let absolute = outside.path().join("labeler.wasm").display().to_string();
    for (module, error) in [
        ("modules/noop.wasm", "is a policy module; RUN --module runs only transform modules"),
        (escape.as_str(), "reading module"),
        ("modules/link.wasm", "reading module modules/link.wasm in the build context"),
        (absolute.as_str(), "relative to the build context"),
    ] {
        let kubefile = format!("FROM scratch\nCOPY rootfs .\nRUN --module={module} team=a\n");
        std::fs::write(ctx.path().join("Kubefile"), kubefile).expect("kubefile");
        let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "x"]);
        assert_ne!(code, 0, "{module}: {stderr}");
        assert!(stderr.contains("Kubefile:3") && stderr.contains(error), "{module}: {stderr}");
    }
}

#[test]
fn the_same_build_with_a_module_twice_gives_the_same_digest() {
    let ctx = context(&["labeler"], LABELER);
    let digests: Vec<String> = (0..2)
        .map(|_| {
            let store = tempfile::tempdir().expect("store");
            let (code, stdout, stderr) = build(ctx.path(), store.path(), &["-t", "again", "--no-cache"]);
            assert_eq!(code, 0, "{stderr}");
            stdout.lines().last().expect("digest line").to_string()
        })
        .collect();
    assert!(digests[0].starts_with("sha256:"), "{digests:?}");
    assert_eq!(digests[0], digests[1]);
}

#[test]
fn the_steps_after_a_module_see_its_output() {
    // A Kyverno policy requiring the label the module adds: the build passes
    // only when the policy step reads the module's output, not the COPY.
    let policies = tempfile::tempdir().expect("policies");
    let policy = team_policy(policies.path());
    let policy = policy.to_str().expect("utf-8");
    let store = tempfile::tempdir().expect("store");

    let unlabelled = context(&["labeler"], "FROM scratch\nCOPY rootfs .\n");
    let (code, _, stderr) = build(unlabelled.path(), store.path(), &["-t", "bare", "--policy", policy]);
    assert_ne!(code, 0, "the policy must fail without the module: {stderr}");
    assert!(stderr.contains("require-team-label"), "{stderr}");

    let labelled = context(&["labeler"], LABELER);
    let (code, _, stderr) = build(labelled.path(), store.path(), &["-t", "labelled", "--policy", policy]);
    assert_eq!(code, 0, "{stderr}");
}

/// Writes a Kyverno policy requiring a `team` label on ConfigMaps into
/// `dir`; returns its path.
fn team_policy(dir: &Path) -> PathBuf {
    let policy = dir.join("team.yaml");
    std::fs::write(
        &policy,
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: require-team-label\nspec:\n  \
         validationFailureAction: Enforce\n  rules:\n  - name: team\n    match:\n      any:\n      - resources:\n          \
         kinds: [ConfigMap]\n    validate:\n      message: a team label is required\n      pattern:\n        \
         metadata:\n          labels:\n            team: \"?*\"\n",
    )
    .expect("policy");
    policy
}

/// The progress line of the `RUN --module` step at Kubefile line `line`.
fn run_line(stderr: &str, line: usize) -> String {
    let name = format!("Kubefile:{line} RUN ");
    stderr
        .lines()
        .find(|l| l.contains(&name) && !l.contains(" pack "))
        .unwrap_or_else(|| panic!("no progress line for the module at line {line}: {stderr}"))
        .to_string()
}

#[test]
fn an_unchanged_module_step_is_cached_and_a_changed_one_runs_again() {
    let policies = tempfile::tempdir().expect("policies");
    let policy = team_policy(policies.path());
    let policy = policy.to_str().expect("utf-8");
    let ctx = context(&["labeler"], LABELER);
    let store = tempfile::tempdir().expect("store");
    let args = ["-t", "c", "--policy", policy];

    let (code, first, stderr) = build(ctx.path(), store.path(), &args);
    assert_eq!(code, 0, "{stderr}");
    assert!(!run_line(&stderr, 3).contains("cached"), "{stderr}");

    // The cached output still reaches the later steps: the policy passes.
    let (code, second, stderr) = build(ctx.path(), store.path(), &args);
    assert_eq!(code, 0, "{stderr}");
    assert!(run_line(&stderr, 3).contains(" cached "), "{stderr}");
    assert_eq!(first.lines().last(), second.lines().last(), "same image from the cache");

    // Another argument, or another rootfs, runs the module again.
    std::fs::write(ctx.path().join("Kubefile"), LABELER.replace("team=platform", "team=infra")).expect("kubefile");
    let (code, _, stderr) = build(ctx.path(), store.path(), &args);
    assert_eq!(code, 0, "{stderr}");
    assert!(!run_line(&stderr, 3).contains("cached"), "{stderr}");
    assert!(layer_file(store.path(), &layer(store.path(), "c", 1), "manifests/cm.yaml").contains("team: \"infra\""));
    std::fs::write(ctx.path().join("rootfs/manifests/more.yaml"), "kind: ConfigMap\nmetadata:\n  name: more\n")
        .expect("manifest");
    let (code, _, stderr) = build(ctx.path(), store.path(), &args);
    assert_eq!(code, 0, "{stderr}");
    assert!(!run_line(&stderr, 3).contains("cached"), "{stderr}");
    assert_eq!(layer_paths(store.path(), &layer(store.path(), "c", 1)).len(), 3, "manifests/, cm.yaml, more.yaml");
}

#[test]
fn build_lock_records_module_digests_and_a_locked_build_runs_exactly_those() {
    let ctx = context(&["labeler", "envlabel"], LABELER);
    let module = ctx.path().join("modules/labeler.wasm");
    let lock_path = ctx.path().join("sealbox.lock");
    let store = tempfile::tempdir().expect("store");
    let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "locked", "--lock"]);
    assert_eq!(code, 0, "{stderr}");
    let lock: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&lock_path).expect("sealbox.lock written")).expect("lock JSON");
    assert_eq!(lock, serde_json::json!({"lockVersion": 1, "modules": {"modules/labeler.wasm": digest_of(&module)}}));

    // With the lock present, the same module builds.
    let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "locked"]);
    assert_eq!(code, 0, "{stderr}");

    // A module not in the lock is refused.
    let two = format!("{LABELER}RUN --module=modules/envlabel.wasm\n");
    std::fs::write(ctx.path().join("Kubefile"), &two).expect("kubefile");
    let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "locked", "--env", "CLUSTER_NAME=a"]);
    assert_ne!(code, 0, "{stderr}");
    assert!(stderr.contains("module modules/envlabel.wasm is not in sealbox.lock"), "{stderr}");
    std::fs::write(ctx.path().join("Kubefile"), LABELER).expect("kubefile");

    // A changed module is refused, showing both digests.
    let old = digest_of(&module);
    std::fs::copy(p1("outwriter"), &module).expect("swap module");
    let new = digest_of(&module);
    let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "locked"]);
    assert_ne!(code, 0, "{stderr}");
    assert!(stderr.contains("module modules/labeler.wasm does not match sealbox.lock"), "{stderr}");
    assert!(stderr.contains(&format!("locked:  {old}")) && stderr.contains(&format!("actual:  {new}")), "{stderr}");

    // --lock records the modules the build ran now, replacing the old lock.
    std::fs::copy(p1("labeler"), &module).expect("restore module");
    std::fs::write(ctx.path().join("Kubefile"), &two).expect("kubefile");
    let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "locked", "--lock", "--env", "CLUSTER_NAME=a"]);
    assert_eq!(code, 0, "{stderr}");
    let lock: serde_json::Value = serde_json::from_slice(&std::fs::read(&lock_path).expect("lock")).expect("lock JSON");
    assert_eq!(lock["modules"].as_object().expect("modules").len(), 2, "{lock}");
    assert_eq!(lock["modules"]["modules/envlabel.wasm"], digest_of(&ctx.path().join("modules/envlabel.wasm")));
}

#[test]
fn a_module_reads_the_base_image_layers_too() {
    let store = tempfile::tempdir().expect("store");
    let base = context(&[], "FROM scratch\nCOPY rootfs .\n");
    let (code, _, stderr) = build(base.path(), store.path(), &["-t", "base:v1"]);
    assert_eq!(code, 0, "{stderr}");

    let ctx = tempfile::tempdir().expect("ctx");
    std::fs::create_dir(ctx.path().join("modules")).expect("modules");
    std::fs::copy(p1("labeler"), ctx.path().join("modules/labeler.wasm")).expect("module");
    std::fs::write(ctx.path().join("Kubefile"), "FROM base:v1\nRUN --module=modules/labeler.wasm team=base\n")
        .expect("kubefile");
    let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "derived"]);
    assert_eq!(code, 0, "{stderr}");
    let layers = manifest(store.path(), "derived")["layers"].as_array().expect("layers").len();
    assert_eq!(layers, 2, "the base layer and the module's");
    let transformed = layer(store.path(), "derived", 1);
    assert!(layer_file(store.path(), &transformed, "manifests/cm.yaml").contains("    team: \"base\"\n"));
}

#[test]
fn a_module_asking_for_more_memory_than_the_step_grants_is_refused() {
    let ctx = context(&["bigmem"], "FROM scratch\nCOPY rootfs .\nRUN --module=modules/bigmem.wasm\n");
    let store = tempfile::tempdir().expect("store");
    let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "big"]);
    assert_ne!(code, 0, "{stderr}");
    assert!(stderr.contains("Kubefile:3: module modules/bigmem.wasm refused before it ran"), "{stderr}");
    assert!(
        stderr.contains("4096 MiB of memory (capability `memoryMib`), above this step's limit of 1024 MiB"),
        "{stderr}"
    );
}

#[test]
fn a_module_sees_the_rootfs_so_far_with_its_directories_and_links_and_nothing_later() {
    let kubefile =
        "FROM scratch\nCOPY rootfs .\nCOPY extra manifests/extra\nRUN --module=modules/lister.wasm\nCOPY late late\n";
    let ctx = context(&["lister"], kubefile);
    std::fs::create_dir_all(ctx.path().join("extra/empty")).expect("empty dir");
    std::os::unix::fs::symlink("../cm.yaml", ctx.path().join("extra/cm-link.yaml")).expect("link");
    std::fs::create_dir(ctx.path().join("late")).expect("late");
    std::fs::write(ctx.path().join("late/after.txt"), "after\n").expect("late file");
    let store = tempfile::tempdir().expect("store");
    let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "listed"]);
    assert_eq!(code, 0, "{stderr}");
    let listing = layer_file(store.path(), &layer(store.path(), "listed", 2), "listing.txt");
    let cm_size = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n".len();
    assert_eq!(
        listing,
        format!(
            "dir manifests\nfile manifests/cm.yaml\ndir manifests/extra\n\
             link manifests/extra/cm-link.yaml -> ../cm.yaml ({cm_size} bytes)\ndir manifests/extra/empty\n"
        )
    );
}

#[test]
fn a_module_name_with_escapes_reaches_the_terminal_escaped() {
    let ctx = context(&["evilname"], "FROM scratch\nCOPY rootfs .\nRUN --module=modules/evilname.wasm\n");
    let store = tempfile::tempdir().expect("store");
    let (code, _, stderr) = build(ctx.path(), store.path(), &["-t", "evil"]);
    assert_eq!(code, 0, "{stderr}");
    let raw = |c: char| (c.is_control() && c != '\n') || ('\u{202a}'..='\u{202e}').contains(&c);
    assert!(!stderr.chars().any(raw), "{stderr:?}");
    assert!(stderr.contains("evil\\x1b]0;pwned\\x07\\x1b[2J\\u{202e}\\x0aerror: fake"), "{stderr}");
    assert!(!stderr.lines().any(|l| l.starts_with("error: fake")), "the name must not start a line: {stderr}");
}

#[test]
fn module_compile_fills_the_cache_once_and_the_builtins_need_none() {
    let cache = tempfile::tempdir().expect("cache");
    let mut perms = std::fs::metadata(cache.path()).expect("stat").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o700);
    std::fs::set_permissions(cache.path(), perms).expect("chmod");
    let module = p1("noop");
    let digest = digest_of(&module);
    let compile = |args: &[&std::ffi::OsStr]| {
        run(sealbox().env("SEALBOX_CACHE", cache.path()).args(["module", "compile"]).args(args))
    };

    let (out, stdout, stderr) = compile(&[module.as_os_str(), "builtin:render".as_ref()]);
    assert!(out.status.success(), "{stderr}");
    let lines: Vec<Vec<&str>> = stdout.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert_eq!(lines[0][0], module.to_str().expect("utf-8 path"));
    assert_eq!(lines[0][1], digest);
    assert!(lines[0][2].starts_with("compiled in "), "{stdout}");
    assert_eq!(lines[1][0], "builtin:render");
    assert_eq!(lines[1][2], "precompiled in the sealbox binary", "{stdout}");
    // One entry: the module's. The builtin left nothing in the cache.
    let entries: Vec<_> = std::fs::read_dir(cache.path().join("modules")).expect("cache dir").collect();
    assert_eq!(entries.len(), 1, "{entries:?}");

    let (out, stdout, stderr) = compile(&[module.as_os_str()]);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout.trim_end().rsplit('\t').next(), Some("already in the cache"), "{stdout}");

    let (out, _, stderr) = compile(&["no-such.wasm".as_ref()]);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no-such.wasm"), "{stderr}");
    let (out, _, stderr) = compile(&["oci://127.0.0.1:1/m:v1".as_ref()]);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("must be pinned"), "{stderr}");
}
